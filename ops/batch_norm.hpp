// Batch normalisation over NHWC tensors, per channel, in PyTorch's semantics (BatchNorm2d).
#pragma once
#include "core/activation.hpp"
#include "core/tensor.hpp"
#include "graph/var.hpp"

namespace nalgrad {

struct BatchNorm2dOptions {
    bool training = true;   // normalise with the batch's statistics and update the running ones
    double momentum = 0.1;  // weight of the batch statistic in the running update
    double eps = 1e-5;      // added to the variance under the square root
    Activation activation = Activation::none;
};

// x is NHWC [n, h, w, c]; each channel is normalised over n, h and w:
//   y = gamma (x - mean) / sqrt(var + eps) + beta.
// gamma and beta are [c], or both undefined (no affine transform). running_mean and running_var
// are [c] tensors of x's dtype.
// Training: mean and the biased variance are the batch's (m = n h w values per channel, m > 1),
// and the running tensors are updated in place (their versions bumped):
//   running = (1 - momentum) running + momentum * batch statistic,
// with the unbiased variance m / (m - 1) var for running_var. The gradient of x carries the terms
// through the batch statistics:
//   dx = gamma / sqrt(var + eps) (dy - mean(dy) - xhat mean(dy xhat)).
// Eval: the running statistics normalise x and are left alone; dx = gamma dy / sqrt(var + eps).
// In both, dgamma = sum(dy xhat) and dbeta = sum(dy) per channel.
// With options.activation = Activation::relu, y = max(normalised, 0) as one op
// ("batch_norm2d_relu"), its gradient masking dy by [y > 0].
Var batch_norm2d(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean,
                 Tensor& running_var, const BatchNorm2dOptions& options = {},
                 SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
