// relu(conv2d(...)): the relu runs inside the convolution's forward (a oneDNN post-op in float32,
// the last step of each output element in float64) when nothing else holds the convolution's
// output. The fused path must give the unfused values and gradients, and fuse only when safe.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/conv.hpp"
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

bool has_negative(const Tensor& t) {
    for (double v : t.to_vector())
        if (v < 0) return true;
    return false;
}

struct Inputs {
    Var x, k, b;
};

Inputs random_inputs(const Problem& p, DType dtype, Generator& gen) {
    Inputs in{uniform(p.x, -1, 1, dtype, gen).requires_grad(),
              uniform(p.k, -1, 1, dtype, gen).requires_grad(), Var{}};
    if (p.bias) in.b = uniform({p.k[3]}, -0.5, 0.5, dtype, gen).requires_grad();
    return in;
}

struct Result {
    Tensor y, dx, dk, db;
};

// Runs `model`, then backward with `dy`, and collects the value and the three gradients.
template <typename Model>
Result run(const Inputs& in, const Tensor& dy, Model model) {
    // Fresh leaves on the same values: each run accumulates its own gradients.
    Var x = in.x.value().requires_grad(), k = in.k.value().requires_grad();
    Var b = in.b.defined() ? in.b.value().requires_grad() : Var{};
    Var y = model(x, k, b);
    y.backward(dy);
    return {y.value(), x.grad(), k.grad(), b.defined() ? b.grad() : Tensor{}};
}

}  // namespace

TEST_CASE("fused relu(conv2d) gives the unfused values and gradients, float32 and float64") {
    Generator gen(5);
    for (const DType dtype : {f32, f64})
        for (const Problem& p : problems) {
            INFO(p.what, " ", dtype_name(dtype));
            const Inputs in = random_inputs(p, dtype, gen);
            const Shape y_shape = conv2d_window(p.x, p.k, p.options).output_shape(p.k[3]);
            const Tensor dy = uniform(y_shape, -1, 1, dtype, gen);

            const int64_t before = fused_so_far();
            const Result separate = run(in, dy, [&](const Var& x, const Var& k, const Var& b) {
                Var h = conv2d(x, k, b, p.options);  // a named output: never fused
                return relu(h);
            });
            CHECK(fused_so_far() == before);
            const Result fused = run(in, dy, [&](const Var& x, const Var& k, const Var& b) {
                return relu(conv2d(x, k, b, p.options));
            });
            CHECK(fused_so_far() == before + 1);

            // The same convolution and the same max(., 0); the relu eltwise kernel and the post-op
            // may differ in the sign of zero, which max_abs_diff does not see.
            CHECK(max_abs_diff(fused.y, separate.y) == 0);
            CHECK(equal(fused.dx, separate.dx));
            CHECK(equal(fused.dk, separate.dk));
            if (p.bias) CHECK(equal(fused.db, separate.db));
        }
}

TEST_CASE("gradcheck (float64) of relu(conv2d) through the fused path") {
    Generator gen(6);
    for (const Problem& p : {problems[2], problems[3], problems[4]}) {
        // Small batches and channels: the full Jacobian.
        const Shape x{1, p.x[1], p.x[2], p.x[3]};
        std::vector<Var> in{testing::random_input(x, gen), testing::random_input(p.k, gen)};
        if (p.bias) in.push_back(testing::random_input({p.k[3]}, gen));
        const Conv2dOptions options = p.options;
        const int64_t before = fused_so_far();
        testing::check_gradients(
            p.what,
            [options](const std::vector<Var>& v) {
                return relu(conv2d(v[0], v[1], v.size() > 2 ? v[2] : Var{}, options));
            },
            in);
        CHECK(fused_so_far() > before);
    }
}

TEST_CASE("the tape still shows conv2d then relu, and NoGradGuard inference fuses too") {
    Generator gen(7);
    const Inputs in = random_inputs(problems[0], f32, gen);
    const Var y = relu(conv2d(in.x, in.k, in.b, {.padding = same}));
    CHECK(y.op_name() == "relu");
    const auto& conv_node = y.node()->producer->inputs.at(0);
    REQUIRE(conv_node->producer);
    CHECK(conv_node->producer->op == "conv2d");
    const std::string dot = to_dot(y);
    CHECK(dot.find("conv2d") != std::string::npos);
    CHECK(dot.find("relu") != std::string::npos);

    const int64_t before = fused_so_far();
    NoGradGuard no_grad;
    const Var inference = relu(conv2d(in.x, in.k, in.b, {.padding = same}));
    CHECK(fused_so_far() == before + 1);
    CHECK(inference.is_leaf());
    CHECK(max_abs_diff(inference.value(), y.value()) == 0);
}

