#include "core/kernels/reduce.hpp"

#include <algorithm>
#include <array>

#include "core/kernels/elementwise.hpp"
#include "core/kernels/loops.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// x's axes with extent 1 dropped and neighbours merged when both are summed or both kept, so
// [n, h, w, c] summed over n, h, w (a bias gradient) is two groups: [n*h*w summed, c kept].
struct ReducePlan {
    int groups = 0;
    std::array<int64_t, Shape::max_rank> extent{};
    std::array<int64_t, Shape::max_rank> in_stride{};
    std::array<int64_t, Shape::max_rank> out_stride{};  // 0 for summed groups
    std::array<bool, Shape::max_rank> summed{};

    ReducePlan(const Shape& shape, const std::vector<bool>& reduced) {
        for (int i = 0; i < shape.rank(); ++i) {
            if (shape[i] == 1) continue;
            if (groups > 0 && summed[groups - 1] == reduced[i]) {
                extent[groups - 1] *= shape[i];
            } else {
                extent[groups] = shape[i];
                summed[groups] = reduced[i];
                ++groups;
            }
        }
        int64_t in = 1, out = 1;
        for (int g = groups - 1; g >= 0; --g) {
            in_stride[g] = in;
            in *= extent[g];
            out_stride[g] = summed[g] ? 0 : out;
            if (!summed[g]) out *= extent[g];
        }
    }
};

// Adds the elements [begin, end) of group g (and everything inside them) of x into out, in
// row-major order. The innermost group is contiguous in x: either a running sum or out[i] += x[i].
template <typename T>
void accumulate(const ReducePlan& p, int g, int64_t begin, int64_t end, const T* x, T* out) {
    if (g + 1 == p.groups) {
        if (p.summed[g]) {
            double s = 0;
            for (int64_t i = begin; i < end; ++i) s += x[i];
            *out += static_cast<T>(s);
        } else {
            for (int64_t i = begin; i < end; ++i) out[i] += x[i];
        }
        return;
    }
    for (int64_t i = begin; i < end; ++i)
        accumulate(p, g + 1, 0, p.extent[g + 1], x + i * p.in_stride[g], out + i * p.out_stride[g]);
}

}  // namespace

Tensor sum_keepdims(const Tensor& x, const std::vector<bool>& reduced, double scale) {
    if (static_cast<int>(reduced.size()) != x.rank())
        fail("sum", "{} axis flags for a tensor of shape {}", reduced.size(), x.shape());
    Shape shape = x.shape();
    for (int i = 0; i < x.rank(); ++i)
        if (reduced[i]) shape[i] = 1;
    Tensor y(shape, x.dtype());
    visit_float("sum", x.dtype(), [&]<typename T>(T) {
        const ReducePlan p(x.shape(), reduced);
        const T* in = x.data<T>();
        T* out = y.data<T>();
        const int64_t n = x.numel(), m = y.numel();
        if (n == 0) {  // sums over nothing
            std::fill(out, out + m, T(0));
        } else if (p.groups == 0) {  // a single element
            std::copy(in, in + m, out);
        } else if (m == 1) {
            out[0] =
                static_cast<T>(detail::deterministic_sum(n, 1, [&](int64_t i) { return in[i]; }));
        } else if (!p.summed[0]) {
            // The leading group is kept: its slices write disjoint outputs.
            std::fill(out, out + m, T(0));
            parallel_for(p.extent[0], p.in_stride[0],
                         [&](int64_t b, int64_t e) { accumulate(p, 0, b, e, in, out); });
        } else {
            // The leading group is summed: cut it into a number of chunks fixed by the sizes
            // alone (not by the threads), each summed into its own partial result, then add the
            // partials in order.
            const int64_t rows = p.extent[0];
            const int64_t chunks =
                std::clamp<int64_t>(n / serial_grain, 1, std::min<int64_t>(rows, 64));
            std::vector<T> partial(static_cast<std::size_t>(chunks * m), T(0));
            parallel_for(chunks, n / chunks, [&](int64_t b, int64_t e) {
                for (int64_t c = b; c < e; ++c)
                    accumulate(p, 0, rows * c / chunks, rows * (c + 1) / chunks, in,
                               partial.data() + c * m);
            });
            parallel_for(m, chunks, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) {
                    T s = partial[i];
                    for (int64_t c = 1; c < chunks; ++c) s += partial[c * m + i];
                    out[i] = s;
                }
            });
        }
        if (scale != 1) {
            const T s = static_cast<T>(scale);
            detail::map(
                m, detail::cheap, out, [s](T v) { return v * s; }, out);
        }
    });
    return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    if (shape.rank() > x.rank() || !(broadcast_shapes("sum_to", shape, x.shape()) == x.shape()))
        fail("sum_to", "cannot sum {} down to {}: {} does not broadcast to {}", x.shape(), shape,
             shape, x.shape());
    const int lead = x.rank() - shape.rank();
    std::vector<bool> reduced(static_cast<std::size_t>(x.rank()));
    for (int i = 0; i < x.rank(); ++i)
        reduced[i] = i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1);
    return sum_keepdims(x, reduced).reshape(shape);
}

}  // namespace nalgrad::kernels
