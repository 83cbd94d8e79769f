// batch_norm2d: values and gradients by hand in training and eval, the running statistics'
// update, float32 (oneDNN) against the own loops and float64, PyTorch's numbers
// (tests/data/torch_batch_norm.py), gradcheck, the fused relu, and the refusals.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/batch_norm.hpp"
#include "support/gradients.hpp"
#include "support/reference.hpp"

using namespace nalgrad;

namespace {

void check_close(const Tensor& t, const std::vector<double>& expected, double tolerance = 1e-6) {
    const std::vector<double> got = t.to_vector();
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i)
        CHECK_MESSAGE(std::abs(got[i] - expected[i]) <= tolerance,
                      fmt::format("element {}: got {}, expected {}", i, got[i], expected[i]));
}

// x is NHWC [1, 2, 2, 2], flat: pixel by pixel, channel 0 then 1. Channel 0 holds 0, 0, 4, 4 and
// channel 1 holds -1, 1, -1, 1.
Tensor hand_x(DType dtype) {
    return tensor({0, -1, 0, 1, 4, -1, 4, 1}, {1, 2, 2, 2}, dtype);
}
// dy: 1 on channel 0 of the first pixel, 2 on channel 1 of the last.
Tensor hand_dy(DType dtype) {
    return tensor({1, 0, 0, 0, 0, 0, 0, 2}, {1, 2, 2, 2}, dtype);
}

}  // namespace

// Training, eps 0, gamma [2, 3], beta [1, -1]:
// channel 0: mean 2, biased var 4 (std 2), xhat -1, -1, 1, 1, y = 2 xhat + 1 = -1, -1, 3, 3;
// channel 1: mean 0, var 1, xhat = x, y = 3 xhat - 1 = -4, 2, -4, 2.
// Running (from mean 0, var 1, momentum 0.1), with the unbiased variances 16/3 and 4/3:
// mean 0.1 * [2, 0] = [0.2, 0]; var 0.9 + 0.1 [16/3, 4/3] = [1.43333.., 1.03333..].
// Backward, dx = gamma / std (dy - mean(dy) - xhat mean(dy xhat)):
// channel 0: dy 1, 0, 0, 0: mean(dy) 1/4, mean(dy xhat) -1/4, dx = 1 * (dy - 1/4 + xhat / 4)
// = 0.5, -0.5, 0, 0; dgamma = sum(dy xhat) = -1, dbeta = 1.
// channel 1: dy 0, 0, 0, 2: mean(dy) 1/2, mean(dy xhat) 1/2, dx = 3 (dy - 1/2 - xhat / 2)
// = 0, -3, 0, 3; dgamma = 2, dbeta = 2.
TEST_CASE("batch_norm2d by hand in training: batch statistics, running update, gradients") {
    for (const DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Var x = requires_grad(hand_x(dtype));
        Var gamma = requires_grad(tensor({2, 3}, {2}, dtype));
        Var beta = requires_grad(tensor({1, -1}, {2}, dtype));
        Tensor mean = zeros({2}, dtype), var = ones({2}, dtype);
        const uint64_t versions = mean.version() + var.version();
        Var y = batch_norm2d(x, gamma, beta, mean, var, {.eps = 0});
        CHECK(y.op_name() == "batch_norm2d");
        check_close(y.value(), {-1, -4, -1, 2, 3, -4, 3, 2});
        check_close(mean, {0.2, 0});
        check_close(var, {0.9 + 0.1 * 16 / 3, 0.9 + 0.1 * 4 / 3});
        CHECK(mean.version() + var.version() == versions + 2);
        y.backward(hand_dy(dtype));
        check_close(x.grad(), {0.5, 0, -0.5, -3, 0, 0, 0, 3});
        check_close(gamma.grad(), {-1, 2});
        check_close(beta.grad(), {1, 2});
    }
}

