// The tape's own heap allocations, counted: this executable replaces the global operator new with
// one that counts the calls made on the calling thread (other threads, oneDNN's and TBB's, do not
// disturb the count). The ops here are test ops whose forward returns a preallocated tensor and
// whose gradient passes dy on, so that every allocation left is the tape's: nodes, records, their
// lists, the gradient functions, the gradient lists and the sweep's work lists.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"

#include "core/block_pool.hpp"
#include "support/counting_new.hpp"

using namespace nalgrad;

namespace {

// y = x, with y a tensor made beforehand: the forward allocates no storage.
Var pass(const Var& x, const Tensor& y) {
    return record("pass", SourceLocation::current(), y, {x},
                  [](const Grads& dy, const Needed&) -> Grads { return {dy[0]}; });
}

// y = x; two more inputs that want no gradient, and a capture as large as conv2d_relu's (three
// tensors and a window), so the record's lists and the gradient function's buffer are full.
Var pass_with_baggage(const Var& x, const Var& b, const Var& c, const Tensor& y) {
    const Window2d window{};
    return record("pass_with_baggage", SourceLocation::current(), y, {x, b, c},
                  [kept_b = b.value(), kept_c = c.value(), kept_y = y, window](
                      const Grads& dy, const Needed& needed) -> Grads {
                      Grads g(needed.size());
                      if (needed[0]) g[0] = dy[0];
                      return g;
                  });
}

// Allocations on this thread while `run` runs.
template <typename Run>
uint64_t allocations_of(Run&& run) {
    const uint64_t before = news_on_this_thread;
    run();
    return news_on_this_thread - before;
}

}  // namespace

TEST_CASE("after a first step, recording, backward and release allocate nothing but the seed") {
    const Tensor seed = ones({1}, f64);
    const Tensor value = ones({1}, f64);
    const Var b(ones({1}, f64)), c(ones({1}, f64));
    Var x = requires_grad(value);
    const auto step = [&] {
        Var h = x;
        for (int i = 0; i < 50; ++i) h = pass_with_baggage(pass(h, value), b, c, value);
        h.backward(seed);  // the sweep clones the seed into the root's gradient
        h = Var();
        x.zero_grad();
    };
    step();
    step();
    // What the one allocation left costs, whatever tensor storage does.
    const uint64_t seed_clone = allocations_of([&] { Tensor copy = seed.clone(); });
    CHECK(allocations_of(step) == seed_clone);
    CHECK(tape_size() == 0);
}

TEST_CASE("the gradient lists and BackwardFn keep small contents inline") {
    const Tensor t = ones({1}, f64);
    bool emptied = false;
    std::size_t returned = 0;
    const uint64_t n = allocations_of([&] {
        Grads g(3);
        g[1] = t;
        Grads moved = std::move(g);
        const Needed needed{true, false, true};
        BackwardFn fn = [t](const Grads& dy, const Needed&) -> Grads { return {dy[1], t}; };
        BackwardFn other = std::move(fn);
        emptied = !fn;
        returned = other(moved, needed).size();
    });
    CHECK(n == 0);
    CHECK(emptied);
    CHECK(returned == 2);
    // Past its inline capacity a list moves to the heap and keeps working.
    Grads many;
    for (int i = 0; i < 5; ++i) many.push_back(scalar(i, f64));
    CHECK(many.size() == 5);
    CHECK(many[4].item() == 4.0);
    Grads copy = many;
    const Grads moved = std::move(many);
    CHECK(copy.size() == 5);
    CHECK(moved[4].item() == 4.0);
    CHECK(many.empty());  // NOLINT: a moved-from list is empty
    copy = moved;
    copy.resize(2);
    CHECK(copy[1].item() == 1.0);
}

TEST_CASE("a released node's block is the next node's") {
    const Tensor value = ones({1}, f64);
    const void* first = node_of(Var(value)).get();
    const Var second(value);
    CHECK(node_of(second).get() == first);
}

