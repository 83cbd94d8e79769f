// The argument checks every op shares, so that each refusal is worded one way. Each throws
// nalgrad::Error as "op: <argument> ..., got <dtype> <shape>" (core/error.hpp). Internal:
// nalgrad.hpp does not include it.
#pragma once
#include <string_view>

#include "graph/var.hpp"

namespace nalgrad::checks {

// `name` is the argument as the op's signature calls it ("x", "k", "logits").
void require_defined(std::string_view op, std::string_view name, const Var& v);
// Defined, and f32 or f64.
void require_float(std::string_view op, std::string_view name, const Var& v);
// Both defined and of one dtype.
void require_same_dtype(std::string_view op, std::string_view a_name, const Var& a,
                        std::string_view b_name, const Var& b);
// Exactly `rank` axes; `layout` names them for the message ("NHWC [mb, h, w, c]"), or is empty.
void require_rank(std::string_view op, std::string_view name, const Var& v, int rank,
                  std::string_view layout = {});

// What the op will allocate (`what`: "the output", "the result") fits: no extent is negative, the
// element and byte counts fit int64 and the bytes do not exceed the machine's memory
// (core/limits.hpp). Ops call it before allocating, so the refusal names them.
void require_allocatable(std::string_view op, std::string_view what, const Shape& shape,
                         DType dtype);

}  // namespace nalgrad::checks
