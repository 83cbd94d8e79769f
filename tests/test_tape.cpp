#include <doctest/doctest.h>

#include <thread>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"

using namespace nalgrad;

namespace {
// A test-only op with a deliberately wrong gradient (dx = 2 dy instead of dy): the negative
// control that gradcheck must reject.
Var wrong_identity(const Var& x) {
    return record("wrong_identity", SourceLocation::current(), x.value().clone(), {x},
                  [](const Grads& dy, const Needed&) -> Grads {
                      Tensor g = dy[0].clone();
                      for (int64_t i = 0; i < g.numel(); ++i) g.data<double>()[i] *= 2;
                      return {g};
                  });
}
}  // namespace

TEST_CASE("relu backward sends the seed through positive outputs only") {
    Var x = requires_grad(tensor({-1, 2, 0, 3}, {4}, f64));
    Var y = relu(x);
    y.backward(tensor({10, 20, 30, 40}, {4}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{0, 20, 0, 40});
}

TEST_CASE("a variable used twice receives both contributions, and grads accumulate across calls") {
    Var x = requires_grad(tensor({1, -2}, {2}, f64));
    Var a = relu(x);
    Var b = relu(a);  // b depends on x through a; a also feeds c
    Var c = relu(a);
    b.backward(tensor({1, 1}, {2}, f64), {.retain_graph = true});
    c.backward(tensor({2, 2}, {2}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{3, 0});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("backward on a non-scalar needs a seed; a freed tape is a clear error") {
    Var x = requires_grad(tensor({1, 2}, {2}, f64));
    Var y = relu(x);
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("non-scalar needs an explicit seed"),
                         Error);
    y.backward(ones({2}, f64));
    CHECK_THROWS_WITH_AS(y.backward(ones({2}, f64)),
                         doctest::Contains("freed by an earlier backward"), Error);
    CHECK_THROWS_WITH_AS(y.backward(ones({3}, f64)), doctest::Contains("seed gradient is f64 [3]"),
                         Error);
}

TEST_CASE("no_grad records nothing; detach cuts the tape; constants need no gradient") {
    Var x = requires_grad(tensor({1, 2}, {2}, f64));
    {
        NoGradGuard guard;
        Var y = relu(x);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.is_leaf());
    }
    Var d = relu(x).detach();
    CHECK(d.is_leaf());
    CHECK_FALSE(d.requires_grad());
    Var c = relu(Var(tensor({1}, {1})));
    CHECK_FALSE(c.requires_grad());
    CHECK_THROWS_WITH_AS(c.backward(), doctest::Contains("does not require a gradient"), Error);
}

TEST_CASE("a chain of 100,000 ops runs backward and is destroyed without recursion") {
    Var x = requires_grad(tensor({2.0}, {1}, f64));
    Var y = x;
    for (int i = 0; i < 100000; ++i) y = relu(y);
    y.backward();
    CHECK(x.grad().item() == 1.0);
    y = Var();  // destroying the chain must not overflow the stack
    CHECK(tape_size() == 0);
}

TEST_CASE("unused records die with their outputs; the tape does not grow without bound") {
    Var x = requires_grad(tensor({1.0}, {1}, f64));
    for (int i = 0; i < 5000; ++i) Var y = relu(x);
    CHECK(tape_size() == 0);
}

TEST_CASE("gradcheck passes a correct op and rejects a wrong gradient") {
    Generator gen(3);
    Var x = requires_grad(normal({5}, f64, gen));
    auto good = gradcheck([](const std::vector<Var>& in) { return relu(in[0]); }, {x});
    CHECK_MESSAGE(good.passed, fmt::format("{}", good));
    auto bad = gradcheck([](const std::vector<Var>& in) { return wrong_identity(in[0]); }, {x});
    CHECK_FALSE(bad.passed);
    CHECK(bad.inputs[0].max_abs_error == doctest::Approx(1.0));
    auto bad_fast = gradcheck([](const std::vector<Var>& in) { return wrong_identity(in[0]); }, {x},
                              {.fast = true});
    CHECK_FALSE(bad_fast.passed);
    CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Var>& in) { return relu(in[0]); },
                                   {requires_grad(normal({2}, f32, gen))}),
                         doctest::Contains("needs float64 inputs"), Error);
}

