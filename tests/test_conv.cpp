// conv2d's values: by hand, PyTorch's, oneDNN's and the direct loops' against float64, gradcheck.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/conv.hpp"
#include "tests/support/conv_runs.hpp"
#include "tests/support/reference.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::conv_runs;

namespace {

int64_t pick(Generator& gen, int64_t low, int64_t high) {  // uniform in [low, high]
    return low + static_cast<int64_t>(gen.below(static_cast<uint64_t>(high - low + 1)));
}

bool fits(const Config& c) {
    try {
        conv2d_window(c.x_shape(), c.k_shape(), c.options);
        return true;
    } catch (const Error&) {
        return false;
    }
}

Config random_config(Generator& gen) {
    for (;;) {
        Config c;
        c.mb = pick(gen, 1, 3);
        c.h = pick(gen, 1, 12);
        c.w = pick(gen, 1, 12);
        c.xchn = pick(gen, 1, 8);
        c.ychn = pick(gen, 1, 8);
        c.kh = pick(gen, 1, 5);
        c.kw = pick(gen, 1, 5);
        c.options.stride = {pick(gen, 1, 3), pick(gen, 1, 3)};
        c.options.dilation = {pick(gen, 1, 2), pick(gen, 1, 2)};
        switch (pick(gen, 0, 2)) {
            case 0:
                c.options.padding = valid;
                break;
            case 1:
                c.options.padding = same;
                break;
            default:
                c.options.padding =
                    Padding(pick(gen, 0, 3), pick(gen, 0, 3), pick(gen, 0, 3), pick(gen, 0, 3));
        }
        c.bias = pick(gen, 0, 1) == 1;
        if (fits(c)) return c;
    }
}

// The sweep: targeted cases first (1x1 strided kernels with few input channels, the oneDNN
// defect's territory; even kernels under SAME), then random ones.
std::vector<Config> sweep_configs(int random_count) {
    std::vector<Config> configs;
    for (int64_t xchn : {1, 3, 5, 7, 8})
        for (int64_t s : {2, 3})
            configs.push_back({.mb = 2,
                               .h = 9,
                               .w = 7,
                               .xchn = xchn,
                               .ychn = 4,
                               .kh = 1,
                               .kw = 1,
                               .options = {.stride = {s, s}},
                               .bias = xchn % 2 == 1});
    // Sizes of oneDNN bug report 6035 (rtus workspace overrun with nhwc and IC < 8).
    configs.push_back({.mb = 32,
                       .h = 32,
                       .w = 32,
                       .xchn = 4,
                       .ychn = 8,
                       .kh = 1,
                       .kw = 1,
                       .options = {.stride = 2},
                       .bias = true});
    configs.push_back({.mb = 8,
                       .h = 17,
                       .w = 16,
                       .xchn = 3,
                       .ychn = 8,
                       .kh = 1,
                       .kw = 1,
                       .options = {.stride = {2, 3}},
                       .bias = false});
    for (int64_t k : {2, 4})
        configs.push_back({.mb = 1,
                           .h = 6,
                           .w = 5,
                           .xchn = 2,
                           .ychn = 3,
                           .kh = k,
                           .kw = k,
                           .options = {.padding = same},
                           .bias = false});
    Generator gen(1234);
    for (int i = 0; i < random_count; ++i) configs.push_back(random_config(gen));
    return configs;
}

}  // namespace

TEST_CASE("hand-computed: 1x3x3x1 input, 2x2 kernel, SAME pads one row and column after") {
    // x = 1..9 row-major, k = [[1, 2], [3, 4]], b = 0.5. SAME: total padding 1 per axis, all after.
    for (DType dtype : {f64, f32}) {
        CAPTURE(dtype_name(dtype));
        Var x = requires_grad(tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, dtype));
        Var k = requires_grad(tensor({1, 2, 3, 4}, {2, 2, 1, 1}, dtype));
        Var b = requires_grad(tensor({0.5}, {1}, dtype));
        Var y = conv2d(x, k, b, {.padding = same});
        // y[r][c] = x[r][c] + 2 x[r][c+1] + 3 x[r+1][c] + 4 x[r+1][c+1] + 0.5, zero outside.
        CHECK(y.shape() == Shape{1, 3, 3, 1});
        CHECK(y.value().to_vector() ==
              std::vector<double>{37.5, 47.5, 21.5, 67.5, 77.5, 33.5, 23.5, 26.5, 9.5});
        y.backward(ones({1, 3, 3, 1}, dtype));
        // dx[p][q] sums k[i][j] over the taps with r = p - i, c = q - j inside the 3x3 output.
        CHECK(x.grad().to_vector() == std::vector<double>{1, 3, 3, 4, 10, 10, 4, 10, 10});
        // dk[i][j] sums x over the shifted window: all, columns 1-2, rows 1-2, both.
        CHECK(k.grad().to_vector() == std::vector<double>{45, 33, 39, 28});
        CHECK(b.grad().to_vector() == std::vector<double>{9});
    }
}

