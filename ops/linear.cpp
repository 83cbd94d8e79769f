#include "ops/linear.hpp"

#include "core/kernels/matmul.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {
namespace {

using kernels::Transposed;

// A floating 2-D operand, named as the op's signature names it ("a", "x", "w").
void check_float_matrix(std::string_view op, std::string_view name, const Var& v) {
    checks::require_float(op, name, v);
    checks::require_rank(op, name, v, 2);
}

// y = left right (+ bias), recorded as `op` (a string literal). The gradient of each input is
// computed only when asked for, and each operand is kept only if the other one's gradient needs
// it (d left = dy right^T, d right = left^T dy).
Var product(std::string_view op, const SourceLocation& where, const Var& left, const Var& right,
            const Var& bias) {
    checks::require_allocatable(op, "the output", {left.size(0), right.size(1)}, left.dtype());
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
    if (bias.defined()) return record(op, where, y, {left, right, bias}, std::move(gradient));
    return record(op, where, y, {left, right}, std::move(gradient));
}

}  // namespace

Var matmul(const Var& a, const Var& b, SourceLocation where) {
    check_float_matrix("matmul", "a", a);
    check_float_matrix("matmul", "b", b);
    checks::require_same_dtype("matmul", "a", a, "b", b);
    if (a.size(1) != b.size(0))
        fail("matmul", "inner dimensions differ: a is {}, b is {}", a.shape(), b.shape());
    return product("matmul", where, a, b, {});
}

Var dense(const Var& x, const Var& w, const Var& b, SourceLocation where) {
    check_float_matrix("dense", "x", x);
    check_float_matrix("dense", "w", w);
    checks::require_same_dtype("dense", "x", x, "w", w);
    if (x.size(1) != w.size(0))
        fail("dense", "input features differ from weight rows: x is {}, w is {}", x.shape(),
             w.shape());
    if (b.defined()) {
        checks::require_same_dtype("dense", "w", w, "b", b);
        if (b.rank() != 1 || b.size(0) != w.size(1))
            fail("dense", "bias length differs from output features: b is {}, w is {}", b.shape(),
                 w.shape());
    }
    return product("dense", where, x, w, b);
}

}  // namespace nalgrad
