// resnet_benchmark: the training step of the example's residual network
// (examples/fashion_mnist/resnet.hpp) on a fixed random batch: SGD with momentum 0.9 and weight
// decay on the weights, as main.cpp trains it. Per batch size: the median step time over the timed
// steps, then a per-op table from OpProfiler (graph/profile.hpp), forward and backward, per step.
// resnet_run.sh runs it in turns with PyTorch's step (torch_resnet.py --step-benchmark).
//
//   resnet_benchmark [--batch B ...] [--threads T] [--steps N] [--warmup N] [--width W]
//                    [--blocks K] [--short]
#include <algorithm>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <nalgrad/nalgrad.hpp>

#include "examples/fashion_mnist/resnet.hpp"
#include "timing.hpp"

namespace {

namespace ng = nalgrad;
using bench::median;
using bench::now_ms;

struct Options {
    std::vector<int64_t> batches = {64, 128};
    int threads = 2, steps = 30, warmup = 5;
    int64_t width = 32, blocks = 1;
};

struct Step {
    ng::examples::ResNet model;
    ng::optim::SGD sgd;
    ng::Var images;
    ng::Tensor labels;

    void run() {
        sgd.zero_grad(ng::optim::ZeroGrad::set_to_none);
        ng::softmax_cross_entropy(model(images), labels).backward();
        sgd.step();
    }
};

ng::Tensor random_labels(int64_t batch, ng::Generator& gen) {
    ng::Tensor labels = ng::uniform({batch}, 0, 10, ng::f64, gen);
    ng::Tensor out = ng::zeros({batch}, ng::i64);
    for (int64_t i = 0; i < batch; ++i)
        out.data<int64_t>()[i] = std::min<int64_t>(static_cast<int64_t>(labels.at(i)), 9);
    return out;
}

void print_op_table(const ng::OpProfiler& profiler, int steps, double step_ms) {
    fmt::print("  {:<20} {:>9} {:>12} {:>12} {:>8}\n", "op", "calls", "forward ms", "backward ms",
               "share");
    double total = 0;
    for (const auto& t : profiler.times()) total += t.forward_ms + t.backward_ms;
    const double per_step = 1.0 / steps;
    for (const auto& t : profiler.times())
        fmt::print("  {:<20} {:>9} {:>12.2f} {:>12.2f} {:>7.1f}%\n", t.op, t.forward_calls / steps,
                   t.forward_ms * per_step, t.backward_ms * per_step,
                   100 * (t.forward_ms + t.backward_ms) / std::max(total, 1e-9));
    fmt::print(
        "  ops {:.2f} ms of the profiled step's {:.2f} ms (the rest: zero_grad, the sweep's "
        "own work, the update)\n",
        total * per_step, step_ms);
}

void run_batch(int64_t batch, const Options& o) {
    ng::manual_seed(1);
    ng::Generator gen(2);
    ng::examples::ResNet model({.widths = {o.width, 2 * o.width, 4 * o.width}, .blocks = o.blocks});
    ng::Parameters parameters = model.parameters();
    Step step{std::move(model),
              ng::optim::SGD(ng::optim::weight_decay_groups(parameters, 5e-4),
                             {.lr = 0.1, .momentum = 0.9}),
              ng::Var(ng::normal({batch, 28, 28, 1}, ng::f32, gen)), random_labels(batch, gen)};
    for (int i = 0; i < o.warmup; ++i) step.run();
    std::vector<double> times;
    for (int i = 0; i < o.steps; ++i) {
        const double start = now_ms();
        step.run();
        times.push_back(now_ms() - start);
    }
    const double ms = median(times);
    fmt::print(
        "\n=== resnet width {} blocks {} B={} threads={} ({} warm-up + {} timed steps) ===\n",
        o.width, o.blocks, batch, ng::get_num_threads(), o.warmup, o.steps);
    fmt::print("resnet B={} threads={}: nalgrad {:.2f} ms/step, {:.0f} images/s\n", batch,
               ng::get_num_threads(), ms, 1000.0 * static_cast<double>(batch) / ms);
    std::fflush(stdout);
    std::vector<double> profiled;
    ng::OpProfiler profiler;
    for (int i = 0; i < o.steps; ++i) {
        const double start = now_ms();
        profiler.mark();
        step.run();
        profiled.push_back(now_ms() - start);
    }
    print_op_table(profiler, o.steps, median(profiled));
}

}  // namespace

int main(int argc, char** argv) try {
    CLI::App app{"nalgrad: the residual network's training step"};
    Options o;
    bool short_run = false;
    app.add_option("--batch", o.batches, "batch sizes")->capture_default_str();
    app.add_option("--threads", o.threads, "threads")->capture_default_str();
    app.add_option("--steps", o.steps, "timed steps")->check(CLI::PositiveNumber);
    app.add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
    app.add_option("--width", o.width, "channels of the first stage")->check(CLI::PositiveNumber);
    app.add_option("--blocks", o.blocks, "blocks per stage")->check(CLI::PositiveNumber);
    app.add_flag("--short", short_run, "a few steps at B=8: proof that it runs");
    CLI11_PARSE(app, argc, argv);
    if (short_run) {
        o.batches = {8};
        o.steps = 2;
        o.warmup = 1;
    }
    if (!std::getenv("GOMP_SPINCOUNT"))
        fmt::print("warning: GOMP_SPINCOUNT is not set (resnet_run.sh sets it to 10000)\n");
    ng::set_num_threads(o.threads);
    for (int64_t batch : o.batches) run_batch(batch, o);
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "resnet_benchmark: {}\n", e.what());
    return 1;
}
