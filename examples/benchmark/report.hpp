// What the benchmark prints: per configuration, the step's figures, the per-op table and the
// ratios to the raw primitives; at the end one summary line per configuration, the line that
// run.sh and thread_policy.sh read:
//   lenet-fm B=<batch> threads=<threads>: nalgrad <ms> ms/step, raw oneDNN <ms> ms, ratio <r>; ...
#pragma once
#include <array>
#include <string>
#include <vector>

#include "options.hpp"
#include "profile.hpp"
#include "step_timing.hpp"

namespace bench {

struct Result {
    Config config;
    double step_ms = 0;  // median over all timed steps
    double raw_ms = 0;   // median over the rounds of the raw primitives' sum
    double ratio = 0;    // median over the rounds of step / raw, each round's own
    double sequence_ms = 0, sequence_ratio = 0;  // the same for the raw primitives in sequence
    double foreign_cores = 0;
};

Result summarise(const Config& config, const TimedRounds& rounds);

// Median step, allocations and page faults per step, and peak memory (peak_mib < 0: unknown).
void print_step_figures(const Result& result, const TimedRounds& rounds, double peak_mib);

// The per-op table: in profiled steps, alone, and raw, with the step's parts that are no op.
void print_op_table(const StepProfile& profile, const std::array<Times, op_count>& alone,
                    const TimedRounds& rounds, const Options& options);

// The step against the raw primitives' sum, and against the primitives back to back.
void print_ratios(const Result& result, const TimedRounds& rounds, double profiled_ms,
                  const Options& options);

void print_summary(const std::vector<Result>& results);

}  // namespace bench
