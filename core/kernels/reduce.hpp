// Reductions: sums over axes, the project's own loops, TBB-parallel, float and double.
// Results have the same bits whatever the number of threads.
#pragma once
#include <vector>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// Sums x over the axes flagged in `reduced` (one flag per axis of x) and multiplies by `scale`
// (mean passes 1/count). The result keeps the summed axes with extent 1.
Tensor sum_keepdims(const Tensor& x, const std::vector<bool>& reduced, double scale = 1);

// The gradient of a broadcast: x summed over the axes along which `shape` was stretched to reach
// x.shape(), so the result has `shape`. Returns x itself (no copy) when the shapes are equal.
// Throws when `shape` does not broadcast to x.shape().
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace nalgrad::kernels
