// The NaN rule (docs/semantics.md): NaN in, NaN out, for every op, in both dtypes and on both the
// oneDNN and the own-loop paths; an output holds NaN exactly where PyTorch's does, and
// DetectAnomaly then names the op. Max pooling sends the gradient to the NaN.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"

using namespace nalgrad;

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();

// The flat indices where t holds NaN.
std::vector<int64_t> nan_positions(const Tensor& t) {
    std::vector<int64_t> where;
    for (int64_t i = 0; i < t.numel(); ++i)
        if (std::isnan(t.at(i))) where.push_back(i);
    return where;
}

// Uniform values in [-1, 1) with NaN at the flat indices `at`.
Tensor with_nan(Shape shape, DType d, std::vector<int64_t> at) {
    Generator gen(11);
    Tensor t = uniform(shape, -1, 1, f64, gen);
    for (int64_t i : at) t.data<double>()[i] = not_a_number;
    return t.astype(d);
}

}  // namespace

TEST_CASE("max_pool2d: a NaN wins its window, an all-NaN window gives NaN, -Inf stays -Inf") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        const Var a(tensor({not_a_number, 1, 2, 3}, {1, 2, 2, 1}, d));
        CHECK(std::isnan(max_pool2d(a, {.kernel = 2}).item()));
        const Var b(
            tensor({not_a_number, not_a_number, not_a_number, not_a_number}, {1, 2, 2, 1}, d));
        CHECK(std::isnan(max_pool2d(b, {.kernel = 2}).item()));
        const Var c(tensor({3, 1, 2, not_a_number}, {1, 2, 2, 1}, d));  // NaN last in window order
        CHECK(std::isnan(max_pool2d(c, {.kernel = 2}).item()));
        const Var m(tensor({-infinity, -infinity, -infinity, -infinity}, {1, 2, 2, 1}, d));
        CHECK(max_pool2d(m, {.kernel = 2}).item() == -infinity);
        // Overlapping windows, several channels: NaN exactly in the windows that hold it.
        const Tensor x = with_nan({2, 5, 5, 3}, d, {(1 * 25 + 2 * 5 + 3) * 3 + 1});
        const Var y = max_pool2d(Var(x), {.kernel = 3, .stride = 1});  // [2, 3, 3, 3]
        std::vector<int64_t> expected;
        for (int64_t r = 0; r < 3; ++r)
            for (int64_t col = 1; col < 3; ++col)  // windows whose columns cover 3
                expected.push_back(((1 * 3 + r) * 3 + col) * 3 + 1);
        CHECK(nan_positions(y.value()) == expected);
    }
}

TEST_CASE("max_pool2d backward sends the gradient to the NaN, by the tie policy among NaNs") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        Var x = requires_grad(tensor({1, not_a_number, 2, 3}, {1, 2, 2, 1}, d));
        max_pool2d(x, {.kernel = 2}).backward(full({1, 1, 1, 1}, 5, d));
        CHECK(x.grad().to_vector() == std::vector<double>{0, 5, 0, 0});
        const Tensor two = tensor({not_a_number, 1, not_a_number, 3}, {1, 2, 2, 1}, d);
        const std::vector<std::pair<TiePolicy, std::vector<double>>> policies = {
            {TiePolicy::first, {4, 0, 0, 0}},
            {TiePolicy::all, {4, 0, 4, 0}},
            {TiePolicy::split, {2, 0, 2, 0}}};
        for (const auto& [ties, expected] : policies) {
            Var x = requires_grad(two);
            max_pool2d(x, {.kernel = 2, .ties = ties}).backward(full({1, 1, 1, 1}, 4, d));
            CHECK(x.grad().to_vector() == expected);
        }
    }
}

