// Arithmetic on variables. Binary operators broadcast as numpy does (trailing extents aligned,
// extents of 1 and missing leading extents stretch; a rank-0 tensor is a scalar), and their
// gradients are summed back over the stretched axes. Both operands must have the same float
// dtype: mixing f32 and f64 throws (cast one with astype). A double operand takes the dtype of
// the variable.
#pragma once
#include <utility>

#include "graph/var.hpp"

namespace nalgrad {

// An operand of the operators below: a Var, or a Tensor taken as a constant, with the caller's
// source location for anomaly messages (graph/anomaly.hpp). An operator cannot take a defaulted
// SourceLocation parameter as the other ops do, but the converting constructor that turns
// each operand into a LocatedVar can, and its default argument is evaluated at the expression
// `a + b` in the caller. Users never name this type: they write Vars and Tensors.
struct LocatedVar {
    LocatedVar(const Var& var,  // NOLINT: implicit, so `a + b` takes Vars
               SourceLocation where = SourceLocation::current())
        : var(var), where(where) {}
    LocatedVar(Tensor value,  // NOLINT: implicit, so `a + b` takes Tensors as constants
               SourceLocation where = SourceLocation::current())
        : var(std::move(value)), where(where) {}

    Var var;
    SourceLocation where;
};

Var operator+(const LocatedVar& a, const LocatedVar& b);
Var operator-(const LocatedVar& a, const LocatedVar& b);
Var operator*(const LocatedVar& a, const LocatedVar& b);
Var operator/(const LocatedVar& a, const LocatedVar& b);

Var operator+(const LocatedVar& a, double b);
Var operator-(const LocatedVar& a, double b);
Var operator*(const LocatedVar& a, double b);
Var operator/(const LocatedVar& a, double b);
Var operator+(double a, const LocatedVar& b);
Var operator-(double a, const LocatedVar& b);
Var operator*(double a, const LocatedVar& b);
Var operator/(double a, const LocatedVar& b);

Var operator-(const LocatedVar& x);

Var exp(const Var& x, SourceLocation where = SourceLocation::current());
Var log(const Var& x, SourceLocation where = SourceLocation::current());
Var sqrt(const Var& x, SourceLocation where = SourceLocation::current());
Var pow(const Var& x, double exponent, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
