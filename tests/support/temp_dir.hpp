// A fresh folder per test, removed afterwards.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>

#include <fmt/format.h>

namespace nalgrad::testing {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               fmt::format("nalgrad-test-{}-{}", ::getpid(), counter++);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (path / name).string(); }
    std::size_t entries() const {
        return static_cast<std::size_t>(
            std::distance(std::filesystem::directory_iterator(path), {}));
    }
};

}  // namespace nalgrad::testing
