#include "ops/activation.hpp"

#include "core/kernels/elementwise.hpp"

namespace nalgrad {

namespace {

constexpr std::string_view relu_op = "relu";
thread_local int64_t relu_masks_taken_here = 0;

// y = max(x, 0);  dx = dy * [y > 0], the mask read from y
Var record_relu(const Var& x, const Tensor& y) {
    return record(relu_op, y, {x}, [y](const Grads& dy, const Needed&) -> Grads {
        return {kernels::relu_backward(y, dy[0])};
    });
}

}  // namespace

Var relu(const Var& x, SourceLocation where) {
    const CallSite site(where);
    return record_relu(x, kernels::relu(x.value()));
}

// An expiring argument may be a convolution output whose forward has not run: the convolution
// then applies the relu itself (a oneDNN post-op), and the output's value is y.
Var relu(Var&& x, SourceLocation where) {
    const CallSite site(where);
    const Var input = std::move(x);  // the caller's handle is gone: nobody else sees input
    Tensor y = run_deferred_fused(input, FusedActivation::relu);
    if (!y.defined()) y = kernels::relu(input.value());
    return record_relu(input, y);
}

bool detail::take_relu_mask(const Var& y) {
    TapeRecord* producer = producer_of_expiring(y);
    if (!producer || producer->op != relu_op) return false;
    producer->backward = [](const Grads& dy, const Needed&) -> Grads { return {dy[0]}; };
    // The relu's input is now read by nobody: a fused convolution's output shares y's storage
    // (the relu ran inside it), which y's only handle, handed to the caller, makes unreachable
    // too once it goes.
    producer->inputs[0]->release_unreachable_value(/*shared_ok=*/true);
    ++relu_masks_taken_here;
    return true;
}

int64_t detail::relu_masks_taken() {
    return relu_masks_taken_here;
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
Var sigmoid(const Var& x, SourceLocation where) {
    const CallSite site(where);
    Tensor y = kernels::sigmoid(x.value());
    return record("sigmoid", y, {x}, [y](const Grads& dy, const Needed&) -> Grads {
        return {kernels::sigmoid_backward(y, dy[0])};
    });
}

// y = tanh x;  dx = dy * (1 - y^2)
Var tanh(const Var& x, SourceLocation where) {
    const CallSite site(where);
    Tensor y = kernels::tanh(x.value());
    return record("tanh", y, {x}, [y](const Grads& dy, const Needed&) -> Grads {
        return {kernels::tanh_backward(y, dy[0])};
    });
}

}  // namespace nalgrad
