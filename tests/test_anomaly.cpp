#include <doctest/doctest.h>

#include <concepts>
#include <limits>
#include <string>
#include <string_view>
#include <thread>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"

#include "support/training.hpp"

using namespace nalgrad;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// "test_anomaly.cpp:<line>:", as the messages name the caller.
doctest::Contains here(int line) {
    return doctest::Contains(fmt::format("test_anomaly.cpp:{}:", line).c_str());
}

// Test-only ops. `values` returns fixed values whatever its input (to place NaN and Inf exactly);
// `nan_gradient` has a finite forward and a gradient of NaN.
Var values(const Var& x, const Tensor& fixed,
           nalgrad::SourceLocation where = nalgrad::SourceLocation::current()) {
    return record("values", where, fixed, {x},
                  [](const Grads& dy, const Needed&) -> Grads { return {dy[0]}; });
}
Var nan_gradient(const Var& x, nalgrad::SourceLocation where = nalgrad::SourceLocation::current()) {
    return record("nan_gradient", where, x.value().clone(), {x},
                  [](const Grads& dy, const Needed&) -> Grads {
                      return {full(dy[0].shape(), not_a_number, dy[0].dtype())};
                  });
}

// An op built from other ops takes the caller's location like any public op and hands it on: its
// records name the caller's line, not this function's.
Var relu_twice(const Var& x, nalgrad::SourceLocation where = nalgrad::SourceLocation::current()) {
    return relu(relu(x, where), where);
}

// `call` (an op called on the line `line` of this file) fails the forward check: the message
// names the op and that line, not a line inside the library.
template <typename Call>
void expect_anomaly(std::string_view op, int line, Call call) {
    INFO("op: ", op, ", line ", line);
    const std::string words = fmt::format("{}: anomaly in forward: the output", op);
    CHECK_THROWS_WITH_AS(call(), doctest::Contains(words.c_str()), Error);
    CHECK_THROWS_WITH_AS(call(), here(line), Error);
}

// The operators accept a Var or a Tensor on either side, a double (or int) on either side of a
// Var or Tensor, and unary minus, without ambiguity, and all give a Var.
template <typename A, typename B>
concept Arithmetic = requires(A a, B b) {
    { a + b } -> std::same_as<Var>;
    { a - b } -> std::same_as<Var>;
    { a* b } -> std::same_as<Var>;
    { a / b } -> std::same_as<Var>;
};
static_assert(Arithmetic<Var, Var> && Arithmetic<Var, Tensor> && Arithmetic<Tensor, Var>);
static_assert(Arithmetic<Tensor, Tensor> && Arithmetic<const Var&, Var&&>);
static_assert(Arithmetic<Var, double> && Arithmetic<double, Var> && Arithmetic<Var, int>);
static_assert(Arithmetic<int, Var> && Arithmetic<Tensor, double> && Arithmetic<float, Tensor>);
static_assert(requires(Var v, Tensor t) {
    { -v } -> std::same_as<Var>;
    { -t } -> std::same_as<Var>;
});
static_assert(!Arithmetic<Var, std::string>);

}  // namespace

TEST_CASE("off by default: NaN and Inf pass through without a check") {
    CHECK_FALSE(anomaly_detection_enabled());
    Var x = requires_grad(tensor({1, 2}, {2}, f32));
    Var y = values(x, tensor({not_a_number, inf}, {2}, f32));
    CHECK(std::isnan(y.value().at(0)));
    y.backward(tensor({not_a_number, 1}, {2}, f32));
    CHECK(std::isnan(x.grad().at(0)));
}

