#include "ops/linear.hpp"

#include "core/kernels/matmul.hpp"
#include "graph/call_site.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

using kernels::Transposed;

// One operand of an op, named as the user knows it ("a", "x", "w", ...).
struct Operand {
    const char* name;
    const Var& var;
};

void check_float_matrix(std::string_view op, Operand v) {
    if (!v.var.defined()) fail(op, "{} is undefined", v.name);
    if (!is_floating(v.var.dtype()))
        fail(op, "{} is {} {}; it must be f32 or f64", v.name, dtype_name(v.var.dtype()),
             v.var.shape());
    if (v.var.rank() != 2) fail(op, "{} must be 2-D, got shape {}", v.name, v.var.shape());
}

void check_same_dtype(std::string_view op, Operand first, Operand second) {
    if (first.var.dtype() != second.var.dtype())
        fail(op, "{} is {} and {} is {}; they must have the same dtype", first.name,
             dtype_name(first.var.dtype()), second.name, dtype_name(second.var.dtype()));
}

// y = left right (+ bias), recorded as `op` (a string literal). The gradient of each input is
// computed only when asked for, and each operand is kept only if the other one's gradient needs
// it (d left = dy right^T, d right = left^T dy).
Var product(std::string_view op, const Var& left, const Var& right, const Var& bias) {
    const Tensor y = kernels::matmul(left.value(), right.value(), Transposed::none,
                                     bias.defined() ? bias.value() : Tensor{});
    if (!recording({left, right, bias})) return Var(y);
    const Tensor kept_left = right.requires_grad() ? left.value() : Tensor{};
    const Tensor kept_right = left.requires_grad() ? right.value() : Tensor{};
    auto gradient = [kept_left, kept_right](const Grads& dy, const Needed& needed) -> Grads {
        Grads grads(needed.size());
        if (needed[0]) grads[0] = kernels::matmul(dy[0], kept_right, Transposed::b);
        if (needed[1]) grads[1] = kernels::matmul(kept_left, dy[0], Transposed::a);
        if (needed.size() > 2 && needed[2]) grads[2] = kernels::sum_rows(dy[0]);
        return grads;
    };
    if (bias.defined()) return record(op, y, {left, right, bias}, std::move(gradient));
    return record(op, y, {left, right}, std::move(gradient));
}

}  // namespace

Var matmul(const Var& a, const Var& b, SourceLocation where) {
    const CallSite site(where);
    const Operand first{"a", a}, second{"b", b};
    check_float_matrix("matmul", first);
    check_float_matrix("matmul", second);
    check_same_dtype("matmul", first, second);
    if (a.size(1) != b.size(0))
        fail("matmul", "inner dimensions differ: a is {}, b is {}", a.shape(), b.shape());
    return product("matmul", a, b, {});
}

Var dense(const Var& x, const Var& w, const Var& b, SourceLocation where) {
    const CallSite site(where);
    const Operand input{"x", x}, weight{"w", w}, bias{"b", b};
    check_float_matrix("dense", input);
    check_float_matrix("dense", weight);
    check_same_dtype("dense", input, weight);
    if (x.size(1) != w.size(0))
        fail("dense", "input features differ from weight rows: x is {}, w is {}", x.shape(),
             w.shape());
    if (b.defined()) {
        check_same_dtype("dense", weight, bias);
        if (b.rank() != 1 || b.size(0) != w.size(1))
            fail("dense", "bias length differs from output features: b is {}, w is {}", b.shape(),
                 w.shape());
    }
    return product("dense", x, w, b);
}

}  // namespace nalgrad
