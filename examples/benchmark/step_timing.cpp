#include "step_timing.hpp"

#include <algorithm>

#include <fmt/core.h>

#include "process.hpp"
#include "profile.hpp"
#include "timing.hpp"

namespace bench {

TimedRounds time_rounds(const LeNetFM& model, ng::optim::SGD& sgd, const Batch& batch,
                        RawStep& raw_step, const Options& options) {
    const int rounds = std::clamp(options.rounds, 1, options.steps);
    TimedRounds r;
    r.steps_per_round = options.steps / rounds;
    const CpuWindow window;
    for (int round = 0; round < rounds; ++round) {
        // One untimed step first, as each raw primitive gets one untimed run: the raw round
        // before has evicted the step's buffers.
        train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
        const AllocationCount before = allocations_so_far();
        const long faults_before = page_faults();
        std::vector<double> round_times;
        for (int i = 0; i < r.steps_per_round; ++i) {
            const double start = now_ms();
            train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
            round_times.push_back(now_ms() - start);
        }
        const AllocationCount after = allocations_so_far();
        r.page_faults += page_faults() - faults_before;
        r.allocations += after - before;

        r.raw_layers.push_back(raw_step.time(options.raw_iterations, 1));
        double raw_sum = 0;
        for (const RawLayer& layer : r.raw_layers.back())
            raw_sum += layer.forward_ms + layer.backward_ms;
        r.raw_sums.push_back(raw_sum);
        r.ratios.push_back(median(round_times) / raw_sum);
        r.sequences.push_back(raw_step.time_sequence(options.raw_iterations));
        r.sequence_ratios.push_back(median(round_times) / r.sequences.back());
        r.times.insert(r.times.end(), round_times.begin(), round_times.end());
    }
    r.foreign_cores = window.foreign_cores();
    return r;
}

void measure_overhead(int chain) {
    std::vector<double> recorded, backward, release, unrecorded;
    for (int round = 0; round < 3; ++round) {
        ng::Var x(ng::ones({1}), true);
        ng::Var h = x;
        double start = now_ms();
        for (int i = 0; i < chain; ++i) h = ng::relu(h);
        recorded.push_back(now_ms() - start);
        start = now_ms();
        h.backward();
        backward.push_back(now_ms() - start);
        start = now_ms();
        h = ng::Var{};  // the chain's values and records
        release.push_back(now_ms() - start);
        if (x.grad().item() != 1.0)
            fmt::print("overhead chain: wrong gradient {}\n", x.grad().item());

        ng::Var c(ng::ones({1}));  // a constant: nothing is recorded
        start = now_ms();
        for (int i = 0; i < chain; ++i) c = ng::relu(c);
        unrecorded.push_back(now_ms() - start);
    }
    const auto per_op_us = [chain](const std::vector<double>& ms) {
        return median(ms) * 1e3 / chain;
    };
    const double f = per_op_us(recorded), b = per_op_us(backward), r = per_op_us(release);
    fmt::print(
        "\nframework overhead per op (relu on a [1] tensor, chain of {}, median of 3): "
        "forward+record {:.2f} us, backward {:.2f} us, release {:.2f} us; total {:.2f} "
        "us/op; forward without recording {:.2f} us\n",
        chain, f, b, r, f + b + r, per_op_us(unrecorded));
}

}  // namespace bench
