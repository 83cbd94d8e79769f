#include "nn/parameters.hpp"

namespace nalgrad {

std::vector<Var> variables(const Parameters& parameters) {
    std::vector<Var> out;
    out.reserve(parameters.size());
    for (const auto& p : parameters) out.push_back(p.var);
    return out;
}

NamedTensors named_values(const Parameters& parameters) {
    NamedTensors out;
    out.reserve(parameters.size());
    for (const auto& p : parameters) out.push_back({p.name, p.var.value()});
    return out;
}

Parameters prefixed(const std::string& prefix, const Parameters& parameters) {
    Parameters out;
    out.reserve(parameters.size());
    for (const auto& p : parameters) out.push_back({prefix + "." + p.name, p.var});
    return out;
}

}  // namespace nalgrad
