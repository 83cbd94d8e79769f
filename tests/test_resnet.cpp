// The example's residual network (examples/fashion_mnist/resnet.hpp) computes the function of its
// PyTorch twin (examples/fashion_mnist/torch_resnet.py): the same weights, loaded by name, give
// PyTorch's logits, loss, input and parameter gradients and running statistics
// (tests/data/torch_resnet_reference.py), in training and eval mode; in float64 to rounding, in
// float32 (oneDNN) to float32's precision. A basic block's identity shortcut, its projection and
// global average pooling are all inside.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "examples/fashion_mnist/resnet.hpp"
#include "support/reference.hpp"

using namespace nalgrad;

namespace {

const std::map<std::string, Tensor>& reference() {
    static const auto tensors =
        testing::load_reference(std::string(NALGRAD_TEST_DATA) + "/resnet_reference.txt");
    return tensors;
}

const Tensor& reference_tensor(const std::string& name) {
    auto found = reference().find(name);
    if (found == reference().end()) throw Error("no reference tensor '" + name + "'");
    return found->second;
}

// Loads the reference's initial state (names under `prefix`) by name; every name must match,
// both ways.
void load_initial(const NamedTensors& state, const std::string& prefix = "init.") {
    std::size_t initial = 0;
    for (const auto& [name, t] : reference()) initial += name.starts_with(prefix);
    CHECK(state.size() == initial);
    for (const auto& entry : state) {
        Tensor destination = entry.tensor;
        destination.copy_(reference_tensor(prefix + entry.name).astype(destination.dtype()));
    }
}

void check_close(const std::string& what, const Tensor& got, const Tensor& expected,
                 double tolerance) {
    CAPTURE(what);
    REQUIRE(got.shape() == expected.shape());
    const double scale = std::max(1.0, max_abs_diff(expected, zeros_like(expected)));
    CHECK(max_abs_diff(got.astype(f64), expected) <= tolerance * scale);
}

void compare_pass(DType dtype, bool training, double tolerance) {
    CAPTURE(dtype_name(dtype));
    CAPTURE(training);
    examples::ResNet model({.widths = {3, 4, 6}, .blocks = 2, .dtype = dtype});
    load_initial(model.state());
    model.train(training);
    const std::string mode = training ? "train" : "eval";
    Var x = requires_grad(reference_tensor("x").astype(dtype));
    Var logits = model(x);
    Var loss = softmax_cross_entropy(logits, reference_tensor("labels").astype(i64));
    loss.backward();
    check_close("logits", logits.value(), reference_tensor(mode + ".logits"), tolerance);
    check_close("loss", loss.value().reshape({1}), reference_tensor(mode + ".loss").reshape({1}),
                tolerance);
    check_close("dx", x.grad(), reference_tensor(mode + ".dx"), tolerance);
    for (const auto& p : model.parameters())
        check_close(p.name + " gradient", p.var.grad(), reference_tensor(mode + ".grad." + p.name),
                    tolerance);
    if (!training) return;
    for (const auto& b : model.buffers())
        check_close(b.name + " after", b.tensor.astype(f64),
                    reference_tensor("train.after." + b.name), tolerance);
}

}  // namespace

TEST_CASE("the residual network equals its PyTorch twin in float64, training and eval") {
    compare_pass(f64, true, 1e-10);
    compare_pass(f64, false, 1e-10);
}

TEST_CASE("the residual network equals its PyTorch twin in float32 to float32's precision") {
    compare_pass(f32, true, 2e-4);
    compare_pass(f32, false, 2e-4);
}

TEST_CASE("the residual network's parameter and buffer names are PyTorch's") {
    examples::ResNet model({.widths = {3, 4, 6}, .blocks = 2, .dtype = f64});
    const NamedTensors state = model.state();
    CHECK(state[0].name == "conv1.weight");
    const auto has = [&](const std::string& name) {
        for (const auto& entry : state)
            if (entry.name == name) return true;
        return false;
    };
    CHECK(has("layer1.1.bn2.running_var"));
    CHECK(has("layer2.0.downsample.conv.weight"));
    CHECK(has("layer2.0.downsample.bn.num_batches_tracked"));
    CHECK_FALSE(has("layer1.0.downsample.conv.weight"));  // 3 -> 3 channels at stride 1
    CHECK_FALSE(has("layer2.1.downsample.conv.weight"));
    CHECK(has("fc.bias"));
}

TEST_CASE("global average pooling and one basic block with a projection equal PyTorch's") {
    Var x = requires_grad(reference_tensor("gap.x"));
    Var y = global_avg_pool2d(x);
    y.backward(reference_tensor("gap.dy"));
    check_close("gap y", y.value(), reference_tensor("gap.y"), 1e-14);
    check_close("gap dx", x.grad(), reference_tensor("gap.dx"), 1e-14);

    examples::BasicBlock block(3, 5, 2, f64);
    load_initial(block.state(), "block.init.");
    Var bx = requires_grad(reference_tensor("block.x"));
    Var by = block(bx);
    by.backward(reference_tensor("block.dy"));
    check_close("block y", by.value(), reference_tensor("block.y"), 1e-12);
    check_close("block dx", bx.grad(), reference_tensor("block.dx"), 1e-12);
    for (const auto& p : block.parameters())
        check_close(p.name + " gradient", p.var.grad(), reference_tensor("block.grad." + p.name),
                    1e-12);
}
