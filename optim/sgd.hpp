// Stochastic gradient descent with momentum, as torch.optim.SGD (PyTorch 1.13), per element:
//   d = g + weight_decay * p
//   momentum != 0:  buf = d on the parameter's first update, else momentum * buf + (1 - dampening)
//   * d
//                   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// State: "momentum_buffer" (when momentum != 0).
#pragma once
#include "optim/optimizer.hpp"

namespace nalgrad::optim {

struct SGDOptions {
    double lr = 1e-3;  // PyTorch 1.13 requires it; 1e-3 is PyTorch 2's default
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;  // needs momentum > 0 and dampening 0
};

class SGD : public Optimizer {
  public:
    explicit SGD(ParameterList parameters, const SGDOptions& options = {});
    // Each group's lr and weight_decay, where set, in place of the options'.
    explicit SGD(std::vector<ParameterGroup> groups, const SGDOptions& options = {});
    const SGDOptions& options() const { return options_; }

  private:
    void update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                double weight_decay) override;
    SGDOptions options_;
};

}  // namespace nalgrad::optim
