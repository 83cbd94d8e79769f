// Tensor: a handle to contiguous row-major storage (64-byte aligned) with a dtype and a shape.
// Copying a Tensor shares the storage (as torch::Tensor does); clone() copies the data.
// reshape() is a view on the same storage.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/shape.hpp"

namespace nalgrad {

class Generator;

// The bytes behind one or more tensors. `version` counts in-place writes (optimizer steps), so
// caches derived from the data (reordered oneDNN weights) know when they are stale.
struct Storage {
    explicit Storage(std::size_t bytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data = nullptr;
    std::size_t bytes = 0;
    uint64_t version = 0;
};

class Tensor {
  public:
    Tensor() = default;                // undefined: no storage; defined() is false
    Tensor(Shape shape, DType dtype);  // uninitialised values

    bool defined() const { return storage_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int rank() const { return shape_.rank(); }
    int64_t numel() const { return shape_.numel(); }
    int64_t size(int axis) const { return shape_.dim(axis); }
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

    // Typed access; throws nalgrad::Error when T does not match dtype().
    template <typename T>
    T* data() const {
        check_dtype(dtype_of<T>());
        return reinterpret_cast<T*>(static_cast<char*>(storage_->data) + offset_);
    }
    void* raw() const { return static_cast<char*>(storage_->data) + offset_; }

    // Value of a one-element tensor, as double.
    double item() const;
    // Element at a flat row-major index, as double (for tests and printing).
    double at(int64_t flat_index) const;
    std::vector<double> to_vector() const;

    Tensor reshape(Shape shape) const;  // a view; one extent may be -1
    Tensor clone() const;
    Tensor astype(DType dtype) const;  // a copy unless the dtype already matches
    Tensor& fill_(double value);
    Tensor& copy_(const Tensor& source);  // same shape and dtype
    bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }
    // True when no other tensor shares this storage, so it can be reused in place.
    bool unique() const { return storage_.use_count() == 1; }
    uint64_t version() const { return storage_ ? storage_->version : 0; }
    void bump_version() const { ++storage_->version; }

  private:
    void check_dtype(DType wanted) const;

    std::shared_ptr<Storage> storage_;
    std::size_t offset_ = 0;  // bytes
    Shape shape_;
    DType dtype_ = DType::f32;
};

// Creation.
Tensor empty(Shape shape, DType dtype = f32);
Tensor zeros(Shape shape, DType dtype = f32);
Tensor ones(Shape shape, DType dtype = f32);
Tensor full(Shape shape, double value, DType dtype = f32);
Tensor zeros_like(const Tensor& t);
Tensor tensor(std::initializer_list<double> values, Shape shape, DType dtype = f32);
Tensor tensor(const std::vector<double>& values, Shape shape, DType dtype = f32);
Tensor tensor(const std::vector<float>& values, Shape shape);
Tensor scalar(double value, DType dtype = f32);
Tensor arange(int64_t n, DType dtype = f32);
Tensor arange(double start, double stop, double step, DType dtype = f32);
Tensor uniform(Shape shape, double low, double high, DType dtype, Generator& gen);
Tensor uniform(Shape shape, DType dtype, Generator& gen);  // [0, 1)
Tensor normal(Shape shape, double mean, double stddev, DType dtype, Generator& gen);
Tensor normal(Shape shape, DType dtype, Generator& gen);  // mean 0, stddev 1

// Largest |a - b| over all elements; shapes must match (any dtypes).
double max_abs_diff(const Tensor& a, const Tensor& b);
bool equal(const Tensor& a, const Tensor& b);  // same dtype, shape and bits

}  // namespace nalgrad

// fmt::format("{}", t): "tensor(f32 [2, 3], [[...], [...]])", eliding the middle of large tensors.
template <>
struct fmt::formatter<nalgrad::Tensor> {
    constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
    format_context::iterator format(const nalgrad::Tensor& t, format_context& ctx) const;
};
