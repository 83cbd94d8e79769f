#include <cmath>

#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

using Binary = Var (*)(const Var&, const Var&);
using Unary = Var (*)(const Var&);

// |x| + 0.2: inputs inside the domain of log, sqrt and fractional powers, away from 0.
Var positive_input(Shape shape, Generator& gen) {
    Tensor x = normal(shape, f64, gen);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = std::abs(x.at(i)) + 0.2;
    return requires_grad(x);
}

// Every broadcasting pattern: equal, trailing-aligned, size-1 on both sides, rank-0 scalars.
// b is positive so that division is well conditioned; with only b checked, the other
// operand's value still flows into b's gradient.
std::vector<Case> binary_cases(Binary op) {
    Generator gen(31);
    std::vector<Case> cases;
    const std::pair<Shape, Shape> shapes[] = {{{2, 3}, {2, 3}},    {{2, 3}, {3}}, {{3}, {2, 3}},
                                              {{2, 1}, {1, 3}},    {{2, 3}, {}},  {{}, {2, 3}},
                                              {{4, 1, 3}, {2, 1}}, {{1}, {2, 2}}};
    for (const auto& [sa, sb] : shapes) {
        Var a = random_input(sa, gen), b = positive_input(sb, gen);
        auto fn = [op](const std::vector<Var>& in) { return op(in[0], in[1]); };
        cases.push_back({fmt::format("a {} b {}", sa, sb), {a, b}, fn});
        cases.push_back({fmt::format("a {} b {}, d/d b only", sa, sb),
                         {Var(a.value()), Var(b.value(), true)},
                         fn});
    }
    return cases;
}

std::vector<Case> unary_cases(Unary op, bool positive) {
    Generator gen(32);
    std::vector<Case> cases;
    for (Shape shape : {Shape{7}, Shape{3, 4}, Shape{}})
        cases.push_back({fmt::format("x {}", shape),
                         {positive ? positive_input(shape, gen) : random_input(shape, gen)},
                         [op](const std::vector<Var>& in) { return op(in[0]); }});
    return cases;
}

std::vector<Case> scalar_cases() {
    Generator gen(33);
    std::vector<Case> cases;
    const std::pair<const char*, Unary> forms[] = {{"x + 3", [](const Var& x) { return x + 3.0; }},
                                                   {"3 - x", [](const Var& x) { return 3.0 - x; }},
                                                   {"x * 3", [](const Var& x) { return x * 3.0; }},
                                                   {"3 / x", [](const Var& x) { return 3.0 / x; }},
                                                   {"-x", [](const Var& x) { return -x; }}};
    for (const auto& [name, op] : forms)
        cases.push_back({fmt::format("{}, x [2, 3]", name),
                         {positive_input({2, 3}, gen)},
                         [op](const std::vector<Var>& in) { return op(in[0]); }});
    return cases;
}

const Register add_family{
    "add", [] { return binary_cases([](const Var& a, const Var& b) { return a + b; }); }};
const Register sub_family{
    "sub", [] { return binary_cases([](const Var& a, const Var& b) { return a - b; }); }};
const Register mul_family{
    "mul", [] { return binary_cases([](const Var& a, const Var& b) { return a * b; }); }};
const Register div_family{
    "div", [] { return binary_cases([](const Var& a, const Var& b) { return a / b; }); }};
const Register scalar_family{"scalar", scalar_cases};
const Register exp_family{"exp",
                          [] { return unary_cases([](const Var& x) { return exp(x); }, false); }};
const Register log_family{"log",
                          [] { return unary_cases([](const Var& x) { return log(x); }, true); }};
const Register sqrt_family{"sqrt",
                           [] { return unary_cases([](const Var& x) { return sqrt(x); }, true); }};
const Register pow_family{
    "pow", [] {
        std::vector<Case> cases = unary_cases([](const Var& x) { return pow(x, 3); }, false);
        for (Case& c : unary_cases([](const Var& x) { return pow(x, -1.5); }, true)) {
            c.name += ", exponent -1.5";
            cases.push_back(std::move(c));
        }
        return cases;
    }};
const Register sigmoid_family{
    "sigmoid", [] { return unary_cases([](const Var& x) { return sigmoid(x); }, false); }};
const Register tanh_family{"tanh",
                           [] { return unary_cases([](const Var& x) { return tanh(x); }, false); }};

}  // namespace
}  // namespace nalgrad::suite
