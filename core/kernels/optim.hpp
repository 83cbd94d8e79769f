// Fused optimizer updates: one pass reads each parameter's gradient and state and writes the
// parameter and the state in place, with no temporaries (PyTorch 1.13's single-tensor formulas,
// written out in optim/*.hpp). One call updates all the parameters of an optimizer step as one
// TBB-parallel loop over their elements together: one parallel region per step however many
// parameters there are, and parameters too small for a parallel loop of their own share tasks
// instead of running one after another on the calling thread. float and double, mixed freely.
#pragma once
#include <cstdint>
#include <span>

#include "core/tensor.hpp"

namespace nalgrad::kernels {

// Sets every element of each tensor to zero in place (zero_grad without reallocating).
void fill_zero(std::span<const Tensor* const> tensors);

// One parameter of an update. The gradient and the state buffers have the parameter's dtype and
// shape (the caller checks); `state` points to the first of the buffers, in the order each update
// below names. `step` counts this update of the parameter, from 1: before the first, the buffers
// are zeros.
struct ParameterUpdate {
    const Tensor* param = nullptr;
    const Tensor* grad = nullptr;
    const Tensor* state = nullptr;
    int64_t step = 1;
};

struct SgdCoefficients {
    double lr = 0;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;
};
// State: {momentum_buffer} when momentum > 0, else none. At step 1 the buffer receives the
// first direction.
void sgd_update(std::span<const ParameterUpdate> parameters, const SgdCoefficients& c);

struct AdamCoefficients {
    double lr = 0;
    double beta1 = 0;
    double beta2 = 0;
    double eps = 0;
    double weight_decay = 0;
    bool decoupled_weight_decay = false;  // AdamW: p *= 1 - lr * wd, instead of g += wd * p
};
// State: {exp_avg, exp_avg_sq}; each parameter's step sets its bias corrections.
void adam_update(std::span<const ParameterUpdate> parameters, const AdamCoefficients& c);

struct RmspropCoefficients {
    double lr = 0;
    double alpha = 0;
    double eps = 0;
    double weight_decay = 0;
    double momentum = 0;
    bool centered = false;
};
// State: {square_avg, then momentum_buffer when momentum > 0, then grad_avg when centered}.
void rmsprop_update(std::span<const ParameterUpdate> parameters, const RmspropCoefficients& c);

}  // namespace nalgrad::kernels
