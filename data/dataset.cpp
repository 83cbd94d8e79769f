#include "data/dataset.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/runtime.hpp"

namespace nalgrad::data {

Dataset::Dataset(std::vector<uint8_t> pixels, Shape sample_shape, Tensor labels)
    : sample_shape_(sample_shape), labels_(std::move(labels)) {
    if (!labels_.defined() || labels_.dtype() != i64 || labels_.rank() != 1)
        fail("Dataset", "labels must be an i64 tensor [n], got {}",
             labels_.defined() ? fmt::format("{} {}", dtype_name(labels_.dtype()), labels_.shape())
                               : std::string("an undefined tensor"));
    for (int64_t d : sample_shape)
        if (d <= 0) fail("Dataset", "sample shape {} has an empty extent", sample_shape);
    auto expected = static_cast<std::size_t>(labels_.numel() * sample_shape.numel());
    if (pixels.size() != expected)
        fail("Dataset", "{} labels of samples {} need {} pixel bytes, got {}", labels_.numel(),
             sample_shape, expected, pixels.size());
    pixels_ = std::make_shared<const std::vector<uint8_t>>(std::move(pixels));
}

std::span<const uint8_t> Dataset::pixels() const {
    if (!pixels_) return {};
    return {pixels_->data(), pixels_->size()};
}

namespace {
void check_indices(std::span<const int64_t> indices, int64_t size) {
    for (int64_t i : indices)
        if (i < 0 || i >= size)
            fail("Dataset", "sample index {} out of range for {} samples", i, size);
}
}  // namespace

Tensor Dataset::gather_images(std::span<const int64_t> indices, double mean, double stddev,
                              DType dtype) const {
    check_indices(indices, size());
    if (!(stddev > 0) || !std::isfinite(stddev) || !std::isfinite(mean))
        fail("Dataset", "standardisation needs a finite mean and a positive stddev, got {} and {}",
             mean, stddev);
    Shape shape{static_cast<int64_t>(indices.size())};
    for (int64_t d : sample_shape_) shape.push_back(d);
    Tensor x(shape, dtype);
    const int64_t bytes = sample_bytes();
    const uint8_t* source = pixels_ ? pixels_->data() : nullptr;
    visit_float("Dataset", dtype, [&]<typename T>(T) {
        // 256 possible inputs: a table gives every pixel the same once-rounded value.
        std::array<T, 256> value{};
        for (int p = 0; p < 256; ++p) value[p] = static_cast<T>((p / 255.0 - mean) / stddev);
        T* out = x.data<T>();
        parallel_for(static_cast<int64_t>(indices.size()), bytes, [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                const uint8_t* in = source + indices[k] * bytes;
                T* row = out + k * bytes;
                for (int64_t j = 0; j < bytes; ++j) row[j] = value[in[j]];
            }
        });
    });
    return x;
}

Tensor Dataset::gather_labels(std::span<const int64_t> indices) const {
    check_indices(indices, size());
    Tensor labels({static_cast<int64_t>(indices.size())}, i64);
    const int64_t* source = labels_.defined() ? labels_.data<int64_t>() : nullptr;
    int64_t* out = labels.data<int64_t>();
    for (std::size_t k = 0; k < indices.size(); ++k) out[k] = source[indices[k]];
    return labels;
}

Tensor Dataset::images(DType dtype) const {
    std::vector<int64_t> all(static_cast<std::size_t>(size()));
    std::iota(all.begin(), all.end(), int64_t{0});
    return gather_images(all, 0, 1, dtype);
}

Dataset Dataset::subset(int64_t begin, int64_t end) const {
    if (begin < 0 || end < begin || end > size())
        fail("Dataset", "subset [{}, {}) out of range for {} samples", begin, end, size());
    if (!pixels_) return *this;  // the empty default dataset
    std::vector<int64_t> range(static_cast<std::size_t>(end - begin));
    std::iota(range.begin(), range.end(), begin);
    std::vector<uint8_t> pixels(pixels_->begin() + begin * sample_bytes(),
                                pixels_->begin() + end * sample_bytes());
    return Dataset(std::move(pixels), sample_shape_, gather_labels(range));
}

}  // namespace nalgrad::data
