#include "optim/rmsprop.hpp"

#include "core/kernels/optim.hpp"

namespace nalgrad::optim {
namespace {

// The buffers this configuration keeps, in the order update() reads them.
std::vector<std::string> rmsprop_buffers(const RMSpropOptions& options) {
    std::vector<std::string> names{"square_avg"};
    if (options.momentum > 0) names.push_back("momentum_buffer");
    if (options.centered) names.push_back("grad_avg");
    return names;
}

}  // namespace

RMSprop::RMSprop(ParameterList parameters, const RMSpropOptions& options)
    : RMSprop(std::vector<ParameterGroup>{{.parameters = std::move(parameters)}}, options) {}

RMSprop::RMSprop(std::vector<ParameterGroup> groups, const RMSpropOptions& options)
    : Optimizer("RMSprop", std::move(groups), options.lr, options.weight_decay,
                rmsprop_buffers(options)),
      options_(options) {
    check_option(options.alpha >= 0, "alpha must be >= 0", options.alpha);
    check_option(options.eps >= 0, "eps must be >= 0", options.eps);
    check_option(options.momentum >= 0, "momentum must be >= 0", options.momentum);
}

void RMSprop::update(const kernels::ParameterUpdate* parameters, std::size_t count, double lr,
                     double weight_decay) {
    kernels::rmsprop_update({parameters, count}, {.lr = lr,
                                                  .alpha = options_.alpha,
                                                  .eps = options_.eps,
                                                  .weight_decay = weight_decay,
                                                  .momentum = options_.momentum,
                                                  .centered = options_.centered});
}

}  // namespace nalgrad::optim
