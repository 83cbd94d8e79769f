// 2-D convolution (docs/semantics.md, conv2d).
#pragma once
#include "core/activation.hpp"
#include "core/geometry.hpp"
#include "graph/var.hpp"

namespace nalgrad {

struct Conv2dOptions {
    Size2 stride = 1;
    Size2 dilation = 1;       // 1: a dense kernel; d leaves d - 1 input pixels between taps
    Padding padding = valid;  // valid, same (SAME_UPPER) or explicit {top, bottom, left, right}
    // Applied to each output as it is written: with Activation::relu, conv2d is one op
    // ("conv2d_relu") whose gradient masks dy by [y > 0].
    Activation activation = Activation::none;
};

// Cross-correlation, as in every framework: x NHWC [mb, xh, xw, xchn], k HWIO
// [kh, kw, xchn, ychn], b [ychn] or undefined (no bias); returns [mb, yh, yw, ychn].
// float32 runs on oneDNN, float64 on the project's direct loops. Gradients for x, k and b.
Var conv2d(const Var& x, const Var& k, const Var& b = {}, const Conv2dOptions& options = {},
           SourceLocation where = SourceLocation::current());

// The window conv2d uses for these shapes (padding resolved, output size). Throws nalgrad::Error
// for the shapes and options conv2d refuses.
Window2d conv2d_window(const Shape& x, const Shape& k, const Conv2dOptions& options);

}  // namespace nalgrad
