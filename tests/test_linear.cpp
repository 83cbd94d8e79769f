#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/matmul.hpp"

using namespace nalgrad;
using kernels::MatmulBackend;
using kernels::Transposed;

namespace {

// Normal values that float32 holds exactly, so float32 and float64 runs differ only in arithmetic.
Tensor exact_in_f32(Shape shape, Generator& gen) {
    return normal(shape, f64, gen).astype(f32).astype(f64);
}

// How far a float32 sum of `length` products of standard normal values may drift from float64:
// rounding grows with the length of the reduction.
double f32_tolerance(int64_t length) {
    return 16.0 * FLT_EPSILON * static_cast<double>(std::max<int64_t>(length, 1));
}

// The textbook triple loop over a stored matrix read transposed or not: the reference for the
// blocked kernel.
Tensor naive_product(const Tensor& a, const Tensor& b, Transposed transposed) {
    const bool ta = transposed == Transposed::a, tb = transposed == Transposed::b;
    const int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
    const int64_t n = tb ? b.size(0) : b.size(1);
    const double* pa = a.data<double>();
    const double* pb = b.data<double>();
    Tensor c = zeros({m, n}, f64);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t p = 0; p < k; ++p)
                s += pa[ta ? p * m + i : i * k + p] * pb[tb ? j * k + p : p * n + j];
            c.data<double>()[i * n + j] = s;
        }
    return c;
}

struct Extents {
    int64_t m, k, n;
};

// 1xN, Nx1, odd sizes, k and n past one packed block (256), and products big enough for TBB to
// split the rows.
const std::vector<Extents> random_shapes = {
    {1, 1, 1},    {1, 7, 1},     {1, 64, 33},    {33, 64, 1},    {5, 1, 9},  {17, 3, 29},
    {37, 53, 19}, {64, 512, 10}, {70, 530, 300}, {130, 97, 261}, {3, 700, 5}};

}  // namespace

TEST_CASE("matmul of a 2x3 and a 3x2 matrix, computed by hand") {
    const std::vector<double> expected{58, 64, 139, 154};  // [[1*7+2*9+3*11, ...], ...]
    for (DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Var a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, dtype);
        Var b = tensor({7, 8, 9, 10, 11, 12}, {3, 2}, dtype);
        Var y = matmul(a, b);
        CHECK(y.shape() == Shape{2, 2});
        CHECK(y.dtype() == dtype);
        CHECK(y.value().to_vector() == expected);
    }
    Tensor own =
        kernels::matmul(tensor({1, 2, 3, 4, 5, 6}, {2, 3}), tensor({7, 8, 9, 10, 11, 12}, {3, 2}),
                        Transposed::none, {}, MatmulBackend::own);
    CHECK(own.to_vector() == expected);
}

TEST_CASE("dense adds the bias to every row; its gradients match the formulas by hand") {
    for (DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Var x = requires_grad(tensor({1, 2, 3, 4, 5, 6}, {2, 3}, dtype));
        Var w = requires_grad(tensor({7, 8, 9, 10, 11, 12}, {3, 2}, dtype));
        Var b = requires_grad(tensor({0.5, -1}, {2}, dtype));
        Var y = dense(x, w, b);
        CHECK(y.value().to_vector() == std::vector<double>{58.5, 63, 139.5, 153});
        y.backward(tensor({1, 2, 3, 4}, {2, 2}, dtype));
        // dx = dy W^T, dW = x^T dy, db = column sums of dy.
        CHECK(x.grad().to_vector() == std::vector<double>{23, 29, 35, 53, 67, 81});
        CHECK(w.grad().to_vector() == std::vector<double>{13, 18, 17, 24, 21, 30});
        CHECK(b.grad().to_vector() == std::vector<double>{4, 6});
    }
}

TEST_CASE("the blocked kernel equals the textbook loop in all three transposition cases") {
    Generator gen(11);
    for (Extents e : random_shapes) {
        CAPTURE(e.m);
        CAPTURE(e.k);
        CAPTURE(e.n);
        const Tensor a = exact_in_f32({e.m, e.k}, gen), at = exact_in_f32({e.k, e.m}, gen);
        const Tensor b = exact_in_f32({e.k, e.n}, gen), bt = exact_in_f32({e.n, e.k}, gen);
        const double tolerance = 1e-13 * static_cast<double>(e.k);
        CHECK(max_abs_diff(kernels::matmul(a, b), naive_product(a, b, Transposed::none)) <=
              tolerance);
        CHECK(max_abs_diff(kernels::matmul(at, b, Transposed::a),
                           naive_product(at, b, Transposed::a)) <= tolerance);
        CHECK(max_abs_diff(kernels::matmul(a, bt, Transposed::b),
                           naive_product(a, bt, Transposed::b)) <= tolerance);
    }
}

