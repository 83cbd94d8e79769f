#include "core/tensor.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/allocator.hpp"
#include "core/block_pool.hpp"
#include "core/checked.hpp"
#include "core/limits.hpp"
#include "core/random.hpp"
#include "core/runtime.hpp"

namespace nalgrad {

Storage::Storage(std::size_t n) : bytes(n) {
    // Refuse what cannot fit before asking: with overcommit the allocation would succeed and the
    // process be killed on first touch.
    if (n > physical_memory())
        throw Error(
            fmt::format("tensor: cannot allocate {} bytes ({}): more than this machine's "
                        "memory ({})",
                        n, gib(n), gib(physical_memory())));
    data = allocator::allocate(n);
    if (!data) throw Error(fmt::format("tensor: cannot allocate {} bytes ({})", n, gib(n)));
}

Storage::~Storage() {
    allocator::release(data, bytes);
}

void fail_not_floating(std::string_view op, DType d) {
    fail(op, "needs a floating-point tensor (f32 or f64), got {}", dtype_name(d));
}

Tensor::Tensor(Shape shape, DType dtype) : shape_(shape), dtype_(dtype) {
    check_allocation("tensor", "a tensor", shape, dtype);
    storage_ = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>{}, nbytes());
}

void Tensor::check_dtype(DType wanted) const {
    if (!defined()) throw Error("tensor: access to an undefined tensor");
    if (wanted != dtype_)
        fail("tensor", "data<{}>() on a {} tensor of shape {}", dtype_name(wanted),
             dtype_name(dtype_), shape_);
}

double Tensor::at(int64_t i) const {
    if (!defined()) throw Error("tensor: access to an undefined tensor");
    if (i < 0 || i >= numel()) fail("tensor", "index {} out of range for shape {}", i, shape_);
    return visit_dtype(dtype_, [&]<typename T>(T) { return static_cast<double>(data<T>()[i]); });
}

double Tensor::item() const {
    if (!defined()) throw Error("item: undefined tensor");
    if (numel() != 1) fail("item", "needs a tensor of one element, got shape {}", shape_);
    return at(0);
}

std::vector<double> Tensor::to_vector() const {
    std::vector<double> v(static_cast<std::size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[i] = at(i);
    return v;
}

Tensor Tensor::reshape(Shape shape) const {
    if (!defined()) throw Error("reshape: undefined tensor");
    int infer = -1;
    Checked known = 1;
    bool empty = false;  // a zero extent: no element, however large the others
    for (int i = 0; i < shape.rank(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) fail("reshape", "more than one -1 in target shape {}", shape);
            infer = i;
        } else if (shape[i] < 0) {
            fail("reshape", "negative extent in target shape {}", shape);
        } else {
            empty = empty || shape[i] == 0;
            known = known * shape[i];
        }
    }
    if (empty) known = 0;
    // A product that wraps could equal the input's count (3 x 6148914691236517206 wraps to 2).
    if (!known.ok())
        fail("reshape", "target {} has more elements than int64 can count; input {} has {}", shape,
             shape_, numel());
    if (infer >= 0) {
        if (known.value() == 0 || numel() % known.value() != 0)
            fail("reshape", "cannot infer -1: input {} has {} elements, target is {}", shape_,
                 numel(), shape);
        shape[infer] = numel() / known.value();
    } else if (known.value() != numel()) {
        fail("reshape", "input {} has {} elements, target {} has {}", shape_, numel(), shape,
             known.value());
    }
    Tensor view = *this;
    view.shape_ = shape;
    return view;
}

Tensor Tensor::clone() const {
    if (!defined()) return {};
    Tensor t(shape_, dtype_);
    std::memcpy(t.raw(), raw(), nbytes());
    return t;
}

