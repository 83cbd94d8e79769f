// Parameter groups (PyTorch's param_groups): each group's learning rate and weight decay against
// PyTorch's, under a schedule; weight_decay_groups; refused groups and group indices; and a steady
// grouped step without heap allocations. This executable counts the allocations made on the
// calling thread by replacing the global operator new, as tests/test_tape_alloc.cpp does.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <numbers>
#include <set>

#include <nalgrad/nalgrad.hpp>

#include "support/counting_new.hpp"
#include "support/optim_problem.hpp"

using namespace nalgrad;
using namespace nalgrad::testing::optim_problem;
using optim::ParameterGroup;

namespace {

// The grouped configurations of tests/data/torch_optim.py: groups [p1] and [p0, p2], group 0
// setting what it sets there, group 1 taking the options for the rest.
std::unique_ptr<optim::Optimizer> grouped(const std::string& name, const std::vector<Var>& p) {
    std::vector<ParameterGroup> groups{{.parameters = {p[1]}}, {.parameters = {p[0], p[2]}}};
    if (name == "sgd_momentum") {
        groups[0].lr = 0.05;
        groups[0].weight_decay = 0.1;
        return std::make_unique<optim::SGD>(
            groups, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
    }
    groups[0].lr = 0.02;
    groups[1].weight_decay = 0.0;
    return std::make_unique<optim::AdamW>(groups,
                                          optim::AdamWOptions{.lr = 0.1, .weight_decay = 0.1});
}

}  // namespace

TEST_CASE("two parameter groups under CosineAnnealingLR match PyTorch's param_groups") {
    for (const std::string name : {"sgd_momentum", "adamw"}) {
        for (DType dtype : {f64, f32}) {
            CAPTURE(name);
            CAPTURE(dtype_name(dtype));
            const double tolerance = dtype == f64 ? 1e-12 : 2e-5;
            const std::string prefix = "groups." + name;
            Problem problem(dtype);
            auto opt = grouped(name, problem.params);
            optim::CosineAnnealingLR schedule(*opt, 4, 0.001);
            REQUIRE(opt->group_count() == 2);
            for (int step = 0; step <= 6; ++step) {
                CAPTURE(step);
                if (step > 0) {
                    opt->zero_grad();
                    problem.backward();
                    opt->step();
                    schedule.step();
                    for (int i = 0; i < 3; ++i) {
                        CAPTURE(i);
                        const Tensor& expected =
                            expected_tensor(fmt::format("{}.step{}.p{}", prefix, step, i));
                        CHECK(max_rel_diff(problem.params[i].value(), expected) < tolerance);
                    }
                }
                for (std::size_t g = 0; g < 2; ++g) {
                    const Tensor& lrs = expected_tensor(fmt::format("{}.lr{}", prefix, g));
                    CHECK(opt->lr(g) == doctest::Approx(lrs.at(step)).epsilon(1e-12));
                }
            }
            // The state is numbered over the groups in order: 0 is p1, 1 is p0 (2, p2, has none).
            std::set<std::string> expected, exported;
            for (const auto& [key, value] : reference())
                if (key.starts_with(prefix + ".state.")) expected.insert(key);
            for (const auto& [key, value] : opt->state()) {
                if (name.starts_with("sgd") && key.ends_with(".step")) continue;  // PyTorch's none
                CAPTURE(key);
                exported.insert(prefix + ".state." + key);
                CHECK(max_rel_diff(value, expected_tensor(prefix + ".state." + key)) < tolerance);
            }
            CHECK(exported == expected);
        }
    }
}

TEST_CASE("the groups of one optimizer step exactly as separate optimizers would") {
    auto check = [](const char* what, auto make_grouped, auto make_first, auto make_rest) {
        CAPTURE(what);
        Problem together(f32), apart(f32);
        const auto& t = together.params;
        auto opt = make_grouped(std::vector<ParameterGroup>{
            {.parameters = {t[0]}, .lr = 0.03, .weight_decay = 0.2}, {.parameters = {t[1], t[2]}}});
        auto first = make_first(optim::ParameterList{apart.params[0]});
        auto rest = make_rest(optim::ParameterList{apart.params[1], apart.params[2]});
        for (int step = 0; step < 4; ++step) {
            for (auto* o : {opt.get(), first.get(), rest.get()}) o->zero_grad();
            together.backward();
            apart.backward();
            for (auto* o : {opt.get(), first.get(), rest.get()}) o->step();
        }
        for (int i = 0; i < 3; ++i)
            CHECK(equal(together.params[i].value(), apart.params[i].value()));
    };
    using namespace optim;
    const SGDOptions sgd{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
    check(
        "SGD", [&](auto g) { return std::make_unique<SGD>(std::move(g), sgd); },
        [&](ParameterList p) {
            SGDOptions o = sgd;
            o.lr = 0.03;
            o.weight_decay = 0.2;
            return std::make_unique<SGD>(std::move(p), o);
        },
        [&](ParameterList p) { return std::make_unique<SGD>(std::move(p), sgd); });
    const AdamOptions adam{.lr = 0.1, .weight_decay = 0.05};
    check(
        "Adam", [&](auto g) { return std::make_unique<Adam>(std::move(g), adam); },
        [&](ParameterList p) {
            return std::make_unique<Adam>(std::move(p),
                                          AdamOptions{.lr = 0.03, .weight_decay = 0.2});
        },
        [&](ParameterList p) { return std::make_unique<Adam>(std::move(p), adam); });
    const RMSpropOptions rms{.lr = 0.01, .weight_decay = 0.05, .momentum = 0.5, .centered = true};
    check(
        "RMSprop", [&](auto g) { return std::make_unique<RMSprop>(std::move(g), rms); },
        [&](ParameterList p) {
            RMSpropOptions o = rms;
            o.lr = 0.03;
            o.weight_decay = 0.2;
            return std::make_unique<RMSprop>(std::move(p), o);
        },
        [&](ParameterList p) { return std::make_unique<RMSprop>(std::move(p), rms); });
}

TEST_CASE("every group follows the schedule from its own base, kept from the first schedule") {
    using namespace optim;
    Var a = requires_grad(zeros({1}, f64)), b = requires_grad(zeros({1}, f64)),
        c = requires_grad(zeros({1}, f64));
    SGD opt({{.parameters = {a}}, {.parameters = {b}, .lr = 0.02}, {.parameters = {c}, .lr = 0.5}},
            {.lr = 0.1});
    const double bases[] = {0.1, 0.02, 0.5};
    {
        // Warmup and StepLR scale with the base: group g gets PyTorch's sequence for base 0.1
        // times bases[g] / 0.1.
        const Tensor& expected = expected_tensor("schedule.warmup_steplr");
        LinearWarmup schedule(opt, 3, 0.5, std::make_unique<StepLR>(opt, 4, 0.5));
        for (int64_t t = 0; t < expected.numel(); ++t) {
            CAPTURE(t);
            if (t > 0) schedule.step();
            for (std::size_t g = 0; g < 3; ++g) {
                CAPTURE(g);
                const double want = expected.at(t) * bases[g] / 0.1;
                CHECK(opt.lr(g) == doctest::Approx(want).epsilon(1e-12));
                CHECK(schedule.lr(g) == doctest::Approx(want).epsilon(1e-12));
                CHECK(schedule.base_lr(g) == bases[g]);
            }
        }
    }
    // A later schedule starts from the same bases (PyTorch's initial_lr), whatever the rates are
    // now; eta_min makes each group's cosine its own curve, not a multiple of group 0's.
    opt.set_lr(1, 0.3);
    const Tensor& expected = expected_tensor("schedule.cosine");
    CosineAnnealingLR schedule(opt, 10, 0.001);
    for (int64_t t = 0; t < expected.numel(); ++t) {
        CAPTURE(t);
        if (t > 0) schedule.step();
        CHECK(opt.lr(0) == doctest::Approx(expected.at(t)).epsilon(1e-12));
        for (std::size_t g = 0; g < 3; ++g) {
            const double angle = std::numbers::pi * static_cast<double>(t) / 10;
            const double want = 0.001 + (bases[g] - 0.001) * (1 + std::cos(angle)) / 2;
            CHECK(opt.lr(g) == doctest::Approx(want).epsilon(1e-12));
        }
    }
    schedule.set_last_step(7);
    CHECK(opt.lr(0) == doctest::Approx(expected.at(7)).epsilon(1e-12));
    CHECK(opt.lr(2) == doctest::Approx(schedule.lr_at(7, 0.5)).epsilon(1e-15));
    CHECK(schedule.lr_at(7) == opt.lr(0));
}

TEST_CASE("weight_decay_groups decays convolution and dense weights, not biases or batch norm's") {
    auto param = [](Shape shape) { return requires_grad(ones(shape, f64)); };
    const Parameters model{{"conv.weight", param({4, 3, 3, 1})},
                           {"conv.bias", param({4})},
                           {"bn.weight", param({4})},
                           {"bn.bias", param({4})},
                           {"fc.weight", param({10, 4})},
                           {"fc.bias", param({10})}};
    const auto groups = optim::weight_decay_groups(model, 0.5);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].parameters.names == std::vector<std::string>{"conv.weight", "fc.weight"});
    CHECK(groups[1].parameters.names ==
          std::vector<std::string>{"conv.bias", "bn.weight", "bn.bias", "fc.bias"});
    CHECK(groups[0].weight_decay == 0.5);
    CHECK(groups[1].weight_decay == 0.0);
    CHECK_FALSE(groups[0].lr.has_value());
    // Both groups set their decay, so the option's is used by neither.
    optim::SGD sgd(groups, {.lr = 0.1, .weight_decay = 0.9});
    CHECK(sgd.weight_decay(0) == 0.5);
    CHECK(sgd.weight_decay(1) == 0);
    // A zero gradient: the weights shrink by 1 - lr * weight_decay, the rest stay.
    for (const Parameter& p : model)
        quadratic(p.var, zeros(p.var.shape(), f64), zeros(p.var.shape(), f64)).backward();
    sgd.step();
    for (const Parameter& p : model) {
        CAPTURE(p.name);
        CHECK(p.var.value().at(0) == doctest::Approx(p.var.rank() >= 2 ? 0.95 : 1.0));
    }
    // No empty group: all weights, or all vectors, give one group.
    CHECK(optim::weight_decay_groups({model[0], model[4]}, 0.5).size() == 1);
    const auto vectors = optim::weight_decay_groups({model[1], model[5]}, 0.5);
    REQUIRE(vectors.size() == 1);
    CHECK(vectors[0].weight_decay == 0.0);
    // Errors number the parameters in group order: the frozen bias, after both weights, is 2.
    const Parameters frozen{model[0], {"bn.bias", Var(ones({4}, f64))}, model[4]};
    CHECK_THROWS_WITH_AS(
        optim::SGD(optim::weight_decay_groups(frozen, 0.5)),
        doctest::Contains("SGD: parameter 2 'bn.bias' [4] does not require a gradient"), Error);
}

