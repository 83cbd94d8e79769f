#include "optim/optimizer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "core/kernels/optim.hpp"
#include "graph/tape.hpp"

namespace nalgrad::optim {

ParameterList::ParameterList(std::vector<Var> vars) : vars(std::move(vars)) {}
ParameterList::ParameterList(std::initializer_list<Var> vars) : vars(vars) {}
ParameterList::ParameterList(const Parameters& parameters) : vars(variables(parameters)) {
    for (const auto& p : parameters) names.push_back(p.name);
}

std::vector<ParameterGroup> weight_decay_groups(const Parameters& parameters, double weight_decay) {
    Parameters decayed, not_decayed;
    // An undefined variable has no rank; the optimizer refuses it by its index.
    for (const Parameter& p : parameters)
        (p.var.defined() && p.var.rank() >= 2 ? decayed : not_decayed).push_back(p);
    std::vector<ParameterGroup> groups;
    if (!decayed.empty()) groups.push_back({.parameters = decayed, .weight_decay = weight_decay});
    if (!not_decayed.empty()) groups.push_back({.parameters = not_decayed, .weight_decay = 0.0});
    return groups;
}

Optimizer::Optimizer(std::string_view name, std::vector<ParameterGroup> groups, double lr,
                     double weight_decay, std::vector<std::string> buffers)
    : name_(name), buffer_names_(std::move(buffers)) {
    check_option(lr >= 0 && std::isfinite(lr), "the learning rate must be finite and >= 0", lr);
    check_option(weight_decay >= 0, "weight_decay must be >= 0", weight_decay);
    if (groups.empty()) fail(name_, "the parameter list is empty (no parameter groups)");
    for (std::size_t g = 0; g < groups.size(); ++g)
        add_group(g, groups.size(), groups[g], lr, weight_decay);
    slots_.resize(parameters_.size());
    check_parameters();
}

void Optimizer::add_group(std::size_t index, std::size_t count, ParameterGroup& group, double lr,
                          double weight_decay) {
    std::vector<Var>& vars = group.parameters.vars;
    if (vars.empty()) {
        if (count == 1) fail(name_, "the parameter list is empty");
        fail(name_, "parameter group {} of {} is empty; every group needs a parameter", index,
             count);
    }
    const double group_lr = group.lr.value_or(lr);
    const double group_decay = group.weight_decay.value_or(weight_decay);
    if (!(group_lr >= 0 && std::isfinite(group_lr)))
        fail(name_, "the learning rate of group {} must be finite and >= 0, got {}", index,
             group_lr);
    if (!(group_decay >= 0))
        fail(name_, "the weight_decay of group {} must be >= 0, got {}", index, group_decay);
    std::vector<std::string>& names = group.parameters.names;
    names.resize(vars.size());  // "" for plain variables
    const std::size_t begin = parameters_.size();
    for (std::size_t i = 0; i < vars.size(); ++i) {
        parameters_.push_back(std::move(vars[i]));
        names_.push_back(std::move(names[i]));
    }
    groups_.push_back({.begin = begin,
                       .end = parameters_.size(),
                       .lr = group_lr,
                       .weight_decay = group_decay,
                       .initial_lr = std::nullopt});
}

void Optimizer::check_parameters() const {
    std::map<const VarNode*, std::size_t> group_of;  // each parameter seen so far: its group
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        for (std::size_t i = groups_[g].begin; i < groups_[g].end; ++i) {
            const Var& p = parameters_[i];
            if (!p.defined()) fail(name_, "parameter {} is an undefined variable", i);
            if (!p.is_leaf())
                fail(name_,
                     "{} is not a leaf (it is the output of '{}'); optimize the leaf it came from",
                     describe(i), p.op_name());
            if (!p.requires_grad())
                fail(name_, "{} does not require a gradient; call requires_grad() on it",
                     describe(i));
            if (!is_floating(p.dtype()))
                fail(name_, "{} is {}; only f32 and f64 parameters can be optimized", describe(i),
                     dtype_name(p.dtype()));
            const auto [seen, added] = group_of.emplace(node_of(p).get(), g);
            if (added) continue;
            if (groups_.size() == 1)
                fail(name_, "{} appears more than once in the parameter list", describe(i));
            if (seen->second == g)
                fail(name_, "{} appears more than once in group {}", describe(i), g);
            fail(name_, "{} is in group {} and in group {}; a parameter belongs to one group",
                 describe(i), seen->second, g);
        }
    }
}

