#include "ops/checks.hpp"

#include "core/limits.hpp"

namespace nalgrad::checks {

void require_defined(std::string_view op, std::string_view name, const Var& v) {
    if (!v.defined()) fail(op, "{} is undefined", name);
}

void require_float(std::string_view op, std::string_view name, const Var& v) {
    require_defined(op, name, v);
    if (!is_floating(v.dtype()))
        fail(op, "{} must be f32 or f64, got {} {}", name, dtype_name(v.dtype()), v.shape());
}

void require_same_dtype(std::string_view op, std::string_view a_name, const Var& a,
                        std::string_view b_name, const Var& b) {
    require_defined(op, a_name, a);
    require_defined(op, b_name, b);
    if (a.dtype() != b.dtype())
        fail(op, "{} is {} {} but {} is {} {}; they must have one dtype (cast one with astype)",
             a_name, dtype_name(a.dtype()), a.shape(), b_name, dtype_name(b.dtype()), b.shape());
}

void require_rank(std::string_view op, std::string_view name, const Var& v, int rank,
                  std::string_view layout) {
    require_defined(op, name, v);
    if (v.rank() == rank) return;
    if (layout.empty()) fail(op, "{} must be {}-D, got shape {}", name, rank, v.shape());
    fail(op, "{} must be {}-D {}, got shape {}", name, rank, layout, v.shape());
}

void require_allocatable(std::string_view op, std::string_view what, const Shape& shape,
                         DType dtype) {
    check_allocation(op, what, shape, dtype);
}

}  // namespace nalgrad::checks