TEST_CASE("parameter groups refuse empty groups, shared parameters, bad settings and indices") {
    Var w = requires_grad(zeros({2, 3}, f64)), b = requires_grad(zeros({3}, f64));
    const Parameters named{{"fc.bias", Var(zeros({4}, f64))}};
    CHECK_THROWS_WITH_AS(optim::SGD({{.parameters = {w}}, {.parameters = std::vector<Var>{}}}),
                         doctest::Contains("SGD: parameter group 1 of 2 is empty"), Error);
    CHECK_THROWS_WITH_AS(
        optim::Adam(std::vector<ParameterGroup>{}),
        doctest::Contains("Adam: the parameter list is empty (no parameter groups)"), Error);
    CHECK_THROWS_WITH_AS(
        optim::SGD({{.parameters = {w, b}}, {.parameters = {b}}}),
        doctest::Contains("SGD: parameter 2 [3] is in group 0 and in group 1; a parameter "
                          "belongs to one group"),
        Error);
    CHECK_THROWS_WITH_AS(
        optim::SGD({{.parameters = {w}}, {.parameters = {b, b}}}),
        doctest::Contains("SGD: parameter 2 [3] appears more than once in group 1"), Error);
    CHECK_THROWS_WITH_AS(
        optim::SGD({{.parameters = {w}}, {.parameters = named}}),
        doctest::Contains("SGD: parameter 1 'fc.bias' [4] does not require a gradient"), Error);
    CHECK_THROWS_WITH_AS(
        optim::AdamW({{.parameters = {w}}, {.parameters = {b}, .lr = -0.5}}),
        doctest::Contains("AdamW: the learning rate of group 1 must be finite and >= 0, got -0.5"),
        Error);
    CHECK_THROWS_WITH_AS(
        optim::RMSprop({{.parameters = {w}, .weight_decay = -1}, {.parameters = {b}}}),
        doctest::Contains("RMSprop: the weight_decay of group 0 must be >= 0, got -1"), Error);

    optim::SGD opt({{.parameters = {w}, .lr = 0.5}, {.parameters = {b}}},
                   {.lr = 0.1, .weight_decay = 0.01});
    CHECK(opt.group_count() == 2);
    CHECK(opt.lr() == 0.5);
    CHECK(opt.lr(1) == 0.1);
    CHECK(opt.weight_decay(0) == 0.01);
    REQUIRE(opt.group_parameters(1).size() == 1);
    CHECK(opt.group_parameters(1)[0].value().raw() == b.value().raw());
    CHECK(opt.parameters().size() == 2);
    CHECK_THROWS_WITH_AS(opt.lr(2),
                         doctest::Contains("SGD: lr: group 2 is out of range, the optimizer has "
                                           "2 groups"),
                         Error);
    CHECK_THROWS_WITH_AS(opt.weight_decay(7),
                         doctest::Contains("SGD: weight_decay: group 7 is out of range"), Error);
    CHECK_THROWS_WITH_AS(opt.group_parameters(3),
                         doctest::Contains("SGD: group_parameters: group 3 is out of range"),
                         Error);
    CHECK_THROWS_WITH_AS(opt.set_lr(2, 0.1),
                         doctest::Contains("SGD: set_lr: group 2 is out of range"), Error);
    CHECK_THROWS_WITH_AS(
        opt.set_lr(1, -1),
        doctest::Contains("SGD: set_lr: the learning rate of group 1 must be finite and >= 0, "
                          "got -1"),
        Error);
    CHECK(opt.lr(1) == 0.1);
    opt.set_lr(0.25);  // every group
    CHECK(opt.lr(0) == 0.25);
    CHECK(opt.lr(1) == 0.25);
    optim::StepLR schedule(opt, 2);
    CHECK_THROWS_WITH_AS(
        schedule.base_lr(2),
        doctest::Contains("LRSchedule.base_lr: group 2 is out of range, SGD has 2 groups"), Error);
}

TEST_CASE("a steady step of two groups under a schedule allocates nothing") {
    const int threads = get_num_threads();
    set_num_threads(1);  // TBB's workers allocate on their own threads; keep every step here
    Problem problem(f32);
    const auto& p = problem.params;
    optim::AdamW opt(
        {{.parameters = {p[1]}, .lr = 0.02}, {.parameters = {p[0], p[2]}, .weight_decay = 0.0}});
    optim::CosineAnnealingLR schedule(opt, 4, 0.001);
    problem.backward();
    opt.step();  // the state's buffers and the step's lists, once
    schedule.step();
    const uint64_t before = news_on_this_thread;
    for (int i = 0; i < 3; ++i) {
        opt.step();
        schedule.step();
    }
    CHECK(news_on_this_thread - before == 0);
    set_num_threads(threads);
}
