#include "ops/pool.hpp"

#include "core/kernels/elementwise.hpp"
#include "core/kernels/pool.hpp"
#include "ops/activation.hpp"

namespace nalgrad {
namespace {

void check_floating(std::string_view op, const Var& x) {
    if (!x.defined()) fail(op, "x is undefined");
    if (!is_floating(x.dtype()))
        fail(op, "x must be f32 or f64, got {} {}", dtype_name(x.dtype()), x.shape());
}

// y = max over each window (padding never wins); dx: dy to the window's maxima per options.ties,
// summed over the windows an element wins. With relu_input, x = relu(z) has this op as its only
// consumer: each maximum's relu mask [x > 0] is [y > 0], since the maximum is the winner's value,
// so the mask is applied to dy (the size of y) instead of to dx (the size of x), the same
// gradient, and the relu passes dx on unchanged.
Var record_max_pool2d(const Var& x, const MaxPool2dOptions& options, bool relu_input) {
    check_floating("max_pool2d", x);
    auto plan = kernels::max_pool_plan(x.shape(), options);
    const bool training = recording({x});
    auto purpose = training ? kernels::Purpose::training : kernels::Purpose::inference;
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    kernels::MaxPoolResult result = kernels::max_pool_forward(plan, x.value(), purpose);
    const Tensor mask_from =
        training && relu_input && detail::take_relu_mask(x) ? result.y : Tensor{};
    return record(
        "max_pool2d", result.y, {x},
        [saved = result.saved, mask_from](const Grads& dy, const Needed&) -> Grads {
            if (!mask_from.defined()) return {kernels::max_pool_backward(*saved, dy[0])};
            return {kernels::max_pool_backward(*saved, kernels::relu_backward(mask_from, dy[0]))};
        });
}

}  // namespace

Var max_pool2d(const Var& x, const MaxPool2dOptions& options, SourceLocation where) {
    const CallSite site(where);
    return record_max_pool2d(x, options, false);
}

Var max_pool2d(Var&& x, const MaxPool2dOptions& options, SourceLocation where) {
    const CallSite site(where);
    const Var input = std::move(x);  // the caller's handle is gone: nobody else sees input
    return record_max_pool2d(input, options, true);
}

// y = window sum / divisor (from the plan: real pixels, or kh * kw); dx: every element of a
// window gets dy / divisor, summed over its windows. The plan is shared by forward and backward.
Var avg_pool2d(const Var& x, const AvgPool2dOptions& options, SourceLocation where) {
    const CallSite site(where);
    check_floating("avg_pool2d", x);
    auto plan = kernels::avg_pool_plan(x.shape(), options);
    Tensor y = kernels::avg_pool_forward(*plan, x.value());
    return record("avg_pool2d", y, {x}, [plan](const Grads& dy, const Needed&) -> Grads {
        return {kernels::avg_pool_backward(*plan, dy[0])};
    });
}

}  // namespace nalgrad
