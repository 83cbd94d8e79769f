// Var: a tensor value on the tape, with an accumulated gradient.
//
// Every op run while an input requires a gradient appends one record to this thread's tape (op
// name, inputs, outputs, the gradient function and what it saved). backward() sweeps the records
// in reverse recording order, without recursion. The tape owns accumulation: each op returns only
// its local input gradients, and the tape adds them into the inputs' gradients, so a tensor used
// twice receives both contributions. Leaf gradients accumulate across backward() calls until
// zero_grad(); records are freed after backward() unless retain_graph is set.
//
// Deferred forwards (fusion). An op whose kernel can apply the activation that follows it
// (conv2d, then relu) records its output with record_deferred(): all checks run at the call, but
// the forward itself runs at the first read of a variable's value on this thread (any variable:
// so the inputs it captured cannot change meanwhile), unless the next op takes the output over
// first with run_deferred_fused(), which runs it with the activation folded in.
#pragma once
#include <atomic>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/block_pool.hpp"
#include "core/fused_activation.hpp"
#include "core/tensor.hpp"
#include "graph/anomaly.hpp"
#include "graph/backward_fn.hpp"

namespace nalgrad {

struct TapeRecord;

// An output's forward that has not run yet (record_deferred). The op's callable lives in the
// (pooled) object itself, so deferring allocates nothing once warm.
struct DeferredForward {
    std::mutex running;  // concurrent reads of one variable stay safe: one runs the forward
    virtual ~DeferredForward() = default;
    virtual bool has_run() const = 0;
    // Computes the value (with `activation` applied) and releases what the callable captured.
    virtual Tensor run(FusedActivation activation) = 0;
};

template <typename F>
struct DeferredForwardOf final : DeferredForward {
    std::optional<F> forward;  // empty once it has run
    explicit DeferredForwardOf(F f) : forward(std::move(f)) {}
    bool has_run() const override { return !forward; }
    Tensor run(FusedActivation activation) override {
        Tensor value = (*forward)(activation);  // may throw: it then stays deferred
        forward.reset();
        return value;
    }
};

// A node's value lives as long as something can read it. Records hold their inputs' nodes (to
// route gradients), but not for their values: what a gradient function needs, it saved itself. So
// once no Var handle reaches an op's output and no other tensor shares its storage, the value is
// released, as PyTorch frees an intermediate that no gradient function saved (a conv2d output
// taken by relu, a relu output taken by max_pool2d). Nobody can then read or modify it in place,
// so the version check has nothing to guard, and its shape and dtype stay on its producer's record.
struct VarNode {
    Tensor value;  // undefined while `pending` or once released: read it through computed_value()
    Tensor grad;   // undefined until a backward reaches this variable
    bool requires_grad = false;
    bool released = false;                      // the value was released (see above)
    std::atomic<int32_t> handles{0};            // Var handles on this node
    std::shared_ptr<TapeRecord> producer;       // null for leaves
    std::thread::id tape_thread;                // whose tape holds `producer`
    std::atomic<bool> pending{false};           // `deferred` has not run yet
    std::shared_ptr<DeferredForward> deferred;  // from the block pool

    const Tensor& computed_value() {
        if (pending.load(std::memory_order_acquire)) run_deferred(FusedActivation::none);
        return value;
    }
    // Runs the deferred forward unless it has run; false when it had.
    bool run_deferred(FusedActivation activation);
    // Also once the value is released.
    const Shape& shape();
    DType dtype();
    // Releases the value if it is an op's output that no handle reaches and no other tensor
    // shares; `shared_ok`: also when another tensor shares it (the caller knows that one is
    // unreachable too).
    void release_unreachable_value(bool shared_ok = false) noexcept;
};

struct BackwardOptions {
    bool retain_graph = false;  // keep the records so backward() can run through them again
};

class Var {
  public:
    Var() = default;
    Var(Tensor value, bool requires_grad = false);  // NOLINT: a tensor is a constant variable
    // Handles are counted (VarNode::handles): the last one gone may release an op's output.
    Var(const Var& other) noexcept : node_(other.node_) { acquire(); }
    Var(Var&& other) noexcept = default;
    Var& operator=(const Var& other) noexcept {
        Var copy(other);
        node_.swap(copy.node_);
        return *this;
    }
    Var& operator=(Var&& other) noexcept {
        if (this != &other) {
            drop();
            node_ = std::move(other.node_);
        }
        return *this;
    }
    ~Var() { drop(); }

    bool defined() const { return node_ != nullptr; }
    const Tensor& value() const;
    const Tensor& grad() const;  // undefined (defined() false) until a backward reaches it
    bool requires_grad() const { return node_ && node_->requires_grad; }
    Var& set_requires_grad(bool enabled = true);
    bool is_leaf() const { return !node_ || !node_->producer; }

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
    const std::shared_ptr<VarNode>& node() const { return node_; }

