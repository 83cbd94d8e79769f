// The conv tests' problem, its inputs, conv2d with gradients, the error scale, oneDNN's ISA cap.
#pragma once
#include <cstdlib>
#include <string>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing::conv_runs {

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

// Inputs rounded to float32 once, so float32 and float64 runs see identical values.
inline Tensor random_input(const Shape& shape, Generator& gen) {
    return uniform(shape, -1, 1, f32, gen).astype(f64);
}

struct ConvRun {
    Tensor y, dx, dk, db;
};

// conv2d on x, k, b (b undefined: no bias) in `dtype`, and its gradients for seed dy.
inline ConvRun run_conv(const Tensor& x, const Tensor& k, const Tensor& b, const Tensor& dy,
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
inline double scaled_error(const Tensor& got, const Tensor& want, int64_t terms) {
    return max_abs_diff(got, want) / (2e-6 * static_cast<double>(terms + 1));
}

inline bool isa_capped_to_avx2() {
    const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
    return isa && std::string(isa) == "AVX2";
}

}  // namespace nalgrad::testing::conv_runs
