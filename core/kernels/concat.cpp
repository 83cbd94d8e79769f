#include "core/kernels/concat.hpp"

#include <cstring>

#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// Elements before `axis` (outer) and from `axis` on, per index of the axis (inner): a tensor is
// outer blocks of extent(axis) * inner contiguous elements.
struct Blocks {
    int64_t outer = 1, inner = 1;
};

Blocks blocks_of(const Shape& shape, int axis) {
    Blocks b;
    for (int i = 0; i < axis; ++i) b.outer *= shape[i];
    for (int i = axis + 1; i < shape.rank(); ++i) b.inner *= shape[i];
    return b;
}

}  // namespace

// Each outer block of y is the parts' outer blocks one after another: one copy per part and
// block, in parallel over the blocks.
Tensor concat(std::span<const Tensor> parts, int axis) {
    Shape shape = parts[0].shape();
    shape[axis] = 0;
    for (const Tensor& p : parts) shape[axis] += p.size(axis);
    Tensor y(shape, parts[0].dtype());
    const Blocks b = blocks_of(shape, axis);
    const std::size_t element = dtype_size(y.dtype());
    auto* out = static_cast<char*>(y.raw());
    const std::size_t row_bytes = static_cast<std::size_t>(shape[axis] * b.inner) * element;
    parallel_for(b.outer, shape[axis] * b.inner, [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
            char* target = out + static_cast<std::size_t>(o) * row_bytes;
            for (const Tensor& p : parts) {
                const auto bytes = static_cast<std::size_t>(p.size(axis) * b.inner) * element;
                std::memcpy(target, static_cast<const char*>(p.raw()) + o * bytes, bytes);
                target += bytes;
            }
        }
    });
    return y;
}

Tensor slice(const Tensor& x, int axis, int64_t begin, int64_t extent) {
    Shape shape = x.shape();
    shape[axis] = extent;
    Tensor y(shape, x.dtype());
    const Blocks b = blocks_of(shape, axis);
    const std::size_t element = dtype_size(x.dtype());
    const auto bytes = static_cast<std::size_t>(extent * b.inner) * element;
    const auto row_bytes = static_cast<std::size_t>(x.size(axis) * b.inner) * element;
    const auto skip = static_cast<std::size_t>(begin * b.inner) * element;
    const auto* in = static_cast<const char*>(x.raw());
    auto* out = static_cast<char*>(y.raw());
    parallel_for(b.outer, extent * b.inner, [&](int64_t first, int64_t last) {
        for (int64_t o = first; o < last; ++o)
            std::memcpy(out + static_cast<std::size_t>(o) * bytes,
                        in + static_cast<std::size_t>(o) * row_bytes + skip, bytes);
    });
    return y;
}

}  // namespace nalgrad::kernels
