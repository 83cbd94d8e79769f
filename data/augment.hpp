// Random crop and flip for the batch loader (internal: nalgrad.hpp does not include it).
//
// Each sample draws from its own counter-based stream, keyed by (seed, epoch, position of the
// sample in the epoch's order): the draws depend neither on which thread assembles the sample nor
// on the batches before it, so every thread count and batch size gives the same images. A
// SplitMix64 stream costs two multiplications a draw, where seeding an mt19937_64 per sample would
// cost more than copying a small image.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "data/batches.hpp"

namespace nalgrad::data {

// SplitMix64's finaliser: nearby inputs give unrelated outputs.
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Where one sample's crop window starts in the padded image, and whether it is mirrored.
struct Placement {
    int64_t top = 0;   // 0 to 2 crop_padding; the source row of output row y is y + top - padding
    int64_t left = 0;  // the same for columns, before the mirror
    bool flip = false;
};

// The draws of the sample at `position` in epoch `epoch`: top, left, then the flip, always all
// three, so turning one transform on or off leaves the other's draws as they were.
Placement draw_placement(const Augment& augment, uint64_t seed, int64_t epoch, int64_t position);

// Throws nalgrad::Error naming `op` and the option when `augment` does not fit samples of
// `sample_shape`.
void check_augment(std::string_view op, const Augment& augment, const Shape& sample_shape);

// Samples `indices` as Dataset::gather_images gives them, the k-th cropped and mirrored as
// draw_placement(augment, seed, epoch, first_position + k) says; padding reads as pixel 0.
// Parallel over samples (TBB).
Tensor gather_augmented(const Dataset& data, std::span<const int64_t> indices,
                        const BatchOptions& options, int64_t epoch, int64_t first_position);

}  // namespace nalgrad::data
