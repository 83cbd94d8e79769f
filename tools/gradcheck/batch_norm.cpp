#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

// Training and eval, with and without gamma and beta, over a few shapes. In training the output
// does not read the running statistics, so their update on each evaluation changes nothing
// checked; each call works on its own handles to the case's running tensors.
std::vector<Case> batch_norm_cases(Activation activation) {
    Generator gen(activation == Activation::relu ? 52 : 51);
    std::vector<Case> cases;
    for (const Shape& x : {Shape{2, 3, 3, 4}, Shape{1, 2, 5, 3}, Shape{4, 1, 1, 2}})
        for (const bool training : {true, false})
            for (const bool affine : {true, false}) {
                const int64_t c = x[3];
                const Tensor mean = uniform({c}, -0.5, 0.5, f64, gen);
                const Tensor var = uniform({c}, 0.5, 2, f64, gen);
                const BatchNorm2dOptions options{.training = training, .activation = activation};
                std::vector<Var> inputs{random_input(x, gen)};
                if (affine) {
                    inputs.push_back(requires_grad(uniform({c}, 0.5, 2, f64, gen)));
                    inputs.push_back(requires_grad(uniform({c}, -0.5, 0.5, f64, gen)));
                }
                cases.push_back({fmt::format("x {}, {}, {}", x, training ? "training" : "eval",
                                             affine ? "gamma and beta" : "no affine"),
                                 std::move(inputs),
                                 [mean, var, options, affine](const std::vector<Var>& in) {
                                     Tensor m = mean, v = var;
                                     if (!affine)
                                         return batch_norm2d(in[0], Var{}, Var{}, m, v, options);
                                     return batch_norm2d(in[0], in[1], in[2], m, v, options);
                                 }});
            }
    return cases;
}

const Register batch_norm{"batch_norm2d", [] { return batch_norm_cases(Activation::none); }};
const Register batch_norm_relu{"batch_norm2d_relu",
                               [] { return batch_norm_cases(Activation::relu); }};

}  // namespace
}  // namespace nalgrad::suite
