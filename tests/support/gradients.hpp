// Helpers for op tests: random float64 inputs, and a gradient check that reports what failed.
#pragma once
#include <string_view>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing {

// Values drawn uniformly from [low, high): ties and kinks are unlikely, as gradcheck needs.
inline Var random_input(Shape shape, Generator& gen, double low = -2, double high = 2) {
    return requires_grad(uniform(shape, low, high, f64, gen));
}

// A variable's values, flat, for comparing with hand-computed lists.
inline std::vector<double> values(const Var& v) {
    return v.value().to_vector();
}

// gradcheck (whole Jacobian) passes; on failure the message names the case and shows the report.
inline void check_gradients(std::string_view what, const GradcheckFn& fn,
                            const std::vector<Var>& inputs) {
    GradcheckReport report = gradcheck(fn, inputs);
    CHECK_MESSAGE(report.passed, fmt::format("{}: {}", what, report));
}

}  // namespace nalgrad::testing
