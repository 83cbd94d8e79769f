// Activations.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// `where`: the caller's line, for anomaly messages (graph/anomaly.hpp); leave it defaulted.
Var relu(const Var& x, std::source_location where = std::source_location::current());
Var sigmoid(const Var& x,
            std::source_location where =
                std::source_location::current());  // 1 / (1 + e^-x), without overflow for large |x|
Var tanh(const Var& x, std::source_location where = std::source_location::current());

}  // namespace nalgrad