TEST_CASE("hand-computed: stride 2, dilation 2, explicit asymmetric padding") {
    // x 1x5x5x1 = 0..24, k 2x2 of ones, dilation 2 (taps 2 apart), stride 2, padding
    // {top 1, bottom 0, left 0, right 2}: padded 6x7, effective kernel 3 -> output 2x3.
    // y[r][c] = sum of x[2r - 1 + 2i][2c + 2j] for i, j in {0, 1}, zero outside.
    Var x = arange(25, f64).reshape({1, 5, 5, 1});
    Var k = Var(ones({2, 2, 1, 1}, f64)).set_requires_grad();
    Var y = conv2d(x, k, {}, {.stride = 2, .dilation = 2, .padding = Padding(1, 0, 0, 2)});
    CHECK(y.shape() == Shape{1, 2, 3, 1});
    // r = 0 reads rows -1 (padding) and 1; r = 1 reads rows 1 and 3. c reads columns 2c, 2c + 2.
    CHECK(y.value().to_vector() ==
          std::vector<double>{5 + 7, 7 + 9, 9, 5 + 7 + 15 + 17, 7 + 9 + 17 + 19, 9 + 19});
    y.backward(ones({1, 2, 3, 1}, f64));
    // dk[i][j]: sum of the x values tap (i, j) read over all six outputs.
    // Tap row 0 reads rows {-1, 1}, tap row 1 rows {1, 3}; tap column 0 reads columns {0, 2, 4},
    // tap column 1 columns {2, 4, 6}; row -1 and column 6 are padding.
    CHECK(k.grad().to_vector() ==
          std::vector<double>{5 + 7 + 9, 7 + 9, 5 + 7 + 9 + 15 + 17 + 19, 7 + 9 + 17 + 19});
}

TEST_CASE("agreement with PyTorch (tests/data/torch_conv.py)") {
    auto ref = testing::load_reference(NALGRAD_TEST_DATA "/conv_reference.txt");
    int checked = 0;
    for (int n = 0; ref.count(fmt::format("c{}_x", n)); ++n, ++checked) {
        auto get = [&](const char* name) { return ref.at(fmt::format("c{}_{}", n, name)); };
        const Tensor o = get("options");
        Conv2dOptions options{.stride = {int64_t(o.at(0)), int64_t(o.at(1))},
                              .dilation = {int64_t(o.at(2)), int64_t(o.at(3))}};
        const Padding resolved(int64_t(o.at(5)), int64_t(o.at(6)), int64_t(o.at(7)),
                               int64_t(o.at(8)));
        const int mode = int(o.at(4));
        options.padding = mode == 0 ? valid : mode == 1 ? same : resolved;
        const bool has_bias = ref.count(fmt::format("c{}_b", n)) > 0;
        const Tensor x = get("x"), k = get("k"), dy = get("dy");
        const Tensor b = has_bias ? get("b") : Tensor{};
        CAPTURE(n);
        // PyTorch was given the padding resolved by the spec's formula: make_window must agree.
        CHECK(conv2d_window(x.shape(), k.shape(), options).explicit_padding() == resolved);
        for (DType dtype : {f64, f32}) {
            CAPTURE(dtype_name(dtype));
            const double tol = dtype == f64 ? 1e-12 : 2e-5;
            ConvRun r = run_conv(x, k, b, dy, options, dtype);
            REQUIRE(r.y.shape() == get("y").shape());
            CHECK(max_abs_diff(r.y, get("y")) < tol);
            CHECK(max_abs_diff(r.dx, get("dx")) < tol);
            CHECK(max_abs_diff(r.dk, get("dk")) < tol);
            if (has_bias) CHECK(max_abs_diff(r.db, get("db")) < tol);
        }
    }
    CHECK(checked == 6);
}

