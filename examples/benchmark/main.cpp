// benchmark: nalgrad's training step on lenet-fm (model.hpp) against the same step's oneDNN
// primitives called raw (raw_onednn.cpp). Per configuration: the median step time, a per-op table
// (nalgrad and raw, forward and backward), heap allocations per step and peak memory; then the
// framework's overhead per recorded op. run.sh adds PyTorch (torch_lenet.py).
//
//   benchmark                       B=64 with 2 threads, B=16, B=256, and B=64 with 1 thread
//   benchmark --batch 64 --threads 2 --steps 50 --warmup 5
//   benchmark --short               a few seconds: proof that everything runs (CI)
//   benchmark --unfused             conv2d, relu and max_pool2d as three ops: relu is then a
//                                   pass of its own both ways, to compare with max_pool2d's relu
//                                   option, which applies it to the pooled output
//
// options.cpp reads the command line, profile.cpp runs the step (plain, profiled, op by op),
// step_timing.cpp times it against the raw primitives, report.cpp prints the figures.
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <nalgrad/nalgrad.hpp>

#include "model.hpp"
#include "options.hpp"
#include "process.hpp"
#include "profile.hpp"
#include "raw_onednn.hpp"
#include "report.hpp"
#include "step_timing.hpp"
#include "timing.hpp"

namespace {

using namespace bench;

Result run_config(const Config& config, const Options& options) {
    ng::set_num_threads(config.threads);
    fmt::print("\n=== lenet-fm B={} threads={} ({} warm-up + {} timed steps; {}) ===\n",
               config.batch, config.threads, options.warmup, options.steps,
               options.conv_relu == ConvRelu::fused ? "relu fused into conv2d and max_pool2d"
                                                    : "relu unfused");
    const bool peak_reset = reset_peak_rss();
    ng::Generator gen(1);
    LeNetFM model = make_model(gen);
    ng::optim::SGD sgd(model.parameters(), {.lr = 0.01, .momentum = 0.9});
    const Batch batch = random_batch(config.batch, gen);

    for (int i = 0; i < options.warmup; ++i)
        train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
    // The warm-up's peak: a steady step allocates nothing new, and the raw primitives' buffers,
    // made next, must not count.
    const double peak = peak_reset ? recent_peak_rss_mib() : -1;
    RawStep raw_step(config.batch);

    const TimedRounds rounds = time_rounds(model, sgd, batch, raw_step, options);
    const Result result = summarise(config, rounds);
    print_step_figures(result, rounds, peak);

    StepProfile profile;
    for (int i = 0; i < options.steps; ++i)
        profiled_step(model, sgd, batch.images, batch.labels, options.conv_relu, profile);
    const auto alone = time_ops_alone(model, batch, options.op_iterations);
    print_op_table(profile, alone, rounds, options);
    print_ratios(result, rounds, median(profile.total), options);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) return 2;
    if (!std::getenv("GOMP_SPINCOUNT"))
        fmt::print(
            "warning: GOMP_SPINCOUNT is not set; idle OpenMP threads spin and slow the "
            "TBB loops (run.sh sets GOMP_SPINCOUNT=10000)\n");
    try {
        std::vector<Result> results;
        for (const Config& config : options.configs) results.push_back(run_config(config, options));
        measure_overhead(options.chain);
        print_summary(results);
    } catch (const ng::Error& e) {
        fmt::print(stderr, "benchmark: {}\n", e.what());
        return 1;
    }
    return 0;
}
