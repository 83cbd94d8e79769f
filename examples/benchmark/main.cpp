// benchmark: nalgrad's training step on the "lenet-fm" reference model (../shared/bench/README.md)
// against the same step's oneDNN primitives called raw (raw_onednn.cpp). Per configuration: the
// median step time, a per-op table (nalgrad and raw, forward and backward), heap allocations per
// step and peak memory; then the framework's overhead per recorded op. run.sh adds PyTorch.
//
//   benchmark                       B=64 with 2 threads, B=16, B=256, and B=64 with 1 thread
//   benchmark --batch 64 --threads 2 --steps 50 --warmup 5
//   benchmark --short               a few seconds: proof that everything runs (CI)
//   benchmark --unfused             conv2d, relu and max_pool2d as three ops: relu is then a
//                                   pass of its own both ways, to compare with max_pool2d's relu
//                                   option, which applies it to the pooled output
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>
#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"

#include "allocations.hpp"
#include "process.hpp"
#include "raw_onednn.hpp"
#include "timing.hpp"

namespace ng = nalgrad;
using bench::median_ms;
using bench::now_ms;

namespace {

// ---------------------------------------------------------------------------------------------
// Options

struct Config {
    int64_t batch = 64;
    int threads = 2;
};

// max_pool2d(conv2d(...), {.activation = relu}) as the example model writes it: the relu runs on
// the pooled output and its gradient mask on the pooled gradient. Or relu as an op of its own,
// a pass over the convolution's output both ways.
enum class ConvRelu { fused, separate };

struct Options {
    std::vector<Config> configs;
    ConvRelu conv_relu = ConvRelu::fused;
    int steps = 40;          // timed training steps per configuration
    int warmup = 5;          // untimed steps first (primitive creation, caches, allocator)
    int op_iterations = 20;  // calls per op in the per-op table's "alone" column
    int rounds = 8;          // the timed steps are split into rounds, each followed by raw
    int raw_iterations = 5;  // calls per raw primitive in a round
    int chain = 100000;      // ops in the overhead chain
};

constexpr const char* usage =
    "usage: benchmark [--batch B] [--threads T] [--steps N] [--warmup N] [--rounds N] [--short] "
    "[--unfused]\n"
    "  without --batch and --threads: B=64 with 2 threads, B=16, B=256, and B=64 with 1 thread\n"
    "  --rounds: the timed steps alternate with the raw primitives in N rounds (default 8)\n"
    "  --short: a run of a few seconds (one configuration, few steps), to prove it works\n"
    "  --unfused: relu as its own pass both ways (outputs named), for comparison\n";

// Parses a positive int; false when `text` is not one.
bool parse_positive(const char* text, int64_t& out) {
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 1000000) return false;
    out = v;
    return true;
}

// Returns false (after printing why) when the arguments are wrong.
bool parse(int argc, char** argv, Options& options) {
    int64_t batch = 0, threads = 0, steps = 0, warmup = -1, rounds = 0;
    bool short_run = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--short") {
            short_run = true;
            continue;
        }
        if (arg == "--unfused") {
            options.conv_relu = ConvRelu::separate;
            continue;
        }
        if (arg == "--help" || arg == "-h") {
            fmt::print("{}", usage);
            std::exit(0);
        }
        int64_t* target = arg == "--batch"     ? &batch
                          : arg == "--threads" ? &threads
                          : arg == "--steps"   ? &steps
                          : arg == "--warmup"  ? &warmup
                          : arg == "--rounds"  ? &rounds
                                               : nullptr;
        if (!target) {
            fmt::print(stderr, "benchmark: unknown argument '{}'\n{}", arg, usage);
            return false;
        }
        if (i + 1 >= argc || !parse_positive(argv[i + 1], *target)) {
            fmt::print(stderr, "benchmark: {} needs a positive integer\n{}", arg, usage);
            return false;
        }
        ++i;
    }
    if (short_run) {
        options.steps = 3;
        options.warmup = 2;  // the third step is the first steady one (the optimizer state)
        options.op_iterations = 2;
        options.rounds = 1;
        options.raw_iterations = 2;
        options.chain = 10000;
    }
    if (steps > 0) options.steps = static_cast<int>(steps);
    if (warmup >= 0) options.warmup = static_cast<int>(warmup);
    if (rounds > 0) options.rounds = static_cast<int>(rounds);
    if (batch > 0 || threads > 0 || short_run)
        options.configs = {{batch > 0 ? batch : 64, threads > 0 ? static_cast<int>(threads) : 2}};
    else
        options.configs = {{64, 2}, {16, 2}, {256, 2}, {64, 1}};
    return true;
}