// Eval, eps 0, running mean [1, 0], var [4, 0.25], gamma [2, 3], beta [1, -1]:
// channel 0: xhat = (x - 1) / 2 = -0.5, -0.5, 1.5, 1.5, y = 2 xhat + 1 = x = 0, 0, 4, 4;
// channel 1: xhat = x / 0.5 = -2, 2, -2, 2, y = 3 xhat - 1 = -7, 5, -7, 5.
// dx = gamma dy / std: factors 1 and 6, so dx is 1 (channel 0, first pixel) and 12 (channel 1,
// last pixel); dgamma = sum(dy xhat) = [-0.5, 2 * 2], dbeta = [1, 2].
TEST_CASE("batch_norm2d by hand in eval: running statistics normalise and stay") {
    for (const DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Var x = requires_grad(hand_x(dtype));
        Var gamma = requires_grad(tensor({2, 3}, {2}, dtype));
        Var beta = requires_grad(tensor({1, -1}, {2}, dtype));
        Tensor mean = tensor({1, 0}, {2}, dtype), var = tensor({4, 0.25}, {2}, dtype);
        const uint64_t versions = mean.version() + var.version();
        Var y = batch_norm2d(x, gamma, beta, mean, var, {.training = false, .eps = 0});
        check_close(y.value(), {0, -7, 0, 5, 4, -7, 4, 5});
        CHECK(mean.version() + var.version() == versions);
        CHECK(mean.to_vector() == std::vector<double>{1, 0});
        CHECK(var.to_vector() == std::vector<double>{4, 0.25});
        y.backward(hand_dy(dtype));
        check_close(x.grad(), {1, 0, 0, 0, 0, 0, 0, 12});
        check_close(gamma.grad(), {-0.5, 4});
        check_close(beta.grad(), {1, 2});
    }
}

TEST_CASE("batch_norm2d without gamma and beta, and running statistics over several steps") {
    // Batch 1, 1x3 pixels, one channel: 1, 2, 6: mean 3, biased var 14/3, unbiased 7.
    Tensor mean = zeros({1}, f64), var = ones({1}, f64);
    Var x(tensor({1, 2, 6}, {1, 1, 3, 1}, f64));
    for (int step = 0; step < 2; ++step)
        batch_norm2d(x, Var{}, Var{}, mean, var, {.momentum = 0.5});
    // mean: 0 -> 1.5 -> 2.25; var: 1 -> 4 -> 5.5.
    check_close(mean, {2.25}, 1e-12);
    check_close(var, {5.5}, 1e-12);
    const Tensor y = batch_norm2d(x, Var{}, Var{}, mean, var, {.eps = 0}).value();
    const double s = std::sqrt(14.0 / 3);
    check_close(y, {-2 / s, -1 / s, 3 / s}, 1e-12);
}

namespace {

struct Affine {
    Tensor gamma, beta;
};
Affine random_affine(int64_t c, Generator& gen) {
    return {uniform({c}, 0.5, 2, f64, gen), uniform({c}, -1, 1, f64, gen)};
}

// batch_norm2d in `dtype` on float64 data: y, dx, dgamma, dbeta and the running statistics.
struct Run {
    Tensor y, dx, dgamma, dbeta, mean, var;
};
Run run(const Tensor& x64, const Affine& a, const Tensor& dy64, DType dtype, bool training) {
    Var x = requires_grad(x64.astype(dtype));
    Var gamma = requires_grad(a.gamma.astype(dtype)), beta = requires_grad(a.beta.astype(dtype));
    const int64_t c = x64.size(3);
    Tensor mean = full({c}, 0.25, dtype), var = full({c}, 1.5, dtype);
    Var y = batch_norm2d(x, gamma, beta, mean, var, {.training = training});
    y.backward(dy64.astype(dtype));
    return {y.value(), x.grad(), gamma.grad(), beta.grad(), mean, var};
}

}  // namespace

TEST_CASE("batch_norm2d: float32 (oneDNN) agrees with float64 in values and all gradients") {
    Generator gen(41);
    const Tensor x = normal({3, 5, 4, 7}, 0.5, 2, f64, gen);
    const Tensor dy = normal({3, 5, 4, 7}, f64, gen);
    const Affine a = random_affine(7, gen);
    for (const bool training : {true, false}) {
        CAPTURE(training);
        const Run r32 = run(x, a, dy, f32, training), r64 = run(x, a, dy, f64, training);
        CHECK(max_abs_diff(r32.y.astype(f64), r64.y) < 1e-5);
        CHECK(max_abs_diff(r32.dx.astype(f64), r64.dx) < 1e-5);
        CHECK(max_abs_diff(r32.dgamma.astype(f64), r64.dgamma) < 1e-4);
        CHECK(max_abs_diff(r32.dbeta.astype(f64), r64.dbeta) < 1e-4);
        CHECK(max_abs_diff(r32.mean.astype(f64), r64.mean) < 1e-6);
        CHECK(max_abs_diff(r32.var.astype(f64), r64.var) < 1e-5);
    }
}

