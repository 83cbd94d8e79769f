// Dropout kernels.
#pragma once
#include "core/random.hpp"
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// The inverted-dropout mask: per element 0 (dropped, probability p) or 1 / (1 - p) (kept), drawn
// serially from `gen` in row-major order, one uniform each (kept when u >= p), so the mask depends
// on the seed only, never on the thread count.
Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator& gen);

// x * mask, elementwise (same shape and dtype).
Tensor apply_mask(const Tensor& x, const Tensor& mask);

}  // namespace nalgrad::kernels
