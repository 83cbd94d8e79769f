#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

using namespace nalgrad;

namespace {
// x[n, h, w, c] = ((n * xh + h) * xw + w) * xc + c: every value names its position.
Tensor positions(Shape shape, DType dtype) {
    return arange(shape.numel(), dtype).reshape(shape);
}
}  // namespace

TEST_CASE(
    "stride keeps rows oh, oh + sh, ... and columns ow, ow + sw, ... (x[:, oh::sh, ow::sw])") {
    for (DType dtype : {f32, f64}) {
        Tensor x = positions({2, 5, 4, 2}, dtype);  // value = ((n * 5 + h) * 4 + w) * 2 + c
        Var y = stride(Var(x), {2, 3}, {1, 1});     // rows 1, 3; column 1
        CHECK(y.shape() == Shape{2, 2, 1, 2});
        CHECK(y.value().to_vector() == std::vector<double>{10, 11, 26, 27, 50, 51, 66, 67});

        Var z = stride(Var(x), {2, 2});  // rows 0, 2, 4 (ceil(5 / 2) = 3); columns 0, 2
        CHECK(z.shape() == Shape{2, 3, 2, 2});
        CHECK(z.value().to_vector() == std::vector<double>{0,  1,  4,  5,  16, 17, 20, 21,
                                                           32, 33, 36, 37, 40, 41, 44, 45,
                                                           56, 57, 60, 61, 72, 73, 76, 77});
        Var same = stride(Var(x), {1, 1});
        CHECK(equal(same.value(), x));
    }
}

TEST_CASE("stride backward puts dy at the kept positions and zeros elsewhere") {
    for (DType dtype : {f32, f64}) {
        Var x = requires_grad(zeros({1, 4, 5, 1}, dtype));
        Var y = stride(x, {3, 2}, {1, 0});  // rows 1 (4 rows: ceil(3 / 3) = 1); columns 0, 2, 4
        CHECK(y.shape() == Shape{1, 1, 3, 1});
        y.backward(tensor({7, 8, 9}, {1, 1, 3, 1}, dtype));
        CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 0,  //
                                                          7, 0, 8, 0, 9,  //
                                                          0, 0, 0, 0, 0,  //
                                                          0, 0, 0, 0, 0});
    }
}

TEST_CASE("stride gradcheck in float64, with offsets and several channels") {
    Generator gen(11);
    Var x = requires_grad(normal({2, 7, 6, 3}, f64, gen));
    for (auto [step, offset] :
         {std::pair<Size2, Size2>{{2, 2}, {0, 0}}, {{3, 2}, {1, 1}}, {{1, 4}, {2, 3}}}) {
        auto report = gradcheck(
            [step, offset](const std::vector<Var>& in) { return stride(in[0], step, offset); },
            {x});
        CHECK_MESSAGE(report.passed, fmt::format("{}", report));
    }
}

TEST_CASE("stride rejects bad steps, offsets and ranks, naming the shapes") {
    Var x = zeros({1, 4, 5, 2});
    CHECK_THROWS_WITH_AS(stride(x, {0, 1}), doctest::Contains("stride: step must be at least 1"),
                         Error);
    CHECK_THROWS_WITH_AS(stride(x, {1, 1}, {-1, 0}),
                         doctest::Contains("offset [-1, 0] must lie inside the image"), Error);
    CHECK_THROWS_WITH_AS(stride(x, {2, 2}, {0, 5}),
                         doctest::Contains("columns 0..4) of x [1, 4, 5, 2]"), Error);
    CHECK_THROWS_WITH_AS(stride(x, {2, 2}, {4, 0}), doctest::Contains("rows 0..3"), Error);
    CHECK_THROWS_WITH_AS(stride(zeros({4, 5, 2}), {2, 2}),
                         doctest::Contains("x must be 4-D NHWC [mb, h, w, c], got shape [4, 5, 2]"),
                         Error);
}
