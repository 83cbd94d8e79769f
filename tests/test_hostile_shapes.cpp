// Hostile sizes: shape arithmetic that would overflow int64, window geometry near INT64_MAX,
// results larger than the machine's memory, non-finite arange bounds and absurd thread counts.
// Each is refused by the op that was called, naming the argument and the shapes, or (when the
// geometry is legal) computed correctly: never a crash, a raw dnnl::error or a wrapped size.
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "core/checked.hpp"
#include "core/kernels/elementwise.hpp"
#include "support/errors.hpp"

using namespace nalgrad;
using nalgrad::testing::error_of;

namespace {

constexpr int64_t big = INT64_MAX;
constexpr int64_t wraps_to_two = 6148914691236517206;  // 3 * this wraps to 2

bool has(const std::string& message, const std::string& words) {
    return message.find(words) != std::string::npos;
}

}  // namespace

TEST_CASE("checked arithmetic: every wrap is seen, ceil_div never forms a + b - 1") {
    CHECK((Checked(3) * wraps_to_two).ok() == false);
    CHECK((Checked(big) + 1).ok() == false);
    CHECK((Checked(-big) - 2).ok() == false);
    CHECK((Checked(INT64_MIN) / -1).ok() == false);
    CHECK((Checked(7) / 0).ok() == false);
    CHECK(((Checked(big) + 1) * 0).ok() == false);  // sticky
    CHECK((Checked(6) * 7 - 2).value() == 40);
    CHECK(ceil_div(4, big).value() == 1);
    CHECK(ceil_div(big, big).value() == 1);
    CHECK(ceil_div(7, 2).value() == 4);
    CHECK(ceil_div(0, 3).value() == 0);
    const int64_t dims[] = {3, wraps_to_two};
    CHECK(checked_product(dims).ok() == false);
}

TEST_CASE("reshape refuses a target whose element count wraps to the input's") {
    const Var x(zeros({2}));
    const std::string e = error_of([&] { (void)reshape(x, {3, wraps_to_two}); });
    CHECK(has(e, "reshape: target [3, 6148914691236517206] has more elements than int64"));
    CHECK(has(e, "input [2] has 2"));
    CHECK(has(error_of([&] {
                  (void)x.value().reshape({-1, int64_t{1} << 62, 8});
              }),
              "reshape: target [-1, 4611686018427387904, 8] has more elements"));
    // A zero extent makes the count 0 however large the others, in any order: legal.
    CHECK(reshape(Var(zeros({0})), {0, big, big}).shape() == Shape{0, big, big});
    CHECK(reshape(Var(zeros({0})), {big, big, 0}).numel() == 0);
    CHECK(zeros({big, big, 0}).numel() == 0);
    CHECK(has(error_of([&] {
                  (void)reshape(Var(zeros({0})), {big, big, 0, -1});
              }),
              "reshape: cannot infer -1"));
    CHECK(has(error_of([] {
                  (void)Shape({int64_t{1} << 40, int64_t{1} << 40}).numel();
              }),
              "shape: the element count of [1099511627776, 1099511627776] overflows int64"));
}

TEST_CASE("broadcasting refuses a result whose count wraps, and one beyond memory by op name") {
    const int64_t n = int64_t{1} << 32;
    CHECK(has(error_of([&] {
                  (void)kernels::broadcast_shapes("add", {n, 1}, {1, n});
              }),
              "add: the broadcast of a [4294967296, 1] and b [1, 4294967296]"));
    const Var a(zeros({1 << 20, 1})), b(zeros({1, 1 << 20}));
    const std::string sum_error = error_of([&] { (void)(a + b); });
    CHECK(has(sum_error, "add: cannot allocate the result f32 [1048576, 1048576]"));
    CHECK(has(sum_error, "more than this machine's memory"));
    CHECK(has(error_of([&] { (void)(a - b); }), "sub: cannot allocate the result"));
    CHECK(has(error_of([&] { (void)(a * b); }), "mul: cannot allocate the result"));
    CHECK(has(error_of([&] { (void)(a / b); }), "div: cannot allocate the result"));
}

TEST_CASE("conv2d: padding or dilation that overflows is refused in both dtypes") {
    for (DType d : {f32, f64}) {
        const Var x(zeros({1, 4, 4, 1}, d)), k(zeros({3, 3, 1, 1}, d));
        const std::string pad =
            error_of([&] { (void)conv2d(x, k, {}, {.padding = Padding(big, 0, 0, 0)}); });
        CHECK(has(pad,
                  "conv2d: the padded row extent 4 + padding 9223372036854775807 + 0 "
                  "overflows int64; input is [1, 4, 4, 1]; k is [3, 3, 1, 1]"));
        CHECK(has(error_of([&] { (void)conv2d(x, k, {}, {.padding = Padding(0, 0, 1, big)}); }),
                  "conv2d: the padded column extent"));
        const std::string dilation =
            error_of([&] { (void)conv2d(x, k, {}, {.dilation = int64_t{1} << 62}); });
        CHECK(has(dilation,
                  "conv2d: the row kernel extent (kernel 3, dilation "
                  "4611686018427387904) overflows int64"));
        CHECK(has(error_of([&] { (void)conv2d(x, k, {}, {.stride = 0}); }), "conv2d: stride"));
    }
}

