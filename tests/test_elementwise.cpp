#include <doctest/doctest.h>

#include <cmath>
#include <nalgrad/nalgrad.hpp>

#include "core/kernels/elementwise.hpp"
#include "support/gradients.hpp"

using namespace nalgrad;
using nalgrad::testing::check_gradients;
using nalgrad::testing::random_input;

namespace {

using BinaryFn = Var (*)(const Var&, const Var&);
struct BinarySample {
    const char* name;
    BinaryFn fn;
};
const BinarySample binary_ops[] = {
    {"add", [](const Var& a, const Var& b) { return a + b; }},
    {"sub", [](const Var& a, const Var& b) { return a - b; }},
    {"mul", [](const Var& a, const Var& b) { return a * b; }},
    {"div", [](const Var& a, const Var& b) { return a / b; }},
};

// Shape pairs: equal, trailing-aligned, size-1 stretching on both sides, rank-0 scalars.
const std::pair<Shape, Shape> broadcast_cases[] = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}},       {{3}, {2, 3}},       {{2, 1}, {1, 3}}, {{2, 3}, {}},
    {{}, {2, 3}},     {{4, 1, 3}, {2, 1}}, {{2, 3, 4}, {3, 1}}, {{1}, {2, 2}},    {{1, 1}, {1}},
};

std::vector<double> values(const Var& v) {
    return v.value().to_vector();
}

}  // namespace

TEST_CASE("binary ops broadcast in value: [2,3] + [3], [2,1] * [1,3], scalars") {
    Var a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, f64);
    Var row = tensor({10, 20, 30}, {3}, f64);
    CHECK(values(a + row) == std::vector<double>{11, 22, 33, 14, 25, 36});
    CHECK(values(row - a) == std::vector<double>{9, 18, 27, 6, 15, 24});
    Var col = tensor({1, 2}, {2, 1}, f64);
    Var r = tensor({3, 4, 5}, {1, 3}, f64);
    Var outer = col * r;
    CHECK(outer.shape() == Shape{2, 3});
    CHECK(values(outer) == std::vector<double>{3, 4, 5, 6, 8, 10});
    CHECK(values(a / Var(scalar(2, f64))) == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
    CHECK(values(a * 2) == std::vector<double>{2, 4, 6, 8, 10, 12});
    CHECK(values(1 - a) == std::vector<double>{0, -1, -2, -3, -4, -5});
    CHECK(values(12 / a) == std::vector<double>{12, 6, 4, 3, 2.4, 2});
    CHECK(values(a - 1) == std::vector<double>{0, 1, 2, 3, 4, 5});
    CHECK(values(0.5 + a) == std::vector<double>{1.5, 2.5, 3.5, 4.5, 5.5, 6.5});
    CHECK(values(-a) == std::vector<double>{-1, -2, -3, -4, -5, -6});
    Var three_d = Var(tensor({1, 2}, {2, 1}, f64)) + Var(zeros({4, 1, 3}, f64));
    CHECK(three_d.shape() == Shape{4, 2, 3});
    CHECK(three_d.value().at(3) == 2);
    CHECK(three_d.value().at(23) == 2);
}

TEST_CASE("gradients of broadcast inputs sum over the stretched axes") {
    Var a = requires_grad(tensor({1, 2, 3, 4, 5, 6}, {2, 3}, f64));
    Var b = requires_grad(tensor({10, 20, 30}, {3}, f64));
    (a * b).backward(ones({2, 3}, f64));
    CHECK(b.grad().shape() == Shape{3});
    CHECK(b.grad().to_vector() == std::vector<double>{5, 7, 9});
    CHECK(a.grad().to_vector() == std::vector<double>{10, 20, 30, 10, 20, 30});
    Var s = Var(scalar(2, f64), true);
    (a * s).backward(ones({2, 3}, f64));
    CHECK(s.grad().shape() == Shape{});
    CHECK(s.grad().item() == 21);
}

TEST_CASE("gradcheck: + - * / over broadcasting configurations") {
    Generator gen(11);
    for (const auto& op : binary_ops)
        for (const auto& [sa, sb] : broadcast_cases) {
            Var a = random_input(sa, gen);
            // Divisors away from zero, so the check is well conditioned.
            Var b = random_input(sb, gen, 0.5, 2);
            check_gradients(fmt::format("{} {} {}", op.name, sa, sb),
                            [&](const std::vector<Var>& in) { return op.fn(in[0], in[1]); },
                            {a, b});
        }
}

