#include "graph/dot.hpp"

#include <unordered_map>
#include <vector>

#include "graph/tape.hpp"

namespace nalgrad {

std::string to_dot(const Var& root) {
    if (!root.defined()) throw Error("to_dot: the variable is undefined");
    std::string out = "digraph nalgrad {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
    std::unordered_map<const VarNode*, int> ids;
    std::vector<VarNode*> stack{node_of(root).get()};
    ids[node_of(root).get()] = 0;
    std::string edges;
    while (!stack.empty()) {
        VarNode* node = stack.back();
        stack.pop_back();
        int id = ids[node];
        const std::string shape = node->shape().str();
        const std::string dtype(dtype_name(node->dtype()));
        if (!node->producer) {
            out += fmt::format("  n{} [shape=ellipse, label=\"{}\\n{} {}\"];\n", id,
                               node->requires_grad ? "param" : "input", dtype, shape);
            continue;
        }
        const TapeRecord& rec = *node->producer;
        out += fmt::format("  n{} [shape=box, style=rounded, label=\"{}{}\\n{} {}\"];\n", id,
                           rec.op, rec.freed ? " (freed)" : "", dtype, shape);
        for (const auto& input : rec.inputs) {
            auto [it, inserted] = ids.try_emplace(input.get(), static_cast<int>(ids.size()));
            if (inserted) stack.push_back(input.get());
            edges += fmt::format("  n{} -> n{};\n", it->second, id);
        }
    }
    return out + edges + "}\n";
}

}  // namespace nalgrad