TEST_CASE("sweep: oneDNN float32 agrees with the float64 loops (forward and three gradients)") {
    const std::vector<Config> configs = sweep_configs(500);
    Generator gen(99);
    double worst = 0;
    std::string worst_config;
    for (const Config& c : configs) {
        CAPTURE(c.str());
        const Window2d w = conv2d_window(c.x_shape(), c.k_shape(), c.options);
        const Tensor x = random_input(c.x_shape(), gen), k = random_input(c.k_shape(), gen);
        const Tensor b = c.bias ? random_input({c.ychn}, gen) : Tensor{};
        const Tensor dy = random_input(w.output_shape(c.ychn), gen);
        const ConvRun want = run_conv(x, k, b, dy, c.options, f64);
        const ConvRun got = run_conv(x, k, b, dy, c.options, f32);
        const int64_t pixels = w.batch * w.out_h * w.out_w;
        const double errors[] = {
            scaled_error(got.y, want.y, c.kh * c.kw * c.xchn + 1),
            scaled_error(got.dx, want.dx, c.kh * c.kw * c.ychn),
            scaled_error(got.dk, want.dk, pixels),
            c.bias ? scaled_error(got.db, want.db, pixels) : 0.0,
        };
        for (double e : errors) {
            CHECK(e <= 1.0);
            if (e > worst) worst = e, worst_config = c.str();
        }
    }
    MESSAGE(fmt::format("{} configurations; worst error {:.3f} of tolerance ({})", configs.size(),
                        worst, worst_config));
    // Capped to AVX2, oneDNN offers its defective jit_1x1:avx2 backward-weights kernel for the
    // 1x1 strided configurations above; conv.cpp must have passed over it (and the gradients
    // still agree). On an AVX2 processor the cap always selects it.
    if (isa_capped_to_avx2()) {
        CHECK(kernels::conv2d_cache_stats().defective_implementations_skipped > 0);
        MESSAGE(
            fmt::format("ONEDNN_MAX_CPU_ISA=AVX2: {} defective jit_1x1:avx2 backward-weights "
                        "implementation(s) passed over",
                        kernels::conv2d_cache_stats().defective_implementations_skipped));
    }
}

TEST_CASE("sweep: the float32 direct loops agree with the float64 loops") {
    const std::vector<Config> configs = sweep_configs(60);
    Generator gen(7);
    for (const Config& c : configs) {
        CAPTURE(c.str());
        const Window2d w = conv2d_window(c.x_shape(), c.k_shape(), c.options);
        const Tensor x = random_input(c.x_shape(), gen), k = random_input(c.k_shape(), gen);
        const Tensor b = c.bias ? random_input({c.ychn}, gen) : Tensor{};
        const Tensor dy = random_input(w.output_shape(c.ychn), gen);
        auto as32 = [](const Tensor& t) { return t.defined() ? t.astype(f32) : Tensor{}; };
        const Tensor y = kernels::conv2d_forward_direct(as32(x), as32(k), as32(b), w);
        const Tensor dx = kernels::conv2d_backward_data_direct(as32(dy), as32(k), w);
        const auto dk =
            kernels::conv2d_backward_weights_direct(as32(x), as32(dy), c.k_shape(), w, c.bias);
        const ConvRun want = run_conv(x, k, b, dy, c.options, f64);
        CHECK(y.dtype() == f32);
        CHECK(scaled_error(y, want.y, c.kh * c.kw * c.xchn + 1) <= 1.0);
        CHECK(scaled_error(dx, want.dx, c.kh * c.kw * c.ychn) <= 1.0);
        CHECK(scaled_error(dk.dk, want.dk, w.batch * w.out_h * w.out_w) <= 1.0);
        if (c.bias) CHECK(scaled_error(dk.db, want.db, w.batch * w.out_h * w.out_w) <= 1.0);
    }
}

TEST_CASE("gradcheck (float64) on 60 sweep configurations, full Jacobian on the small ones") {
    const std::vector<Config> configs = sweep_configs(60);
    Generator gen(5);
    int full = 0;
    for (const Config& c : configs) {
        CAPTURE(c.str());
        std::vector<Var> inputs{requires_grad(normal(c.x_shape(), f64, gen)),
                                requires_grad(normal(c.k_shape(), f64, gen))};
        if (c.bias) inputs.push_back(requires_grad(normal({c.ychn}, f64, gen)));
        const Conv2dOptions options = c.options;
        auto fn = [options](const std::vector<Var>& in) {
            return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Var{}, options);
        };
        const int64_t outputs =
            conv2d_window(c.x_shape(), c.k_shape(), options).output_shape(c.ychn).numel();
        const bool small = outputs <= 48 && c.x_shape().numel() <= 150;
        full += small;
        // Windows that read only padding make a legitimately zero Jacobian.
        const Tensor reach =
            conv2d(ones(c.x_shape(), f64), ones(c.k_shape(), f64), {}, options).value();
        const bool reads_input = max_abs_diff(reach, zeros_like(reach)) > 0;
        GradcheckReport report =
            gradcheck(fn, inputs,
                      {.fast = !small, .seed = 11, .allow_zero_jacobian = !reads_input && !c.bias});
        CHECK_MESSAGE(report.passed, fmt::format("{}", report));
    }
    CHECK(full >= 10);
    MESSAGE(fmt::format("{} of {} checked with the full Jacobian", full, configs.size()));
}
