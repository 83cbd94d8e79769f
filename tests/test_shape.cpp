#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/gradients.hpp"

using namespace nalgrad;
using nalgrad::testing::check_gradients;
using nalgrad::testing::random_input;

TEST_CASE("reshape is a view, with -1 inferred, and its gradient takes the input's shape") {
    Var x = requires_grad(arange(12, f64).reshape({3, 4}));
    Var y = reshape(x, {2, -1});
    CHECK(y.shape() == Shape{2, 6});
    CHECK(y.value().shares_storage_with(x.value()));
    y.backward(arange(12, f64).reshape({2, 6}));
    CHECK(x.grad().shape() == Shape{3, 4});
    CHECK(x.grad().at(7) == 7);
    CHECK_THROWS_WITH_AS(reshape(x, {5, -1}), doctest::Contains("reshape: cannot infer -1"), Error);
    CHECK_THROWS_WITH_AS(reshape(x, {5, 2}), doctest::Contains("target [5, 2] has 10"), Error);
}

TEST_CASE("flatten keeps the batch axis") {
    Var x = zeros({2, 3, 4, 5}, f64);
    CHECK(flatten(x).shape() == Shape{2, 60});
    CHECK(flatten(Var(zeros({7}, f64))).shape() == Shape{7, 1});
    CHECK(flatten(Var(zeros({0, 3, 2}, f64))).shape() == Shape{0, 6});
    CHECK_THROWS_WITH_AS(flatten(Var(scalar(1, f64))),
                         doctest::Contains("flatten: x needs a batch axis, got a scalar"), Error);
}

TEST_CASE("transpose swaps rows and columns, also beyond one cache tile") {
    Var x = arange(6, f64).reshape({2, 3});
    Var t = transpose(x);
    CHECK(t.shape() == Shape{3, 2});
    CHECK(t.value().to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
    Tensor big = arange(70 * 45, f32).reshape({70, 45});
    Var bt = transpose(Var(big));
    CHECK(bt.shape() == Shape{45, 70});
    bool all_match = true;
    for (int64_t r = 0; r < 70; ++r)
        for (int64_t c = 0; c < 45; ++c)
            all_match = all_match && bt.value().at(c * 70 + r) == big.at(r * 45 + c);
    CHECK(all_match);
    CHECK_THROWS_WITH_AS(transpose(Var(zeros({2, 3, 4}, f64))),
                         doctest::Contains("transpose: x must be 2-D, got shape [2, 3, 4]"), Error);
}

TEST_CASE("gradcheck: reshape, flatten, transpose") {
    Generator gen(31);
    Var x = random_input({2, 3, 2}, gen);
    check_gradients("reshape",
                    [](const std::vector<Var>& in) {
                        return reshape(in[0], {3, -1});
                    },
                    {x});
    check_gradients("flatten", [](const std::vector<Var>& in) { return flatten(in[0]); }, {x});
    Var m = random_input({3, 5}, gen);
    check_gradients("transpose", [](const std::vector<Var>& in) { return transpose(in[0]); }, {m});
    // Shape ops inside arithmetic: x^T * row broadcast, then a reshape.
    Var row = random_input({3}, gen);
    check_gradients(
        "transpose then broadcast",
        [](const std::vector<Var>& in) { return reshape(transpose(in[0]) * in[1], {-1}); },
        {m, row});
}
