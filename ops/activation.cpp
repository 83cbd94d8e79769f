#include "ops/activation.hpp"

#include "core/kernels/elementwise.hpp"
#include "graph/call_site.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

// An activation whose gradient reads only its output y: dx = backward(y, dy).
Var record_from_output(std::string_view op, Tensor y, const Var& x,
                       Tensor (*backward)(const Tensor& y, const Tensor& dy)) {
    return record(op, y, {x}, [y, backward](const Grads& dy, const Needed&) -> Grads {
        return {backward(y, dy[0])};
    });
}

}  // namespace

// y = max(x, 0);  dx = dy * [y > 0]
Var relu(const Var& x, SourceLocation where) {
    const CallSite site(where);
    return record_from_output("relu", kernels::relu(x.value()), x, kernels::relu_backward);
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
Var sigmoid(const Var& x, SourceLocation where) {
    const CallSite site(where);
    return record_from_output("sigmoid", kernels::sigmoid(x.value()), x, kernels::sigmoid_backward);
}

// y = tanh x;  dx = dy * (1 - y^2)
Var tanh(const Var& x, SourceLocation where) {
    const CallSite site(where);
    return record_from_output("tanh", kernels::tanh(x.value()), x, kernels::tanh_backward);
}

}  // namespace nalgrad
