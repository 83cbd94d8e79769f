// max_pool2d with {.activation = Activation::relu}: one op ("max_pool2d_relu") that pools, then
// applies relu to the pooled output (a quarter of the elements for 2x2 windows) and masks the
// pooled gradient by [y > 0]. relu is monotone, so this must equal max_pool2d(relu(x)) in value and
// gradient for every window geometry and tie policy, in both dtypes.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "graph/tape.hpp"
#include "tests/support/gradients.hpp"

using namespace nalgrad;

namespace {

struct Problem {
    Shape x;
    MaxPool2dOptions options;
    const char* what = "";
};

// The example model's two pools (large enough for oneDNN's float32 relu), overlapping windows,
// a stride-1 pool with padding after, and uneven explicit padding.
const Problem problems[] = {
    {{4, 28, 28, 32}, {.kernel = 2, .stride = 2}, "lenet pool1"},
    {{4, 14, 14, 64}, {.kernel = 2, .stride = 2}, "lenet pool2"},
    {{2, 7, 6, 3}, {.kernel = 3, .stride = 1, .padding = same}, "3x3 stride 1 same (overlapping)"},
    {{2, 8, 8, 4}, {.kernel = 2, .stride = 1, .padding = {0, 1, 0, 1}}, "2x2 stride 1"},
    {{1, 7, 5, 3},
     {.kernel = {3, 2}, .stride = {1, 2}, .padding = Padding(1, 2, 0, 1)},
     "explicit 1 2 0 1"},
};

constexpr TiePolicy policies[] = {TiePolicy::first, TiePolicy::all, TiePolicy::split};

MaxPool2dOptions with_relu(MaxPool2dOptions options, TiePolicy ties) {
    options.ties = ties;
    options.activation = Activation::relu;
    return options;
}

// Halves in [-2, 2]: many exact ties, zeros and negatives, so windows whose relu outputs are all
// 0 (tied at 0) and windows with tied positive maxima both occur.
Tensor tied_values(const Shape& shape, DType dtype, Generator& gen) {
    Tensor t = uniform(shape, -2, 2, f64, gen);
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data<double>()[i] = std::round(t.data<double>()[i] * 2) / 2;
    return t.astype(dtype);
}

struct Result {
    Tensor y, dx;
};

template <typename Model>
Result run(const Tensor& x_value, const Tensor& dy, Model model) {
    Var x = requires_grad(x_value);
    Var y = model(x);
    y.backward(dy);
    return {y.value(), x.grad()};
}

bool same_values(const Tensor& a, const Tensor& b) {
    // The float32 relu kernels may differ in the sign of a zero, which max_abs_diff does not see.
    return a.dtype() == f64 ? equal(a, b) : max_abs_diff(a, b) == 0;
}

bool has_negative(const Tensor& x) {
    for (double v : x.to_vector())
        if (v < 0) return true;
    return false;
}

}  // namespace

TEST_CASE("max_pool2d with relu equals max_pool2d(relu): every geometry, tie policy, dtype") {
    Generator gen(31);
    for (const DType dtype : {f32, f64})
        for (const Problem& p : problems)
            for (const TiePolicy ties : policies) {
                INFO(p.what, " ", dtype_name(dtype), " ties ", static_cast<int>(ties));
                MaxPool2dOptions plain = p.options;
                plain.ties = ties;
                const Tensor x = tied_values(p.x, dtype, gen);
                CHECK(has_negative(x));
                const Shape y_shape = max_pool2d(Var(x), plain).shape();
                const Tensor dy = uniform(y_shape, -1, 1, dtype, gen);

                const Result separate =
                    run(x, dy, [&](const Var& v) { return max_pool2d(relu(v), plain); });
                const Result fused = run(
                    x, dy, [&](const Var& v) { return max_pool2d(v, with_relu(p.options, ties)); });

                CHECK(same_values(fused.y, separate.y));
                CHECK(same_values(fused.dx, separate.dx));
            }
}

TEST_CASE("gradcheck (float64) of max_pool2d with relu") {
    Generator gen(32);
    for (const Problem& p : {problems[2], problems[3], problems[4]})
        for (const TiePolicy ties : policies) {
            // Distinct values at least 1/32 from 0: no ties and no relu kink within reach of the
            // central differences.
            Tensor x = zeros(p.x, f64);
            const int64_t n = x.numel();
            for (int64_t i = 0; i < n; ++i)
                x.data<double>()[i] = static_cast<double>(i - n / 2) / 16.0 + 1.0 / 32;
            for (int64_t i = n - 1; i > 0; --i)
                std::swap(x.data<double>()[i], x.data<double>()[gen.below(i + 1)]);
            const MaxPool2dOptions options = with_relu(p.options, ties);
            testing::check_gradients(
                p.what, [options](const std::vector<Var>& v) { return max_pool2d(v[0], options); },
                {requires_grad(x)});
        }
}

