#include "ops/pool.hpp"

#include "core/kernels/pool.hpp"

namespace nalgrad {
namespace {

void check_floating(std::string_view op, const Var& x) {
    if (!x.defined()) fail(op, "x is undefined");
    if (!is_floating(x.dtype()))
        fail(op, "x must be f32 or f64, got {} {}", dtype_name(x.dtype()), x.shape());
}

}  // namespace

// y = max over each window (padding never wins); dx: dy to the window's maxima per options.ties,
// summed over the windows an element wins.
Var max_pool2d(const Var& x, const MaxPool2dOptions& options, SourceLocation where) {
    const CallSite site(where);
    check_floating("max_pool2d", x);
    auto plan = kernels::max_pool_plan(x.shape(), options);
    auto purpose = recording({x}) ? kernels::Purpose::training : kernels::Purpose::inference;
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    kernels::MaxPoolResult result = kernels::max_pool_forward(plan, x.value(), purpose);
    return record("max_pool2d", result.y, {x},
                  [saved = result.saved](const Grads& dy, const Needed&) -> Grads {
                      return {kernels::max_pool_backward(*saved, dy[0])};
                  });
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
