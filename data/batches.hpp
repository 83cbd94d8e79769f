// Mini-batches for training: `for (auto [x, labels] : batches(data, {.batch = 64, .shuffle =
// true, .seed = 1})) { ... }` gives x: f32 [b, ...sample_shape] (NHWC for images), scaled to
// [0, 1] or standardised, and labels: i64 [b].
//
// Shuffling is reproducible: epoch e of seed s visits the samples in the same order on every
// machine and thread count (a Fisher-Yates shuffle drawing from nalgrad::Generator). While the
// model computes on one batch, the next is assembled on a background thread (TBB inside, never
// oneDNN), so each pass keeps at most two batches in flight.
//
// Augmentation (BatchOptions::augment, for the training loader only) crops and mirrors each image
// as PyTorch's RandomCrop(size, padding) and RandomHorizontalFlip() do, with draws that depend on
// the seed, the epoch and the sample's position in the epoch, never on the thread count.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.hpp"

namespace nalgrad::data {

enum class LastBatch {
    keep,  // the last, smaller batch of an epoch is used
    drop,  // every batch has exactly `batch` samples
};

// Random transforms of image samples [h, w, c], drawn afresh per sample and epoch. Evaluation
// loaders leave it off.
struct Augment {
    // Pad each side with this many zero pixels, then crop back to h x w at an offset drawn
    // uniformly from [0, 2 crop_padding] in each direction (PyTorch's RandomCrop(size, padding)).
    // The padding is the pixel value 0 before standardisation, so with a mean it reads
    // (0 - mean) / stddev, as when PyTorch pads the image before Normalize. 0: no crop.
    int64_t crop_padding = 0;
    // Mirror left-right with probability 1/2, after the crop (RandomHorizontalFlip()).
    bool horizontal_flip = false;

    bool enabled() const { return crop_padding != 0 || horizontal_flip; }
};

struct BatchOptions {
    int64_t batch = 64;
    bool shuffle = false;
    uint64_t seed = 0;
    int64_t epoch = 0;  // the epoch of the first pass; each further pass takes the next
    LastBatch last = LastBatch::keep;
    // x = (pixel / 255 - mean) / stddev; Fashion-MNIST's are fashion_mnist_mean and _stddev.
    double mean = 0;
    double stddev = 1;
    DType dtype = f32;
    bool prefetch = true;  // assemble the next batch on a background thread
    Augment augment{};     // off by default
};

struct Batch {
    Tensor x;       // [b, ...sample_shape]
    Tensor labels;  // i64 [b]
};

class Batches {
  public:
    Batches(Dataset data, BatchOptions options);

    struct End {};
    class Iterator {
      public:
        Iterator(Iterator&&) noexcept;
        Iterator& operator=(Iterator&&) noexcept;
        ~Iterator();
        const Batch& operator*() const;
        const Batch* operator->() const { return &**this; }
        Iterator& operator++();
        friend bool operator==(const Iterator& it, End) { return it.done(); }

      private:
        friend class Batches;
        struct State;
        explicit Iterator(std::unique_ptr<State> state);
        bool done() const;
        std::unique_ptr<State> state_;
    };

    // Starts a pass over the data: the first begin() is epoch options.epoch, each further one the
    // next epoch, so a loop over epochs reshuffles each time.
    Iterator begin();
    End end() const { return {}; }

    int64_t size() const;                     // batches per epoch
    int64_t epoch() const { return epoch_; }  // the epoch the next begin() will use
    void set_epoch(int64_t epoch) { epoch_ = epoch; }
    std::vector<int64_t> order(int64_t epoch) const;  // the sample order of an epoch

  private:
    Dataset data_;
    BatchOptions options_;
    int64_t epoch_;
};

Batches batches(Dataset data, BatchOptions options = {});

}  // namespace nalgrad::data