TEST_CASE("conv2d: an output beyond memory is refused by conv2d before allocating") {
    const Var x(zeros({1, 4, 4, 1})), k(zeros({3, 3, 1, 1}));
    const int64_t p = 1 << 16;
    const std::string e =
        error_of([&] { (void)conv2d(x, k, {}, {.padding = Padding(p, p, p, p)}); });
    CHECK(has(e, "conv2d: cannot allocate the output f32 [1, 131074, 131074, 1]"));
    CHECK(has(e, "more than this machine's memory"));
}

TEST_CASE("conv2d: padding and stride beyond oneDNN's 32-bit sizes run on the own loops") {
    // Rows: 2^40 + 4 + 2^40 padded, kernel 3, stride 2^40: windows at -2^40, 0 and 2^40. Only
    // the middle one (row and column) reads the image, its top-left 3x3 block.
    const int64_t p = int64_t{1} << 40;
    Generator gen(5);
    const Tensor x = uniform({1, 4, 4, 2}, f64, gen), k = uniform({3, 3, 2, 3}, f64, gen);
    const Tensor b = uniform({3}, f64, gen);
    const Conv2dOptions huge{.stride = p, .padding = Padding(p, p, p, p)};
    const Var y64 = conv2d(Var(x), Var(k), Var(b), huge);
    const Var y32 = conv2d(Var(x.astype(f32)), Var(k.astype(f32)), Var(b.astype(f32)), huge);
    REQUIRE(y64.shape() == Shape{1, 3, 3, 3});
    REQUIRE(y32.shape() == Shape{1, 3, 3, 3});
    CHECK(max_abs_diff(y32.value(), y64.value()) < 1e-5);
    const Var centre = conv2d(Var(x), Var(k), Var(b), {});  // valid: [1, 2, 2, 3]
    for (int o = 0; o < 3; ++o) {
        CHECK(y64.value().at((1 * 3 + 1) * 3 + o) == doctest::Approx(centre.value().at(o)));
        CHECK(y64.value().at(o) == doctest::Approx(b.at(o)));  // padding only: the bias
    }
}

TEST_CASE("stride: a step near INT64_MAX keeps exactly the first row or column") {
    for (DType d : {f32, f64}) {
        const Tensor x = arange(2 * 4 * 5 * 3, d).reshape({2, 4, 5, 3});
        const Var rows = stride(Var(x), {big, 1});
        REQUIRE(rows.shape() == Shape{2, 1, 5, 3});
        CHECK(rows.value().at(15) == x.at(60));  // batch item 1, row 0
        const Var one = stride(Var(x), {big, big - 1}, {3, 4});
        REQUIRE(one.shape() == Shape{2, 1, 1, 3});
        CHECK(one.value().at(0) == x.at((3 * 5 + 4) * 3));
        Var leaf = requires_grad(x);
        sum(stride(leaf, {big, big}, {1, 1})).backward();
        CHECK(leaf.grad().at((1 * 5 + 1) * 3) == 1);
        CHECK(sum(Var(leaf.grad())).item() == 6);
    }
}

TEST_CASE("pooling: SAME at stride INT64_MAX gives one window; overflowing padding is refused") {
    for (DType d : {f32, f64}) {
        const Tensor x = arange(16, d).reshape({1, 4, 4, 1});
        const Var m = max_pool2d(Var(x), {.kernel = 1, .stride = {big, 1}, .padding = same});
        REQUIRE(m.shape() == Shape{1, 1, 4, 1});
        CHECK(m.value().to_vector() == std::vector<double>{0, 1, 2, 3});
        const Var a = avg_pool2d(Var(x), {.kernel = 2, .stride = big, .padding = same});
        REQUIRE(a.shape() == Shape{1, 1, 1, 1});
        CHECK(a.item() == doctest::Approx((0 + 1 + 4 + 5) / 4.0));
        const Var w = max_pool2d(Var(x), {.kernel = 3, .stride = big - 3});
        CHECK(w.item() == 10);
        CHECK(
            has(error_of([&] {
                    (void)max_pool2d(Var(x), {.kernel = 2, .padding = Padding(big, 1, 0, 0)});
                }),
                "max_pool2d: the padded row extent 4 + padding 9223372036854775807 + 1 overflows"));
        CHECK(has(error_of([&] {
                      (void)avg_pool2d(Var(x), {.kernel = 2, .padding = Padding(0, 0, 0, big)});
                  }),
                  "avg_pool2d: the padded column extent"));
    }
}

TEST_CASE("pooling: an output beyond memory is refused by the pooling op") {
    const Var x(zeros({1, 4, 4, 1}));
    const int64_t p = int64_t{1} << 20;
    const Padding around(p, p, p, p);
    CHECK(has(error_of([&] { (void)max_pool2d(x, {.kernel = 1, .stride = 1, .padding = around}); }),
              "max_pool2d: cannot allocate the output f32 [1, 2097156, 2097156, 1]"));
    CHECK(has(error_of([&] { (void)avg_pool2d(x, {.kernel = 1, .stride = 1, .padding = around}); }),
              "avg_pool2d: cannot allocate the output"));
}

