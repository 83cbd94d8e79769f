// Pooling's values: ties by hand, oneDNN against float64 in sweeps and in parallel, PyTorch's.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <nalgrad/nalgrad.hpp>

#include "tests/support/pool_runs.hpp"
#include "tests/support/reference.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::pool_runs;

namespace {

double largest(const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;
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
