#include "data/augment.hpp"

#include <algorithm>
#include <array>

#include "core/checked.hpp"
#include "core/runtime.hpp"

namespace nalgrad::data {

namespace {

// Set apart from the shuffle's key (mix64(seed ^ mix64(epoch))), so the draws of a sample and the
// shuffle that placed it are unrelated.
constexpr uint64_t augment_salt = 0x6a09e667f3bcc909ULL;

// SplitMix64: the n-th output is mix64(key + n * golden), a counter that any thread can run.
class Stream {
  public:
    explicit Stream(uint64_t key) : state_(key) {}

    uint64_t next() {
        state_ += 0x9e3779b97f4a7c15ULL;
        return mix64(state_);
    }

    // Uniform in [0, n): rejection sampling, as Generator::below, so no offset is favoured.
    uint64_t below(uint64_t n) {
        const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t r = next();
        while (r >= limit) r = next();
        return r % n;
    }

  private:
    uint64_t state_;
};

// One sample [h, w, c]: output pixel (y, x) is source pixel (y + top - pad, x' + left - pad) with
// x' = w - 1 - x when mirrored (the crop first, then the flip, as in a PyTorch Compose), or the
// zero pixel where that falls in the padding.
template <typename T>
void place(const uint8_t* in, T* out, const Shape& sample, int64_t pad, Placement at,
           const std::array<T, 256>& value) {
    const int64_t h = sample[0], w = sample[1], c = sample[2];
    const T zero = value[0];
    for (int64_t y = 0; y < h; ++y) {
        T* row = out + y * w * c;
        const int64_t sy = y + at.top - pad;
        if (sy < 0 || sy >= h) {
            std::fill(row, row + w * c, zero);
            continue;
        }
        const uint8_t* source_row = in + sy * w * c;
        for (int64_t x = 0; x < w; ++x) {
            T* pixel = row + x * c;
            const int64_t sx = (at.flip ? w - 1 - x : x) + at.left - pad;
            if (sx < 0 || sx >= w) {
                std::fill(pixel, pixel + c, zero);
                continue;
            }
            const uint8_t* source = source_row + sx * c;
            for (int64_t ch = 0; ch < c; ++ch) pixel[ch] = value[source[ch]];
        }
    }
}

}  // namespace

Placement draw_placement(const Augment& augment, uint64_t seed, int64_t epoch, int64_t position) {
    Stream stream(mix64(mix64(mix64(seed ^ augment_salt) ^ static_cast<uint64_t>(epoch)) ^
                        static_cast<uint64_t>(position)));
    const auto offsets = static_cast<uint64_t>(2 * augment.crop_padding + 1);
    Placement at;
    at.top = static_cast<int64_t>(stream.below(offsets));
    at.left = static_cast<int64_t>(stream.below(offsets));
    const bool heads = (stream.next() >> 63) != 0;
    at.flip = augment.horizontal_flip && heads;
    return at;
}

void check_augment(std::string_view op, const Augment& augment, const Shape& sample_shape) {
    const int64_t pad = augment.crop_padding;
    if (pad < 0) fail(op, "augment.crop_padding must be 0 or more, got {}", pad);
    if (!augment.enabled()) return;
    const char* option = pad != 0 ? "augment.crop_padding" : "augment.horizontal_flip";
    if (sample_shape.rank() != 3)
        fail(op, "{} needs image samples [h, w, c], got samples {}", option, sample_shape);
    // Offsets run to h + 2 pad; draw_placement draws from 2 pad + 1 of them.
    if (!(Checked(pad) * 2 + std::max(sample_shape[0], sample_shape[1])).ok())
        fail(op,
             "augment.crop_padding {} is too large for images {}x{}: the padded extent "
             "overflows int64",
             pad, sample_shape[0], sample_shape[1]);
}

Tensor gather_augmented(const Dataset& data, std::span<const int64_t> indices,
                        const BatchOptions& options, int64_t epoch, int64_t first_position) {
    const Shape& sample = data.sample_shape();
    Shape shape{static_cast<int64_t>(indices.size())};
    for (int64_t d : sample) shape.push_back(d);
    Tensor x(shape, options.dtype);
    const int64_t bytes = data.sample_bytes();
    const uint8_t* source = data.pixels().data();
    visit_float("batches", options.dtype, [&]<typename T>(T) {
        // Dataset::gather_images's table: a pixel the crop keeps has the same bits as without it.
        std::array<T, 256> value{};
        for (int p = 0; p < 256; ++p)
            value[p] = static_cast<T>((p / 255.0 - options.mean) / options.stddev);
        T* out = x.data<T>();
        parallel_for(static_cast<int64_t>(indices.size()), bytes, [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                const Placement at =
                    draw_placement(options.augment, options.seed, epoch, first_position + k);
                place(source + indices[k] * bytes, out + k * bytes, sample,
                      options.augment.crop_padding, at, value);
            }
        });
    });
    return x;
}

}  // namespace nalgrad::data
