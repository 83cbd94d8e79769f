#include "core/shape.hpp"

#include "core/checked.hpp"
#include "core/error.hpp"

namespace nalgrad {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims)) {}

Shape::Shape(std::span<const int64_t> dims) {
    if (dims.size() > static_cast<std::size_t>(max_rank))
        fail("shape", "rank {} exceeds the maximum of {}", dims.size(), max_rank);
    for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
    if (rank_ == max_rank) fail("shape", "rank exceeds the maximum of {}", max_rank);
    dims_[rank_++] = d;
}

int64_t Shape::numel() const {
    // Every shape made from user input is checked where it is made (tensors, reshape,
    // broadcasting, windows); this is the backstop against a count that wraps unseen.
    const Checked n = checked_product({begin(), end()});
    if (!n.ok()) fail("shape", "the element count of {} overflows int64", str());
    return n.value();
}

int64_t Shape::dim(int axis) const {
    int a = axis < 0 ? axis + rank_ : axis;
    if (a < 0 || a >= rank_) fail("shape", "axis {} is out of range for shape {}", axis, str());
    return dims_[a];
}

std::string Shape::str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
}

}  // namespace nalgrad