std::string Optimizer::describe(std::size_t index) const {
    const Shape& shape = parameters_[index].shape();
    if (names_[index].empty()) return fmt::format("parameter {} {}", index, shape);
    return fmt::format("parameter {} '{}' {}", index, names_[index], shape);
}

void Optimizer::check_option(bool ok, std::string_view what, double value) const {
    if (!ok) fail(name_, "{}, got {}", what, value);
}

std::size_t Optimizer::checked_group(std::string_view function, std::size_t group) const {
    if (group >= groups_.size())
        fail(name_, "{}: group {} is out of range, the optimizer has {} group{}", function, group,
             groups_.size(), groups_.size() == 1 ? "" : "s");
    return group;
}

std::span<const Var> Optimizer::group_parameters(std::size_t group) const {
    const Group& g = groups_[checked_group("group_parameters", group)];
    return std::span<const Var>(parameters_).subspan(g.begin, g.end - g.begin);
}

double Optimizer::lr(std::size_t group) const {
    return groups_[checked_group("lr", group)].lr;
}

double Optimizer::weight_decay(std::size_t group) const {
    return groups_[checked_group("weight_decay", group)].weight_decay;
}

void Optimizer::set_lr(std::size_t group, double lr) {
    checked_group("set_lr", group);
    if (!(lr >= 0 && std::isfinite(lr)))
        fail(name_, "set_lr: the learning rate of group {} must be finite and >= 0, got {}", group,
             lr);
    groups_[group].lr = lr;
}

void Optimizer::set_lr(double lr) {
    check_option(lr >= 0 && std::isfinite(lr), "the learning rate must be finite and >= 0", lr);
    for (Group& group : groups_) group.lr = lr;
}

void Optimizer::step() {
    NoGradGuard no_grad;
    // Every parameter is checked before any is updated. The lists are reused from step to step,
    // so a steady step allocates nothing.
    thread_local std::vector<kernels::ParameterUpdate> updates;
    thread_local std::vector<std::size_t> group_ends;  // group g's: updates[ends[g - 1], ends[g])
    updates.clear();
    group_ends.clear();
    for (const Group& group : groups_) {
        for (std::size_t i = group.begin; i < group.end; ++i) {
            const Tensor& param = parameters_[i].value();
            const Tensor& grad = parameters_[i].grad();
            if (!grad.defined()) continue;
            if (grad.dtype() != param.dtype() || !(grad.shape() == param.shape()))
                fail(name_, "the gradient of {} is {} {}, the parameter is {}", describe(i),
                     dtype_name(grad.dtype()), grad.shape(), dtype_name(param.dtype()));
            Slot& slot = slots_[i];
            if (slot.steps == 0) {
                slot.buffers.clear();
                for (std::size_t b = 0; b < buffer_names_.size(); ++b)
                    slot.buffers.push_back(zeros(param.shape(), param.dtype()));
            }
            updates.push_back({.param = &param,
                               .grad = &grad,
                               .state = slot.buffers.data(),
                               .step = slot.steps + 1});
        }
        group_ends.push_back(updates.size());
    }
    if (updates.empty()) return;
    // One call, so one parallel loop, per group with anything to update.
    std::size_t begin = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        if (group_ends[g] > begin)
            update(updates.data() + begin, group_ends[g] - begin, groups_[g].lr,
                   groups_[g].weight_decay);
        begin = group_ends[g];
    }
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        if (!parameters_[i].grad().defined()) continue;
        ++slots_[i].steps;
        parameters_[i].value().bump_version();
    }
}

void Optimizer::zero_grad(ZeroGrad how) {
    thread_local std::vector<const Tensor*> grads;
    grads.clear();
    for (Var& p : parameters_) {
        if (!p.grad().defined()) continue;
        if (how == ZeroGrad::set_to_none)
            p.zero_grad();
        else
            grads.push_back(&p.grad());
    }
    kernels::fill_zero(grads);
}

