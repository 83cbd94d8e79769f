#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

using namespace nalgrad;
using namespace nalgrad::data;
namespace fs = std::filesystem;

namespace {

using nalgrad::testing::error_of;
using nalgrad::testing::TempDir;

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// An IDX file written byte by byte, independently of write_idx: [2, 3] unsigned bytes 10..15.
std::vector<uint8_t> hand_made_idx() {
    return {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 10, 11, 12, 13, 14, 15};
}

// n samples of [2, 2, 1]: pixel j of sample i is 10 i + j, its label is i.
Dataset numbered_dataset(int64_t n) {
    std::vector<uint8_t> pixels;
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < 4; ++j) pixels.push_back(static_cast<uint8_t>(10 * i + j));
    std::vector<double> labels(static_cast<std::size_t>(n));
    std::iota(labels.begin(), labels.end(), 0.0);
    return Dataset(pixels, {2, 2, 1}, tensor(labels, {n}, i64));
}

std::vector<int64_t> labels_of(Batches& loader) {
    std::vector<int64_t> seen;
    for (auto [x, labels] : loader)
        for (int64_t k = 0; k < labels.numel(); ++k) seen.push_back(labels.data<int64_t>()[k]);
    return seen;
}

const std::string root = fashion_mnist_root;

}  // namespace

TEST_CASE("IDX: a hand-made plain file reads back; write_idx round trips plain and gzip") {
    TempDir dir;
    write_bytes(dir / "hand.idx", hand_made_idx());
    IdxArray hand = read_idx(dir / "hand.idx", 2);
    CHECK(hand.dims == std::vector<int64_t>{2, 3});
    CHECK(hand.values == std::vector<uint8_t>{10, 11, 12, 13, 14, 15});

    IdxArray array{{2, 3, 4}, {}};
    for (int i = 0; i < 24; ++i) array.values.push_back(static_cast<uint8_t>(i * 11));
    write_idx(dir / "a.idx", array, Compression::none);
    write_idx(dir / "a.idx.gz", array, Compression::gzip);
    // The plain file is exactly the IDX layout; the other one is really gzip (magic 1f 8b).
    std::vector<uint8_t> plain = file_bytes(dir / "a.idx");
    REQUIRE(plain.size() == 4 + 3 * 4 + 24);
    CHECK(std::vector<uint8_t>(plain.begin(), plain.begin() + 16) ==
          std::vector<uint8_t>{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4});
    std::vector<uint8_t> gz = file_bytes(dir / "a.idx.gz");
    CHECK(gz.at(0) == 0x1f);
    CHECK(gz.at(1) == 0x8b);
    for (const char* name : {"a.idx", "a.idx.gz"}) {
        IdxArray back = read_idx(dir / name, 3);
        CHECK(back.dims == array.dims);
        CHECK(back.values == array.values);
    }
}

