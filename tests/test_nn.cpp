#include <doctest/doctest.h>

#include <cmath>

#include <nalgrad/nalgrad.hpp>

using namespace nalgrad;

namespace {
struct Tiny {
    Conv2d conv1{1, 4, {3, 3}, {.padding = same}};
    Dense fc1{4 * 4 * 4, 3};
    NALGRAD_MODULE(conv1, fc1)
};
}  // namespace

TEST_CASE("layers own He-initialised parameters with the right shapes") {
    manual_seed(5);
    Conv2d conv(3, 8, {5, 3}, {.stride = 2});
    CHECK(conv.weight.shape() == Shape{5, 3, 3, 8});
    CHECK(conv.bias.shape() == Shape{8});
    CHECK(conv.weight.requires_grad());
    double bound = std::sqrt(6.0 / (5 * 3 * 3));
    double largest = 0;
    for (double v : conv.weight.value().to_vector()) largest = std::max(largest, std::abs(v));
    CHECK(largest <= bound);
    CHECK(largest > 0.8 * bound);  // spread over the range, not all near zero
    for (double v : conv.bias.value().to_vector()) CHECK(v == 0);
    Dense fc(10, 4, {.dtype = f64});
    CHECK(fc.weight.shape() == Shape{10, 4});
    CHECK(fc.weight.dtype() == f64);
}

TEST_CASE("the same seed gives the same weights") {
    manual_seed(7);
    Dense a(6, 5);
    manual_seed(7);
    Dense b(6, 5);
    CHECK(equal(a.weight.value(), b.weight.value()));
    Dense c(6, 5);
    CHECK_FALSE(equal(a.weight.value(), c.weight.value()));
}

TEST_CASE("NALGRAD_MODULE names parameters after the layers") {
    Tiny model;
    Parameters p = model.parameters();
    REQUIRE(p.size() == 4);
    CHECK(p[0].name == "conv1.weight");
    CHECK(p[1].name == "conv1.bias");
    CHECK(p[2].name == "fc1.weight");
    CHECK(p[3].name == "fc1.bias");
    CHECK(p[2].var.same_as(model.fc1.weight));
}

TEST_CASE("layers compute what the ops compute, and pass gradients to their parameters") {
    manual_seed(1);
    Dense fc(3, 2, {.dtype = f64});
    Var x = tensor({1, 2, 3}, {1, 3}, f64);
    Var y = fc(x);
    Tensor expected = dense(x, fc.weight, fc.bias).value();
    CHECK(max_abs_diff(y.value(), expected) == 0);
    y.backward(tensor({1, -1}, {1, 2}, f64));
    CHECK(fc.bias.grad().to_vector() == std::vector<double>{1, -1});
    CHECK(fc.weight.grad().at(4) == 3);  // dW[2][0] = x[2] * dy[0]

    MaxPool2d pool({.kernel = 2});
    Var img = tensor({1, 5, 3, 2}, {1, 2, 2, 1}, f64);
    CHECK(pool(img).item() == 5);
}

TEST_CASE("dropout layer: identity in eval mode, scaled mask in training") {
    Dropout drop(0.5, 3);
    Var x = ones({1000}, f64);
    Tensor trained = drop(x).value();
    int zeros_seen = 0;
    for (double v : trained.to_vector()) {
        CHECK((v == 0 || v == 2));
        zeros_seen += v == 0;
    }
    CHECK(zeros_seen > 400);
    CHECK(zeros_seen < 600);
    drop.eval();
    CHECK(equal(drop(x).value(), x.value()));
}

TEST_CASE("bad layer arguments are errors") {
    CHECK_THROWS_WITH_AS(Conv2d(0, 4, {3, 3}), doctest::Contains("Conv2d: in_channels"), Error);
    CHECK_THROWS_WITH_AS(Dense(4, 0), doctest::Contains("Dense: out_features"), Error);
    Conv2d conv(3, 4, {3, 3});
    CHECK_THROWS_WITH_AS(conv(zeros({1, 5, 5, 2})), doctest::Contains("conv2d"), Error);
}
