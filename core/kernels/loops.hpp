// Loop skeletons shared by the project's own kernels (private to core/kernels): parallel maps over
// contiguous arrays, and a sum whose bits do not depend on the number of threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <string_view>

#include "core/runtime.hpp"
#include "core/tensor.hpp"

namespace nalgrad::kernels::detail {

// Rough work per element, for parallel_for's grain: plain arithmetic, or exp/log/tanh.
inline constexpr int64_t cheap = 1;
inline constexpr int64_t costly = 8;

// out[i] = f(in[i]...) over [0, n), in parallel. Contiguous and branch-light, so it vectorises.
template <typename T, typename F, typename... In>
void map(int64_t n, int64_t cost, T* out, F f, const In*... in) {
    parallel_for(n, cost, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) out[i] = f(in[i]...);
    });
}

// A new tensor shaped like `first` holding f(first[i], rest[i]...); f is generic over float and
// double. All inputs must have the same shape and dtype.
template <typename F, typename... Rest>
Tensor map_tensors(std::string_view op, int64_t cost, F f, const Tensor& first,
                   const Rest&... rest) {
    [[maybe_unused]] auto check = [&](const Tensor& t) {
        if (t.dtype() != first.dtype() || !(t.shape() == first.shape()))
            fail(op, "operands differ: {} {} and {} {}", dtype_name(first.dtype()), first.shape(),
                 dtype_name(t.dtype()), t.shape());
    };
    (check(rest), ...);
    Tensor out(first.shape(), first.dtype());
    visit_float(op, first.dtype(), [&]<typename T>(T) {
        map(first.numel(), cost, out.data<T>(), f, first.data<T>(), rest.template data<T>()...);
    });
    return out;
}

// 1 / (1 + exp(-v)) computed through exp(-|v|) only, which cannot overflow.
template <typename T>
T stable_sigmoid(T v) {
    const T e = std::exp(-std::abs(v));
    return v >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// The sum of term(i) over [0, n), in double. The range is cut into chunks of a fixed size whose
// partial sums are added in order, so the result has the same bits for any thread count (the
// gradient check runs backward twice and expects bitwise equal gradients).
template <typename Term>
double deterministic_sum(int64_t n, int64_t cost, Term term) {
    constexpr int64_t chunk = 4096;
    const int64_t chunks = (n + chunk - 1) / chunk;
    Tensor partials({chunks}, f64);  // from the tensor cache, unlike a std::vector
    double* partial = partials.data<double>();
    parallel_for(chunks, chunk * cost, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
            double s = 0;
            const int64_t last = std::min(n, (c + 1) * chunk);
            for (int64_t i = c * chunk; i < last; ++i) s += static_cast<double>(term(i));
            partial[c] = s;
        }
    });
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c];
    return total;
}

}  // namespace nalgrad::kernels::detail
