#include "ops/pool.hpp"

#include "core/kernels/elementwise.hpp"
#include "core/kernels/pool.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"
#include "ops/shape.hpp"

namespace nalgrad {

// y = max over each window (padding never wins); dx: dy to the window's maxima per options.ties,
// summed over the windows an element wins.
// With the relu activation, y = max(pooled, 0). relu is monotone, so this is max_pool2d(relu(x))
// for every geometry and tie policy: where the window's maximum m is positive, the positive ties
// are the same; where m <= 0 both send zero. The gradient masks dy by [y > 0], a quarter of the
// elements of x for 2x2 windows, before the pooling backward.
Var max_pool2d(const Var& x, const MaxPool2dOptions& options, SourceLocation where) {
    checks::require_float("max_pool2d", "x", x);
    auto plan = kernels::max_pool_plan(x.shape(), options);
    checks::require_allocatable("max_pool2d", "the output",
                                plan->window.output_shape(plan->window.channels), x.dtype());
    const bool training = recording({x});
    auto purpose = training ? kernels::Purpose::training : kernels::Purpose::inference;
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    kernels::MaxPoolResult result = kernels::max_pool_forward(plan, x.value(), purpose);
    if (options.activation == Activation::none)
        return record("max_pool2d", where, result.y, {x},
                      [saved = result.saved](const Grads& dy, const Needed&) -> Grads {
                          return {kernels::max_pool_backward(*saved, dy[0])};
                      });
    Tensor y = kernels::relu(result.y, result.finite);
    result.y = Tensor{};
    return record("max_pool2d_relu", where, y, {x},
                  [saved = result.saved, y](const Grads& dy, const Needed&) -> Grads {
                      return {kernels::max_pool_backward(*saved, kernels::relu_backward(y, dy[0]))};
                  });
}

// y = window sum / divisor (from the plan: real pixels, or kh * kw); dx: every element of a
// window gets dy / divisor, summed over its windows. The plan is shared by forward and backward.
Var avg_pool2d(const Var& x, const AvgPool2dOptions& options, SourceLocation where) {
    checks::require_float("avg_pool2d", "x", x);
    auto plan = kernels::avg_pool_plan(x.shape(), options);
    checks::require_allocatable("avg_pool2d", "the output",
                                plan->window.output_shape(plan->window.channels), x.dtype());
    Tensor y = kernels::avg_pool_forward(*plan, x.value());
    return record("avg_pool2d", where, y, {x}, [plan](const Grads& dy, const Needed&) -> Grads {
        return {kernels::avg_pool_backward(*plan, dy[0])};
    });
}

Var global_avg_pool2d(const Var& x, SourceLocation where) {
    checks::require_float("global_avg_pool2d", "x", x);
    checks::require_rank("global_avg_pool2d", "x", x, 4, "NHWC [mb, h, w, c]");
    const Shape& s = x.shape();
    if (s[1] < 1 || s[2] < 1) fail("global_avg_pool2d", "x has no pixels: x is {}", s);
    const Size2 image{s[1], s[2]};
    return reshape(avg_pool2d(x, {.kernel = image, .stride = image}, where), {s[0], s[3]}, where);
}

}  // namespace nalgrad
