#include "core/kernels/optim.hpp"

#include <cmath>

#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// Per-element cost hints for parallel_for: a few flops, or a square root and a division.
constexpr int64_t cheap = 2;
constexpr int64_t with_sqrt = 8;

// Typed pointer to an optional tensor: null when undefined.
template <typename T>
T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void fill_zero(const Tensor& t) {
    visit_float("zero_grad", t.dtype(), [&]<typename T>(T) {
        T* x = t.data<T>();
        parallel_for(t.numel(), 1, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) x[i] = T(0);
        });
    });
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdCoefficients& c) {
    visit_float("SGD", param.dtype(), [&]<typename T>(T) {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* buf = data_or_null<T>(momentum_buffer);
        const T lr = T(c.lr), wd = T(c.weight_decay), momentum = T(c.momentum);
        const T keep = T(1 - c.dampening);
        const bool use_momentum = c.momentum != 0, first = c.first_step, nesterov = c.nesterov;
        parallel_for(param.numel(), cheap, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                T d = g[i] + wd * p[i];
                if (use_momentum) {
                    buf[i] = first ? d : momentum * buf[i] + keep * d;
                    d = nesterov ? d + momentum * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            }
        });
    });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamCoefficients& c) {
    visit_float("Adam", param.dtype(), [&]<typename T>(T) {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* m = exp_avg.data<T>();
        T* v = exp_avg_sq.data<T>();
        const double correction1 = 1 - std::pow(c.beta1, static_cast<double>(c.step));
        const double correction2 = 1 - std::pow(c.beta2, static_cast<double>(c.step));
        const T step_size = T(c.lr / correction1);
        const T correction2_sqrt = T(std::sqrt(correction2));
        const T beta1 = T(c.beta1), beta2 = T(c.beta2), eps = T(c.eps);
        const T one_minus_beta1 = T(1 - c.beta1), one_minus_beta2 = T(1 - c.beta2);
        const T l2 = c.decoupled_weight_decay ? T(0) : T(c.weight_decay);
        const T shrink = c.decoupled_weight_decay ? T(1 - c.lr * c.weight_decay) : T(1);
        parallel_for(param.numel(), with_sqrt, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const T pi = p[i] * shrink;
                const T gi = g[i] + l2 * p[i];
                m[i] = beta1 * m[i] + one_minus_beta1 * gi;
                v[i] = beta2 * v[i] + one_minus_beta2 * (gi * gi);
                const T denom = std::sqrt(v[i]) / correction2_sqrt + eps;
                p[i] = pi - step_size * (m[i] / denom);
            }
        });
    });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                    const Tensor& grad_avg, const Tensor& momentum_buffer,
                    const RmspropCoefficients& c) {
    visit_float("RMSprop", param.dtype(), [&]<typename T>(T) {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* sq = square_avg.data<T>();
        T* mean = data_or_null<T>(grad_avg);
        T* buf = data_or_null<T>(momentum_buffer);
        const T lr = T(c.lr), alpha = T(c.alpha), one_minus_alpha = T(1 - c.alpha);
        const T eps = T(c.eps), wd = T(c.weight_decay), momentum = T(c.momentum);
        const bool centered = c.centered, use_momentum = c.momentum > 0;
        parallel_for(param.numel(), with_sqrt, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const T gi = g[i] + wd * p[i];
                sq[i] = alpha * sq[i] + one_minus_alpha * (gi * gi);
                T variance = sq[i];
                if (centered) {
                    mean[i] = alpha * mean[i] + one_minus_alpha * gi;
                    variance -= mean[i] * mean[i];
                }
                const T avg = std::sqrt(variance) + eps;
                if (use_momentum) {
                    buf[i] = momentum * buf[i] + gi / avg;
                    p[i] -= lr * buf[i];
                } else {
                    p[i] -= lr * (gi / avg);
                }
            }
        });
    });
}

}  // namespace nalgrad::kernels