TEST_CASE("gradcheck: a double on either side, unary minus") {
    Generator gen(12);
    Var x = random_input({2, 3}, gen, 0.5, 2);
    auto check = [&](const char* what, Var (*fn)(const Var&)) {
        check_gradients(what, [fn](const std::vector<Var>& in) { return fn(in[0]); }, {x});
    };
    check("x + 3", [](const Var& v) { return v + 3.0; });
    check("3 + x", [](const Var& v) { return 3.0 + v; });
    check("x - 3", [](const Var& v) { return v - 3.0; });
    check("3 - x", [](const Var& v) { return 3.0 - v; });
    check("x * 3", [](const Var& v) { return v * 3.0; });
    check("3 * x", [](const Var& v) { return 3.0 * v; });
    check("x / 3", [](const Var& v) { return v / 3.0; });
    check("3 / x", [](const Var& v) { return 3.0 / v; });
    check("-x", [](const Var& v) { return -v; });
}

TEST_CASE("gradcheck: exp, log, sqrt, pow, relu, sigmoid, tanh") {
    Generator gen(13);
    struct Unary {
        const char* name;
        Var (*fn)(const Var&);
        double low, high;  // the domain to sample
    };
    const Unary ops[] = {
        {"exp", [](const Var& v) { return exp(v); }, -2, 2},
        {"log", [](const Var& v) { return log(v); }, 0.2, 3},
        {"sqrt", [](const Var& v) { return sqrt(v); }, 0.2, 3},
        {"pow 2", [](const Var& v) { return pow(v, 2); }, -2, 2},
        {"pow 3", [](const Var& v) { return pow(v, 3); }, -2, 2},
        {"pow 0.5", [](const Var& v) { return pow(v, 0.5); }, 0.2, 3},
        {"pow -1.5", [](const Var& v) { return pow(v, -1.5); }, 0.5, 3},
        {"relu", [](const Var& v) { return relu(v); }, -2, 2},
        {"sigmoid", [](const Var& v) { return sigmoid(v); }, -4, 4},
        {"tanh", [](const Var& v) { return tanh(v); }, -2, 2},
    };
    for (const auto& op : ops)
        for (Shape shape : {Shape{7}, Shape{2, 3, 2}, Shape{}}) {
            Var x = random_input(shape, gen, op.low, op.high);
            if (std::string_view(op.name) == "relu" && shape.rank() == 0)
                x = Var(scalar(0.7, f64), true);  // a negative scalar would have a zero Jacobian
            check_gradients(fmt::format("{} {}", op.name, shape),
                            [&](const std::vector<Var>& in) { return op.fn(in[0]); }, {x});
        }
}

TEST_CASE("unary values, and sigmoid stays finite for large |x|") {
    Var x = tensor({-1000, -1, 0, 1, 1000}, {5}, f64);
    std::vector<double> s = values(sigmoid(x));
    CHECK(s[0] == 0);
    CHECK(s[1] == doctest::Approx(0.2689414213699951));
    CHECK(s[2] == 0.5);
    CHECK(s[3] == doctest::Approx(0.7310585786300049));
    CHECK(s[4] == 1);
    std::vector<double> s32 = values(sigmoid(Var(x.value().astype(f32))));
    CHECK(s32[0] == 0);
    CHECK(s32[4] == 1);
    CHECK(values(tanh(Var(tensor({0.5}, {1}, f64))))[0] == doctest::Approx(std::tanh(0.5)));
    CHECK(values(exp(Var(tensor({1}, {1}, f64))))[0] == doctest::Approx(std::exp(1.0)));
    CHECK(values(log(Var(tensor({4}, {1}, f64))))[0] == doctest::Approx(std::log(4.0)));
    CHECK(values(sqrt(Var(tensor({9}, {1}, f64))))[0] == 3);
    CHECK(values(pow(Var(tensor({2, 3}, {2}, f64)), 3)) == std::vector<double>{8, 27});
    CHECK(values(pow(Var(tensor({4}, {1}, f64)), -0.5))[0] == 0.5);
}

