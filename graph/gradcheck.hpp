// Numerical gradient check in float64 (as torch.autograd.gradcheck): central differences
// (f(x + eps) - f(x - eps)) / (2 eps) against the gradients backward() computes, element by
// element: |analytic - numeric| <= atol + rtol * |numeric|.
//
// Besides the Jacobian it checks that backward run twice gives bitwise equal gradients, that a
// zero output gradient gives zero input gradients, and that the Jacobian is not all zero (a check
// that passes because both sides are zero proves nothing).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "graph/var.hpp"

namespace nalgrad {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
    // fast: compare random projections v^T J u (two evaluations per input) instead of the whole
    // Jacobian (two evaluations per input element and one backward per output element).
    bool fast = false;
    uint64_t seed = 0;                 // for the fast mode's random projections
    bool allow_zero_jacobian = false;  // for ops whose gradient is legitimately zero
};

struct InputReport {
    int index = 0;
    Shape shape;
    double max_abs_error = 0;
    double max_rel_error = 0;
    int64_t worst_element = -1;  // flat index (or -1 in fast mode)
    double analytic = 0;         // at the worst element
    double numeric = 0;
    bool passed = true;
};

struct GradcheckReport {
    bool passed = true;
    std::vector<InputReport> inputs;
    std::vector<std::string> failures;  // one line per failed check
    double seconds = 0;
    double max_abs_error() const;
    double max_rel_error() const;
};

using GradcheckFn = std::function<Var(const std::vector<Var>&)>;

// inputs: float64 leaf variables; those with requires_grad are checked. Refuses float32.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Var>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace nalgrad

template <>
struct fmt::formatter<nalgrad::GradcheckReport> {
    constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
    format_context::iterator format(const nalgrad::GradcheckReport& r, format_context& ctx) const;
};
