#include "ops/elementwise.hpp"

#include "core/kernels/elementwise.hpp"
#include "core/kernels/reduce.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"
#include "ops/output_saved.hpp"

namespace nalgrad {
namespace {

using kernels::BinaryOp;
using kernels::sum_to;

// Both operands floating and of one dtype, broadcasting to a result that can be allocated.
void check_operands(BinaryOp op, const Var& a, const Var& b) {
    const std::string_view name = kernels::name_of(op);
    checks::require_float(name, "a", a);
    checks::require_float(name, "b", b);
    checks::require_same_dtype(name, "a", a, "b", b);
    checks::require_allocatable(name, "the result",
                                kernels::broadcast_shapes(name, a.shape(), b.shape()), a.dtype());
}

// A double operand as a constant rank-0 variable of the other operand's dtype (f64 when that
// operand is not floating or undefined, which check_operands then refuses by name).
Var constant_like(double value, const Var& like) {
    return Var(scalar(value, like.defined() && is_floating(like.dtype()) ? like.dtype() : f64));
}

// y = a + b;  da = sum_to(dy),  db = sum_to(dy)
Var add(const Var& a, const Var& b, const SourceLocation& where) {
    check_operands(BinaryOp::add, a, b);
    Tensor y = kernels::binary(BinaryOp::add, a.value(), b.value());
    return record("add", where, y, {a, b},
                  [sa = a.shape(), sb = b.shape()](const Grads& dy, const Needed& needed) -> Grads {
                      return {needed[0] ? sum_to(dy[0], sa) : Tensor{},
                              needed[1] ? sum_to(dy[0], sb) : Tensor{}};
                  });
}

// y = a - b;  da = sum_to(dy),  db = -sum_to(dy)
Var subtract(const Var& a, const Var& b, const SourceLocation& where) {
    check_operands(BinaryOp::sub, a, b);
    Tensor y = kernels::binary(BinaryOp::sub, a.value(), b.value());
    return record("sub", where, y, {a, b},
                  [sa = a.shape(), sb = b.shape()](const Grads& dy, const Needed& needed) -> Grads {
                      return {needed[0] ? sum_to(dy[0], sa) : Tensor{},
                              needed[1] ? kernels::neg(sum_to(dy[0], sb)) : Tensor{}};
                  });
}

// y = a * b;  da = sum_to(dy * b),  db = sum_to(dy * a). An operand's value is kept only when
// the other one needs a gradient.
Var multiply(const Var& a, const Var& b, const SourceLocation& where) {
    check_operands(BinaryOp::mul, a, b);
    Tensor y = kernels::binary(BinaryOp::mul, a.value(), b.value());
    Tensor a_kept = b.requires_grad() ? a.value() : Tensor{};
    Tensor b_kept = a.requires_grad() ? b.value() : Tensor{};
    return record("mul", where, y, {a, b},
                  [a_kept, b_kept, sa = a.shape(), sb = b.shape()](const Grads& dy,
                                                                   const Needed& needed) -> Grads {
                      Grads dx(2);
                      if (needed[0])
                          dx[0] = sum_to(kernels::binary(BinaryOp::mul, dy[0], b_kept), sa);
                      if (needed[1])
                          dx[1] = sum_to(kernels::binary(BinaryOp::mul, dy[0], a_kept), sb);
                      return dx;
                  });
}

// y = a / b;  da = sum_to(dy / b),  db = -sum_to(dy * a / b^2) = -sum_to((dy / b) * y)
Var divide(const Var& a, const Var& b, const SourceLocation& where) {
    check_operands(BinaryOp::div, a, b);
    Tensor y = kernels::binary(BinaryOp::div, a.value(), b.value());
    Tensor y_kept = b.requires_grad() ? y : Tensor{};
    return record(
        "div", where, y, {a, b},
        [b_value = b.value(), y_kept, sa = a.shape(), sb = b.shape()](
            const Grads& dy, const Needed& needed) -> Grads {
            Grads dx(2);
            Tensor dy_over_b = kernels::binary(BinaryOp::div, dy[0], b_value);
            if (needed[1])
                dx[1] = kernels::neg(sum_to(kernels::binary(BinaryOp::mul, dy_over_b, y_kept), sb));
            if (needed[0]) dx[0] = sum_to(dy_over_b, sa);
            return dx;
        });
}

// y = -x;  dx = -dy
Var negate(const Var& x, const SourceLocation& where) {
    checks::require_float("neg", "x", x);
    return record("neg", where, kernels::neg(x.value()), {x},
                  [](const Grads& dy, const Needed&) -> Grads { return {kernels::neg(dy[0])}; });
}

}  // namespace

// Each operator records the call site its LocatedVar operand carries (the first one's when both
// are: they name the same expression).
Var operator+(const LocatedVar& a, const LocatedVar& b) {
    return add(a.var, b.var, a.where);
}
Var operator+(const LocatedVar& a, double b) {
    return add(a.var, constant_like(b, a.var), a.where);
}
Var operator+(double a, const LocatedVar& b) {
    return add(constant_like(a, b.var), b.var, b.where);
}
Var operator-(const LocatedVar& a, const LocatedVar& b) {
    return subtract(a.var, b.var, a.where);
}
Var operator-(const LocatedVar& a, double b) {
    return subtract(a.var, constant_like(b, a.var), a.where);
}
Var operator-(double a, const LocatedVar& b) {
    return subtract(constant_like(a, b.var), b.var, b.where);
}
Var operator*(const LocatedVar& a, const LocatedVar& b) {
    return multiply(a.var, b.var, a.where);
}
Var operator*(const LocatedVar& a, double b) {
    return multiply(a.var, constant_like(b, a.var), a.where);
}
Var operator*(double a, const LocatedVar& b) {
    return multiply(constant_like(a, b.var), b.var, b.where);
}
Var operator/(const LocatedVar& a, const LocatedVar& b) {
    return divide(a.var, b.var, a.where);
}
Var operator/(const LocatedVar& a, double b) {
    return divide(a.var, constant_like(b, a.var), a.where);
}
Var operator/(double a, const LocatedVar& b) {
    return divide(constant_like(a, b.var), b.var, b.where);
}
Var operator-(const LocatedVar& x) {
    return negate(x.var, x.where);
}

// y = e^x;  dx = dy * y
Var exp(const Var& x, SourceLocation where) {
    checks::require_float("exp", "x", x);
    return record_with_output("exp", where, kernels::exp(x.value()), x, kernels::exp_backward);
}

// y = ln x;  dx = dy / x
Var log(const Var& x, SourceLocation where) {
    checks::require_float("log", "x", x);
    return record("log", where, kernels::log(x.value()), {x},
                  [x_value = x.value()](const Grads& dy, const Needed&) -> Grads {
                      return {kernels::log_backward(x_value, dy[0])};
                  });
}

// y = sqrt x;  dx = dy / (2 y)
Var sqrt(const Var& x, SourceLocation where) {
    checks::require_float("sqrt", "x", x);
    return record_with_output("sqrt", where, kernels::sqrt(x.value()), x, kernels::sqrt_backward);
}

// y = x^p;  dx = dy * p * x^(p-1)
Var pow(const Var& x, double exponent, SourceLocation where) {
    checks::require_float("pow", "x", x);
    return record("pow", where, kernels::pow(x.value(), exponent), {x},
                  [x_value = x.value(), exponent](const Grads& dy, const Needed&) -> Grads {
                      return {kernels::pow_backward(x_value, exponent, dy[0])};
                  });
}

}  // namespace nalgrad