TEST_CASE("float32 (oneDNN and own loops) agrees with float64 in dense's value and gradients") {
    Generator gen(5);
    for (Extents e : random_shapes) {
        CAPTURE(e.m);
        CAPTURE(e.k);
        CAPTURE(e.n);
        const Tensor x = exact_in_f32({e.m, e.k}, gen), w = exact_in_f32({e.k, e.n}, gen);
        const Tensor b = exact_in_f32({e.n}, gen), dy = exact_in_f32({e.m, e.n}, gen);

        Var x64 = requires_grad(x), w64 = requires_grad(w), b64 = requires_grad(b);
        Var y64 = dense(x64, w64, b64);
        y64.backward(dy);
        Var x32 = requires_grad(x.astype(f32)), w32 = requires_grad(w.astype(f32));
        Var b32 = requires_grad(b.astype(f32));
        Var y32 = dense(x32, w32, b32);
        y32.backward(dy.astype(f32));

        REQUIRE(y32.dtype() == f32);
        CHECK(max_abs_diff(y32.value(), y64.value()) <= f32_tolerance(e.k));
        CHECK(max_abs_diff(x32.grad(), x64.grad()) <= f32_tolerance(e.n));
        CHECK(max_abs_diff(w32.grad(), w64.grad()) <= f32_tolerance(e.m));
        CHECK(max_abs_diff(b32.grad(), b64.grad()) <= f32_tolerance(e.m));

        const Tensor own = kernels::matmul(x.astype(f32), w.astype(f32), Transposed::none,
                                           b.astype(f32), MatmulBackend::own);
        CHECK(max_abs_diff(own, y64.value()) <= f32_tolerance(e.k));
    }
}

TEST_CASE("gradcheck: matmul, each input alone and both") {
    Generator gen(7);
    const Tensor a = normal({3, 4}, f64, gen), b = normal({4, 5}, f64, gen);
    auto fn = [](const std::vector<Var>& in) { return matmul(in[0], in[1]); };
    for (int wanted : {0b11, 0b01, 0b10}) {
        CAPTURE(wanted);
        std::vector<Var> inputs{Var(a, (wanted & 1) != 0), Var(b, (wanted & 2) != 0)};
        auto report = gradcheck(fn, inputs);
        CHECK_MESSAGE(report.passed, fmt::format("{}", report));
    }
}

TEST_CASE("gradcheck: dense with and without bias, each input alone and all together") {
    Generator gen(8);
    const Tensor x = normal({3, 4}, f64, gen), w = normal({4, 5}, f64, gen);
    const Tensor b = normal({5}, f64, gen);
    auto with_bias = [](const std::vector<Var>& in) { return dense(in[0], in[1], in[2]); };
    for (int wanted : {0b111, 0b001, 0b010, 0b100}) {
        CAPTURE(wanted);
        std::vector<Var> inputs{Var(x, (wanted & 1) != 0), Var(w, (wanted & 2) != 0),
                                Var(b, (wanted & 4) != 0)};
        auto report = gradcheck(with_bias, inputs);
        CHECK_MESSAGE(report.passed, fmt::format("{}", report));
    }
    auto without_bias = [](const std::vector<Var>& in) { return dense(in[0], in[1]); };
    for (int wanted : {0b11, 0b01, 0b10}) {
        CAPTURE(wanted);
        std::vector<Var> inputs{Var(x, (wanted & 1) != 0), Var(w, (wanted & 2) != 0)};
        auto report = gradcheck(without_bias, inputs);
        CHECK_MESSAGE(report.passed, fmt::format("{}", report));
    }
}

