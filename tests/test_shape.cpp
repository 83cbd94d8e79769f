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

TEST_CASE("concat joins along an axis; each part's gradient is its slice of dy") {
    for (const DType dtype : {f32, f64}) {
        // [1, 2, 1, 2] and [1, 2, 1, 1] along the channels: rows [a0 a1 b0], [a2 a3 b1].
        Var a = requires_grad(tensor({1.0, 2.0, 3.0, 4.0}, {1, 2, 1, 2}, dtype));
        Var b = requires_grad(tensor({5.0, 6.0}, {1, 2, 1, 1}, dtype));
        Var y = concat({a, b}, -1);
        CHECK(y.shape() == Shape{1, 2, 1, 3});
        CHECK(y.value().to_vector() == std::vector<double>{1, 2, 5, 3, 4, 6});
        y.backward(tensor({10.0, 20.0, 30.0, 40.0, 50.0, 60.0}, {1, 2, 1, 3}, dtype));
        CHECK(a.grad().to_vector() == std::vector<double>{10, 20, 40, 50});
        CHECK(b.grad().to_vector() == std::vector<double>{30, 60});
    }
    // Along the batch, five parts, one of them twice: its gradient is the sum of both slices.
    Var p = requires_grad(tensor({1.0, 2.0}, {1, 2}, f64));
    Var q = requires_grad(tensor({3.0, 4.0, 5.0, 6.0}, {2, 2}, f64));
    Var y = concat({p, q, p, Var(tensor({7.0, 8.0}, {1, 2}, f64)), q}, 0);
    CHECK(y.shape() == Shape{7, 2});
    CHECK(y.value().to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6, 1, 2, 7, 8, 3, 4, 5, 6});
    y.backward(arange(14, f64).reshape({7, 2}));
    CHECK(p.grad().to_vector() == std::vector<double>{0 + 6, 1 + 7});
    CHECK(q.grad().to_vector() == std::vector<double>{2 + 10, 3 + 11, 4 + 12, 5 + 13});
}

TEST_CASE("concat: gradcheck along every NHWC axis") {
    Generator gen(5);
    for (int axis : {0, 1, 2, 3}) {
        Shape s1{2, 3, 2, 2}, s2{2, 3, 2, 2};
        s2[axis] = 1;
        check_gradients("concat", [axis](const std::vector<Var>& v) { return concat(v, axis); },
                        {random_input(s1, gen), random_input(s2, gen), random_input(s1, gen)});
    }
}

TEST_CASE("concat refuses no parts, mixed dtypes, other extents and an axis out of range") {
    const Var a(zeros({2, 3}, f32)), b(zeros({2, 4}, f32));
    CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("concat: no parts given"), Error);
    CHECK_THROWS_WITH_AS(concat({a, Var(zeros({2, 3}, f64))}, 0),
                         doctest::Contains("concat: parts[1] is f64 [2, 3] but parts[0] is f32"),
                         Error);
    CHECK_THROWS_WITH_AS(concat({a, b}, 0),
                         doctest::Contains("concat: parts[1] is [2, 4] and parts[0] is [2, 3]: "
                                           "every extent but axis 0 must agree"),
                         Error);
    CHECK(concat({a, b}, 1).shape() == Shape{2, 7});
    CHECK_THROWS_WITH_AS(concat({a, b}, 2),
                         doctest::Contains("concat: axis 2 is out of range for parts[0] of shape "
                                           "[2, 3]"),
                         Error);
    CHECK_THROWS_WITH_AS(concat({a, Var(zeros({2}, f32))}, 0),
                         doctest::Contains("concat: parts[1] is [2] and parts[0] is [2, 3]"),
                         Error);
    CHECK_THROWS_WITH_AS(concat({a, Var{}}, 0), doctest::Contains("concat: parts[1] is undefined"),
                         Error);
}