  private:
    explicit Var(std::shared_ptr<VarNode> node) : node_(std::move(node)) { acquire(); }
    void acquire() const noexcept {
        if (node_) node_->handles.fetch_add(1, std::memory_order_relaxed);
    }
    void drop() noexcept;
    friend struct DeferredOutputs;  // graph/var.cpp: makes a variable whose value is not computed

    std::shared_ptr<VarNode> node_;
};

// Nodes and records live in a recycling pool (core/block_pool.hpp), and their lists inline, so
// that recording an op allocates nothing once a first step has run.
struct TapeRecord {
    std::string_view op;  // a string literal
    InlineVector<std::shared_ptr<VarNode>, 3> inputs;
    InlineVector<std::weak_ptr<VarNode>, 1> outputs;
    InlineVector<Shape, 1> output_shapes;
    DType output_dtype = f32;
    Needed needed;                             // which inputs want a gradient
    InlineVector<uint64_t, 3> input_versions;  // to detect in-place changes before backward
    BackwardFn backward;                       // released when the record is freed
    uint64_t sequence = 0;                     // place on the tape
    SourceLocation where;                      // the user's call (graph/anomaly.hpp), or line 0
    bool freed = false;

    TapeRecord();  // user-provided: allocate_shared would otherwise zero all ~800 bytes first
    TapeRecord(const TapeRecord&) = delete;
    TapeRecord& operator=(const TapeRecord&) = delete;
    ~TapeRecord();  // releases a long chain of records iteratively: no deep recursion
};

// True when an op on these inputs must be recorded: grad mode is on and one of them needs a
// gradient. Ops use it to skip saving tensors that backward would need.
bool recording(std::initializer_list<Var> inputs);

// Wraps `output` in a Var and, when recording, appends its record to this thread's tape. `op` must
// be a string literal.
Var record(std::string_view op, Tensor output, std::initializer_list<Var> inputs,
           BackwardFn backward);

// The ops' entry: a gradient lambda must fit BackwardFn's inline buffer, so that recording does not
// allocate. (Wrap a larger callable in BackwardFn explicitly to accept that it is kept on the
// heap.)
template <typename F>
requires(!std::is_same_v<std::remove_cvref_t<F>, BackwardFn> &&
         std::is_invocable_r_v<Grads, std::decay_t<F>&, const Grads&, const Needed&>) Var
    record(std::string_view op, Tensor output, std::initializer_list<Var> inputs, F&& backward) {
    static_assert(BackwardFn::fits_inline<std::decay_t<F>>,
                  "the gradient lambda captures more than BackwardFn::inline_size bytes");
    return record(op, std::move(output), inputs, BackwardFn(std::forward<F>(backward)));
}

// record() for an output of this shape and dtype whose value `forward` computes later (see the top
// of this file). With anomaly detection on, it runs at once, so the forward checks name this op.
Var record_deferred(std::string_view op, Shape shape, DType dtype,
                    std::shared_ptr<DeferredForward> forward, std::initializer_list<Var> inputs,
                    BackwardFn backward);
// The same for a callable `forward(FusedActivation) -> Tensor`.
template <typename F>
Var record_deferred(std::string_view op, Shape shape, DType dtype, F&& forward,
                    std::initializer_list<Var> inputs, BackwardFn backward) {
    using Deferred = DeferredForwardOf<std::decay_t<F>>;
    std::shared_ptr<DeferredForward> deferred =
        std::allocate_shared<Deferred>(detail::PoolAllocator<Deferred>{}, std::forward<F>(forward));
    return record_deferred(op, std::move(shape), dtype, std::move(deferred), inputs,
                           std::move(backward));
}

// When `x` holds the only handle to an output whose forward has not run yet (so nobody can read
// what that output would have held), runs that forward with `activation` applied, stores the
// result as the output's value and returns it. Otherwise returns an undefined tensor. The caller
// records the activation as its own op on `x`, so the tape still shows both ops.
Tensor run_deferred_fused(const Var& x, FusedActivation activation);

// The record that produced `x`, when `x` holds the only handle to its variable: no recorded op
// has taken the variable as an input, and none can later, so an op recording `x` as its input is
// its only consumer and may fold the producer's gradient into its own. Null for a leaf, a freed
// record, or under anomaly detection (which checks each op's gradient on its own).
TapeRecord* producer_of_expiring(const Var& x);

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

// Records currently alive on this thread's tape (for tests and diagnostics).
std::size_t tape_size();

}  // namespace nalgrad
