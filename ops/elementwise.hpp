// Arithmetic on variables. Binary operators broadcast as numpy does (trailing extents aligned,
// extents of 1 and missing leading extents stretch; a rank-0 tensor is a scalar), and their
// gradients are summed back over the stretched axes. Both operands must have the same float
// dtype: mixing f32 and f64 throws (cast one with astype). A double operand takes the dtype of
// the variable.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);

Var operator+(const Var& a, double b);
Var operator-(const Var& a, double b);
Var operator*(const Var& a, double b);
Var operator/(const Var& a, double b);
Var operator+(double a, const Var& b);
Var operator-(double a, const Var& b);
Var operator*(double a, const Var& b);
Var operator/(double a, const Var& b);

Var operator-(const Var& x);

Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var pow(const Var& x, double exponent);

}  // namespace nalgrad
