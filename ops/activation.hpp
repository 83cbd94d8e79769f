// Activations.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

Var relu(const Var& x);

}  // namespace nalgrad
