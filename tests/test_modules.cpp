// Modules (nn/module.hpp): nested names through structs, vectors and optionals; buffers; train()
// and eval() reaching every layer; the BatchNorm2d layer; checkpoints with buffers and optimizer
// state refusing missing and extra names; conv + batch norm folding.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

using namespace nalgrad;
using nalgrad::testing::error_of;
using nalgrad::testing::TempDir;

namespace {

struct Block {
    Block(int64_t channels, bool project)
        : conv1(channels, channels, {3, 3}, {.padding = same}, {.dtype = f64, .bias = false}),
          bn1(channels, {}, {.dtype = f64}) {
        if (project) shortcut = Conv2d(channels, channels, {1, 1}, {}, {.dtype = f64});
    }
    Var operator()(const Var& x) const {
        return relu(bn1(conv1(x)) + (shortcut ? (*shortcut)(x) : x));
    }
    Conv2d conv1;
    BatchNorm2d bn1;
    std::optional<Conv2d> shortcut;
    NALGRAD_MODULE(conv1, bn1, shortcut)
};

struct Net {
    Conv2d stem{1, 2, {3, 3}, {.padding = same}, {.dtype = f64}};
    std::vector<Block> layer1 = [] {
        std::vector<Block> blocks;
        blocks.emplace_back(2, true);
        blocks.emplace_back(2, false);
        return blocks;
    }();
    Dropout drop{0.5, 1};
    Dense fc{2 * 3 * 3, 3, {.dtype = f64}};
    Var operator()(const Var& x) {
        Var h = stem(x);
        for (const Block& b : layer1) h = b(h);
        return fc(drop(flatten(h)));
    }
    NALGRAD_MODULE(stem, layer1, drop, fc)
};

// Writes into a variable's storage (its value is a handle to it).
void set(const Var& v, const Tensor& values) {
    Tensor storage = v.value();
    storage.copy_(values);
}

std::vector<std::string> names(const auto& named) {
    std::vector<std::string> out;
    for (const auto& n : named) out.push_back(n.name);
    return out;
}

}  // namespace

TEST_CASE("module names nest through structs, vectors and optionals, in declaration order") {
    Net net;
    CHECK(names(net.parameters()) ==
          std::vector<std::string>{"stem.weight", "stem.bias", "layer1.0.conv1.weight",
                                   "layer1.0.bn1.weight", "layer1.0.bn1.bias",
                                   "layer1.0.shortcut.weight", "layer1.0.shortcut.bias",
                                   "layer1.1.conv1.weight", "layer1.1.bn1.weight",
                                   "layer1.1.bn1.bias", "fc.weight", "fc.bias"});
    CHECK(names(net.buffers()) ==
          std::vector<std::string>{"layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
                                   "layer1.0.bn1.num_batches_tracked", "layer1.1.bn1.running_mean",
                                   "layer1.1.bn1.running_var", "layer1.1.bn1.num_batches_tracked"});
    // state(): the parameters' values, then the buffers, sharing storage with them.
    NamedTensors state = net.state();
    REQUIRE(state.size() == 18);
    CHECK(state[2].name == "layer1.0.conv1.weight");
    CHECK(state[2].tensor.shares_storage_with(net.layer1[0].conv1.weight.value()));
    CHECK(state[12].name == "layer1.0.bn1.running_mean");
    CHECK(state[12].tensor.shares_storage_with(net.layer1[0].bn1.running_mean));
    // A conv without bias has no bias parameter.
    CHECK_FALSE(net.layer1[0].conv1.bias.defined());
}

TEST_CASE("train() and eval() reach every layer with a mode") {
    Net net;
    CHECK(net.is_training());
    net.eval();
    CHECK_FALSE(net.is_training());
    CHECK_FALSE(net.drop.training);
    CHECK_FALSE(net.layer1[0].bn1.options.training);
    CHECK_FALSE(net.layer1[1].bn1.options.training);
    net.train();
    CHECK(net.drop.training);
    CHECK(net.layer1[1].bn1.options.training);
    net.layer1[1].eval();  // one block alone
    CHECK(net.layer1[0].bn1.options.training);
    CHECK_FALSE(net.layer1[1].bn1.options.training);
    CHECK(net.is_training());
}

TEST_CASE("BatchNorm2d: PyTorch's initial state, the op's values, running statistics by mode") {
    BatchNorm2d bn(2, {.momentum = 0.5, .eps = 0}, {.dtype = f64});
    CHECK(bn.weight.value().to_vector() == std::vector<double>{1, 1});
    CHECK(bn.bias.value().to_vector() == std::vector<double>{0, 0});
    CHECK(bn.running_var.to_vector() == std::vector<double>{1, 1});
    CHECK(bn.num_batches_tracked.dtype() == i64);
    // Channel 0: 0, 0, 4, 4 (mean 2, biased var 4, unbiased 16/3); channel 1: -1, 1, -1, 1.
    Var x = tensor({0, -1, 0, 1, 4, -1, 4, 1}, {1, 2, 2, 2}, f64);
    Var y = bn(x);
    CHECK(y.value().to_vector() == std::vector<double>{-1, -1, -1, 1, 1, -1, 1, 1});
    CHECK(bn.running_mean.to_vector() == std::vector<double>{1, 0});
    CHECK(bn.running_var.at(0) == doctest::Approx(0.5 + 0.5 * 16.0 / 3));
    CHECK(bn.num_batches_tracked.item() == 1);
    bn.eval();
    const std::vector<double> mean = bn.running_mean.to_vector();
    Var z = bn(x);  // (x - running_mean) / sqrt(running_var)
    CHECK(z.value().at(4) == doctest::Approx((4 - 1) / std::sqrt(0.5 + 0.5 * 16.0 / 3)));
    CHECK(bn.running_mean.to_vector() == mean);
    CHECK(bn.num_batches_tracked.item() == 1);
    // Refusals name the layer and the argument.
    CHECK(error_of([] { BatchNorm2d(0); }).find("BatchNorm2d: channels must be at least 1") == 0);
    bn.train();
    std::string message = error_of([&] { bn(Var(zeros({1, 1, 1, 2}, f64))); });
    CHECK(message.find("batch_norm2d") != std::string::npos);
    CHECK(message.find("more than 1 value per channel") != std::string::npos);
    CHECK(bn.num_batches_tracked.item() == 1);  // the refused batch is not counted
}