TEST_CASE("matmul and dense refuse an output beyond memory by name") {
    const Var a(zeros({1 << 20, 1})), b(zeros({1, 1 << 20}));
    CHECK(has(error_of([&] { (void)matmul(a, b); }),
              "matmul: cannot allocate the output f32 [1048576, 1048576]"));
    CHECK(has(error_of([&] { (void)dense(a, b, {}); }), "dense: cannot allocate the output"));
}

TEST_CASE("creation functions name themselves when a tensor cannot be allocated") {
    const Shape huge{int64_t{1} << 20, int64_t{1} << 20, 1024};
    Generator gen(1);
    CHECK(has(error_of([&] { (void)zeros(huge); }), "zeros: cannot allocate the tensor f32"));
    CHECK(has(error_of([&] { (void)ones(huge, f64); }), "ones: cannot allocate the tensor f64"));
    CHECK(has(error_of([&] { (void)full(huge, 2.0); }), "full: cannot allocate"));
    CHECK(has(error_of([&] { (void)empty(huge); }), "empty: cannot allocate"));
    CHECK(has(error_of([&] { (void)uniform(huge, f32, gen); }), "uniform: cannot allocate"));
    CHECK(has(error_of([&] { (void)normal(huge, f32, gen); }), "normal: cannot allocate"));
    CHECK(has(error_of([&] { (void)zeros({3, wraps_to_two}); }), "zeros: the tensor f32 [3, "));
    CHECK(has(error_of([&] { (void)Tensor({3, wraps_to_two}, f32); }), "tensor: a tensor f32"));
    CHECK(has(error_of([&] { Conv2d layer(big, big, 3); }),
              "Conv2d: the weight f32 [3, 3, 9223372036854775807, 9223372036854775807] has too "
              "many elements"));
    CHECK(
        has(error_of([&] { Dense layer(1 << 20, 1 << 20); }), "Dense: cannot allocate the weight"));
}

TEST_CASE("arange refuses non-finite bounds and counts beyond memory, naming arange") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(has(error_of([&] { (void)arange(0, nan, 1); }),
              "arange: start, end and step must be finite, got start 0, end nan, step 1"));
    CHECK(has(error_of([&] { (void)arange(nan, 1, 1); }), "arange: start, end and step"));
    CHECK(has(error_of([&] { (void)arange(0, inf, 1); }), "arange: start, end and step"));
    CHECK(has(error_of([&] { (void)arange(-inf, 0, 1); }), "arange: start, end and step"));
    CHECK(has(error_of([&] { (void)arange(0, 1, nan); }), "arange: start, end and step"));
    CHECK(has(error_of([&] { (void)arange(0, 1, 0); }), "arange: step must be non-zero"));
    CHECK(has(error_of([&] { (void)arange(0, 1e300, 1); }), "arange: start 0, end 1e+300"));
    CHECK(has(error_of([&] { (void)arange(-1e300, 1e300, 1e-300); }), "arange:"));
    CHECK(has(error_of([&] { (void)arange(0, 1e15, 1); }), "arange: cannot allocate the tensor"));
    CHECK(arange(5, 0, 1).numel() == 0);  // an empty range stays legal
    CHECK(arange(0, 1, 0.25).numel() == 4);
}

TEST_CASE("a batch size near INT64_MAX gives one batch of everything, not a wrapped count") {
    const data::Dataset set({1, 2, 3}, {1}, tensor({0, 1, 2}, {3}, i64));
    data::Batches all(set, {.batch = big, .prefetch = false});
    CHECK(all.size() == 1);
    int64_t batches = 0;
    for (const auto& [x, labels] : all) {
        CHECK(x.shape() == Shape{3, 1});
        ++batches;
    }
    CHECK(batches == 1);
    CHECK(data::Batches(set, {.batch = big, .last = data::LastBatch::drop}).size() == 0);
}

TEST_CASE("gradcheck names itself when the function returns an undefined variable") {
    const Var x = requires_grad(ones({2}, f64));
    CHECK(
        has(error_of([&] { (void)gradcheck([](const std::vector<Var>&) { return Var{}; }, {x}); }),
            "gradcheck: the function returned an undefined variable"));
}

TEST_CASE("set_num_threads refuses counts beyond max_num_threads and keeps the old one") {
    const int before = get_num_threads();
    for (int n : {1 << 20, INT_MAX, max_num_threads + 1, 0, -1, INT_MIN}) {
        INFO(n);
        const std::string e = error_of([&] { set_num_threads(n); });
        CHECK(has(e, n < 1 ? "set_num_threads: n must be at least 1, got " + std::to_string(n)
                           : "set_num_threads: n must be at most 4096 (max_num_threads), got " +
                                 std::to_string(n)));
        CHECK(get_num_threads() == before);
    }
    // A float32 op still runs on the unchanged count.
    const Var y = conv2d(Var(ones({1, 6, 6, 2})), Var(ones({3, 3, 2, 1})), {}, {});
    CHECK(y.value().at(0) == 18);
}
