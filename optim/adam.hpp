// Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW (PyTorch 1.13, amsgrad off), per
// element, with t the parameter's update count from 1:
//   Adam:  g += weight_decay * p                  (L2 penalty folded into the gradient)
//   AdamW: p *= 1 - lr * weight_decay             (decoupled decay, before the update)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// State: "exp_avg" (m), "exp_avg_sq" (v).
#pragma once
#include <utility>

#include "optim/optimizer.hpp"

namespace nalgrad::optim {

struct AdamOptions {
    double lr = 1e-3;
    std::pair<double, double> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 0;
};

struct AdamWOptions {
    double lr = 1e-3;
    std::pair<double, double> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 1e-2;  // PyTorch's AdamW default
};

class Adam : public Optimizer {
  public:
    explicit Adam(ParameterList parameters, const AdamOptions& options = {});
    // Each group's lr and weight_decay, where set, in place of the options'.
    explicit Adam(std::vector<ParameterGroup> groups, const AdamOptions& options = {});
    const AdamOptions& options() const { return options_; }

  protected:
    Adam(std::string_view name, std::vector<ParameterGroup> groups, const AdamOptions& options,
         bool decoupled_weight_decay);

  private:
    void update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                double weight_decay) override;
    AdamOptions options_;
    bool decoupled_weight_decay_;
};

class AdamW : public Adam {
  public:
    explicit AdamW(ParameterList parameters, const AdamWOptions& options = {});
    // Each group's lr and weight_decay, where set, in place of the options'.
    explicit AdamW(std::vector<ParameterGroup> groups, const AdamWOptions& options = {});
};

}  // namespace nalgrad::optim
