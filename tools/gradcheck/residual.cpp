#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

// A basic residual block as the example's ResNet builds it, every weight an input:
//   relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// the shortcut x itself, or a 1x1 stride-2 convolution with batch norm. Batch norm in training
// mode, so the gradients run through the batch statistics and the two paths meet at the add.
std::vector<Case> residual_cases() {
    Generator gen(61);
    std::vector<Case> cases;
    for (const bool project : {false, true}) {
        const int64_t c_in = 2, c_out = project ? 3 : 2, stride = project ? 2 : 1;
        std::vector<Var> in{random_input({2, 4, 4, c_in}, gen),
                            random_input({3, 3, c_in, c_out}, gen),
                            requires_grad(uniform({c_out}, 0.5, 2, f64, gen)),
                            random_input({c_out}, gen),
                            random_input({3, 3, c_out, c_out}, gen),
                            requires_grad(uniform({c_out}, 0.5, 2, f64, gen)),
                            random_input({c_out}, gen)};
        if (project) {
            in.push_back(random_input({1, 1, c_in, c_out}, gen));
            in.push_back(requires_grad(uniform({c_out}, 0.5, 2, f64, gen)));
            in.push_back(random_input({c_out}, gen));
        }
        cases.push_back(
            {project ? "x [2, 4, 4, 2], 2 -> 3 channels at stride 2, projection shortcut"
                     : "x [2, 4, 4, 2], 2 channels, identity shortcut",
             std::move(in), [stride, project, c_out](const std::vector<Var>& v) {
                 const Padding pad1{1, 1, 1, 1};
                 // Each evaluation updates its own running statistics: training mode reads none.
                 auto bn = [c_out](const Var& x, const Var& gamma, const Var& beta,
                                   Activation activation) {
                     Tensor mean = zeros({c_out}, f64), var = ones({c_out}, f64);
                     return batch_norm2d(x, gamma, beta, mean, var, {.activation = activation});
                 };
                 Var h = bn(conv2d(v[0], v[1], {}, {.stride = stride, .padding = pad1}), v[2], v[3],
                            Activation::relu);
                 h = bn(conv2d(h, v[4], {}, {.padding = pad1}), v[5], v[6], Activation::none);
                 Var shortcut = project ? bn(conv2d(v[0], v[7], {}, {.stride = stride}), v[8], v[9],
                                             Activation::none)
                                        : v[0];
                 return relu(h + shortcut);
             }});
    }
    return cases;
}

const Register residual{"residual_block", residual_cases};

}  // namespace
}  // namespace nalgrad::suite