TEST_CASE("IDX: missing, wrong, truncated and overlong files are errors naming the file") {
    TempDir dir;
    std::vector<uint8_t> good = hand_made_idx();
    CHECK_THROWS_WITH_AS(
        read_idx(dir / "missing.idx", 2),
        doctest::Contains(
            ("cannot open '" + (dir / "missing.idx") + "': No such file or directory").c_str()),
        Error);
    write_bytes(dir / "hand.idx", good);
    CHECK_THROWS_WITH_AS(read_idx(dir / "hand.idx", 3),
                         doctest::Contains("has magic number 0x00000802, expected 0x00000803 (IDX, "
                                           "unsigned bytes, 3 dimensions)"),
                         Error);
    std::vector<uint8_t> floats = good;
    floats[2] = 0x0d;  // IDX's float type
    write_bytes(dir / "floats.idx", floats);
    CHECK_THROWS_WITH_AS(read_idx(dir / "floats.idx", 2),
                         doctest::Contains("magic number 0x00000d02, expected 0x00000802"), Error);
    write_bytes(dir / "empty.idx", {});
    CHECK_THROWS_WITH_AS(read_idx(dir / "empty.idx", 2),
                         doctest::Contains("is truncated: 0 bytes, too short for the 4-byte magic"),
                         Error);
    write_bytes(dir / "header.idx", {good.begin(), good.begin() + 9});
    CHECK_THROWS_WITH_AS(read_idx(dir / "header.idx", 2),
                         doctest::Contains("truncated inside the header: 5 of 8 extent bytes"),
                         Error);
    write_bytes(dir / "short.idx", {good.begin(), good.end() - 2});
    CHECK_THROWS_WITH_AS(read_idx(dir / "short.idx", 2),
                         doctest::Contains(("'" + (dir / "short.idx") +
                                            "' is truncated: 4 of the 6 data bytes that extents "
                                            "[2, 3] need")
                                               .c_str()),
                         Error);
    std::vector<uint8_t> longer = good;
    longer.push_back(99);
    write_bytes(dir / "long.idx", longer);
    CHECK_THROWS_WITH_AS(read_idx(dir / "long.idx", 2),
                         doctest::Contains("is longer than extents [2, 3] say"), Error);
    // A header that promises 4 G x 4 G bytes is refused before anything is allocated.
    std::vector<uint8_t> huge = {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    write_bytes(dir / "huge.idx", huge);
    CHECK_THROWS_WITH_AS(read_idx(dir / "huge.idx", 2), doctest::Contains("describe more than"),
                         Error);
    // Promising 16 M bytes and holding one fails at the end of the data, not by allocating.
    std::vector<uint8_t> promise = {0, 0, 8, 1, 0x01, 0, 0, 0, 7};
    write_bytes(dir / "promise.idx", promise);
    CHECK_THROWS_WITH_AS(read_idx(dir / "promise.idx", 1),
                         doctest::Contains("truncated: 1 of the 16777216 data bytes"), Error);
}

TEST_CASE("IDX: a cut or damaged gzip file is an error, not a crash") {
    TempDir dir;
    IdxArray array{{4000}, {}};
    Generator gen(3);
    for (int i = 0; i < 4000; ++i) array.values.push_back(static_cast<uint8_t>(gen.below(256)));
    write_idx(dir / "full.gz", array, Compression::gzip);
    std::vector<uint8_t> gz = file_bytes(dir / "full.gz");
    REQUIRE(gz.size() > 1000);  // random bytes barely compress

    write_bytes(dir / "cut.gz", {gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)});
    std::string cut = error_of([&] { read_idx(dir / "cut.gz", 1); });
    CHECK(cut.find("'" + (dir / "cut.gz") + "' is truncated: ") != std::string::npos);
    CHECK(cut.find("data bytes that extents [4000] need (the gzip stream is cut off)") !=
          std::string::npos);
    // The whole payload but not the gzip trailer (CRC and length).
    write_bytes(dir / "trailer.gz", {gz.begin(), gz.end() - 8});
    CHECK_THROWS_WITH_AS(read_idx(dir / "trailer.gz", 1),
                         doctest::Contains("the gzip stream is cut off after the data"), Error);
    // A flipped byte in the middle of the deflate stream: zlib reports bad data or a bad CRC.
    std::vector<uint8_t> flipped = gz;
    flipped[gz.size() / 2] ^= 0xff;
    write_bytes(dir / "flipped.gz", flipped);
    CHECK_THROWS_WITH_AS(read_idx(dir / "flipped.gz", 1),
                         doctest::Contains(("'" + (dir / "flipped.gz") + "'").c_str()), Error);
}