TEST_CASE("relu's mask is 0 at a NaN: fused and unfused relu with max pooling agree") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        const Tensor x = tensor({1, not_a_number, -5, -6, -1, -2, -3, -4}, {1, 2, 4, 1}, d);
        const Tensor seed = full({1, 1, 2, 1}, 5, d);
        Var fused = requires_grad(x), after = requires_grad(x), before = requires_grad(x);
        max_pool2d(fused, {.kernel = 2, .activation = Activation::relu}).backward(seed);
        relu(max_pool2d(after, {.kernel = 2})).backward(seed);
        max_pool2d(relu(before), {.kernel = 2}).backward(seed);
        // Window 0 holds the NaN: nothing passes relu's mask there. Window 1 is all negative.
        for (const Var& v : {fused, after, before})
            CHECK(v.grad().to_vector() == std::vector<double>(8, 0.0));
    }
}

TEST_CASE("relu keeps NaN, on the own loop and on oneDNN (large float32)") {
    for (DType d : {f32, f64}) {
        for (int64_t n : {int64_t{10}, int64_t{40000}}) {
            INFO(dtype_name(d), " ", n);
            const Tensor x = with_nan({n}, d, {0, 7, n - 1});
            const Var y = relu(Var(x));
            CHECK(nan_positions(y.value()) == std::vector<int64_t>{0, 7, n - 1});
            for (int64_t i : {int64_t{1}, int64_t{2}, int64_t{3}})
                CHECK(y.value().at(i) == std::max(x.at(i), 0.0));
        }
    }
}

TEST_CASE("conv2d keeps NaN, with and without the fused relu, in both dtypes") {
    for (DType d : {f32, f64}) {
        for (Activation act : {Activation::none, Activation::relu}) {
            INFO(dtype_name(d), " relu ", act == Activation::relu);
            // One NaN pixel at (2, 2) of a 6x6 image: a 3x3 SAME convolution puts NaN in the
            // outputs (1..3, 1..3), every output channel.
            const Tensor x = with_nan({1, 6, 6, 2}, d, {(2 * 6 + 2) * 2});
            Generator gen(2);
            const Var k(uniform({3, 3, 2, 4}, -1, 1, d, gen));
            const Var y = conv2d(Var(x), k, {}, {.padding = same, .activation = act});
            std::vector<int64_t> expected;
            for (int64_t r = 1; r <= 3; ++r)
                for (int64_t c = 1; c <= 3; ++c)
                    for (int64_t o = 0; o < 4; ++o) expected.push_back((r * 6 + c) * 4 + o);
            CHECK(nan_positions(y.value()) == expected);
            // A NaN bias poisons its channel; an Inf times a zero weight is NaN.
            const Var b(tensor({0, not_a_number, 0, 0}, {4}, d));
            const Var yb = conv2d(Var(with_nan({1, 6, 6, 2}, d, {})), k, b, {.activation = act});
            CHECK(nan_positions(yb.value()).size() == 16);
            const Tensor xi = full({1, 3, 3, 1}, infinity, d);
            const Var yi = conv2d(Var(xi), Var(zeros({3, 3, 1, 1}, d)), {}, {.activation = act});
            CHECK(std::isnan(yi.item()));
        }
    }
    // float32 sums that overflow: the fused relu gives exactly what relu after the convolution
    // gives, whatever Inf or NaN the sums make (an Inf - Inf is NaN, which relu keeps).
    const Var x(tensor({3e38, -3e38, 3e38, 1, -3e38}, {1, 1, 5, 1}, f32));
    const Var k(tensor({2, 2}, {1, 2, 1, 1}, f32));
    CHECK(equal(conv2d(x, k, {}, {.activation = Activation::relu}).value(),
                relu(conv2d(x, k, {}, {})).value()));
}

TEST_CASE("max_pool2d with relu and avg_pool2d keep NaN") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        const Tensor x = with_nan({1, 4, 4, 1}, d, {5});
        const Var r = max_pool2d(Var(x), {.kernel = 2, .activation = Activation::relu});
        CHECK(nan_positions(r.value()) == std::vector<int64_t>{0});
        for (AvgBorder border : {AvgBorder::exclude_padding, AvgBorder::include_padding}) {
            const Var a =
                avg_pool2d(Var(x), {.kernel = 3, .stride = 1, .padding = same, .border = border});
            // Pixel (1, 1) is in the 3x3 windows centred on rows 0..2, columns 0..2.
            CHECK(nan_positions(a.value()) == std::vector<int64_t>{0, 1, 2, 4, 5, 6, 8, 9, 10});
        }
    }
}