TEST_CASE("variables made on one thread and destroyed on another (and after it ended) are fine") {
    const Tensor value = ones({1}, f64);
    // A producer thread (a data loader) makes variables that this thread drops.
    const auto produce = [&value](std::vector<Var>& into) {
        into.reserve(20000);  // first: only the nodes are counted
        return allocations_of([&] {
            for (int i = 0; i < 20000; ++i) into.emplace_back(value);
        });
    };
    std::vector<Var> made_there;
    std::thread([&] { produce(made_there); }).join();
    made_there.clear();
    // This thread keeps at most two magazines of 2048 blocks of a size; the rest went to the
    // shared lists. (Two sizes are in use in this executable: nodes and records.)
    const std::size_t kept_here = detail::pool_blocks_cached_on_this_thread();
    CHECK(kept_here <= 2 * 4096);
    made_there = {};
    uint64_t second_round = 0;
    std::thread([&] { second_round = produce(made_there); }).join();
    // The second producer took the blocks its predecessor's variables left, through the shared
    // lists: it asked the heap only for those this thread kept.
    CHECK(second_round <= kept_here);
    CHECK(second_round < 20000 / 4);
    made_there.clear();

    // And the other way: made here, the last handle dropped on a thread that then ends.
    Var x = requires_grad(value);
    Var h = x;
    for (int i = 0; i < 1000; ++i) h = pass(h, value);
    std::thread([chain = std::move(h)]() mutable { chain = Var(); }).join();
    CHECK(tape_size() == 0);
}

TEST_CASE("a gradient function larger than the inline buffer works when wrapped in BackwardFn") {
    std::array<double, 64> big{};  // 512 bytes: more than BackwardFn::inline_size
    big.back() = 3;
    const auto gradient = [big](const Grads& dy, const Needed&) -> Grads {
        return {full(dy[0].shape(), big.back(), f64)};
    };
    static_assert(!BackwardFn::fits_inline<decltype(gradient)>);
    Var x = requires_grad(ones({1}, f64));
    // record(op, where, y, inputs, gradient) would not compile: the wrapping says "on the heap".
    Var y = record("big", SourceLocation::current(), x.value().clone(), {x}, BackwardFn(gradient));
    y.backward();
    CHECK(x.grad().item() == 3.0);
}

namespace {

// A small CNN of every kind of op the example trains, in float64: the project's own kernels, so
// nothing of oneDNN runs and every allocation counted here is nalgrad's.
struct SmallCnn {
    LayerInit init{f64, nullptr};
    Conv2d conv{1, 4, {3, 3}, {.padding = same}, init};
    Dense fc1{4 * 4 * 4, 16, init};
    Dense fc2{16, 3, init};

    Var operator()(const Var& x) const {
        Var h = max_pool2d(relu(conv(x)), {.kernel = 2, .stride = 2});
        return fc2(relu(fc1(flatten(h))));
    }
    NALGRAD_MODULE(conv, fc1, fc2)
};

}  // namespace

TEST_CASE(
    "a whole float64 training step (conv+relu, pool, dense, loss, SGD) allocates nothing "
    "once warm") {
    set_num_threads(1);  // TBB's workers allocate on their own threads; keep every step here
    manual_seed(3);
    SmallCnn model;
    optim::SGD sgd(model.parameters(), {.lr = 0.05, .momentum = 0.9});
    Generator gen(4);
    const Tensor images = uniform({4, 8, 8, 1}, 0, 1, f64, gen);
    const Tensor labels = tensor({0, 1, 2, 1}, {4}, i64);
    auto step = [&] {
        sgd.zero_grad();
        Var loss = softmax_cross_entropy(model(Var(images)), labels);
        loss.backward();
        sgd.step();
        return loss.item();
    };
    const double first = step();
    for (int i = 0; i < 3; ++i) step();  // caches, pools and the optimizer's state fill up
    const uint64_t before = news_on_this_thread;
    const double later = step();
    CHECK(news_on_this_thread - before == 0);
    CHECK(later < first);  // the step trained: the allocation count is of real work
    set_num_threads(get_num_threads());
}
