#include "graph/var.hpp"

#include <algorithm>
#include <vector>

#include "core/block_pool.hpp"
#include "graph/anomaly.hpp"
#include "graph/anomaly_checks.hpp"
#include "graph/profile.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

thread_local Tape tape;
thread_local bool grad_mode = true;

std::shared_ptr<VarNode> new_node() {
    return std::allocate_shared<VarNode>(detail::PoolAllocator<VarNode>{});
}

}  // namespace

void Tape::compact() {
    std::erase_if(records, [](const std::weak_ptr<TapeRecord>& w) { return w.expired(); });
    compact_at = std::max<std::size_t>(1024, 2 * records.size());
}

Tape& this_thread_tape() {
    return tape;
}

TapeRecord::TapeRecord() {}  // NOLINT: see the declaration

TapeRecord::~TapeRecord() {
    // Destroying the last handle of a 100,000-op chain would otherwise recurse node -> record ->
    // node 100,000 deep. The outermost destructor drains a list instead.
    thread_local std::vector<std::shared_ptr<VarNode>> pending;
    thread_local bool draining = false;
    for (auto& in : inputs) pending.push_back(std::move(in));
    if (draining) return;
    draining = true;
    while (!pending.empty()) {
        std::shared_ptr<VarNode> node = std::move(pending.back());
        pending.pop_back();
        node.reset();  // may run nested ~TapeRecord, which only appends to `pending`
    }
    draining = false;
}

const Shape& VarNode::shape() const {
    return released ? producer->output_shapes[0] : value.shape();
}

DType VarNode::dtype() const {
    return released ? producer->output_dtype : value.dtype();
}

void VarNode::release_unreachable_value() noexcept {
    // A leaf keeps its value: it is a parameter or an input, not an op's output. No handle is
    // ever made from a record's inputs, so no handle means for good. Only the thread whose tape
    // holds the producer releases: its backward reads `released` and the value, so another
    // thread dropping the last handle meanwhile leaves them alone.
    if (!producer || tape_thread != std::this_thread::get_id() ||
        handles.load(std::memory_order_acquire) != 0 || !value.defined() || !value.unique())
        return;
    value = Tensor{};
    released = true;
}

Var::Var(Tensor value, bool requires_grad) : node_(new_node()) {
    if (!value.defined()) fail("Var", "the value tensor is undefined");
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
    node_->handles.fetch_add(1, std::memory_order_relaxed);
}

Var::Var(std::shared_ptr<VarNode> node) noexcept : node_(std::move(node)) {
    if (node_) node_->handles.fetch_add(1, std::memory_order_relaxed);
}

Var::Var(const Var& other) noexcept : node_(other.node_) {
    if (node_) node_->handles.fetch_add(1, std::memory_order_relaxed);
}

Var& Var::operator=(const Var& other) noexcept {
    Var copy(other);
    node_.swap(copy.node_);
    return *this;
}

Var& Var::operator=(Var&& other) noexcept {
    if (this != &other) {
        drop();
        node_ = std::move(other.node_);
    }
    return *this;
}

Var::~Var() {
    drop();
}

void Var::drop() noexcept {
    if (node_ && node_->handles.fetch_sub(1, std::memory_order_acq_rel) == 1)
        node_->release_unreachable_value();
    node_.reset();
}

const Tensor& Var::value() const {
    if (!node_) fail("Var", "use of an undefined variable");
    return node_->value;
}

const Tensor& Var::grad() const {
    if (!node_) fail("Var", "use of an undefined variable");
    return node_->grad;
}

bool Var::requires_grad() const {
    return node_ && node_->requires_grad;
}

bool Var::is_leaf() const {
    return !node_ || !node_->producer;
}

Var& Var::set_requires_grad(bool enabled) {
    if (!node_) fail("Var", "use of an undefined variable");
    if (node_->producer && !enabled)
        fail("set_requires_grad", "the output of '{}' is not a leaf; use detach()", op_name());
    node_->requires_grad = enabled;
    return *this;
}

void Var::backward(BackwardOptions options) const {
    if (!node_) fail("backward", "called on an undefined variable");
    const Tensor& v = value();
    if (v.numel() != 1)
        fail("backward",
             "the variable has shape {}; a non-scalar needs an explicit seed "
             "gradient: backward(seed)",
             v.shape());
    run_backward(node_, ones(v.shape(), v.dtype()), options);
}

void Var::backward(const Tensor& seed, BackwardOptions options) const {
    run_backward(node_, seed, options);
}

void Var::zero_grad() {
    if (!node_) return;
    if (node_->producer) {
        node_->grad = Tensor{};
    } else {
        clear_leaf_gradient(*node_);  // another thread may be committing into a shared leaf
    }
}

Var Var::detach() const {
    return Var(value(), false);
}

std::string_view Var::op_name() const {
    if (!node_ || !node_->producer) return "leaf";
    return node_->producer->op;
}

bool recording(std::span<const Var> inputs) {
    if (!grad_mode) return false;
    for (const Var& v : inputs)
        if (v.requires_grad()) return true;
    return false;
}

Var record(std::string_view op, const SourceLocation& where, Tensor output,
           std::span<const Var> inputs, BackwardFn backward) {
    if (OpProfiler* profiler = active_profiler()) profiler->forward_recorded(op);
    if (!recording(inputs)) return Var(std::move(output));
    auto rec = std::allocate_shared<TapeRecord>(detail::PoolAllocator<TapeRecord>{});
    rec->op = op;
    for (const Var& v : inputs) {
        if (!v.defined()) fail(op, "an input variable is undefined");
        rec->inputs.push_back(node_of(v));
        rec->needed.push_back(v.requires_grad());
        rec->input_versions.push_back(v.value().version());
    }
    rec->backward = std::move(backward);
    rec->sequence = tape.next_sequence++;
    rec->output_shapes.push_back(output.shape());
    rec->output_dtype = output.dtype();
    rec->where = where;
    if (anomaly_detection_enabled()) anomaly::check_forward(*rec, output);
    Var out(std::move(output), true);
    const std::shared_ptr<VarNode>& node = node_of(out);
    node->producer = rec;
    node->tape_thread = std::this_thread::get_id();
    rec->outputs.push_back(node);
    tape.records.push_back(std::move(rec));
    if (tape.records.size() >= tape.compact_at) tape.compact();
    return out;
}

NoGradGuard::NoGradGuard() : previous_(grad_mode) {
    grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
    grad_mode = previous_;
}
bool grad_enabled() {
    return grad_mode;
}

std::size_t tape_size() {
    std::size_t n = 0;
    for (const auto& w : tape.records)
        if (auto r = w.lock(); r && !r->freed) ++n;
    return n;
}

}  // namespace nalgrad
