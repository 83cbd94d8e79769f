// A tensor shape: up to 8 extents stored inline, so shapes never allocate.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace nalgrad {

class Shape {
  public:
    static constexpr int max_rank = 8;

    Shape() = default;
    Shape(std::initializer_list<int64_t> dims);
    explicit Shape(std::span<const int64_t> dims);
    Shape(const std::vector<int64_t>& dims) : Shape(std::span<const int64_t>(dims)) {}

    int rank() const { return rank_; }
    int64_t numel() const;
    int64_t operator[](int i) const { return dims_[i]; }
    int64_t& operator[](int i) { return dims_[i]; }
    // Negative axes count from the back, as in PyTorch; throws for an axis out of range.
    int64_t dim(int axis) const;
    const int64_t* begin() const { return dims_.data(); }
    const int64_t* end() const { return dims_.data() + rank_; }
    void push_back(int64_t d);
    std::vector<int64_t> to_vector() const { return {begin(), end()}; }
    std::string str() const;

    friend bool operator==(const Shape& a, const Shape& b) {
        if (a.rank_ != b.rank_) return false;
        for (int i = 0; i < a.rank_; ++i)
            if (a.dims_[i] != b.dims_[i]) return false;
        return true;
    }

  private:
    std::array<int64_t, max_rank> dims_{};
    int rank_ = 0;
};

}  // namespace nalgrad

template <>
struct fmt::formatter<nalgrad::Shape> : fmt::formatter<std::string> {
    auto format(const nalgrad::Shape& s, format_context& ctx) const {
        return fmt::formatter<std::string>::format(s.str(), ctx);
    }
};
