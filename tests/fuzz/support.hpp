// Shared by the fuzz harnesses: the bytes as a file, and the bytes as a stream of choices.
// Each harness defines LLVMFuzzerTestOneInput; libFuzzer calls it, and replay.cpp calls it on
// the files of tests/fuzz/corpus/<name>/ and tests/fuzz/regressions/<name>/ under CTest.
// The contract: an input may make nalgrad throw nalgrad::Error, never anything else; a broken
// invariant aborts via `finding`.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace nalgrad::fuzz {

// A broken invariant: print it and abort, which libFuzzer and CTest both report.
[[noreturn]] inline void finding(std::string_view what) {
    fmt::print(stderr, "fuzz finding: {}\n", what);
    std::fflush(stderr);
    std::abort();
}

// A file in a folder of this process's own, rewritten for each input, removed at exit.
class ScratchFile {
  public:
    explicit ScratchFile(std::string_view name) {
        folder_ =
            std::filesystem::temp_directory_path() / fmt::format("nalgrad-fuzz-{}", ::getpid());
        std::filesystem::create_directories(folder_);
        path_ = (folder_ / std::string(name)).string();
    }
    ~ScratchFile() {
        std::error_code ignored;
        std::filesystem::remove_all(folder_, ignored);
    }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;

    const std::string& write(const uint8_t* data, std::size_t size) {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        if (!out) finding(fmt::format("cannot write the scratch file '{}'", path_));
        return path_;
    }
    std::string sibling(std::string_view name) const {
        return (folder_ / std::string(name)).string();
    }

  private:
    std::filesystem::path folder_;
    std::string path_;
};

// The input as a sequence of small choices; zeros once it is used up, so every input is a
// complete program.
class Choices {
  public:
    Choices(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool empty() const { return next_ >= size_; }
    uint8_t byte() { return next_ < size_ ? data_[next_++] : 0; }
    // A value in [low, high].
    int64_t range(int64_t low, int64_t high) {
        return low + static_cast<int64_t>(byte()) % (high - low + 1);
    }
    bool flip() { return byte() & 1; }

  private:
    const uint8_t* data_;
    std::size_t size_;
    std::size_t next_ = 0;
};

}  // namespace nalgrad::fuzz