TEST_CASE("gradcheck refuses a check where both Jacobians are zero") {
    Var x = requires_grad(tensor({-1, -2}, {2}, f64));
    auto r = gradcheck([](const std::vector<Var>& in) { return relu(in[0]); }, {x});
    CHECK_FALSE(r.passed);
    CHECK(fmt::format("{}", r).find("proves nothing") != std::string::npos);
}

TEST_CASE("to_dot writes each op once with shapes and edges") {
    Var x = requires_grad(tensor({1, -2, 3}, {3}, f64));
    Var a = relu(x);
    Var b = relu(a);
    std::string dot = to_dot(b);
    CHECK(dot.rfind("digraph nalgrad {", 0) == 0);
    CHECK(dot.find("param\\nf64 [3]") != std::string::npos);
    // two relu boxes, one leaf, two edges
    auto count = [&](const std::string& s) {
        std::size_t n = 0;
        for (auto p = dot.find(s); p != std::string::npos; p = dot.find(s, p + 1)) ++n;
        return n;
    };
    CHECK(count("label=\"relu") == 2);
    CHECK(count(" -> ") == 2);
}

TEST_CASE("an input changed in place between forward and backward is an error, not a wrong grad") {
    Var x = requires_grad(tensor({1, 2}, {2}, f64));
    Var y = relu(x);
    Tensor value = x.value();
    value.fill_(3);  // what an optimizer step does to a parameter
    CHECK_THROWS_WITH_AS(y.backward(ones({2}, f64)), doctest::Contains("was modified in place"),
                         Error);
}

// Records hold their inputs' nodes, not their values: an op's output that no handle reaches and
// no other tensor shares is released, as PyTorch frees an intermediate no gradient saved.
TEST_CASE(
    "an op's output no handle reaches is released; a handle, a view or a saving op keeps it") {
    const int64_t n = 100000;  // 800 kB per f64 tensor: the allocator's figures show each one
    Var x = requires_grad(full({n}, 0.5, f64));
    const auto in_use = [] { return static_cast<int64_t>(memory_stats().bytes_in_use); };

    // a kept by its handle: a and relu(a) both in use
    int64_t before = in_use();
    Var a = x + x;
    Var kept = relu(a);
    const int64_t two_tensors = in_use() - before;
    CHECK(two_tensors >= 2 * n * 8);
    // the handle gone: relu saved its output, not its input, so a's value goes
    before = in_use();
    a = Var();
    const int64_t one_tensor = before - in_use();
    CHECK(one_tensor >= n * 8);
    CHECK(one_tensor < two_tensors);

    // a temporary: released as soon as the expression ends
    before = in_use();
    Var y = relu(x + x);
    CHECK(in_use() - before == one_tensor);

    // a view of it shares its storage: kept (no memory is lost by keeping it)
    before = in_use();
    Var r = relu(reshape(x + x, {n / 10, 10}));
    CHECK(in_use() - before == two_tensors);

    // the released nodes' shapes come from their records; gradients are unchanged
    const std::string dot = to_dot(y);
    CHECK(dot.find("label=\"add\\nf64 [100000]") != std::string::npos);
    (sum(y) + sum(kept) + sum(r)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>(n, 6.0));

    // backward twice through a released input (retain_graph): the same gradient twice
    Var twice = relu(x + x);
    x.zero_grad();
    twice.backward(ones({n}, f64), {.retain_graph = true});
    twice.backward(ones({n}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>(n, 4.0));

    // the last handle dropped on another thread: kept (this thread's backward may be reading it)
    Var c = x + x;
    Var from_c = relu(c);
    before = in_use();
    std::thread([handle = std::move(c)]() mutable { handle = Var(); }).join();
    CHECK(in_use() == before);

    // an input the user can still reach is checked for in-place changes as before
    Var b = x + x;
    Var z = relu(b);
    Tensor b_value = b.value();
    b_value.fill_(-1);
    CHECK_THROWS_WITH_AS(z.backward(ones({n}, f64)), doctest::Contains("was modified in place"),
                         Error);
}