TEST_CASE("forward: the message names the op, the record, the user's line and the values") {
    DetectAnomaly detect;
    CHECK(anomaly_detection_enabled());
    Var x = requires_grad(tensor({1, 2, 3, 4}, {2, 2}, f32));
    CHECK_THROWS_WITH_AS(
        values(x, tensor({1, not_a_number, inf, not_a_number}, {2, 2}, f32)),
        doctest::Contains("values: anomaly in forward: the output f32 [2, 2] holds "
                          "2 NaN and 1 Inf, the first at [0, 1] (tape record #"),
        Error);
    CHECK_THROWS_WITH_AS(values(x, tensor({1, not_a_number, inf, not_a_number}, {2, 2}, f32)),
                         doctest::Contains("; its inputs are finite"), Error);

    // relu passes Inf on (and maps NaN to 0): the culprit is its input, a leaf.
    Var bad = requires_grad(tensor({1, -1, inf, 0}, {2, 2}, f32));
    const int line = __LINE__ + 1;
    auto call = [&] { return relu(bad); };
    CHECK_THROWS_WITH_AS(call(), doctest::Contains("relu: anomaly in forward"), Error);
    CHECK_THROWS_WITH_AS(call(), here(line), Error);
    CHECK_THROWS_WITH_AS(
        call(),
        doctest::Contains("input 0 of 1 (f32 [2, 2], a leaf) already held 1 Inf, the first "
                          "at [1, 0]"),
        Error);
}

TEST_CASE("forward: an overflow inside matmul from finite inputs") {
    DetectAnomaly detect;
    Var a = requires_grad(tensor({1, 0, 0, 1e20}, {2, 2}, f32));
    Var b = tensor({1, 0, 1e20, 0}, {2, 2}, f32);
    CHECK_THROWS_WITH_AS(
        matmul(a, b),
        doctest::Contains("matmul: anomaly in forward: the output f32 [2, 2] holds "
                          "1 Inf, the first at [1, 0]"),
        Error);
    CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("its inputs are finite"), Error);
}

TEST_CASE("backward: the message names the op, the input whose gradient broke, and the record") {
    DetectAnomaly detect;
    // y = x w = 1, but dw = x^T dy = 1e40 overflows float32; dx = dy w^T = 1 is fine.
    Var x = requires_grad(tensor({1e20}, {1, 1}, f32));
    Var w = requires_grad(tensor({1e-20}, {1, 1}, f32));
    Var y = matmul(x, w);
    CHECK(y.item() == doctest::Approx(1));
    auto run = [&] { y.backward(full({1, 1}, 1e20, f32), {.retain_graph = true}); };
    CHECK_THROWS_WITH_AS(run(),
                         doctest::Contains("matmul: anomaly in backward: the gradient for input 1 "
                                           "of 2 (f32 [1, 1], a leaf) holds 1 Inf, the first at "
                                           "[0, 0] (tape record #"),
                         Error);
    CHECK_THROWS_WITH_AS(run(), doctest::Contains("the incoming gradient is finite"), Error);

    // With w constant only x's gradient is computed: it is finite and flows on through relu.
    Var x0 = requires_grad(tensor({1e20}, {1, 1}, f32));
    Var y2 = matmul(relu(x0), w.detach());
    y2.backward(full({1, 1}, 1e20, f32));
    CHECK(x0.grad().item() == doctest::Approx(1));

    // An input made by a recorded op is described by that op's record and line.
    const int line = __LINE__ + 1;
    Var r = relu(x0);
    Var z = nan_gradient(r);
    auto run_z = [&] { z.backward(ones({1, 1}, f32), {.retain_graph = true}); };
    CHECK_THROWS_WITH_AS(run_z(),
                         doctest::Contains("nan_gradient: anomaly in backward: the gradient for "
                                           "input 0 of 1 (f32 [1, 1], the output of 'relu', tape "
                                           "record #"),
                         Error);
    CHECK_THROWS_WITH_AS(run_z(), here(line), Error);

    // An input no handle reaches any more (its value released, graph/var.hpp) is described from
    // its producer's record.
    Var released_input = nan_gradient(x0 + x0);
    CHECK(node_of(released_input)->producer->inputs[0]->released);
    CHECK_THROWS_WITH_AS(released_input.backward(ones({1, 1}, f32)),
                         doctest::Contains("input 0 of 1 (f32 [1, 1], the output of 'add', tape "
                                           "record #"),
                         Error);
}

