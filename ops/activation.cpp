#include "ops/activation.hpp"

#include "core/kernels/elementwise.hpp"

namespace nalgrad {

// y = max(x, 0);  dx = dy * [y > 0]
Var relu(const Var& x) {
    Tensor y = kernels::relu(x.value());
    return record("relu", y, {x}, [y](const Grads& dy, const std::vector<bool>&) -> Grads {
        return {kernels::relu_backward(y, dy[0])};
    });
}

}  // namespace nalgrad
