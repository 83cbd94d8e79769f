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

// A named tensor that is not trained: a layer's buffer (running statistics, step counters), an
// optimizer's state, or a parameter's value as a checkpoint stores it.
struct NamedTensor {
    std::string name;
    Tensor tensor;
};
using NamedTensors = std::vector<NamedTensor>;

// The variables alone, in order (for optimizers).
std::vector<Var> variables(const Parameters& parameters);

// The parameters' values under their names, sharing storage (what save() and load() take).
NamedTensors named_values(const Parameters& parameters);

// Prefixes every name: prefixed("conv1", {{"weight", w}}) gives "conv1.weight".
Parameters prefixed(const std::string& prefix, const Parameters& parameters);

}  // namespace nalgrad
