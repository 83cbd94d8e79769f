// conv2d's paths (backward-data as forward, cached primitives, needed gradients), strides, errors.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/conv.hpp"
#include "tests/support/conv_runs.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::conv_runs;

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
