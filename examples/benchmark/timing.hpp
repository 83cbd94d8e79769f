// Wall-clock helpers shared by the benchmark's parts.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace bench {

inline double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Median wall time in ms of `iterations` calls of run(), each after an untimed prepare().
template <typename Prepare, typename Run>
double median_ms(int iterations, Prepare&& prepare, Run&& run) {
    std::vector<double> times;
    times.reserve(static_cast<std::size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
        prepare();
        const double start = now_ms();
        run();
        times.push_back(now_ms() - start);
    }
    return median(std::move(times));
}

template <typename Run>
double median_ms(int iterations, Run&& run) {
    return median_ms(
        iterations, [] {}, run);
}

}  // namespace bench
