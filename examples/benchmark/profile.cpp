#include "profile.hpp"

#include <functional>
#include <memory>
#include <utility>

#include "graph/tape.hpp"
#include "timing.hpp"

namespace bench {

const char* const op_names[op_count] = {"conv1",   "relu1",  "pool1", "conv2",  "relu2", "pool2",
                                        "flatten", "dense1", "relu3", "dense2", "loss"};

namespace {

// The profile's hooks, without touching the library: each forward call is timed, and the
// gradient function the tape recorded for its output is wrapped in a timer. Only the profiled
// steps pay for this.
void time_backward(StepProfile& p, Op op, const std::shared_ptr<ng::TapeRecord>& record) {
    if (!record) return;
    record->backward = [inner = std::move(record->backward), &p, op](const ng::Grads& dy,
                                                                     const ng::Needed& needed) {
        const double begin = now_ms();
        ng::Grads g = inner(dy, needed);
        p.backward[op].push_back(now_ms() - begin);
        return g;
    };
}

ng::Var timed(StepProfile& p, Op op, const std::function<ng::Var()>& run) {
    const double start = now_ms();
    ng::Var y = run();
    p.forward[op].push_back(now_ms() - start);
    time_backward(p, op, ng::node_of(y)->producer);
    return y;
}

// An op that runs inside another (the relu inside max_pool2d's relu option): 0 both ways.
void inside_another(StepProfile& p, Op op) {
    p.forward[op].push_back(0);
    p.backward[op].push_back(0);
}

// Every intermediate of one forward pass, so the per-op table can rerun each op on real inputs.
using Activations = std::array<ng::Var, op_count>;

const ng::Conv2dOptions same_padding{.padding = ng::same};

// Fused, each relu after a convolution runs inside the max pool that follows it (one op), and
// the convolutions' outputs are dropped once pooled, as an expression would drop them.
Activations forward(const LeNetFM& m, const ng::Var& images, const ng::Tensor& labels,
                    ConvRelu conv_relu, StepProfile* profile = nullptr) {
    Activations a;
    const auto run = [&](Op op, const std::function<ng::Var()>& f) {
        a[op] = profile ? timed(*profile, op, f) : f();
    };
    const auto conv_then_relu = [&](Op conv_op, Op relu_op, const ng::Var& x, const ng::Var& w,
                                    const ng::Var& b) {
        run(conv_op, [&] { return ng::conv2d(x, w, b, same_padding); });
        if (conv_relu == ConvRelu::separate) {
            run(relu_op, [&] { return ng::relu(a[conv_op]); });
        } else if (profile) {
            inside_another(*profile, relu_op);
        }
    };
    const auto pool_after_relu = [&](Op conv_op, Op relu_op, Op pool_op) {
        if (conv_relu == ConvRelu::separate) {
            run(pool_op, [&] { return ng::max_pool2d(a[relu_op]); });
            return;
        }
        run(pool_op,
            [&] { return ng::max_pool2d(a[conv_op], {.activation = ng::Activation::relu}); });
        a[conv_op] = ng::Var();
    };
    conv_then_relu(conv1, relu1, images, m.w1, m.b1);
    pool_after_relu(conv1, relu1, pool1);
    conv_then_relu(conv2, relu2, a[pool1], m.w2, m.b2);
    pool_after_relu(conv2, relu2, pool2);
    run(flat, [&] { return ng::flatten(a[pool2]); });
    run(dense1, [&] { return ng::dense(a[flat], m.w3, m.b3); });
    run(relu3, [&] { return ng::relu(a[dense1]); });
    run(dense2, [&] { return ng::dense(a[relu3], m.w4, m.b4); });
    run(loss, [&] { return ng::softmax_cross_entropy(a[dense2], labels); });
    return a;
}

// Times one op alone: the forward through the public op (recording on the tape), then the
// gradient function the tape holds for it, called directly with a random output gradient.
// `before` runs untimed before each call: the convolutions bump their weights' version there, as
// the optimizer does each step, so the reorder into oneDNN's weight layouts counts as in a step.
Times time_alone(
    int iterations, const std::function<ng::Var()>& run,
    const std::function<void()>& before = [] {}) {
    ng::Var y = run();
    const auto record = ng::node_of(y)->producer;
    ng::Generator gen(7);
    const ng::Grads dy{ng::normal(y.shape(), y.dtype(), gen)};
    Times t;
    before();
    (void)run();  // warm
    t.forward_ms = median_ms(iterations, before, [&] { (void)run(); });
    before();
    record->backward(dy, record->needed);  // warm
    t.backward_ms =
        median_ms(iterations, before, [&] { ng::Grads g = record->backward(dy, record->needed); });
    return t;
}

}  // namespace

void train_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                const ng::Tensor& labels, ConvRelu conv_relu) {
    sgd.zero_grad(ng::optim::ZeroGrad::set_to_none);
    forward(m, images, labels, conv_relu)[loss].backward();
    sgd.step();
}

