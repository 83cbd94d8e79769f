#include "ops/shape.hpp"

#include "core/kernels/elementwise.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {

// y = x viewed as `shape`;  dx = dy viewed as x's shape
Var reshape(const Var& x, Shape shape, SourceLocation where) {
    checks::require_defined("reshape", "x", x);
    Tensor y = x.value().reshape(shape);
    return record("reshape", where, y, {x},
                  [x_shape = x.shape()](const Grads& dy, const Needed&) -> Grads {
                      return {dy[0].reshape(x_shape)};
                  });
}

Var flatten(const Var& x, SourceLocation where) {
    checks::require_defined("flatten", "x", x);
    if (x.rank() == 0) fail("flatten", "x needs a batch axis, got a scalar");
    int64_t rest = 1;
    for (int i = 1; i < x.rank(); ++i) rest *= x.size(i);
    return reshape(x, {x.size(0), rest}, where);
}

// y = x^T;  dx = dy^T
Var transpose(const Var& x, SourceLocation where) {
    checks::require_float("transpose", "x", x);
    checks::require_rank("transpose", "x", x, 2);
    return record(
        "transpose", where, kernels::transpose(x.value()), {x},
        [](const Grads& dy, const Needed&) -> Grads { return {kernels::transpose(dy[0])}; });
}

}  // namespace nalgrad
