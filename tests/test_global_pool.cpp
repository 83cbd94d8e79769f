// global_avg_pool2d: NHWC [n, h, w, c] to [n, c], the mean of each image's channel, by hand and
// against the general average pooling, in both dtypes, with its gradient.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/gradients.hpp"

using namespace nalgrad;

TEST_CASE("global_avg_pool2d by hand: values and dy / (h w) to every pixel") {
    for (const DType dtype : {f32, f64}) {
        // Two images of 2x3 pixels, two channels: channel 0 holds 1..6, channel 1 holds 10 times.
        std::vector<double> values;
        for (int n = 0; n < 2; ++n)
            for (int p = 1; p <= 6; ++p) {
                values.push_back(p + 6 * n);
                values.push_back(10.0 * (p + 6 * n));
            }
        Var x = requires_grad(tensor(values, {2, 2, 3, 2}, dtype));
        Var y = global_avg_pool2d(x);
        CHECK(y.shape() == Shape{2, 2});
        CHECK(y.value().to_vector() == std::vector<double>{3.5, 35, 9.5, 95});
        CHECK(y.op_name() == "reshape");
        y.backward(tensor({6.0, 12.0, 18.0, 24.0}, {2, 2}, dtype));
        const std::vector<double> dx = x.grad().to_vector();
        for (int p = 0; p < 6; ++p) {
            CHECK(dx[2 * p] == 1);
            CHECK(dx[2 * p + 1] == 2);
            CHECK(dx[12 + 2 * p] == 3);
            CHECK(dx[12 + 2 * p + 1] == 4);
        }
    }
}

TEST_CASE("global_avg_pool2d: float32 (oneDNN) agrees with float64, and gradcheck passes") {
    Generator gen(3);
    const Tensor x64 = normal({4, 7, 7, 16}, f64, gen);
    const Tensor y32 = global_avg_pool2d(Var(x64.astype(f32))).value();
    const Tensor y64 = global_avg_pool2d(Var(x64)).value();
    CHECK(max_abs_diff(y32.astype(f64), y64) < 1e-5);
    testing::check_gradients("global_avg_pool2d",
                             [](const std::vector<Var>& v) { return global_avg_pool2d(v[0]); },
                             {testing::random_input({2, 3, 5, 2}, gen)});
}

TEST_CASE("global_avg_pool2d refuses what is not a floating NHWC image") {
    CHECK_THROWS_WITH_AS(global_avg_pool2d(Var(zeros({2, 3, 4}, f32))),
                         doctest::Contains("global_avg_pool2d: x must be 4-D NHWC [mb, h, w, c], "
                                           "got shape [2, 3, 4]"),
                         Error);
    CHECK_THROWS_WITH_AS(global_avg_pool2d(Var(zeros({1, 2, 2, 1}, i64))),
                         doctest::Contains("global_avg_pool2d: x must be f32 or f64, got i64"),
                         Error);
    CHECK_THROWS_WITH_AS(global_avg_pool2d(Var(zeros({1, 0, 2, 1}, f32))),
                         doctest::Contains("global_avg_pool2d"), Error);
    CHECK_THROWS_WITH_AS(global_avg_pool2d(Var{}),
                         doctest::Contains("global_avg_pool2d: x is undefined"), Error);
}