TEST_CASE("batch_norm2d kernels: oneDNN against the own loops in float32") {
    Generator gen(42);
    const Tensor x = normal({2, 6, 3, 5}, -1, 3, f32, gen), dy = normal({2, 6, 3, 5}, f32, gen);
    const Tensor gamma = uniform({5}, 0.5, 2, f32, gen), beta = uniform({5}, -1, 1, f32, gen);
    const Tensor mean = uniform({5}, -1, 1, f32, gen), var = uniform({5}, 0.5, 2, f32, gen);
    using kernels::BatchNormPath;
    for (const bool training : {true, false})
        for (const bool affine : {true, false}) {
            CAPTURE(training);
            CAPTURE(affine);
            const Tensor g = affine ? gamma : Tensor{}, b = affine ? beta : Tensor{};
            kernels::BatchNormSpec dnn{.training = training}, own = dnn;
            own.path = BatchNormPath::loops;
            auto f1 = kernels::batch_norm_forward(x, g, b, mean, var, dnn);
            auto f2 = kernels::batch_norm_forward(x, g, b, mean, var, own);
            CHECK(max_abs_diff(f1.y, f2.y) < 1e-5);
            CHECK(max_abs_diff(f1.mean, f2.mean) < 1e-5);
            CHECK(max_abs_diff(f1.var, f2.var) < 1e-4);
            auto b1 = kernels::batch_norm_backward(x, dy, g, b, f1.mean, f1.var, dnn);
            auto b2 = kernels::batch_norm_backward(x, dy, g, b, f2.mean, f2.var, own);
            CHECK(max_abs_diff(b1.dx, b2.dx) < 1e-5);
            CHECK(b1.dgamma.defined() == affine);
            if (affine) {
                CHECK(max_abs_diff(b1.dgamma, b2.dgamma) < 1e-4);
                CHECK(max_abs_diff(b1.dbeta, b2.dbeta) < 1e-4);
            }
        }
}

// In training the output does not read the running statistics, so their update on every call of
// gradcheck's function changes nothing it differentiates. In eval they are held fixed.
TEST_CASE("batch_norm2d gradcheck of x, gamma and beta in float64, both modes, with relu") {
    Generator gen(43);
    for (const bool training : {true, false})
        for (const Activation activation : {Activation::none, Activation::relu}) {
            CAPTURE(training);
            const Tensor mean = uniform({3}, -0.5, 0.5, f64, gen);
            const Tensor var = uniform({3}, 0.5, 2, f64, gen);
            const BatchNorm2dOptions options{.training = training, .activation = activation};
            testing::check_gradients("batch_norm2d",
                                     [mean, var, options](const std::vector<Var>& v) {
                                         Tensor m = mean, s = var;
                                         return batch_norm2d(v[0], v[1], v[2], m, s, options);
                                     },
                                     {testing::random_input({2, 3, 2, 3}, gen),
                                      requires_grad(uniform({3}, 0.5, 2, f64, gen)),
                                      requires_grad(uniform({3}, -0.5, 0.5, f64, gen))});
            testing::check_gradients("batch_norm2d without affine",
                                     [mean, var, options](const std::vector<Var>& v) {
                                         Tensor m = mean, s = var;
                                         return batch_norm2d(v[0], Var{}, Var{}, m, s, options);
                                     },
                                     {testing::random_input({1, 4, 3, 3}, gen)});
        }
}

