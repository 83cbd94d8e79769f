// Optimizer steps (PyTorch's values, in place, in parallel, to the minimum) and refused settings.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <set>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"

#include "core/kernels/optim.hpp"
#include "support/optim_problem.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::optim_problem;

TEST_CASE("each optimizer's updates and state match PyTorch's, float64 and float32") {
    for (const auto& [name, factory] : configs()) {
        for (DType dtype : {f64, f32}) {
            CAPTURE(name);
            CAPTURE(dtype_name(dtype));
            const double tolerance = dtype == f64 ? 1e-12 : 2e-5;
            Problem problem(dtype);
            auto opt = factory(problem.params);
            for (int step = 1; step <= 10; ++step) {
                opt->zero_grad();
                problem.backward();
                opt->step();
                if (step > 3 && step < 10) continue;
                for (int i = 0; i < 3; ++i) {
                    CAPTURE(step);
                    CAPTURE(i);
                    CHECK(max_rel_diff(problem.params[i].value(),
                                       expected_tensor(fmt::format("{}.step{}.p{}", name, step,
                                                                   i))) < tolerance);
                }
            }
            // Same entries as PyTorch's state (p2 has none: it never had a gradient).
            std::set<std::string> expected, exported;
            for (const auto& [key, value] : reference())
                if (key.starts_with(name + ".state.")) expected.insert(key);
            for (const auto& [key, value] : opt->state()) {
                if (name.starts_with("sgd") && key.ends_with(".step")) {
                    CHECK(value.item() == 10);  // nalgrad counts SGD's steps too; PyTorch does not
                    continue;
                }
                exported.insert(name + ".state." + key);
                CAPTURE(key);
                CHECK(max_rel_diff(value, expected_tensor(name + ".state." + key)) < tolerance);
            }
            CHECK(exported == expected);
        }
    }
}

TEST_CASE("step updates in place, bumps versions, records nothing; parameters without grad stay") {
    Problem problem(f32);
    optim::SGD opt(problem.params, {.lr = 0.1, .momentum = 0.9});
    const void* storage = problem.params[0].value().raw();
    const Tensor p2_before = problem.params[2].value().clone();
    problem.backward();
    const std::size_t records = tape_size();
    const uint64_t v0 = problem.params[0].value().version();
    const uint64_t v2 = problem.params[2].value().version();
    opt.step();
    CHECK(tape_size() == records);
    CHECK(problem.params[0].value().raw() == storage);
    CHECK(problem.params[0].value().version() == v0 + 1);
    CHECK(problem.params[2].value().version() == v2);
    CHECK(equal(problem.params[2].value(), p2_before));
    // SGD's first step: p -= lr * g exactly (the buffer starts as the gradient).
    Tensor start = expected_tensor("problem.p0"), a = expected_tensor("problem.a0"),
           c = expected_tensor("problem.c0");
    for (int64_t i = 0; i < start.numel(); ++i)
        CHECK(problem.params[0].value().at(i) ==
              doctest::Approx(start.at(i) - 0.1 * a.at(i) * (start.at(i) - c.at(i))));
}

TEST_CASE("zero_grad fills zeros in the same storage, or forgets the gradient") {
    Problem problem(f64);
    optim::Adam opt(problem.params);
    problem.backward();
    const void* grad_storage = problem.params[0].grad().raw();
    opt.zero_grad();
    CHECK(problem.params[0].grad().raw() == grad_storage);
    CHECK(problem.params[0].grad().to_vector() == std::vector<double>(6, 0.0));
    CHECK_FALSE(problem.params[2].grad().defined());
    opt.zero_grad(optim::ZeroGrad::set_to_none);
    CHECK_FALSE(problem.params[0].grad().defined());
    // A zeroed gradient still moves a parameter under AdamW's decay; an absent one does not.
    optim::AdamW decayed(problem.params, {.lr = 0.1, .weight_decay = 0.5});
    problem.backward();
    decayed.zero_grad();
    const double before = problem.params[1].value().at(0);
    decayed.step();
    CHECK(problem.params[1].value().at(0) == doctest::Approx(before * (1 - 0.1 * 0.5)));
}

TEST_CASE("a large parameter is updated in parallel, every element exactly by the formula") {
    Generator gen(5);
    const int64_t n = 300007;  // not a multiple of any grain
    for (DType dtype : {f32, f64}) {
        Var p = requires_grad(normal({n}, dtype, gen));
        Tensor a = uniform({n}, 0.5, 2.0, f64, gen), c = normal({n}, f64, gen);
        Tensor start = p.value().clone();
        optim::SGD opt({p}, {.lr = 0.25, .weight_decay = 0.5});
        quadratic(p, a, c).backward();
        Tensor g = p.grad().clone();
        opt.step();
        int64_t wrong = 0;
        visit_float("test", dtype, [&]<typename T>(T) {
            const T lr = T(0.25), wd = T(0.5);
            for (int64_t i = 0; i < n; ++i) {
                const T s = start.data<T>()[i];
                wrong += p.value().data<T>()[i] != s - lr * (g.data<T>()[i] + wd * s);
            }
        });
        CHECK(wrong == 0);
    }
}

