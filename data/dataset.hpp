// A labelled set of images held as unsigned bytes, as image datasets ship: a quarter of the
// memory of float32, converted per batch. Copies share the pixels.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/tensor.hpp"

namespace nalgrad::data {

class Dataset {
  public:
    Dataset() = default;
    // pixels: n samples of sample_shape (e.g. [28, 28, 1], HWC) in row-major order, 0-255;
    // labels: i64 [n].
    Dataset(std::vector<uint8_t> pixels, Shape sample_shape, Tensor labels);

    int64_t size() const { return labels_.defined() ? labels_.numel() : 0; }
    const Shape& sample_shape() const { return sample_shape_; }
    int64_t sample_bytes() const { return sample_shape_.numel(); }
    std::span<const uint8_t> pixels() const;
    const Tensor& labels() const { return labels_; }

    // Samples `indices` as [k, ...sample_shape], each value (pixel / 255 - mean) / stddev,
    // computed in double and rounded once to `dtype`. Parallel over samples (TBB).
    Tensor gather_images(std::span<const int64_t> indices, double mean = 0, double stddev = 1,
                         DType dtype = f32) const;
    Tensor gather_labels(std::span<const int64_t> indices) const;  // i64 [k]

    Tensor images(DType dtype = f32) const;            // all of them, scaled to [0, 1]
    Dataset subset(int64_t begin, int64_t end) const;  // samples [begin, end), copied

  private:
    std::shared_ptr<const std::vector<uint8_t>> pixels_;
    Shape sample_shape_;
    Tensor labels_;
};

}  // namespace nalgrad::data
