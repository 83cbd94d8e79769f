// Hostile files and states: an optimizer step count that is not a whole number in range, a
// checkpoint that names a tensor (or any key) twice, a gzip IDX file with trailing garbage. Each
// is refused by name, and a refused load leaves the parameters and the state untouched.
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

using namespace nalgrad;
using nalgrad::testing::error_of;

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
}
std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// A safetensors file: the JSON header as given, then `data`.
std::vector<uint8_t> safetensors(const std::string& header, const std::vector<float>& data) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
    bytes.insert(bytes.end(), header.begin(), header.end());
    const auto* raw = reinterpret_cast<const uint8_t*>(data.data());
    bytes.insert(bytes.end(), raw, raw + data.size() * sizeof(float));
    return bytes;
}

uint32_t crc32(const std::vector<uint8_t>& bytes) {
    uint32_t crc = 0xffffffffu;
    for (uint8_t b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// One gzip member holding `bytes` in a stored (uncompressed) deflate block, made by hand.
std::vector<uint8_t> gzip_member(const std::vector<uint8_t>& bytes) {
    std::vector<uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    const auto n = static_cast<uint16_t>(bytes.size());
    out.insert(out.end(), {1, static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(~n), static_cast<uint8_t>((~n) >> 8)});
    out.insert(out.end(), bytes.begin(), bytes.end());
    for (uint32_t v : {crc32(bytes), static_cast<uint32_t>(bytes.size())})
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return out;
}

}  // namespace

TEST_CASE("Optimizer::load_state refuses a step that is not a whole number from 1 to 2^53") {
    const double inf = std::numeric_limits<double>::infinity();
    Var w = requires_grad(tensor({1, -2}, {2}, f64));
    optim::Adam adam({w}, {.lr = 0.1});
    sum(w * w).backward();
    adam.step();
    const optim::State good = adam.state();
    const Tensor before = w.value().clone();
    for (double step : {inf, -inf, std::nan(""), 1e30, 0x1p53 + 2, 2.5, 0.0, -3.0}) {
        INFO(step);
        optim::State bad = good;
        for (auto& [name, t] : bad)
            if (name == "0.step") t = scalar(step, f64);
        CHECK(error_of([&] { adam.load_state(bad); })
                  .find("Adam.load_state: entry '0.step' must hold one positive whole number of "
                        "at most 2^53") == 0);
    }
    optim::State big = good;
    for (auto& [name, t] : big)
        if (name == "0.step") t = full({}, 0x1p53, f64);
    adam.load_state(big);  // the largest accepted
    adam.load_state(good);
    const optim::State now = adam.state();
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(equal(now[i].second, good[i].second));
    CHECK(equal(w.value(), before));
    adam.step();  // still a finite step
    CHECK(std::isfinite(w.value().at(0)));
}

TEST_CASE("a checkpoint that names a key twice is refused, and the load changes nothing") {
    nalgrad::testing::TempDir dir;
    Parameters model{{"a", requires_grad(full({2}, 7.0, f32))}};
    const std::string entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"a", R"({"a":)" + entry + R"(,"a":)" + entry + "}"},
        {"dtype", R"({"a":{"dtype":"F64","dtype":"F32","shape":[2],"data_offsets":[0,8]}})"},
        {"epoch", R"({"__metadata__":{"epoch":"1","epoch":"2"},"a":)" + entry + "}"},
        {"__metadata__",
         R"({"__metadata__":{"x":"1"},"__metadata__":{"x":"2"},"a":)" + entry + "}"},
    };
    for (const auto& [key, header] : headers) {
        INFO(header);
        const std::string path = dir / "twice.safetensors";
        write_bytes(path, safetensors(header, {1, 2}));
        const std::string expected =
            "load: '" + path + "': the header names '" + key + "' twice in one object";
        CHECK(error_of([&] { (void)read_checkpoint(path); }).find(expected) == 0);
        CHECK(error_of([&] { load(model, path); }).find(expected) == 0);
        CHECK(model[0].var.value().to_vector() == std::vector<double>{7, 7});
    }
    // The same names in different objects are no duplicates.
    const std::string path = dir / "fine.safetensors";
    write_bytes(path, safetensors(R"({"__metadata__":{"a":"x"},"a":)" + entry + "}", {1, 2}));
    load(model, path);
    CHECK(model[0].var.value().to_vector() == std::vector<double>{1, 2});
}

TEST_CASE("IDX: gzip data followed by garbage is refused; concatenated members are one file") {
    nalgrad::testing::TempDir dir;
    const data::IdxArray array{{6}, {1, 2, 3, 4, 5, 6}};
    data::write_idx(dir / "plain.idx", array, data::Compression::none);
    data::write_idx(dir / "a.idx.gz", array, data::Compression::gzip);
    const std::vector<uint8_t> plain = read_bytes(dir / "plain.idx");
    const std::vector<uint8_t> gz = read_bytes(dir / "a.idx.gz");

    for (const std::vector<uint8_t>& tail :
         {std::vector<uint8_t>{'j', 'u', 'n', 'k'}, std::vector<uint8_t>(16, 0),
          std::vector<uint8_t>{0x1e}}) {
        std::vector<uint8_t> bytes = gz;
        bytes.insert(bytes.end(), tail.begin(), tail.end());
        const std::string path = dir / "garbage.idx.gz";
        write_bytes(path, bytes);
        CHECK(error_of([&] { (void)data::read_idx(path, 1); }) ==
              "read_idx: '" + path + "': " + std::to_string(tail.size()) +
                  " bytes after the end of the gzip data are not gzip data (trailing garbage)");
    }
    // The same bytes split over two gzip members (as `cat a.gz b.gz` makes) read as one file.
    std::vector<uint8_t> two = gzip_member({plain.begin(), plain.begin() + 7});
    const std::vector<uint8_t> second = gzip_member({plain.begin() + 7, plain.end()});
    two.insert(two.end(), second.begin(), second.end());
    write_bytes(dir / "two.idx.gz", two);
    CHECK(data::read_idx(dir / "two.idx.gz", 1).values == array.values);
    // A further member that holds more data makes the file longer than its extents.
    std::vector<uint8_t> three = two;
    const std::vector<uint8_t> more = gzip_member({9});
    three.insert(three.end(), more.begin(), more.end());
    write_bytes(dir / "three.idx.gz", three);
    CHECK(error_of([&] {
              (void)data::read_idx(dir / "three.idx.gz", 1);
          }).find("is longer than extents [6] say") != std::string::npos);
    // An empty gzip member after the data is a member, not garbage.
    std::vector<uint8_t> empty_member = gz;
    const std::vector<uint8_t> nothing = gzip_member({});
    empty_member.insert(empty_member.end(), nothing.begin(), nothing.end());
    write_bytes(dir / "empty-member.idx.gz", empty_member);
    CHECK(data::read_idx(dir / "empty-member.idx.gz", 1).values == array.values);
}
