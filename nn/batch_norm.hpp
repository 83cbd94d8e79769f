// BatchNorm2d: batch normalisation over NHWC channels as a layer, PyTorch's nn.BatchNorm2d.
// Parameters "weight" (gamma, ones) and "bias" (beta, zeros); buffers "running_mean" (zeros),
// "running_var" (ones) and "num_batches_tracked" (an i64 scalar counting the training-mode
// forwards), the names and initial values of PyTorch's state_dict. train() / eval() switch
// between the batch's statistics and the running ones (ops/batch_norm.hpp has the math).
//
// fold_batch_norm(conv, bn) is the inference form of conv followed by bn: one convolution with
//   weight' = weight * gamma / sqrt(running_var + eps)   (per output channel)
//   bias'   = (bias - running_mean) * gamma / sqrt(running_var + eps) + beta
// and bn's activation fused into it, equal to bn(conv(x)) in eval mode within rounding.
#pragma once
#include "nn/layers.hpp"
#include "ops/batch_norm.hpp"

namespace nalgrad {

class BatchNorm2d {
  public:
    // options.training is the initial mode; momentum, eps and activation apply to every call.
    explicit BatchNorm2d(int64_t channels, BatchNorm2dOptions options = {}, LayerInit init = {});
    // Updates the running statistics and num_batches_tracked in training mode: they are handles
    // to shared storage, as the parameters are.
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    void visit(ModuleVisitor& visitor);
    NALGRAD_MODULE_METHODS

    Var weight, bias;
    Tensor running_mean, running_var, num_batches_tracked;
    BatchNorm2dOptions options;
};

// Throws unless bn is in eval mode and its channels match conv's outputs.
Conv2d fold_batch_norm(const Conv2d& conv, const BatchNorm2d& bn);

}  // namespace nalgrad