TEST_CASE("batch_norm2d_relu is batch_norm2d then relu, in values and gradients") {
    Generator gen(44);
    const Tensor x64 = normal({2, 4, 3, 6}, f64, gen), dy64 = normal({2, 4, 3, 6}, f64, gen);
    const Affine a = random_affine(6, gen);
    for (const DType dtype : {f32, f64})
        for (const bool training : {true, false}) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(training);
            std::vector<Tensor> grads[2];
            Tensor ys[2];
            for (int fused = 0; fused < 2; ++fused) {
                Var x = requires_grad(x64.astype(dtype));
                Var gamma = requires_grad(a.gamma.astype(dtype));
                Var beta = requires_grad(a.beta.astype(dtype));
                Tensor mean = zeros({6}, dtype), var = ones({6}, dtype);
                BatchNorm2dOptions options{.training = training};
                if (fused) options.activation = Activation::relu;
                Var y = batch_norm2d(x, gamma, beta, mean, var, options);
                CHECK(y.op_name() == (fused ? "batch_norm2d_relu" : "batch_norm2d"));
                if (!fused) y = relu(y);
                y.backward(dy64.astype(dtype));
                ys[fused] = y.value();
                grads[fused] = {x.grad(), gamma.grad(), beta.grad()};
            }
            CHECK(max_abs_diff(ys[0], ys[1]) == 0);
            for (int i = 0; i < 3; ++i) CHECK(max_abs_diff(grads[0][i], grads[1][i]) < 1e-6);
        }
}

TEST_CASE("batch_norm2d refuses bad input with the op, the argument and the shapes") {
    Tensor mean = zeros({3}, f32), var = ones({3}, f32);
    const Var x(zeros({2, 2, 2, 3}, f32));
    const Var g(ones({3}, f32)), b(zeros({3}, f32));
    auto throws = [](auto&& call, const char* text) {
        CHECK_THROWS_WITH_AS(call(), doctest::Contains(text), Error);
    };
    throws(
        [&] {
            batch_norm2d(Var(zeros({1, 1, 1, 3}, f32)), g, b, mean, var);
        },
        "batch_norm2d: expected more than 1 value per channel when training, got x "
        "[1, 1, 1, 3]");
    // Eval with one value per channel is fine.
    CHECK(
        batch_norm2d(Var(zeros({1, 1, 1, 3}, f32)), g, b, mean, var, {.training = false}).shape() ==
        Shape{1, 1, 1, 3});
    throws(
        [&] {
            batch_norm2d(Var(zeros({2, 3}, f32)), g, b, mean, var);
        },
        "batch_norm2d: x must be 4-D NHWC [mb, h, w, c], got shape [2, 3]");
    throws(
        [&] {
            batch_norm2d(Var(zeros({2, 2, 2, 3}, i64)), g, b, mean, var);
        },
        "batch_norm2d: x must be f32 or f64, got i64");
    throws([&] { batch_norm2d(x, Var(ones({4}, f32)), b, mean, var); },
           "batch_norm2d: gamma must be [c] = [3] for x [2, 2, 2, 3], got shape [4]");
    throws(
        [&] {
            batch_norm2d(x, g, Var(ones({3, 1}, f32)), mean, var);
        },
        "batch_norm2d: beta must be [c] = [3] for x [2, 2, 2, 3], got shape [3, 1]");
    throws([&] { batch_norm2d(x, g, Var{}, mean, var); },
           "batch_norm2d: gamma and beta must both be given or both be undefined, got gamma [3] "
           "and beta undefined");
    throws([&] { batch_norm2d(x, g, Var(zeros({3}, f64)), mean, var); },
           "batch_norm2d: beta is f64 [3] but x is f32 [2, 2, 2, 3]");
    Tensor short_mean = zeros({2}, f32), mean64 = zeros({3}, f64), none;
    throws([&] { batch_norm2d(x, g, b, short_mean, var); },
           "batch_norm2d: running_mean must be [c] = [3] for x [2, 2, 2, 3], got shape [2]");
    throws([&] { batch_norm2d(x, g, b, mean, mean64); },
           "batch_norm2d: running_var is f64 [3] but x is f32 [2, 2, 2, 3]");
    throws([&] { batch_norm2d(x, g, b, none, var); },
           "batch_norm2d: running_mean and running_var must be defined");
}