Tensor Tensor::astype(DType dtype) const {
    if (!defined()) throw Error("astype: undefined tensor");
    if (dtype == dtype_) return *this;
    Tensor t(shape_, dtype);
    visit_dtype(dtype_, [&]<typename S>(S) {
        visit_dtype(dtype, [&]<typename D>(D) {
            const S* s = data<S>();
            D* d = t.data<D>();
            parallel_for(numel(), 1, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) d[i] = static_cast<D>(s[i]);
            });
        });
    });
    return t;
}

Tensor& Tensor::fill_(double value) {
    if (!defined()) throw Error("fill_: undefined tensor");
    visit_dtype(dtype_, [&]<typename T>(T) {
        T* d = data<T>();
        T v = static_cast<T>(value);
        parallel_for(numel(), 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) d[i] = v;
        });
    });
    bump_version();
    return *this;
}

Tensor& Tensor::copy_(const Tensor& source) {
    if (!defined() || !source.defined()) throw Error("copy_: undefined tensor");
    if (source.dtype_ != dtype_ || !(source.shape_ == shape_))
        fail("copy_", "source is {} {}, destination is {} {}", dtype_name(source.dtype_),
             source.shape_, dtype_name(dtype_), shape_);
    if (raw() != source.raw()) std::memmove(raw(), source.raw(), nbytes());
    bump_version();
    return *this;
}

Tensor empty(Shape shape, DType dtype) {
    check_allocation("empty", "the tensor", shape, dtype);
    return Tensor(shape, dtype);
}
Tensor zeros(Shape shape, DType dtype) {
    check_allocation("zeros", "the tensor", shape, dtype);
    return full(shape, 0.0, dtype);
}
Tensor ones(Shape shape, DType dtype) {
    check_allocation("ones", "the tensor", shape, dtype);
    return full(shape, 1.0, dtype);
}
Tensor full(Shape shape, double value, DType dtype) {
    check_allocation("full", "the tensor", shape, dtype);
    Tensor t(shape, dtype);
    t.fill_(value);
    return t;
}
Tensor zeros_like(const Tensor& t) {
    return zeros(t.shape(), t.dtype());
}

Tensor tensor(const std::vector<double>& values, Shape shape, DType dtype) {
    check_allocation("tensor", "the tensor", shape, dtype);
    Tensor t(shape, dtype);
    if (static_cast<int64_t>(values.size()) != t.numel())
        fail("tensor", "{} values given for shape {} of {} elements", values.size(), shape,
             t.numel());
    visit_dtype(dtype, [&]<typename T>(T) {
        T* d = t.data<T>();
        for (std::size_t i = 0; i < values.size(); ++i) d[i] = static_cast<T>(values[i]);
    });
    return t;
}

Tensor tensor(std::initializer_list<double> values, Shape shape, DType dtype) {
    return tensor(std::vector<double>(values), shape, dtype);
}

Tensor tensor(const std::vector<float>& values, Shape shape) {
    Tensor t(shape, f32);
    if (static_cast<int64_t>(values.size()) != t.numel())
        fail("tensor", "{} values given for shape {} of {} elements", values.size(), shape,
             t.numel());
    std::memcpy(t.raw(), values.data(), values.size() * sizeof(float));
    return t;
}

Tensor scalar(double value, DType dtype) {
    return full(Shape{}, value, dtype);
}

Tensor arange(int64_t n, DType dtype) {
    return arange(0.0, static_cast<double>(n), 1.0, dtype);
}

Tensor arange(double start, double stop, double step, DType dtype) {
    // Non-finite bounds would give a count of NaN or infinity (arange(0, NaN, 1) used to return
    // an empty tensor); PyTorch refuses them too.
    if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
        fail("arange", "start, end and step must be finite, got start {}, end {}, step {}", start,
             stop, step);
    if (step == 0)
        fail("arange", "step must be non-zero, got start {}, end {}, step 0", start, stop);
    const double count = std::ceil((stop - start) / step);
    // 2^62: below it the double converts exactly enough; check_allocation then compares the
    // bytes with the machine's memory.
    if (!(count < 0x1p62))
        fail("arange", "start {}, end {} and step {} give {} elements, more than can be allocated",
             start, stop, step, count);
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    check_allocation("arange", "the tensor", {n}, dtype);
    Tensor t({n}, dtype);
    visit_dtype(dtype, [&]<typename T>(T) {
        T* d = t.data<T>();
        for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(start + step * i);
    });
    return t;
}

