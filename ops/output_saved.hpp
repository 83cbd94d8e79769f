// Recording an op whose gradient reads only its output: y = f(x), dx = backward(y, dy) (exp,
// sqrt, softmax, log_softmax; relu, sigmoid and tanh have the same form). Internal: nalgrad.hpp
// does not include it.
#pragma once
#include <string_view>

#include "graph/var.hpp"

namespace nalgrad {

// The kernel that turns the output y and its gradient dy into the input's gradient.
using OutputBackward = Tensor (*)(const Tensor& y, const Tensor& dy);

// Records `op` (a string literal, called at `where`) with output `y` on input `x`, keeping y (a
// handle on its storage, no copy) and `backward` for the gradient, and returns the recorded Var.
// Nothing is kept when the op is not recorded.
Var record_with_output(std::string_view op, const SourceLocation& where, Tensor y, const Var& x,
                       OutputBackward backward);

}  // namespace nalgrad
