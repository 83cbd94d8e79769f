#include "optim/optimizer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "core/kernels/optim.hpp"
#include "graph/tape.hpp"

namespace nalgrad::optim {

ParameterList::ParameterList(std::vector<Var> vars) : vars(std::move(vars)) {}
ParameterList::ParameterList(std::initializer_list<Var> vars) : vars(vars) {}
ParameterList::ParameterList(const Parameters& parameters) : vars(variables(parameters)) {
    for (const auto& p : parameters) names.push_back(p.name);
}

Optimizer::Optimizer(std::string_view name, ParameterList parameters, double lr,
                     std::vector<std::string> buffers)
    : name_(name),
      parameters_(std::move(parameters.vars)),
      names_(std::move(parameters.names)),
      buffer_names_(std::move(buffers)),
      slots_(parameters_.size()),
      lr_(0) {
    set_lr(lr);
    if (parameters_.empty()) fail(name_, "the parameter list is empty");
    std::set<const VarNode*> seen;
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        const Var& p = parameters_[i];
        if (!p.defined()) fail(name_, "parameter {} is an undefined variable", i);
        if (!p.is_leaf())
            fail(name_,
                 "{} is not a leaf (it is the output of '{}'); optimize the leaf it came from",
                 describe(i), p.op_name());
        if (!p.requires_grad())
            fail(name_, "{} does not require a gradient; call requires_grad() on it", describe(i));
        if (!is_floating(p.dtype()))
            fail(name_, "{} is {}; only f32 and f64 parameters can be optimized", describe(i),
                 dtype_name(p.dtype()));
        if (!seen.insert(node_of(p).get()).second)
            fail(name_, "{} appears more than once in the parameter list", describe(i));
    }
}

std::string Optimizer::describe(std::size_t index) const {
    const Shape& shape = parameters_[index].shape();
    if (names_.empty()) return fmt::format("parameter {} {}", index, shape);
    return fmt::format("parameter {} '{}' {}", index, names_[index], shape);
}

void Optimizer::check_option(bool ok, std::string_view what, double value) const {
    if (!ok) fail(name_, "{}, got {}", what, value);
}

void Optimizer::set_lr(double lr) {
    check_option(lr >= 0 && std::isfinite(lr), "the learning rate must be finite and >= 0", lr);
    lr_ = lr;
}

void Optimizer::step() {
    NoGradGuard no_grad;
    // Every parameter is checked before any is updated. The list is reused from step to step, so
    // a steady step allocates nothing.
    thread_local std::vector<kernels::ParameterUpdate> updates;
    updates.clear();
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
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
        updates.push_back(
            {.param = &param, .grad = &grad, .state = slot.buffers.data(), .step = slot.steps + 1});
    }
    if (updates.empty()) return;
    update(updates.data(), updates.size());
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
