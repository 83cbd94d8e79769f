// Modules: a layer, a block or a network is a plain struct whose members are layers; one line names
// them, and every walk of the tree follows those names:
//
//     struct BasicBlock {
//         Conv2d conv1, conv2;
//         BatchNorm2d bn1, bn2;
//         std::optional<Projection> downsample;  // visited when present
//         Var operator()(const Var& x) const;
//         NALGRAD_MODULE(conv1, bn1, conv2, bn2, downsample)
//     };
//     struct ResNet { Conv2d conv1; ...; std::vector<BasicBlock> layer1; ...;
//                     NALGRAD_MODULE(conv1, bn1, layer1, layer2, layer3, fc) };
//
// NALGRAD_MODULE gives the struct, as PyTorch's nn.Module does:
//   parameters()  what is trained, named by path: "layer1.0.conv1.weight"
//   buffers()     what is saved but not trained: "layer1.0.bn1.running_mean"
//   state()       both, parameters first: what a checkpoint stores
//   train(on), eval(), is_training()   the mode of every layer with one (dropout, batch norm)
// Members may be layers, modules, std::vector of either (named "0", "1", ...) or std::optional of
// either. A layer of its own writes visit() by hand and adds NALGRAD_MODULE_METHODS.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/parameters.hpp"

namespace nalgrad {

// What a walk over a module tree sees. Each callback receives the full dotted name.
class ModuleVisitor {
  public:
    virtual ~ModuleVisitor() = default;
    virtual void parameter(const std::string& name, Var& var);
    virtual void buffer(const std::string& name, Tensor& tensor);
    // A layer with a mode (dropout, batch norm) shows its flag; a visitor may change it.
    virtual void mode(const std::string& name, bool& training);

    // Called by visit(): the full name of a member of the module being visited.
    std::string name_of(std::string_view member) const;

    // Visits a child module under `name`: a layer or module, a vector or an optional of them.
    template <typename Module>
    void child(std::string_view name, Module& module);

  private:
    std::string prefix_;  // "layer1.0." inside layer1[0]
};

namespace detail {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

std::vector<std::string> split_names(std::string_view names);

template <typename... Members>
void visit_members(ModuleVisitor& visitor, std::string_view names, Members&... members) {
    const std::vector<std::string> split = split_names(names);
    std::size_t i = 0;
    (visitor.child(split[i++], members), ...);
}

}  // namespace detail

template <typename Module>
void ModuleVisitor::child(std::string_view name, Module& module) {
    if constexpr (detail::IsOptional<Module>::value) {
        if (module) child(name, *module);
    } else {
        const std::string saved = prefix_;
        prefix_ += std::string(name) + ".";
        if constexpr (detail::IsVector<Module>::value) {
            for (std::size_t i = 0; i < module.size(); ++i) child(std::to_string(i), module[i]);
        } else {
            module.visit(*this);
        }
        prefix_ = saved;
    }
}

// The walks behind NALGRAD_MODULE_METHODS, as free functions. They take the module by reference
// to const where they only read: a walk copies handles (Var, Tensor), never the values.
namespace detail {
class ModuleWalk {
  public:
    template <typename Module>
    static void visit(const Module& module, ModuleVisitor& visitor) {
        // visit() is one function for reading and writing walks; reading ones change nothing.
        const_cast<Module&>(module).visit(visitor);
    }
};
Parameters collect_parameters(const std::function<void(ModuleVisitor&)>& walk);
NamedTensors collect_buffers(const std::function<void(ModuleVisitor&)>& walk);
void set_training(const std::function<void(ModuleVisitor&)>& walk, bool on);
bool any_training(const std::function<void(ModuleVisitor&)>& walk);
}  // namespace detail

template <typename Module>
Parameters parameters_of(const Module& module) {
    return detail::collect_parameters(
        [&](ModuleVisitor& v) { detail::ModuleWalk::visit(module, v); });
}
template <typename Module>
NamedTensors buffers_of(const Module& module) {
    return detail::collect_buffers([&](ModuleVisitor& v) { detail::ModuleWalk::visit(module, v); });
}
// Parameters' values then buffers, by name: what save() and load() take.
template <typename Module>
NamedTensors state_of(const Module& module) {
    NamedTensors out = named_values(parameters_of(module));
    for (auto& b : buffers_of(module)) out.push_back(std::move(b));
    return out;
}
template <typename Module>
void set_training(Module& module, bool on) {
    detail::set_training([&](ModuleVisitor& v) { module.visit(v); }, on);
}
// True when any layer with a mode is in training mode (false for a module without modes).
template <typename Module>
bool is_training(const Module& module) {
    return detail::any_training([&](ModuleVisitor& v) { detail::ModuleWalk::visit(module, v); });
}

}  // namespace nalgrad

// The members NALGRAD_MODULE adds; a layer that writes visit() by hand adds them with this.
#define NALGRAD_MODULE_METHODS                  \
    ::nalgrad::Parameters parameters() const {  \
        return ::nalgrad::parameters_of(*this); \
    }                                           \
    ::nalgrad::NamedTensors buffers() const {   \
        return ::nalgrad::buffers_of(*this);    \
    }                                           \
    ::nalgrad::NamedTensors state() const {     \
        return ::nalgrad::state_of(*this);      \
    }                                           \
    void train(bool on = true) {                \
        ::nalgrad::set_training(*this, on);     \
    }                                           \
    void eval() {                               \
        ::nalgrad::set_training(*this, false);  \
    }                                           \
    bool is_training() const {                  \
        return ::nalgrad::is_training(*this);   \
    }

// Names the members that are layers or modules, in the order the walks visit them.
#define NALGRAD_MODULE(...)                                                   \
    void visit(::nalgrad::ModuleVisitor& visitor) {                           \
        ::nalgrad::detail::visit_members(visitor, #__VA_ARGS__, __VA_ARGS__); \
    }                                                                         \
    NALGRAD_MODULE_METHODS
