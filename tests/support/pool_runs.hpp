// The pooling tests' five poolings, inputs without ties, and one pooling's output and gradient.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing::pool_runs {

// The five poolings under test: max pooling with each tie policy, average with each border.
struct PoolCase {
    std::string name;
    std::function<Var(const Var&, Size2 kernel, Size2 stride, Padding padding)> run;
};

inline std::vector<PoolCase> pool_cases() {
    std::vector<PoolCase> cases;
    for (auto [name, ties] :
         {std::pair{"max first", TiePolicy::first}, std::pair{"max all", TiePolicy::all},
          std::pair{"max split", TiePolicy::split}})
        cases.push_back({name, [ties](const Var& x, Size2 k, Size2 s, Padding p) {
                             return max_pool2d(
                                 x, {.kernel = k, .stride = s, .padding = p, .ties = ties});
                         }});
    for (auto [name, border] : {std::pair{"avg exclude_padding", AvgBorder::exclude_padding},
                                std::pair{"avg include_padding", AvgBorder::include_padding}})
        cases.push_back({name, [border](const Var& x, Size2 k, Size2 s, Padding p) {
                             return avg_pool2d(
                                 x, {.kernel = k, .stride = s, .padding = p, .border = border});
                         }});
    return cases;
}

// Distinct values (a shuffled ramp, multiples of 1/64, exact in float32): no ties anywhere.
inline Tensor distinct_values(Shape shape, Generator& gen) {
    const int64_t n = shape.numel();
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i - n / 2) / 64.0;
    for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[gen.below(i + 1)]);
    return tensor(v, shape, f64);
}

struct Result {
    Tensor y, dx;
};
// y = fn(x) and dx for the output gradient dy, in x's dtype (dy is converted).
inline Result run(const std::function<Var(const Var&)>& fn, const Tensor& x, const Tensor& dy) {
    Var xv = requires_grad(x.clone());
    Var y = fn(xv);
    y.backward(dy.astype(x.dtype()));
    return {y.value(), xv.grad()};
}

}  // namespace nalgrad::testing::pool_runs
