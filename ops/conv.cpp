#include "ops/conv.hpp"

#include <array>

#include "core/kernels/conv.hpp"

namespace nalgrad {
namespace {

constexpr std::string_view op = "conv2d";

void check_dtypes(const Var& x, const Var& k, const Var& b) {
    if (!is_floating(x.dtype()))
        fail(op, "x must be f32 or f64, got {}: x is {}, k is {}", dtype_name(x.dtype()), x.shape(),
             k.shape());
    if (k.dtype() != x.dtype())
        fail(op, "k is {} but x is {}: x is {}, k is {}", dtype_name(k.dtype()),
             dtype_name(x.dtype()), x.shape(), k.shape());
    if (b.defined() && b.dtype() != x.dtype())
        fail(op, "b is {} but x is {}: b is {}, x is {}", dtype_name(b.dtype()),
             dtype_name(x.dtype()), b.shape(), x.shape());
}

}  // namespace

Window2d conv2d_window(const Shape& x, const Shape& k, const Conv2dOptions& options) {
    if (x.rank() != 4) fail(op, "x must be 4-D NHWC [mb, h, w, c]: x is {}, k is {}", x, k);
    if (k.rank() != 4)
        fail(op, "k must be 4-D HWIO [kh, kw, in channels, out channels]: x is {}, k is {}", x, k);
    if (k[2] != x[3])
        fail(op, "kernel input channels differ from input channels: x is {}, k is {}", x, k);
    if (k[3] < 1) fail(op, "kernel has no output channels: x is {}, k is {}", x, k);
    try {
        return make_window(op, x, {k[0], k[1]}, options.stride, options.dilation, options.padding);
    } catch (const Error& e) {
        throw Error(fmt::format("{}; k is {}", e.what(), k));  // the window rule names only x
    }
}

// y = x (*) k + b.  dx: dy correlated back through k;  dk: x against dy;  db: dy summed.
// The forward is deferred (graph/var.hpp) so that a relu taking the output over can run inside it
// (ops/activation.cpp); the output's value then holds max(y, 0), which nobody else can see. The
// backward does not depend on it: dy arrives through the relu's record, masked there.
Var conv2d(const Var& x, const Var& k, const Var& b, const Conv2dOptions& options,
           SourceLocation where) {
    const CallSite site(where);
    if (!x.defined() || !k.defined()) fail(op, "x and k must be defined");
    check_dtypes(x, k, b);
    const Window2d w = conv2d_window(x.shape(), k.shape(), options);
    if (b.defined() && (b.rank() != 1 || b.size(0) != k.size(3)))
        fail(op, "bias length differs from kernel output channels: b is {}, k is {}", b.shape(),
             k.shape());

    const bool has_bias = b.defined();
    const Tensor bias = has_bias ? b.value() : Tensor{};
    auto forward = [input = x.value(), kernel = k.value(), bias, w,
                    versions = std::array{x.value().version(), k.value().version(),
                                          bias.version()}](FusedActivation activation) {
        // Reading any variable runs the forward first, so only a write to one of these tensors
        // themselves (not through a variable) can land in between.
        if (versions != std::array{input.version(), kernel.version(), bias.version()})
            fail(op,
                 "an input tensor was modified in place after the call and before any value "
                 "was read (the forward runs then, so that a relu can join it)");
        return kernels::conv2d_forward(input, kernel, bias, w, activation);
    };
    // Keep only what the wanted gradients read: dk needs x, dx needs k.
    Tensor saved_x = k.requires_grad() ? x.value() : Tensor{};
    Tensor saved_k = x.requires_grad() ? k.value() : Tensor{};
    auto backward = [saved_x, saved_k, kernel_shape = k.shape(), w, has_bias](
                        const Grads& dy, const Needed& needed) -> Grads {
        Grads g(needed.size());
        if (needed[0]) g[0] = kernels::conv2d_backward_data(dy[0], saved_k, w);
        const bool want_db = has_bias && needed[2];
        if (needed[1]) {
            auto weights =
                kernels::conv2d_backward_weights(saved_x, dy[0], kernel_shape, w, want_db);
            g[1] = std::move(weights.dk);
            if (want_db) g[2] = std::move(weights.db);
        } else if (want_db) {
            g[2] = kernels::conv2d_backward_bias(dy[0]);
        }
        return g;
    };
    const Shape y_shape = w.output_shape(k.size(3));
    if (has_bias)
        return record_deferred(op, y_shape, x.dtype(), std::move(forward), {x, k, b},
                               std::move(backward));
    return record_deferred(op, y_shape, x.dtype(), std::move(forward), {x, k}, std::move(backward));
}

}  // namespace nalgrad
