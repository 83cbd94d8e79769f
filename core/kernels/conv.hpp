// 2-D convolution kernels, NHWC activations and HWIO weights (docs/semantics.md, conv2d).
// The window (padding, stride, dilation, output size) comes resolved from make_window.
//
// float32 runs on oneDNN; float64 on the project's direct loops, which exist for float too
// (the `_direct` functions) so tests can cross-check oneDNN against them. Shapes are checked by
// the op (ops/conv.cpp); these functions trust them.
#pragma once
#include <cstdint>

#include "core/activation.hpp"
#include "core/geometry.hpp"
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// y[n, r, c, o] = b[o] + sum_{i, j, ch} x[n, r*sh + i*dh - pt, c*sw + j*dw - pl, ch] * k[i, j, ch,
// o]; `b` may be undefined (no bias). `activation` is applied to each y element as it is written
// (relu: max(y, 0), NaN kept like kernels::relu), in float32 as a oneDNN post-op when no
// pre-activation can be NaN (conv.cpp).
Tensor conv2d_forward(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                      Activation activation = Activation::none);
// dx: every input element sums dy * k over the outputs and kernel taps that read it.
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& k, const Window2d& w);

struct ConvWeightGrads {
    Tensor dk;  // HWIO, like k
    Tensor db;  // [ychn]; undefined unless asked for
};
// dk[i, j, ch, o] = sum_{n, r, c} dy[n, r, c, o] * x[n, r*sh + i*dh - pt, c*sw + j*dw - pl, ch],
// and db[o] = sum_{n, r, c} dy[n, r, c, o] when with_bias. `kernel_shape` is k's HWIO shape.
ConvWeightGrads conv2d_backward_weights(const Tensor& x, const Tensor& dy,
                                        const Shape& kernel_shape, const Window2d& w,
                                        bool with_bias);
// db alone (the kernel needs no gradient): dy summed over batch, rows and columns.
Tensor conv2d_backward_bias(const Tensor& dy);

// The project's own loops, written from the spec's formulas, for f32 and f64 alike.
Tensor conv2d_forward_direct(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                             Activation activation = Activation::none);
Tensor conv2d_backward_data_direct(const Tensor& dy, const Tensor& k, const Window2d& w);
ConvWeightGrads conv2d_backward_weights_direct(const Tensor& x, const Tensor& dy,
                                               const Shape& kernel_shape, const Window2d& w,
                                               bool with_bias);

// This thread's convolution bookkeeping, for tests: oneDNN primitive sets created (one per
// geometry), user weights reordered into a pass's layout, backward-weights implementations
// passed over because of a known oneDNN defect (conv.cpp), forwards (any dtype) that applied
// a relu to their own output, and float32 backward-data passes run as a forward convolution of
// the flipped kernel (conv.cpp).
struct ConvCacheStats {
    int64_t primitive_sets_created = 0;
    int64_t weight_reorders = 0;
    int64_t defective_implementations_skipped = 0;
    int64_t relu_fused_forwards = 0;
    int64_t backward_data_as_forward = 0;
};
ConvCacheStats conv2d_cache_stats();

}  // namespace nalgrad::kernels