TEST_CASE("backward: finite contributions whose sum overflows, and a non-finite seed") {
    DetectAnomaly detect;
    Var x = requires_grad(tensor({1}, {1, 1}, f32));
    Var y = matmul(x, x);  // both gradients, 3e38 each, go to x: their sum is Inf
    CHECK_THROWS_WITH_AS(
        y.backward(full({1, 1}, 3e38, f32)),
        doctest::Contains("matmul: anomaly in backward: the gradient for input 1 of 2 (f32 [1, 1], "
                          "a leaf) is finite, but adding it to the gradient that input had already "
                          "received overflowed: the sum holds 1 Inf"),
        Error);
    Var z = relu(x);
    CHECK_THROWS_WITH_AS(z.backward(tensor({not_a_number}, {1, 1}, f32)),
                         doctest::Contains("backward: anomaly: the seed gradient f32 [1, 1] holds "
                                           "1 NaN"),
                         Error);
}

TEST_CASE("float64 gradients are checked too") {
    DetectAnomaly detect;
    Var x = requires_grad(tensor({1, 2, 3}, {3}, f64));
    Var y = nan_gradient(x);
    CHECK_THROWS_WITH_AS(y.backward(ones({3}, f64)),
                         doctest::Contains("nan_gradient: anomaly in backward: the gradient for "
                                           "input 0 of 1 (f64 [3], a leaf) holds 3 NaN, the first "
                                           "at [0]"),
                         Error);
}

TEST_CASE("an op made of ops: its inner records carry the caller's line") {
    DetectAnomaly detect;
    Var bad = requires_grad(tensor({inf}, {1}, f32));
    const int line = __LINE__ + 1;
    auto call = [&] { return relu_twice(bad); };
    CHECK_THROWS_WITH_AS(call(), here(line), Error);
}

TEST_CASE("records made with detection on name their line in other tape errors too") {
    Var x = requires_grad(tensor({1, 2}, {2}, f32));
    Var y;
    int line = 0;
    {
        DetectAnomaly detect;
        line = __LINE__ + 1;
        y = relu(x);
    }
    y.backward(ones({2}, f32));
    CHECK_THROWS_WITH_AS(y.backward(ones({2}, f32)), here(line), Error);
    // Made with detection off: no location is kept (it would cost a thread-local write per op).
    Var z = relu(x);
    z.backward(ones({2}, f32));
    CHECK_THROWS_WITH_AS(z.backward(ones({2}, f32)), doctest::Contains("'relu' (tape record #"),
                         Error);
    CHECK_THROWS_WITH_AS(z.backward(ones({2}, f32)), doctest::Contains(") were freed"), Error);
}

TEST_CASE("detection is per thread, nests, and can be switched off inside") {
    Var bad = requires_grad(tensor({inf}, {1}, f32));
    DetectAnomaly detect;
    {
        DetectAnomaly off(false);
        CHECK_FALSE(anomaly_detection_enabled());
        CHECK_NOTHROW(relu(bad));
    }
    CHECK(anomaly_detection_enabled());
    CHECK_THROWS_AS(relu(bad), Error);
    bool other_thread_detects = true;
    std::thread other([&] {
        other_thread_detects = anomaly_detection_enabled();
        Var b = requires_grad(tensor({inf}, {1}, f32));
        relu(b);  // would throw, and terminate, if detection leaked into this thread
    });
    other.join();
    CHECK_FALSE(other_thread_detects);
}

TEST_CASE("a finite training run passes the checks and computes the same bits") {
    using testing::Model;
    const testing::TrainingRun plain = testing::train(Model::pooling, f32, 3);
    DetectAnomaly detect;
    CHECK(testing::identical(testing::train(Model::pooling, f32, 3), plain));
    CHECK(testing::identical(testing::train(Model::mlp, f64, 3), [] {
        DetectAnomaly off(false);
        return testing::train(Model::mlp, f64, 3);
    }()));
}

