// Activations.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

Var relu(const Var& x);
Var sigmoid(const Var& x);  // 1 / (1 + e^-x), without overflow for large |x|
Var tanh(const Var& x);

}  // namespace nalgrad
