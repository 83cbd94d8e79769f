// Linear algebra: matrix product and the dense (fully connected) layer.
//   matmul: y = a b;      da = dy b^T,  db = a^T dy
//   dense:  y = x W + b;  dx = dy W^T,  dW = x^T dy,  db = sum of the rows of dy
// Only the gradients some input asks for are computed, and a value is kept for backward only
// when a gradient needs it.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// a: [m, k], b: [k, n] -> [m, n]; both f32 or both f64.
Var matmul(const Var& a, const Var& b, SourceLocation where = SourceLocation::current());

// x: [mb, in], w: [in, out], b: [out] or undefined (no bias) -> [mb, out].
Var dense(const Var& x, const Var& w, const Var& b = {},
          SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
