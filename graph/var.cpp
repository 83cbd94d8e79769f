#include "graph/var.hpp"

#include <algorithm>
#include <vector>

#include "core/block_pool.hpp"
#include "core/kernels/elementwise.hpp"
#include "graph/anomaly.hpp"
#include "graph/anomaly_checks.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

struct Tape {
    std::vector<std::weak_ptr<TapeRecord>> records;  // in recording order
    uint64_t next_sequence = 0;
    std::size_t compact_at = 1024;

    // Drops entries whose records died (their outputs went out of scope) or were freed (the sweep
    // empties those), so the tape does not grow without bound in loops that never call backward().
    void compact() {
        std::erase_if(records, [](const std::weak_ptr<TapeRecord>& w) { return w.expired(); });
        compact_at = std::max<std::size_t>(1024, 2 * records.size());
    }
};

thread_local Tape tape;
thread_local bool grad_mode = true;

std::shared_ptr<VarNode> new_node() {
    return std::allocate_shared<VarNode>(detail::PoolAllocator<VarNode>{});
}

void accumulate(Tensor& into, Tensor&& contribution) {
    if (!into.defined()) {
        // Take the contribution's storage when nobody else holds it; otherwise copy, since an op
        // may hand the same tensor to several inputs.
        into = contribution.unique() ? std::move(contribution) : contribution.clone();
    } else {
        kernels::add_into(into, contribution);
    }
}

[[noreturn]] void fail_freed(const TapeRecord& rec) {
    fail("backward",
         "the records behind '{}' ({}) were freed by an earlier backward(); pass retain_graph = "
         "true to run backward through them twice",
         rec.op, describe_record(rec.sequence, rec.where));
}

// The seed must match the root; a leaf root simply receives it.
void check_seed(const VarNode& root, const Tensor& seed) {
    const Tensor& value = root.value;
    if (!root.requires_grad)
        fail("backward",
             "the variable of shape {} does not require a gradient (no input of the computation "
             "had requires_grad)",
             value.shape());
    if (!seed.defined()) fail("backward", "the seed gradient is undefined");
    if (seed.dtype() != value.dtype() || !(seed.shape() == value.shape()))
        fail("backward", "seed gradient is {} {}, the variable is {} {}", dtype_name(seed.dtype()),
             seed.shape(), dtype_name(value.dtype()), value.shape());
}

// Moves the record's output gradients into `dy` (zeros for outputs no gradient reached); false
// when no gradient flows through the record.
bool take_output_gradients(TapeRecord& rec, Grads& dy) {
    bool reached = false;
    dy.assign(rec.outputs.size(), Tensor{});
    for (std::size_t o = 0; o < rec.outputs.size(); ++o) {
        if (auto out = rec.outputs[o].lock(); out && out->grad.defined()) {
            dy[o] = std::move(out->grad);
            out->grad = Tensor{};
            reached = true;
        }
    }
    if (!reached) return false;
    if (rec.freed) fail_freed(rec);
    for (std::size_t o = 0; o < dy.size(); ++o)
        if (!dy[o].defined()) dy[o] = zeros(rec.output_shapes[o], rec.output_dtype);
    return true;
}

void check_input_versions(const TapeRecord& rec) {
    for (std::size_t i = 0; i < rec.inputs.size(); ++i) {
        const VarNode& input = *rec.inputs[i];
        if (!input.released && input.value.version() != rec.input_versions[i])
            fail("backward",
                 "input {} of '{}' ({}, shape {}) was modified in place after the op ran (an "
                 "optimizer step before backward?); its gradient would be wrong",
                 i, rec.op, describe_record(rec.sequence, rec.where), input.shape());
    }
}

// Adds the record's local input gradients `dx` into its inputs' gradients, checking each.
void accumulate_inputs(const TapeRecord& rec, Grads& dx, const Grads& dy, bool detecting) {
    if (dx.size() != rec.inputs.size())
        fail(rec.op, "gradient function returned {} gradients for {} inputs", dx.size(),
             rec.inputs.size());
    for (std::size_t i = 0; i < dx.size(); ++i) {
        if (!rec.needed[i] || !dx[i].defined()) continue;
        VarNode& x = *rec.inputs[i];
        // A gradient reaching an output of a freed record could go no further: its record left
        // the tape, and the sweep would silently stop there.
        if (x.producer && x.producer->freed) fail_freed(*x.producer);
        if (dx[i].dtype() != x.dtype() || !(dx[i].shape() == x.shape()))
            fail(rec.op, "gradient of input {} is {} {}, the input is {} {}", i,
                 dtype_name(dx[i].dtype()), dx[i].shape(), dtype_name(x.dtype()), x.shape());
        if (!detecting) {
            accumulate(x.grad, std::move(dx[i]));
            continue;
        }
        anomaly::check_gradient(rec, i, dx[i], dy);
        const bool adds = x.grad.defined();
        accumulate(x.grad, std::move(dx[i]));
        if (adds) anomaly::check_accumulated(rec, i, x.grad);
    }
}

// `seed` is taken, not copied, when nobody else holds it (the ones() of backward()).
void run_backward(const std::shared_ptr<VarNode>& root, Tensor seed, BackwardOptions options) {
    if (!root) fail("backward", "called on an undefined variable");
    check_seed(*root, seed);
    const bool detecting = anomaly_detection_enabled();
    if (detecting) anomaly::check_seed(seed);
    if (root->producer && root->producer->freed) fail_freed(*root->producer);
    accumulate(root->grad, std::move(seed));
    if (!root->producer) return;  // a leaf: its gradient is the seed

    const uint64_t last = root->producer->sequence;
    Grads dy;  // inline: the sweep allocates nothing of its own
    for (auto it = tape.records.rbegin(); it != tape.records.rend(); ++it) {
        std::shared_ptr<TapeRecord> rec = it->lock();
        if (!rec || rec->sequence > last || !take_output_gradients(*rec, dy)) continue;
        check_input_versions(*rec);
        Grads dx = rec->backward(dy, rec->needed);
        // Drop the output gradients before accumulating: a local gradient that is a view of dy
        // (reshape, add) then holds its storage alone, and accumulation takes it instead of
        // copying it. Anomaly detection keeps them to say whether they were finite.
        if (!detecting) dy.clear();
        accumulate_inputs(*rec, dx, dy, detecting);
        dy.clear();
        if (!options.retain_graph) {
            rec->backward = nullptr;  // releases what the op saved
            rec->freed = true;
            it->reset();  // leaves the tape (compact() drops the empty entry)
        }
    }
    if (!options.retain_graph) tape.compact();
}

}  // namespace

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
    if (node_) node_->grad = Tensor{};
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
