#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>

#include <nalgrad/nalgrad.hpp>

using namespace nalgrad;
using namespace nalgrad::data;

namespace {

// n samples of [h, w, c] whose pixels are distinct and nonzero within each sample, so a pixel's
// value tells where it came from and never looks like padding. The label of sample i is i.
Dataset distinct_dataset(int64_t n, int64_t h, int64_t w, int64_t c) {
    const int64_t m = h * w * c, kinds = 254 / m;
    std::vector<uint8_t> pixels;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j)
            pixels.push_back(static_cast<uint8_t>(1 + (i % kinds) * m + j));
    std::vector<double> labels(static_cast<std::size_t>(n));
    std::iota(labels.begin(), labels.end(), 0.0);
    return Dataset(pixels, {h, w, c}, tensor(labels, {n}, i64));
}

// n samples of [28, 28, 1] with seeded random pixels.
Dataset random_dataset(int64_t n, uint64_t seed) {
    Generator gen(seed);
    std::vector<uint8_t> pixels;
    for (int64_t j = 0; j < n * 784; ++j) pixels.push_back(static_cast<uint8_t>(gen.below(256)));
    return Dataset(pixels, {28, 28, 1}, zeros({n}, i64));
}

struct Draw {
    int64_t top, left;
    bool flip;
    friend bool operator==(const Draw&, const Draw&) = default;
};

// Sample `source` as PyTorch builds it: pad every side with `pad` zero pixels, take the h x w
// window at (top, left), mirror it, then standardise. Written apart from the library's indexing.
std::vector<double> reference(std::span<const uint8_t> source, const Shape& s, int64_t pad, Draw d,
                              double mean, double stddev) {
    const int64_t h = s[0], w = s[1], c = s[2], ph = h + 2 * pad, pw = w + 2 * pad;
    std::vector<uint8_t> padded(static_cast<std::size_t>(ph * pw * c), 0);
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch)
                padded[static_cast<std::size_t>(((y + pad) * pw + x + pad) * c + ch)] =
                    source[static_cast<std::size_t>((y * w + x) * c + ch)];
    std::vector<double> out;
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch) {
                const int64_t col = d.left + (d.flip ? w - 1 - x : x);
                uint8_t p = padded[static_cast<std::size_t>(((d.top + y) * pw + col) * c + ch)];
                out.push_back((p / 255.0 - mean) / stddev);
            }
    return out;
}

// The one placement that explains sample k of batch x, or none; CHECKs that no second one does.
template <typename T>
std::optional<Draw> explain(const Dataset& d, const Tensor& x, const Tensor& labels, int64_t k,
                            int64_t pad, double mean, double stddev) {
    const Shape& s = d.sample_shape();
    const int64_t bytes = d.sample_bytes(), source = labels.data<int64_t>()[k];
    const T* got = x.data<T>() + k * bytes;
    std::optional<Draw> found;
    int matches = 0;
    for (int64_t top = 0; top <= 2 * pad; ++top)
        for (int64_t left = 0; left <= 2 * pad; ++left)
            for (bool flip : {false, true}) {
                Draw draw{top, left, flip};
                std::vector<double> want =
                    reference(d.pixels().subspan(static_cast<std::size_t>(source * bytes),
                                                 static_cast<std::size_t>(bytes)),
                              s, pad, draw, mean, stddev);
                bool same = true;
                for (int64_t j = 0; j < bytes && same; ++j)
                    same = got[j] == static_cast<T>(want[static_cast<std::size_t>(j)]);
                if (same) {
                    found = draw;
                    ++matches;
                }
            }
    CHECK(matches <= 1);
    return found;
}

// Every batch of a pass, x and labels flattened.
std::pair<std::vector<double>, std::vector<double>> pass(Batches& loader) {
    std::vector<double> xs, labels;
    for (auto [x, l] : loader) {
        std::vector<double> a = x.to_vector(), b = l.to_vector();
        xs.insert(xs.end(), a.begin(), a.end());
        labels.insert(labels.end(), b.begin(), b.end());
    }
    return {xs, labels};
}

}  // namespace