TEST_CASE("only the inputs that require a gradient receive one") {
    Generator gen(9);
    Var x = normal({2, 3}, f64, gen);
    Var w = requires_grad(normal({3, 4}, f64, gen));
    Var b = normal({4}, f64, gen);
    dense(x, w, b).backward(ones({2, 4}, f64));
    CHECK(w.grad().defined());
    CHECK_FALSE(x.grad().defined());
    CHECK_FALSE(b.grad().defined());
    CHECK(max_abs_diff(w.grad(), naive_product(x.value(), ones({2, 4}, f64), Transposed::a)) <
          1e-12);
}

TEST_CASE("empty products: no rows, no columns, or no depth (the result is the bias)") {
    for (MatmulBackend backend : {MatmulBackend::onednn, MatmulBackend::own}) {
        CHECK(
            kernels::matmul(zeros({0, 3}), zeros({3, 2}), Transposed::none, {}, backend).shape() ==
            Shape{0, 2});
        CHECK(
            kernels::matmul(zeros({2, 3}), zeros({3, 0}), Transposed::none, {}, backend).shape() ==
            Shape{2, 0});
        const Tensor c = kernels::matmul(zeros({2, 0}), zeros({0, 3}), Transposed::none,
                                         tensor({1, 2, 3}, {3}), backend);
        CHECK(c.to_vector() == std::vector<double>{1, 2, 3, 1, 2, 3});
    }
    Var x = requires_grad(zeros({2, 0}, f64));
    Var w = requires_grad(zeros({0, 3}, f64));
    Var b = requires_grad(tensor({1, 2, 3}, {3}, f64));
    dense(x, w, b).backward(ones({2, 3}, f64));
    CHECK(x.grad().shape() == Shape{2, 0});
    CHECK(b.grad().to_vector() == std::vector<double>{2, 2, 2});
}

TEST_CASE("oneDNN primitives are created once per shape and reused") {
    const Tensor a = ones({6, 7}), b = ones({7, 9});
    kernels::matmul(a, b);
    const std::size_t cached = kernels::cached_matmul_primitives();
    Tensor again = kernels::matmul(a, b);
    CHECK(kernels::cached_matmul_primitives() == cached);
    CHECK(again.at(0) == 7);
    kernels::matmul(a, ones({9, 7}), Transposed::b);
    CHECK(kernels::cached_matmul_primitives() == cached + 1);
}

TEST_CASE("bad inputs are errors naming the op, the argument and the shapes") {
    Var a43 = zeros({4, 3}), b52 = zeros({5, 2});
    CHECK_THROWS_WITH_AS(
        matmul(a43, b52),
        doctest::Contains("matmul: inner dimensions differ: a is [4, 3], b is [5, 2]"), Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({4, 2})),
                         doctest::Contains("matmul: a must be 2-D, got shape [2, 3, 4]"), Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({3})),
                         doctest::Contains("matmul: b must be 2-D, got shape [3]"), Error);
    CHECK_THROWS_WITH_AS(
        matmul(zeros({2, 3}, f32), zeros({3, 2}, f64)),
        doctest::Contains("matmul: a is f32 [2, 3] but b is f64 [3, 2]; they must have one dtype"),
        Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}, i64), zeros({3, 2}, i64)),
                         doctest::Contains("matmul: a must be f32 or f64, got i64 [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(matmul(Var{}, b52), doctest::Contains("matmul: a is undefined"), Error);

    Var x = zeros({2, 3}), w = zeros({3, 4});
    CHECK_THROWS_WITH_AS(dense(x, zeros({4, 4})),
                         doctest::Contains("dense: input features differ from weight rows: x is "
                                           "[2, 3], w is [4, 4]"),
                         Error);
    CHECK_THROWS_WITH_AS(dense(x, w, zeros({5})),
                         doctest::Contains("dense: bias length differs from output features: b "
                                           "is [5], w is [3, 4]"),
                         Error);
    CHECK_THROWS_WITH_AS(dense(x, w, zeros({1, 4})),
                         doctest::Contains("bias length differs from output features: b is [1, 4]"),
                         Error);
    CHECK_THROWS_WITH_AS(dense(x, w, zeros({4}, f64)),
                         doctest::Contains("dense: w is f32 [3, 4] but b is f64 [4]"), Error);
    CHECK_THROWS_WITH_AS(dense(zeros({2, 3}, i64), w),
                         doctest::Contains("dense: x must be f32 or f64, got i64 [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(dense(zeros({6}), w), doctest::Contains("dense: x must be 2-D"), Error);
}