TEST_CASE(
    "batch_norm2d matches PyTorch's BatchNorm2d in values, gradients and running statistics") {
    auto ref = testing::load_reference(NALGRAD_TEST_DATA "/batch_norm_reference.txt");
    int compared = 0;
    for (int index = 0; ref.count(fmt::format("c{}_x", index)); ++index)
        for (const DType dtype : {f64, f32}) {
            const std::string c = fmt::format("c{}", index);
            CAPTURE(c);
            CAPTURE(dtype_name(dtype));
            const double tolerance = dtype == f64 ? 1e-10 : 2e-5;
            const std::vector<double> o = ref[c + "_options"].to_vector();
            const BatchNorm2dOptions options{.training = o[0] != 0, .momentum = o[1], .eps = o[2]};
            Var x = requires_grad(ref[c + "_x"].astype(dtype));
            Var gamma = requires_grad(ref[c + "_gamma"].astype(dtype));
            Var beta = requires_grad(ref[c + "_beta"].astype(dtype));
            Tensor mean = ref[c + "_mean"].astype(dtype).clone();
            Tensor var = ref[c + "_var"].astype(dtype).clone();
            Var y = batch_norm2d(x, gamma, beta, mean, var, options);
            y.backward(ref[c + "_dy"].astype(dtype));
            CHECK(max_abs_diff(y.value().astype(f64), ref[c + "_y"]) < tolerance);
            CHECK(max_abs_diff(x.grad().astype(f64), ref[c + "_dx"]) < tolerance);
            CHECK(max_abs_diff(gamma.grad().astype(f64), ref[c + "_dgamma"]) < 10 * tolerance);
            CHECK(max_abs_diff(beta.grad().astype(f64), ref[c + "_dbeta"]) < 10 * tolerance);
            CHECK(max_abs_diff(mean.astype(f64), ref[c + "_mean_after"]) < tolerance);
            CHECK(max_abs_diff(var.astype(f64), ref[c + "_var_after"]) < tolerance);
            ++compared;
        }
    CHECK(compared == 8);
}

TEST_CASE("batch_norm2d in eval differentiates with the statistics it normalised with") {
    // The eval step's backward runs after a training step has moved the running statistics.
    for (const DType dtype : {f32, f64}) {
        CAPTURE(dtype_name(dtype));
        Var x = requires_grad(hand_x(dtype));
        Var gamma = requires_grad(tensor({2, 3}, {2}, dtype));
        Var beta = requires_grad(tensor({1, -1}, {2}, dtype));
        Tensor mean = tensor({1, 0}, {2}, dtype), var = tensor({4, 0.25}, {2}, dtype);
        Var y = batch_norm2d(x, gamma, beta, mean, var, {.training = false, .eps = 0});
        batch_norm2d(Var(hand_x(dtype)), gamma, beta, mean, var, {.momentum = 0.5});
        CHECK(mean.to_vector() != std::vector<double>{1, 0});
        y.backward(hand_dy(dtype));
        check_close(x.grad(), {1, 0, 0, 0, 0, 0, 0, 12});  // as in the eval case by hand
        check_close(gamma.grad(), {-0.5, 4});
    }
}

TEST_CASE("batch_norm2d's own loops give the same bits on one thread and on two") {
    // 8192 rows: 32 chunks, enough work for the sums to run in parallel.
    Generator gen(45);
    const Tensor x64 = normal({8, 32, 32, 8}, 1, 2, f64, gen),
                 dy = normal({8, 32, 32, 8}, f64, gen);
    const int threads = get_num_threads();
    Tensor results[2][4];
    for (int run = 0; run < 2; ++run) {
        set_num_threads(run == 0 ? 1 : 2);
        Var x = requires_grad(x64);
        Var gamma = requires_grad(ones({8}, f64)), beta = requires_grad(zeros({8}, f64));
        Tensor mean = zeros({8}, f64), var = ones({8}, f64);
        Var y = batch_norm2d(x, gamma, beta, mean, var);
        y.backward(dy);
        results[run][0] = y.value();
        results[run][1] = x.grad();
        results[run][2] = gamma.grad();
        results[run][3] = var;
    }
    set_num_threads(threads);
    for (int i = 0; i < 4; ++i) CHECK(equal(results[0][i], results[1][i]));
}
