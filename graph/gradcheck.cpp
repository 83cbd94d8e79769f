#include "graph/gradcheck.hpp"

#include <chrono>
#include <cmath>

#include "core/random.hpp"

namespace nalgrad {
namespace {

// The function's value with the inputs as they are now, recording nothing.
Tensor evaluate(const GradcheckFn& fn, const std::vector<Var>& inputs) {
    NoGradGuard no_grad;
    return fn(inputs).value().clone();
}

// Gradients of <seed, fn(inputs)> with respect to every input (zeros where none reached).
std::vector<Tensor> vjp(const GradcheckFn& fn, const std::vector<Var>& inputs, const Tensor& seed) {
    for (Var v : inputs) v.zero_grad();
    Var out = fn(inputs);
    std::vector<Tensor> grads(inputs.size());
    if (out.requires_grad()) out.backward(seed);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& g = inputs[i].grad();
        grads[i] = g.defined() ? g.clone() : zeros_like(inputs[i].value());
    }
    for (Var v : inputs) v.zero_grad();
    return grads;
}

double& element(const Tensor& t, int64_t i) {
    return t.data<double>()[i];
}

bool all_zero(const Tensor& t) {
    for (int64_t i = 0; i < t.numel(); ++i)
        if (t.at(i) != 0) return false;
    return true;
}

void compare(InputReport& r, int64_t index, double analytic, double numeric,
             const GradcheckOptions& o) {
    double abs_error = std::abs(analytic - numeric);
    double rel_error = abs_error / std::max(std::abs(numeric), 1e-300);
    bool ok = abs_error <= o.atol + o.rtol * std::abs(numeric);
    if (std::isnan(abs_error)) ok = false;
    if (!ok && r.passed) {
        r.passed = false;
        r.worst_element = index;
        r.analytic = analytic;
        r.numeric = numeric;
    }
    if (abs_error > r.max_abs_error || std::isnan(abs_error)) {
        r.max_abs_error = abs_error;
        if (r.passed) {
            r.worst_element = index;
            r.analytic = analytic;
            r.numeric = numeric;
        }
    }
    if (std::abs(numeric) > o.atol) r.max_rel_error = std::max(r.max_rel_error, rel_error);
}

}  // namespace

