#include "optim/sgd.hpp"

#include "core/kernels/optim.hpp"

namespace nalgrad::optim {

SGD::SGD(ParameterList parameters, const SGDOptions& options)
    : SGD(std::vector<ParameterGroup>{{.parameters = std::move(parameters)}}, options) {}

SGD::SGD(std::vector<ParameterGroup> groups, const SGDOptions& options)
    : Optimizer("SGD", std::move(groups), options.lr, options.weight_decay,
                options.momentum != 0 ? std::vector<std::string>{"momentum_buffer"}
                                      : std::vector<std::string>{}),
      options_(options) {
    check_option(options.momentum >= 0, "momentum must be >= 0", options.momentum);
    check_option(options.dampening >= 0 && options.dampening <= 1, "dampening must be in [0, 1]",
                 options.dampening);
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
        fail(name(),
             "nesterov needs momentum > 0 and dampening 0, got momentum {} and dampening {}",
             options.momentum, options.dampening);
}

void SGD::update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                 double weight_decay) {
    kernels::sgd_update({parameters, count}, {.lr = lr,
                                              .momentum = options_.momentum,
                                              .dampening = options_.dampening,
                                              .weight_decay = weight_decay,
                                              .nesterov = options_.nesterov});
}

}  // namespace nalgrad::optim
