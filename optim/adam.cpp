#include "optim/adam.hpp"

#include "core/kernels/optim.hpp"

namespace nalgrad::optim {

Adam::Adam(ParameterList parameters, const AdamOptions& options)
    : Adam("Adam", std::move(parameters), options, false) {}

Adam::Adam(std::string_view name, ParameterList parameters, const AdamOptions& options,
           bool decoupled_weight_decay)
    : Optimizer(name, std::move(parameters), options.lr, {"exp_avg", "exp_avg_sq"}),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {
    const auto [beta1, beta2] = options.betas;
    check_option(beta1 >= 0 && beta1 < 1, "betas.first must be in [0, 1)", beta1);
    check_option(beta2 >= 0 && beta2 < 1, "betas.second must be in [0, 1)", beta2);
    check_option(options.eps >= 0, "eps must be >= 0", options.eps);
    check_option(options.weight_decay >= 0, "weight_decay must be >= 0", options.weight_decay);
}

void Adam::update(const kernels::ParameterUpdate* parameters, std::size_t count) {
    kernels::adam_update({parameters, count}, {.lr = lr(),
                                               .beta1 = options_.betas.first,
                                               .beta2 = options_.betas.second,
                                               .eps = options_.eps,
                                               .weight_decay = options_.weight_decay,
                                               .decoupled_weight_decay = decoupled_weight_decay_});
}

AdamW::AdamW(ParameterList parameters, const AdamWOptions& options)
    : Adam("AdamW", std::move(parameters),
           {.lr = options.lr,
            .betas = options.betas,
            .eps = options.eps,
            .weight_decay = options.weight_decay},
           true) {}

}  // namespace nalgrad::optim