double GradcheckReport::max_abs_error() const {
    double m = 0;
    for (const auto& r : inputs) m = std::max(m, r.max_abs_error);
    return m;
}
double GradcheckReport::max_rel_error() const {
    double m = 0;
    for (const auto& r : inputs) m = std::max(m, r.max_rel_error);
    return m;
}

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Var>& inputs,
                          const GradcheckOptions& o) {
    auto start = std::chrono::steady_clock::now();
    GradcheckReport report;
    bool any = false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].defined()) fail("gradcheck", "input {} is undefined", i);
        if (inputs[i].dtype() != f64)
            fail("gradcheck",
                 "input {} is {} {}; gradcheck needs float64 inputs (float32 is too "
                 "coarse for central differences): use astype(f64)",
                 i, dtype_name(inputs[i].dtype()), inputs[i].shape());
        if (!inputs[i].is_leaf()) fail("gradcheck", "input {} is not a leaf variable", i);
        any = any || inputs[i].requires_grad();
    }
    if (!any) fail("gradcheck", "no input has requires_grad");

    Tensor y0 = evaluate(fn, inputs);
    if (y0.dtype() != f64)
        fail("gradcheck", "the function returned {}, not f64", dtype_name(y0.dtype()));
    const int64_t m = y0.numel();
    Generator gen(o.seed);
    bool jacobian_nonzero = false;

    if (!o.fast) {
        // Analytic Jacobian, one row per output element: J[k] = d y_k / d inputs.
        std::vector<std::vector<Tensor>> rows(m);
        Tensor seed = zeros(y0.shape(), f64);
        for (int64_t k = 0; k < m; ++k) {
            element(seed, k) = 1;
            rows[k] = vjp(fn, inputs, seed);
            element(seed, k) = 0;
        }
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (!inputs[i].requires_grad()) continue;
            InputReport r{.index = static_cast<int>(i), .shape = inputs[i].shape()};
            const Tensor& x = inputs[i].value();
            for (int64_t j = 0; j < x.numel(); ++j) {
                double saved = element(x, j);
                element(x, j) = saved + o.eps;
                Tensor plus = evaluate(fn, inputs);
                element(x, j) = saved - o.eps;
                Tensor minus = evaluate(fn, inputs);
                element(x, j) = saved;
                for (int64_t k = 0; k < m; ++k) {
                    double numeric = (plus.at(k) - minus.at(k)) / (2 * o.eps);
                    double analytic = rows[k][i].at(j);
                    if (numeric != 0 || analytic != 0) jacobian_nonzero = true;
                    compare(r, j * m + k, analytic, numeric, o);
                }
            }
            report.passed = report.passed && r.passed;
            report.inputs.push_back(r);
        }
    } else {
        Tensor v = normal(y0.shape(), f64, gen);
        std::vector<Tensor> analytic = vjp(fn, inputs, v);
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (!inputs[i].requires_grad()) continue;
            InputReport r{.index = static_cast<int>(i), .shape = inputs[i].shape()};
            const Tensor& x = inputs[i].value();
            Tensor u = normal(x.shape(), f64, gen);
            Tensor saved = x.clone();
            for (int64_t j = 0; j < x.numel(); ++j) element(x, j) = saved.at(j) + o.eps * u.at(j);
            Tensor plus = evaluate(fn, inputs);
            for (int64_t j = 0; j < x.numel(); ++j) element(x, j) = saved.at(j) - o.eps * u.at(j);
            Tensor minus = evaluate(fn, inputs);
            for (int64_t j = 0; j < x.numel(); ++j) element(x, j) = saved.at(j);
            double numeric = 0, projected = 0;
            for (int64_t k = 0; k < m; ++k) numeric += v.at(k) * (plus.at(k) - minus.at(k));
            numeric /= 2 * o.eps;
            for (int64_t j = 0; j < x.numel(); ++j) projected += analytic[i].at(j) * u.at(j);
            if (numeric != 0 || projected != 0 || !all_zero(analytic[i])) jacobian_nonzero = true;
            compare(r, -1, projected, numeric, o);
            report.passed = report.passed && r.passed;
            report.inputs.push_back(r);
        }
    }
    for (const auto& r : report.inputs)
        if (!r.passed)
            report.failures.push_back(fmt::format(
                "input {} {}: element {}: analytic {:.9g} vs numeric {:.9g} (abs error {:.3g})",
                r.index, r.shape, r.worst_element, r.analytic, r.numeric,
                std::abs(r.analytic - r.numeric)));

    if (!jacobian_nonzero && !o.allow_zero_jacobian) {
        report.passed = false;
        report.failures.push_back("the Jacobian is zero everywhere: the check proves nothing");
    }

    // Backward twice with the same seed: bitwise equal gradients.
    Tensor seed = normal(y0.shape(), f64, gen);
    std::vector<Tensor> first = vjp(fn, inputs, seed);
    std::vector<Tensor> second = vjp(fn, inputs, seed);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad() && !equal(first[i], second[i])) {
            report.passed = false;
            report.failures.push_back(fmt::format(
                "input {}: backward run twice gave different gradients (max difference {:.3g})", i,
                max_abs_diff(first[i], second[i])));
        }
    // A zero output gradient gives zero input gradients.
    std::vector<Tensor> from_zero = vjp(fn, inputs, zeros(y0.shape(), f64));
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad() && !all_zero(from_zero[i])) {
            report.passed = false;
            report.failures.push_back(
                fmt::format("input {}: a zero output gradient gave a non-zero input gradient", i));
        }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
}

}  // namespace nalgrad

fmt::format_context::iterator fmt::formatter<nalgrad::GradcheckReport>::format(
    const nalgrad::GradcheckReport& r, format_context& ctx) const {
    auto out = ctx.out();
    out = fmt::format_to(out, "gradcheck {} ({:.3f} s)", r.passed ? "passed" : "FAILED", r.seconds);
    for (const auto& in : r.inputs)
        out = fmt::format_to(out, "\n  input {} {}: max abs error {:.3g}, max rel error {:.3g}{}",
                             in.index, in.shape, in.max_abs_error, in.max_rel_error,
                             in.passed ? "" : "  FAILED");
    for (const auto& f : r.failures) out = fmt::format_to(out, "\n  {}", f);
    return out;
}
