// Window geometry shared by convolution and pooling: padding modes, output size, offsets.
// docs/semantics.md: SAME gives ceil(x / s) outputs; of the total padding
// max((ceil(x/s) - 1) * s + k_eff - x, 0), total / 2 goes before and the rest after (SAME_UPPER).
#pragma once
#include <cstdint>
#include <string_view>

#include "core/shape.hpp"

namespace nalgrad {

// A pair of extents, rows then columns. `2` means {2, 2}.
struct Size2 {
    int64_t h = 1;
    int64_t w = 1;
    constexpr Size2() = default;
    constexpr Size2(int64_t both) : h(both), w(both) {}  // NOLINT: 2 reads as {2, 2}
    constexpr Size2(int64_t rows, int64_t cols) : h(rows), w(cols) {}
    friend constexpr bool operator==(const Size2&, const Size2&) = default;
};

// VALID (no padding, the default), SAME (SAME_UPPER), or explicit {top, bottom, left, right}.
class Padding {
  public:
    enum class Mode { valid, same, explicit_ };
    constexpr Padding() = default;
    constexpr explicit Padding(Mode mode) : mode_(mode) {}
    constexpr Padding(int64_t top, int64_t bottom, int64_t left, int64_t right)
        : mode_(Mode::explicit_), top_(top), bottom_(bottom), left_(left), right_(right) {}

    constexpr Mode mode() const { return mode_; }
    constexpr int64_t top() const { return top_; }
    constexpr int64_t bottom() const { return bottom_; }
    constexpr int64_t left() const { return left_; }
    constexpr int64_t right() const { return right_; }
    friend constexpr bool operator==(const Padding&, const Padding&) = default;

  private:
    Mode mode_ = Mode::valid;
    int64_t top_ = 0, bottom_ = 0, left_ = 0, right_ = 0;
};
inline constexpr Padding valid{Padding::Mode::valid};
inline constexpr Padding same{Padding::Mode::same};

// A 2-D sliding window over an NHWC input, fully resolved: output row r reads input rows
// r * stride_h - pad_top + i * dilation_h for i < kernel_h (likewise columns).
struct Window2d {
    int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t dilation_h = 1, dilation_w = 1;
    int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    int64_t out_h = 0, out_w = 0;

    int64_t effective_kernel_h() const { return (kernel_h - 1) * dilation_h + 1; }
    int64_t effective_kernel_w() const { return (kernel_w - 1) * dilation_w + 1; }
    Shape output_shape(int64_t out_channels) const { return {batch, out_h, out_w, out_channels}; }
    // The same window with explicit padding (what SAME resolved to); for cache keys and messages.
    Padding explicit_padding() const { return {pad_top, pad_bottom, pad_left, pad_right}; }
};

// Resolves padding and output size for an NHWC input `x`. Throws nalgrad::Error naming `op`, the
// argument and the shapes when the geometry is impossible: rank not 4, kernel, stride or dilation
// below 1, negative padding, a (dilated) kernel larger than the padded input, or an extent that
// overflows int64 (every size is computed in checked arithmetic, core/checked.hpp).
Window2d make_window(std::string_view op, const Shape& x, Size2 kernel, Size2 stride,
                     Size2 dilation, Padding padding);

}  // namespace nalgrad
