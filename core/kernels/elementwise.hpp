// Elementwise kernels: the project's own loops, TBB-parallel, templated over float and double.
// They check dtypes and shapes themselves (an op may rely on that) and name `op` in errors.
#pragma once
#include <string_view>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// acc += x (same shape and dtype). The tape's accumulation of gradients.
void add_into(Tensor& acc, const Tensor& x);

// The numpy broadcast of two shapes: trailing extents aligned, an extent of 1 (or a missing
// leading one) stretches to the other. Throws "<op>: shapes cannot broadcast: a is .., b is ..".
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

enum class BinaryOp { add, sub, mul, div };
std::string_view name_of(BinaryOp op);  // "add", "sub", "mul", "div"

// a (op) b with broadcasting; both f32 or both f64.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

// x stretched to `shape` (which x must broadcast to), times `scale` (mean's gradient uses it).
Tensor broadcast_to(const Tensor& x, const Shape& shape, double scale = 1);

// 2-D transpose (a copy).
Tensor transpose(const Tensor& x);

// Unary maps and their gradients dx = dy * f'(x). Each gradient takes whichever of x and
// y = f(x) gives f' directly, so an op saves only that one.
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor exp_backward(const Tensor& y, const Tensor& dy);  // dy * y
Tensor log(const Tensor& x);
Tensor log_backward(const Tensor& x, const Tensor& dy);  // dy / x
Tensor sqrt(const Tensor& x);
Tensor sqrt_backward(const Tensor& y, const Tensor& dy);  // dy / (2 y)
Tensor pow(const Tensor& x, double exponent);
Tensor pow_backward(const Tensor& x, double exponent, const Tensor& dy);  // dy p x^(p-1)
// max(x, 0); NaN stays NaN. `finite`: the caller knows x holds no NaN or Inf (a pooled output
// whose input was scanned), so a float32 relu on oneDNN need not scan it again.
Tensor relu(const Tensor& x, bool finite = false);
// dx = dy where y > 0, else 0, also where y is NaN (the mask comes from the output, so x need not
// be saved).
Tensor relu_backward(const Tensor& y, const Tensor& dy);
Tensor sigmoid(const Tensor& x);                             // stable for large |x|
Tensor sigmoid_backward(const Tensor& y, const Tensor& dy);  // dy y (1 - y)
Tensor tanh(const Tensor& x);
Tensor tanh_backward(const Tensor& y, const Tensor& dy);  // dy (1 - y^2)

}  // namespace nalgrad::kernels
