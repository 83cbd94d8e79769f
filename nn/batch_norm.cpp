#include "nn/batch_norm.hpp"

#include <cmath>

namespace nalgrad {

BatchNorm2d::BatchNorm2d(int64_t channels, BatchNorm2dOptions options, LayerInit init)
    : options(options) {
    if (channels < 1) fail("BatchNorm2d", "channels must be at least 1, got {}", channels);
    if (!is_floating(init.dtype))
        fail("BatchNorm2d", "the dtype must be f32 or f64, got {}", dtype_name(init.dtype));
    weight = requires_grad(ones({channels}, init.dtype));
    bias = requires_grad(zeros({channels}, init.dtype));
    running_mean = zeros({channels}, init.dtype);
    running_var = ones({channels}, init.dtype);
    num_batches_tracked = scalar(0, DType::i64);
}

Var BatchNorm2d::operator()(const Var& x, SourceLocation where) const {
    Tensor mean = running_mean, var = running_var;
    Var y = batch_norm2d(x, weight, bias, mean, var, options, where);
    if (options.training) {
        // Counted after the op succeeded, so a refused batch is not counted.
        ++*num_batches_tracked.data<int64_t>();
        num_batches_tracked.bump_version();
    }
    return y;
}

void BatchNorm2d::visit(ModuleVisitor& visitor) {
    visitor.parameter(visitor.name_of("weight"), weight);
    visitor.parameter(visitor.name_of("bias"), bias);
    visitor.buffer(visitor.name_of("running_mean"), running_mean);
    visitor.buffer(visitor.name_of("running_var"), running_var);
    visitor.buffer(visitor.name_of("num_batches_tracked"), num_batches_tracked);
    visitor.mode(visitor.name_of("training"), options.training);
}

namespace {

template <typename T>
void fold(const Conv2d& conv, const BatchNorm2d& bn, Tensor& weight, Tensor& bias) {
    const int64_t out = weight.size(3), taps = weight.numel() / out;
    T* w = weight.data<T>();
    T* b = bias.data<T>();
    const T* gamma = bn.weight.value().data<T>();
    const T* beta = bn.bias.value().data<T>();
    const T* mean = bn.running_mean.data<T>();
    const T* var = bn.running_var.data<T>();
    const T* conv_bias = conv.bias.defined() ? conv.bias.value().data<T>() : nullptr;
    for (int64_t o = 0; o < out; ++o) {
        // In double, then rounded once to T.
        const double scale =
            static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + bn.options.eps);
        for (int64_t t = 0; t < taps; ++t)
            w[t * out + o] = static_cast<T>(static_cast<double>(w[t * out + o]) * scale);
        const double b0 = conv_bias ? static_cast<double>(conv_bias[o]) : 0.0;
        b[o] = static_cast<T>((b0 - static_cast<double>(mean[o])) * scale +
                              static_cast<double>(beta[o]));
    }
}

}  // namespace

Conv2d fold_batch_norm(const Conv2d& conv, const BatchNorm2d& bn) {
    const Shape& shape = conv.weight.shape();
    if (bn.options.training)
        fail("fold_batch_norm",
             "bn is in training mode: folding uses the running statistics; call eval() first");
    if (bn.running_mean.numel() != shape.dim(3))
        fail("fold_batch_norm", "bn has {} channels, the convolution's weight {} has {} outputs",
             bn.running_mean.numel(), shape, shape.dim(3));
    if (bn.running_mean.dtype() != conv.weight.dtype())
        fail("fold_batch_norm", "bn is {}, the convolution is {}",
             dtype_name(bn.running_mean.dtype()), dtype_name(conv.weight.dtype()));
    if (conv.options.activation != Activation::none)
        fail("fold_batch_norm", "the convolution applies an activation before the batch norm");
    Tensor weight = conv.weight.value().clone();
    Tensor bias = zeros({shape.dim(3)}, weight.dtype());
    if (weight.dtype() == f64)
        fold<double>(conv, bn, weight, bias);
    else
        fold<float>(conv, bn, weight, bias);
    Conv2dOptions options = conv.options;
    options.activation = bn.options.activation;
    return Conv2d(Var(weight), Var(bias), options);
}

}  // namespace nalgrad
