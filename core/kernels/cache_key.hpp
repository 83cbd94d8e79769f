// Keys of the kernels' caches (primitives, plans, reordered weights).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "core/shape.hpp"

namespace nalgrad {

// A cache key: up to 24 integers, stored, compared and hashed in place, so that a lookup
// allocates nothing (a formatted std::string longer than its small buffer would).
class CacheKey {
  public:
    CacheKey() = default;
    CacheKey(std::initializer_list<int64_t> values) { append(values); }
    CacheKey& append(std::initializer_list<int64_t> values);
    CacheKey& append(const Shape& shape);  // the rank, then the extents
    CacheKey& append(const CacheKey& other);

    friend bool operator==(const CacheKey& a, const CacheKey& b);
    struct Hash {
        std::size_t operator()(const CacheKey& key) const;
    };

  private:
    void push(int64_t value);
    std::array<int64_t, 24> values_{};
    std::size_t size_ = 0;
};

}  // namespace nalgrad
