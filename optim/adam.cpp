#include "optim/adam.hpp"

#include "core/kernels/optim.hpp"

namespace nalgrad::optim {

namespace {

std::vector<ParameterGroup> one_group(ParameterList parameters) {
    return {{.parameters = std::move(parameters)}};
}

AdamOptions adam_options(const AdamWOptions& options) {
    return {.lr = options.lr,
            .betas = options.betas,
            .eps = options.eps,
            .weight_decay = options.weight_decay};
}

}  // namespace

Adam::Adam(ParameterList parameters, const AdamOptions& options)
    : Adam("Adam", one_group(std::move(parameters)), options, false) {}

Adam::Adam(std::vector<ParameterGroup> groups, const AdamOptions& options)
    : Adam("Adam", std::move(groups), options, false) {}

Adam::Adam(std::string_view name, std::vector<ParameterGroup> groups, const AdamOptions& options,
           bool decoupled_weight_decay)
    : Optimizer(name, std::move(groups), options.lr, options.weight_decay,
                {"exp_avg", "exp_avg_sq"}),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {
    const auto [beta1, beta2] = options.betas;
    check_option(beta1 >= 0 && beta1 < 1, "betas.first must be in [0, 1)", beta1);
    check_option(beta2 >= 0 && beta2 < 1, "betas.second must be in [0, 1)", beta2);
    check_option(options.eps >= 0, "eps must be >= 0", options.eps);
}

void Adam::update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                  double weight_decay) {
    kernels::adam_update({parameters, count}, {.lr = lr,
                                               .beta1 = options_.betas.first,
                                               .beta2 = options_.betas.second,
                                               .eps = options_.eps,
                                               .weight_decay = weight_decay,
                                               .decoupled_weight_decay = decoupled_weight_decay_});
}

AdamW::AdamW(ParameterList parameters, const AdamWOptions& options)
    : Adam("AdamW", one_group(std::move(parameters)), adam_options(options), true) {}

AdamW::AdamW(std::vector<ParameterGroup> groups, const AdamWOptions& options)
    : Adam("AdamW", std::move(groups), adam_options(options), true) {}

}  // namespace nalgrad::optim
