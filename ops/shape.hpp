// Shape changes.
#pragma once
#include <vector>

#include "graph/var.hpp"

namespace nalgrad {

// A view of x's value with another shape of the same element count; one extent may be -1.
Var reshape(const Var& x, Shape shape, SourceLocation where = SourceLocation::current());
// [mb, ...] to [mb, product of the rest]: what a dense layer after conv layers needs.
Var flatten(const Var& x, SourceLocation where = SourceLocation::current());
// Rows and columns of a 2-D variable swapped (a copy).
Var transpose(const Var& x, SourceLocation where = SourceLocation::current());
// The parts side by side along `axis` (negative counts from the back: -1 is NHWC's channels), as
// torch.cat: one dtype, every other extent equal. Each part's gradient is its slice of dy.
Var concat(const std::vector<Var>& parts, int axis,
           SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
