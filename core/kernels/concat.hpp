// Joining tensors along one axis, and the slice that undoes it. Shapes and dtypes are checked by
// the op (ops/shape.cpp); these functions trust them.
#pragma once
#include <cstdint>
#include <span>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// y = the parts side by side along `axis` (0 <= axis < rank): every other extent is equal.
Tensor concat(std::span<const Tensor> parts, int axis);
// x's elements with index begin .. begin + extent - 1 along `axis` (a copy).
Tensor slice(const Tensor& x, int axis, int64_t begin, int64_t extent);

}  // namespace nalgrad::kernels
