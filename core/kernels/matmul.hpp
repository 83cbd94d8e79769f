// Matrix products for matmul and dense: c = op(a) op(b) (+ bias added to every row).
// float32 runs on oneDNN's matmul primitive; float64 on the project's own cache-blocked loops,
// which also exist for float so tests can cross-check oneDNN against them. A transposed operand
// is read through swapped strides: no transpose is ever materialised.
#pragma once
#include <cstddef>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// Which operand is read transposed: none for a forward (x W), a for a weight gradient (x^T dy),
// b for an input gradient (dy W^T).
enum class Transposed { none, a, b };

// Which code computes a float32 product. float64 always runs the project's own loops.
enum class MatmulBackend { onednn, own };

// c = op(a) op(b) + bias, with a, b 2-D of one float dtype and bias [columns of c] or undefined.
// The op checks shapes and dtypes for the user's messages; this throws only as a guard.
Tensor matmul(const Tensor& a, const Tensor& b, Transposed transposed = Transposed::none,
              const Tensor& bias = {}, MatmulBackend backend = MatmulBackend::onednn);

// [m, n] -> [n]: the sum of the rows (a bias gradient).
Tensor sum_rows(const Tensor& x);

// oneDNN matmul primitives cached on this thread (for tests: a repeated shape adds none).
std::size_t cached_matmul_primitives();

}  // namespace nalgrad::kernels
