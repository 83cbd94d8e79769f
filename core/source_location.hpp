// nalgrad::SourceLocation: std::source_location where the standard library has it, else the same
// interface on the compiler builtins. clang 14 with libstdc++ 12 (Debian 12's pair, used for the
// fuzz build) lacks it: libstdc++ needs __builtin_source_location, which clang has from 15 on.
// Like std::source_location::current(), current() used as a default argument names the caller.
#pragma once
#include <cstdint>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace nalgrad {

#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
class SourceLocation {
  public:
    constexpr SourceLocation() = default;
    static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                            const char* function = __builtin_FUNCTION(),
                                            uint_least32_t line = __builtin_LINE(),
                                            uint_least32_t column = __builtin_COLUMN()) {
        SourceLocation where;
        where.file_ = file;
        where.function_ = function;
        where.line_ = line;
        where.column_ = column;
        return where;
    }
    constexpr const char* file_name() const { return file_; }
    constexpr const char* function_name() const { return function_; }
    constexpr uint_least32_t line() const { return line_; }
    constexpr uint_least32_t column() const { return column_; }

  private:
    const char* file_ = "";
    const char* function_ = "";
    uint_least32_t line_ = 0;
    uint_least32_t column_ = 0;
};
#endif

}  // namespace nalgrad
