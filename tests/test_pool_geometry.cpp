// Pooling's geometry: border divisors, cached plans, strided SAME, and the errors of bad windows.
#include <doctest/doctest.h>

#include <string>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/pool.hpp"
#include "tests/support/pool_runs.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::pool_runs;

namespace {

// ---- brute force from the spec, for average pooling: walk the padded window, count pixels.
struct Geometry {
    int64_t kh, kw, sh, sw, top, bottom, left, right;
};

Result brute_avg(const Tensor& x, const Geometry& g, AvgBorder border, const Tensor& dy) {
    const int64_t mb = x.size(0), xh = x.size(1), xw = x.size(2), ch = x.size(3);
    const int64_t yh = (xh + g.top + g.bottom - g.kh) / g.sh + 1;
    const int64_t yw = (xw + g.left + g.right - g.kw) / g.sw + 1;
    Tensor y = zeros({mb, yh, yw, ch}, f64), dx = zeros(x.shape(), f64);
    const double* in = x.data<double>();
    const double* grad = dy.data<double>();
    for (int64_t n = 0; n < mb; ++n)
        for (int64_t r = 0; r < yh; ++r)
            for (int64_t c = 0; c < yw; ++c) {
                int64_t real = 0;
                for (int64_t i = 0; i < g.kh; ++i)
                    for (int64_t j = 0; j < g.kw; ++j) {
                        int64_t p = r * g.sh - g.top + i, q = c * g.sw - g.left + j;
                        real += p >= 0 && p < xh && q >= 0 && q < xw;
                    }
                double divisor = border == AvgBorder::exclude_padding ? real : g.kh * g.kw;
                for (int64_t i = 0; i < g.kh; ++i)
                    for (int64_t j = 0; j < g.kw; ++j) {
                        int64_t p = r * g.sh - g.top + i, q = c * g.sw - g.left + j;
                        if (p < 0 || p >= xh || q < 0 || q >= xw) continue;
                        for (int64_t k = 0; k < ch; ++k) {
                            int64_t xo = ((n * xh + p) * xw + q) * ch + k;
                            int64_t yo = ((n * yh + r) * yw + c) * ch + k;
                            y.data<double>()[yo] += in[xo] / divisor;
                            dx.data<double>()[xo] += grad[yo] / divisor;
                        }
                    }
            }
    return {y, dx};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// (1) Average pooling's divisors, the plans, and inference.

TEST_CASE("avg pool 7x7, kernel 2, stride 2, SAME: border divisors match a brute-force count") {
    // SAME: 4 outputs per axis, total padding (4 - 1) * 2 + 2 - 7 = 1, all of it after.
    const Geometry g{2, 2, 2, 2, 0, 1, 0, 1};
    Generator gen(5);
    Tensor x = normal({2, 7, 7, 3}, f64, gen);
    Tensor dy = normal({2, 4, 4, 3}, f64, gen);
    for (AvgBorder border : {AvgBorder::exclude_padding, AvgBorder::include_padding}) {
        CAPTURE(static_cast<int>(border));
        auto plan = kernels::avg_pool_plan(
            x.shape(), {.kernel = 2, .stride = 2, .padding = same, .border = border});
        CHECK(plan->window.pad_top == 0);
        CHECK(plan->window.pad_bottom == 1);
        REQUIRE(plan->divisors.size() == 16);
        for (int64_t r = 0; r < 4; ++r)
            for (int64_t c = 0; c < 4; ++c) {
                int64_t real = 0;
                for (int64_t p = 2 * r; p < 2 * r + 2; ++p)
                    for (int64_t q = 2 * c; q < 2 * c + 2; ++q) real += p < 7 && q < 7;
                double want = border == AvgBorder::exclude_padding ? real : 4;
                CHECK(plan->divisors[r * 4 + c] == want);
            }
        // The last row and column hold one real row/column: corner 1, edges 2, inside 4.
        if (border == AvgBorder::exclude_padding) {
            CHECK(plan->divisors[15] == 1);
            CHECK(plan->divisors[3] == 2);
            CHECK(plan->divisors[5] == 4);
        }
        Result want = brute_avg(x, g, border, dy);
        for (DType dtype : {f64, f32}) {
            CAPTURE(dtype_name(dtype));
            Result got = run(
                [border](const Var& v) {
                    return avg_pool2d(
                        v, {.kernel = 2, .stride = 2, .padding = same, .border = border});
                },
                x.astype(dtype), dy);
            double tol = dtype == f64 ? 1e-12 : 1e-5;
            CHECK(max_abs_diff(got.y, want.y) < tol);
            CHECK(max_abs_diff(got.dx, want.dx) < tol);
        }
    }
}

TEST_CASE("pooling plans are cached per input shape and options and shared by the backward") {
    AvgPool2dOptions options{.kernel = 3, .stride = 2, .padding = same};
    auto a = kernels::avg_pool_plan({1, 9, 9, 2}, options);
    CHECK(a == kernels::avg_pool_plan({1, 9, 9, 2}, options));
    CHECK(a != kernels::avg_pool_plan({1, 9, 8, 2}, options));
    options.border = AvgBorder::include_padding;
    CHECK(a != kernels::avg_pool_plan({1, 9, 9, 2}, options));
    auto m = kernels::max_pool_plan({1, 9, 9, 2}, {.kernel = 3});
    CHECK(m->window.stride_h == 3);  // stride {0, 0} means the kernel
    CHECK(m->divisors.empty());
}

TEST_CASE("inference (no tape) gives the same values as training") {
    Generator gen(9);
    Tensor x = distinct_values({2, 6, 7, 3}, gen);
    for (const PoolCase& pc : pool_cases())
        for (DType dtype : {f32, f64}) {
            CAPTURE(pc.name);
            Tensor xt = x.astype(dtype);
            Var trained = pc.run(requires_grad(xt), 3, 2, same);
            NoGradGuard guard;
            Var inferred = pc.run(Var(xt), 3, 2, same);
            CHECK(equal(trained.value(), inferred.value()));
        }
}

// ---------------------------------------------------------------------------------------------
// (2) The spec's equivalence: stride(pool(x, stride 1, SAME), s) == pool(x, stride s, explicit
// padding = the stride-1 SAME padding), in values and gradients; for every policy, also with ties.

TEST_CASE("stride after a stride-1 SAME pooling equals the strided pooling with that padding") {
    Generator gen(77);
    for (bool with_ties : {false, true})
        for (Size2 kernel : {Size2{2, 2}, Size2{3, 3}, Size2{2, 3}})
            for (Size2 step : {Size2{2, 2}, Size2{3, 2}}) {
                Tensor x = distinct_values({2, 7, 8, 3}, gen);
                if (with_ties)  // few distinct values: many ties in every window
                    for (int64_t i = 0; i < x.numel(); ++i)
                        x.data<double>()[i] = static_cast<double>(gen.below(3));
                Window2d w = make_window("test", x.shape(), kernel, 1, 1, same);
                const Padding stride1_same = w.explicit_padding();
                for (const PoolCase& pc : pool_cases())
                    for (DType dtype : {f64, f32}) {
                        CAPTURE(pc.name);
                        CAPTURE(with_ties);
                        CAPTURE(dtype_name(dtype));
                        auto skipped = [&](const Var& v) {
                            return stride(pc.run(v, kernel, 1, same), step);
                        };
                        auto strided = [&](const Var& v) {
                            return pc.run(v, kernel, step, stride1_same);
                        };
                        Var probe = strided(Var(x));
                        Tensor dy = normal(probe.shape(), f64, gen);
                        Result a = run(skipped, x.astype(dtype), dy);
                        Result b = run(strided, x.astype(dtype), dy);
                        REQUIRE(a.y.shape() == b.y.shape());
                        const double tol = dtype == f64 ? 1e-12 : 1e-5;
                        CHECK(max_abs_diff(a.y, b.y) < tol);
                        CHECK(max_abs_diff(a.dx, b.dx) < tol);
                    }
            }
}

// ---------------------------------------------------------------------------------------------
// (3) Bad geometry and dtypes.

TEST_CASE("pooling rejects bad geometry and dtypes with messages naming op, argument and shapes") {
    Var x = zeros({1, 4, 4, 2});
    CHECK_THROWS_WITH_AS(
        max_pool2d(zeros({4, 4, 2})),
        doctest::Contains("max_pool2d: input must be 4-D NHWC [mb, h, w, c], got shape [4, 4, 2]"),
        Error);
    CHECK_THROWS_WITH_AS(
        avg_pool2d(x, {.kernel = {0, 2}}),
        doctest::Contains("avg_pool2d: kernel size must be at least 1, got [0, 2]"), Error);
    CHECK_THROWS_WITH_AS(
        max_pool2d(x, {.kernel = 2, .stride = {1, -1}}),
        doctest::Contains(
            "max_pool2d: stride must be at least 1, got [1, -1] for input [1, 4, 4, 2]"),
        Error);
    CHECK_THROWS_WITH_AS(avg_pool2d(x, {.padding = Padding(0, -1, 0, 0)}),
                         doctest::Contains("avg_pool2d: padding must be non-negative"), Error);
    CHECK_THROWS_WITH_AS(
        max_pool2d(x, {.kernel = {5, 2}}),
        doctest::Contains(
            "row kernel extent 5 (kernel 5, dilation 1) is larger than the padded input 4"),
        Error);
    CHECK_THROWS_WITH_AS(avg_pool2d(x, {.kernel = {2, 6}, .padding = Padding(0, 0, 1, 0)}),
                         doctest::Contains("larger than the padded input 5 (4 + padding 1 + 0)"),
                         Error);
    CHECK_THROWS_WITH_AS(
        max_pool2d(Var(zeros({1, 4, 4, 1}, i64))),
        doctest::Contains("max_pool2d: x must be f32 or f64, got i64 [1, 4, 4, 1]"), Error);
    CHECK_THROWS_WITH_AS(avg_pool2d(Var(zeros({2, 3, 3, 1}, i64))),
                         doctest::Contains("avg_pool2d: x must be f32 or f64, got i64"), Error);
    // Top padding 3 with kernel 2: the first window reads input rows -3 and -2 only.
    CHECK_THROWS_WITH_AS(
        max_pool2d(x, {.kernel = 2, .padding = Padding(3, 0, 0, 0)}),
        doctest::Contains("max_pool2d: output row 0 reads only padding (input rows -3 to -2"),
        Error);
    // Right padding 3, kernel 2, stride 2: columns 0-1, 2-3, then 4-5 (padding only).
    CHECK_THROWS_WITH_AS(avg_pool2d(x, {.kernel = 2, .padding = Padding(0, 0, 0, 3)}),
                         doctest::Contains("avg_pool2d: output column 2 reads only padding"),
                         Error);
}
