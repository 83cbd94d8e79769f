// The benchmark's command line: which configurations (batch, threads) run, and how many steps,
// rounds and repetitions each measurement takes.
#pragma once
#include <cstdint>
#include <vector>

namespace bench {

struct Config {
    int64_t batch = 64;
    int threads = 2;
};

// max_pool2d(conv2d(...), {.activation = relu}) as the example model writes it: the relu runs on
// the pooled output and its mask on the pooled gradient. Or relu as an op of its own, a pass over
// the convolution's output both ways.
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

// Fills `options` from the arguments. Returns false (after printing why, and the usage) when they
// are wrong; --help prints the usage and exits.
bool parse(int argc, char** argv, Options& options);

}  // namespace bench