void profiled_step(const LeNetFM& m, ng::optim::SGD& sgd, const ng::Var& images,
                   const ng::Tensor& labels, ConvRelu conv_relu, StepProfile& p) {
    const double start = now_ms();
    sgd.zero_grad(ng::optim::ZeroGrad::set_to_none);
    double t = now_ms();
    p.zero_grad.push_back(t - start);
    {
        Activations a = forward(m, images, labels, conv_relu, &p);
        t = now_ms();
        a[loss].backward();
        p.backward_call.push_back(now_ms() - t);
        t = now_ms();
    }  // the step's values and records are freed here
    p.release.push_back(now_ms() - t);
    t = now_ms();
    sgd.step();
    p.update.push_back(now_ms() - t);
    p.total.push_back(now_ms() - start);
}

std::array<Times, op_count> time_ops_alone(const LeNetFM& m, const Batch& batch, int iterations) {
    const Activations a = forward(m, batch.images, batch.labels, ConvRelu::separate);
    const auto bump = [](const ng::Var& w) { return [w] { w.value().bump_version(); }; };
    std::array<Times, op_count> t;
    t[conv1] = time_alone(
        iterations, [&] { return ng::conv2d(batch.images, m.w1, m.b1, same_padding); }, bump(m.w1));
    t[relu1] = time_alone(iterations, [&] { return ng::relu(a[conv1]); });
    t[pool1] = time_alone(iterations, [&] { return ng::max_pool2d(a[relu1]); });
    t[conv2] = time_alone(
        iterations, [&] { return ng::conv2d(a[pool1], m.w2, m.b2, same_padding); }, bump(m.w2));
    t[relu2] = time_alone(iterations, [&] { return ng::relu(a[conv2]); });
    t[pool2] = time_alone(iterations, [&] { return ng::max_pool2d(a[relu2]); });
    t[flat] = time_alone(iterations, [&] { return ng::flatten(a[pool2]); });
    t[dense1] = time_alone(iterations, [&] { return ng::dense(a[flat], m.w3, m.b3); });
    t[relu3] = time_alone(iterations, [&] { return ng::relu(a[dense1]); });
    t[dense2] = time_alone(iterations, [&] { return ng::dense(a[relu3], m.w4, m.b4); });
    t[loss] =
        time_alone(iterations, [&] { return ng::softmax_cross_entropy(a[dense2], batch.labels); });
    return t;
}

const char* in_step_note(ConvRelu conv_relu) {
    if (conv_relu != ConvRelu::fused) return "";
    return "in step, max_pool2d with the relu option: pool1, pool2 apply relu1, relu2 to their "
           "output and its mask to their output gradient, so relu1, relu2 show 0; alone and raw: "
           "every op separately (--unfused: in step too)\n";
}

}  // namespace bench
