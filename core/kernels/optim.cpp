#include "core/kernels/optim.hpp"

#include <cmath>

#include "core/runtime.hpp"

#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
#define NALGRAD_HAS_MXCSR 1
#endif

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

namespace {

// Optimizer state decays geometrically where a gradient stays zero (Adam's first moment by beta1
// each step: the dead units of the example's first dense layer reach float32's subnormal range
// after about 800 steps, 46% of that layer's state after two epochs), and x86 computes on
// subnormals many times slower: the example's second epoch ran at half the speed of the first.
// The update loops therefore run with subnormals flushed to zero (MXCSR FTZ and DAZ), on each
// worker, for their own duration only; a state below 1.2e-38 moves no parameter.
class FlushSubnormals {
  public:
#if NALGRAD_HAS_MXCSR
    FlushSubnormals() : saved_(_mm_getcsr()) {
        _mm_setcsr(saved_ | flush_to_zero | inputs_as_zero);
    }
    ~FlushSubnormals() {
        _mm_setcsr(saved_);
    }

  private:
    static constexpr unsigned flush_to_zero = 0x8000, inputs_as_zero = 0x0040;
    unsigned saved_;
#endif
};

// The loops below take their pointers and coefficients as function parameters: captured by
// reference in a lambda, a coefficient of type T may alias the parameter array being written, so
// the compiler reloads it every element and does not vectorise (the SGD update measured 2.4-7 ms
// for 1.6M float32 parameters that way; as plain parameters it is a vectorised stream).

template <typename T, bool nesterov>
void sgd_span(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n, T lr, T wd,
              T momentum, T keep, bool first) {
    for (int64_t i = 0; i < n; ++i) {
        const T d = g[i] + wd * p[i];
        const T v = first ? d : momentum * buf[i] + keep * d;
        buf[i] = v;
        p[i] -= lr * (nesterov ? d + momentum * v : v);
    }
}

template <typename T>
void sgd_span_plain(T* __restrict p, const T* __restrict g, int64_t n, T lr, T wd) {
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
}

template <typename T>
void adam_span(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
               const AdamCoefficients& c) {
    const double correction1 = 1 - std::pow(c.beta1, static_cast<double>(c.step));
    const double correction2 = 1 - std::pow(c.beta2, static_cast<double>(c.step));
    const T step_size = T(c.lr / correction1);
    const T correction2_sqrt = T(std::sqrt(correction2));
    const T beta1 = T(c.beta1), beta2 = T(c.beta2), eps = T(c.eps);
    const T one_minus_beta1 = T(1 - c.beta1), one_minus_beta2 = T(1 - c.beta2);
    const T l2 = c.decoupled_weight_decay ? T(0) : T(c.weight_decay);
    const T shrink = c.decoupled_weight_decay ? T(1 - c.lr * c.weight_decay) : T(1);
    for (int64_t i = 0; i < n; ++i) {
        const T pi = p[i] * shrink;
        const T gi = g[i] + l2 * p[i];
        const T mi = beta1 * m[i] + one_minus_beta1 * gi;
        const T vi = beta2 * v[i] + one_minus_beta2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (std::sqrt(vi) / correction2_sqrt + eps));
    }
}

template <typename T>
void rmsprop_span(T* __restrict p, const T* __restrict g, T* __restrict sq, T* __restrict mean,
                  T* __restrict buf, int64_t n, const RmspropCoefficients& c) {
    const T lr = T(c.lr), alpha = T(c.alpha), one_minus_alpha = T(1 - c.alpha);
    const T eps = T(c.eps), wd = T(c.weight_decay), momentum = T(c.momentum);
    const bool centered = c.centered, use_momentum = c.momentum > 0;
    for (int64_t i = 0; i < n; ++i) {
        const T gi = g[i] + wd * p[i];
        const T si = alpha * sq[i] + one_minus_alpha * (gi * gi);
        sq[i] = si;
        T variance = si;
        if (centered) {
            const T mi = alpha * mean[i] + one_minus_alpha * gi;
            mean[i] = mi;
            variance -= mi * mi;
        }
        const T avg = std::sqrt(variance) + eps;
        if (use_momentum) {
            const T bi = momentum * buf[i] + gi / avg;
            buf[i] = bi;
            p[i] -= lr * bi;
        } else {
            p[i] -= lr * (gi / avg);
        }
    }
}

// Offsets a possibly null state pointer to a chunk.
template <typename T>
T* at(T* base, int64_t offset) {
    return base ? base + offset : nullptr;
}

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdCoefficients& c) {
    visit_float("SGD", param.dtype(), [&]<typename T>(T) {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* buf = data_or_null<T>(momentum_buffer);
        parallel_for(param.numel(), cheap, [&](int64_t begin, int64_t end) {
            const FlushSubnormals flush;
            const int64_t n = end - begin;
            const T lr = T(c.lr), wd = T(c.weight_decay), momentum = T(c.momentum);
            const T keep = T(1 - c.dampening);
            if (c.momentum == 0)
                sgd_span_plain<T>(p + begin, g + begin, n, lr, wd);
            else if (c.nesterov)
                sgd_span<T, true>(p + begin, g + begin, buf + begin, n, lr, wd, momentum, keep,
                                  c.first_step);
            else
                sgd_span<T, false>(p + begin, g + begin, buf + begin, n, lr, wd, momentum, keep,
                                   c.first_step);
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
        parallel_for(param.numel(), with_sqrt, [&](int64_t begin, int64_t end) {
            const FlushSubnormals flush;
            adam_span<T>(p + begin, g + begin, m + begin, v + begin, end - begin, c);
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
        parallel_for(param.numel(), with_sqrt, [&](int64_t begin, int64_t end) {
            const FlushSubnormals flush;
            rmsprop_span<T>(p + begin, g + begin, sq + begin, at(mean, begin), at(buf, begin),
                            end - begin, c);
        });
    });
}

}  // namespace nalgrad::kernels