TEST_CASE("parallel_for_parts visits every element of every part exactly once") {
    const std::vector<int64_t> sizes{0, 5, 70001, 3, 0, 100000, 1, 40000, 0};
    std::vector<std::vector<int>> visits;
    for (int64_t size : sizes) visits.emplace_back(static_cast<std::size_t>(size), 0);
    parallel_for_parts(
        sizes.size(), [&](std::size_t i) { return sizes[i]; }, 1,
        [&](std::size_t part, int64_t begin, int64_t end) {
            REQUIRE(begin < end);  // no empty calls
            for (int64_t i = begin; i < end; ++i) ++visits[part][static_cast<std::size_t>(i)];
        });
    for (std::size_t part = 0; part < sizes.size(); ++part) {
        int64_t wrong = 0;
        for (int count : visits[part]) wrong += count != 1;
        CHECK_MESSAGE(wrong == 0, "part ", part);
    }
}

TEST_CASE("one step over many parameters of mixed sizes and dtypes equals one step per parameter") {
    // All parameters of a step run as one parallel loop, tasks crossing from one parameter to the
    // next; each parameter updated by an optimizer of its own must come out bit for bit the same.
    Generator gen(11);
    std::vector<int64_t> sizes;
    for (int i = 0; i < 40; ++i) sizes.push_back(1 + 997 * i % 5000);  // small: shared tasks
    sizes.push_back(300007);                                           // large: split over tasks
    sizes.push_back(3);
    for (const char* config : {"sgd_nesterov_wd", "adam_wd", "rmsprop_centered_momentum"}) {
        std::vector<Var> together, alone;
        std::vector<Tensor> a, c;
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            const DType dtype = i % 3 == 1 ? f64 : f32;
            Tensor start = normal({sizes[i]}, dtype, gen);
            together.push_back(requires_grad(start.clone()));
            alone.push_back(requires_grad(start.clone()));
            a.push_back(uniform({sizes[i]}, 0.5, 2.0, f64, gen));
            c.push_back(normal({sizes[i]}, f64, gen));
        }
        auto fused = configs().at(config)(together);
        std::vector<std::unique_ptr<optim::Optimizer>> separate;
        for (const Var& p : alone) separate.push_back(configs().at(config)({p}));
        for (int step = 0; step < 3; ++step) {
            fused->zero_grad();
            for (auto& o : separate) o->zero_grad();
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                quadratic(together[i], a[i], c[i]).backward();
                quadratic(alone[i], a[i], c[i]).backward();
            }
            fused->step();
            for (auto& o : separate) o->step();
        }
        int64_t differing = 0;
        for (std::size_t i = 0; i < sizes.size(); ++i)
            differing += !equal(together[i].value(), alone[i].value());
        CHECK_MESSAGE(differing == 0, config);
    }
}

TEST_CASE("each optimizer drives a convex quadratic to its known minimum") {
    struct Case {
        std::string name;
        Factory factory;
        double weight_decay;  // an L2 term moves the minimum to a c / (a + wd)
        int steps;
        bool anneal;  // adaptive methods hover around the minimum at a fixed rate
    };
    using namespace optim;
    const std::vector<Case> cases{
        {"SGD momentum", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.5}), 0, 300, false},
        {"SGD nesterov L2",
         make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.2, .nesterov = true}),
         0.2, 400, false},
        {"Adam", make<Adam>(AdamOptions{.lr = 0.05}), 0, 1500, true},
        {"Adam L2", make<Adam>(AdamOptions{.lr = 0.05, .weight_decay = 0.3}), 0.3, 1500, true},
        {"AdamW", make<AdamW>(AdamWOptions{.lr = 0.05, .weight_decay = 0}), 0, 1500, true},
        {"RMSprop", make<RMSprop>(RMSpropOptions{.lr = 0.01}), 0, 1500, true},
        {"RMSprop centered momentum",
         make<RMSprop>(RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true}), 0, 1500,
         true},
    };
    for (const auto& test : cases) {
        CAPTURE(test.name);
        Problem problem(f64);
        auto opt = test.factory(problem.params);
        std::unique_ptr<LRSchedule> schedule;
        if (test.anneal) schedule = std::make_unique<CosineAnnealingLR>(*opt, test.steps);
        for (int step = 0; step < test.steps; ++step) {
            opt->zero_grad();
            problem.backward();
            opt->step();
            if (schedule) schedule->step();
        }
        for (int i = 0; i < 2; ++i) {
            const Tensor& p = problem.params[i].value();
            for (int64_t e = 0; e < p.numel(); ++e) {
                const double a = problem.a[i].at(e), c = problem.c[i].at(e);
                CHECK(p.at(e) == doctest::Approx(a * c / (a + test.weight_decay)).epsilon(1e-3));
            }
        }
    }
}

