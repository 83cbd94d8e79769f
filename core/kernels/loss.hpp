// Softmax and loss kernels: the project's own loops, TBB-parallel over rows, float and double.
// Softmax works on the last axis; losses return a scalar (rank-0) tensor, the mean.
#pragma once
#include "core/tensor.hpp"

namespace nalgrad::kernels {

// y = exp(x - max) / sum exp(x - max) per row of the last axis.
Tensor softmax(const Tensor& x);
// dx = y * (dy - sum(dy * y)) per row.
Tensor softmax_backward(const Tensor& y, const Tensor& dy);
// y = x - max - log(sum exp(x - max)) per row.
Tensor log_softmax(const Tensor& x);
// dx = dy - exp(y) * sum(dy) per row.
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy);

// Mean over rows of -log softmax(logits)[label]. logits [mb, classes]; labels i64 [mb], each in
// [0, classes) (the caller checks). Also returns the softmax, which the gradient needs.
struct CrossEntropy {
    Tensor loss;           // rank 0
    Tensor probabilities;  // [mb, classes]
};
CrossEntropy softmax_cross_entropy(const Tensor& logits, const Tensor& labels);
// d logits = scale * (probabilities - onehot(labels)); scale is dloss / mb.
Tensor softmax_cross_entropy_backward(const Tensor& probabilities, const Tensor& labels,
                                      double scale);

// mean((prediction - target)^2); the gradient for the prediction is scale * 2 (p - t) with
// scale = dloss / count (the target's is its negative).
Tensor mse(const Tensor& prediction, const Tensor& target);
Tensor mse_backward(const Tensor& prediction, const Tensor& target, double scale);

// mean(max(z, 0) - z t + log(1 + exp(-|z|))): binary cross entropy of sigmoid(z) against t,
// without overflow. Gradients: scale * (sigmoid(z) - t) for z, scale * -z for t.
Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets);
Tensor sigmoid_cross_entropy_backward_logits(const Tensor& logits, const Tensor& targets,
                                             double scale);
Tensor sigmoid_cross_entropy_backward_targets(const Tensor& logits, double scale);

}  // namespace nalgrad::kernels
