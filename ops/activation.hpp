// Activations.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// `where`: the caller's line, for anomaly messages (graph/anomaly.hpp); leave it defaulted.
Var relu(const Var& x, SourceLocation where = SourceLocation::current());
// relu(conv2d(...)) runs the relu inside the convolution's forward, when nothing else holds the
// convolution's output; the tape still shows conv2d then relu, and the gradients are the same.
Var relu(Var&& x, SourceLocation where = SourceLocation::current());
Var sigmoid(const Var& x,
            SourceLocation where =
                SourceLocation::current());  // 1 / (1 + e^-x), without overflow for large |x|
Var tanh(const Var& x, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
