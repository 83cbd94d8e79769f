#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/pool.hpp"
#include "tests/support/reference.hpp"

using namespace nalgrad;

namespace {

// The five poolings under test: max pooling with each tie policy, average with each border.
struct PoolCase {
    std::string name;
    std::function<Var(const Var&, Size2 kernel, Size2 stride, Padding padding)> run;
};

std::vector<PoolCase> pool_cases() {
    std::vector<PoolCase> cases;
    for (auto [name, ties] :
         {std::pair{"max first", TiePolicy::first}, std::pair{"max all", TiePolicy::all},
          std::pair{"max split", TiePolicy::split}})
        cases.push_back({name, [ties](const Var& x, Size2 k, Size2 s, Padding p) {
                             return max_pool2d(
                                 x, {.kernel = k, .stride = s, .padding = p, .ties = ties});
                         }});
    for (auto [name, border] : {std::pair{"avg exclude_padding", AvgBorder::exclude_padding},
                                std::pair{"avg include_padding", AvgBorder::include_padding}})
        cases.push_back({name, [border](const Var& x, Size2 k, Size2 s, Padding p) {
                             return avg_pool2d(
                                 x, {.kernel = k, .stride = s, .padding = p, .border = border});
                         }});
    return cases;
}

// Distinct values (a shuffled ramp, multiples of 1/64, exact in float32): no ties anywhere.
Tensor distinct_values(Shape shape, Generator& gen) {
    const int64_t n = shape.numel();
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i - n / 2) / 64.0;
    for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[gen.below(i + 1)]);
    return tensor(v, shape, f64);
}

struct Result {
    Tensor y, dx;
};
// y = fn(x) and dx for the output gradient dy, in x's dtype (dy is converted).
Result run(const std::function<Var(const Var&)>& fn, const Tensor& x, const Tensor& dy) {
    Var xv = requires_grad(x.clone());
    Var y = fn(xv);
    y.backward(dy.astype(x.dtype()));
    return {y.value(), xv.grad()};
}

double largest(const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;
}

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
// (1) Hand-computed cases.

TEST_CASE("max pool 4x4, kernel 2: a two-way and a three-way tie under each policy") {
    // Windows: top-left {1 5 / 5 0} ties 5 twice; top-right {2 2 / 2 1} ties 2 three times;
    // bottom-left max 3 and bottom-right max 4 are unique. dy = {10 20 / 30 40}.
    const std::vector<double> x_values{1, 5, 2, 2,  //
                                       5, 0, 2, 1,  //
                                       3, 1, 0, 4,  //
                                       2, 0, 3, 1};
    const double third = 20.0 / 3.0;
    const std::vector<std::pair<TiePolicy, std::vector<double>>> expected{
        {TiePolicy::first, {0, 10, 20, 0, 0, 0, 0, 0, 30, 0, 0, 40, 0, 0, 0, 0}},
        {TiePolicy::all, {0, 10, 20, 20, 10, 0, 20, 0, 30, 0, 0, 40, 0, 0, 0, 0}},
        {TiePolicy::split, {0, 5, third, third, 5, 0, third, 0, 30, 0, 0, 40, 0, 0, 0, 0}},
    };
    for (DType dtype : {f32, f64})
        for (const auto& [ties, dx] : expected) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(static_cast<int>(ties));
            Var x = requires_grad(tensor(x_values, {1, 4, 4, 1}, dtype));
            Var y = max_pool2d(x, {.kernel = 2, .ties = ties});
            CHECK(y.value().to_vector() == std::vector<double>{5, 2, 3, 4});
            y.backward(tensor({10, 20, 30, 40}, {1, 2, 2, 1}, dtype));
            std::vector<double> got = x.grad().to_vector();
            for (std::size_t i = 0; i < dx.size(); ++i) CHECK(got[i] == doctest::Approx(dx[i]));
        }
}

