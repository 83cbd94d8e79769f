#include <array>

#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

// Which inputs require a gradient, as a bit mask: every input alone, then all together.
std::vector<int> masks(int inputs) {
    std::vector<int> m;
    for (int i = 0; i < inputs; ++i) m.push_back(1 << i);
    m.push_back((1 << inputs) - 1);
    return m;
}

std::string checked(const std::vector<Var>& inputs, const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad()) s += (s.empty() ? "" : ", ") + names[i];
    return "d/d " + s;
}

std::vector<Case> matmul_cases() {
    Generator gen(21);
    std::vector<Case> cases;
    for (auto [m, k, n] : {std::array<int64_t, 3>{3, 4, 5}, {1, 6, 1}, {7, 1, 3}, {1, 1, 1}}) {
        const Tensor a = normal({m, k}, f64, gen), b = normal({k, n}, f64, gen);
        for (int mask : masks(2)) {
            std::vector<Var> in{Var(a, (mask & 1) != 0), Var(b, (mask & 2) != 0)};
            cases.push_back(
                {fmt::format("a [{}, {}] b [{}, {}], {}", m, k, k, n, checked(in, {"a", "b"})), in,
                 [](const std::vector<Var>& v) { return matmul(v[0], v[1]); }});
        }
    }
    return cases;
}

std::vector<Case> dense_cases() {
    Generator gen(22);
    std::vector<Case> cases;
    for (auto [mb, in, out] : {std::array<int64_t, 3>{3, 4, 5}, {1, 7, 2}, {5, 3, 1}}) {
        const Tensor x = normal({mb, in}, f64, gen), w = normal({in, out}, f64, gen);
        const Tensor b = normal({out}, f64, gen);
        for (int mask : masks(3)) {
            std::vector<Var> v{Var(x, (mask & 1) != 0), Var(w, (mask & 2) != 0),
                               Var(b, (mask & 4) != 0)};
            cases.push_back({fmt::format("x [{}, {}] w [{}, {}] b [{}], {}", mb, in, in, out, out,
                                         checked(v, {"x", "w", "b"})),
                             v, [](const std::vector<Var>& p) { return dense(p[0], p[1], p[2]); }});
        }
        for (int mask : masks(2)) {
            std::vector<Var> v{Var(x, (mask & 1) != 0), Var(w, (mask & 2) != 0)};
            cases.push_back({fmt::format("x [{}, {}] w [{}, {}] no bias, {}", mb, in, in, out,
                                         checked(v, {"x", "w"})),
                             v, [](const std::vector<Var>& p) { return dense(p[0], p[1]); }});
        }
    }
    return cases;
}

const Register matmul_family{"matmul", matmul_cases};
const Register dense_family{"dense", dense_cases};

}  // namespace
}  // namespace nalgrad::suite