TEST_CASE("one record; hand-computed values and gradient; backward twice with retain_graph") {
    // Rows [1, 3, -2, 0.5, -1, -4] and [-3, -2, 2, 2, -3, -0.5]: 2x2 windows {1, 3, -3, -2} (max
    // 3), {-2, 0.5, 2, 2} (2, tied: split) and {-1, -4, -3, -0.5} (-0.5: relu 0, no gradient).
    Var x = requires_grad(tensor(
        {1.0, 3.0, -2.0, 0.5, -1.0, -4.0, -3.0, -2.0, 2.0, 2.0, -3.0, -0.5}, {1, 2, 6, 1}, f64));
    const std::size_t records = tape_size();
    const Var y = max_pool2d(
        x, {.kernel = 2, .stride = 2, .ties = TiePolicy::split, .activation = Activation::relu});
    CHECK(tape_size() == records + 1);
    CHECK(y.op_name() == "max_pool2d_relu");
    CHECK(node_of(y)->producer->inputs.at(0) == node_of(x));
    CHECK(testing::values(y) == std::vector<double>{3, 2, 0});

    const Tensor dy = tensor({10.0, 20.0, 30.0}, {1, 1, 3, 1}, f64);
    y.backward(dy, {.retain_graph = true});
    CHECK(x.grad().to_vector() == std::vector<double>{0, 10, 0, 0, 0, 0, 0, 0, 10, 10, 0, 0});
    y.backward(dy);
    CHECK(x.grad().to_vector() == std::vector<double>{0, 20, 0, 0, 0, 0, 0, 0, 20, 20, 0, 0});
}

TEST_CASE("the MaxPool2d layer takes the relu through its options") {
    Generator gen(35);
    const MaxPool2d fused({.kernel = 2, .stride = 2, .activation = Activation::relu});
    const MaxPool2d plain({.kernel = 2, .stride = 2});
    const Tensor x_value = tied_values({2, 6, 6, 3}, f32, gen);
    const Tensor dy = uniform({2, 3, 3, 3}, -1, 1, f32, gen);
    const Result separate = run(x_value, dy, [&](const Var& v) { return plain(relu(v)); });
    const Result one_op = run(x_value, dy, [&](const Var& v) { return fused(v); });
    CHECK(equal(one_op.y, separate.y));
    CHECK(same_values(one_op.dx, separate.dx));
}

// The pool's input (the convolution's output) is saved by nobody: oneDNN's max pooling keeps a
// workspace, so once its handle goes the convolution's output leaves memory before backward.
TEST_CASE("max_pool2d with relu over conv2d keeps only the pool's output, not the convolution's") {
    Generator gen(5);
    Var x(normal({8, 28, 28, 1}, f32, gen));
    Var k(normal({5, 5, 1, 32}, f32, gen), true);
    Var b(normal({32}, f32, gen), true);
    const int64_t conv_output_bytes = 8 * 28 * 28 * 32 * 4;
    const auto in_use = [] { return static_cast<int64_t>(memory_stats().bytes_in_use); };
    const MaxPool2dOptions relu_pool{.kernel = 2, .stride = 2, .activation = Activation::relu};

    int64_t before = in_use();
    Var pooled = max_pool2d(conv2d(x, k, b, {.padding = same}), relu_pool);
    CHECK(in_use() - before < conv_output_bytes);

    // The same expression with the convolution's output named: it stays while its handle does.
    before = in_use();
    Var named = conv2d(x, k, b, {.padding = same});
    Var pooled_named = max_pool2d(named, relu_pool);
    CHECK(in_use() - before >= conv_output_bytes);

    // Same gradients both ways.
    sum(pooled).backward();
    const Tensor dk = k.grad().clone(), db = b.grad().clone();
    k.zero_grad();
    b.zero_grad();
    sum(pooled_named).backward();
    CHECK(dk.to_vector() == k.grad().to_vector());
    CHECK(db.to_vector() == b.grad().to_vector());
}
