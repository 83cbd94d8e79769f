#include <doctest/doctest.h>

#include <cmath>
#include <nalgrad/nalgrad.hpp>

#include "support/gradients.hpp"

using namespace nalgrad;
using nalgrad::testing::check_gradients;
using nalgrad::testing::random_input;
using nalgrad::testing::values;

namespace {
Tensor labels_of(std::initializer_list<double> values) {
    return tensor(values, {static_cast<int64_t>(values.size())}, i64);
}
}  // namespace

TEST_CASE("softmax and log_softmax by hand, and stable for large logits") {
    Var x = tensor({1, 2, 3, 1000, 1001, 1002}, {2, 3}, f64);
    std::vector<double> p = values(softmax(x));
    const double expected[] = {0.09003057317038043, 0.24472847105479759, 0.6652409557748217};
    for (int i = 0; i < 6; ++i) CHECK(p[i] == doctest::Approx(expected[i % 3]).epsilon(1e-12));
    std::vector<double> lp = values(log_softmax(x));
    for (int i = 0; i < 6; ++i)
        CHECK(lp[i] == doctest::Approx(std::log(expected[i % 3])).epsilon(1e-12));
    // log_softmax stays finite where log(softmax) would give log(0).
    Var wide = tensor({0, -2000}, {1, 2}, f64);
    CHECK(values(log_softmax(wide))[1] == doctest::Approx(-2000));
    std::vector<double> p32 = values(softmax(Var(x.value().astype(f32))));
    for (int i = 0; i < 6; ++i) CHECK(p32[i] == doctest::Approx(expected[i % 3]).epsilon(1e-6));
}

TEST_CASE("gradcheck: softmax and log_softmax on the last axis") {
    Generator gen(41);
    for (Shape shape : {Shape{3, 5}, Shape{2, 2, 4}, Shape{6}}) {
        Var x = random_input(shape, gen);
        check_gradients(fmt::format("softmax {}", shape),
                        [](const std::vector<Var>& in) { return softmax(in[0]); }, {x});
        check_gradients(fmt::format("log_softmax {}", shape),
                        [](const std::vector<Var>& in) { return log_softmax(in[0]); }, {x});
    }
}

TEST_CASE("softmax_cross_entropy by hand: logits [[1,2,3],[1,1,1]], labels [2,0]") {
    // Row 0: log(e + e^2 + e^3) - 3 = 0.40760596444438; row 1: log 3 = 1.09861228866811.
    Var logits = requires_grad(tensor({1, 2, 3, 1, 1, 1}, {2, 3}, f64));
    Var loss = softmax_cross_entropy(logits, labels_of({2, 0}));
    CHECK(loss.shape() == Shape{});
    CHECK(loss.item() == doctest::Approx(0.7531091265562453).epsilon(1e-12));
    loss.backward();
    // (softmax - onehot) / mb
    const std::vector<double> expected = {
        0.04501528658519022, 0.12236423552739879, -0.16737952211258916, -1.0 / 3, 1.0 / 6, 1.0 / 6};
    for (int i = 0; i < 6; ++i)
        CHECK(logits.grad().at(i) == doctest::Approx(expected[i]).epsilon(1e-12));
    // Shifting a row by a constant changes nothing; huge logits stay finite.
    Var shifted = tensor({1001, 1002, 1003, -500, -500, -500}, {2, 3}, f64);
    CHECK(softmax_cross_entropy(shifted, labels_of({2, 0})).item() ==
          doctest::Approx(0.7531091265562453).epsilon(1e-12));
    Var f32_logits = tensor({1, 2, 3, 1, 1, 1}, {2, 3}, f32);
    Var f32_loss = softmax_cross_entropy(f32_logits, labels_of({2, 0}));
    CHECK(f32_loss.dtype() == f32);
    CHECK(f32_loss.item() == doctest::Approx(0.7531091265562453).epsilon(1e-6));
}

TEST_CASE("gradcheck: softmax_cross_entropy, and composed with other ops") {
    Generator gen(42);
    Var logits = random_input({4, 5}, gen);
    Tensor labels = labels_of({0, 4, 2, 2});
    check_gradients(
        "softmax_cross_entropy",
        [&](const std::vector<Var>& in) { return softmax_cross_entropy(in[0], labels); }, {logits});
    Var w = random_input({5}, gen);
    check_gradients(
        "softmax_cross_entropy of logits * w",
        [&](const std::vector<Var>& in) { return softmax_cross_entropy(in[0] * in[1], labels); },
        {logits, w});
}

