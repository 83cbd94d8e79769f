#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

using namespace nalgrad;
namespace fs = std::filesystem;

namespace {

using nalgrad::testing::error_of;
using nalgrad::testing::TempDir;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// A safetensors file from a header text and data bytes, for hand-made damage.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header.size() >> (8 * i));
    return out + header + data;
}

// A small model: an f32 weight, an f64 bias, an i64 counter (as optimizer state would hold).
Parameters model(uint64_t seed) {
    Generator gen(seed);
    return {{"conv1.weight", requires_grad(normal({3, 3, 1, 4}, f32, gen))},
            {"conv1.bias", requires_grad(normal({4}, f64, gen))},
            {"steps", Var(tensor({1, -2, 3}, {3}, i64))}};
}

std::vector<Tensor> snapshot(const Parameters& parameters) {
    std::vector<Tensor> copies;
    for (const auto& p : parameters) copies.push_back(p.var.value().clone());
    return copies;
}

bool unchanged(const Parameters& parameters, const std::vector<Tensor>& before) {
    for (std::size_t i = 0; i < parameters.size(); ++i)
        if (!equal(parameters[i].var.value(), before[i])) return false;
    return true;
}

// The tensors tests/data/safetensors_reference.py writes.
NamedTensors reference_tensors() {
    return {{"conv.weight", tensor({-1, -0.5, 0, 0.5, 1, 1.5}, {2, 3}, f32)},
            {"conv.bias", tensor({3.141592653589793, -0.0, 1e-300}, {3}, f64)},
            {"steps", tensor({-1, 1099511627776.0, 7, 0}, {2, 2}, i64)}};
}

const std::string data_folder = NALGRAD_TEST_DATA;

}  // namespace

TEST_CASE("checkpoint round trip is bit-exact for f32, f64 and i64, and bumps versions") {
    TempDir dir;
    Parameters saved = model(1);
    // Values that a text format or a conversion would disturb.
    float* w = saved[0].var.value().data<float>();
    w[0] = std::numeric_limits<float>::quiet_NaN();
    w[1] = -0.0f;
    w[2] = std::numeric_limits<float>::denorm_min();
    w[3] = -std::numeric_limits<float>::infinity();
    saved[1].var.value().data<double>()[0] = std::numeric_limits<double>::denorm_min();
    saved[2].var.value().data<int64_t>()[0] = std::numeric_limits<int64_t>::min();
    save(saved, dir / "model.safetensors", {{"epoch", "7"}});

    Parameters loaded = model(2);
    CHECK_FALSE(equal(loaded[0].var.value(), saved[0].var.value()));
    std::vector<uint64_t> versions;
    for (const auto& p : loaded) versions.push_back(p.var.value().version());
    const void* storage = loaded[0].var.value().raw();
    load(loaded, dir / "model.safetensors");
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        CHECK(equal(loaded[i].var.value(), saved[i].var.value()));
        CHECK(loaded[i].var.value().version() > versions[i]);
    }
    CHECK(loaded[0].var.value().raw() == storage);  // loaded in place, not replaced

    Checkpoint all = read_checkpoint(dir / "model.safetensors");
    CHECK(all.metadata == Metadata{{"epoch", "7"}});
    REQUIRE(all.tensors.size() == 3);
    CHECK(all.tensors[0].name == "conv1.weight");  // data order = save order
    CHECK(equal(all.at("steps"), saved[2].var.value()));
    CHECK_THROWS_WITH_AS(all.at("nope"), doctest::Contains("no tensor named 'nope'"), Error);

    // Plain named tensors (optimizer state), scalars and empty tensors too.
    NamedTensors state = {{"momentum", full({2, 2}, 0.25, f64)},
                          {"step", scalar(12, i64)},
                          {"empty", zeros({0, 3}, f32)}};
    save(state, dir / "state.safetensors");
    NamedTensors into = {
        {"momentum", zeros({2, 2}, f64)}, {"step", scalar(0, i64)}, {"empty", zeros({0, 3}, f32)}};
    load(into, dir / "state.safetensors");
    CHECK(equal(into[0].tensor, state[0].tensor));
    CHECK(into[1].tensor.item() == 12);
    CHECK(dir.entries() == 2);  // no temporary files left behind
}

TEST_CASE("files agree byte for byte with an independent writer (Python, json + numpy)") {
    // tests/data/safetensors_reference.py wrote these with Python's json and struct modules.
    TempDir dir;
    save(reference_tensors(), dir / "ours.safetensors", {{"epoch", "3"}, {"format", "pt"}});
    std::string ours = read_file(dir / "ours.safetensors");
    std::string theirs = read_file(data_folder + "/reference.safetensors");
    REQUIRE(theirs.size() == 8 + 240 + 80);
    CHECK(ours == theirs);
    // The header by hand: compact JSON, padded with spaces so the data starts 8-byte aligned.
    CHECK(ours.substr(0, 8) == std::string("\xf0\0\0\0\0\0\0\0", 8));
    CHECK(ours.substr(8, 46) == R"({"__metadata__":{"epoch":"3","format":"pt"},"c)");
    CHECK(ours.substr(8 + 234, 6) == "      ");

    // Python's default spacing, sorted keys and data in another order than the header.
    for (const char* name : {"reference.safetensors", "reference_pretty.safetensors"}) {
        Checkpoint c = read_checkpoint(data_folder + "/" + name);
        CHECK(c.metadata == Metadata{{"epoch", "3"}, {"format", "pt"}});
        for (const auto& t : reference_tensors()) CHECK(equal(c.at(t.name), t.tensor));
    }
    NamedTensors into = reference_tensors();
    for (auto& t : into) t.tensor = zeros_like(t.tensor);
    load(into, data_folder + "/reference_pretty.safetensors");
    for (std::size_t i = 0; i < into.size(); ++i)
        CHECK(equal(into[i].tensor, reference_tensors()[i].tensor));
}

