// Max and average pooling over NHWC tensors, per channel. Kernel and stride are independent
// (windows may overlap or leave gaps); padding is VALID, SAME or explicit (core/geometry.hpp).
#pragma once
#include "core/geometry.hpp"
#include "graph/var.hpp"

namespace nalgrad {

// Where max pooling's gradient goes when the maximum appears at several positions of a window.
enum class TiePolicy {
    first,  // all of it to the first maximum in row-major window order (oneDNN, PyTorch)
    all,    // every tied element receives the full output gradient
    split,  // divided equally among the tied elements
};

// What average pooling divides by where a window overlaps padding.
enum class AvgBorder {
    exclude_padding,  // the number of real input pixels in the window
    include_padding,  // kernel_h * kernel_w
};

struct MaxPool2dOptions {
    Size2 kernel = 2;
    Size2 stride = {0, 0};  // {0, 0}: the same as the kernel
    Padding padding = valid;
    TiePolicy ties = TiePolicy::first;
};

struct AvgPool2dOptions {
    Size2 kernel = 2;
    Size2 stride = {0, 0};  // {0, 0}: the same as the kernel
    Padding padding = valid;
    AvgBorder border = AvgBorder::exclude_padding;
};

// y[n, r, c, ch] = max of x[n, window(r, c), ch]; padding never wins. Backward sends dy to the
// window's maximum (ties per options.ties); an input that wins several windows gets the sum.
Var max_pool2d(const Var& x, const MaxPool2dOptions& options = {},
               SourceLocation where = SourceLocation::current());
// max_pool2d(relu(...)): when nothing else holds the relu's output, the relu's gradient mask is
// applied to this op's output gradient (a quarter of the elements for 2x2 windows) instead of in
// a pass of its own; the tape still shows relu then max_pool2d, and the gradients are the same.
Var max_pool2d(Var&& x, const MaxPool2dOptions& options = {},
               SourceLocation where = SourceLocation::current());
// y[n, r, c, ch] = sum of x[n, window(r, c), ch] / divisor(r, c) (options.border); each element
// of a window receives dy / divisor, summed over the windows it belongs to.
Var avg_pool2d(const Var& x, const AvgPool2dOptions& options = {},
               SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
