// The lenet-fm step as the benchmark runs it, and its per-op profile: forward() makes every
// layer's call (fused or not, as --unfused chooses), train_step() is a plain step, profiled_step()
// the same step with each op's forward and gradient function timed, and time_ops_alone() each op
// repeated on its own. Which op a fused computation's time is counted under is decided here too.
#pragma once
#include <array>
#include <vector>

#include "model.hpp"
#include "options.hpp"

namespace bench {

// The ops of one step, in order; the per-op table has one row each.
enum Op { conv1, relu1, pool1, conv2, relu2, pool2, flat, dense1, relu3, dense2, loss, op_count };
extern const char* const op_names[op_count];

// Per-op times measured inside real training steps, in ms, one entry per profiled step; then the
// step's parts that are no op, and the whole step.
struct StepProfile {
    std::vector<double> forward[op_count], backward[op_count];
    std::vector<double> zero_grad, backward_call, update, release, total;
};

// What PyTorch's reference step does: zero_grad(set_to_none), forward, backward, update.
void train_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                const ng::Tensor& labels, ConvRelu conv_relu);

// The same step with every part timed.
void profiled_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                   const ng::Tensor& labels, ConvRelu conv_relu, StepProfile& p);

struct Times {
    double forward_ms = 0, backward_ms = 0;
    double total() const { return forward_ms + backward_ms; }
};

// Every op separately, on its own inputs, `iterations` calls each.
std::array<Times, op_count> time_ops_alone(const LeNetFM& m, const Batch& batch, int iterations);

// How the profiled steps attribute a fused computation's time, for the table's notes; empty when
// nothing is fused.
const char* in_step_note(ConvRelu conv_relu);

}  // namespace bench
