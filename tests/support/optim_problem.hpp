// The optimizer tests' problem: PyTorch's reference tensors, quadratics, optimizer configurations.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"
#include "tests/support/reference.hpp"

namespace nalgrad::testing::optim_problem {

// Largest |actual - expected| / max(1, |expected|) over the elements.
inline double max_rel_diff(const Tensor& actual, const Tensor& expected) {
    double worst = 0;
    for (int64_t i = 0; i < expected.numel(); ++i)
        worst = std::max(worst, std::abs(actual.at(i) - expected.at(i)) /
                                    std::max(1.0, std::abs(expected.at(i))));
    return worst;
}

inline const std::map<std::string, Tensor>& reference() {
    static const auto tensors = testing::load_reference(NALGRAD_TEST_DATA "/optim_reference.txt");
    return tensors;
}
inline const Tensor& expected_tensor(const std::string& name) {
    auto it = reference().find(name);
    if (it == reference().end()) throw Error("no reference tensor " + name);
    return it->second;
}

// A test-local op, so these tests need no elementwise ops: loss = 0.5 * sum(a * (p - c)^2),
// d loss / dp = a * (p - c).
inline Var quadratic(const Var& p, const Tensor& a, const Tensor& c) {
    const Tensor x = p.value();
    double loss = 0;
    std::vector<double> gradient(static_cast<std::size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double d = x.at(i) - c.at(i);
        loss += 0.5 * a.at(i) * d * d;
        gradient[static_cast<std::size_t>(i)] = a.at(i) * d;
    }
    Tensor g = tensor(gradient, x.shape(), x.dtype());
    return record("quadratic", SourceLocation::current(), scalar(loss, x.dtype()), {p},
                  [g](const Grads& dy, const Needed&) -> Grads {
                      Tensor dx = g.clone();
                      visit_float("quadratic", dx.dtype(), [&]<typename T>(T) {
                          for (int64_t i = 0; i < dx.numel(); ++i)
                              dx.data<T>()[i] *= static_cast<T>(dy[0].item());
                      });
                      return {dx};
                  });
}

// The reference problem: p0 and p1 follow quadratics, p2 never receives a gradient.
struct Problem {
    explicit Problem(DType dtype) {
        for (const char* p : {"p0", "p1", "p2"})
            params.push_back(
                requires_grad(expected_tensor(std::string("problem.") + p).clone().astype(dtype)));
        for (int i = 0; i < 2; ++i) {
            a.push_back(expected_tensor(fmt::format("problem.a{}", i)));
            c.push_back(expected_tensor(fmt::format("problem.c{}", i)));
        }
    }
    void backward() const {
        for (std::size_t i = 0; i < a.size(); ++i) quadratic(params[i], a[i], c[i]).backward();
    }
    std::vector<Var> params;
    std::vector<Tensor> a, c;
};

using Factory = std::function<std::unique_ptr<optim::Optimizer>(optim::ParameterList)>;

template <typename O, typename Options>
inline Factory make(Options options) {
    return [options](optim::ParameterList p) { return std::make_unique<O>(std::move(p), options); };
}

// The configurations of tests/data/torch_optim.py, by the same names.
inline const std::map<std::string, Factory>& configs() {
    using namespace optim;
    static const std::map<std::string, Factory> all{
        {"sgd", make<SGD>(SGDOptions{.lr = 0.1})},
        {"sgd_momentum", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9})},
        {"sgd_dampening", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.8, .dampening = 0.5})},
        {"sgd_nesterov_wd",
         make<SGD>(
             SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true})},
        {"adam", make<Adam>(AdamOptions{.lr = 0.1})},
        {"adam_wd", make<Adam>(AdamOptions{
                        .lr = 0.1, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = 0.1})},
        {"adamw", make<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.1})},
        {"rmsprop", make<RMSprop>(RMSpropOptions{.lr = 0.01})},
        {"rmsprop_centered_momentum", make<RMSprop>(RMSpropOptions{.lr = 0.01,
                                                                   .alpha = 0.9,
                                                                   .eps = 1e-6,
                                                                   .weight_decay = 0.05,
                                                                   .momentum = 0.5,
                                                                   .centered = true})},
    };
    return all;
}

}  // namespace nalgrad::testing::optim_problem
