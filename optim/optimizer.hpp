// Optimizers: the base class that SGD, Adam, AdamW and RMSprop share.
//
// An optimizer holds the parameters (leaf variables that require a gradient) in one or more
// groups, and, per parameter, its state: named buffers of the parameter's shape and the count of
// updates it received. step() updates every parameter whose gradient is defined, in place (the
// storage shared with the Var), with no tape recording, and bumps its version so caches of
// reordered weights notice. Parameters that never received a gradient are skipped, as in PyTorch.
//
// Groups are PyTorch's param_groups: each has its own learning rate and weight decay (unset: the
// optimizer's option), the other options are shared. The usual use keeps weight decay off biases
// and batch-norm parameters (weight_decay_groups below). Parameters are numbered over all groups
// in group order, as PyTorch's state_dict numbers them; state() and load_state use these numbers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/var.hpp"
#include "nn/parameters.hpp"

namespace nalgrad::kernels {
struct ParameterUpdate;  // core/kernels/optim.hpp
}

namespace nalgrad::optim {

// Named state tensors, "<parameter index>.<buffer>": "0.momentum_buffer", "0.step" (an i64 scalar,
// the updates parameter 0 received). Parameters not updated yet have no entries.
using State = std::vector<std::pair<std::string, Tensor>>;

// What zero_grad does with a defined gradient. PyTorch 1.13's default fills zeros in place, so the
// storage is reused and a parameter whose gradient stays zero is still decayed and carried by
// momentum; set_to_none frees it, and the next step skips the parameter unless a backward reaches
// it.
enum class ZeroGrad { fill_zeros, set_to_none };

// What an optimizer is given: plain variables, or named Parameters (whose names appear in errors).
struct ParameterList {
    ParameterList(std::vector<Var> vars);            // NOLINT: implicit by design
    ParameterList(std::initializer_list<Var> vars);  // NOLINT
    ParameterList(const Parameters& parameters);     // NOLINT
    std::vector<Var> vars;
    std::vector<std::string> names;  // empty, or one per variable
};

// One of PyTorch's param_groups: parameters with their own learning rate and weight decay, each
// the optimizer's option when unset. Every group needs at least one parameter, and a parameter
// belongs to one group only.
//   optim::SGD sgd({{.parameters = weights, .weight_decay = 5e-4}, {.parameters = biases}}, ...);
struct ParameterGroup {
    ParameterList parameters;
    std::optional<double> lr = std::nullopt;
    std::optional<double> weight_decay = std::nullopt;
};

// Two groups as PyTorch users build them by hand: the parameters of rank >= 2 (convolution and
// dense weights) with `weight_decay`, those of rank <= 1 (biases, batch-norm scales and shifts)
// with none. Each keeps the parameters' order; a group that would be empty is left out. The
// parameters are then numbered weights first, so an optimizer's state saved with these groups
// loads into an optimizer built with them again, not into one given the plain list.
std::vector<ParameterGroup> weight_decay_groups(const Parameters& parameters, double weight_decay);

class Optimizer {
  public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    void step();
    void zero_grad(ZeroGrad how = ZeroGrad::fill_zeros);

    std::size_t group_count() const { return groups_.size(); }
    // The parameters of a group, in order; parameters() holds all groups' one after another.
    std::span<const Var> group_parameters(std::size_t group) const;
    double lr(std::size_t group) const;
    double weight_decay(std::size_t group) const;
    void set_lr(std::size_t group, double lr);  // throws for lr < 0 or not finite
    // Group 0's learning rate, and setting every group's to one value (their ratios are lost; a
    // schedule sets each group's from its own base instead).
    double lr() const { return groups_.front().lr; }
    void set_lr(double lr);

    const std::vector<Var>& parameters() const { return parameters_; }
    std::string_view name() const { return name_; }

    // The state tensors share storage with the optimizer's own (no copy); load_state copies.
    State state() const;
    // Replaces the whole state. Validates everything before changing anything: names must be
    // "<index>.<buffer>" with a known buffer and an index in range, shapes must match the
    // parameter, and a parameter with any entry needs all of them. Parameters without entries
    // start afresh. Buffers are converted to the parameter's dtype.
    void load_state(const State& state);

  protected:
    // `lr` and `weight_decay`: the options, for groups that set none. `buffers`: the state this
    // configuration keeps per parameter (e.g. {"exp_avg", "exp_avg_sq"}).
    Optimizer(std::string_view name, std::vector<ParameterGroup> groups, double lr,
              double weight_decay, std::vector<std::string> buffers);

    // Updates, in place, the `count` parameters of one group that have a gradient this step, all
    // in one call (the kernels run them as one parallel loop), with the group's learning rate and
    // weight decay. Each entry's state is its buffers in the constructor's order, zeros before its
    // first update; its step counts this update, from 1.
    virtual void update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                        double weight_decay) = 0;

    // For option checks: fail(name(), ...) with the optimizer's name.
    void check_option(bool ok, std::string_view what, double value) const;

  private:
    friend class LRSchedule;

    struct Slot {
        int64_t steps = 0;  // 0: no state yet
        std::vector<Tensor> buffers;
    };
    struct Group {
        std::size_t begin = 0, end = 0;  // its parameters: parameters_[begin, end)
        double lr = 0;
        double weight_decay = 0;
        std::optional<double> initial_lr;  // set by the first schedule attached (PyTorch's)
    };

    void add_group(std::size_t index, std::size_t count, ParameterGroup& group, double lr,
                   double weight_decay);
    void check_parameters() const;
    std::size_t checked_group(std::string_view function, std::size_t group) const;
    std::string describe(std::size_t index) const;  // "parameter 1 'fc.weight' [2, 3]"

    std::string name_;
    std::vector<Var> parameters_;
    std::vector<std::string> names_;  // one per parameter, "" where given a plain variable
    std::vector<Group> groups_;
    std::vector<std::string> buffer_names_;
    std::vector<Slot> slots_;
};

}  // namespace nalgrad::optim
