// The tape's internals, for ops and the library's own code (not installed): the node behind a
// Var, the record an op leaves, and record(), which ops call to put themselves on the tape.
//
// An op computes its output, then calls record() with its inputs and its gradient function. When
// grad mode is on and an input requires a gradient, record() appends one TapeRecord to this
// thread's tape; backward() (graph/var.cpp) sweeps the records in reverse and never calls into
// op code except those gradient functions.
#pragma once
#include <atomic>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/block_pool.hpp"
#include "core/source_location.hpp"
#include "core/tensor.hpp"
#include "graph/backward_fn.hpp"
#include "graph/var.hpp"

namespace nalgrad {

struct TapeRecord;

// A node's value lives as long as something can read it. Records hold their inputs' nodes (to
// route gradients), but not for their values: what a gradient function needs, it saved itself. So
// once no Var handle reaches an op's output and no other tensor shares its storage, the value is
// released, as PyTorch frees an intermediate that no gradient function saved. Nobody can then read
// or modify it in place, so the version check has nothing to guard, and its shape and dtype stay
// on its producer's record.
struct VarNode {
    Tensor value;  // undefined once released
    Tensor grad;   // undefined until a backward reaches this variable
    bool requires_grad = false;
    bool released = false;                 // the value was released (see above)
    std::atomic<int32_t> handles{0};       // Var handles on this node
    std::shared_ptr<TapeRecord> producer;  // null for leaves
    std::thread::id tape_thread;           // whose tape holds `producer`

    // Also once the value is released.
    const Shape& shape() const;
    DType dtype() const;
    // Releases the value if it is an op's output that no handle reaches and no other tensor
    // shares.
    void release_unreachable_value() noexcept;
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
    uint64_t reached = 0;                      // the last backward() that can reach it
    SourceLocation where;                      // the user's call, or line 0
    bool freed = false;

    TapeRecord();  // user-provided: allocate_shared would otherwise zero all ~800 bytes first
    TapeRecord(const TapeRecord&) = delete;
    TapeRecord& operator=(const TapeRecord&) = delete;
    ~TapeRecord();  // releases a long chain of records iteratively: no deep recursion
};

// The node behind a handle, for the library's internals (graph export, optimizers, tests).
struct VarAccess {
    static const std::shared_ptr<VarNode>& node(const Var& v) { return v.node_; }
};
inline const std::shared_ptr<VarNode>& node_of(const Var& v) {
    return VarAccess::node(v);
}

// This thread's tape: weak references to its records in recording order (graph/var.cpp).
struct Tape {
    std::vector<std::weak_ptr<TapeRecord>> records;
    uint64_t next_sequence = 0;
    std::size_t compact_at = 1024;

    // Drops entries whose records died (their outputs went out of scope) or were freed (the sweep
    // empties those), so the tape does not grow without bound in loops that never call backward().
    void compact();
};
Tape& this_thread_tape();

// The sweep (graph/backward.cpp): seeds `root` with `seed` (taken, not copied, when nobody else
// holds it) and back-propagates through this thread's tape. Refuses a root recorded on another
// thread. A failure leaves every gradient as it was (graph/backward.cpp says what else).
void run_backward(const std::shared_ptr<VarNode>& root, Tensor seed, BackwardOptions options);
// A leaf's gradient, changed under the leaf's lock (threads may share a leaf).
void add_to_leaf_gradient(VarNode& leaf, Tensor&& contribution);
void clear_leaf_gradient(VarNode& leaf);

// True when an op on these inputs must be recorded: grad mode is on and one of them needs a
// gradient. Ops use it to skip saving tensors that backward would need.
bool recording(std::span<const Var> inputs);
inline bool recording(std::initializer_list<Var> inputs) {
    return recording(std::span<const Var>(inputs.begin(), inputs.size()));
}

// Wraps `output` in a Var and, when recording, appends its record to this thread's tape. `op` must
// be a string literal; `where` is the user's call, which every public op takes as its trailing
// `SourceLocation where = SourceLocation::current()` (a default argument is evaluated in the
// caller) and hands on: an op built from other ops passes its own `where` to them, so that all
// its records name the user's line in anomaly messages.
Var record(std::string_view op, const SourceLocation& where, Tensor output,
           std::span<const Var> inputs, BackwardFn backward);
inline Var record(std::string_view op, const SourceLocation& where, Tensor output,
                  std::initializer_list<Var> inputs, BackwardFn backward) {
    return record(op, where, std::move(output), std::span<const Var>(inputs.begin(), inputs.size()),
                  std::move(backward));
}

// The ops' entry: a gradient lambda must fit BackwardFn's inline buffer, so that recording does not
// allocate. (Wrap a larger callable in BackwardFn explicitly to accept that it is kept on the
// heap.)
template <typename F>
requires(!std::is_same_v<std::remove_cvref_t<F>, BackwardFn> &&
         std::is_invocable_r_v<Grads, std::decay_t<F>&, const Grads&, const Needed&>) Var
    record(std::string_view op, const SourceLocation& where, Tensor output,
           std::initializer_list<Var> inputs, F&& backward) {
    static_assert(BackwardFn::fits_inline<std::decay_t<F>>,
                  "the gradient lambda captures more than BackwardFn::inline_size bytes");
    return record(op, where, std::move(output), inputs, BackwardFn(std::forward<F>(backward)));
}
// The same for an op with any number of inputs (concat).
template <typename F>
requires(!std::is_same_v<std::remove_cvref_t<F>, BackwardFn> &&
         std::is_invocable_r_v<Grads, std::decay_t<F>&, const Grads&, const Needed&>) Var
    record(std::string_view op, const SourceLocation& where, Tensor output,
           std::span<const Var> inputs, F&& backward) {
    static_assert(BackwardFn::fits_inline<std::decay_t<F>>,
                  "the gradient lambda captures more than BackwardFn::inline_size bytes");
    return record(op, where, std::move(output), inputs, BackwardFn(std::forward<F>(backward)));
}

}  // namespace nalgrad
