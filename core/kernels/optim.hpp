// Fused optimizer updates: one pass over a parameter tensor reads the gradient and the state and
// writes the parameter and the state in place, with no temporaries (PyTorch 1.13's single-tensor
// formulas, written out in optim/*.hpp). TBB-parallel over the elements, float and double; all
// tensors of one call share the parameter's dtype and shape (the caller checks).
#pragma once
#include <cstdint>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// Sets every element to zero in place (zero_grad without reallocating).
void fill_zero(const Tensor& t);

struct SgdCoefficients {
    double lr = 0;
    double momentum = 0;  // 0: `momentum_buffer` is undefined and unused
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;
    bool first_step = false;  // the buffer is uninitialised and receives the first direction
};
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdCoefficients& c);

struct AdamCoefficients {
    double lr = 0;
    double beta1 = 0;
    double beta2 = 0;
    double eps = 0;
    double weight_decay = 0;
    bool decoupled_weight_decay = false;  // AdamW: p *= 1 - lr * wd, instead of g += wd * p
    int64_t step = 1;                     // this update's count, from 1, for the bias corrections
};
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamCoefficients& c);

struct RmspropCoefficients {
    double lr = 0;
    double alpha = 0;
    double eps = 0;
    double weight_decay = 0;
    double momentum = 0;    // 0: `momentum_buffer` is undefined and unused
    bool centered = false;  // false: `grad_avg` is undefined and unused
};
void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                    const Tensor& grad_avg, const Tensor& momentum_buffer,
                    const RmspropCoefficients& c);

}  // namespace nalgrad::kernels