TEST_CASE("bad parameters and options are refused with the index, name and shape") {
    Var w = requires_grad(zeros({2, 3}, f64));
    Var frozen = Var(zeros({4}, f64), false);
    Var computed = relu(w);
    CHECK_THROWS_WITH_AS(optim::SGD({w, frozen}),
                         doctest::Contains("SGD: parameter 1 [4] does not require a gradient"),
                         Error);
    CHECK_THROWS_WITH_AS(
        optim::Adam({computed}),
        doctest::Contains("Adam: parameter 0 [2, 3] is not a leaf (it is the output of 'relu')"),
        Error);
    Parameters named{{"fc.weight", w}, {"fc.bias", frozen}};
    CHECK_THROWS_WITH_AS(optim::RMSprop{named},
                         doctest::Contains("parameter 1 'fc.bias' [4] does not require a gradient"),
                         Error);
    CHECK_THROWS_WITH_AS(optim::SGD({w, w}), doctest::Contains("appears more than once"), Error);
    CHECK_THROWS_WITH_AS(optim::SGD(std::vector<Var>{}),
                         doctest::Contains("parameter list is empty"), Error);
    CHECK_THROWS_WITH_AS(
        optim::SGD({w}, {.lr = -0.1}),
        doctest::Contains("SGD: the learning rate must be finite and >= 0, got -0.1"), Error);
    CHECK_THROWS_WITH_AS(optim::SGD({w}, {.nesterov = true}),
                         doctest::Contains("nesterov needs momentum > 0 and dampening 0"), Error);
    CHECK_THROWS_WITH_AS(optim::SGD({w}, {.momentum = -1}),
                         doctest::Contains("momentum must be >= 0, got -1"), Error);
    CHECK_THROWS_WITH_AS(optim::Adam({w}, {.betas = {0.9, 1.0}}),
                         doctest::Contains("Adam: betas.second must be in [0, 1), got 1"), Error);
    CHECK_THROWS_WITH_AS(optim::AdamW({w}, {.eps = -1}),
                         doctest::Contains("AdamW: eps must be >= 0"), Error);
    CHECK_THROWS_WITH_AS(optim::RMSprop({w}, {.alpha = -0.5}),
                         doctest::Contains("RMSprop: alpha must be >= 0"), Error);
    optim::SGD opt({named[0].var}, {.lr = 0.5});
    CHECK(opt.lr() == 0.5);
    opt.set_lr(0.25);
    CHECK(opt.lr() == 0.25);
    CHECK_THROWS_WITH_AS(opt.set_lr(NAN), doctest::Contains("must be finite"), Error);
    CHECK(opt.lr() == 0.25);
}

TEST_CASE("the update loops flush float32 subnormal state to zero, and only while they run") {
    // Adam's first moment of a parameter whose gradient stays zero decays by beta1 each step into
    // the subnormal range, where x86 arithmetic is many times slower (core/kernels/optim.cpp).
    Tensor param = tensor({1, 1}, {2}, f32), grad = zeros({2}, f32);
    Tensor exp_avg = tensor({1e-39, 1e-30}, {2}, f32), exp_avg_sq = tensor({1, 1}, {2}, f32);
    REQUIRE(std::fpclassify(exp_avg.data<float>()[0]) == FP_SUBNORMAL);
    const Tensor adam_state[] = {exp_avg, exp_avg_sq};
    const kernels::ParameterUpdate adam[] = {
        {.param = &param, .grad = &grad, .state = adam_state, .step = 5}};
    kernels::adam_update(adam, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
    CHECK(exp_avg.data<float>()[0] == 0);              // flushed, not 9e-40
    CHECK(exp_avg.data<float>()[1] == 0.9f * 1e-30f);  // normal values keep the formula
    CHECK(param.data<float>()[0] == 1);                // the flushed state moved nothing

    Tensor buffer = tensor({2e-39, -3e-39}, {2}, f32);
    const kernels::ParameterUpdate sgd[] = {
        {.param = &param, .grad = &grad, .state = &buffer, .step = 2}};
    kernels::sgd_update(sgd, {.lr = 0.1, .momentum = 0.9, .dampening = 0, .weight_decay = 0});
    CHECK(buffer.data<float>()[0] == 0);
    CHECK(buffer.data<float>()[1] == 0);

    volatile float subnormal = 1e-39f;  // the calling thread's mode is restored afterwards
    CHECK(subnormal * 0.5f != 0);
}
