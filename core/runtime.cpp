#include "core/runtime.hpp"

#include <omp.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include <tbb/global_control.h>

#include "core/error.hpp"

namespace nalgrad {
namespace {

std::mutex control_mutex;
std::unique_ptr<tbb::global_control> tbb_limit;
int current_threads = 0;

int default_threads() {
    if (const char* env = std::getenv("NALGRAD_NUM_THREADS")) {
        char* end = nullptr;
        long n = std::strtol(env, &end, 10);
        // A malformed value falls back to every core: this runs before main(), where a throw
        // could only terminate.
        if (end != env && *end == '\0' && n > 0 && n <= 4096) return static_cast<int>(n);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

void apply(int n) {
    tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                      static_cast<std::size_t>(n));
    omp_set_num_threads(n);
    current_threads = n;
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
    std::lock_guard lock(control_mutex);
    apply(n);
}

int get_num_threads() {
    std::lock_guard lock(control_mutex);
    return current_threads;
}

}  // namespace nalgrad
