// conv2d with {.activation = Activation::relu}: one op ("conv2d_relu"), the relu inside the
// convolution's forward (a oneDNN post-op in float32, the last step of each output element in
// float64) and its mask in the op's gradient. It must give the values and gradients of
// relu(conv2d(...)), which stays two ops and is never fused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/conv.hpp"
#include "graph/tape.hpp"
#include "tests/support/gradients.hpp"

using namespace nalgrad;

namespace {

int64_t fused_so_far() {
    return kernels::conv2d_cache_stats().relu_fused_forwards;
}

struct Problem {
    Shape x, k;
    Conv2dOptions options;
    bool bias = true;
    const char* what = "";
};

// The geometries of the example model, and the window rules that change the kernel's borders.
const Problem problems[] = {
    {{4, 28, 28, 1}, {5, 5, 1, 32}, {.padding = same}, true, "lenet conv1"},
    {{2, 14, 14, 32}, {5, 5, 32, 64}, {.padding = same}, true, "lenet conv2"},
    {{3, 9, 8, 3}, {3, 2, 3, 5}, {.stride = 2, .padding = same}, false, "strided, no bias"},
    {{2, 7, 7, 8}, {1, 1, 8, 16}, {.stride = 2}, true, "1x1 strided"},
    {{1, 9, 9, 2},
     {3, 3, 2, 4},
     {.dilation = 2, .padding = Padding(1, 0, 2, 1)},
     true,
     "dilated, explicit"},
};

Conv2dOptions with_relu(Conv2dOptions options) {
    options.activation = Activation::relu;
    return options;
}

bool has_negative(const Tensor& t) {
    for (double v : t.to_vector())
        if (v < 0) return true;
    return false;
}

struct Inputs {
    Var x, k, b;
};

Inputs random_inputs(const Problem& p, DType dtype, Generator& gen) {
    Inputs in{requires_grad(uniform(p.x, -1, 1, dtype, gen)),
              requires_grad(uniform(p.k, -1, 1, dtype, gen)), Var{}};
    if (p.bias) in.b = requires_grad(uniform({p.k[3]}, -0.5, 0.5, dtype, gen));
    return in;
}

struct Result {
    Tensor y, dx, dk, db;
};

// Runs `model`, then backward with `dy`, and collects the value and the three gradients.
template <typename Model>
Result run(const Inputs& in, const Tensor& dy, Model model) {
    // Fresh leaves on the same values: each run accumulates its own gradients.
    Var x = requires_grad(in.x.value()), k = requires_grad(in.k.value());
    Var b = in.b.defined() ? requires_grad(in.b.value()) : Var{};
    Var y = model(x, k, b);
    y.backward(dy);
    return {y.value(), x.grad(), k.grad(), b.defined() ? b.grad() : Tensor{}};
}

}  // namespace

TEST_CASE("conv2d with relu gives relu(conv2d)'s values and gradients, float32 and float64") {
    Generator gen(5);
    for (const DType dtype : {f32, f64})
        for (const Problem& p : problems) {
            INFO(p.what, " ", dtype_name(dtype));
            const Inputs in = random_inputs(p, dtype, gen);
            const Shape y_shape = conv2d_window(p.x, p.k, p.options).output_shape(p.k[3]);
            const Tensor dy = uniform(y_shape, -1, 1, dtype, gen);

            const int64_t before = fused_so_far();
            const Result separate = run(in, dy, [&](const Var& x, const Var& k, const Var& b) {
                return relu(conv2d(x, k, b, p.options));
            });
            CHECK(fused_so_far() == before);  // two ops: the convolution applies nothing
            const Result fused = run(in, dy, [&](const Var& x, const Var& k, const Var& b) {
                return conv2d(x, k, b, with_relu(p.options));
            });
            CHECK(fused_so_far() == before + 1);
            CHECK(has_negative(dy));

            // The same convolution and the same max(., 0); the relu eltwise kernel and the post-op
            // may differ in the sign of zero, which max_abs_diff does not see.
            CHECK(max_abs_diff(fused.y, separate.y) == 0);
            CHECK(!has_negative(fused.y));
            CHECK(equal(fused.dx, separate.dx));
            CHECK(equal(fused.dk, separate.dk));
            if (p.bias) CHECK(equal(fused.db, separate.db));
        }
}

