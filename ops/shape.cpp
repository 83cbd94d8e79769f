#include "ops/shape.hpp"

#include "core/kernels/concat.hpp"
#include "core/kernels/elementwise.hpp"
#include "graph/inline_vector.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {

// y = x viewed as `shape`;  dx = dy viewed as x's shape
Var reshape(const Var& x, Shape shape, SourceLocation where) {
    checks::require_defined("reshape", "x", x);
    Tensor y = x.value().reshape(shape);
    return record("reshape", where, y, {x},
                  [x_shape = x.shape()](const Grads& dy, const Needed&) -> Grads {
                      return {dy[0].reshape(x_shape)};
                  });
}

Var flatten(const Var& x, SourceLocation where) {
    checks::require_defined("flatten", "x", x);
    if (x.rank() == 0) fail("flatten", "x needs a batch axis, got a scalar");
    int64_t rest = 1;
    for (int i = 1; i < x.rank(); ++i) rest *= x.size(i);
    return reshape(x, {x.size(0), rest}, where);
}

// y = x^T;  dx = dy^T
Var transpose(const Var& x, SourceLocation where) {
    checks::require_float("transpose", "x", x);
    checks::require_rank("transpose", "x", x, 2);
    return record(
        "transpose", where, kernels::transpose(x.value()), {x},
        [](const Grads& dy, const Needed&) -> Grads { return {kernels::transpose(dy[0])}; });
}

namespace {

// The axis concat joins along, after every part is checked against the first.
int concat_axis(const std::vector<Var>& parts, int axis) {
    if (parts.empty()) fail("concat", "no parts given");
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string name = fmt::format("parts[{}]", i);
        checks::require_float("concat", name, parts[i]);
        if (i > 0) checks::require_same_dtype("concat", name, parts[i], "parts[0]", parts[0]);
    }
    const Shape& first = parts[0].shape();
    if (first.rank() == 0) fail("concat", "parts[0] is a scalar; concat needs an axis");
    if (axis < -first.rank() || axis >= first.rank())
        fail("concat", "axis {} is out of range for parts[0] of shape {}", axis, first);
    const int a = axis < 0 ? axis + first.rank() : axis;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const Shape& s = parts[i].shape();
        bool fits = s.rank() == first.rank();
        for (int d = 0; fits && d < s.rank(); ++d) fits = d == a || s[d] == first[d];
        if (!fits)
            fail("concat",
                 "parts[{}] is {} and parts[0] is {}: every extent but axis {} must agree", i, s,
                 first, axis);
    }
    return a;
}

}  // namespace

// y = [parts[0], parts[1], ...] along the axis;  d parts[i] = dy's slice at parts[i]'s offset.
Var concat(const std::vector<Var>& parts, int axis, SourceLocation where) {
    const int a = concat_axis(parts, axis);
    std::vector<Tensor> values;
    values.reserve(parts.size());
    InlineVector<int64_t, 8> extents;
    for (const Var& p : parts) {
        values.push_back(p.value());
        extents.push_back(p.size(a));
    }
    Tensor y = kernels::concat(values, a);
    return record("concat", where, y, std::span<const Var>(parts),
                  [a, extents](const Grads& dy, const Needed& needed) -> Grads {
                      Grads g(needed.size());
                      int64_t offset = 0;
                      for (std::size_t i = 0; i < needed.size(); ++i) {
                          if (needed[i]) g[i] = kernels::slice(dy[0], a, offset, extents[i]);
                          offset += extents[i];
                      }
                      return g;
                  });
}

}  // namespace nalgrad
