// NaN and Inf scans: for anomaly detection (graph/anomaly.hpp), and for the float32 kernels that
// must not hand a NaN to a oneDNN primitive that drops it (docs/semantics.md, the NaN rule).
#pragma once
#include <cstdint>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// True when no element is NaN or +-Inf (always for i64). Parallel; stops early once one is found.
bool all_finite(const Tensor& t);

// The largest |element| of a floating tensor (0 when empty), or +Inf when an element is NaN or
// +-Inf. One parallel read pass: the bits of |v| compare as integers as the values do.
double max_abs_or_inf(const Tensor& t);

// What a tensor holds that is not finite, for the message (a serial pass: the error path only).
struct NonFinite {
    int64_t nan = 0;
    int64_t inf = 0;     // +Inf and -Inf
    int64_t first = -1;  // flat index of the first, -1 when all are finite
};
NonFinite count_non_finite(const Tensor& t);

}  // namespace nalgrad::kernels
