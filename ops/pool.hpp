// Max and average pooling over NHWC tensors, per channel. Kernel and stride are independent
// (windows may overlap or leave gaps); padding is VALID, SAME or explicit (core/geometry.hpp).
// The options and tie/border policies are in core/pool_options.hpp.
#pragma once
#include "core/pool_options.hpp"
#include "graph/var.hpp"

namespace nalgrad {

// y[n, r, c, ch] = max of x[n, window(r, c), ch]; padding never wins. Backward sends dy to the
// window's maximum (ties per options.ties); an input that wins several windows gets the sum.
// With options.activation = Activation::relu, y = max(pooled, 0) as one op ("max_pool2d_relu"):
// the same value and gradient as max_pool2d(relu(x)), and its gradient masks dy by [y > 0].
Var max_pool2d(const Var& x, const MaxPool2dOptions& options = {},
               SourceLocation where = SourceLocation::current());
// y[n, r, c, ch] = sum of x[n, window(r, c), ch] / divisor(r, c) (options.border); each element
// of a window receives dy / divisor, summed over the windows it belongs to.
Var avg_pool2d(const Var& x, const AvgPool2dOptions& options = {},
               SourceLocation where = SourceLocation::current());
// y[n, ch] = the mean of x[n, :, :, ch]: NHWC [n, h, w, c] to [n, c], as PyTorch's
// adaptive_avg_pool2d(x, 1) then flatten. An average pool whose window is the whole image, then
// a reshape: each element of x receives dy[n, ch] / (h w).
Var global_avg_pool2d(const Var& x, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
