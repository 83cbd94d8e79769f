#include "nn/module.hpp"

namespace nalgrad {

void ModuleVisitor::parameter(const std::string&, Var&) {}
void ModuleVisitor::buffer(const std::string&, Tensor&) {}
void ModuleVisitor::mode(const std::string&, bool&) {}

std::string ModuleVisitor::name_of(std::string_view member) const {
    return prefix_ + std::string(member);
}

namespace detail {

std::vector<std::string> split_names(std::string_view names) {
    std::vector<std::string> out;
    std::string current;
    for (char c : names) {
        if (c == ',') {
            out.push_back(current);
            current.clear();
        } else if (c != ' ' && c != '\t' && c != '\n') {
            current += c;
        }
    }
    out.push_back(current);
    return out;
}

Parameters collect_parameters(const std::function<void(ModuleVisitor&)>& walk) {
    struct Collect : ModuleVisitor {
        Parameters found;
        void parameter(const std::string& name, Var& var) override { found.push_back({name, var}); }
    } collect;
    walk(collect);
    return std::move(collect.found);
}

NamedTensors collect_buffers(const std::function<void(ModuleVisitor&)>& walk) {
    struct Collect : ModuleVisitor {
        NamedTensors found;
        void buffer(const std::string& name, Tensor& tensor) override {
            found.push_back({name, tensor});
        }
    } collect;
    walk(collect);
    return std::move(collect.found);
}

void set_training(const std::function<void(ModuleVisitor&)>& walk, bool on) {
    struct Set : ModuleVisitor {
        bool on = true;
        void mode(const std::string&, bool& training) override { training = on; }
    } set;
    set.on = on;
    walk(set);
}

bool any_training(const std::function<void(ModuleVisitor&)>& walk) {
    struct Any : ModuleVisitor {
        bool found = false;
        void mode(const std::string&, bool& training) override { found = found || training; }
    } any;
    walk(any);
    return any.found;
}

}  // namespace detail
}  // namespace nalgrad