TEST_CASE(
    "training checkpoints hold parameters, buffers and optimizer state, and refuse "
    "missing or extra names") {
    TempDir dir;
    const std::string path = dir / "net.safetensors";
    manual_seed(3);
    Net a;
    optim::SGD opt_a(a.parameters(), {.lr = 0.1, .momentum = 0.9});
    Var x = normal({2, 3, 3, 1}, f64, default_generator());
    for (int i = 0; i < 2; ++i) {
        opt_a.zero_grad();
        sum(a(x) * a(x)).backward();
        opt_a.step();
    }
    save_training_checkpoint(path, a.state(), opt_a, {{"epoch", "2"}});

    manual_seed(4);
    Net b;
    optim::SGD opt_b(b.parameters(), {.lr = 0.1, .momentum = 0.9});
    CHECK(load_training_checkpoint(path, b.state(), opt_b).at("epoch") == "2");
    const NamedTensors sa = a.state(), sb = b.state();
    for (std::size_t i = 0; i < sa.size(); ++i) {
        CAPTURE(sa[i].name);
        CHECK(equal(sa[i].tensor, sb[i].tensor));
    }
    CHECK(b.layer1[0].bn1.num_batches_tracked.item() == 4);  // two batches, used twice each
    REQUIRE(opt_b.state().size() == opt_a.state().size());
    for (std::size_t i = 0; i < opt_a.state().size(); ++i)
        CHECK(equal(opt_a.state()[i].second, opt_b.state()[i].second));

    // A model without layer1[1] lacks names the file has; one with a third block has names the
    // file lacks. Both are refused with the names listed, and nothing is loaded.
    Net fewer, more;
    fewer.layer1.pop_back();
    more.layer1.emplace_back(2, false);
    optim::SGD opt_fewer(fewer.parameters(), {.lr = 0.1}), opt_more(more.parameters(), {.lr = 0.1});
    const Tensor before = fewer.stem.weight.value().clone();
    std::string message =
        error_of([&] { load_training_checkpoint(path, fewer.state(), opt_fewer); });
    CHECK(message.find("has 6 entries the model lacks: 'layer1.1.conv1.weight'") !=
          std::string::npos);
    CHECK(message.find("'layer1.1.bn1.num_batches_tracked'") != std::string::npos);
    CHECK(equal(fewer.stem.weight.value(), before));
    message = error_of([&] { load_training_checkpoint(path, more.state(), opt_more); });
    CHECK(message.find("6 missing: 'layer1.2.conv1.weight' (F64 [3, 3, 2, 2])") !=
          std::string::npos);
    // A plain load of the model's state refuses the optimizer's entries unless told to skip them.
    message = error_of([&] { load(b.state(), path); });
    CHECK(message.find("extra (ExtraTensors::ignore skips them): 'optimizer.0.momentum_buffer'") !=
          std::string::npos);
    load(b.state(), path, ExtraTensors::ignore);
}

TEST_CASE("a convolution folded with the batch norm after it equals the two in eval mode") {
    for (DType dtype : {f64, f32}) {
        CAPTURE(dtype_name(dtype));
        manual_seed(9);
        for (bool bias : {true, false}) {
            Conv2d conv(3, 4, {3, 3}, {.stride = 2, .padding = same},
                        {.dtype = dtype, .bias = bias});
            if (bias) set(conv.bias, tensor({0.5, -1, 2, 0}, {4}, dtype));
            BatchNorm2d bn(4, {.activation = Activation::relu}, {.dtype = dtype});
            Var x = normal({2, 5, 5, 3}, dtype, default_generator());
            bn(conv(x));  // a training-mode pass gives running statistics that are not 0 and 1
            set(bn.weight, tensor({1.5, -0.5, 2, 1}, {4}, dtype));
            set(bn.bias, tensor({0.1, 0.2, -0.3, 0}, {4}, dtype));
            CHECK(error_of([&] { fold_batch_norm(conv, bn); }).find("training mode") !=
                  std::string::npos);
            bn.eval();
            Conv2d folded = fold_batch_norm(conv, bn);
            CHECK(folded.options.activation == Activation::relu);
            const Tensor expected = bn(conv(x)).value(), got = folded(x).value();
            CHECK(max_abs_diff(expected, got) < (dtype == f64 ? 1e-12 : 2e-5));
            CHECK(max_abs_diff(expected, zeros_like(expected)) > 0.5);  // not all clipped
        }
    }
    Conv2d conv(3, 4, {1, 1});
    BatchNorm2d bn(5);
    bn.eval();
    CHECK(error_of([&] { fold_batch_norm(conv, bn); }) ==
          "fold_batch_norm: bn has 5 channels, the convolution's weight [1, 1, 3, 4] has 4 "
          "outputs");
}
