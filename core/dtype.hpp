// Element types. float32 runs on oneDNN; float64 on the project's own kernels (gradient checks);
// int64 holds class labels and indices, and no op differentiates through it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace nalgrad {

enum class DType { f32, f64, i64 };
inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;
inline constexpr DType i64 = DType::i64;

constexpr std::size_t dtype_size(DType d) {
    return d == DType::f32 ? 4 : 8;
}
constexpr std::string_view dtype_name(DType d) {
    return d == DType::f32 ? "f32" : d == DType::f64 ? "f64" : "i64";
}
constexpr bool is_floating(DType d) {
    return d != DType::i64;
}

template <typename T>
constexpr DType dtype_of() {
    static_assert(
        std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t>,
        "f32, f64 or i64 only");
    return std::is_same_v<T, float>    ? DType::f32
           : std::is_same_v<T, double> ? DType::f64
                                       : DType::i64;
}

// Calls f with a value of the C++ type of d: visit_dtype(d, [&]<typename T>(T) { ... }).
template <typename F>
decltype(auto) visit_dtype(DType d, F&& f) {
    if (d == DType::f32) return f(float{});
    if (d == DType::f64) return f(double{});
    return f(int64_t{});
}

[[noreturn]] void fail_not_floating(std::string_view op, DType d);

// As visit_dtype, for float-only code: an i64 tensor is an error naming `op`.
template <typename F>
decltype(auto) visit_float(std::string_view op, DType d, F&& f) {
    if (d == DType::f32) return f(float{});
    if (d != DType::f64) fail_not_floating(op, d);
    return f(double{});
}

}  // namespace nalgrad
