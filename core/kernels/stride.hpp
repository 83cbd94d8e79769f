// Kernels of the stride (skip) op: keep every step-th row and column of an NHWC tensor.
#pragma once
#include "core/geometry.hpp"
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// y = x[:, offset.h::step.h, offset.w::step.w, :] (arguments already checked by the op).
Tensor stride_forward(const Tensor& x, Size2 step, Size2 offset);
// dx of input shape `x_shape`: zeros, with dy scattered back to the kept positions.
Tensor stride_backward(const Tensor& dy, const Shape& x_shape, Size2 step, Size2 offset);

}  // namespace nalgrad::kernels
