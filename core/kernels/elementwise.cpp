#include "core/kernels/elementwise.hpp"

#include "core/runtime.hpp"

namespace nalgrad::kernels {

void add_into(Tensor& acc, const Tensor& x) {
    if (acc.dtype() != x.dtype() || !(acc.shape() == x.shape()))
        fail("add_into", "accumulator is {} {}, addend is {} {}", dtype_name(acc.dtype()),
             acc.shape(), dtype_name(x.dtype()), x.shape());
    visit_float("add_into", acc.dtype(), [&]<typename T>(T) {
        T* a = acc.data<T>();
        const T* b = x.data<T>();
        parallel_for(acc.numel(), 1, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) a[i] += b[i];
        });
    });
}

}  // namespace nalgrad::kernels

namespace nalgrad::kernels {

Tensor relu(const Tensor& x) {
    Tensor y(x.shape(), x.dtype());
    visit_float("relu", x.dtype(), [&]<typename T>(T) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        parallel_for(x.numel(), 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
        });
    });
    return y;
}

Tensor relu_backward(const Tensor& y, const Tensor& dy) {
    Tensor dx(y.shape(), y.dtype());
    visit_float("relu", y.dtype(), [&]<typename T>(T) {
        const T* out = y.data<T>();
        const T* g = dy.data<T>();
        T* d = dx.data<T>();
        parallel_for(y.numel(), 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) d[i] = out[i] > T(0) ? g[i] : T(0);
        });
    });
    return dx;
}

}  // namespace nalgrad::kernels