TEST_CASE("augment: each sample is its source padded with zeros, cropped and maybe mirrored") {
    // 2000 samples of 4x4, padding 2: every window still shows source pixels, so the draw that
    // explains a sample is unique; standardised, so the padding reads (0 - mean) / stddev.
    Dataset d = distinct_dataset(2000, 4, 4, 1);
    const double mean = fashion_mnist_mean, stddev = fashion_mnist_stddev;
    Batches loader = batches(d, {.batch = 64,
                                 .shuffle = true,
                                 .seed = 3,
                                 .mean = mean,
                                 .stddev = stddev,
                                 .augment = {.crop_padding = 2, .horizontal_flip = true}});
    std::map<std::pair<int64_t, int64_t>, int> offsets;
    std::array<int, 5> tops{}, lefts{};
    int flips = 0, samples = 0, padded = 0;
    const float zero = static_cast<float>((0 - mean) / stddev);
    for (auto [x, labels] : loader) {
        CHECK(x.shape() == Shape{labels.numel(), 4, 4, 1});
        for (int64_t k = 0; k < labels.numel(); ++k) {
            std::optional<Draw> draw = explain<float>(d, x, labels, k, 2, mean, stddev);
            REQUIRE(draw.has_value());
            ++samples;
            ++offsets[{draw->top, draw->left}];
            ++tops.at(static_cast<std::size_t>(draw->top));
            ++lefts.at(static_cast<std::size_t>(draw->left));
            flips += draw->flip;
            for (int j = 0; j < 16; ++j) padded += x.data<float>()[16 * k + j] == zero;
        }
    }
    CHECK(samples == 2000);
    CHECK(padded > 0);
    // All 25 offsets occur; each coordinate and the flip are near uniform (the bounds are more
    // than 4.5 standard deviations wide).
    CHECK(offsets.size() == 25);
    for (int i = 0; i < 5; ++i) {
        CHECK(tops[i] > 300);
        CHECK(tops[i] < 500);
        CHECK(lefts[i] > 300);
        CHECK(lefts[i] < 500);
    }
    CHECK(flips > 900);
    CHECK(flips < 1100);
}

TEST_CASE("augment: channels move together; non-square images; f64") {
    // [3, 5, 2]: rows and columns differ, so a swapped extent would not match.
    Dataset d = distinct_dataset(300, 3, 5, 2);
    Batches loader = batches(d, {.batch = 17,
                                 .seed = 9,
                                 .dtype = f64,
                                 .augment = {.crop_padding = 1, .horizontal_flip = true}});
    int flips = 0, samples = 0;
    for (auto [x, labels] : loader) {
        CHECK(x.dtype() == f64);
        for (int64_t k = 0; k < labels.numel(); ++k) {
            std::optional<Draw> draw = explain<double>(d, x, labels, k, 1, 0, 1);
            REQUIRE(draw.has_value());
            ++samples;
            flips += draw->flip;
        }
    }
    CHECK(samples == 300);
    CHECK(flips > 0);
    CHECK(flips < 300);
}

TEST_CASE("augment: crop alone never mirrors, flip alone never shifts, and their draws agree") {
    Dataset d = distinct_dataset(400, 4, 4, 1);
    BatchOptions both{
        .batch = 50, .seed = 5, .augment = {.crop_padding = 2, .horizontal_flip = true}};
    BatchOptions crop = both, flip = both;
    crop.augment.horizontal_flip = false;
    flip.augment.crop_padding = 0;
    Batches with_both = batches(d, both), with_crop = batches(d, crop),
            with_flip = batches(d, flip);
    auto a = with_both.begin(), b = with_crop.begin(), c = with_flip.begin();
    int flips = 0;
    for (; a != with_both.end(); ++a, ++b, ++c) {
        for (int64_t k = 0; k < a->labels.numel(); ++k) {
            Draw ab = explain<float>(d, a->x, a->labels, k, 2, 0, 1).value();
            Draw bb = explain<float>(d, b->x, b->labels, k, 2, 0, 1).value();
            Draw cb = explain<float>(d, c->x, c->labels, k, 0, 0, 1).value();
            // Turning one transform off leaves the other's draws as they were.
            CHECK(bb == Draw{ab.top, ab.left, false});
            CHECK(cb == Draw{0, 0, ab.flip});
            flips += cb.flip;
        }
    }
    CHECK(flips > 150);
    CHECK(flips < 250);
}

TEST_CASE("augment: off, the batches are the plain gather; labels follow the order either way") {
    Dataset d = distinct_dataset(100, 4, 4, 1);
    BatchOptions plain{.batch = 30, .shuffle = true, .seed = 2, .mean = 0.1, .stddev = 0.7};
    BatchOptions off = plain;
    off.augment = Augment{.crop_padding = 0, .horizontal_flip = false};
    Batches a = batches(d, plain), b = batches(d, off);
    auto [ax, al] = pass(a);
    std::vector<int64_t> order = a.order(0);
    Tensor want = d.gather_images(order, 0.1, 0.7);
    CHECK(ax == want.to_vector());
    CHECK(pass(b) == std::pair{ax, al});

    BatchOptions on = plain;
    on.augment.crop_padding = 1;
    Batches c = batches(d, on);
    auto [cx, cl] = pass(c);
    CHECK(cl == al);
    CHECK(cx != ax);
}

