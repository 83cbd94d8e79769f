#include "ops/activation.hpp"

#include "core/kernels/elementwise.hpp"

namespace nalgrad {

// y = max(x, 0);  dx = dy * [y > 0]
Var relu(const Var& x, SourceLocation where) {
    const CallSite site(where);
    Tensor y = kernels::relu(x.value());
    return record("relu", y, {x}, [y](const Grads& dy, const Needed&) -> Grads {
        return {kernels::relu_backward(y, dy[0])};
    });
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
