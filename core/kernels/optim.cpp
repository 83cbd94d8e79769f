#include "core/kernels/optim.hpp"

#include <cmath>
#include <cstring>

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

// Optimizer state decays geometrically where a gradient stays zero (Adam's first moment by beta1
// each step: the dead units of the example's first dense layer reach float32's subnormal range
// after about 800 steps, 46% of that layer's state after two epochs), and x86 computes on
// subnormals many times slower: unflushed, the example's second epoch runs at half the speed of
// the first.
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
// the compiler reloads it every element and does not vectorise (the SGD update takes 2.4-7 ms
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
               const AdamCoefficients& c, int64_t step) {
    const double correction1 = 1 - std::pow(c.beta1, static_cast<double>(step));
    const double correction2 = 1 - std::pow(c.beta2, static_cast<double>(step));
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

// Calls body(parameter, p, g, state, n) with typed pointers to a part [begin, end) of one
// parameter's elements (state: the parameter's buffers, offset alike), for parts covering every
// element of every parameter, from one parallel loop over all of them. Subnormals are flushed
// while a part runs.
template <typename Body>
void for_each_part(std::string_view op, std::span<const ParameterUpdate> parameters, int64_t cost,
                   int state_count, Body&& body) {
    parallel_for_parts(
        parameters.size(), [&](std::size_t i) { return parameters[i].param->numel(); }, cost,
        [&](std::size_t i, int64_t begin, int64_t end) {
            const ParameterUpdate& u = parameters[i];
            const FlushSubnormals flush;
            visit_float(op, u.param->dtype(), [&]<typename T>(T) {
                constexpr int max_state = 3;
                T* state[max_state] = {};
                for (int s = 0; s < state_count && s < max_state; ++s)
                    state[s] = u.state[s].template data<T>() + begin;
                body(u, u.param->data<T>() + begin, u.grad->data<T>() + begin, state, end - begin);
            });
        });
}

}  // namespace

void fill_zero(std::span<const Tensor* const> tensors) {
    // All bits zero is +0 in float and double alike.
    parallel_for_parts(
        tensors.size(), [&](std::size_t i) { return tensors[i]->numel(); }, 1,
        [&](std::size_t i, int64_t begin, int64_t end) {
            const auto size = static_cast<int64_t>(dtype_size(tensors[i]->dtype()));
            std::memset(static_cast<char*>(tensors[i]->raw()) + begin * size, 0,
                        static_cast<std::size_t>((end - begin) * size));
        });
}

void sgd_update(std::span<const ParameterUpdate> parameters, const SgdCoefficients& c) {
    for_each_part(
        "SGD", parameters, cheap, c.momentum != 0 ? 1 : 0,
        [&]<typename T>(const ParameterUpdate& u, T* p, const T* g, T* const* state, int64_t n) {
            const T lr = T(c.lr), wd = T(c.weight_decay), momentum = T(c.momentum);
            const T keep = T(1 - c.dampening);
            const bool first = u.step == 1;
            if (c.momentum == 0)
                sgd_span_plain<T>(p, g, n, lr, wd);
            else if (c.nesterov)
                sgd_span<T, true>(p, g, state[0], n, lr, wd, momentum, keep, first);
            else
                sgd_span<T, false>(p, g, state[0], n, lr, wd, momentum, keep, first);
        });
}

void adam_update(std::span<const ParameterUpdate> parameters, const AdamCoefficients& c) {
    for_each_part(
        "Adam", parameters, with_sqrt, 2,
        [&]<typename T>(const ParameterUpdate& u, T* p, const T* g, T* const* state, int64_t n) {
            adam_span<T>(p, g, state[0], state[1], n, c, u.step);
        });
}

void rmsprop_update(std::span<const ParameterUpdate> parameters, const RmspropCoefficients& c) {
    const bool momentum = c.momentum > 0;
    const int state_count = 1 + (momentum ? 1 : 0) + (c.centered ? 1 : 0);
    for_each_part(
        "RMSprop", parameters, with_sqrt, state_count,
        [&]<typename T>(const ParameterUpdate&, T* p, const T* g, T* const* state, int64_t n) {
            T* buf = momentum ? state[1] : nullptr;
            T* mean = c.centered ? state[momentum ? 2 : 1] : nullptr;
            rmsprop_span<T>(p, g, state[0], mean, buf, n, c);
        });
}

}  // namespace nalgrad::kernels
