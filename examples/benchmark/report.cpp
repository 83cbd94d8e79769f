#include "report.hpp"

#include <algorithm>
#include <utility>

#include <fmt/core.h>
#include <fmt/format.h>

#include "process.hpp"
#include "timing.hpp"

namespace bench {
namespace {

std::string cores(double c) {
    return c < 0 ? std::string("unknown") : fmt::format("{:.2f} cores", c);
}

// One row of the per-op table. Negative times print as "-".
struct Row {
    std::string name;
    Times in_step, alone, raw;
    bool has_alone = true, has_raw = true;
};

std::string cell(double ms, bool present) {
    return present ? fmt::format("{:8.3f}", ms) : fmt::format("{:>8}", "-");
}

void print_table(const std::vector<Row>& rows, double step_ms, int op_iterations) {
    fmt::print(
        "\nper op, ms. in step: medians inside profiled training steps; alone: the op "
        "repeated {} times on the same input; raw: the same layer's oneDNN primitives "
        "alone (the median of the rounds' medians). gap: in step - raw\n",
        op_iterations);
    fmt::print("{:<15} {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} | {:>6} {:>8}\n", "", "in step", "",
               "alone", "", "raw", "", "", "");
    fmt::print("{:<15} {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} | {:>6} {:>8}\n", "op", "fwd", "bwd",
               "fwd", "bwd", "fwd", "bwd", "ratio", "gap");
    std::vector<std::pair<double, std::string>> gaps;
    for (const Row& r : rows) {
        const double gap = r.in_step.total() - (r.has_raw ? r.raw.total() : 0);
        gaps.emplace_back(gap, r.name);
        const std::string ratio =
            r.has_raw ? fmt::format("{:6.2f}", r.in_step.total() / r.raw.total()) : "     -";
        fmt::print("{:<15} {:8.3f} {:8.3f} | {} {} | {} {} | {} {:8.3f}\n", r.name,
                   r.in_step.forward_ms, r.in_step.backward_ms,
                   cell(r.alone.forward_ms, r.has_alone), cell(r.alone.backward_ms, r.has_alone),
                   cell(r.raw.forward_ms, r.has_raw), cell(r.raw.backward_ms, r.has_raw), ratio,
                   gap);
    }
    std::sort(gaps.rbegin(), gaps.rend());
    fmt::print("largest gaps to raw (of a {:.2f} ms profiled step):", step_ms);
    for (std::size_t i = 0; i < 3 && i < gaps.size(); ++i)
        fmt::print(" {} {:.2f} ms ({:.0f}%){}", gaps[i].second, gaps[i].first,
                   100 * gaps[i].first / step_ms, i < 2 ? ";" : "\n");
}

// A row per op, then the step's parts that are no op: the update, zero_grad, the tape's own
// sweep, the release of the step's values, and what the parts' medians leave of the step's.
std::vector<Row> op_rows(const StepProfile& profile, const std::array<Times, op_count>& alone,
                         const TimedRounds& rounds) {
    std::vector<Row> rows;
    double ops_backward = 0;
    for (int op = 0; op < op_count; ++op) {
        Row r{op_names[op], {median(profile.forward[op]), median(profile.backward[op])},
              alone[op],    {},
              true,         false};
        std::vector<double> raw_forward, raw_backward;  // this layer's, one per round
        for (const auto& raw : rounds.raw_layers)
            for (const RawLayer& layer : raw)
                if (layer.name == r.name) {
                    raw_forward.push_back(layer.forward_ms);
                    raw_backward.push_back(layer.backward_ms);
                }
        if (!raw_forward.empty()) {
            r.raw = {median(raw_forward), median(raw_backward)};
            r.has_raw = true;
        }
        ops_backward += r.in_step.backward_ms;
        rows.push_back(r);
    }
    const auto extra = [&](std::string name, double ms) {
        rows.push_back({std::move(name), {ms, 0}, {}, {}, false, false});
    };
    const double backward_call = median(profile.backward_call);
    extra("SGD update", median(profile.update));
    extra("zero_grad", median(profile.zero_grad));
    extra("tape sweep", backward_call - ops_backward);
    extra("release", median(profile.release));
    double parts = 0;
    for (const Row& r : rows) parts += r.in_step.total();
    extra("other", median(profile.total) - parts);
    return rows;
}

}  // namespace

Result summarise(const Config& config, const TimedRounds& rounds) {
    return {config,
            median(rounds.times),
            median(rounds.raw_sums),
            median(rounds.ratios),
            median(rounds.sequences),
            median(rounds.sequence_ratios),
            rounds.foreign_cores};
}

void print_step_figures(const Result& result, const TimedRounds& rounds, double peak_mib) {
    const auto [fastest, slowest] = std::minmax_element(rounds.times.begin(), rounds.times.end());
    fmt::print(
        "nalgrad step: median {:.2f} ms (min {:.2f}, max {:.2f}), {:.0f} images/s; "
        "foreign load {}\n",
        result.step_ms, *fastest, *slowest, result.config.batch / result.step_ms * 1e3,
        cores(result.foreign_cores));
    const double steps = static_cast<double>(rounds.times.size());
    const AllocationCount& a = rounds.allocations;
    fmt::print(
        "heap allocations per step (after warm-up): operator new {:.1f} calls, {:.2f} MiB; "
        "malloc family {:.1f} calls, {:.2f} MiB; page faults per step: {:.0f}\n",
        a.calls / steps, a.bytes / steps / 1048576.0, a.malloc_calls / steps,
        a.malloc_bytes / steps / 1048576.0, rounds.page_faults / steps);
    if (peak_mib >= 0)
        fmt::print("peak RSS of this configuration's steps (VmHWM): {:.1f} MiB\n", peak_mib);
    fmt::print("peak RSS of the process so far (ru_maxrss): {:.1f} MiB\n", peak_rss_mib());
}

void print_op_table(const StepProfile& profile, const std::array<Times, op_count>& alone,
                    const TimedRounds& rounds, const Options& options) {
    print_table(op_rows(profile, alone, rounds), median(profile.total), options.op_iterations);
    fmt::print(
        "tape sweep: backward() minus the ops' gradient functions (seed, accumulation, "
        "checks); release: freeing the step's values and records; other: profiled step "
        "median minus the medians of its parts\n");
    fmt::print("{}", in_step_note(options.conv_relu));
}

void print_ratios(const Result& result, const TimedRounds& rounds, double profiled_ms,
                  const Options& options) {
    fmt::print(
        "step {:.2f} ms (profiled: {:.2f} ms), raw oneDNN primitives {:.2f} ms (no loss, no "
        "update): ratio {:.2f}, the median of {} rounds' ratios ({:.2f}), each round 1 + {} steps "
        "then the raw primitives 1 + {} times each\n",
        result.step_ms, profiled_ms, result.raw_ms, result.ratio, rounds.ratios.size(),
        fmt::join(rounds.ratios, ", "), rounds.steps_per_round, options.raw_iterations);
    fmt::print(
        "raw oneDNN primitives back to back (each once, in the step's order, buffers evicted by "
        "the other layers as in a step): {:.2f} ms; ratio {:.2f} (median of the rounds: {:.2f})\n",
        result.sequence_ms, result.sequence_ratio, fmt::join(rounds.sequence_ratios, ", "));
}

void print_summary(const std::vector<Result>& results) {
    fmt::print("\n");
    for (const Result& r : results)
        fmt::print(
            "lenet-fm B={} threads={}: nalgrad {:.2f} ms/step, raw oneDNN {:.2f} ms, "
            "ratio {:.2f}; back to back {:.2f} ms, ratio {:.2f} (foreign load {})\n",
            r.config.batch, r.config.threads, r.step_ms, r.raw_ms, r.ratio, r.sequence_ms,
            r.sequence_ratio, cores(r.foreign_cores));
}

}  // namespace bench