TEST_CASE("elementwise, reductions, products, softmax and losses keep NaN") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        const Var x(with_nan({2, 3}, d, {4}));  // row 1, column 1
        const Var one(ones({2, 3}, d));
        const std::vector<int64_t> at4{4};
        for (const Var& y :
             {x + one, x - one, x * one, x / one, -x, exp(x), log(x * x + 1.0), sqrt(x * x),
              pow(x, 2), sigmoid(x), tanh(x), transpose(transpose(x)), reshape(x, {6})})
            CHECK(nan_positions(y.value()) == at4);
        CHECK(std::isnan(sum(x).item()));
        CHECK(std::isnan(mean(x).item()));
        CHECK(nan_positions(sum(x, {0}).value()) == std::vector<int64_t>{1});
        CHECK(nan_positions(mean(x, {1}).value()) == std::vector<int64_t>{1});
        // A NaN in a row of a makes that row of the product NaN.
        const Var w(ones({3, 4}, d));
        CHECK(nan_positions(matmul(x, w).value()) == std::vector<int64_t>{4, 5, 6, 7});
        CHECK(nan_positions(dense(x, w, Var(zeros({4}, d))).value()) ==
              std::vector<int64_t>{4, 5, 6, 7});
        // softmax: the NaN's row is NaN throughout, the other row is untouched.
        CHECK(nan_positions(softmax(x).value()) == std::vector<int64_t>{3, 4, 5});
        CHECK(nan_positions(log_softmax(x).value()) == std::vector<int64_t>{3, 4, 5});
        CHECK(std::isnan(softmax_cross_entropy(x, tensor({0, 2}, {2}, i64)).item()));
        CHECK(std::isnan(mse(x, one).item()));
        CHECK(std::isnan(sigmoid_cross_entropy(x, one).item()));
        // Dropout multiplies by its mask: a dropped NaN is still NaN (NaN * 0), as in PyTorch.
        Generator gen(4);
        const Var many(full({64}, not_a_number, d));
        CHECK(nan_positions(dropout(many, 0.5, gen).value()).size() == 64);
        const Var img(with_nan({1, 3, 3, 1}, d, {4}));
        CHECK(nan_positions(stride(img, {2, 2}, {1, 1}).value()) == std::vector<int64_t>{0});
    }
}

TEST_CASE("DetectAnomaly names the op whose output holds the NaN") {
    for (DType d : {f32, f64}) {
        INFO(dtype_name(d));
        const Tensor img = with_nan({1, 4, 4, 1}, d, {5});
        Generator gen(3);
        const Tensor k = uniform({3, 3, 1, 2}, -1, 1, d, gen);
        const std::vector<std::pair<std::string, std::function<void(const Var&)>>> ops = {
            {"relu", [](const Var& x) { (void)relu(x); }},
            {"max_pool2d", [](const Var& x) { (void)max_pool2d(x, {.kernel = 2}); }},
            {"max_pool2d_relu",
             [](const Var& x) {
                 (void)max_pool2d(x, {.kernel = 2, .activation = Activation::relu});
             }},
            {"avg_pool2d", [](const Var& x) { (void)avg_pool2d(x, {.kernel = 2}); }},
            {"conv2d_relu",
             [&](const Var& x) {
                 (void)conv2d(x, Var(k), {}, {.padding = same, .activation = Activation::relu});
             }},
            {"softmax",
             [&](const Var&) {
                 (void)softmax(requires_grad(with_nan({4, 4}, d, {5})));
             }},
            {"sum", [](const Var& x) { (void)sum(x); }},
        };
        for (const auto& [name, run] : ops) {
            INFO(name);
            DetectAnomaly guard;
            const std::string e = nalgrad::testing::error_of([&] { run(requires_grad(img)); });
            CHECK(e.find(name + ": anomaly in forward") == 0);
            CHECK(e.find("NaN") != std::string::npos);
        }
    }
}
