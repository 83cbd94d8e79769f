// Pooling's options and policies (ops/pool.hpp): plain values that the kernels read as well.
#pragma once
#include "core/activation.hpp"
#include "core/geometry.hpp"

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
    // Applied to the pooled output. relu after a max pool equals max pool after relu, in value
    // and gradient, and costs a quarter of the elements for 2x2 windows.
    Activation activation = Activation::none;
};

struct AvgPool2dOptions {
    Size2 kernel = 2;
    Size2 stride = {0, 0};  // {0, 0}: the same as the kernel
    Padding padding = valid;
    AvgBorder border = AvgBorder::exclude_padding;
};

}  // namespace nalgrad