TEST_CASE("a convolution output used elsewhere is not fused, and keeps its pre-activation value") {
    Generator gen(8);
    const Problem& p = problems[4];
    std::vector<Var> in{testing::random_input(p.x, gen), testing::random_input(p.k, gen),
                        testing::random_input({p.k[3]}, gen)};
    const int64_t before = fused_so_far();
    // relu(h) + h: h is read twice, so it must hold conv2d's own values.
    testing::check_gradients(
        "relu(h) + h",
        [&](const std::vector<Var>& v) {
            Var h = conv2d(v[0], v[1], v[2], p.options);
            return relu(h) + h;
        },
        in);
    Var h = conv2d(in[0], in[1], in[2], p.options);
    Var y = relu(h) + h;
    CHECK(fused_so_far() == before);
    const Tensor pre = h.value();
    const Tensor expected = kernels::conv2d_forward_direct(
        in[0].value(), in[1].value(), in[2].value(), conv2d_window(p.x, p.k, p.options));
    CHECK(equal(pre, expected));
    CHECK(has_negative(pre));  // so a relu applied to it would show
}

TEST_CASE("a value read before relu is the pre-activation; a moved output fuses") {
    Generator gen(9);
    const Problem& p = problems[2];
    const Inputs in = random_inputs(p, f32, gen);
    const int64_t before = fused_so_far();

    Var read = conv2d(in.x, in.k, in.b, p.options);
    const Tensor pre = read.value();  // runs the forward: nothing left to fuse
    CHECK(has_negative(pre));
    const Var after_read = relu(std::move(read));
    CHECK(fused_so_far() == before);
    CHECK(!has_negative(after_read.value()));

    // Reading any other variable also runs the pending forward, so its captured inputs are the
    // values at the call.
    Var pending = conv2d(in.x, in.k, in.b, p.options);
    (void)in.x.value();
    const Var late = relu(std::move(pending));
    CHECK(fused_so_far() == before);

    Var moved = conv2d(in.x, in.k, in.b, p.options);
    const Var fused = relu(std::move(moved));
    CHECK(fused_so_far() == before + 1);
    CHECK(!moved.defined());  // taken over: the pre-activation cannot be read through it
    CHECK(max_abs_diff(fused.value(), after_read.value()) == 0);
    CHECK(max_abs_diff(late.value(), after_read.value()) == 0);
}

TEST_CASE("a pending convolution output: backward from it, and an input written in place") {
    Generator gen(10);
    const Problem& p = problems[3];
    const Inputs in = random_inputs(p, f64, gen);
    const Shape y_shape = conv2d_window(p.x, p.k, p.options).output_shape(p.k[3]);
    Var x = in.x.value().requires_grad();
    conv2d(x, in.k, in.b, p.options).backward(ones(y_shape, f64));
    CHECK(x.grad().defined());

    // A write to the tensor itself (not through a variable) before any read: refused, since
    // the forward would see the new values.
    Tensor kernel = in.k.value().clone();
    Var y = conv2d(in.x, Var(kernel), in.b, p.options);
    kernel.fill_(0);
    CHECK_THROWS_WITH_AS(y.value(), doctest::Contains("conv2d: an input tensor was modified"),
                         Error);
}

TEST_CASE("errors stay at the call, and anomaly detection computes eagerly and names the op") {
    Generator gen(11);
    const Var x = uniform({1, 4, 4, 2}, -1, 1, f32, gen).requires_grad();
    const Var wrong_channels = uniform({3, 3, 3, 4}, -1, 1, f32, gen);
    CHECK_THROWS_WITH_AS(relu(conv2d(x, wrong_channels)),
                         doctest::Contains("conv2d: kernel input channels differ"), Error);

    DetectAnomaly detect;
    const int64_t before = fused_so_far();
    const Var big = full({1, 2, 2, 1}, 1e30, f32).requires_grad();
    const Var k = full({1, 1, 1, 1}, 1e30, f32);
    CHECK_THROWS_WITH_AS(relu(conv2d(big, k)), doctest::Contains("conv2d: anomaly in forward"),
                         Error);
    const Var finite = relu(conv2d(x, uniform({3, 3, 2, 4}, -1, 1, f32, gen)));
    CHECK(fused_so_far() == before);  // detection on: computed eagerly, never fused
    CHECK(finite.op_name() == "relu");
}

TEST_CASE("threads reading one pending output at once: one of them runs the forward") {
    Generator gen(12);
    const Problem& p = problems[1];
    const Inputs in = random_inputs(p, f32, gen);
    const Var y = conv2d(in.x, in.k, in.b, p.options);  // handed to other threads unread
    Tensor first, second;
    std::thread a([&] { first = y.value(); });
    std::thread b([&] { second = y.value(); });
    a.join();
    b.join();
    CHECK(first.shares_storage_with(second));
    CHECK(has_negative(first));  // the pre-activation
}
