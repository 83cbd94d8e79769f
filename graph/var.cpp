#include "graph/var.hpp"

#include <algorithm>

#include "core/block_pool.hpp"
#include "core/kernels/elementwise.hpp"

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
// The one output on this thread whose forward is deferred (record_deferred), if any.
thread_local std::weak_ptr<VarNode> deferred_output;

// Runs this thread's deferred forward, if any: first thing in every read of a value.
void run_deferred_output() {
    std::shared_ptr<VarNode> node = deferred_output.lock();
    deferred_output.reset();  // also when it died unread: the next reads then test an empty slot
    if (node) node->computed_value();
}

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

// `seed` is taken, not copied, when nobody else holds it (the ones() of backward()).
void run_backward(const std::shared_ptr<VarNode>& root, Tensor seed, BackwardOptions options) {
    if (!root) throw Error("backward: called on an undefined variable");
    run_deferred_output();
    const Tensor& root_value = root->computed_value();
    if (!root->requires_grad)
        throw Error(
            fmt::format("backward: the variable of shape {} does not require a gradient "
                        "(no input of the computation had requires_grad)",
                        root_value.shape()));
    if (!seed.defined()) throw Error("backward: the seed gradient is undefined");
    if (seed.dtype() != root_value.dtype() || !(seed.shape() == root_value.shape()))
        fail("backward", "seed gradient is {} {}, the variable is {} {}", dtype_name(seed.dtype()),
             seed.shape(), dtype_name(root_value.dtype()), root_value.shape());

    const bool detecting = anomaly_detection_enabled();
    if (detecting) anomaly::check_seed(seed);

    if (!root->producer) {  // a leaf: its gradient is the seed
        accumulate(root->grad, std::move(seed));
        return;
    }
    const TapeRecord& top = *root->producer;
    if (top.freed) fail_freed(top);
    accumulate(root->grad, std::move(seed));

    const uint64_t last = top.sequence;
    Grads dy;  // inline: the sweep allocates nothing of its own
    for (auto it = tape.records.rbegin(); it != tape.records.rend(); ++it) {
        std::shared_ptr<TapeRecord> rec = it->lock();
        if (!rec || rec->sequence > last) continue;
        bool reached = false;
        dy.assign(rec->outputs.size(), Tensor{});
        for (std::size_t o = 0; o < rec->outputs.size(); ++o) {
            if (auto out = rec->outputs[o].lock(); out && out->grad.defined()) {
                dy[o] = std::move(out->grad);
                out->grad = Tensor{};
                reached = true;
            }
        }
        if (!reached) continue;  // no gradient flows through this record
        if (rec->freed) fail_freed(*rec);
        for (std::size_t o = 0; o < dy.size(); ++o)
            if (!dy[o].defined()) dy[o] = zeros(rec->output_shapes[o], rec->output_dtype);

        for (std::size_t i = 0; i < rec->inputs.size(); ++i) {
            VarNode& input = *rec->inputs[i];
            if (!input.released && input.computed_value().version() != rec->input_versions[i])
                fail("backward",
                     "input {} of '{}' ({}, shape {}) was modified in "
                     "place after the op ran (an optimizer step before backward?); its gradient "
                     "would be wrong",
                     i, rec->op, describe_record(rec->sequence, rec->where), input.shape());
        }
        Grads dx = rec->backward(dy, rec->needed);
        // Drop the output gradients now: a local gradient that is a view of dy (reshape, add)
        // then holds its storage alone, and accumulation takes it instead of copying it.
        dy.clear();
        if (dx.size() != rec->inputs.size())
            fail(rec->op, "gradient function returned {} gradients for {} inputs", dx.size(),
                 rec->inputs.size());
        for (std::size_t i = 0; i < dx.size(); ++i) {
            if (!rec->needed[i] || !dx[i].defined()) continue;
            // A gradient reaching an output of a freed record could go no further: its record
            // left the tape, and the sweep would silently stop there.
            if (const auto& producer = rec->inputs[i]->producer; producer && producer->freed)
                fail_freed(*producer);
            VarNode& x = *rec->inputs[i];
            if (dx[i].dtype() != x.dtype() || !(dx[i].shape() == x.shape()))
                fail(rec->op, "gradient of input {} is {} {}, the input is {} {}", i,
                     dtype_name(dx[i].dtype()), dx[i].shape(), dtype_name(x.dtype()), x.shape());
            if (!detecting) {
                accumulate(rec->inputs[i]->grad, std::move(dx[i]));
                continue;
            }
            anomaly::check_gradient(*rec, i, dx[i], dy);
            const bool adds = rec->inputs[i]->grad.defined();
            accumulate(rec->inputs[i]->grad, std::move(dx[i]));
            if (adds) anomaly::check_accumulated(*rec, i, rec->inputs[i]->grad);
        }
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

Var::Var(Tensor value, bool requires_grad) : node_(new_node()) {
    if (!value.defined()) throw Error("Var: the value tensor is undefined");
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
    acquire();
}

void Var::drop() noexcept {
    if (node_ && node_->handles.fetch_sub(1, std::memory_order_acq_rel) == 1)
        node_->release_unreachable_value();
    node_.reset();
}

const Shape& VarNode::shape() {
    return released ? producer->output_shapes[0] : computed_value().shape();
}

DType VarNode::dtype() {
    return released ? producer->output_dtype : computed_value().dtype();
}

void VarNode::release_unreachable_value(bool shared_ok) noexcept {
    // A leaf keeps its value: it is a parameter or an input, not an op's output. No handle is
    // ever made from a record's inputs, so no handle means for good. Only the thread whose tape
    // holds the producer releases: its backward reads `released` and the value, so another
    // thread dropping the last handle meanwhile leaves them alone.
    if (!producer || tape_thread != std::this_thread::get_id() ||
        handles.load(std::memory_order_acquire) != 0 || pending.load(std::memory_order_acquire) ||
        !value.defined() || (!shared_ok && !value.unique()))
        return;
    value = Tensor{};
    released = true;
}

bool VarNode::run_deferred(FusedActivation activation) {
    std::lock_guard lock(deferred->running);
    if (deferred->has_run()) return false;
    value = deferred->run(activation);
    pending.store(false, std::memory_order_release);
    return true;
}

const Tensor& Var::value() const {
    if (!node_) throw Error("Var: use of an undefined variable");
    run_deferred_output();
    return node_->computed_value();  // deferred on another thread
}

const Tensor& Var::grad() const {
    if (!node_) throw Error("Var: use of an undefined variable");
    return node_->grad;
}

Var& Var::set_requires_grad(bool enabled) {
    if (!node_) throw Error("Var: use of an undefined variable");
    if (node_->producer && !enabled)
        fail("set_requires_grad", "the output of '{}' is not a leaf; use detach()", op_name());
    node_->requires_grad = enabled;
    return *this;
}

void Var::backward(BackwardOptions options) const {
    if (!node_) throw Error("backward: called on an undefined variable");
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

bool recording(std::initializer_list<Var> inputs) {
    if (!grad_mode) return false;
    for (const Var& v : inputs)
        if (v.requires_grad()) return true;
    return false;
}

namespace {

// The record of `op` on `inputs`, not yet on the tape.
std::shared_ptr<TapeRecord> make_record(std::string_view op, std::initializer_list<Var> inputs,
                                        BackwardFn backward, const Shape& output_shape,
                                        DType output_dtype) {
    auto rec = std::allocate_shared<TapeRecord>(detail::PoolAllocator<TapeRecord>{});
    rec->op = op;
    for (const Var& v : inputs) {
        if (!v.defined()) fail(op, "an input variable is undefined");
        rec->inputs.push_back(v.node());
        rec->needed.push_back(v.requires_grad());
        rec->input_versions.push_back(v.value().version());
    }
    rec->backward = std::move(backward);
    rec->sequence = tape.next_sequence++;
    rec->output_shapes.push_back(output_shape);
    rec->output_dtype = output_dtype;
    if (anomaly_detection_enabled()) rec->where = current_call_site();
    return rec;
}

// Makes `output` the record's output and appends the record to this thread's tape.
void append(const std::shared_ptr<TapeRecord>& rec, const std::shared_ptr<VarNode>& output) {
    output->requires_grad = true;
    output->producer = rec;
    output->tape_thread = std::this_thread::get_id();
    rec->outputs.push_back(output);
    tape.records.push_back(rec);
    if (tape.records.size() >= tape.compact_at) tape.compact();
}

}  // namespace

Var record(std::string_view op, Tensor output, std::initializer_list<Var> inputs,
           BackwardFn backward) {
    if (!recording(inputs)) return Var(std::move(output));
    auto rec = make_record(op, inputs, std::move(backward), output.shape(), output.dtype());
    if (anomaly_detection_enabled()) anomaly::check_forward(*rec, output);
    Var out(std::move(output), true);
    append(rec, out.node());
    return out;
}

struct DeferredOutputs {
    static Var make() { return Var(new_node()); }
};

Var record_deferred(std::string_view op, Shape shape, DType dtype,
                    std::shared_ptr<DeferredForward> forward, std::initializer_list<Var> inputs,
                    BackwardFn backward) {
    if (anomaly_detection_enabled())
        return record(op, forward->run(FusedActivation::none), inputs, std::move(backward));
    Var out = DeferredOutputs::make();
    if (recording(inputs))
        append(make_record(op, inputs, std::move(backward), shape, dtype), out.node());
    run_deferred_output();  // at most one deferred output per thread
    out.node()->deferred = std::move(forward);
    out.node()->pending.store(true, std::memory_order_release);
    deferred_output = out.node();
    return out;
}

namespace {

// Whether `x` is the only handle to its variable, so that an op given it may fuse with the op that
// produced it. Never under anomaly detection, which checks each op on its own.
bool fusable_expiring(const Var& x) {
    return x.node() && x.node().use_count() == 1 && !anomaly_detection_enabled();
}

}  // namespace

Tensor run_deferred_fused(const Var& x, FusedActivation activation) {
    // A handle this thread's deferred_output locks for a moment counts too: then no fusion.
    if (!fusable_expiring(x) || !x.node()->pending.load(std::memory_order_acquire) ||
        !x.node()->run_deferred(activation))
        return Tensor{};
    return x.node()->value;
}

TapeRecord* producer_of_expiring(const Var& x) {
    if (!fusable_expiring(x) || !x.node()->producer || x.node()->producer->freed) return nullptr;
    return x.node()->producer.get();
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

Var Tensor::requires_grad(bool enabled) const {
    return Var(*this, enabled);
}

}  // namespace nalgrad
