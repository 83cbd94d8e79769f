#include "ops/activation.hpp"

#include "core/kernels/elementwise.hpp"
#include "ops/checks.hpp"
#include "ops/output_saved.hpp"

namespace nalgrad {

// y = max(x, 0);  dx = dy * [y > 0]
Var relu(const Var& x, SourceLocation where) {
    checks::require_float("relu", "x", x);
    return record_with_output("relu", where, kernels::relu(x.value()), x, kernels::relu_backward);
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
Var sigmoid(const Var& x, SourceLocation where) {
    checks::require_float("sigmoid", "x", x);
    return record_with_output("sigmoid", where, kernels::sigmoid(x.value()), x,
                              kernels::sigmoid_backward);
}

// y = tanh x;  dx = dy * (1 - y^2)
Var tanh(const Var& x, SourceLocation where) {
    checks::require_float("tanh", "x", x);
    return record_with_output("tanh", where, kernels::tanh(x.value()), x, kernels::tanh_backward);
}

}  // namespace nalgrad
