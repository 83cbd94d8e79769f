// The threading rule (docs/design.md): each thread has its own tape, so backward() on a thread
// that did not record the graph is refused with a nalgrad::Error and changes nothing; threads
// back-propagating through one shared leaf (a shared weight) add into its gradient exactly.
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"

using namespace nalgrad;
using nalgrad::testing::error_of;

namespace {

// The message of what `f` throws when run on a thread of its own.
template <typename F>
std::string error_on_other_thread(F&& f) {
    std::string message;
    std::thread worker([&] { message = error_of(f); });
    worker.join();
    return message;
}

}  // namespace

TEST_CASE("backward on another thread than the recording one is refused and changes nothing") {
    for (DType d : {f32, f64}) {
        Var x = requires_grad(ones({2}, d));
        const Var loss = sum(x * 2.0);
        const std::string e = error_on_other_thread([&] { loss.backward(); });
        CHECK(e.find("backward: the variable's op 'sum'") == 0);
        CHECK(e.find("was recorded on another thread; each thread has its own tape") !=
              std::string::npos);
        CHECK_FALSE(x.grad().defined());
        // The recording thread's backward then gives the gradient once, not twice.
        loss.backward();
        CHECK(x.grad().to_vector() == std::vector<double>{2, 2});
    }
}

TEST_CASE("a graph that continues on another thread is refused there, before any gradient") {
    Var x = requires_grad(ones({3}, f64));
    Var w = requires_grad(full({3}, 2.0, f64));
    const Var y = x * 3.0;  // recorded on this thread
    std::string e;
    std::thread worker([&] {
        const Var loss = sum(w * 5.0) + sum(y * w);  // recorded on the worker's tape
        e = error_of([&] { loss.backward(); });
    });
    worker.join();
    CHECK(e.find("backward: input 0 of 'mul' comes from 'mul' (tape record #") == 0);
    CHECK(e.find("was recorded on another thread") != std::string::npos);
    CHECK_FALSE(w.grad().defined());
    CHECK_FALSE(x.grad().defined());
    sum(y).backward();  // this thread's part still works
    CHECK(x.grad().to_vector() == std::vector<double>{3, 3, 3});
}

TEST_CASE("threads back-propagating into one shared leaf lose no update") {
    constexpr int rounds = 3, calls = 20000;
    for (int round = 0; round < rounds; ++round) {
        Var w = requires_grad(zeros({4}, f64));
        auto work = [&](double scale) {
            const Var input(full({4}, scale, f64));
            for (int i = 0; i < calls; ++i) sum(w * input).backward();
        };
        std::thread a(work, 1.0), b(work, 2.0);
        a.join();
        b.join();
        INFO("round ", round);
        CHECK(w.grad().to_vector() == std::vector<double>(4, 3.0 * calls));
    }
}

TEST_CASE("threads training their own graphs on a shared leaf match the serial sum") {
    Generator gen(9);
    const Tensor start = normal({3, 3, 1, 2}, f32, gen);
    const Tensor image = normal({2, 6, 6, 1}, f32, gen);
    auto gradient_of = [&](const Var& k) {
        sum(relu(conv2d(Var(image), k, {}, {.padding = same}))).backward();
    };
    Var serial = requires_grad(start.clone());
    for (int i = 0; i < 8; ++i) gradient_of(serial);
    Var shared = requires_grad(start.clone());
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < 4; ++i) gradient_of(shared);
        });
    for (std::thread& t : workers) t.join();
    // Eight equal contributions, added in another order: equal up to float rounding.
    CHECK(max_abs_diff(shared.grad(), serial.grad()) < 1e-4);
}