TEST_CASE("damaged files are errors naming the problem, and leave the model unchanged") {
    TempDir dir;
    std::string path = dir / "model.safetensors";
    save(model(1), path);
    std::string good = read_file(path);
    Parameters target = model(2);
    std::vector<Tensor> before = snapshot(target);
    std::vector<uint64_t> versions;
    for (const auto& p : target) versions.push_back(p.var.value().version());

    auto expect_error = [&](const std::string& bytes, const std::string& words) {
        write_file(path, bytes);
        CAPTURE(words);
        CHECK_THROWS_WITH_AS(load(target, path), doctest::Contains(words.c_str()), Error);
        CHECK(unchanged(target, before));
        for (std::size_t i = 0; i < target.size(); ++i)
            CHECK(target[i].var.value().version() == versions[i]);
    };
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, good.data(), 8);
    std::string header = good.substr(8, header_bytes);
    std::string data = good.substr(8 + header_bytes);

    expect_error(good.substr(0, 5), "5 bytes, too short for the 8-byte header length");
    expect_error(good.substr(0, 40),
                 fmt::format("header length {} exceeds the 32 bytes that follow", header_bytes));
    expect_error(good.substr(0, good.size() - 4), "beyond the");
    // Bit flips: in the length (far beyond the file), in the JSON syntax, in a dtype name.
    std::string flipped = good;
    flipped[5] ^= 0x01;
    expect_error(flipped, "exceeds the");
    flipped = good;
    flipped[8] ^= 0x01;  // '{' becomes 'z'
    expect_error(flipped, "the header is not valid JSON");
    flipped = good;
    std::size_t f64_name = flipped.find("\"F64\"");
    REQUIRE(f64_name != std::string::npos);
    flipped[f64_name + 1] ^= 0x01;  // "G64"
    expect_error(flipped, "tensor 'conv1.bias' has dtype \"G64\"; only F32, F64 and I64");
    expect_error(safetensors_bytes("[1, 2]", ""), "the header is not a JSON object");

    // Hand-made headers over 16 data bytes: bad offsets of every kind.
    std::string sixteen(16, '\x01');
    auto one = [](const std::string& name, const std::string& offsets,
                  const std::string& dtype = "F32", const std::string& shape = "[2]") {
        return fmt::format(R"("{}": {{"dtype": "{}", "shape": {}, "data_offsets": {}}})", name,
                           dtype, shape, offsets);
    };
    auto file = [&](std::initializer_list<std::string> entries) {
        return safetensors_bytes("{" + fmt::format("{}", fmt::join(entries, ", ")) + "}", sixteen);
    };
    expect_error(
        file({one("a", "[0, 8]"), one("b", "[4, 12]"), one("c", "[12, 16]", "F32", "[1]")}),
        "tensors 'a' and 'b' overlap");
    expect_error(file({one("a", "[0, 8]"), one("b", "[9, 17]")}), "beyond the 16 data bytes");
    expect_error(file({one("a", "[0, 8]"), one("b", "[8, 12]")}),
                 "of 4 bytes, but F32 [2] needs 8");
    expect_error(file({one("a", "[0, 8]"), one("b", "[12, 4]")}), "end before they begin");
    expect_error(file({one("a", "[0, 8]")}),
                 "8 data bytes after the last tensor belong to no tensor");
    expect_error(file({one("a", "[0, 8]"), one("b", "[8, 12]", "F32", "[1]")}),
                 "4 data bytes after the last tensor");
    expect_error(file({one("a", "[4, 12]"), one("b", "[12, 16]", "F32", "[1]")}),
                 "data bytes [0, 4) before tensor 'a' belong to no tensor");
    // JSON parsers keep one of two equal keys; the other's bytes then belong to no tensor.
    expect_error(file({one("a", "[0, 8]"), one("a", "[8, 16]")}), "belong to no tensor");
    expect_error(file({one("a", "[0, 8.0]"), one("b", "[8, 16]")}),
                 "needs data_offsets [begin, end] of two counts");
    expect_error(file({one("a", "[-8, 8]")}), "needs data_offsets");
    expect_error(file({one("a", "[0, 16]", "F32", "[2, -2]")}), "extent that is not a count");
    expect_error(file({R"("a": {"dtype": "F32", "shape": [4]})"}), "lacks one of dtype, shape");
    expect_error(safetensors_bytes(R"({"__metadata__": {"epoch": 3}})", ""),
                 "metadata 'epoch' is not a string");
    // Only metadata and no tensors is a valid (empty) file.
    write_file(path, safetensors_bytes(R"({"__metadata__": {"epoch": "3"}})", ""));
    CHECK(read_checkpoint(path).tensors.empty());
}

