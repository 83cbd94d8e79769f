// Activations. conv2d and max_pool2d apply relu themselves when asked through their options
// (ops/conv.hpp, ops/pool.hpp); relu(conv2d(...)) is the same value, as two ops.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// `where`: the caller's line, for anomaly messages (graph/anomaly.hpp); leave it defaulted.
Var relu(const Var& x, SourceLocation where = SourceLocation::current());
// 1 / (1 + e^-x), without overflow for large |x|.
Var sigmoid(const Var& x, SourceLocation where = SourceLocation::current());
Var tanh(const Var& x, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
