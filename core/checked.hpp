// Overflow-checked int64 arithmetic for every size, offset and product computed from user input
// (shapes, reshape targets, broadcasting, window geometry, strides, pooling plans). A formula is
// written plainly on Checked values and tested once at the end: an operation that would wrap
// (__builtin_*_overflow) makes the result, and everything computed from it, not ok().
#pragma once
#include <cstdint>
#include <span>

namespace nalgrad {

class Checked {
  public:
    constexpr Checked(int64_t value) : value_(value) {}  // NOLINT: a plain number converts

    // The result of an operation that wrapped.
    static constexpr Checked overflow() {
        Checked r(0);
        r.ok_ = false;
        return r;
    }

    constexpr bool ok() const { return ok_; }
    // Meaningful only when ok().
    constexpr int64_t value() const { return value_; }

    friend constexpr Checked operator+(Checked a, Checked b) {
        Checked r(0);
        r.ok_ = a.ok_ && b.ok_ && !__builtin_add_overflow(a.value_, b.value_, &r.value_);
        return r;
    }
    friend constexpr Checked operator-(Checked a, Checked b) {
        Checked r(0);
        r.ok_ = a.ok_ && b.ok_ && !__builtin_sub_overflow(a.value_, b.value_, &r.value_);
        return r;
    }
    friend constexpr Checked operator*(Checked a, Checked b) {
        Checked r(0);
        r.ok_ = a.ok_ && b.ok_ && !__builtin_mul_overflow(a.value_, b.value_, &r.value_);
        return r;
    }
    // Division rounding toward zero; dividing by 0 (or INT64_MIN by -1) is not ok().
    friend constexpr Checked operator/(Checked a, Checked b) {
        Checked r(0);
        r.ok_ = a.ok_ && b.ok_ && b.value_ != 0 && !(a.value_ == INT64_MIN && b.value_ == -1);
        if (r.ok_) r.value_ = a.value_ / b.value_;
        return r;
    }

  private:
    int64_t value_;
    bool ok_ = true;
};

// ceil(a / b) for a >= 0 and b >= 1, without forming a + b - 1 (which wraps for a huge b).
constexpr Checked ceil_div(Checked a, Checked b) {
    Checked q = a / b;
    if (!q.ok() || a.value() < 0 || b.value() < 1) return Checked::overflow();
    return a.value() % b.value() == 0 ? q : q + 1;
}

// The product of `extents` (1 for none); not ok() when it wraps. A zero extent makes it 0 whatever
// the others, in any order: [0, big, big] and [big, big, 0] both hold no element.
constexpr Checked checked_product(std::span<const int64_t> extents) {
    Checked n = 1;
    for (int64_t d : extents) {
        if (d == 0) return 0;
        n = n * d;
    }
    return n;
}

}  // namespace nalgrad
