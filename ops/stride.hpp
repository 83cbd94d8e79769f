// The standalone stride ("skip") step: every s-th row and column, applied after a stride-1
// convolution or pooling (docs/semantics.md).
#pragma once
#include "core/geometry.hpp"
#include "graph/var.hpp"

namespace nalgrad {

// Keeps rows offset.h, offset.h + step.h, ... and columns offset.w, offset.w + step.w, ... of an
// NHWC tensor (Python x[:, oh::sh, ow::sw, :]); output [mb, ceil((xh - oh) / sh),
// ceil((xw - ow) / sw), c]. Backward: kept elements get their output's gradient, dropped ones 0.
Var stride(const Var& x, Size2 step, Size2 offset = {0, 0},
           SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
