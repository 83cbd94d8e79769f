// The caching allocator behind tensor storage (core/memory.hpp): freed blocks are reused by size
// class, frees and allocations from several threads are safe, empty_cache() hands the cache back,
// the refusal of impossible tensors stands, and a training step after warm-up asks the system for
// no tensor memory at all.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/allocator.hpp"

using namespace nalgrad;

TEST_CASE("memory: size classes are 64-byte multiples, at most 12.5% above the request") {
    CHECK(allocator::size_class(0) == 64);
    CHECK(allocator::size_class(1) == 64);
    CHECK(allocator::size_class(64) == 64);
    CHECK(allocator::size_class(65) == 128);
    CHECK(allocator::size_class(4000) == 4096);  // steps of 256 between 2 KiB and 4 KiB
    CHECK(allocator::size_class(3960) == 4096);  // so a slightly smaller tensor shares the class
    for (std::size_t bytes = 1; bytes < (std::size_t{1} << 26); bytes = bytes * 3 / 2 + 7) {
        const std::size_t size = allocator::size_class(bytes);
        CHECK(size % 64 == 0);
        CHECK(size >= bytes);
        CHECK(size - bytes <= std::max<std::size_t>(63, bytes / 8));
    }
}

TEST_CASE("memory: a freed block is handed to the next tensor of its size class") {
    const Shape odd{37, 101};  // 14,948 bytes of f32: no other test here uses its class
    const void* first = nullptr;
    {
        Tensor t(odd, f32);
        first = t.raw();
    }
    const MemoryStats before = memory_stats();
    CHECK(before.bytes_cached >= allocator::size_class(37 * 101 * 4));
    Tensor again(odd, f32);
    const MemoryStats after = memory_stats();
    CHECK(again.raw() == first);
    CHECK(after.system_allocations == before.system_allocations);
    CHECK(after.reuses == before.reuses + 1);
    CHECK(after.bytes_in_use == before.bytes_in_use + allocator::size_class(37 * 101 * 4));
    CHECK(after.bytes_cached == before.bytes_cached - allocator::size_class(37 * 101 * 4));

    again = Tensor{};
    Tensor transposed({101, 37}, f32);  // the same bytes in another shape: the same block
    CHECK(transposed.raw() == first);
    transposed = Tensor{};
    Tensor smaller({37, 99}, f32);  // 14,652 bytes: the same 15,360-byte class
    CHECK(smaller.raw() == first);
    CHECK(memory_stats().system_allocations == before.system_allocations);
}

TEST_CASE("memory: data stays 64-byte aligned, and zero-size tensors get storage") {
    for (int64_t n : {0, 1, 3, 17, 1000, 4097}) {
        Tensor t({n}, f64);
        CHECK(t.defined());
        CHECK(reinterpret_cast<std::uintptr_t>(t.raw()) % 64 == 0);
    }
    Tensor empty_one({0, 5}, f32);
    CHECK(empty_one.numel() == 0);
    CHECK(empty_one.to_vector().empty());
}

TEST_CASE("memory: blocks of 2 MiB and more start on a huge-page boundary and hold every byte") {
    // They come from mmap (advised for transparent huge pages), not from operator new; a block
    // whose size is not a multiple of 2 MiB ends on small pages, and all of it is usable.
    constexpr std::uintptr_t huge_page = std::uintptr_t{2} << 20;
    for (int64_t floats : {int64_t{1} << 19, (int64_t{5} << 18) + 3, int64_t{1638400}}) {
        Tensor t({floats}, f32);
        CHECK(reinterpret_cast<std::uintptr_t>(t.raw()) % huge_page == 0);
        float* data = t.data<float>();
        for (int64_t i = 0; i < floats; ++i) data[i] = static_cast<float>(i % 251);
        CHECK(data[0] == 0.0f);
        CHECK(data[floats - 1] == static_cast<float>((floats - 1) % 251));
    }
    // A block just below 2 MiB stays on the ordinary path: 64-byte aligned.
    Tensor below({(int64_t{1} << 19) - 1024}, f32);
    CHECK(reinterpret_cast<std::uintptr_t>(below.raw()) % 64 == 0);
    // Released to the system and mapped afresh, a large block still works.
    empty_cache();
    Tensor again = full({int64_t{3} << 18}, 1.5);
    CHECK(again.at(0) == 1.5);
    CHECK(again.at((int64_t{3} << 18) - 1) == 1.5);
}

TEST_CASE("memory: empty_cache returns every cached byte and leaves tensors in use alone") {
    Tensor kept = full({1000}, 2.0);
    { Tensor freed({3000}, f32); }
    CHECK(memory_stats().bytes_cached > 0);
    const std::size_t in_use = memory_stats().bytes_in_use;
    empty_cache();
    const MemoryStats after = memory_stats();
    CHECK(after.bytes_cached == 0);
    CHECK(after.bytes_in_use == in_use);
    CHECK(kept.at(999) == 2.0);
    const uint64_t system = after.system_allocations;
    Tensor fresh({3000}, f32);  // the cache is empty: this one comes from the system
    CHECK(memory_stats().system_allocations == system + 1);
}

