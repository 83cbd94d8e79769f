// Var: a tensor value on the tape, with an accumulated gradient.
//
// Every op run while an input requires a gradient appends one record to this thread's tape.
// backward() sweeps the records in reverse recording order, without recursion, and adds each op's
// local input gradients into its inputs' gradients, so a tensor used twice receives both
// contributions. Leaf gradients accumulate across backward() calls until zero_grad(); records are
// freed after backward() unless retain_graph is set. docs/design.md describes the tape.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/source_location.hpp"
#include "core/tensor.hpp"

namespace nalgrad {

struct VarNode;  // the tape's node (graph/tape.hpp, internal)

struct BackwardOptions {
    bool retain_graph = false;  // keep the records so backward() can run through them again
};

class Var {
  public:
    Var() = default;
    Var(Tensor value, bool requires_grad = false);  // NOLINT: a tensor is a constant variable
    // Handles are counted: when the last one to an op's output goes and nothing saved that
    // output, its value is released.
    Var(const Var& other) noexcept;
    Var(Var&& other) noexcept = default;
    Var& operator=(const Var& other) noexcept;
    Var& operator=(Var&& other) noexcept;
    ~Var();

    bool defined() const { return node_ != nullptr; }
    const Tensor& value() const;
    const Tensor& grad() const;  // undefined (defined() false) until a backward reaches it
    bool requires_grad() const;
    Var& set_requires_grad(bool enabled = true);
    bool is_leaf() const;
    // Whether both handles name one variable (Python's `a is b`).
    bool same_as(const Var& other) const { return node_ == other.node_; }

    const Shape& shape() const { return value().shape(); }
    DType dtype() const { return value().dtype(); }
    int rank() const { return value().rank(); }
    int64_t numel() const { return value().numel(); }
    int64_t size(int axis) const { return value().size(axis); }
    double item() const { return value().item(); }

    // Seeds 1 on a scalar (one element); a non-scalar needs the seed gradient given explicitly.
    void backward(BackwardOptions options = {}) const;
    void backward(const Tensor& seed, BackwardOptions options = {}) const;
    void zero_grad();    // forgets the accumulated gradient
    Var detach() const;  // same value, off the tape

    // The op that produced this variable ("leaf" for leaves); for messages and graph export.
    std::string_view op_name() const;

  private:
    explicit Var(std::shared_ptr<VarNode> node) noexcept;
    void drop() noexcept;
    friend struct VarAccess;  // graph/tape.hpp

    std::shared_ptr<VarNode> node_;
};

// A leaf variable holding `value` that requires a gradient (torch's requires_grad_()).
inline Var requires_grad(Tensor value) {
    return Var(std::move(value), true);
}

// Within its scope, this thread records nothing (inference, optimizer updates).
class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};
bool grad_enabled();

// Records currently alive on this thread's tape (for diagnostics).
std::size_t tape_size();

}  // namespace nalgrad
