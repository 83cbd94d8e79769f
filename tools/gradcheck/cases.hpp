// The gradient-check suite's configurations: each op family registers a generator of cases.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::suite {

struct Case {
    std::string name;         // the configuration, e.g. "x [2, 7, 7, 3], k 3x3, stride 2, same"
    std::vector<Var> inputs;  // float64 leaves; those with requires_grad are checked
    GradcheckFn fn;
    GradcheckOptions options{};
};

struct Family {
    std::string name;  // "conv2d"
    std::function<std::vector<Case>()> cases;
};

std::vector<Family>& registry();

// At namespace scope in a family's file: `const Register conv{"conv2d", make_cases};`
struct Register {
    Register(std::string name, std::function<std::vector<Case>()> cases) {
        registry().push_back({std::move(name), std::move(cases)});
    }
};

// A float64 leaf of the given shape with values drawn from gen (normal), requiring a gradient.
inline Var random_input(Shape shape, Generator& gen) {
    return requires_grad(normal(shape, f64, gen));
}

}  // namespace nalgrad::suite
