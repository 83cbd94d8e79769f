#include "profile.hpp"

#include <functional>
#include <memory>
#include <utility>

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
    (void)y.value();  // a convolution's forward is deferred until its value is read
    p.forward[op].push_back(now_ms() - start);
    time_backward(p, op, y.node()->producer);
    return y;
}

// relu(conv2d(...)), one forward: its time goes to the convolution, 0 to the relu. The relu's
// gradient function is timed once the pool has taken its mask (see forward()).
ng::Var timed_conv_relu(StepProfile& p, Op conv_op, Op relu_op,
                        const std::function<ng::Var()>& run) {
    const double start = now_ms();
    ng::Var y = run();
    p.forward[conv_op].push_back(now_ms() - start);
    p.forward[relu_op].push_back(0);
    if (const auto& relu_record = y.node()->producer)
        time_backward(p, conv_op, relu_record->inputs.at(0)->producer);
    return y;
}

// Every intermediate of one forward pass, so the per-op table can rerun each op on real inputs.
using Activations = std::array<ng::Var, op_count>;

const ng::Conv2dOptions same_padding{.padding = ng::same};

// Fused, the convolutions' and the first two relus' outputs are not kept (they stay undefined).
Activations forward(const LeNetFM& m, const ng::Var& images, const ng::Tensor& labels,
                    ConvRelu conv_relu, StepProfile* profile = nullptr) {
    Activations a;
    const auto run = [&](Op op, const std::function<ng::Var()>& f) {
        a[op] = profile ? timed(*profile, op, f) : f();
    };
    const auto conv_then_relu = [&](Op conv_op, Op relu_op, const ng::Var& x, const ng::Var& w,
                                    const ng::Var& b) {
        if (conv_relu == ConvRelu::separate) {
            run(conv_op, [&] { return ng::conv2d(x, w, b, same_padding); });
            run(relu_op, [&] { return ng::relu(a[conv_op]); });
            return;
        }
        const auto fused = [&] { return ng::relu(ng::conv2d(x, w, b, same_padding)); };
        a[relu_op] = profile ? timed_conv_relu(*profile, conv_op, relu_op, fused) : fused();
    };
    const auto pool_after_relu = [&](Op relu_op, Op pool_op) {
        if (conv_relu == ConvRelu::separate) {
            run(pool_op, [&] { return ng::max_pool2d(a[relu_op]); });
            return;
        }
        // The relu's output handed over: the pool applies the relu's gradient mask, and the
        // relu's own gradient function (timed from here on) passes the gradient through.
        run(pool_op, [&] { return ng::max_pool2d(std::move(a[relu_op])); });
        if (profile)
            time_backward(*profile, relu_op, a[pool_op].node()->producer->inputs.at(0)->producer);
    };
    conv_then_relu(conv1, relu1, images, m.w1, m.b1);
    pool_after_relu(relu1, pool1);
    conv_then_relu(conv2, relu2, a[pool1], m.w2, m.b2);
    pool_after_relu(relu2, pool2);
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
    const auto record = y.node()->producer;
    ng::Generator gen(7);
    const ng::Grads dy{ng::normal(y.shape(), y.dtype(), gen)};
    Times t;
    before();
    (void)run().value();  // warm
    // Reading the value runs a convolution's deferred forward.
    t.forward_ms = median_ms(iterations, before, [&] { (void)run().value(); });
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
    return "in step, max_pool2d(relu(conv2d(...))): the convolution runs the relu (a oneDNN "
           "post-op), so conv1, conv2 forward include relu1, relu2, whose forward shows 0; pool1, "
           "pool2 backward apply the relu's mask to their output gradient, so relu1, relu2 "
           "backward only pass it on; alone and raw: every op separately (--unfused: in step "
           "too)\n";
}

}  // namespace bench
