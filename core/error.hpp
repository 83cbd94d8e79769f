// The one error type. Messages name the op, the argument and the shapes:
//   "matmul: inner dimensions differ: a is [4, 3], b is [5, 2]".
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace nalgrad {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// fail("conv2d", "kernel {} does not fit input {}", k, x) throws "conv2d: kernel ... ".
template <typename... Args>
[[noreturn]] void fail(std::string_view op, fmt::format_string<Args...> what, Args&&... args) {
    throw Error(fmt::format("{}: {}", op, fmt::format(what, std::forward<Args>(args)...)));
}

}  // namespace nalgrad
