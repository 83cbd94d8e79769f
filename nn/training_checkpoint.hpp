// A training run's checkpoint: the model's state (parameters and buffers, such as batch norm's
// running statistics), the optimizer's state and metadata (such as the last finished epoch) in one
// safetensors file, so that training continues exactly where it stopped. The model's entries keep
// their names ("layer1.0.conv1.weight", "layer1.0.bn1.running_mean"); the optimizer's are stored
// under "optimizer." ("optimizer.0.momentum_buffer", "optimizer.0.step").
//
//   save_training_checkpoint(path, model.state(), optimizer, {{"epoch", "3"}});
//   load_training_checkpoint(path, model.state(), optimizer);
//
// The write is save()'s (nn/checkpoint.hpp): atomic, a failure leaves the old file intact.
#pragma once
#include <string>

#include "nn/checkpoint.hpp"
#include "nn/parameters.hpp"
#include "optim/optimizer.hpp"

namespace nalgrad {

void save_training_checkpoint(const std::string& path, const NamedTensors& model_state,
                              const optim::Optimizer& optimizer, const Metadata& metadata = {});
void save_training_checkpoint(const std::string& path, const Parameters& parameters,
                              const optim::Optimizer& optimizer, const Metadata& metadata = {});

// Copies the file's model entries into `model_state`, then replaces the optimizer's state with the
// file's (Optimizer::load_state); returns the file's metadata. Throws, changing nothing, when the
// file's model entries and `model_state` differ: a name missing on either side (the message lists
// them all), or a dtype or shape. Throws when the optimizer's state does not fit the optimizer
// (the model is loaded then, the optimizer unchanged).
Metadata load_training_checkpoint(const std::string& path, const NamedTensors& model_state,
                                  optim::Optimizer& optimizer);
Metadata load_training_checkpoint(const std::string& path, const Parameters& parameters,
                                  optim::Optimizer& optimizer);

}  // namespace nalgrad
