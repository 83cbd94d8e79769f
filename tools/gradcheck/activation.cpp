#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

std::vector<Case> activation_cases() {
    Generator gen(11);
    std::vector<Case> cases;
    for (Shape shape : {Shape{7}, Shape{3, 4}, Shape{2, 3, 3, 2}}) {
        // Values away from the kink at 0, where central differences are meaningless.
        Tensor x = normal(shape, f64, gen);
        for (int64_t i = 0; i < x.numel(); ++i) {
            double& v = x.data<double>()[i];
            if (std::abs(v) < 0.05) v = v < 0 ? -0.5 : 0.5;
        }
        cases.push_back({fmt::format("relu {}", shape),
                         {requires_grad(x)},
                         [](const std::vector<Var>& in) { return relu(in[0]); }});
    }
    return cases;
}

const Register activation{"relu", activation_cases};

}  // namespace
}  // namespace nalgrad::suite
