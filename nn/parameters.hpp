// Named parameters: what layers expose, optimizers update and checkpoints store.
#pragma once
#include <string>
#include <vector>

#include "graph/var.hpp"

namespace nalgrad {

struct Parameter {
    std::string name;  // "conv1.weight"
    Var var;           // a leaf with requires_grad
};
using Parameters = std::vector<Parameter>;

// The variables alone, in order (for optimizers).
std::vector<Var> variables(const Parameters& parameters);

// Prefixes every name: prefixed("conv1", {{"weight", w}}) gives "conv1.weight".
Parameters prefixed(const std::string& prefix, const Parameters& parameters);

}  // namespace nalgrad