TEST_CASE("gradcheck (float64) of conv2d with relu") {
    Generator gen(6);
    for (const Problem& p : {problems[2], problems[3], problems[4]}) {
        // Small batches and channels: the full Jacobian.
        const Shape x{1, p.x[1], p.x[2], p.x[3]};
        std::vector<Var> in{testing::random_input(x, gen), testing::random_input(p.k, gen)};
        if (p.bias) in.push_back(testing::random_input({p.k[3]}, gen));
        const Conv2dOptions options = with_relu(p.options);
        testing::check_gradients(
            p.what,
            [options](const std::vector<Var>& v) {
                return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Var{}, options);
            },
            in);
    }
}

TEST_CASE("conv2d with relu is one record on the inputs; relu(conv2d) is two") {
    Generator gen(7);
    const Inputs in = random_inputs(problems[0], f32, gen);
    const std::size_t records = tape_size();
    const Var y = conv2d(in.x, in.k, in.b, {.padding = same, .activation = Activation::relu});
    CHECK(tape_size() == records + 1);
    CHECK(y.op_name() == "conv2d_relu");
    const TapeRecord& rec = *node_of(y)->producer;
    REQUIRE(rec.inputs.size() == 3);
    CHECK(rec.inputs[0] == node_of(in.x));
    CHECK(to_dot(y).find("conv2d_relu") != std::string::npos);

    const Var two = relu(conv2d(in.x, in.k, in.b, {.padding = same}));
    CHECK(tape_size() == records + 3);
    CHECK(two.op_name() == "relu");
    CHECK(node_of(two)->producer->inputs.at(0)->producer->op == "conv2d");

    NoGradGuard no_grad;
    const Var inference =
        conv2d(in.x, in.k, in.b, {.padding = same, .activation = Activation::relu});
    CHECK(inference.is_leaf());
    CHECK(max_abs_diff(inference.value(), y.value()) == 0);
}

TEST_CASE("the forward runs at the call: later writes to an input change nothing already made") {
    Generator gen(10);
    const Problem& p = problems[3];
    const Inputs in = random_inputs(p, f64, gen);
    Tensor kernel = in.k.value().clone();
    Var k(kernel, true);
    const Var y = conv2d(in.x, k, in.b, with_relu(p.options));
    const Tensor before = y.value().clone();
    kernel.fill_(0);
    CHECK(equal(y.value(), before));
    CHECK(has_negative(in.x.value()));
    // The gradient would read the new kernel: refused.
    CHECK_THROWS_WITH_AS(y.backward(ones(y.shape(), f64)),
                         doctest::Contains("was modified in place"), Error);
}

TEST_CASE("errors are at the call, and anomaly detection names conv2d_relu") {
    Generator gen(11);
    const Var x = requires_grad(uniform({1, 4, 4, 2}, -1, 1, f32, gen));
    const Var wrong_channels = uniform({3, 3, 3, 4}, -1, 1, f32, gen);
    const int64_t before = fused_so_far();
    CHECK_THROWS_WITH_AS(conv2d(x, wrong_channels, {}, {.activation = Activation::relu}),
                         doctest::Contains("conv2d: kernel input channels differ"), Error);
    CHECK(fused_so_far() == before);

    DetectAnomaly detect;
    const Var big = requires_grad(full({1, 2, 2, 1}, 1e30, f32));
    const Var k = full({1, 1, 1, 1}, 1e30, f32);
    CHECK_THROWS_WITH_AS(conv2d(big, k, {}, {.activation = Activation::relu}),
                         doctest::Contains("conv2d_relu: anomaly in forward"), Error);
}
