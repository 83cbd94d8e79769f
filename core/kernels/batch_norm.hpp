// Batch normalisation kernels over NHWC, per channel: float32 through oneDNN's
// batch_normalization primitives, float64 through the project's own loops (templated, so they
// exist for float too and tests can hold oneDNN against them).
#pragma once
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// Which implementation runs: `automatic` is oneDNN for f32 and the own loops for f64.
enum class BatchNormPath { automatic, loops };

// What one batch normalisation is: x is [n, h, w, c]; gamma and beta are [c] or both undefined
// (scale 1, shift 0). In training the batch's statistics normalise x, else mean and var do.
struct BatchNormSpec {
    bool training = true;
    double eps = 1e-5;
    BatchNormPath path = BatchNormPath::automatic;
};

struct BatchNormForward {
    Tensor y;
    Tensor mean;  // [c]: the batch mean in training, else the statistics given
    Tensor var;   // [c]: the biased batch variance in training, else the statistics given
};

// `mean` and `var` are read only when not training.
BatchNormForward batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& mean, const Tensor& var,
                                    const BatchNormSpec& spec);

struct BatchNormGrads {
    Tensor dx, dgamma, dbeta;  // dgamma and dbeta only when gamma is defined
};

// `mean` and `var` are what the forward normalised with. In training they are functions of x, and
// dx carries the terms through them; otherwise they are constants. oneDNN's backward reads beta
// as well when there is a shift.
BatchNormGrads batch_norm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& mean, const Tensor& var,
                                   const BatchNormSpec& spec);

// running = (1 - momentum) running + momentum * batch statistic, with the unbiased variance
// (count / (count - 1) times the biased one); in place, bumping both versions.
void batch_norm_update_running(const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& mean, const Tensor& biased_var, double momentum,
                               int64_t count);

}  // namespace nalgrad::kernels