TEST_CASE("augment: reproducible per seed and epoch, whatever the threads, batch or prefetch") {
    // 256 samples of 28x28 a batch: enough work for the gather to run in parallel.
    Dataset d = random_dataset(600, 11);
    BatchOptions options{.batch = 256,
                         .shuffle = true,
                         .seed = 1,
                         .mean = fashion_mnist_mean,
                         .stddev = fashion_mnist_stddev,
                         .augment = {.crop_padding = 4, .horizontal_flip = true}};
    const int threads = get_num_threads();
    std::vector<double> runs[2];
    for (int run = 0; run < 2; ++run) {
        set_num_threads(run == 0 ? 1 : 2);
        Batches loader = batches(d, options);
        runs[run] = pass(loader).first;
    }
    set_num_threads(threads);
    CHECK(runs[0] == runs[1]);

    // Another batch size and no prefetching: each sample's draws depend on its position in the
    // epoch, not on its batch.
    BatchOptions small = options;
    small.batch = 7;
    small.prefetch = false;
    Batches small_loader = batches(d, small);
    CHECK(pass(small_loader).first == runs[0]);

    // The next epoch draws afresh, and asking for it directly gives the same; another seed too.
    Batches loader = batches(d, options);
    std::vector<double> first = pass(loader).first, second = pass(loader).first;
    CHECK(first == runs[0]);
    CHECK(second != first);
    BatchOptions epoch1 = options;
    epoch1.epoch = 1;
    Batches direct = batches(d, epoch1);
    CHECK(pass(direct).first == second);
    BatchOptions seed2 = options;
    seed2.seed = 2;
    Batches other = batches(d, seed2);
    CHECK(pass(other).first != first);
    // The same order without augmentation is different data: the crops did something.
    BatchOptions plain = options;
    plain.augment = {};
    Batches unaugmented = batches(d, plain);
    CHECK(pass(unaugmented).first != first);
}

TEST_CASE("augment: bad options are errors naming the option") {
    Dataset images = distinct_dataset(4, 4, 4, 1);
    CHECK_THROWS_WITH_AS(
        batches(images, {.augment = {.crop_padding = -1}}),
        doctest::Contains("batches: augment.crop_padding must be 0 or more, got -1"), Error);
    CHECK_THROWS_WITH_AS(
        batches(images, {.augment = {.crop_padding = INT64_MAX / 2}}),
        doctest::Contains("augment.crop_padding 4611686018427387903 is too large for images 4x4"),
        Error);
    Dataset flat(std::vector<uint8_t>(8), {4}, zeros({2}, i64));
    CHECK_THROWS_WITH_AS(
        batches(flat, {.augment = {.crop_padding = 4}}),
        doctest::Contains("batches: augment.crop_padding needs image samples [h, w, c], got "
                          "samples [4]"),
        Error);
    Dataset grey(std::vector<uint8_t>(8), {2, 2}, zeros({2}, i64));
    CHECK_THROWS_WITH_AS(batches(grey, {.augment = {.horizontal_flip = true}}),
                         doctest::Contains("augment.horizontal_flip needs image samples [h, w, c], "
                                           "got samples [2, 2]"),
                         Error);
    CHECK_THROWS_WITH_AS(batches(images, {.mean = NAN}), doctest::Contains("mean must be finite"),
                         Error);
    CHECK_THROWS_WITH_AS(batches(images, {.stddev = INFINITY}),
                         doctest::Contains("stddev must be positive and finite, got inf"), Error);
    // Augmentation off is fine for any samples.
    CHECK(batches(flat, {.batch = 1}).size() == 2);
}

TEST_CASE("augment: pinned draws, the same on every machine and build") {
    // Computed once: the SplitMix64 stream and its keying are the project's own, so nothing but a
    // change to them may move these.
    Dataset d = distinct_dataset(8, 4, 4, 1);
    Batches loader = batches(
        d, {.batch = 8, .seed = 1, .augment = {.crop_padding = 2, .horizontal_flip = true}});
    const std::vector<Draw> pinned = {{0, 4, true},  {1, 3, false}, {1, 4, true}, {3, 2, true},
                                      {2, 1, false}, {3, 2, false}, {4, 2, true}, {2, 4, false}};
    std::vector<Draw> seen;
    for (auto [x, labels] : loader)
        for (int64_t k = 0; k < labels.numel(); ++k)
            seen.push_back(explain<float>(d, x, labels, k, 2, 0, 1).value());
    CHECK(seen == pinned);
}