// ---------------------------------------------------------------------------------------------
// The model

struct LeNetFM {
    ng::Var w1, b1, w2, b2, w3, b3, w4, b4;  // conv1, conv2 (HWIO), dense1, dense2 ([in, out])
    std::vector<ng::Var> parameters() const { return {w1, b1, w2, b2, w3, b3, w4, b4}; }
};

// PyTorch's default initialisation bound, 1 / sqrt(fan_in), for weights and biases alike.
ng::Var parameter(ng::Shape shape, int64_t fan_in, ng::Generator& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return ng::uniform(std::move(shape), -bound, bound, ng::f32, gen).requires_grad();
}

LeNetFM make_model(ng::Generator& gen) {
    return {parameter({5, 5, 1, 32}, 25, gen),       parameter({32}, 25, gen),
            parameter({5, 5, 32, 64}, 800, gen),     parameter({64}, 800, gen),
            parameter({7 * 7 * 64, 512}, 3136, gen), parameter({512}, 3136, gen),
            parameter({512, 10}, 512, gen),          parameter({10}, 512, gen)};
}

// The ops of one step, in order; the per-op table has one row each.
enum Op { conv1, relu1, pool1, conv2, relu2, pool2, flat, dense1, relu3, dense2, loss, op_count };
const char* const op_names[op_count] = {"conv1",   "relu1",  "pool1", "conv2",  "relu2", "pool2",
                                        "flatten", "dense1", "relu3", "dense2", "loss"};

// Per-op times measured inside real training steps, without touching the library: each forward
// call is timed, and the gradient function the tape recorded for its output is wrapped in a
// timer. Only the profiled steps pay for this.
struct StepProfile {
    std::vector<double> forward[op_count], backward[op_count];
    std::vector<double> zero_grad, backward_call, update, release, total;

    ng::Var timed(Op op, const std::function<ng::Var()>& run) {
        const double start = now_ms();
        ng::Var y = run();
        forward[op].push_back(now_ms() - start);
        time_backward(op, ng::node_of(y)->producer);
        return y;
    }

    // An op that runs inside another (the relu inside max_pool2d's relu option): 0 for both.
    void inside_another(Op op) {
        forward[op].push_back(0);
        backward[op].push_back(0);
    }

    void time_backward(Op op, const std::shared_ptr<ng::TapeRecord>& record) {
        if (!record) return;
        record->backward = [inner = std::move(record->backward), this, op](
                               const ng::Grads& dy, const ng::Needed& needed) {
            const double begin = now_ms();
            ng::Grads g = inner(dy, needed);
            backward[op].push_back(now_ms() - begin);
            return g;
        };
    }
};

// Every intermediate of one forward pass, so the per-op table can rerun each op on real inputs.
using Activations = std::array<ng::Var, op_count>;

const ng::Conv2dOptions same_padding{.padding = ng::same};

// Fused, each relu after a convolution runs inside the max pool that follows it (one op), and the
// convolutions' outputs are dropped once pooled, as an expression would drop them.
Activations forward(const LeNetFM& m, const ng::Var& images, const ng::Tensor& labels,
                    ConvRelu conv_relu, StepProfile* profile = nullptr) {
    Activations a;
    const auto run = [&](Op op, const std::function<ng::Var()>& f) {
        a[op] = profile ? profile->timed(op, f) : f();
    };
    const auto conv_then_relu = [&](Op conv_op, Op relu_op, const ng::Var& x, const ng::Var& w,
                                    const ng::Var& b) {
        run(conv_op, [&] { return ng::conv2d(x, w, b, same_padding); });
        if (conv_relu == ConvRelu::separate) {
            run(relu_op, [&] { return ng::relu(a[conv_op]); });
        } else if (profile) {
            profile->inside_another(relu_op);
        }
    };
    const auto pool_after_relu = [&](Op conv_op, Op relu_op, Op pool_op) {
        if (conv_relu == ConvRelu::separate) {
            run(pool_op, [&] { return ng::max_pool2d(a[relu_op]); });
            return;
        }
        run(pool_op,
            [&] { return ng::max_pool2d(a[conv_op], {.activation = ng::Activation::relu}); });
        a[conv_op] = ng::Var();
    };
    conv_then_relu(conv1, relu1, images, m.w1, m.b1);
    pool_after_relu(conv1, relu1, pool1);
    conv_then_relu(conv2, relu2, a[pool1], m.w2, m.b2);
    pool_after_relu(conv2, relu2, pool2);
    run(flat, [&] { return ng::flatten(a[pool2]); });
    run(dense1, [&] { return ng::dense(a[flat], m.w3, m.b3); });
    run(relu3, [&] { return ng::relu(a[dense1]); });
    run(dense2, [&] { return ng::dense(a[relu3], m.w4, m.b4); });
    run(loss, [&] { return ng::softmax_cross_entropy(a[dense2], labels); });
    return a;
}

