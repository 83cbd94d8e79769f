#include "ops/conv.hpp"

#include "core/kernels/conv.hpp"
#include "core/kernels/elementwise.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"

namespace nalgrad {
namespace {

constexpr std::string_view op = "conv2d";

// dx: dy correlated back through k;  dk: x against dy;  db: dy summed. `saved_x` is kept only
// when dk is wanted, `saved_k` only when dx is.
Grads conv2d_gradients(const Tensor& dy, const Tensor& saved_x, const Tensor& saved_k,
                       const Window2d& w, bool has_bias, const Needed& needed) {
    const Shape kernel_shape{w.kernel_h, w.kernel_w, w.channels, dy.size(3)};
    Grads g(needed.size());
    if (needed[0]) g[0] = kernels::conv2d_backward_data(dy, saved_k, w);
    const bool want_db = has_bias && needed[2];
    if (needed[1]) {
        auto weights = kernels::conv2d_backward_weights(saved_x, dy, kernel_shape, w, want_db);
        g[1] = std::move(weights.dk);
        if (want_db) g[2] = std::move(weights.db);
    } else if (want_db) {
        g[2] = kernels::conv2d_backward_bias(dy);
    }
    return g;
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

// y = x (*) k + b, with options.activation applied as each output is written.
Var conv2d(const Var& x, const Var& k, const Var& b, const Conv2dOptions& options,
           SourceLocation where) {
    checks::require_float(op, "x", x);
    checks::require_same_dtype(op, "k", k, "x", x);
    if (b.defined()) checks::require_same_dtype(op, "b", b, "x", x);
    const Window2d w = conv2d_window(x.shape(), k.shape(), options);
    if (b.defined() && (b.rank() != 1 || b.size(0) != k.size(3)))
        fail(op, "bias length differs from kernel output channels: b is {}, k is {}", b.shape(),
             k.shape());
    checks::require_allocatable(op, "the output", w.output_shape(k.size(3)), x.dtype());

    const bool has_bias = b.defined();
    Tensor y = kernels::conv2d_forward(x.value(), k.value(), has_bias ? b.value() : Tensor{}, w,
                                       options.activation);
    // Keep only what the wanted gradients read: dk needs x, dx needs k.
    Tensor saved_x = k.requires_grad() ? x.value() : Tensor{};
    Tensor saved_k = x.requires_grad() ? k.value() : Tensor{};
    if (options.activation == Activation::relu) {
        // y = max(z, 0): dz = dy * [y > 0], then the convolution's gradients of dz.
        auto backward = [saved_x, saved_k, w, has_bias, y](const Grads& dy,
                                                           const Needed& needed) -> Grads {
            return conv2d_gradients(kernels::relu_backward(y, dy[0]), saved_x, saved_k, w, has_bias,
                                    needed);
        };
        if (has_bias) return record("conv2d_relu", where, y, {x, k, b}, std::move(backward));
        return record("conv2d_relu", where, y, {x, k}, std::move(backward));
    }
    auto backward = [saved_x, saved_k, w, has_bias](const Grads& dy,
                                                    const Needed& needed) -> Grads {
        return conv2d_gradients(dy[0], saved_x, saved_k, w, has_bias, needed);
    };
    if (has_bias) return record(op, where, y, {x, k, b}, std::move(backward));
    return record(op, where, y, {x, k}, std::move(backward));
}

}  // namespace nalgrad
