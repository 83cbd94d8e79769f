// batch_norm2d: values and gradients by hand in training and eval, the running statistics'
// update, float32 (oneDNN) against the own loops and float64, gradcheck, the fused relu, and the
// refusals.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "core/kernels/batch_norm.hpp"
#include "support/gradients.hpp"

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