// What PyTorch's reference step does: zero_grad(set_to_none), forward, backward, update.
void train_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                const ng::Tensor& labels, ConvRelu conv_relu) {
    sgd.zero_grad(ng::optim::ZeroGrad::set_to_none);
    forward(m, images, labels, conv_relu)[loss].backward();
    sgd.step();
}

// The same step with every part timed.
void profiled_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                   const ng::Tensor& labels, ConvRelu conv_relu, StepProfile& p) {
    const double start = now_ms();
    sgd.zero_grad(ng::optim::ZeroGrad::set_to_none);
    double t = now_ms();
    p.zero_grad.push_back(t - start);
    {
        Activations a = forward(m, images, labels, conv_relu, &p);
        t = now_ms();
        a[loss].backward();
        p.backward_call.push_back(now_ms() - t);
        t = now_ms();
    }  // the step's values and records are freed here
    p.release.push_back(now_ms() - t);
    t = now_ms();
    sgd.step();
    p.update.push_back(now_ms() - t);
    p.total.push_back(now_ms() - start);
}

// Random standardised-looking images and labels; the values do not change the work done.
struct Batch {
    ng::Var images;
    ng::Tensor labels;
};

Batch random_batch(int64_t batch, ng::Generator& gen) {
    ng::Tensor labels({batch}, ng::i64);
    for (int64_t i = 0; i < batch; ++i)
        labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    return {ng::Var(ng::normal({batch, 28, 28, 1}, ng::f32, gen)), labels};
}

// ---------------------------------------------------------------------------------------------
// Each op alone, in a loop

struct Times {
    double forward_ms = 0, backward_ms = 0;
    double total() const { return forward_ms + backward_ms; }
};

// Times one op alone: the forward through the public op (recording on the tape), then the
// gradient function the tape holds for it, called directly with a random output gradient.
// `before` runs untimed before each call: the convolutions bump their weights' version there, as
// the optimizer does each step, so the reorder into oneDNN's weight layouts counts as in a step.
Times time_alone(
    int iterations, const std::function<ng::Var()>& run,
    const std::function<void()>& before = [] {}) {
    ng::Var y = run();
    const auto record = ng::node_of(y)->producer;
    ng::Generator gen(7);
    const ng::Grads dy{ng::normal(y.shape(), y.dtype(), gen)};
    Times t;
    before();
    (void)run();  // warm
    t.forward_ms = median_ms(iterations, before, [&] { (void)run(); });
    before();
    record->backward(dy, record->needed);  // warm
    t.backward_ms =
        median_ms(iterations, before, [&] { ng::Grads g = record->backward(dy, record->needed); });
    return t;
}

std::array<Times, op_count> time_ops_alone(const LeNetFM& m, const Batch& batch, int iterations) {
    // Every op separately, on its own inputs.
    const Activations a = forward(m, batch.images, batch.labels, ConvRelu::separate);
    const auto bump = [](const ng::Var& w) { return [w] { w.value().bump_version(); }; };
    std::array<Times, op_count> t;
    t[conv1] = time_alone(
        iterations, [&] { return ng::conv2d(batch.images, m.w1, m.b1, same_padding); }, bump(m.w1));
    t[relu1] = time_alone(iterations, [&] { return ng::relu(a[conv1]); });
    t[pool1] = time_alone(iterations, [&] { return ng::max_pool2d(a[relu1]); });
    t[conv2] = time_alone(
        iterations, [&] { return ng::conv2d(a[pool1], m.w2, m.b2, same_padding); }, bump(m.w2));
    t[relu2] = time_alone(iterations, [&] { return ng::relu(a[conv2]); });
    t[pool2] = time_alone(iterations, [&] { return ng::max_pool2d(a[relu2]); });
    t[flat] = time_alone(iterations, [&] { return ng::flatten(a[pool2]); });
    t[dense1] = time_alone(iterations, [&] { return ng::dense(a[flat], m.w3, m.b3); });
    t[relu3] = time_alone(iterations, [&] { return ng::relu(a[dense1]); });
    t[dense2] = time_alone(iterations, [&] { return ng::dense(a[relu3], m.w4, m.b4); });
    t[loss] =
        time_alone(iterations, [&] { return ng::softmax_cross_entropy(a[dense2], batch.labels); });
    return t;
}

