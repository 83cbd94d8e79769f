#include "core/kernels/finite.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// NaN and Inf are the values whose exponent bits are all ones. Testing the bits as integers lets
// the loop vectorise (an OR over lanes), which std::isfinite on floats does not.
template <typename T>
struct FloatBits;
template <>
struct FloatBits<float> {
    using Int = uint32_t;
    static constexpr Int exponent = 0x7f800000u;
};
template <>
struct FloatBits<double> {
    using Int = uint64_t;
    static constexpr Int exponent = 0x7ff0000000000000ull;
};

template <typename T>
bool chunk_has_non_finite(const T* data, int64_t begin, int64_t end) {
    using Int = typename FloatBits<T>::Int;
    constexpr Int exponent = FloatBits<T>::exponent;
    Int found = 0;
    for (int64_t i = begin; i < end; ++i) {
        Int bits;
        std::memcpy(&bits, data + i, sizeof bits);
        found |= static_cast<Int>((bits & exponent) == exponent);
    }
    return found != 0;
}

// max over i of the bits of |data[i]|: NaN and Inf have the largest (exponent all ones).
template <typename T>
typename FloatBits<T>::Int chunk_max_abs_bits(const T* data, int64_t begin, int64_t end) {
    using Int = typename FloatBits<T>::Int;
    constexpr Int magnitude = ~(Int{1} << (8 * sizeof(Int) - 1));
    Int top = 0;
    for (int64_t i = begin; i < end; ++i) {
        Int bits;
        std::memcpy(&bits, data + i, sizeof bits);
        top = std::max(top, static_cast<Int>(bits & magnitude));
    }
    return top;
}

}  // namespace

double max_abs_or_inf(const Tensor& t) {
    return visit_float("max_abs", t.dtype(), [&]<typename T>(T) {
        using Int = typename FloatBits<T>::Int;
        const T* data = t.data<T>();
        std::atomic<uint64_t> top = 0;
        parallel_for(t.numel(), 1, [&](int64_t begin, int64_t end) {
            const uint64_t mine = chunk_max_abs_bits(data, begin, end);
            uint64_t seen = top.load(std::memory_order_relaxed);
            while (mine > seen && !top.compare_exchange_weak(seen, mine)) {
            }
        });
        const auto bits = static_cast<Int>(top.load());
        if ((bits & FloatBits<T>::exponent) == FloatBits<T>::exponent)
            return std::numeric_limits<double>::infinity();
        T value;
        std::memcpy(&value, &bits, sizeof value);
        return static_cast<double>(value);
    });
}

bool all_finite(const Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype())) return true;
    std::atomic<bool> found = false;
    visit_float("all_finite", t.dtype(), [&]<typename T>(T) {
        const T* data = t.data<T>();
        parallel_for(t.numel(), 1, [&](int64_t begin, int64_t end) {
            if (found.load(std::memory_order_relaxed)) return;
            if (chunk_has_non_finite(data, begin, end))
                found.store(true, std::memory_order_relaxed);
        });
    });
    return !found.load();
}

NonFinite count_non_finite(const Tensor& t) {
    NonFinite result;
    if (!t.defined() || !is_floating(t.dtype())) return result;
    visit_float("count_non_finite", t.dtype(), [&]<typename T>(T) {
        const T* data = t.data<T>();
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (std::isfinite(data[i])) continue;
            if (result.first < 0) result.first = i;
            ++(std::isnan(data[i]) ? result.nan : result.inf);
        }
    });
    return result;
}

}  // namespace nalgrad::kernels
