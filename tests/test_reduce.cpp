#include <doctest/doctest.h>

#include <cmath>

#include <fmt/ranges.h>
#include <nalgrad/nalgrad.hpp>

#include "core/kernels/reduce.hpp"
#include "support/gradients.hpp"

using namespace nalgrad;
using nalgrad::testing::check_gradients;
using nalgrad::testing::random_input;
using nalgrad::testing::values;

namespace {}  // namespace

TEST_CASE("sum and mean over everything and over axes, with and without keepdims") {
    Var x = arange(6, f64).reshape({2, 3});  // [[0, 1, 2], [3, 4, 5]]
    CHECK(sum(x).shape() == Shape{});
    CHECK(sum(x).item() == 15);
    CHECK(mean(x).item() == 2.5);
    CHECK(values(sum(x, {0})) == std::vector<double>{3, 5, 7});
    CHECK(values(sum(x, {-1})) == std::vector<double>{3, 12});
    CHECK(sum(x, {1}).shape() == Shape{2});
    CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
    CHECK(sum(x, {0}, true).shape() == Shape{1, 3});
    CHECK(values(mean(x, {1})) == std::vector<double>{1, 4});
    CHECK(values(mean(x, {0}, true)) == std::vector<double>{1.5, 2.5, 3.5});
    CHECK(sum(x, {0, 1}).shape() == Shape{});
    CHECK(sum(x, {1, 0}, true).shape() == Shape{1, 1});
    Var y = arange(24, f64).reshape({2, 3, 4});
    CHECK(values(sum(y, {0, 2})) == std::vector<double>{60, 92, 124});
    CHECK(values(sum(y, {1})) == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
    CHECK(values(mean(y, {-3, -1}, true)) == std::vector<double>{7.5, 11.5, 15.5});
    CHECK(sum(Var(scalar(4, f64))).item() == 4);
    // Sums over nothing are 0, means NaN (as in numpy); no crash.
    Var empty = zeros({0, 3}, f64);
    CHECK(values(sum(empty, {0})) == std::vector<double>{0, 0, 0});
    CHECK(sum(empty, {1}).shape() == Shape{0});
    CHECK(std::isnan(mean(empty).item()));
}

TEST_CASE("gradient of sum and mean spreads the output gradient back") {
    Var x = requires_grad(arange(6, f64).reshape({2, 3}));
    mean(x, {1}).backward(tensor({3, 6}, {2}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{1, 1, 1, 2, 2, 2});
    x.zero_grad();
    sum(x, {0}, true).backward(tensor({1, 2, 3}, {1, 3}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{1, 2, 3, 1, 2, 3});
}

TEST_CASE("gradcheck: sum and mean over axes, negative axes, keepdims") {
    Generator gen(21);
    const std::vector<std::vector<int>> axes_cases = {{0},    {1},      {2},      {-1},
                                                      {0, 2}, {-3, -2}, {0, 1, 2}};
    for (const auto& axes : axes_cases)
        for (bool keepdims : {false, true}) {
            Var x = random_input({2, 3, 4}, gen);
            check_gradients(fmt::format("sum {} keepdims {}", axes, keepdims),
                            [&](const std::vector<Var>& in) { return sum(in[0], axes, keepdims); },
                            {x});
            check_gradients(fmt::format("mean {} keepdims {}", axes, keepdims),
                            [&](const std::vector<Var>& in) { return mean(in[0], axes, keepdims); },
                            {x});
        }
    Var x = random_input({3, 1, 2}, gen);
    check_gradients("sum all", [](const std::vector<Var>& in) { return sum(in[0]); }, {x});
    check_gradients("mean all", [](const std::vector<Var>& in) { return mean(in[0]); }, {x});
    check_gradients("mean over an extent-1 axis",
                    [](const std::vector<Var>& in) { return mean(in[0], {1}); }, {x});
}

TEST_CASE("bad axes throw") {
    Var x = zeros({2, 3}, f64);
    CHECK_THROWS_WITH_AS(sum(x, {2}),
                         doctest::Contains("sum: axis 2 is out of range for shape [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(mean(x, {-3}), doctest::Contains("mean: axis -3 is out of range"), Error);
    CHECK_THROWS_WITH_AS(sum(x, {1, -1}), doctest::Contains("axis -1 is given twice"), Error);
    // (A literal `sum(x, {})` does not compile: {} could be the axes or the call's location.)
    const std::vector<int> no_axes;
    CHECK_THROWS_WITH_AS(sum(x, no_axes), doctest::Contains("no axes given"), Error);
    CHECK_THROWS_WITH_AS(sum(Var(zeros({2}, i64))),
                         doctest::Contains("sum: x must be f32 or f64, got i64 [2]"), Error);
}

TEST_CASE("sum_to reduces a broadcast result back to its operand's shape") {
    Tensor x = arange(6, f64).reshape({2, 3});
    CHECK(kernels::sum_to(x, {3}).to_vector() == std::vector<double>{3, 5, 7});
    CHECK(kernels::sum_to(x, {2, 1}).to_vector() == std::vector<double>{3, 12});
    CHECK(kernels::sum_to(x, {1, 3}).shape() == Shape{1, 3});
    CHECK(kernels::sum_to(x, {}).item() == 15);
    CHECK(kernels::sum_to(x, {1}).to_vector() == std::vector<double>{15});
    CHECK(kernels::sum_to(x, {2, 3}).shares_storage_with(x));
    CHECK_THROWS_WITH_AS(kernels::sum_to(x, {2}), doctest::Contains("sum_to"), Error);
    CHECK_THROWS_WITH_AS(kernels::sum_to(x, {1, 2, 3}),
                         doctest::Contains("cannot sum [2, 3] down to"), Error);
}

TEST_CASE("large sums match a plain double loop and do not depend on the thread count") {
    Generator gen(22);
    Tensor x = normal({64, 33, 40}, f64, gen);
    // Patterns: leading axes summed (a bias gradient), middle summed, trailing summed, all.
    const std::vector<std::vector<bool>> patterns = {{true, true, false},
                                                     {false, true, false},
                                                     {false, false, true},
                                                     {true, false, true},
                                                     {true, true, true}};
    for (const auto& reduced : patterns) {
        set_num_threads(2);
        Tensor two = kernels::sum_keepdims(x, reduced);
        set_num_threads(1);
        Tensor one = kernels::sum_keepdims(x, reduced);
        set_num_threads(2);
        CHECK(equal(one, two));
        Tensor expected = zeros(two.shape(), f64);
        for (int64_t i = 0; i < 64; ++i)
            for (int64_t j = 0; j < 33; ++j)
                for (int64_t k = 0; k < 40; ++k) {
                    int64_t o =
                        ((reduced[0] ? 0 : i) * (reduced[1] ? 1 : 33) + (reduced[1] ? 0 : j)) *
                            (reduced[2] ? 1 : 40) +
                        (reduced[2] ? 0 : k);
                    expected.data<double>()[o] += x.at((i * 33 + j) * 40 + k);
                }
        CHECK(max_abs_diff(two, expected) < 1e-9);
        Tensor f32_sum = kernels::sum_keepdims(x.astype(f32), reduced);
        CHECK(max_abs_diff(f32_sum, expected) < 2e-3);
    }
}