namespace {
template <typename Draw>
Tensor fill_random(std::string_view op, Shape shape, DType dtype, Draw draw) {
    check_allocation(op, "the tensor", shape, dtype);
    Tensor t(shape, dtype);
    // Serial on purpose: the sequence must not depend on the thread count.
    visit_dtype(dtype, [&]<typename T>(T) {
        T* d = t.data<T>();
        for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<T>(draw());
    });
    return t;
}
}  // namespace

Tensor uniform(Shape shape, double low, double high, DType dtype, Generator& gen) {
    if (!(low <= high)) fail("uniform", "low {} is above high {}", low, high);
    return fill_random("uniform", shape, dtype, [&] { return low + (high - low) * gen.uniform(); });
}
Tensor uniform(Shape shape, DType dtype, Generator& gen) {
    return uniform(shape, 0.0, 1.0, dtype, gen);
}
Tensor normal(Shape shape, double mean, double stddev, DType dtype, Generator& gen) {
    if (!(stddev >= 0)) fail("normal", "stddev must be non-negative, got {}", stddev);
    return fill_random("normal", shape, dtype, [&] { return mean + stddev * gen.normal(); });
}
Tensor normal(Shape shape, DType dtype, Generator& gen) {
    return normal(shape, 0, 1, dtype, gen);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    if (!(a.shape() == b.shape()))
        fail("max_abs_diff", "shapes differ: a is {}, b is {}", a.shape(), b.shape());
    double worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        double d = std::abs(a.at(i) - b.at(i));
        if (std::isnan(d)) return std::numeric_limits<double>::infinity();
        worst = std::max(worst, d);
    }
    return worst;
}

bool equal(const Tensor& a, const Tensor& b) {
    return a.defined() && b.defined() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
           std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace nalgrad

namespace {

// Prints dimension `axis` of t starting at flat offset `base`; shows `edge` items at each end of
// every dimension when the tensor is large, like PyTorch's summarised printing.
void print_dim(std::string& out, const nalgrad::Tensor& t, int axis, int64_t base, bool elide,
               int indent) {
    constexpr int64_t edge = 3;
    const auto& s = t.shape();
    int64_t stride = 1;
    for (int i = axis + 1; i < s.rank(); ++i) stride *= s[i];
    int64_t n = s[axis];
    out += '[';
    for (int64_t i = 0; i < n; ++i) {
        if (elide && n > 2 * edge && i == edge) {
            out += axis + 1 == s.rank() ? "..., " : "...,\n" + std::string(indent + 1, ' ');
            i = n - edge - 1;
            continue;
        }
        if (axis + 1 == s.rank()) {
            out += fmt::format("{:.4g}", t.at(base + i));
        } else {
            print_dim(out, t, axis + 1, base + i * stride, elide, indent + 1);
        }
        if (i + 1 < n) out += axis + 1 == s.rank() ? ", " : ",\n" + std::string(indent + 1, ' ');
    }
    out += ']';
}

}  // namespace

fmt::format_context::iterator fmt::formatter<nalgrad::Tensor>::format(const nalgrad::Tensor& t,
                                                                      format_context& ctx) const {
    if (!t.defined()) return fmt::format_to(ctx.out(), "tensor(undefined)");
    std::string values;
    if (t.rank() == 0) {
        values = fmt::format("{:.4g}", t.at(0));
    } else {
        print_dim(values, t, 0, 0, t.numel() > 1000, 7);
    }
    return fmt::format_to(ctx.out(), "tensor({} {}, {})", nalgrad::dtype_name(t.dtype()), t.shape(),
                          values);
}
