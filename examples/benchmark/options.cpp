#include "options.hpp"

#include <cstdlib>
#include <string>

#include <fmt/core.h>

namespace bench {
namespace {

constexpr const char* usage =
    "usage: benchmark [--batch B] [--threads T] [--steps N] [--warmup N] [--rounds N] [--short] "
    "[--unfused]\n"
    "  without --batch and --threads: B=64 with 2 threads, B=16, B=256, and B=64 with 1 thread\n"
    "  --rounds: the timed steps alternate with the raw primitives in N rounds (default 8)\n"
    "  --short: a run of a few seconds (one configuration, few steps), to prove it works\n"
    "  --unfused: relu as an op of its own (a pass both ways), for comparison\n";

// Parses a positive int; false when `text` is not one.
bool parse_positive(const char* text, int64_t& out) {
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 1000000) return false;
    out = v;
    return true;
}

}  // namespace

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
        int64_t* value = arg == "--batch"     ? &batch
                         : arg == "--threads" ? &threads
                         : arg == "--steps"   ? &steps
                         : arg == "--warmup"  ? &warmup
                         : arg == "--rounds"  ? &rounds
                                              : nullptr;
        if (!value) {
            fmt::print(stderr, "benchmark: unknown argument '{}'\n{}", arg, usage);
            return false;
        }
        if (i + 1 >= argc || !parse_positive(argv[i + 1], *value)) {
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

}  // namespace bench
