#include "graph/gradcheck.hpp"

#include <chrono>
#include <cmath>

#include "core/random.hpp"

namespace nalgrad {
namespace {

// fn's result, refused by name when it is undefined (which Var would report as its own misuse).
Var call(const GradcheckFn& fn, const std::vector<Var>& inputs) {
    Var out = fn(inputs);
    if (!out.defined()) fail("gradcheck", "the function returned an undefined variable");
    return out;
}

// The function's value with the inputs as they are now, recording nothing.
Tensor evaluate(const GradcheckFn& fn, const std::vector<Var>& inputs) {
    NoGradGuard no_grad;
    return call(fn, inputs).value().clone();
}

// Gradients of <seed, fn(inputs)> with respect to every input (zeros where none reached).
std::vector<Tensor> vjp(const GradcheckFn& fn, const std::vector<Var>& inputs, const Tensor& seed) {
    for (Var v : inputs) v.zero_grad();
    Var out = call(fn, inputs);
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

// The function under check, its inputs and the options: what every step below reads.
struct Subject {
    const GradcheckFn& fn;
    const std::vector<Var>& inputs;
    const GradcheckOptions& o;
};

// Refuses what central differences cannot check: undefined, non-f64 or non-leaf inputs, or none
// that requires a gradient.
void check_inputs(const std::vector<Var>& inputs) {
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
}

// The analytic Jacobian, one row per output element: rows[k][i] = d y_k / d inputs[i].
std::vector<std::vector<Tensor>> jacobian_rows(const Subject& s, const Shape& output_shape,
                                               int64_t m) {
    std::vector<std::vector<Tensor>> rows(m);
    Tensor seed = zeros(output_shape, f64);
    for (int64_t k = 0; k < m; ++k) {
        element(seed, k) = 1;
        rows[k] = vjp(s.fn, s.inputs, seed);
        element(seed, k) = 0;
    }
    return rows;
}

// Input i's Jacobian columns by central differences, one input element at a time, against the
// analytic rows. Sets `nonzero` when an entry on either side is not zero.
InputReport compare_columns(const Subject& s, std::size_t i,
                            const std::vector<std::vector<Tensor>>& rows, bool& nonzero) {
    InputReport r{.index = static_cast<int>(i), .shape = s.inputs[i].shape()};
    const Tensor& x = s.inputs[i].value();
    const auto m = static_cast<int64_t>(rows.size());
    for (int64_t j = 0; j < x.numel(); ++j) {
        double saved = element(x, j);
        element(x, j) = saved + s.o.eps;
        Tensor plus = evaluate(s.fn, s.inputs);
        element(x, j) = saved - s.o.eps;
        Tensor minus = evaluate(s.fn, s.inputs);
        element(x, j) = saved;
        for (int64_t k = 0; k < m; ++k) {
            double numeric = (plus.at(k) - minus.at(k)) / (2 * s.o.eps);
            double analytic = rows[k][i].at(j);
            if (numeric != 0 || analytic != 0) nonzero = true;
            compare(r, j * m + k, analytic, numeric, s.o);
        }
    }
    return r;
}

// The whole Jacobian, for every input that requires a gradient. Returns whether any entry on
// either side is not zero.
bool check_jacobian(const Subject& s, const Tensor& y0, GradcheckReport& report) {
    const std::vector<std::vector<Tensor>> rows = jacobian_rows(s, y0.shape(), y0.numel());
    bool nonzero = false;
    for (std::size_t i = 0; i < s.inputs.size(); ++i) {
        if (!s.inputs[i].requires_grad()) continue;
        InputReport r = compare_columns(s, i, rows, nonzero);
        report.passed = report.passed && r.passed;
        report.inputs.push_back(r);
    }
    return nonzero;
}

// x = saved + step * u, element by element (x is an input's value, changed in place).
void displace(const Tensor& x, const Tensor& saved, const Tensor& u, double step) {
    for (int64_t j = 0; j < x.numel(); ++j) element(x, j) = saved.at(j) + step * u.at(j);
}

// v^T J u for input i: its analytic gradient of <v, y> projected on a random direction u (drawn
// from `gen`), against the central difference of <v, y> along u. Sets `nonzero` when either side
// or the analytic gradient is not zero.
InputReport compare_projection(const Subject& s, std::size_t i, const Tensor& v,
                               const Tensor& analytic, Generator& gen, bool& nonzero) {
    InputReport r{.index = static_cast<int>(i), .shape = s.inputs[i].shape()};
    const Tensor& x = s.inputs[i].value();
    Tensor u = normal(x.shape(), f64, gen);
    Tensor saved = x.clone();
    displace(x, saved, u, s.o.eps);
    Tensor plus = evaluate(s.fn, s.inputs);
    displace(x, saved, u, -s.o.eps);
    Tensor minus = evaluate(s.fn, s.inputs);
    for (int64_t j = 0; j < x.numel(); ++j) element(x, j) = saved.at(j);
    double numeric = 0, projected = 0;
    for (int64_t k = 0; k < v.numel(); ++k) numeric += v.at(k) * (plus.at(k) - minus.at(k));
    numeric /= 2 * s.o.eps;
    for (int64_t j = 0; j < x.numel(); ++j) projected += analytic.at(j) * u.at(j);
    if (numeric != 0 || projected != 0 || !all_zero(analytic)) nonzero = true;
    compare(r, -1, projected, numeric, s.o);
    return r;
}

// The fast mode: one random projection per input that requires a gradient, all against one
// random output gradient v. Returns whether any projection or analytic gradient is not zero.
bool check_projections(const Subject& s, const Tensor& y0, Generator& gen,
                       GradcheckReport& report) {
    Tensor v = normal(y0.shape(), f64, gen);
    std::vector<Tensor> analytic = vjp(s.fn, s.inputs, v);
    bool nonzero = false;
    for (std::size_t i = 0; i < s.inputs.size(); ++i) {
        if (!s.inputs[i].requires_grad()) continue;
        InputReport r = compare_projection(s, i, v, analytic[i], gen, nonzero);
        report.passed = report.passed && r.passed;
        report.inputs.push_back(r);
    }
    return nonzero;
}

// A failed check: the report fails, with this line.
void add_failure(GradcheckReport& report, std::string line) {
    report.passed = false;
    report.failures.push_back(std::move(line));
}

// One line per input whose Jacobian check failed, at its worst element.
void describe_failed_inputs(GradcheckReport& report) {
    for (const auto& r : report.inputs)
        if (!r.passed)
            report.failures.push_back(fmt::format(
                "input {} {}: element {}: analytic {:.9g} vs numeric {:.9g} (abs error {:.3g})",
                r.index, r.shape, r.worst_element, r.analytic, r.numeric,
                std::abs(r.analytic - r.numeric)));
}

// Backward twice with the same random seed (drawn from `gen`): bitwise equal gradients.
void check_repeatable(const Subject& s, const Shape& output_shape, Generator& gen,
                      GradcheckReport& report) {
    Tensor seed = normal(output_shape, f64, gen);
    std::vector<Tensor> first = vjp(s.fn, s.inputs, seed);
    std::vector<Tensor> second = vjp(s.fn, s.inputs, seed);
    for (std::size_t i = 0; i < s.inputs.size(); ++i)
        if (s.inputs[i].requires_grad() && !equal(first[i], second[i]))
            add_failure(report, fmt::format("input {}: backward run twice gave different "
                                            "gradients (max difference {:.3g})",
                                            i, max_abs_diff(first[i], second[i])));
}

// A zero output gradient gives zero input gradients.
void check_zero_seed(const Subject& s, const Shape& output_shape, GradcheckReport& report) {
    std::vector<Tensor> from_zero = vjp(s.fn, s.inputs, zeros(output_shape, f64));
    for (std::size_t i = 0; i < s.inputs.size(); ++i)
        if (s.inputs[i].requires_grad() && !all_zero(from_zero[i]))
            add_failure(
                report,
                fmt::format("input {}: a zero output gradient gave a non-zero input gradient", i));
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
    check_inputs(inputs);
    Tensor y0 = evaluate(fn, inputs);
    if (y0.dtype() != f64)
        fail("gradcheck", "the function returned {}, not f64", dtype_name(y0.dtype()));
    const Subject s{fn, inputs, o};
    // One generator for the fast mode's projections, then the repeatability check's seed.
    Generator gen(o.seed);
    GradcheckReport report;
    const bool jacobian_nonzero =
        o.fast ? check_projections(s, y0, gen, report) : check_jacobian(s, y0, report);
    describe_failed_inputs(report);
    if (!jacobian_nonzero && !o.allow_zero_jacobian)
        add_failure(report, "the Jacobian is zero everywhere: the check proves nothing");
    check_repeatable(s, y0.shape(), gen, report);
    check_zero_seed(s, y0.shape(), report);
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
