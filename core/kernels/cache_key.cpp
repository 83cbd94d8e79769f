#include "core/kernels/cache_key.hpp"

#include "core/error.hpp"

namespace nalgrad {

CacheKey& CacheKey::append(std::initializer_list<int64_t> values) {
    for (int64_t v : values) push(v);
    return *this;
}

CacheKey& CacheKey::append(const Shape& shape) {
    push(shape.rank());
    for (int64_t d : shape) push(d);
    return *this;
}

CacheKey& CacheKey::append(const CacheKey& other) {
    for (std::size_t i = 0; i < other.size_; ++i) push(other.values_[i]);
    return *this;
}

void CacheKey::push(int64_t value) {
    if (size_ == values_.size()) fail("kernels", "cache key longer than {} values", values_.size());
    values_[size_++] = value;
}

bool operator==(const CacheKey& a, const CacheKey& b) {
    if (a.size_ != b.size_) return false;
    for (std::size_t i = 0; i < a.size_; ++i)
        if (a.values_[i] != b.values_[i]) return false;
    return true;
}

// FNV-1a over the values.
std::size_t CacheKey::Hash::operator()(const CacheKey& key) const {
    uint64_t h = 14695981039346656037ull;
    for (std::size_t i = 0; i < key.size_; ++i) {
        h ^= static_cast<uint64_t>(key.values_[i]);
        h *= 1099511628211ull;
    }
    return static_cast<std::size_t>(h);
}

}  // namespace nalgrad