State Optimizer::state() const {
    State out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const Slot& slot = slots_[i];
        if (slot.steps == 0) continue;
        for (std::size_t b = 0; b < buffer_names_.size(); ++b)
            out.emplace_back(fmt::format("{}.{}", i, buffer_names_[b]), slot.buffers[b]);
        out.emplace_back(fmt::format("{}.step", i),
                         scalar(static_cast<double>(slot.steps), DType::i64));
    }
    return out;
}

void Optimizer::load_state(const State& state) {
    const std::string op = fmt::format("{}.load_state", name_);
    const std::size_t step_index = buffer_names_.size();  // "step" after the buffers
    // entries[i][b]: the tensor for parameter i, buffer b (b == step_index: the step count).
    std::vector<std::vector<const Tensor*>> entries(
        parameters_.size(), std::vector<const Tensor*>(step_index + 1, nullptr));

    for (const auto& [key, tensor] : state) {
        const std::size_t dot = key.find('.');
        std::size_t index = 0;
        const char* end = key.data() + (dot == std::string::npos ? key.size() : dot);
        auto [last, error] = std::from_chars(key.data(), end, index);
        if (dot == std::string::npos || error != std::errc{} || last != end || dot == 0)
            fail(op, "entry '{}' is not named '<parameter index>.<buffer>'", key);
        if (index >= parameters_.size())
            fail(op, "entry '{}' refers to parameter {}, the optimizer has {} parameters", key,
                 index, parameters_.size());
        const std::string buffer = key.substr(dot + 1);
        const auto found = std::find(buffer_names_.begin(), buffer_names_.end(), buffer);
        const std::size_t b =
            buffer == "step" ? step_index : static_cast<std::size_t>(found - buffer_names_.begin());
        if (b == buffer_names_.size() && buffer != "step") {
            std::vector<std::string> known = buffer_names_;
            known.push_back("step");
            fail(op, "entry '{}': this {} keeps no buffer '{}' (it keeps: {})", key, name_, buffer,
                 fmt::join(known, ", "));
        }
        if (entries[index][b]) fail(op, "entry '{}' appears twice", key);
        if (!tensor.defined()) fail(op, "entry '{}' is an undefined tensor", key);
        if (b == step_index) {
            // 2^53: every whole number up to it is exact in double, and converts to int64. Inf,
            // NaN, 1e30 or 2.5 would make the conversion undefined or the step count a lie.
            constexpr double max_step = 0x1p53;
            const double step = tensor.numel() == 1 ? tensor.item() : 0.0;
            if (!(step >= 1 && step <= max_step && step == std::floor(step)))
                fail(op, "entry '{}' must hold one positive whole number of at most 2^53, got {}",
                     key, tensor);
        } else {
            if (!is_floating(tensor.dtype()) || !(tensor.shape() == parameters_[index].shape()))
                fail(op, "entry '{}' is {} {}, {} is {}", key, dtype_name(tensor.dtype()),
                     tensor.shape(), describe(index), dtype_name(parameters_[index].dtype()));
        }
        entries[index][b] = &tensor;
    }
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        const auto& e = entries[i];
        const bool any = std::any_of(e.begin(), e.end(), [](const Tensor* t) { return t; });
        for (std::size_t b = 0; any && b <= step_index; ++b)
            if (!e[b])
                fail(op, "the state of parameter {} lacks '{}.{}'", i, i,
                     b == step_index ? std::string("step") : buffer_names_[b]);
    }

    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        Slot& slot = slots_[i];
        slot = Slot{};
        if (!entries[i][step_index]) continue;
        slot.steps = static_cast<int64_t>(entries[i][step_index]->item());
        const Tensor& param = parameters_[i].value();
        for (std::size_t b = 0; b < step_index; ++b) {
            Tensor copy(param.shape(), param.dtype());
            copy.copy_(entries[i][b]->astype(param.dtype()));
            slot.buffers.push_back(copy);
        }
    }
}

}  // namespace nalgrad::optim