TEST_CASE("accumulation: x used twice gets both contributions") {
    Var x = requires_grad(tensor({1.5, -2, 3}, {3}, f64));
    (x * x).backward(ones({3}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{3, -4, 6});
    x.zero_grad();
    (x + x).backward(ones({3}, f64));
    CHECK(x.grad().to_vector() == std::vector<double>{2, 2, 2});
    x.zero_grad();
    (x * x * x - x / x + exp(x) * 0).backward(ones({3}, f64));  // 3 x^2 (x/x has gradient 0)
    CHECK(x.grad().to_vector() == std::vector<double>{6.75, 12, 27});
    Generator gen(14);
    Var y = random_input({2, 3}, gen);
    check_gradients(
        "x * x + x / (1 + x * x)",
        [](const std::vector<Var>& in) { return in[0] * in[0] + in[0] / (1.0 + in[0] * in[0]); },
        {y});
}

TEST_CASE("only the gradients asked for are computed") {
    Var a = requires_grad(tensor({1, 2}, {2}, f64));
    Var b = tensor({3, 4}, {2}, f64);  // a constant
    Var y = a * b;
    y.backward(ones({2}, f64));
    CHECK(a.grad().to_vector() == std::vector<double>{3, 4});
    CHECK_FALSE(b.grad().defined());
    Var c = requires_grad(tensor({5, 6}, {2}, f64));
    (b / c).backward(ones({2}, f64));
    CHECK(c.grad().to_vector()[0] == doctest::Approx(-3.0 / 25));
    CHECK_FALSE(b.grad().defined());
}

TEST_CASE("bad operands throw with the shapes and dtypes named") {
    Var a = zeros({2, 3}, f64);
    Var b = zeros({4}, f64);
    CHECK_THROWS_WITH_AS(
        a + b, doctest::Contains("add: shapes cannot broadcast: a is [2, 3], b is [4]"), Error);
    CHECK_THROWS_WITH_AS(Var(zeros({2, 3}, f64)) * Var(zeros({3, 2}, f64)),
                         doctest::Contains("mul: shapes cannot broadcast"), Error);
    CHECK_THROWS_WITH_AS(
        a - Var(zeros({2, 3}, f32)),
        doctest::Contains("sub: a is f64 [2, 3] but b is f32 [2, 3]; they must have one dtype"),
        Error);
    CHECK_THROWS_WITH_AS(Var(zeros({2}, i64)) / Var(zeros({2}, i64)),
                         doctest::Contains("div: a must be f32 or f64, got i64 [2]"), Error);
    CHECK_THROWS_WITH_AS(exp(Var(zeros({2}, i64))),
                         doctest::Contains("exp: x must be f32 or f64, got i64 [2]"), Error);
    CHECK_THROWS_WITH_AS(Var(zeros({2}, i64)) * 2.0,
                         doctest::Contains("mul: a must be f32 or f64, got i64 [2]"), Error);
    CHECK_THROWS_WITH_AS(Var() + a, doctest::Contains("add: a is undefined"), Error);
}

TEST_CASE("float32 agrees with float64") {
    Generator gen(15);
    Tensor a = uniform({5, 1, 7}, 0.5, 2, f64, gen);
    Tensor b = uniform({3, 7}, 0.5, 2, f64, gen);
    auto all_ops = [](const Var& x, const Var& y) {
        return sqrt(exp(x - y) * y / x + pow(x, 1.5)) + log(y) + tanh(x) * sigmoid(y) + relu(x - 1);
    };
    Tensor r64 = all_ops(Var(a), Var(b)).value();
    Tensor r32 = all_ops(Var(a.astype(f32)), Var(b.astype(f32))).value();
    CHECK(r32.dtype() == f32);
    CHECK(r32.shape() == Shape{5, 3, 7});
    CHECK(max_abs_diff(r32, r64) < 1e-5);
}

TEST_CASE("large broadcasts take the parallel path and match a plain loop") {
    set_num_threads(2);
    Generator gen(16);
    Tensor a = normal({300, 4, 129}, f64, gen);
    Tensor b = normal({4, 1}, f64, gen);
    Tensor y = kernels::binary(kernels::BinaryOp::sub, a, b);
    double worst = 0;
    for (int64_t i = 0; i < y.numel(); ++i)
        worst = std::max(worst, std::abs(y.at(i) - (a.at(i) - b.at((i / 129) % 4))));
    CHECK(worst == 0);
    Tensor t = kernels::broadcast_to(b.astype(f32), {300, 4, 129}, 0.5);
    CHECK(t.at(129 * 6 + 5) == static_cast<float>(b.at(2)) * 0.5f);
}

TEST_CASE("large float32 relu (oneDNN eltwise) equals the float64 loop, forward and backward") {
    set_num_threads(2);
    Generator gen(17);
    // Above serial_grain, so float32 takes oneDNN's primitives; exact zeros test the mask's edge.
    Tensor x = normal({8, 28, 28, 32}, f64, gen);
    for (int64_t i = 0; i < x.numel(); i += 97) x.data<double>()[i] = 0;
    Tensor dy = normal(x.shape(), f64, gen);
    Tensor x32 = x.astype(f32), dy32 = dy.astype(f32);
    REQUIRE(x32.numel() >= serial_grain);
    Tensor y64 = kernels::relu(x), y32 = kernels::relu(x32);
    CHECK(max_abs_diff(y32.astype(f64), y64.astype(f32).astype(f64)) == 0);
    Tensor dx64 = kernels::relu_backward(y64, dy), dx32 = kernels::relu_backward(y32, dy32);
    CHECK(max_abs_diff(dx32.astype(f64), dx64.astype(f32).astype(f64)) == 0);
    int64_t zeros_in_dx = 0;
    for (int64_t i = 0; i < dx32.numel(); ++i) zeros_in_dx += dx32.data<float>()[i] == 0;
    CHECK(zeros_in_dx > x.numel() / 3);  // the mask acted: about half the gradients vanish
}
