#include "core/kernels/dropout.hpp"

#include "core/runtime.hpp"

namespace nalgrad::kernels {

Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator& gen) {
    Tensor mask(shape, dtype);
    visit_float("dropout", dtype, [&]<typename T>(T) {
        T* m = mask.data<T>();
        const T kept = T(1 / (1 - p));
        for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() < p ? T(0) : kept;
    });
    return mask;
}

Tensor apply_mask(const Tensor& x, const Tensor& mask) {
    Tensor y(x.shape(), x.dtype());
    visit_float("dropout", x.dtype(), [&]<typename T>(T) {
        const T* in = x.data<T>();
        const T* m = mask.data<T>();
        T* out = y.data<T>();
        parallel_for(x.numel(), 1, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) out[i] = in[i] * m[i];
        });
    });
    return y;
}

}  // namespace nalgrad::kernels
