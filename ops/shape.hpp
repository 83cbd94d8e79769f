// Shape changes.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// A view of x's value with another shape of the same element count; one extent may be -1.
Var reshape(const Var& x, Shape shape, SourceLocation where = SourceLocation::current());
// [mb, ...] to [mb, product of the rest]: what a dense layer after conv layers needs.
Var flatten(const Var& x, SourceLocation where = SourceLocation::current());
// Rows and columns of a 2-D variable swapped (a copy).
Var transpose(const Var& x, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