TEST_CASE("every op family names the caller's line: conv, pooling, linear, loss, reduction") {
    DetectAnomaly detect;
    // Finite inputs whose products overflow float32, and inputs that already hold Inf.
    const Var big = requires_grad(full({1, 2, 2, 1}, 1e30, f32));
    const Var k = full({1, 1, 1, 1}, 1e30, f32);
    const Var inf_image = requires_grad(tensor({1, inf, 2, 3}, {1, 2, 2, 1}, f32));
    const Var row = requires_grad(full({1, 2}, 1e20, f32));
    const Var w = full({2, 1}, 1e20, f32);
    const Var z = requires_grad(tensor({inf, 0}, {1, 2}, f32));  // logits
    const Tensor t = tensor({0}, {1}, i64);                      // labels
    const Var large = requires_grad(full({2}, 3e38, f32));

    expect_anomaly("conv2d", __LINE__, [&] { return conv2d(big, k); });
    expect_anomaly("max_pool2d", __LINE__, [&] { return max_pool2d(inf_image); });
    expect_anomaly("avg_pool2d", __LINE__, [&] { return avg_pool2d(inf_image); });
    expect_anomaly("dense", __LINE__, [&] { return dense(row, w); });
    expect_anomaly("matmul", __LINE__, [&] { return matmul(row, w); });
    expect_anomaly("softmax_cross_entropy", __LINE__, [&] { return softmax_cross_entropy(z, t); });
    expect_anomaly("sum", __LINE__, [&] { return sum(large); });
    expect_anomaly("sum", __LINE__, [&] { return sum(large, {0}, true); });
    expect_anomaly("exp", __LINE__, [&] { return exp(large); });
    expect_anomaly("reshape", __LINE__, [&] { return reshape(inf_image, {4}); });
    expect_anomaly("stride", __LINE__, [&] { return stride(inf_image, {1, 2}, {0, 1}); });
}

TEST_CASE("the binary operators and unary minus name the line of the expression") {
    DetectAnomaly detect;
    const Var a = requires_grad(full({2}, 1e20, f32));
    const Tensor b = full({2}, 1e20, f32);
    const Var bad = requires_grad(tensor({1, inf}, {2}, f32));
    expect_anomaly("mul", __LINE__, [&] { return a * a; });
    expect_anomaly("mul", __LINE__, [&] { return b * a; });
    expect_anomaly("mul", __LINE__, [&] { return a * 1e30; });
    expect_anomaly("mul", __LINE__, [&] { return 1e30 * a; });
    expect_anomaly("div", __LINE__, [&] { return a / 1e-30; });
    expect_anomaly("add", __LINE__, [&] { return bad + b; });
    expect_anomaly("sub", __LINE__, [&] { return 1.0 - bad; });
    expect_anomaly("neg", __LINE__, [&] { return -bad; });
    // A mixed expression: the failing op is the one named, with the expression's line.
    expect_anomaly("mul", __LINE__, [&] { return (a + 1.0) * (2.0 * a) - a; });

    // Backward names the line of the forward expression: da = dy b overflows.
    const Var one = requires_grad(ones({2}, f32));
    const int line = __LINE__ + 1;
    Var y = one * a;
    auto run = [&] { y.backward(full({2}, 1e20, f32), {.retain_graph = true}); };
    CHECK_THROWS_WITH_AS(run(),
                         doctest::Contains("mul: anomaly in backward: the gradient for "
                                           "input 0 of 2"),
                         Error);
    CHECK_THROWS_WITH_AS(run(), here(line), Error);
}

TEST_CASE("a layer's records name the model's line, not the library's") {
    DetectAnomaly detect;
    // Only recorded ops are checked: the inputs require gradients.
    const Var image = requires_grad(tensor({1, inf, 2, 3}, {1, 2, 2, 1}, f32));
    const Var features = requires_grad(full({1, 4}, inf, f32));
    Conv2d conv(1, 2, 1);
    Dense fc(4, 3);
    MaxPool2d pool;
    AvgPool2d average;
    Dropout drop(0.5, 7);
    expect_anomaly("conv2d", __LINE__, [&] { return conv(image); });
    expect_anomaly("dense", __LINE__, [&] { return fc(features); });
    expect_anomaly("max_pool2d", __LINE__, [&] { return pool(image); });
    expect_anomaly("avg_pool2d", __LINE__, [&] { return average(image); });
    expect_anomaly("dropout", __LINE__, [&] { return drop(features); });
    // The error names the user's file, never nn/ or ops/.
    CHECK_THROWS_WITH_AS(conv(image), doctest::Contains("/test_anomaly.cpp:"), Error);
}
