#include "core/runtime.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include <tbb/global_control.h>

#include "core/error.hpp"

namespace nalgrad {
namespace {

std::mutex control_mutex;  // serialises set_num_threads and set_deterministic
std::unique_ptr<tbb::global_control> tbb_limit;
std::atomic<int> current_threads = 0;
std::atomic<bool> deterministic_mode = false;
std::atomic<uint64_t> generation = 0;  // bumped after each change of the two above

int default_threads() {
    if (const char* env = std::getenv("NALGRAD_NUM_THREADS")) {
        char* end = nullptr;
        long n = std::strtol(env, &end, 10);
        // A malformed value falls back to every core: this runs before main(), where a throw
        // could only terminate.
        if (end != env && *end == '\0' && n > 0 && n <= max_num_threads) return static_cast<int>(n);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, max_num_threads));
}

// TBB's limit is process-wide; OpenMP's is per thread, so each thread adopts it lazily
// (adopt_thread_settings) when the generation moves on.
void apply(int n) {
    tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                      static_cast<std::size_t>(n));
    current_threads = n;
    generation.fetch_add(1, std::memory_order_release);
}

// Applies the default before main() runs, so the first primitive already sees it.
[[maybe_unused]] const bool applied_at_load = [] {
    std::lock_guard lock(control_mutex);
    apply(default_threads());
    return true;
}();

}  // namespace

void set_num_threads(int n) {
    if (n < 1) fail("set_num_threads", "n must be at least 1, got {}", n);
    if (n > max_num_threads)
        fail("set_num_threads", "n must be at most {} (max_num_threads), got {}", max_num_threads,
             n);
    std::lock_guard lock(control_mutex);
    apply(n);
}

int get_num_threads() {
    return current_threads.load(std::memory_order_relaxed);
}

void set_deterministic(bool enabled) {
    std::lock_guard lock(control_mutex);
    deterministic_mode = enabled;
    generation.fetch_add(1, std::memory_order_release);
}

bool deterministic() {
    return deterministic_mode.load(std::memory_order_relaxed);
}

void adopt_thread_settings() {
    thread_local uint64_t adopted = 0;  // the load-time apply makes the generation at least 1
    const uint64_t now = generation.load(std::memory_order_acquire);
    if (adopted == now) return;
    omp_set_num_threads(deterministic_mode ? 1 : current_threads.load());
    adopted = now;  // a change racing with this one moves the generation on again
}

uint64_t thread_settings_generation() {
    return generation.load(std::memory_order_acquire);
}

}  // namespace nalgrad
