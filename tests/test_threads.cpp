#include <doctest/doctest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nalgrad/nalgrad.hpp>

#include "support/training.hpp"

using namespace nalgrad;
using testing::ThreadSettingsGuard;

namespace {

// CPU time per thread of this process, in nanoseconds (/proc/self/task/<tid>/schedstat; the
// clock ticks of .../stat where that is missing).
std::map<std::string, double> cpu_per_thread() {
    std::map<std::string, double> ns;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        const std::string tid = task.path().filename().string();
        if (std::ifstream schedstat(task.path() / "schedstat"); schedstat) {
            double run = 0;
            if (schedstat >> run) ns[tid] = run;
            continue;
        }
        std::ifstream stat(task.path() / "stat");
        std::string field;
        double ticks = 0;
        for (int i = 1; i <= 15 && stat >> field; ++i)
            if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
        ns[tid] = ticks * 1e9 / double(sysconf(_SC_CLK_TCK));
    }
    return ns;
}

double process_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Usage {
    int busy_threads = 0;     // threads that did at least a sixth of the CPU work
    double cpu_per_wall = 0;  // process CPU time / wall time
};

// Which threads work runs on. Other processes on the machine stretch the wall time (and so lower
// the ratio), but not the CPU time each thread of this process gets, so the busy-thread count is
// the robust measure; the ratio is the obvious one, and is checked where load cannot break it.
template <typename Work>
Usage measure(Work&& work) {
    const auto before = cpu_per_thread();
    const double cpu_before = process_cpu_seconds();
    const auto wall_before = std::chrono::steady_clock::now();
    work();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
    Usage usage;
    usage.cpu_per_wall = (process_cpu_seconds() - cpu_before) / wall;
    std::vector<double> deltas;
    double total = 0;
    for (const auto& [tid, ns] : cpu_per_thread()) {
        const auto it = before.find(tid);
        deltas.push_back(ns - (it == before.end() ? 0 : it->second));
        total += deltas.back();
    }
    usage.busy_threads =
        int(std::count_if(deltas.begin(), deltas.end(), [&](double d) { return d > total / 6; }));
    return usage;
}

// oneDNN's matmul primitive (float32 goes through ops/linear to oneDNN).
void heavy_matmul() {
    Generator gen(7);
    const Var a = normal({768, 768}, f32, gen), b = normal({768, 768}, f32, gen);
    for (int i = 0; i < 10; ++i) CHECK(matmul(a, b).shape() == Shape{768, 768});
}

// A TBB loop of the project's own (Tensor::astype).
void heavy_tbb_loop() {
    const Tensor x = full({1 << 23}, 1.5, f32);
    for (int i = 0; i < 6; ++i) CHECK(x.astype(f64).at(12345) == 1.5);
}

bool two_cores() {
    return std::thread::hardware_concurrency() >= 2;
}

}  // namespace

TEST_CASE("set_num_threads(1): oneDNN and the TBB loops run on the calling thread only") {
    ThreadSettingsGuard restore;
    set_num_threads(1);
    CHECK(get_num_threads() == 1);
    for (auto* work : {heavy_matmul, heavy_tbb_loop}) {
        const Usage usage = measure(work);
        CHECK(usage.busy_threads == 1);
        CHECK(usage.cpu_per_wall < 1.15);
    }
}

TEST_CASE("set_num_threads(2): oneDNN and the TBB loops use two threads") {
    if (!two_cores()) return;
    ThreadSettingsGuard restore;
    set_num_threads(2);
    for (auto* work : {heavy_matmul, heavy_tbb_loop}) {
        const Usage usage = measure(work);
        CHECK(usage.busy_threads == 2);
        // Above 1.3 on an idle machine; other processes on it lower it.
        MESSAGE("CPU time / wall time with two threads: ", usage.cpu_per_wall);
    }
}

TEST_CASE("a primitive created under two threads runs on one after set_num_threads(1)") {
    if (!two_cores()) return;
    ThreadSettingsGuard restore;
    set_num_threads(2);
    CHECK(measure(heavy_matmul).busy_threads == 2);  // creates and caches the primitive
    set_num_threads(1);
    CHECK(measure(heavy_matmul).busy_threads == 1);
    set_num_threads(2);
    CHECK(measure(heavy_matmul).busy_threads == 2);
}

TEST_CASE("a std::thread that calls ops honours set_num_threads") {
    ThreadSettingsGuard restore;
    // OpenMP keeps its thread count per thread: a new thread starts from OpenMP's default (every
    // core), whatever the thread that called set_num_threads set for itself.
    for (int threads : {1, 2}) {
        if (threads == 2 && !two_cores()) continue;
        set_num_threads(threads);
        // Measured from inside the worker: an exited thread's CPU time leaves /proc/self/task.
        Usage onednn_usage, tbb_usage;
        std::thread worker([&] {
            onednn_usage = measure(heavy_matmul);
            tbb_usage = measure(heavy_tbb_loop);
        });
        worker.join();
        CHECK(onednn_usage.busy_threads == threads);
        CHECK(tbb_usage.busy_threads == threads);
    }
}

TEST_CASE("set_deterministic(true) keeps oneDNN on one thread and TBB on set_num_threads") {
    if (!two_cores()) return;
    ThreadSettingsGuard restore;
    set_num_threads(2);
    set_deterministic(true);
    CHECK(deterministic());
    CHECK(measure(heavy_matmul).busy_threads == 1);
    CHECK(measure(heavy_tbb_loop).busy_threads == 2);
    set_deterministic(false);
    CHECK_FALSE(deterministic());
    CHECK(measure(heavy_matmul).busy_threads == 2);
}

TEST_CASE("set_num_threads refuses a count below one") {
    CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("n must be at least 1, got 0"),
                         Error);
}

TEST_CASE("two threads training their own models at once match each training alone") {
    ThreadSettingsGuard restore;
    set_num_threads(2);
    using testing::Model;
    for (DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        const testing::TrainingRun alone_a = testing::train(Model::mlp, dtype, 11);
        const testing::TrainingRun alone_b = testing::train(Model::mlp, dtype, 12);
        CHECK_FALSE(testing::identical(alone_a, alone_b));  // the seeds matter
        testing::TrainingRun together_a, together_b;
        std::thread first([&] { together_a = testing::train(Model::mlp, dtype, 11); });
        std::thread second([&] { together_b = testing::train(Model::mlp, dtype, 12); });
        first.join();
        second.join();
        CHECK(testing::identical(together_a, alone_a));
        CHECK(testing::identical(together_b, alone_b));
        // The tapes are per thread: nothing the workers recorded is left on this one.
        CHECK(tape_size() == 0);
    }
}
