// Sums and means over all elements or over given axes (negative axes count from the back).
// Without keepdims the reduced axes disappear; with it they stay with extent 1.
#pragma once
#include <vector>

#include "graph/var.hpp"

namespace nalgrad {

Var sum(const Var& x,
        SourceLocation where = SourceLocation::current());  // a rank-0 result
Var sum(const Var& x, std::vector<int> axes, bool keepdims = false,
        SourceLocation where = SourceLocation::current());
Var mean(const Var& x, SourceLocation where = SourceLocation::current());
Var mean(const Var& x, std::vector<int> axes, bool keepdims = false,
         SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
