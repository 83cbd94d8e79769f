#include "ops/batch_norm.hpp"

#include <memory>

#include "core/kernels/batch_norm.hpp"
#include "core/kernels/elementwise.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {
namespace {

constexpr std::string_view op = "batch_norm2d";

void require_channels(std::string_view name, const Shape& s, DType dtype, const Var& x) {
    if (s.rank() != 1 || s[0] != x.size(3))
        fail(op, "{} must be [c] = [{}] for x {}, got shape {}", name, x.size(3), x.shape(), s);
    if (dtype != x.dtype())
        fail(op, "{} is {} {} but x is {} {}; they must have one dtype (cast one with astype)",
             name, dtype_name(dtype), s, dtype_name(x.dtype()), x.shape());
}

void check_arguments(const Var& x, const Var& gamma, const Var& beta, const Tensor& running_mean,
                     const Tensor& running_var, const BatchNorm2dOptions& options) {
    checks::require_float(op, "x", x);
    checks::require_rank(op, "x", x, 4, "NHWC [mb, h, w, c]");
    if (gamma.defined() != beta.defined())
        fail(op, "gamma and beta must both be given or both be undefined, got gamma {} and beta {}",
             gamma.defined() ? fmt::format("{}", gamma.shape()) : "undefined",
             beta.defined() ? fmt::format("{}", beta.shape()) : "undefined");
    if (gamma.defined()) {
        require_channels("gamma", gamma.shape(), gamma.dtype(), x);
        require_channels("beta", beta.shape(), beta.dtype(), x);
    }
    if (!running_mean.defined() || !running_var.defined())
        fail(op, "running_mean and running_var must be defined [c] = [{}] tensors for x {}",
             x.size(3), x.shape());
    require_channels("running_mean", running_mean.shape(), running_mean.dtype(), x);
    require_channels("running_var", running_var.shape(), running_var.dtype(), x);
    const Shape& s = x.shape();
    if (options.training && s[0] * s[1] * s[2] <= 1)
        fail(op, "expected more than 1 value per channel when training, got x {}", s);
    if (s[0] * s[1] * s[2] < 1) fail(op, "x has no values per channel: x is {}", s);
}

// What the gradient reads, behind one pointer: six tensors exceed BackwardFn's inline
// buffer.
struct Saved {
    Tensor x, gamma, beta, mean, var;
    Tensor y;  // with the relu activation only
    kernels::BatchNormSpec spec;
};

Grads gradients(const Saved& s, const Tensor& dy, const Needed& needed) {
    const Tensor d = s.y.defined() ? kernels::relu_backward(s.y, dy) : dy;
    kernels::BatchNormGrads g =
        kernels::batch_norm_backward(s.x, d, s.gamma, s.beta, s.mean, s.var, s.spec);
    Grads out(needed.size());
    if (needed[0]) out[0] = std::move(g.dx);
    if (needed.size() > 1) {
        if (needed[1]) out[1] = std::move(g.dgamma);
        if (needed[2]) out[2] = std::move(g.dbeta);
    }
    return out;
}

}  // namespace

Var batch_norm2d(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean,
                 Tensor& running_var, const BatchNorm2dOptions& options, SourceLocation where) {
    check_arguments(x, gamma, beta, running_mean, running_var, options);
    const bool affine = gamma.defined();
    const kernels::BatchNormSpec spec{.training = options.training, .eps = options.eps};
    const Tensor g = affine ? gamma.value() : Tensor{}, b = affine ? beta.value() : Tensor{};
    kernels::BatchNormForward f =
        kernels::batch_norm_forward(x.value(), g, b, running_mean, running_var, spec);
    if (options.training) {
        const Shape& s = x.shape();
        kernels::batch_norm_update_running(running_mean, running_var, f.mean, f.var,
                                           options.momentum, s[0] * s[1] * s[2]);
    }
    const bool relu = options.activation == Activation::relu;
    if (relu) f.y = kernels::relu(f.y);

    // Nothing is kept (or allocated) when no gradient is wanted.
    std::shared_ptr<Saved> saved;
    if (affine ? recording({x, gamma, beta}) : recording({x})) {
        // In eval the running tensors are the statistics; a copy, as a later training step
        // changes them in place.
        saved = std::make_shared<Saved>(Saved{
            .x = x.value(),
            .gamma = g,
            .beta = b,
            .mean = options.training ? f.mean : running_mean.clone(),
            .var = options.training ? f.var : running_var.clone(),
            .y = relu ? f.y : Tensor{},
            .spec = spec,
        });
    }
    auto backward = [saved](const Grads& dy, const Needed& needed) -> Grads {
        return gradients(*saved, dy[0], needed);
    };
    const std::string_view name = relu ? "batch_norm2d_relu" : op;
    if (affine) return record(name, where, f.y, {x, gamma, beta}, std::move(backward));
    return record(name, where, f.y, {x}, std::move(backward));
}

}  // namespace nalgrad
