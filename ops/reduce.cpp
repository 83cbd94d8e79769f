#include "ops/reduce.hpp"

#include "core/kernels/elementwise.hpp"
#include "core/kernels/reduce.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {
namespace {

enum class Reduction { sum, mean };

// One flag per axis of `shape`: reduce it or not. Every axis when `axes` is null.
std::vector<bool> axis_flags(std::string_view op, const Shape& shape,
                             const std::vector<int>* axes) {
    if (!axes) return std::vector<bool>(static_cast<std::size_t>(shape.rank()), true);
    if (axes->empty()) fail(op, "no axes given for shape {}; {}(x) reduces every axis", shape, op);
    std::vector<bool> flags(static_cast<std::size_t>(shape.rank()), false);
    for (int axis : *axes) {
        const int a = axis < 0 ? axis + shape.rank() : axis;
        if (a < 0 || a >= shape.rank())
            fail(op, "axis {} is out of range for shape {}", axis, shape);
        if (flags[a]) fail(op, "axis {} is given twice for shape {}", axis, shape);
        flags[a] = true;
    }
    return flags;
}

// y = sum (times 1/count for the mean) over `axes` (every axis when null);
// dx = dy (times 1/count) stretched back over them.
Var reduce(Reduction kind, const Var& x, const std::vector<int>* axes, bool keepdims,
           const SourceLocation& where) {
    const std::string_view op = kind == Reduction::sum ? "sum" : "mean";
    checks::require_float(op, "x", x);
    const std::vector<bool> flags = axis_flags(op, x.shape(), axes);
    int64_t count = 1;
    Shape out;
    for (int i = 0; i < x.rank(); ++i) {
        if (flags[i]) count *= x.size(i);
        if (!flags[i] || keepdims) out.push_back(flags[i] ? 1 : x.size(i));
    }
    // A mean over no elements is NaN (0 * inf), as in numpy.
    const double scale = kind == Reduction::mean ? 1.0 / static_cast<double>(count) : 1.0;
    Tensor kept = kernels::sum_keepdims(x.value(), flags, scale);
    return record(op, where, kept.reshape(out), {x},
                  [kept_shape = kept.shape(), x_shape = x.shape(), scale](const Grads& dy,
                                                                          const Needed&) -> Grads {
                      return {kernels::broadcast_to(dy[0].reshape(kept_shape), x_shape, scale)};
                  });
}

}  // namespace

Var sum(const Var& x, SourceLocation where) {
    return reduce(Reduction::sum, x, nullptr, false, where);
}
Var sum(const Var& x, std::vector<int> axes, bool keepdims, SourceLocation where) {
    return reduce(Reduction::sum, x, &axes, keepdims, where);
}
Var mean(const Var& x, SourceLocation where) {
    return reduce(Reduction::mean, x, nullptr, false, where);
}
Var mean(const Var& x, std::vector<int> axes, bool keepdims, SourceLocation where) {
    return reduce(Reduction::mean, x, &axes, keepdims, where);
}

}  // namespace nalgrad