TEST_CASE("memory: peak bytes in use covers the largest live set") {
    const std::size_t big = allocator::size_class(std::size_t{3} << 20);
    Tensor a({int64_t{3} << 18}, f32);  // 3 MiB
    CHECK(memory_stats().peak_bytes_in_use >= memory_stats().bytes_in_use);
    CHECK(memory_stats().peak_bytes_in_use >= big);
}

TEST_CASE("memory: the footprint stays within twice the peak in use, at least 256 MiB") {
    empty_cache();
    // Tensors of ever new sizes, freed at once (a workload whose shapes keep changing): without
    // the bound the cache would keep every one. Uninitialised, so no page is touched.
    const std::size_t floor = std::size_t{256} << 20;
    for (int64_t mib = 40; mib <= 120; mib += 8) {
        { Tensor t({mib << 18}, f32); }
        const MemoryStats now = memory_stats();
        CHECK(now.bytes_in_use + now.bytes_cached <= std::max(2 * now.peak_bytes_in_use, floor));
    }
    const MemoryStats end = memory_stats();
    // Trimmed as far as needed, not emptied: more than the last (120 MiB) block is kept.
    CHECK(end.bytes_cached > (std::size_t{120} << 20));
    empty_cache();
}

TEST_CASE("memory: tensors allocated and freed on several threads, and freed on another") {
    const std::size_t in_use = memory_stats().bytes_in_use;
    constexpr int threads = 4, iterations = 3000;
    std::atomic<int64_t> wrong{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w)
        workers.emplace_back([w, &wrong] {
            for (int i = 0; i < iterations; ++i) {
                const int64_t n = 1 + (i * 7 + w * 13) % 700;  // many classes, shared ones
                Tensor t = full({n}, static_cast<double>(w));
                if (t.at(n - 1) != w) ++wrong;
            }
        });
    // A producer hands tensors to a consumer that frees them (as the data prefetch thread does).
    std::vector<Tensor> handed(iterations);
    std::atomic<int> ready{0};
    std::thread producer([&] {
        for (int i = 0; i < iterations; ++i) {
            handed[i] = full({1 + i % 300}, 1.0);
            ready.store(i + 1, std::memory_order_release);
        }
    });
    std::thread consumer([&] {
        for (int i = 0; i < iterations; ++i) {
            while (ready.load(std::memory_order_acquire) <= i) std::this_thread::yield();
            if (handed[i].at(0) != 1.0) ++wrong;
            handed[i] = Tensor{};
        }
    });
    for (auto& t : workers) t.join();
    producer.join();
    consumer.join();
    CHECK(wrong == 0);
    CHECK(memory_stats().bytes_in_use == in_use);
}

TEST_CASE("memory: a tensor larger than the machine's memory is still refused") {
    CHECK_THROWS_WITH_AS(zeros({int64_t{1} << 20, int64_t{1} << 20, 1024}),
                         doctest::Contains("more than this machine's memory"), Error);
}

namespace {

// conv -> relu -> max pool -> dense -> softmax cross-entropy, one SGD step.
struct SmallNet {
    Var kernel, conv_bias, weights, dense_bias;
};

double train_step(const SmallNet& net, optim::SGD& sgd, const Var& images, const Tensor& labels) {
    sgd.zero_grad(optim::ZeroGrad::set_to_none);
    Var h = max_pool2d(relu(conv2d(images, net.kernel, net.conv_bias, {.padding = same})));
    Var loss = softmax_cross_entropy(dense(flatten(h), net.weights, net.dense_bias), labels);
    loss.backward();
    sgd.step();
    return loss.item();
}

}  // namespace

TEST_CASE("memory: after two warm-up steps a training step asks the system for no tensor memory") {
    Generator gen(5);
    const int64_t batch = 4;
    SmallNet net{
        requires_grad(uniform({3, 3, 1, 8}, -0.3, 0.3, f32, gen)), requires_grad(zeros({8})),
        requires_grad(uniform({7 * 7 * 8, 10}, -0.05, 0.05, f32, gen)), requires_grad(zeros({10}))};
    optim::SGD sgd({net.kernel, net.conv_bias, net.weights, net.dense_bias},
                   {.lr = 0.1, .momentum = 0.9});
    const Var images(normal({batch, 14, 14, 1}, f32, gen));
    Tensor labels({batch}, i64);
    for (int64_t i = 0; i < batch; ++i) labels.data<int64_t>()[i] = i % 10;

    const double first_loss = train_step(net, sgd, images, labels);
    train_step(net, sgd, images, labels);
    const MemoryStats before = memory_stats();
    const double third_loss = train_step(net, sgd, images, labels);
    const MemoryStats after = memory_stats();

    CHECK(third_loss < first_loss);  // it did train
    CHECK(after.system_allocations == before.system_allocations);
    CHECK(after.reuses >= before.reuses + 15);         // every activation and gradient (20) was one
    CHECK(after.bytes_in_use == before.bytes_in_use);  // and the step freed what it made
}