TEST_CASE("a file that does not fit the model is refused by tensor name, before any copy") {
    TempDir dir;
    std::string path = dir / "model.safetensors";
    Parameters target = model(2);
    std::vector<Tensor> before = snapshot(target);
    auto refused = [&](const Parameters& saved, const std::string& words,
                       ExtraTensors extra = ExtraTensors::reject) {
        save(saved, path);
        CAPTURE(words);
        CHECK_THROWS_WITH_AS(load(target, path, extra), doctest::Contains(words.c_str()), Error);
        CHECK(unchanged(target, before));
    };
    Parameters saved = model(1);
    // conv1.weight comes first and would be copied first: it must stay untouched.
    refused({saved[0], saved[1]},
            "does not match its destination: 1 missing: 'steps' (I64 [3]); 0 extra");
    refused({saved[0], saved[1], {"steps", Var(zeros({4}, i64))}},
            "tensor 'steps' is I64 [4] in '" + path + "', but the destination is I64 [3]");
    refused({saved[0], saved[1], {"steps", Var(zeros({3}, f64))}}, "tensor 'steps' is F64 [3] in");
    Parameters extra = saved;
    extra.push_back({"fc.weight", Var(zeros({2}))});
    refused(extra, "1 extra (ExtraTensors::ignore skips them): 'fc.weight'");
    load(target, path, ExtraTensors::ignore);
    for (std::size_t i = 0; i < target.size(); ++i)
        CHECK(equal(target[i].var.value(), saved[i].var.value()));
    // Every difference is listed at once.
    before = snapshot(target);
    refused({saved[0], {"fc.weight", Var(zeros({2}))}, {"fc.bias", Var(zeros({2}))}},
            "2 missing: 'conv1.bias' (F64 [4]), 'steps' (I64 [3]); 2 extra (ExtraTensors::ignore "
            "skips them): 'fc.bias', 'fc.weight'");

    CHECK_THROWS_WITH_AS(load(target, dir / "absent.safetensors"), doctest::Contains("cannot open"),
                         Error);
    CHECK_THROWS_WITH_AS(load(target, dir.path.string()),
                         doctest::Contains("is not a regular file"), Error);
}

TEST_CASE("bad names are refused when saving") {
    TempDir dir;
    Tensor t = zeros({2});
    CHECK_THROWS_WITH_AS(save(NamedTensors{{"a", t}, {"a", t}}, dir / "x.safetensors"),
                         doctest::Contains("save: two tensors are named 'a'"), Error);
    CHECK_THROWS_WITH_AS(save(NamedTensors{{"__metadata__", t}}, dir / "x.safetensors"),
                         doctest::Contains("'__metadata__' is reserved"), Error);
    CHECK_THROWS_WITH_AS(save(NamedTensors{{"", t}}, dir / "x.safetensors"),
                         doctest::Contains("empty name"), Error);
    CHECK_THROWS_WITH_AS(save(NamedTensors{{"u", Tensor()}}, dir / "x.safetensors"),
                         doctest::Contains("tensor 'u' is undefined"), Error);
    CHECK(dir.entries() == 0);
}

TEST_CASE("a failed save throws and leaves the old file intact") {
    TempDir dir;
    Parameters parameters = model(1);
    std::string path = dir / "model.safetensors";
    save(parameters, path);
    std::string old = read_file(path);

    std::string missing = error_of([&] { save(parameters, dir / "missing/model.safetensors"); });
    CHECK(missing.find("cannot create a file in folder '" + (dir / "missing") +
                       "': No such file or directory") != std::string::npos);
    // Tests run as root, for whom a read-only folder is still writable. A "folder" that is a
    // regular file is one that cannot take a new file whoever asks: it models the read-only case.
    CHECK_THROWS_WITH_AS(save(parameters, path + "/inside.safetensors"),
                         doctest::Contains("Not a directory"), Error);
    // The rename fails when the destination is a folder: the temporary file is removed.
    fs::create_directory(dir / "taken");
    std::string taken = error_of([&] { save(parameters, dir / "taken"); });
    CHECK(taken.find("over it failed: Is a directory") != std::string::npos);
    // The disk fills up mid-write (a file size limit below the checkpoint's size): the old file
    // keeps its contents and the partial temporary file is removed.
    Generator gen(1);
    Parameters big = {{"w", requires_grad(normal({64, 1024}, f32, gen))}};
    rlimit saved_limit{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
    auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead
    rlimit small = saved_limit;
    small.rlim_cur = 100000;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string full = error_of([&] { save(big, path); });
    setrlimit(RLIMIT_FSIZE, &saved_limit);
    std::signal(SIGXFSZ, previous_handler);
    CHECK(full.find("File too large") != std::string::npos);
    CHECK(read_file(path) == old);
    CHECK(dir.entries() == 2);  // model.safetensors and taken/, nothing else
}