// ---------------------------------------------------------------------------------------------
// One configuration

struct Result {
    Config config;
    double step_ms = 0;  // median over all timed steps
    double raw_ms = 0;   // median over the rounds of the raw primitives' sum
    double ratio = 0;    // median over the rounds of step / raw, each round's own
    double sequence_ms = 0, sequence_ratio = 0;  // the same for the raw primitives in sequence
    double foreign_cores = 0;
};

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

Result run_config(const Config& config, const Options& options) {
    ng::set_num_threads(config.threads);
    fmt::print("\n=== lenet-fm B={} threads={} ({} warm-up + {} timed steps; {}) ===\n",
               config.batch, config.threads, options.warmup, options.steps,
               options.conv_relu == ConvRelu::fused ? "relu fused into conv2d and max_pool2d"
                                                    : "relu unfused");
    const bool peak_reset = bench::reset_peak_rss();
    ng::Generator gen(1);
    LeNetFM model = make_model(gen);
    ng::optim::SGD sgd(model.parameters(), {.lr = 0.01, .momentum = 0.9});
    const Batch batch = random_batch(config.batch, gen);

    for (int i = 0; i < options.warmup; ++i)
        train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
    // The warm-up's peak: a steady step allocates nothing new, and the raw primitives' buffers,
    // made next, must not count.
    const double peak = peak_reset ? bench::recent_peak_rss_mib() : -1;
    bench::RawStep raw_step(config.batch);

    // nalgrad's steps and the raw primitives alternate in rounds, so that a slower stretch of this
    // shared machine weighs on both sides of a round's ratio; the summary is the median ratio.
    const int rounds = std::clamp(options.rounds, 1, options.steps);
    const int steps_per_round = options.steps / rounds;
    const bench::CpuWindow window;
    bench::AllocationCount allocations;  // nalgrad's steps only
    long faults = 0;
    std::vector<double> times, raw_sums, ratios, sequences, sequence_ratios;
    std::vector<std::vector<bench::RawLayer>> raw_rounds;
    for (int round = 0; round < rounds; ++round) {
        // One untimed step first, as each raw primitive gets one untimed run: the raw round
        // before has evicted the step's buffers.
        train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
        const bench::AllocationCount before = bench::allocations_so_far();
        const long faults_before = bench::page_faults();
        std::vector<double> round_times;
        for (int i = 0; i < steps_per_round; ++i) {
            const double start = now_ms();
            train_step(model, sgd, batch.images, batch.labels, options.conv_relu);
            round_times.push_back(now_ms() - start);
        }
        const bench::AllocationCount after = bench::allocations_so_far();
        faults += bench::page_faults() - faults_before;
        allocations += after - before;

        raw_rounds.push_back(raw_step.time(options.raw_iterations, 1));
        double raw_sum = 0;
        for (const bench::RawLayer& layer : raw_rounds.back())
            raw_sum += layer.forward_ms + layer.backward_ms;
        raw_sums.push_back(raw_sum);
        ratios.push_back(bench::median(round_times) / raw_sum);
        sequences.push_back(raw_step.time_sequence(options.raw_iterations));
        sequence_ratios.push_back(bench::median(round_times) / sequences.back());
        times.insert(times.end(), round_times.begin(), round_times.end());
    }
    Result result{config,
                  bench::median(times),
                  bench::median(raw_sums),
                  bench::median(ratios),
                  bench::median(sequences),
                  bench::median(sequence_ratios),
                  window.foreign_cores()};
    const auto [fastest, slowest] = std::minmax_element(times.begin(), times.end());
    fmt::print(
        "nalgrad step: median {:.2f} ms (min {:.2f}, max {:.2f}), {:.0f} images/s; "
        "foreign load {}\n",
        result.step_ms, *fastest, *slowest, config.batch / result.step_ms * 1e3,
        cores(result.foreign_cores));
    const double steps = static_cast<double>(times.size());
    fmt::print(
        "heap allocations per step (after warm-up): operator new {:.1f} calls, {:.2f} MiB; "
        "malloc family {:.1f} calls, {:.2f} MiB; page faults per step: {:.0f}\n",
        allocations.calls / steps, allocations.bytes / steps / 1048576.0,
        allocations.malloc_calls / steps, allocations.malloc_bytes / steps / 1048576.0,
        faults / steps);
    if (peak >= 0) fmt::print("peak RSS of this configuration's steps (VmHWM): {:.1f} MiB\n", peak);
    fmt::print("peak RSS of the process so far (ru_maxrss): {:.1f} MiB\n", bench::peak_rss_mib());

    StepProfile profile;
    for (int i = 0; i < options.steps; ++i)
        profiled_step(model, sgd, batch.images, batch.labels, options.conv_relu, profile);
    const auto alone = time_ops_alone(model, batch, options.op_iterations);

    std::vector<Row> rows;
    double ops_backward = 0;
    for (int op = 0; op < op_count; ++op) {
        Row r{
            op_names[op], {bench::median(profile.forward[op]), bench::median(profile.backward[op])},
            alone[op],    {},
            true,         false};
        std::vector<double> raw_forward, raw_backward;  // this layer's, one per round
        for (const auto& raw : raw_rounds)
            for (const bench::RawLayer& layer : raw)
                if (layer.name == r.name) {
                    raw_forward.push_back(layer.forward_ms);
                    raw_backward.push_back(layer.backward_ms);
                }
        if (!raw_forward.empty()) {
            r.raw = {bench::median(raw_forward), bench::median(raw_backward)};
            r.has_raw = true;
        }
        ops_backward += r.in_step.backward_ms;
        rows.push_back(r);
    }
    const auto extra = [&](std::string name, double ms) {
        rows.push_back({std::move(name), {ms, 0}, {}, {}, false, false});
    };
    const double backward_call = bench::median(profile.backward_call);
    extra("SGD update", bench::median(profile.update));
    extra("zero_grad", bench::median(profile.zero_grad));
    extra("tape sweep", backward_call - ops_backward);
    extra("release", bench::median(profile.release));
    double parts = 0;
    for (const Row& r : rows) parts += r.in_step.total();
    const double profiled_total = bench::median(profile.total);
    extra("other", profiled_total - parts);
    print_table(rows, profiled_total, options.op_iterations);
    fmt::print(
        "tape sweep: backward() minus the ops' gradient functions (seed, accumulation, "
        "checks); release: freeing the step's values and records; other: profiled step "
        "median minus the medians of its parts\n");
    if (options.conv_relu == ConvRelu::fused)
        fmt::print(
            "in step, max_pool2d with the relu option: pool1, pool2 apply relu1, relu2 to their "
            "output and its mask to their output gradient, so relu1, relu2 show 0; alone and "
            "raw: every op separately (--unfused: in step too)\n");
    fmt::print(
        "step {:.2f} ms (profiled: {:.2f} ms), raw oneDNN primitives {:.2f} ms (no loss, no "
        "update): ratio {:.2f}, the median of {} rounds' ratios ({:.2f}), each round 1 + {} steps "
        "then the raw primitives 1 + {} times each\n",
        result.step_ms, profiled_total, result.raw_ms, result.ratio, ratios.size(),
        fmt::join(ratios, ", "), steps_per_round, options.raw_iterations);
    fmt::print(
        "raw oneDNN primitives back to back (each once, in the step's order, buffers evicted by "
        "the other layers as in a step): {:.2f} ms; ratio {:.2f} (median of the rounds: {:.2f})\n",
        result.sequence_ms, result.sequence_ratio, fmt::join(sequence_ratios, ", "));
    return result;
}

