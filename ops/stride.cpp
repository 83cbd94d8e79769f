#include "ops/stride.hpp"

#include "core/kernels/stride.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {
namespace {

void check_stride(const Var& x, Size2 step, Size2 offset) {
    checks::require_float("stride", "x", x);
    checks::require_rank("stride", "x", x, 4, "NHWC [mb, h, w, c]");
    if (step.h < 1 || step.w < 1)
        fail("stride", "step must be at least 1, got [{}, {}] for x {}", step.h, step.w, x.shape());
    if (offset.h < 0 || offset.h >= x.size(1) || offset.w < 0 || offset.w >= x.size(2))
        fail("stride",
             "offset [{}, {}] must lie inside the image (rows 0..{}, columns 0..{}) of x {}",
             offset.h, offset.w, x.size(1) - 1, x.size(2) - 1, x.shape());
}

}  // namespace

// y[n, i, j, c] = x[n, oh + i * sh, ow + j * sw, c];  dx = dy at the kept positions, 0 elsewhere.
Var stride(const Var& x, Size2 step, Size2 offset, SourceLocation where) {
    check_stride(x, step, offset);
    Tensor y = kernels::stride_forward(x.value(), step, offset);
    Shape x_shape = x.shape();
    return record("stride", where, y, {x},
                  [x_shape, step, offset](const Grads& dy, const Needed&) -> Grads {
                      return {kernels::stride_backward(dy[0], x_shape, step, offset)};
                  });
}

}  // namespace nalgrad
