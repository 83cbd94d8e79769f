// Optimizer state through load_state, and the learning-rate schedules against PyTorch's.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>

#include <nalgrad/nalgrad.hpp>

#include "support/optim_problem.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::optim_problem;

TEST_CASE("state round-trips through load_state: a restored optimizer continues identically") {
    for (const auto& [name, factory] : configs()) {
        CAPTURE(name);
        Problem original(f64), restored(f64);
        auto a = factory(original.params);
        auto b = factory(restored.params);
        for (int step = 0; step < 3; ++step) {
            a->zero_grad();
            original.backward();
            a->step();
        }
        for (int i = 0; i < 3; ++i) {
            Tensor value = restored.params[i].value();
            value.copy_(original.params[i].value());
        }
        optim::State saved = a->state();
        for (auto& [key, t] : saved) t = t.clone();  // as a checkpoint file would hold them
        b->load_state(saved);
        for (int step = 0; step < 2; ++step) {
            a->zero_grad();
            original.backward();
            a->step();
            b->zero_grad();
            restored.backward();
            b->step();
        }
        for (int i = 0; i < 3; ++i)
            CHECK(equal(original.params[i].value(), restored.params[i].value()));
    }
}

TEST_CASE("load_state validates names, shapes and completeness before changing anything") {
    Problem problem(f64);
    optim::Adam opt(problem.params);
    problem.backward();
    opt.step();
    const optim::State good = opt.state();
    auto with = [&](const std::string& key, Tensor t) {
        optim::State s = good;
        s.emplace_back(key, t);
        return s;
    };
    CHECK_THROWS_WITH_AS(opt.load_state(with("momentum", zeros({3}, f64))),
                         doctest::Contains("entry 'momentum' is not named '<parameter index>."),
                         Error);
    CHECK_THROWS_WITH_AS(opt.load_state(with("7.exp_avg", zeros({3}, f64))),
                         doctest::Contains("refers to parameter 7, the optimizer has 3"), Error);
    CHECK_THROWS_WITH_AS(
        opt.load_state(with("2.momentum_buffer", zeros({2}, f64))),
        doctest::Contains(
            "keeps no buffer 'momentum_buffer' (it keeps: exp_avg, exp_avg_sq, step)"),
        Error);
    CHECK_THROWS_WITH_AS(opt.load_state(with("2.exp_avg", zeros({3}, f64))),
                         doctest::Contains("entry '2.exp_avg' is f64 [3], parameter 2 [2] is f64"),
                         Error);
    CHECK_THROWS_WITH_AS(opt.load_state(with("0.step", scalar(2, i64))),
                         doctest::Contains("entry '0.step' appears twice"), Error);
    CHECK_THROWS_WITH_AS(opt.load_state(with("2.exp_avg", zeros({2}, f64))),
                         doctest::Contains("the state of parameter 2 lacks '2.exp_avg_sq'"), Error);
    CHECK_THROWS_WITH_AS(opt.load_state({{"0.step", scalar(0, i64)}}),
                         doctest::Contains("must hold one positive whole number"), Error);
    // Nothing changed: the state is still the one exported.
    const optim::State now = opt.state();
    REQUIRE(now.size() == good.size());
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(equal(now[i].second, good[i].second));
    // An empty state starts afresh; a float32 checkpoint loads into float64 parameters.
    opt.load_state({});
    CHECK(opt.state().empty());
    optim::State f32_state;
    for (const auto& [key, t] : good)
        f32_state.emplace_back(key, t.astype(t.dtype() == i64 ? i64 : f32));
    opt.load_state(f32_state);
    CHECK(opt.state().size() == good.size());
    CHECK(opt.state()[1].second.dtype() == f64);
}

TEST_CASE("schedules give PyTorch's learning-rate sequences") {
    using namespace optim;
    using Make = std::function<std::unique_ptr<LRSchedule>(Optimizer&)>;
    const std::map<std::string, Make> schedules{
        {"steplr", [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); }},
        {"cosine", [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 10, 0.001); }},
        {"warmup_constant", [](Optimizer& o) { return std::make_unique<LinearWarmup>(o, 5, 0.1); }},
        {"warmup_cosine",
         [](Optimizer& o) {
             return std::make_unique<LinearWarmup>(
                 o, 4, 0.25, std::make_unique<CosineAnnealingLR>(o, 10, 0.01));
         }},
        {"warmup_steplr",
         [](Optimizer& o) {
             return std::make_unique<LinearWarmup>(o, 3, 0.5, std::make_unique<StepLR>(o, 4, 0.5));
         }},
    };
    for (const auto& [name, make_schedule] : schedules) {
        CAPTURE(name);
        const Tensor& expected = expected_tensor("schedule." + name);
        Var w = requires_grad(zeros({1}, f64));
        Adam opt({w}, {.lr = 0.1});  // any optimizer: a schedule sees only the base class
        auto schedule = make_schedule(opt);
        for (int64_t t = 0; t < expected.numel(); ++t) {
            CAPTURE(t);
            if (t > 0) schedule->step();
            CHECK(schedule->last_step() == t);
            CHECK(opt.lr() == doctest::Approx(expected.at(t)).epsilon(1e-12));
        }
        schedule->set_last_step(7);  // resuming
        CHECK(opt.lr() == doctest::Approx(expected.at(7)).epsilon(1e-12));
    }
}

TEST_CASE("schedules refuse bad settings") {
    using namespace optim;
    Var w = requires_grad(zeros({1}, f64));
    SGD opt({w}, {.lr = 0.1}), other({w}, {.lr = 0.1});
    CHECK_THROWS_WITH_AS(StepLR(opt, 0), doctest::Contains("StepLR: step_size must be >= 1, got 0"),
                         Error);
    CHECK_THROWS_WITH_AS(CosineAnnealingLR(opt, 0), doctest::Contains("T_max must be >= 1"), Error);
    CHECK_THROWS_WITH_AS(LinearWarmup(opt, 5, 0),
                         doctest::Contains("start_factor must be in (0, 1]"), Error);
    CHECK_THROWS_WITH_AS(LinearWarmup(opt, 5, 0.5, std::make_unique<StepLR>(other, 2)),
                         doctest::Contains("drives a different optimizer"), Error);
    StepLR schedule(opt, 2);
    CHECK_THROWS_WITH_AS(schedule.set_last_step(-1), doctest::Contains("must be >= 0"), Error);
}
