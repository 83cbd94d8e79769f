// Resuming from a training checkpoint (nn/training_checkpoint.hpp: parameters and optimizer
// state) continues exactly where an uninterrupted run would be: same seed, one thread, bitwise
// equal parameters. The file's layout stays readable: a training checkpoint is a plain safetensors
// file of the parameters by name and the optimizer's state under "optimizer.".
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/temp_dir.hpp"

using namespace nalgrad;

namespace {

// Seeds the default generator before the layers below it are initialised.
struct Seeded {
    explicit Seeded(uint64_t seed) { manual_seed(seed); }
};

struct Small {
    Seeded seeded;
    Conv2d conv1{1, 4, {3, 3}, {.padding = same}};
    Dense fc1{4 * 4 * 4, 3};
    explicit Small(uint64_t seed) : seeded(seed) {}
    Var operator()(const Var& x) const {
        return fc1(flatten(max_pool2d(relu(conv1(x)), {.kernel = 2})));
    }
    NALGRAD_MODULE(conv1, fc1)
};

// Fixed data: the same batch for step s in every run.
void train_steps(const Small& model, optim::Optimizer& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
        Generator gen(100 + s);
        Tensor x = normal({8, 8, 8, 1}, f32, gen);
        Tensor labels = zeros({8}, i64);
        for (int64_t i = 0; i < 8; ++i) labels.data<int64_t>()[i] = (i + s) % 3;
        Var loss = softmax_cross_entropy(model(x), labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
}

template <typename Optimizer, typename Options>
void check_resume(const Options& options) {
    const int threads = get_num_threads();
    set_num_threads(1);
    testing::TempDir dir;
    Small uninterrupted(3);
    Optimizer opt_a(uninterrupted.parameters(), options);
    train_steps(uninterrupted, opt_a, 0, 6);

    Small first_half(3);
    Optimizer opt_b(first_half.parameters(), options);
    train_steps(first_half, opt_b, 0, 3);
    save_training_checkpoint(dir / "ck.safetensors", first_half.parameters(), opt_b,
                             {{"epoch", "3"}});

    Small resumed(99);  // different initial weights: all must come from the file
    Optimizer opt_c(resumed.parameters(), options);
    const Metadata metadata =
        load_training_checkpoint(dir / "ck.safetensors", resumed.parameters(), opt_c);
    CHECK(metadata.at("epoch") == "3");
    REQUIRE_FALSE(opt_c.state().empty());
    train_steps(resumed, opt_c, 3, 6);

    Parameters a = uninterrupted.parameters(), c = resumed.parameters();
    for (std::size_t i = 0; i < a.size(); ++i)
        CHECK_MESSAGE(equal(a[i].var.value(), c[i].var.value()), a[i].name);
    set_num_threads(threads);
}

}  // namespace

TEST_CASE("resume with SGD momentum equals the uninterrupted run") {
    check_resume<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
}

TEST_CASE("resume with Adam equals the uninterrupted run") {
    check_resume<optim::Adam>(optim::AdamOptions{.lr = 0.01});
}

TEST_CASE("resuming without the optimizer state differs (the test can tell)") {
    Small uninterrupted(3);
    optim::SGD opt_a(uninterrupted.parameters(), {.lr = 0.05, .momentum = 0.9});
    train_steps(uninterrupted, opt_a, 0, 6);
    Small restarted(3);
    optim::SGD opt_b(restarted.parameters(), {.lr = 0.05, .momentum = 0.9});
    train_steps(restarted, opt_b, 0, 3);
    optim::SGD fresh(restarted.parameters(), {.lr = 0.05, .momentum = 0.9});  // momentum lost
    train_steps(restarted, fresh, 3, 6);
    CHECK_FALSE(equal(uninterrupted.fc1.weight.value(), restarted.fc1.weight.value()));
}

TEST_CASE(
    "a training checkpoint is the parameters by name and the optimizer's state under "
    "'optimizer.'") {
    testing::TempDir dir;
    Small model(3);
    optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
    train_steps(model, opt, 0, 2);
    const Parameters params = model.parameters();
    const optim::State state = opt.state();
    REQUIRE_FALSE(state.empty());

    save_training_checkpoint(dir / "written.safetensors", params, opt, {{"epoch", "2"}});
    const Checkpoint written = read_checkpoint(dir / "written.safetensors");
    CHECK(written.tensors.size() == params.size() + state.size());
    for (const auto& p : params) CHECK_MESSAGE(equal(written.at(p.name), p.var.value()), p.name);
    for (const auto& [name, t] : state)
        CHECK_MESSAGE(equal(written.at("optimizer." + name), t), name);
    CHECK(written.metadata.at("epoch") == "2");

    // A file laid out by hand the same way, as checkpoints written earlier are, loads too.
    NamedTensors by_hand;
    for (const auto& p : params) by_hand.push_back({p.name, p.var.value()});
    for (const auto& [name, t] : state) by_hand.push_back({"optimizer." + name, t});
    save(by_hand, dir / "by_hand.safetensors", {{"epoch", "2"}});
    Small loaded(99);
    optim::SGD loaded_opt(loaded.parameters(), {.lr = 0.05, .momentum = 0.9});
    CHECK(load_training_checkpoint(dir / "by_hand.safetensors", loaded.parameters(), loaded_opt)
              .at("epoch") == "2");
    const Parameters loaded_params = loaded.parameters();
    for (std::size_t i = 0; i < params.size(); ++i)
        CHECK_MESSAGE(equal(loaded_params[i].var.value(), params[i].var.value()), params[i].name);
    const optim::State loaded_state = loaded_opt.state();
    REQUIRE(loaded_state.size() == state.size());
    for (std::size_t i = 0; i < state.size(); ++i) {
        CHECK(loaded_state[i].first == state[i].first);
        CHECK_MESSAGE(equal(loaded_state[i].second, state[i].second), state[i].first);
    }
}