// ---------------------------------------------------------------------------------------------
// Framework overhead: a long chain of relu on a one-element tensor, where the arithmetic is nil.

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
        return bench::median(ms) * 1e3 / chain;
    };
    const double f = per_op_us(recorded), b = per_op_us(backward), r = per_op_us(release);
    fmt::print(
        "\nframework overhead per op (relu on a [1] tensor, chain of {}, median of 3): "
        "forward+record {:.2f} us, backward {:.2f} us, release {:.2f} us; total {:.2f} "
        "us/op; forward without recording {:.2f} us\n",
        chain, f, b, r, f + b + r, per_op_us(unrecorded));
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
        fmt::print("\n");
        for (const Result& r : results)
            fmt::print(
                "lenet-fm B={} threads={}: nalgrad {:.2f} ms/step, raw oneDNN {:.2f} ms, "
                "ratio {:.2f}; back to back {:.2f} ms, ratio {:.2f} (foreign load {})\n",
                r.config.batch, r.config.threads, r.step_ms, r.raw_ms, r.ratio, r.sequence_ms,
                r.sequence_ratio, cores(r.foreign_cores));
    } catch (const ng::Error& e) {
        fmt::print(stderr, "benchmark: {}\n", e.what());
        return 1;
    }
    return 0;
}
