#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

std::vector<Case> softmax_cases(Var (*op)(const Var&)) {
    Generator gen(51);
    std::vector<Case> cases;
    for (Shape shape : {Shape{3, 5}, Shape{2, 2, 4}, Shape{6}})
        cases.push_back({fmt::format("x {}", shape),
                         {random_input(shape, gen)},
                         [op](const std::vector<Var>& in) { return op(in[0]); }});
    return cases;
}

std::vector<Case> cross_entropy_cases() {
    Generator gen(52);
    std::vector<Case> cases;
    for (auto [mb, classes] : {std::pair<int64_t, int64_t>{4, 5}, {1, 3}, {6, 2}}) {
        Tensor labels({mb}, i64);
        for (int64_t i = 0; i < mb; ++i)
            labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(classes));
        cases.push_back({fmt::format("logits [{}, {}]", mb, classes),
                         {random_input({mb, classes}, gen)},
                         [labels](const std::vector<Var>& in) {
                             return softmax_cross_entropy(in[0], labels);
                         }});
    }
    return cases;
}

std::vector<Case> pair_cases(Var (*op)(const Var&, const Var&)) {
    Generator gen(53);
    std::vector<Case> cases;
    for (Shape shape : {Shape{5}, Shape{2, 3}}) {
        Tensor targets = uniform(shape, f64, gen);  // in [0, 1), as probabilities
        cases.push_back({fmt::format("{}", shape),
                         {random_input(shape, gen), requires_grad(targets)},
                         [op](const std::vector<Var>& in) { return op(in[0], in[1]); }});
    }
    return cases;
}

const Register softmax_family{
    "softmax", [] { return softmax_cases([](const Var& x) { return softmax(x); }); }};
const Register log_softmax_family{
    "log_softmax", [] { return softmax_cases([](const Var& x) { return log_softmax(x); }); }};
const Register cross_entropy_family{"softmax_cross_entropy", cross_entropy_cases};
const Register mse_family{
    "mse", [] { return pair_cases([](const Var& p, const Var& t) { return mse(p, t); }); }};
const Register sigmoid_ce_family{
    "sigmoid_cross_entropy", [] {
        return pair_cases([](const Var& z, const Var& t) { return sigmoid_cross_entropy(z, t); });
    }};

}  // namespace
}  // namespace nalgrad::suite