TEST_CASE("softmax_cross_entropy rejects bad labels, naming value and index") {
    Var logits = zeros({2, 3}, f64);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, labels_of({0, 3})),
                         doctest::Contains("label 3 at index 1 is out of range [0, 3)"), Error);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, labels_of({-1, 0})),
                         doctest::Contains("label -1 at index 0 is out of range"), Error);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, tensor({0, 1}, {2}, f32)),
                         doctest::Contains("labels must be an i64 tensor"), Error);
    CHECK_THROWS_WITH_AS(
        softmax_cross_entropy(logits, labels_of({0, 1, 2})),
        doctest::Contains("labels must be [mb]: labels are [3], logits are [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(Var(zeros({6}, f64)), labels_of({0})),
                         doctest::Contains("logits must be [mb, classes]"), Error);
    CHECK_THROWS_WITH_AS(
        softmax_cross_entropy(Var(zeros({2, 3}, i64)), labels_of({0, 1})),
        doctest::Contains("softmax_cross_entropy: logits must be f32 or f64, got i64 [2, 3]"),
        Error);
}

TEST_CASE("the labels are kept by value until backward") {
    Var logits = requires_grad(tensor({1, 2, 3, 1, 1, 1}, {2, 3}, f64));
    Tensor labels = labels_of({2, 0});
    Var loss = softmax_cross_entropy(logits, labels);
    labels.fill_(1);  // a data loader refilling its batch buffer
    loss.backward();
    CHECK(logits.grad().at(2) == doctest::Approx(-0.16737952211258916));
}

TEST_CASE("mse by hand, gradcheck and errors") {
    Var p = requires_grad(tensor({1, 2, 3}, {3}, f64));
    Var t = requires_grad(tensor({1, 0, 0}, {3}, f64));
    Var loss = mse(p, t);
    CHECK(loss.item() == doctest::Approx(13.0 / 3));
    loss.backward();
    CHECK(p.grad().to_vector()[1] == doctest::Approx(4.0 / 3));
    CHECK(p.grad().to_vector()[2] == doctest::Approx(2.0));
    CHECK(t.grad().to_vector()[2] == doctest::Approx(-2.0));
    Generator gen(43);
    check_gradients("mse", [](const std::vector<Var>& in) { return mse(in[0], in[1]); },
                    {random_input({2, 3}, gen), random_input({2, 3}, gen)});
    CHECK_THROWS_WITH_AS(mse(p, Var(zeros({4}, f64))),
                         doctest::Contains("mse: shapes differ: prediction is [3], target is [4]"),
                         Error);
    CHECK_THROWS_WITH_AS(mse(p, Var(zeros({3}, f32))),
                         doctest::Contains("mse: prediction is f64 [3] but target is f32 [3]"),
                         Error);
}

TEST_CASE("sigmoid_cross_entropy by hand, stable, gradcheck and errors") {
    // z = [0, 2, -3], t = [1, 0, 1]: log 2, 2 + log(1 + e^-2), 3 + log(1 + e^-3).
    Var z = requires_grad(tensor({0, 2, -3}, {3}, f64));
    Var t = requires_grad(tensor({1, 0, 1}, {3}, f64));
    Var loss = sigmoid_cross_entropy(z, t);
    CHECK(loss.item() == doctest::Approx(1.9562208477255532).epsilon(1e-12));
    loss.backward();
    // dz = (sigmoid(z) - t) / 3, dt = -z / 3
    CHECK(z.grad().at(0) == doctest::Approx(-1.0 / 6));
    CHECK(z.grad().at(1) == doctest::Approx(0.29359902599262744));
    CHECK(z.grad().at(2) == doctest::Approx(-0.3175247089408111));
    CHECK(t.grad().to_vector() == std::vector<double>{0, -2.0 / 3, 1});
    // The naive -t log(s) - (1 - t) log(1 - s) would give inf here.
    Var extreme =
        sigmoid_cross_entropy(Var(tensor({1000, -1000}, {2}, f32)), Var(tensor({0, 1}, {2}, f32)));
    CHECK(extreme.item() == doctest::Approx(1000));
    Generator gen(44);
    check_gradients("sigmoid_cross_entropy",
                    [](const std::vector<Var>& in) { return sigmoid_cross_entropy(in[0], in[1]); },
                    {random_input({2, 3}, gen), random_input({2, 3}, gen, 0, 1)});
    CHECK_THROWS_WITH_AS(sigmoid_cross_entropy(z, Var(zeros({3, 1}, f64))),
                         doctest::Contains("shapes differ: logits is [3], targets is [3, 1]"),
                         Error);
}

TEST_CASE("losses in float32 agree with float64") {
    Generator gen(45);
    Tensor a = normal({8, 10}, f64, gen);
    Tensor b = uniform({8, 10}, f64, gen);
    Tensor labels = labels_of({0, 9, 3, 3, 5, 1, 7, 2});
    auto losses = [&](const Tensor& x, const Tensor& y) {
        return std::vector<double>{softmax_cross_entropy(Var(x), labels).item(),
                                   mse(Var(x), Var(y)).item(),
                                   sigmoid_cross_entropy(Var(x), Var(y)).item()};
    };
    std::vector<double> l64 = losses(a, b), l32 = losses(a.astype(f32), b.astype(f32));
    for (std::size_t i = 0; i < l64.size(); ++i)
        CHECK(l32[i] == doctest::Approx(l64[i]).epsilon(1e-5));
    CHECK(max_abs_diff(softmax(Var(a.astype(f32))).value(), softmax(Var(a)).value()) < 1e-6);
}
