#include "core/shape.hpp"

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
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
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