TEST_CASE("max pool with overlapping windows: an input winning several windows gets the sum") {
    // 5x5 ramp, kernel 3, stride 2: windows cover rows/columns {0..2} and {2..4}. x[2, 1] = 100
    // wins both windows of column block 0; the ramp's maxima x[2, 4] = 14 and x[4, 4] = 24 win
    // the others. Then x[2, 2] = 200 (the shared centre) wins all four.
    std::vector<double> ramp(25);
    for (int i = 0; i < 25; ++i) ramp[i] = i;
    for (DType dtype : {f32, f64})
        for (TiePolicy ties : {TiePolicy::first, TiePolicy::all, TiePolicy::split}) {
            std::vector<double> v = ramp;
            v[2 * 5 + 1] = 100;
            Var x = requires_grad(tensor(v, {1, 5, 5, 1}, dtype));
            Var y = max_pool2d(x, {.kernel = 3, .stride = 2, .ties = ties});
            CHECK(y.value().to_vector() == std::vector<double>{100, 14, 100, 24});
            y.backward(tensor({1, 2, 3, 4}, {1, 2, 2, 1}, dtype));
            std::vector<double> dx(25, 0.0);
            dx[2 * 5 + 1] = 1 + 3;
            dx[2 * 5 + 4] = 2;
            dx[4 * 5 + 4] = 4;
            CHECK(x.grad().to_vector() == dx);

            v[2 * 5 + 2] = 200;
            Var centre = requires_grad(tensor(v, {1, 5, 5, 1}, dtype));
            Var z = max_pool2d(centre, {.kernel = 3, .stride = 2, .ties = ties});
            CHECK(z.value().to_vector() == std::vector<double>{200, 200, 200, 200});
            z.backward(tensor({1, 2, 3, 4}, {1, 2, 2, 1}, dtype));
            CHECK(centre.grad().at(2 * 5 + 2) == 10);
        }
}

TEST_CASE("padding never wins a maximum, even over negative inputs") {
    for (DType dtype : {f32, f64}) {
        Var x = requires_grad(full({1, 3, 3, 2}, -5.0, dtype));
        Var y = max_pool2d(x, {.kernel = 3, .stride = 1, .padding = same});
        for (double v : y.value().to_vector()) CHECK(v == -5.0);
    }
}

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
// (2) Random sweep: float32 (oneDNN) against float64 (own kernels), and gradcheck on a subset.

TEST_CASE("sweep: float32 (oneDNN) and float64 (own kernels) agree; float64 gradcheck passes") {
    Generator gen(2024);
    const auto cases = pool_cases();
    int configurations = 0, gradchecks = 0;
    while (configurations < 320) {
        const int64_t mb = 1 + gen.below(3), xh = 1 + gen.below(12), xw = 1 + gen.below(12),
                      ch = 1 + gen.below(8);
        const Size2 kernel{1 + static_cast<int64_t>(gen.below(5)),
                           1 + static_cast<int64_t>(gen.below(5))};
        const Size2 step{1 + static_cast<int64_t>(gen.below(3)),
                         1 + static_cast<int64_t>(gen.below(3))};
        Padding padding;
        switch (configurations % 3) {
            case 0:
                padding = valid;
                break;
            case 1:
                padding = same;
                break;
            default:  // below the kernel on every side, so no window lies entirely in padding
                padding = Padding(gen.below(kernel.h), gen.below(kernel.h), gen.below(kernel.w),
                                  gen.below(kernel.w));
        }
        const int64_t pad_h = padding.top() + padding.bottom(),
                      pad_w = padding.left() + padding.right();
        if (padding.mode() != Padding::Mode::same &&
            (xh + pad_h < kernel.h || xw + pad_w < kernel.w))
            continue;  // the kernel does not fit: an error, tested below
        ++configurations;
        const std::string config = fmt::format(
            "x [{}, {}, {}, {}], kernel {}x{}, stride {}x{}, padding mode {} ({}, {}, {}, {})", mb,
            xh, xw, ch, kernel.h, kernel.w, step.h, step.w, static_cast<int>(padding.mode()),
            padding.top(), padding.bottom(), padding.left(), padding.right());
        CAPTURE(config);
        Tensor x = distinct_values({mb, xh, xw, ch}, gen);
        for (const PoolCase& pc : cases) {
            CAPTURE(pc.name);
            auto fn = [&](const Var& v) { return pc.run(v, kernel, step, padding); };
            Var probe = fn(Var(x));
            Tensor dy = normal(probe.shape(), f64, gen);
            Result f64_result = run(fn, x, dy);
            Result f32_result = run(fn, x.astype(f32), dy);
            CHECK(max_abs_diff(f32_result.y, f64_result.y) <= 1e-5 * (1 + largest(f64_result.y)));
            CHECK(max_abs_diff(f32_result.dx, f64_result.dx) <=
                  1e-5 * (1 + largest(f64_result.dx)));
            if (configurations % 16 == 0) {
                ++gradchecks;
                auto report = gradcheck(
                    [&](const std::vector<Var>& in) { return fn(in[0]); },
                    {requires_grad(x.clone())},
                    {.fast = x.numel() > 150, .seed = static_cast<uint64_t>(configurations)});
                CHECK_MESSAGE(report.passed, fmt::format("{}", report));
            }
        }
    }
    CHECK(gradchecks >= 50);
}

