#include "core/kernels/stride.hpp"

#include <cstring>

#include "core/checked.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// Calls move(kept_offset, input_offset, channels) for every kept pixel (element offsets of its
// channel vector in y and x), in parallel over batch items and output rows. Forward and
// backward differ only in the direction of the copy.
template <typename Move>
void for_each_kept_pixel(const Shape& x, const Shape& y, Size2 step, Size2 offset, Move move) {
    const int64_t channels = x[3];
    const int64_t out_h = y[1], out_w = y[2];
    parallel_for(y[0] * out_h, out_w * channels, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
            int64_t n = row / out_h, i = row % out_h;
            int64_t in_row = (n * x[1] + offset.h + i * step.h) * x[2];
            for (int64_t j = 0; j < out_w; ++j)
                move((row * out_w + j) * channels, (in_row + offset.w + j * step.w) * channels,
                     channels);
        }
    });
}

}  // namespace

Tensor stride_forward(const Tensor& x, Size2 step, Size2 offset) {
    Shape shape = x.shape();
    // ceil((h - oh) / sh) without forming h - oh + sh - 1, which wraps for a step near INT64_MAX.
    shape[1] = ceil_div(x.size(1) - offset.h, step.h).value();
    shape[2] = ceil_div(x.size(2) - offset.w, step.w).value();
    Tensor y(shape, x.dtype());
    auto* in = static_cast<const char*>(x.raw());
    auto* out = static_cast<char*>(y.raw());
    const std::size_t element = dtype_size(x.dtype());
    for_each_kept_pixel(x.shape(), shape, step, offset,
                        [&](int64_t kept, int64_t source, int64_t c) {
                            std::memcpy(out + kept * element, in + source * element, c * element);
                        });
    return y;
}

Tensor stride_backward(const Tensor& dy, const Shape& x_shape, Size2 step, Size2 offset) {
    Tensor dx = zeros(x_shape, dy.dtype());
    auto* in = static_cast<const char*>(dy.raw());
    auto* out = static_cast<char*>(dx.raw());
    const std::size_t element = dtype_size(dy.dtype());
    for_each_kept_pixel(x_shape, dy.shape(), step, offset,
                        [&](int64_t kept, int64_t target, int64_t c) {
                            std::memcpy(out + target * element, in + kept * element, c * element);
                        });
    return dx;
}

}  // namespace nalgrad::kernels