TEST_CASE("Fashion-MNIST from the Debian package: sizes, classes and pinned pixels") {
    // The pinned values were computed once with Python's gzip module on the same files.
    Dataset train = fashion_mnist("train");
    CHECK(train.size() == 60000);
    CHECK(train.sample_shape() == Shape{28, 28, 1});
    std::span<const uint8_t> pixels = train.pixels();
    CHECK(std::accumulate(pixels.begin(), pixels.begin() + 784, int64_t{0}) == 76247);
    CHECK(std::accumulate(pixels.end() - 784, pixels.end(), int64_t{0}) == 16684);
    CHECK(std::accumulate(pixels.begin(), pixels.end(), int64_t{0}) == 3431114169LL);
    const int64_t* labels = train.labels().data<int64_t>();
    CHECK(std::vector<int64_t>(labels, labels + 10) ==
          std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
    std::vector<int64_t> per_class(10, 0);
    for (int64_t i = 0; i < train.size(); ++i) ++per_class.at(static_cast<std::size_t>(labels[i]));
    CHECK(per_class == std::vector<int64_t>(10, 6000));
    // The published standardisation constants are this data's pixel mean.
    CHECK(3431114169.0 / (60000.0 * 784 * 255) ==
          doctest::Approx(fashion_mnist_mean).epsilon(1e-4));

    Dataset test = fashion_mnist("test", root);
    CHECK(test.size() == 10000);
    std::span<const uint8_t> test_pixels = test.pixels();
    CHECK(std::accumulate(test_pixels.begin(), test_pixels.begin() + 784, int64_t{0}) == 33456);
    const int64_t* test_labels = test.labels().data<int64_t>();
    CHECK(std::vector<int64_t>(test_labels, test_labels + 10) ==
          std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
    Tensor images = test.images();
    CHECK(images.shape() == Shape{10000, 28, 28, 1});
    CHECK(images.dtype() == f32);
    for (int64_t i : {int64_t{0}, int64_t{400}, int64_t{784 * 9999 + 783}})
        CHECK(images.at(i) == static_cast<float>(test_pixels[static_cast<std::size_t>(i)] / 255.0));

    CHECK_THROWS_WITH_AS(
        fashion_mnist("validation"),
        doctest::Contains("split must be \"train\" or \"test\", got \"validation\""), Error);
    CHECK_THROWS_WITH_AS(
        fashion_mnist("test", "/nonexistent/fm"),
        doctest::Contains("cannot open '/nonexistent/fm/t10k-images-idx3-ubyte.gz'"), Error);
}

TEST_CASE("Fashion-MNIST from another folder: plain files, and checks on what they hold") {
    TempDir dir;
    IdxArray images{{2, 28, 28}, std::vector<uint8_t>(2 * 784, 7)};
    images.values[784] = 255;
    write_idx(dir / "t10k-images-idx3-ubyte", images, Compression::none);
    write_idx(dir / "t10k-labels-idx1-ubyte", {{2}, {4, 9}}, Compression::none);
    Dataset small = fashion_mnist("test", dir.path.string());
    CHECK(small.size() == 2);
    CHECK(small.labels().to_vector() == std::vector<double>{4, 9});
    CHECK(small.images().at(784) == 1.0f);

    write_idx(dir / "t10k-labels-idx1-ubyte", {{2}, {4, 10}}, Compression::none);
    CHECK_THROWS_WITH_AS(fashion_mnist("test", dir.path.string()),
                         doctest::Contains("label 10 of sample 1 is not a class 0-9"), Error);
    write_idx(dir / "t10k-labels-idx1-ubyte", {{3}, {4, 1, 2}}, Compression::none);
    CHECK_THROWS_WITH_AS(fashion_mnist("test", dir.path.string()),
                         doctest::Contains("has 3 labels but"), Error);
    write_idx(dir / "t10k-images-idx3-ubyte", {{2, 28, 27}, std::vector<uint8_t>(2 * 28 * 27)},
              Compression::none);
    CHECK_THROWS_WITH_AS(fashion_mnist("test", dir.path.string()),
                         doctest::Contains("holds images of 28x27, expected 28x28"), Error);
}

TEST_CASE("a dataset checks what it is given") {
    CHECK_THROWS_WITH_AS(
        Dataset(std::vector<uint8_t>(7), {2, 2, 1}, zeros({2}, i64)),
        doctest::Contains("2 labels of samples [2, 2, 1] need 8 pixel bytes, got 7"), Error);
    CHECK_THROWS_WITH_AS(Dataset(std::vector<uint8_t>(8), {2, 2, 1}, zeros({2}, f32)),
                         doctest::Contains("labels must be an i64 tensor [n], got f32 [2]"), Error);
    Dataset d = numbered_dataset(5);
    Dataset part = d.subset(1, 3);
    CHECK(part.size() == 2);
    CHECK(part.labels().to_vector() == std::vector<double>{1, 2});
    CHECK(part.pixels()[0] == 10);
    CHECK_THROWS_WITH_AS(d.subset(2, 6), doctest::Contains("subset [2, 6) out of range for 5"),
                         Error);
    std::vector<int64_t> bad{0, 5};
    CHECK_THROWS_WITH_AS(d.gather_labels(bad), doctest::Contains("sample index 5 out of range"),
                         Error);
}

TEST_CASE("batches: shapes, scaling, and the last partial batch kept or dropped") {
    Dataset d = numbered_dataset(10);
    Batches keep = batches(d, {.batch = 4});
    CHECK(keep.size() == 3);
    std::vector<int64_t> sizes;
    int64_t next_label = 0;
    for (auto [x, labels] : keep) {
        CHECK(x.dtype() == f32);
        CHECK(x.shape() == Shape{labels.numel(), 2, 2, 1});
        CHECK(labels.dtype() == i64);
        sizes.push_back(labels.numel());
        for (int64_t k = 0; k < labels.numel(); ++k) {
            CHECK(labels.data<int64_t>()[k] == next_label);
            for (int j = 0; j < 4; ++j)
                CHECK(x.data<float>()[4 * k + j] ==
                      static_cast<float>((10 * next_label + j) / 255.0));
            ++next_label;
        }
    }
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});

    Batches drop = batches(d, {.batch = 4, .last = LastBatch::drop});
    CHECK(drop.size() == 2);
    CHECK(labels_of(drop) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});

    // Standardised, in f64: (pixel / 255 - mean) / stddev.
    Batches standard =
        batches(d, {.batch = 10, .mean = 0.25, .stddev = 0.5, .dtype = f64, .prefetch = false});
    int count = 0;
    for (auto [x, labels] : standard) {
        ++count;
        CHECK(x.dtype() == f64);
        CHECK(x.data<double>()[7 * 4 + 2] == (72 / 255.0 - 0.25) / 0.5);
    }
    CHECK(count == 1);

    CHECK_THROWS_WITH_AS(batches(d, {.batch = 0}),
                         doctest::Contains("batches: batch size must be positive, got 0"), Error);
    CHECK_THROWS_WITH_AS(batches(d, {.stddev = 0}), doctest::Contains("stddev must be positive"),
                         Error);
    CHECK_THROWS_WITH_AS(batches(d, {.dtype = i64}), doctest::Contains("x must be f32 or f64"),
                         Error);
}

