// Graph export: the records behind a variable as Graphviz DOT (`dot -Tpng graph.dot -o graph.png`).
#pragma once
#include <string>

#include "graph/var.hpp"

namespace nalgrad {

// One box per op (name, output shape and dtype), one ellipse per leaf (its shape, "param" when
// it requires a gradient), edges in data-flow direction. Walks the records iteratively.
std::string to_dot(const Var& root);

}  // namespace nalgrad
