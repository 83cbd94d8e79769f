// RMSprop, as torch.optim.RMSprop (PyTorch 1.13), per element:
//   g += weight_decay * p
//   s = alpha * s + (1 - alpha) * g * g
//   centered:  a = alpha * a + (1 - alpha) * g;  avg = sqrt(s - a * a) + eps
//   otherwise: avg = sqrt(s) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p -= lr * buf
//   otherwise:    p -= lr * g / avg
// State: "square_avg" (s), "momentum_buffer" (when momentum > 0), "grad_avg" (a, when centered);
// all start at zero.
#pragma once
#include "optim/optimizer.hpp"

namespace nalgrad::optim {

struct RMSpropOptions {
    double lr = 1e-2;
    double alpha = 0.99;
    double eps = 1e-8;
    double weight_decay = 0;
    double momentum = 0;
    bool centered = false;
};

class RMSprop : public Optimizer {
  public:
    explicit RMSprop(ParameterList parameters, const RMSpropOptions& options = {});
    // Each group's lr and weight_decay, where set, in place of the options'.
    explicit RMSprop(std::vector<ParameterGroup> groups, const RMSpropOptions& options = {});
    const RMSpropOptions& options() const { return options_; }

  private:
    void update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                double weight_decay) override;
    RMSpropOptions options_;
};

}  // namespace nalgrad::optim
