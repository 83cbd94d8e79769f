// Element types. float32 runs on oneDNN; float64 on the project's own kernels (gradient checks).
#pragma once
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace nalgrad {

enum class DType { f32, f64 };
inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;

constexpr std::size_t dtype_size(DType d) {
    return d == DType::f32 ? 4 : 8;
}
constexpr std::string_view dtype_name(DType d) {
    return d == DType::f32 ? "f32" : "f64";
}

template <typename T>
constexpr DType dtype_of() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "f32 or f64 only");
    return std::is_same_v<T, float> ? DType::f32 : DType::f64;
}

// Calls f with a value of the C++ type of d: visit_dtype(d, [&]<typename T>(T) { ... }).
template <typename F>
decltype(auto) visit_dtype(DType d, F&& f) {
    if (d == DType::f32) return f(float{});
    return f(double{});
}

}  // namespace nalgrad
