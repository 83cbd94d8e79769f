#include <doctest/doctest.h>

#include <cmath>

#include <nalgrad/nalgrad.hpp>

using namespace nalgrad;

TEST_CASE("dropout zeroes about p of the elements and scales the rest by 1 / (1 - p)") {
    for (DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Generator gen(11);
        const int64_t n = 200000;
        const double p = 0.3;
        Var y = dropout(ones({n}, dtype), p, gen);
        int64_t dropped = 0, other = 0;
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double v = y.value().at(i);
            sum += v;
            if (v == 0)
                ++dropped;
            else if (v != static_cast<double>(dtype == f32 ? float(1 / (1 - p)) : 1 / (1 - p)))
                ++other;
        }
        CHECK(other == 0);
        // Binomial standard deviation sqrt(p (1 - p) / n) ~ 0.001: 0.006 is six of them.
        CHECK(static_cast<double>(dropped) / n == doctest::Approx(p).epsilon(0.02));
        CHECK(sum / n == doctest::Approx(1.0).epsilon(0.01));  // the mean is preserved
    }
}

TEST_CASE("dropout's gradient multiplies by the same mask") {
    Generator gen(3);
    Var x = requires_grad(normal({4, 5, 6}, f64, gen));
    Var y = dropout(x, 0.5, gen);
    Tensor seed = normal({4, 5, 6}, f64, gen);
    y.backward(seed);
    int64_t kept = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
        const bool is_kept = y.value().at(i) != 0;
        kept += is_kept;
        const double mask = is_kept ? 2.0 : 0.0;
        CHECK(y.value().at(i) == x.value().at(i) * mask);
        CHECK(x.grad().at(i) == seed.at(i) * mask);
    }
    CHECK(kept > 0);
    CHECK(kept < x.numel());
    // A fresh generator per call gives the same mask each time gradcheck evaluates the function.
    auto report = gradcheck(
        [](const std::vector<Var>& in) {
            Generator g(7);
            return dropout(in[0], 0.25, g);
        },
        {requires_grad(x.detach().value())});
    CHECK_MESSAGE(report.passed, fmt::format("{}", report));
}

TEST_CASE("the same seed gives the same mask, whatever the thread count") {
    const Tensor x = ones({100003}, f32);
    const int threads = get_num_threads();
    Generator a(42), b(42), c(43);
    set_num_threads(1);
    Tensor serial = dropout(x, 0.5, a).value();
    set_num_threads(2);
    Tensor parallel = dropout(x, 0.5, b).value();
    set_num_threads(threads);
    CHECK(equal(serial, parallel));
    CHECK_FALSE(equal(serial, dropout(x, 0.5, c).value()));
    // The generator advances: a second call draws a new mask.
    CHECK_FALSE(equal(serial, dropout(x, 0.5, a).value()));
}

TEST_CASE("dropout is the identity in evaluation mode and for p = 0") {
    Generator gen(1);
    Var x = requires_grad(normal({3, 4}, f32, gen));
    Generator before = gen;
    Var eval = dropout(x, 0.5, gen, false);
    Var none = dropout(x, 0.0, gen);
    CHECK(eval.same_as(x));
    CHECK(none.same_as(x));
    CHECK(gen.next_u64() == before.next_u64());  // neither call draws a random number
}

TEST_CASE("dropout refuses p outside [0, 1) and integer tensors") {
    Generator gen(1);
    Var x = zeros({2, 3}, f32);
    CHECK_THROWS_WITH_AS(dropout(x, 1.0, gen),
                         doctest::Contains("dropout: p must be in [0, 1), got 1 (x is [2, 3])"),
                         Error);
    CHECK_THROWS_WITH_AS(dropout(x, -0.1, gen), doctest::Contains("p must be in [0, 1)"), Error);
    CHECK_THROWS_WITH_AS(dropout(x, NAN, gen), doctest::Contains("p must be in [0, 1)"), Error);
    CHECK_THROWS_WITH_AS(dropout(x, 1.0, gen, false), doctest::Contains("p must be in [0, 1)"),
                         Error);
    CHECK_THROWS_WITH_AS(dropout(Var(zeros({2}, i64)), 0.5, gen),
                         doctest::Contains("dropout: x must be f32 or f64, got i64 [2]"), Error);
}