TEST_CASE("a large overlapping pooling runs in parallel, race-free and bitwise repeatable") {
    // Big enough for the TBB loops to split rows between threads; kernel 3 with stride 1 makes
    // every input row belong to three output rows, so a racy scatter would lose contributions.
    Generator gen(31);
    Tensor x = distinct_values({4, 32, 30, 16}, gen);
    for (const PoolCase& pc : pool_cases()) {
        CAPTURE(pc.name);
        auto fn = [&](const Var& v) { return pc.run(v, 3, 1, same); };
        Tensor dy = normal(x.shape(), f64, gen);
        Result first = run(fn, x, dy);
        Result again = run(fn, x, dy);
        CHECK(equal(first.dx, again.dx));
        Result single = run(fn, x.astype(f32), dy);
        CHECK(max_abs_diff(single.y, first.y) <= 1e-5 * (1 + largest(first.y)));
        CHECK(max_abs_diff(single.dx, first.dx) <= 1e-5 * (1 + largest(first.dx)));
    }
}

// ---------------------------------------------------------------------------------------------
// (3) PyTorch reference (tests/data/torch_pool.py).

TEST_CASE("max pool (first) and avg pool (both borders) match PyTorch") {
    auto ref = testing::load_reference(NALGRAD_TEST_DATA "/pool_reference.txt");
    int compared = 0;
    for (int index = 0; ref.count(fmt::format("c{}_x", index)); ++index) {
        const std::string c = fmt::format("c{}", index);
        CAPTURE(c);
        std::vector<double> geo = ref[c + "_geometry"].to_vector();
        const Size2 kernel{static_cast<int64_t>(geo[0]), static_cast<int64_t>(geo[1])};
        const Size2 step{static_cast<int64_t>(geo[2]), static_cast<int64_t>(geo[3])};
        const Padding explicit_padding(geo[4], geo[5], geo[6], geo[7]);
        std::vector<Padding> paddings{explicit_padding};
        if (geo[8] != 0) paddings.push_back(same);  // SAME must resolve to the same padding
        const Tensor& x = ref[c + "_x"];
        const Tensor& dy = ref[c + "_dy"];
        for (Padding padding : paddings)
            for (DType dtype : {f64, f32}) {
                CAPTURE(dtype_name(dtype));
                const double tol = dtype == f64 ? 1e-12 : 1e-5;
                auto compare = [&](const std::string& kind,
                                   const std::function<Var(const Var&)>& fn) {
                    CAPTURE(kind);
                    Result got = run(fn, x.astype(dtype), dy);
                    CHECK(max_abs_diff(got.y, ref[c + "_" + kind + "_y"]) < tol);
                    CHECK(max_abs_diff(got.dx, ref[c + "_" + kind + "_dx"]) < tol);
                    ++compared;
                };
                compare("max", [&](const Var& v) {
                    return max_pool2d(v, {.kernel = kernel, .stride = step, .padding = padding});
                });
                compare("avg_exclude", [&](const Var& v) {
                    return avg_pool2d(v, {.kernel = kernel,
                                          .stride = step,
                                          .padding = padding,
                                          .border = AvgBorder::exclude_padding});
                });
                compare("avg_include", [&](const Var& v) {
                    return avg_pool2d(v, {.kernel = kernel,
                                          .stride = step,
                                          .padding = padding,
                                          .border = AvgBorder::include_padding});
                });
            }
    }
    CHECK(compared >= 36);
}

// ---------------------------------------------------------------------------------------------
// The spec's equivalence: stride(pool(x, stride 1, SAME), s) == pool(x, stride s, explicit
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
// (4) Bad geometry and dtypes.

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
