// Threads. Debian's oneDNN runs on its own OpenMP pool; the project's kernels use TBB. Ops run one
// at a time from the calling thread: oneDNN parallelises inside a primitive, our loops with TBB,
// and oneDNN is never called from inside a TBB task. Set GOMP_SPINCOUNT=10000 in the environment
// before the process starts (libgomp reads it when it loads): idle OpenMP threads otherwise spin
// and slow the TBB loops that follow each primitive (measured 12-55%).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace nalgrad {

// The most threads set_num_threads and NALGRAD_NUM_THREADS accept. libgomp makes every thread it
// is told to (1 << 20 crashed inside it, INT_MAX ran the machine out of memory); 4096 runs.
inline constexpr int max_num_threads = 4096;

// Threads for TBB (global arena) and OpenMP (oneDNN) alike, on every thread: one that calls ops
// (the main thread or a std::thread) adopts the setting at its next oneDNN call, and primitives
// created under the old setting are made afresh. `n` must be 1 to max_num_threads; any other
// value throws nalgrad::Error and changes nothing. Default: NALGRAD_NUM_THREADS from the
// environment when it is a whole number in that range (anything else is ignored, since it is read
// before main() runs, where a throw could only terminate), else every core.
void set_num_threads(int n);
int get_num_threads();

// Determinism. By default results are bitwise repeatable for a fixed thread count (and machine):
// the project's own kernels sum every reduction in an order fixed by the shapes, never by the
// thread partition, and oneDNN is deterministic run to run; but oneDNN splits some reductions
// (convolution and inner product weight gradients, normalisation statistics, matmul over k) by
// its thread count, so results may change with set_num_threads. In deterministic mode oneDNN
// primitives are created and run on one thread (TBB loops keep set_num_threads), so results do not
// depend on the thread count; oneDNN ops then use one core.
void set_deterministic(bool enabled);
bool deterministic();

// For the oneDNN seam (core/kernels/onednn.cpp). OpenMP keeps its thread count per calling
// thread: this brings the calling thread's up to date with set_num_threads / set_deterministic
// (a thread-local compare when nothing changed).
void adopt_thread_settings();
// Counts changes of set_num_threads / set_deterministic. oneDNN fixes a primitive's thread
// partition when it is created, so cached primitives made under an older count are stale.
uint64_t thread_settings_generation();

// Below this many elements of work a loop runs serially: a parallel region costs microseconds.
inline constexpr int64_t serial_grain = 32768;

// Calls body(begin, end) over [0, n), in parallel when n * cost_per_item is worth it.
template <typename Body>
void parallel_for(int64_t n, int64_t cost_per_item, Body&& body) {
    if (n <= 0) return;
    int64_t work = 0;  // a product that overflows is plenty of work
    const bool huge = __builtin_mul_overflow(n, cost_per_item, &work);
    if ((!huge && work < serial_grain) || n == 1) {
        body(int64_t{0}, n);
        return;
    }
    int64_t grain = serial_grain / (cost_per_item > 0 ? cost_per_item : 1);
    if (grain < 1) grain = 1;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
}

// Calls body(part, begin, end) over [0, size_of(part)) for every part in [0, parts), as one
// parallel_for over all their elements together: a task's range may end one part and start the
// next, so many small parts share tasks and the whole runs as one parallel region. body must not
// call parallel_for_parts itself.
template <typename SizeOf, typename Body>
void parallel_for_parts(std::size_t parts, SizeOf&& size_of, int64_t cost_per_item, Body&& body) {
    // starts[i]: part i's first element among all; starts[parts]: the total. Kept per thread, so
    // a steady caller allocates nothing.
    thread_local std::vector<int64_t> this_threads_starts;
    // A plain reference for the lambda: the workers' own name for it would be their own vector.
    std::vector<int64_t>& starts = this_threads_starts;
    starts.assign(1, 0);
    for (std::size_t i = 0; i < parts; ++i) starts.push_back(starts.back() + size_of(i));
    parallel_for(starts.back(), cost_per_item, [&](int64_t begin, int64_t end) {
        // The last part starting at or before begin (skipping empty parts), then onwards.
        auto i = static_cast<std::size_t>(
            std::upper_bound(starts.begin(), starts.end() - 1, begin) - starts.begin() - 1);
        for (; i < parts && starts[i] < end; ++i) {
            const int64_t from = std::max(begin, starts[i]), to = std::min(end, starts[i + 1]);
            if (from < to) body(i, from - starts[i], to - starts[i]);
        }
    });
}

}  // namespace nalgrad
