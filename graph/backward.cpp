// The backward sweep (docs/design.md, the tape; the threading rule). In order:
//
// 1. Checks before anything changes: the seed, and every record the sweep can reach (through
//    inputs that need a gradient): none modified in place, none freed, none on another thread's
//    tape. The common failures therefore leave everything as it was.
// 2. The sweep in reverse recording order. Gradients of op outputs accumulate on their nodes and
//    are consumed as their records run; contributions to leaves are kept aside for this call.
// 3. Only a complete sweep commits the leaves' gradients, each under its leaf's lock, so threads
//    back-propagating into one shared leaf (a shared weight) add exactly. A sweep that throws
//    midway (a gradient function's error, an anomaly) clears the op outputs' gradients it left and
//    drops the kept leaf contributions: every gradient is as before the call. The records it had
//    already run are freed (unless retain_graph), as a complete sweep would have freed them.
#include <array>
#include <chrono>
#include <mutex>
#include <vector>

#include "core/kernels/elementwise.hpp"
#include "graph/anomaly.hpp"
#include "graph/anomaly_checks.hpp"
#include "graph/profile.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

// Leaves' locks, striped by address: a lock is taken once per leaf per backward(), at the commit.
std::mutex& leaf_lock(const VarNode* leaf) {
    static std::array<std::mutex, 64> locks;
    return locks[(reinterpret_cast<std::uintptr_t>(leaf) / alignof(VarNode)) % locks.size()];
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

// This call's contributions to leaves, committed when the sweep completes. Kept per thread, so a
// steady training loop allocates nothing; searched linearly (a model has few leaves, and the
// most recent entry is tried first).
struct LeafGradient {
    std::shared_ptr<VarNode> leaf;
    Tensor sum;
    const TapeRecord* record = nullptr;  // the last contributor, for anomaly messages
    std::size_t input = 0;               // its input index
};
thread_local std::vector<LeafGradient> pending;
thread_local uint64_t backward_count = 0;  // marks the records one call reaches

[[noreturn]] void fail_freed(const TapeRecord& rec) {
    fail("backward",
         "the records behind '{}' ({}) were freed by an earlier backward(); pass retain_graph = "
         "true to run backward through them twice",
         rec.op, describe_record(rec.sequence, rec.where));
}

// `what` names the record: "the variable's op 'sum' (tape record #3)".
[[noreturn]] void fail_other_thread(const std::string& what) {
    fail("backward",
         "{} was recorded on another thread; each thread has its own tape, so call backward() on "
         "the thread that ran the forward",
         what);
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

// Step 1: every record the sweep can reach from the root's, checked before anything changes.
void check_reachable(const VarNode& root) {
    const uint64_t mark = ++backward_count;
    root.producer->reached = mark;
    const uint64_t last = root.producer->sequence;
    // Every marked record must be met on this tape. Thread ids are compared first, for the
    // message; the count also catches a graph whose thread has ended and whose id was reused.
    std::size_t marked = 1, met = 0;
    Tape& tape = this_thread_tape();
    for (auto it = tape.records.rbegin(); it != tape.records.rend(); ++it) {
        std::shared_ptr<TapeRecord> rec = it->lock();
        if (!rec || rec->sequence > last || rec->reached != mark) continue;
        ++met;
        check_input_versions(*rec);
        for (std::size_t i = 0; i < rec->inputs.size(); ++i) {
            const VarNode& input = *rec->inputs[i];
            if (!rec->needed[i] || !input.producer) continue;
            if (input.tape_thread != std::this_thread::get_id())
                fail_other_thread(fmt::format(
                    "input {} of '{}' comes from '{}' ({}), which", i, rec->op, input.producer->op,
                    describe_record(input.producer->sequence, input.producer->where)));
            if (input.producer->freed) fail_freed(*input.producer);
            if (input.producer->reached == mark) continue;
            input.producer->reached = mark;
            ++marked;
        }
    }
    if (met != marked)
        fail_other_thread(
            fmt::format("part of the graph behind '{}' ({})", root.producer->op,
                        describe_record(root.producer->sequence, root.producer->where)));
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

// Keeps a contribution to a leaf for the commit.
void keep_for_leaf(const TapeRecord& rec, std::size_t i, Tensor&& dx, bool detecting) {
    const std::shared_ptr<VarNode>& leaf = rec.inputs[i];
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
        if (it->leaf != leaf) continue;
        accumulate(it->sum, std::move(dx));
        it->record = &rec;
        it->input = i;
        if (detecting) anomaly::check_accumulated(rec, i, it->sum);
        return;
    }
    pending.push_back({leaf, Tensor{}, &rec, i});
    accumulate(pending.back().sum, std::move(dx));
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
        if (detecting) anomaly::check_gradient(rec, i, dx[i], dy);
        if (!x.producer) {
            keep_for_leaf(rec, i, std::move(dx[i]), detecting);
            continue;
        }
        const bool adds = x.grad.defined();
        accumulate(x.grad, std::move(dx[i]));
        if (detecting && adds) anomaly::check_accumulated(rec, i, x.grad);
    }
}

// A record's gradient function, timed when a profiler is active.
Grads run_gradient(TapeRecord& rec, const Grads& dy) {
    OpProfiler* profiler = active_profiler();
    if (!profiler) return rec.backward(dy, rec.needed);
    const auto start = std::chrono::steady_clock::now();
    Grads dx = rec.backward(dy, rec.needed);
    profiler->backward_ran(
        rec.op, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
    return dx;
}

// Step 2, from the root's record down.
void sweep(uint64_t last, BackwardOptions options, bool detecting) {
    Tape& tape = this_thread_tape();
    Grads dy;  // inline: the sweep allocates nothing of its own
    for (auto it = tape.records.rbegin(); it != tape.records.rend(); ++it) {
        std::shared_ptr<TapeRecord> rec = it->lock();
        // check_reachable has checked this record's inputs before anything changed.
        if (!rec || rec->sequence > last || !take_output_gradients(*rec, dy)) continue;
        Grads dx = run_gradient(*rec, dy);
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
}

// What a failed sweep leaves: no gradient on an op output at or before the root, none kept.
void discard_partial(uint64_t last) {
    pending.clear();
    for (const auto& weak : this_thread_tape().records)
        if (auto rec = weak.lock(); rec && rec->sequence <= last)
            for (const auto& out : rec->outputs)
                if (auto node = out.lock()) node->grad = Tensor{};
}

// Step 3. Under anomaly detection every sum with an earlier gradient is checked before any is
// committed, so a refusal commits none.
void commit_leaf_gradients(bool detecting) {
    if (detecting) {
        for (const LeafGradient& g : pending) {
            Tensor total;
            {
                std::lock_guard lock(leaf_lock(g.leaf.get()));
                if (!g.leaf->grad.defined()) continue;
                total = g.leaf->grad.clone();
            }
            kernels::add_into(total, g.sum);
            anomaly::check_accumulated(*g.record, g.input, total);
        }
    }
    for (LeafGradient& g : pending) {
        std::lock_guard lock(leaf_lock(g.leaf.get()));
        accumulate(g.leaf->grad, std::move(g.sum));
    }
    pending.clear();
}

}  // namespace

void add_to_leaf_gradient(VarNode& leaf, Tensor&& contribution) {
    std::lock_guard lock(leaf_lock(&leaf));
    accumulate(leaf.grad, std::move(contribution));
}

void clear_leaf_gradient(VarNode& leaf) {
    std::lock_guard lock(leaf_lock(&leaf));
    leaf.grad = Tensor{};
}

void run_backward(const std::shared_ptr<VarNode>& root, Tensor seed, BackwardOptions options) {
    if (!root) fail("backward", "called on an undefined variable");
    check_seed(*root, seed);
    const bool detecting = anomaly_detection_enabled();
    if (detecting) anomaly::check_seed(seed);
    if (!root->producer) return add_to_leaf_gradient(*root, std::move(seed));
    if (root->tape_thread != std::this_thread::get_id())
        fail_other_thread(
            fmt::format("the variable's op '{}' ({})", root->producer->op,
                        describe_record(root->producer->sequence, root->producer->where)));
    if (root->producer->freed) fail_freed(*root->producer);
    check_reachable(*root);

    const uint64_t last = root->producer->sequence;
    accumulate(root->grad, std::move(seed));
    try {
        sweep(last, options, detecting);
        commit_leaf_gradients(detecting);
    } catch (...) {
        discard_partial(last);
        throw;
    }
    if (!options.retain_graph) this_thread_tape().compact();
}

}  // namespace nalgrad
