// A training run's checkpoint: the model's parameters, the optimizer's state and metadata (such as
// the last finished epoch) in one safetensors file, so that training continues exactly where it
// stopped. Parameters keep their names ("conv1.weight"); the optimizer's state entries are stored
// under "optimizer." ("optimizer.0.momentum_buffer", "optimizer.0.step"), so the file also loads
// as a plain parameter file with ExtraTensors::ignore.
//
// The write is save()'s (nn/checkpoint.hpp): atomic, a failure leaves the old file intact.
#pragma once
#include <string>

#include "nn/checkpoint.hpp"
#include "nn/parameters.hpp"
#include "optim/optimizer.hpp"

namespace nalgrad {

void save_training_checkpoint(const std::string& path, const Parameters& parameters,
                              const optim::Optimizer& optimizer, const Metadata& metadata = {});

// Copies the file's parameters into `parameters` (load() with ExtraTensors::ignore), then replaces
// the optimizer's state with the file's (Optimizer::load_state); returns the file's metadata.
// Throws when a parameter is missing or differs in dtype or shape (nothing is changed then), or
// when the state does not fit the optimizer (the parameters are loaded, the optimizer unchanged).
Metadata load_training_checkpoint(const std::string& path, const Parameters& parameters,
                                  optim::Optimizer& optimizer);

}  // namespace nalgrad
