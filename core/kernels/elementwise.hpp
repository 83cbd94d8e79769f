// Elementwise kernels: the project's own loops, TBB-parallel, templated over float and double.
#pragma once
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// acc += x (same shape and dtype). The tape's accumulation of gradients.
void add_into(Tensor& acc, const Tensor& x);

}  // namespace nalgrad::kernels

namespace nalgrad::kernels {

Tensor relu(const Tensor& x);
// dx = dy where y > 0, else 0 (the mask comes from the output, so x need not be saved).
Tensor relu_backward(const Tensor& y, const Tensor& dy);

}  // namespace nalgrad::kernels
