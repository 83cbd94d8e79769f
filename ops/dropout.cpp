#include "ops/dropout.hpp"

#include "core/kernels/dropout.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {

// y = x * mask;  dx = dy * mask
Var dropout(const Var& x, double p, Generator& gen, bool training, SourceLocation where) {
    checks::require_float("dropout", "x", x);
    if (!(p >= 0 && p < 1)) fail("dropout", "p must be in [0, 1), got {} (x is {})", p, x.shape());
    if (!training || p == 0) return x;
    Tensor mask = kernels::dropout_mask(x.shape(), x.dtype(), p, gen);
    Tensor y = kernels::apply_mask(x.value(), mask);
    return record("dropout", where, y, {x}, [mask](const Grads& dy, const Needed&) -> Grads {
        return {kernels::apply_mask(dy[0], mask)};
    });
}

}  // namespace nalgrad
