#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/conv.hpp"
#include "tests/support/reference.hpp"

using namespace nalgrad;

namespace {

// One convolution problem: shapes, options, bias or not.
struct Config {
    int64_t mb = 1, h = 1, w = 1, xchn = 1, ychn = 1, kh = 1, kw = 1;
    Conv2dOptions options;
    bool bias = false;

    Shape x_shape() const { return {mb, h, w, xchn}; }
    Shape k_shape() const { return {kh, kw, xchn, ychn}; }
    std::string str() const {
        const Padding& p = options.padding;
        std::string padding = p == same    ? "same"
                              : p == valid ? "valid"
                                           : fmt::format("{{{}, {}, {}, {}}}", p.top(), p.bottom(),
                                                         p.left(), p.right());
        return fmt::format("x {} k {} stride {}x{} dilation {}x{} padding {}{}", x_shape(),
                           k_shape(), options.stride.h, options.stride.w, options.dilation.h,
                           options.dilation.w, padding, bias ? " bias" : "");
    }
};

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
    // Sizes of upstream oneDNN issue 6035 (rtus workspace overrun with nhwc and IC < 8).
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

// Inputs rounded to float32 once, so float32 and float64 runs see identical values.
Tensor random_input(const Shape& shape, Generator& gen) {
    return uniform(shape, -1, 1, f32, gen).astype(f64);
}

struct ConvRun {
    Tensor y, dx, dk, db;
};

// conv2d on x, k, b (b undefined: no bias) in `dtype`, and its gradients for seed dy.
ConvRun run_conv(const Tensor& x, const Tensor& k, const Tensor& b, const Tensor& dy,
                 const Conv2dOptions& options, DType dtype) {
    Var xv = requires_grad(x.astype(dtype));
    Var kv = requires_grad(k.astype(dtype));
    Var bv = b.defined() ? requires_grad(b.astype(dtype)) : Var{};
    Var y = conv2d(xv, kv, bv, options);
    y.backward(dy.astype(dtype));
    return {y.value(), xv.grad(), kv.grad(), b.defined() ? bv.grad() : Tensor{}};
}

// Largest error relative to the float32 tolerance for sums of `terms` products of values in
// [-1, 1]: above 1 fails.
double scaled_error(const Tensor& got, const Tensor& want, int64_t terms) {
    return max_abs_diff(got, want) / (2e-6 * static_cast<double>(terms + 1));
}

bool isa_capped_to_avx2() {
    const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
    return isa && std::string(isa) == "AVX2";
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

// conv.cpp runs float32 backward-data as a forward convolution of dy with the kernel flipped in
// space and its channels swapped, when the stride and dilation are 1, the padding is at most the
// kernel's extent minus one, and oneDNN picks brgconv for it (AVX-512); otherwise oneDNN's
// backward-data primitive. Either way dx must match the float64 loops.
TEST_CASE("backward-data as a forward convolution of the flipped kernel: where, and exact") {
    // What each geometry may do: never take the forward, may take it, or must on AVX-512.
    enum class Forward { never, may, must_on_avx512 };
    struct Case {
        Config config;
        Forward forward;
    };
    // x [mb, h, w, xchn], k [kh, kw, xchn, ychn], no bias
    const auto geometry = [](int64_t mb, int64_t h, int64_t w, int64_t xchn, int64_t ychn,
                             int64_t kh, int64_t kw, Conv2dOptions options) {
        return Config{mb, h, w, xchn, ychn, kh, kw, options, false};
    };
    const Case cases[] = {
        {geometry(8, 14, 14, 32, 64, 5, 5, {.padding = same}),
         Forward::must_on_avx512},                                            // lenet's conv2
        {geometry(8, 28, 28, 1, 32, 5, 5, {.padding = same}), Forward::may},  // lenet's conv1
        // even kernels: SAME pads more after than before
        {geometry(4, 9, 7, 16, 32, 2, 4, {.padding = same}), Forward::may},
        {geometry(4, 9, 8, 16, 16, 3, 3, {.padding = Padding(0, 2, 1, 0)}), Forward::may},
        {geometry(4, 9, 8, 16, 32, 3, 3, {.padding = valid}), Forward::may},
        // stride 2: the sums differ
        {geometry(4, 9, 8, 16, 32, 3, 3, {.stride = 2, .padding = same}), Forward::never},
        {geometry(4, 9, 8, 16, 32, 3, 3, {.dilation = 2, .padding = same}), Forward::never},
        // padding past the kernel's extent minus one: negative padding
        {geometry(4, 9, 8, 16, 32, 2, 2, {.padding = Padding(2, 0, 0, 0)}), Forward::never},
    };
    const bool brgconv_expected = !isa_capped_to_avx2() && __builtin_cpu_supports("avx512f");
    Generator gen(77);
    for (const Case& test : cases) {
        const Config& c = test.config;
        CAPTURE(c.str());
        const Window2d w = conv2d_window(c.x_shape(), c.k_shape(), c.options);
        const Tensor x = random_input(c.x_shape(), gen), k = random_input(c.k_shape(), gen);
        const Tensor dy = random_input(w.output_shape(c.ychn), gen);
        const int64_t before = kernels::conv2d_cache_stats().backward_data_as_forward;
        const ConvRun got = run_conv(x, k, {}, dy, c.options, f32);
        const bool used = kernels::conv2d_cache_stats().backward_data_as_forward > before;
        const ConvRun want = run_conv(x, k, {}, dy, c.options, f64);
        CHECK(scaled_error(got.dx, want.dx, c.kh * c.kw * c.ychn) <= 1.0);
        if (test.forward == Forward::never || isa_capped_to_avx2()) CHECK_FALSE(used);
        if (test.forward == Forward::must_on_avx512 && brgconv_expected) CHECK(used);
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

TEST_CASE("stride s with the stride-1 SAME padding equals every s-th output of stride 1") {
    // docs/semantics.md: stride(conv2d(x, k, stride 1, SAME), s) equals conv2d(x, k, stride s,
    // explicit = the stride-1 SAME padding), while conv2d(..., stride s, SAME) centres
    // differently.
    Generator gen(17);
    // Rows: 8 inputs, kernel 3. Stride-1 SAME pads 1 on top; stride-2 SAME pads 0 on top.
    Tensor x = random_input({2, 8, 7, 3}, gen), k = random_input({3, 3, 3, 2}, gen);
    const Size2 s{2, 3};
    Tensor dense = conv2d(x, k, {}, {.padding = same}).value();
    const Padding stride1_same =
        conv2d_window(x.shape(), k.shape(), {.padding = same}).explicit_padding();
    Tensor strided = conv2d(x, k, {}, {.stride = s, .padding = stride1_same}).value();
    REQUIRE(strided.shape() == Shape{2, 4, 3, 2});
    double diff = 0;
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t r = 0; r < 4; ++r)
            for (int64_t c = 0; c < 3; ++c)
                for (int64_t o = 0; o < 2; ++o) {
                    const int64_t at = ((n * 4 + r) * 3 + c) * 2 + o;
                    const int64_t from = ((n * 8 + r * s.h) * 7 + c * s.w) * 2 + o;
                    diff = std::max(diff, std::abs(strided.at(at) - dense.at(from)));
                }
    CHECK(diff < 1e-12);
    Tensor strided_same = conv2d(x, k, {}, {.stride = s, .padding = same}).value();
    REQUIRE(strided_same.shape() == strided.shape());
    CHECK(max_abs_diff(strided_same, strided) > 0.1);
}

TEST_CASE("only the gradients that are needed are computed") {
    Generator gen(3);
    Tensor x = random_input({1, 5, 4, 2}, gen), k = random_input({3, 2, 2, 3}, gen);
    Tensor b = random_input({3}, gen), dy = random_input({1, 5, 4, 3}, gen);
    const ConvRun all = run_conv(x, k, b, dy, {.padding = same}, f64);
    for (DType dtype : {f64, f32}) {
        CAPTURE(dtype_name(dtype));
        const double tol = dtype == f64 ? 1e-12 : 1e-5;
        Var xv = x.astype(dtype), kv = requires_grad(k.astype(dtype)), bv = b.astype(dtype);
        conv2d(xv, kv, bv, {.padding = same}).backward(dy.astype(dtype));
        CHECK_FALSE(xv.grad().defined());
        CHECK_FALSE(bv.grad().defined());
        CHECK(max_abs_diff(kv.grad(), all.dk) < tol);

        Var xb = x.astype(dtype), kb = k.astype(dtype), bb = requires_grad(b.astype(dtype));
        conv2d(xb, kb, bb, {.padding = same}).backward(dy.astype(dtype));
        CHECK_FALSE(kb.grad().defined());
        CHECK(max_abs_diff(bb.grad(), all.db) < tol);

        Var xd = requires_grad(x.astype(dtype)), kd = k.astype(dtype);
        conv2d(xd, kd, {}, {.padding = same}).backward(dy.astype(dtype));
        CHECK(max_abs_diff(xd.grad(), all.dx) < tol);
    }
}

TEST_CASE("oneDNN primitives are created once per geometry; weights reordered once per version") {
    Generator gen(8);
    Tensor x = uniform({4, 12, 12, 16}, -1, 1, f32, gen);
    Tensor k = uniform({3, 3, 16, 32}, -1, 1, f32, gen);
    const Conv2dOptions options{.padding = same};
    const auto before = kernels::conv2d_cache_stats();
    Tensor y1 = conv2d(x, k, {}, options).value();
    const auto first = kernels::conv2d_cache_stats();
    CHECK(first.primitive_sets_created == before.primitive_sets_created + 1);
    const int64_t reorders = first.weight_reorders - before.weight_reorders;
    CHECK(reorders <= 1);
    Tensor y2 = conv2d(x, k, {}, options).value();
    const auto second = kernels::conv2d_cache_stats();
    CHECK(second.primitive_sets_created == first.primitive_sets_created);
    CHECK(second.weight_reorders == first.weight_reorders);  // unchanged weights: no reorder
    CHECK(equal(y1, y2));

    // An in-place update that bumps the version (as optimizers do) is seen.
    float* kd = k.data<float>();
    for (int64_t i = 0; i < k.numel(); ++i) kd[i] *= -2;
    k.bump_version();
    Tensor y3 = conv2d(x, k, {}, options).value();
    CHECK(kernels::conv2d_cache_stats().weight_reorders == second.weight_reorders + reorders);
    Tensor y3_direct =
        kernels::conv2d_forward_direct(x, k, {}, conv2d_window(x.shape(), k.shape(), options));
    CHECK(max_abs_diff(y3, y3_direct) < 1e-4);
    MESSAGE(fmt::format("forward weights reordered from HWIO: {}", reorders == 1));
}

TEST_CASE("bad shapes, options and dtypes throw errors naming the op, argument and shapes") {
    Tensor x = zeros({2, 5, 5, 3}), k = zeros({3, 3, 3, 8});
    auto throws = [](auto&& f, const char* words) {
        CHECK_THROWS_WITH_AS(f(), doctest::Contains(words), Error);
    };
    throws([&] { conv2d(zeros({5, 5, 3}), k); }, "conv2d: x must be 4-D NHWC");
    throws([&] { conv2d(zeros({5, 5, 3}), k); }, "x is [5, 5, 3], k is [3, 3, 3, 8]");
    throws([&] { conv2d(x, zeros({3, 3, 8})); }, "conv2d: k must be 4-D HWIO");
    throws(
        [&] {
            conv2d(x, zeros({3, 3, 4, 8}));
        },
        "conv2d: kernel input channels differ from input channels: x is [2, 5, 5, 3], k is "
        "[3, 3, 4, 8]");
    throws([&] { conv2d(x, k, zeros({7})); },
           "conv2d: bias length differs from kernel output channels: b is [7], k is [3, 3, 3, 8]");
    throws([&] { conv2d(x, k, zeros({1, 8})); }, "b is [1, 8]");
    throws([&] { conv2d(x, zeros({6, 3, 3, 8})); }, "larger than the padded input");
    throws([&] { conv2d(x, zeros({6, 3, 3, 8})); }, "k is [6, 3, 3, 8]");
    throws([&] { conv2d(x, k, {}, {.dilation = 3}); }, "kernel extent 7 (kernel 3, dilation 3)");
    throws([&] { conv2d(x, k, {}, {.stride = {0, 1}}); }, "stride must be at least 1");
    throws([&] { conv2d(x, k, {}, {.dilation = {1, 0}}); }, "dilation must be at least 1");
    throws([&] { conv2d(x, k, {}, {.padding = Padding(0, -1, 0, 0)}); },
           "padding must be non-negative");
    throws([&] { conv2d(x, zeros({0, 3, 3, 8})); }, "kernel size must be at least 1");
    throws([&] { conv2d(x, zeros({3, 3, 3, 0})); }, "kernel has no output channels");
    throws([&] { conv2d(x, k.astype(f64)); },
           "conv2d: k is f64 [3, 3, 3, 8] but x is f32 [2, 5, 5, 3]");
    throws([&] { conv2d(x, k, zeros({8}, f64)); },
           "conv2d: b is f64 [8] but x is f32 [2, 5, 5, 3]");
    throws(
        [&] {
            conv2d(zeros({2, 5, 5, 3}, i64), zeros({3, 3, 3, 8}, i64));
        },
        "conv2d: x must be f32 or f64, got i64");
}
