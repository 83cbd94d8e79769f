// The training step's timing: nalgrad's steps and the same step's raw oneDNN primitives in
// alternating rounds, so that a slower stretch of a shared machine weighs on both sides of a
// round's ratio; with the heap allocations and page faults of nalgrad's steps.
#pragma once
#include <vector>

#include "allocations.hpp"
#include "model.hpp"
#include "options.hpp"
#include "raw_onednn.hpp"

namespace bench {

struct TimedRounds {
    int steps_per_round = 0;
    std::vector<double> times;  // every timed step, in ms
    // One per round: the raw primitives' sum, a round's median step over it, the primitives
    // back to back (RawStep::time_sequence), and a round's median step over that.
    std::vector<double> raw_sums, ratios, sequences, sequence_ratios;
    std::vector<std::vector<RawLayer>> raw_layers;  // one list per round
    AllocationCount allocations;                    // nalgrad's timed steps only
    long page_faults = 0;                           // the same
    double foreign_cores = 0;                       // CpuWindow over all the rounds
};

// options.rounds rounds (at most options.steps) of one untimed step, then options.steps / rounds
// timed steps, then the raw primitives.
TimedRounds time_rounds(const LeNetFM& model, ng::optim::SGD& sgd, const Batch& batch,
                        RawStep& raw_step, const Options& options);

// The framework's own cost per recorded op, printed: a long chain of relu on a one-element
// tensor, where the arithmetic is nil.
void measure_overhead(int chain);

}  // namespace bench