TEST_CASE("batches: seeded shuffling is reproducible, differs per epoch, visits each sample once") {
    Dataset d = numbered_dataset(10);
    std::vector<int64_t> all(10);
    std::iota(all.begin(), all.end(), int64_t{0});

    // Pinned: the shuffle must give this order on every machine and build (Generator is
    // mt19937_64, fixed by the C++ standard; the Fisher-Yates loop and the seed mixing are ours).
    Batches pinned = batches(d, {.batch = 3, .shuffle = true, .seed = 1});
    std::vector<int64_t> first = labels_of(pinned);
    CHECK(first == std::vector<int64_t>{5, 6, 2, 0, 7, 9, 8, 3, 1, 4});

    // Same seed and epoch, same order, with or without prefetching; each sample once.
    Batches again = batches(d, {.batch = 3, .shuffle = true, .seed = 1, .prefetch = false});
    CHECK(labels_of(again) == first);
    CHECK(pinned.order(0) == first);
    std::vector<int64_t> sorted = first;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == all);

    // The next pass over the same object is epoch 1: another order, again each sample once, and
    // the same as asking for epoch 1 directly.
    CHECK(pinned.epoch() == 1);
    std::vector<int64_t> second = labels_of(pinned);
    CHECK(second != first);
    CHECK(second == labels_of(*std::make_unique<Batches>(
                        d, BatchOptions{.batch = 3, .shuffle = true, .seed = 1, .epoch = 1})));
    sorted = second;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == all);
    pinned.set_epoch(0);
    CHECK(labels_of(pinned) == first);

    // Another seed, another order; no shuffling, the stored order.
    Batches other = batches(d, {.batch = 3, .shuffle = true, .seed = 2});
    CHECK(labels_of(other) != first);
    Batches plain = batches(d, {.batch = 3});
    CHECK(labels_of(plain) == all);

    // Dropping the last partial batch drops the samples that land there in this epoch's order.
    Batches drop = batches(d, {.batch = 3, .shuffle = true, .seed = 1, .last = LastBatch::drop});
    CHECK(labels_of(drop) == std::vector<int64_t>(first.begin(), first.begin() + 9));
}

TEST_CASE("batches over the real test set; leaving the loop early while prefetching is safe") {
    Dataset test = fashion_mnist("test");
    Batches loader = batches(test, {.batch = 128,
                                    .shuffle = true,
                                    .seed = 7,
                                    .mean = fashion_mnist_mean,
                                    .stddev = fashion_mnist_stddev});
    CHECK(loader.size() == 79);
    int64_t samples = 0, label_sum = 0, batches_seen = 0;
    double pixel_sum = 0;
    for (auto [x, labels] : loader) {
        ++batches_seen;
        CHECK(x.shape() == Shape{labels.numel(), 28, 28, 1});
        samples += labels.numel();
        for (int64_t k = 0; k < labels.numel(); ++k) label_sum += labels.data<int64_t>()[k];
        for (int64_t i = 0; i < x.numel(); ++i) pixel_sum += x.data<float>()[i];
    }
    CHECK(batches_seen == 79);
    CHECK(samples == 10000);
    CHECK(label_sum == 45000);
    // Sum of standardised pixels from the pinned raw pixel total 573469082.
    double n = 10000.0 * 784;
    CHECK(pixel_sum ==
          doctest::Approx((573469082 / 255.0 - fashion_mnist_mean * n) / fashion_mnist_stddev)
              .epsilon(1e-5));

    int taken = 0;
    for (auto [x, labels] : loader) {
        if (++taken == 2) break;  // the third batch is being assembled in the background
    }
    CHECK(taken == 2);
    auto it = loader.begin();
    for (int i = 0; i < 79; ++i) ++it;
    CHECK(it == loader.end());
    CHECK_THROWS_WITH_AS(*it, doctest::Contains("past the last batch"), Error);
}
