#include "data/batches.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <numeric>
#include <span>

#include "core/checked.hpp"
#include "core/random.hpp"
#include "data/augment.hpp"

namespace nalgrad::data {

struct Batches::Iterator::State {
    Dataset data;
    BatchOptions options;
    std::vector<int64_t> order;
    int64_t epoch = 0;  // of this pass
    int64_t count = 0;  // batches in this pass
    int64_t index = 0;  // of the current batch
    Batch current;
    std::future<Batch> next;

    ~State() {
        if (next.valid()) next.wait();  // the task reads this state
    }

    Batch assemble(int64_t i) const {
        // i < size(), so begin < n; begin + batch could wrap for a batch near INT64_MAX.
        const int64_t n = static_cast<int64_t>(order.size());
        int64_t begin = i * options.batch;
        int64_t end = begin + std::min<int64_t>(options.batch, n - begin);
        std::span<const int64_t> indices(order.data() + begin,
                                         static_cast<std::size_t>(end - begin));
        if (options.augment.enabled())
            return {gather_augmented(data, indices, options, epoch, begin),
                    data.gather_labels(indices)};
        return {data.gather_images(indices, options.mean, options.stddev, options.dtype),
                data.gather_labels(indices)};
    }

    // Batch `i` now, or on a background thread when prefetching (get() rethrows its errors).
    std::future<Batch> schedule(int64_t i) const {
        if (options.prefetch)
            return std::async(std::launch::async, [this, i] { return assemble(i); });
        std::promise<Batch> ready;
        ready.set_value(assemble(i));
        return ready.get_future();
    }

    void advance() {
        ++index;
        if (index >= count) {
            current = {};
            return;
        }
        current = next.get();
        if (index + 1 < count) next = schedule(index + 1);
    }
};

Batches::Iterator::Iterator(std::unique_ptr<State> state) : state_(std::move(state)) {}
Batches::Iterator::Iterator(Iterator&&) noexcept = default;
Batches::Iterator& Batches::Iterator::operator=(Iterator&&) noexcept = default;
Batches::Iterator::~Iterator() = default;

const Batch& Batches::Iterator::operator*() const {
    if (done()) throw Error("batches: dereferencing an iterator past the last batch");
    return state_->current;
}

Batches::Iterator& Batches::Iterator::operator++() {
    if (!done()) state_->advance();
    return *this;
}

bool Batches::Iterator::done() const {
    return !state_ || state_->index >= state_->count;
}

Batches::Batches(Dataset data, BatchOptions options)
    : data_(std::move(data)), options_(options), epoch_(options.epoch) {
    if (options_.batch <= 0) fail("batches", "batch size must be positive, got {}", options_.batch);
    if (!is_floating(options_.dtype))
        fail("batches", "x must be f32 or f64, got {}", dtype_name(options_.dtype));
    if (!(options_.stddev > 0) || !std::isfinite(options_.stddev))
        fail("batches", "stddev must be positive and finite, got {}", options_.stddev);
    if (!std::isfinite(options_.mean))
        fail("batches", "mean must be finite, got {}", options_.mean);
    check_augment("batches", options_.augment, data_.sample_shape());
}

int64_t Batches::size() const {
    int64_t n = data_.size();
    return options_.last == LastBatch::drop ? n / options_.batch
                                            : ceil_div(n, options_.batch).value();
}

std::vector<int64_t> Batches::order(int64_t epoch) const {
    std::vector<int64_t> order(static_cast<std::size_t>(data_.size()));
    std::iota(order.begin(), order.end(), int64_t{0});
    if (!options_.shuffle) return order;
    Generator gen(mix64(options_.seed ^ mix64(static_cast<uint64_t>(epoch))));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
    return order;
}

Batches::Iterator Batches::begin() {
    auto state = std::make_unique<Iterator::State>();
    state->data = data_;
    state->options = options_;
    state->epoch = epoch_++;
    state->order = order(state->epoch);
    state->count = size();
    if (state->count > 0) {
        state->current = state->assemble(0);
        if (state->count > 1) state->next = state->schedule(1);
    }
    return Iterator(std::move(state));
}

Batches batches(Dataset data, BatchOptions options) {
    return Batches(std::move(data), options);
}

}  // namespace nalgrad::data
