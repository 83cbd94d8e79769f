#include <fmt/ranges.h>

#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

using Reduction = Var (*)(const Var&, std::vector<int>, bool);

std::vector<Case> reduce_cases(Reduction op, Var (*over_all)(const Var&)) {
    Generator gen(41);
    std::vector<Case> cases;
    const std::vector<std::vector<int>> axes_cases = {{0}, {-1}, {1}, {0, 2}, {-3, -2}, {0, 1, 2}};
    for (const auto& axes : axes_cases)
        for (bool keepdims : {false, true})
            cases.push_back({fmt::format("x [2, 3, 4], axes {}, keepdims {}", axes, keepdims),
                             {random_input({2, 3, 4}, gen)},
                             [op, axes, keepdims](const std::vector<Var>& in) {
                                 return op(in[0], axes, keepdims);
                             }});
    cases.push_back({"x [3, 1, 2], all",
                     {random_input({3, 1, 2}, gen)},
                     [over_all](const std::vector<Var>& in) { return over_all(in[0]); }});
    return cases;
}

const Register sum_family{
    "sum", [] {
        return reduce_cases([](const Var& x, std::vector<int> a, bool k) { return sum(x, a, k); },
                            [](const Var& x) { return sum(x); });
    }};
const Register mean_family{
    "mean", [] {
        return reduce_cases([](const Var& x, std::vector<int> a, bool k) { return mean(x, a, k); },
                            [](const Var& x) { return mean(x); });
    }};

}  // namespace
}  // namespace nalgrad::suite
