// max_pool2d(relu(...)): when the pool is the relu output's only consumer, the relu's gradient
// mask is applied to the pool's output gradient ([y > 0], a quarter of the elements for 2x2
// windows) and the relu passes its gradient on unchanged. The gradients must equal the unfolded
// ones for every window geometry and tie policy, and the fold must happen only when it is safe.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "tests/support/gradients.hpp"

using namespace nalgrad;

namespace {

int64_t folds_so_far() {
    return detail::relu_masks_taken();
}

struct Problem {
    Shape x;
    MaxPool2dOptions options;
    const char* what = "";
};

// The example model's two pools (large enough for oneDNN's float32 relu), overlapping windows,
// the notes' stride-1 pool with padding after, and uneven explicit padding.
const Problem problems[] = {
    {{4, 28, 28, 32}, {.kernel = 2, .stride = 2}, "lenet pool1"},
    {{4, 14, 14, 64}, {.kernel = 2, .stride = 2}, "lenet pool2"},
    {{2, 7, 6, 3}, {.kernel = 3, .stride = 1, .padding = same}, "3x3 stride 1 same (overlapping)"},
    {{2, 8, 8, 4}, {.kernel = 2, .stride = 1, .padding = {0, 1, 0, 1}}, "book: 2x2 stride 1"},
    {{1, 7, 5, 3},
     {.kernel = {3, 2}, .stride = {1, 2}, .padding = Padding(1, 2, 0, 1)},
     "explicit 1 2 0 1"},
};

constexpr TiePolicy policies[] = {TiePolicy::first, TiePolicy::all, TiePolicy::split};

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
    Var x = x_value.requires_grad();
    Var y = model(x);
    y.backward(dy);
    return {y.value(), x.grad()};
}

bool same_values(const Tensor& a, const Tensor& b) {
    // The float32 relu kernels may differ in the sign of a zero, which max_abs_diff does not see.
    return a.dtype() == f64 ? equal(a, b) : max_abs_diff(a, b) == 0;
}

}  // namespace

TEST_CASE("max_pool2d(relu) gives the unfolded gradients: every geometry, tie policy, dtype") {
    Generator gen(31);
    for (const DType dtype : {f32, f64})
        for (const Problem& p : problems)
            for (const TiePolicy ties : policies) {
                INFO(p.what, " ", dtype_name(dtype), " ties ", static_cast<int>(ties));
                MaxPool2dOptions options = p.options;
                options.ties = ties;
                const Tensor x = tied_values(p.x, dtype, gen);
                const Shape y_shape = max_pool2d(Var(x), options).shape();
                const Tensor dy = uniform(y_shape, -1, 1, dtype, gen);

                const int64_t before = folds_so_far();
                const Result separate = run(x, dy, [&](const Var& v) {
                    const Var h = relu(v);  // a named output: never folded
                    return max_pool2d(h, options);
                });
                CHECK(folds_so_far() == before);
                const Result folded =
                    run(x, dy, [&](const Var& v) { return max_pool2d(relu(v), options); });
                CHECK(folds_so_far() == before + 1);

                CHECK(equal(folded.y, separate.y));
                CHECK(same_values(folded.dx, separate.dx));
            }
}

TEST_CASE("gradcheck (float64) of max_pool2d(relu) through the fold") {
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
            MaxPool2dOptions options = p.options;
            options.ties = ties;
            const int64_t before = folds_so_far();
            testing::check_gradients(
                p.what,
                [options](const std::vector<Var>& v) { return max_pool2d(relu(v[0]), options); },
                {x.requires_grad()});
            CHECK(folds_so_far() > before);
        }
}

TEST_CASE("the tape still shows relu then max_pool2d; backward twice with retain_graph") {
    Generator gen(33);
    const Problem& p = problems[2];
    const Tensor x_value = tied_values(p.x, f64, gen);
    Var x = x_value.requires_grad();
    const Var y = max_pool2d(relu(x), p.options);
    CHECK(y.op_name() == "max_pool2d");
    const auto& relu_node = y.node()->producer->inputs.at(0);
    REQUIRE(relu_node->producer);
    CHECK(relu_node->producer->op == "relu");

    const Tensor dy = uniform(y.shape(), -1, 1, f64, gen);
    y.backward(dy, {.retain_graph = true});
    const Tensor once = x.grad().clone();
    y.backward(dy);
    const Result separate = run(x_value, dy, [&](const Var& v) {
        const Var h = relu(v);
        return max_pool2d(h, p.options);
    });
    CHECK(equal(once, separate.dx));
    CHECK(equal(x.grad(), (Var(separate.dx) + Var(separate.dx)).value()));
}

TEST_CASE("no fold when the relu output has another consumer, or is not a relu's") {
    Generator gen(34);
    const Problem& p = problems[2];
    const int64_t before = folds_so_far();

    // Moved, but already an input of another op: that op's gradient passes the relu mask too.
    Var x = testing::random_input(p.x, gen);
    testing::check_gradients("relu used twice",
                             [&](const std::vector<Var>& v) {
                                 Var h = relu(v[0]);
                                 Var twice = h * 2.0;
                                 return sum(max_pool2d(std::move(h), p.options)) + sum(twice);
                             },
                             {x});
    Var h = relu(x);
    const Var other = h * 2.0;
    const Var pooled = max_pool2d(std::move(h), p.options);
    CHECK(folds_so_far() == before);

    // Another op's expiring output.
    const Var not_relu = max_pool2d(sigmoid(x), p.options);
    CHECK(folds_so_far() == before);

    // Inference records nothing, so nothing is folded.
    {
        NoGradGuard no_grad;
        const Var inference = max_pool2d(relu(x), p.options);
        CHECK(inference.is_leaf());
    }
    CHECK(folds_so_far() == before);

    // Anomaly detection checks the relu's gradient on its own.
    {
        DetectAnomaly detect;
        const Var checked = max_pool2d(relu(x), p.options);
        checked.backward(ones(checked.shape(), f64));
    }
    CHECK(folds_so_far() == before);

    // A refused geometry is refused before anything is folded.
    Var v = testing::random_input({1, 2, 2, 1}, gen);
    Var r = relu(v);
    CHECK_THROWS_WITH_AS(max_pool2d(std::move(r), {.kernel = 3}), doctest::Contains("max_pool2d"),
                         Error);
    CHECK(folds_so_far() == before);
}

TEST_CASE("the MaxPool2d layer folds an expiring relu output too") {
    Generator gen(35);
    const MaxPool2d pool({.kernel = 2, .stride = 2});
    const Tensor x_value = tied_values({2, 6, 6, 3}, f32, gen);
    const Tensor dy = uniform({2, 3, 3, 3}, -1, 1, f32, gen);
    const int64_t before = folds_so_far();
    const Result separate = run(x_value, dy, [&](const Var& v) {
        const Var h = relu(v);
        return pool(h);
    });
    CHECK(folds_so_far() == before);
    const Result folded = run(x_value, dy, [&](const Var& v) { return pool(relu(v)); });
    CHECK(folds_so_far() == before + 1);
    CHECK(equal(folded.y, separate.y));
    CHECK(same_values(folded.dx, separate.dx));
}

// Once the pool takes the relu's mask, neither the convolution's output nor the relu's (one tensor:
// the relu ran inside the convolution) is read by anyone, so neither stays in memory until
// backward: only the pool's output and oneDNN's workspace do.
TEST_CASE("max_pool2d(relu(conv2d(...))) keeps only the pool's output, not the convolution's") {
    Generator gen(5);
    Var x(normal({8, 28, 28, 1}, f32, gen));
    Var k(normal({5, 5, 1, 32}, f32, gen), true);
    Var b(normal({32}, f32, gen), true);
    const int64_t conv_output_bytes = 8 * 28 * 28 * 32 * 4;
    const auto in_use = [] { return static_cast<int64_t>(memory_stats().bytes_in_use); };
    const int64_t folds = folds_so_far();

    int64_t before = in_use();
    Var pooled = max_pool2d(relu(conv2d(x, k, b, {.padding = same})));
    CHECK(folds_so_far() == folds + 1);
    CHECK(in_use() - before < conv_output_bytes);

    // The same expression with the relu output named: the fold and the release wait for it.
    before = in_use();
    Var named = relu(conv2d(x, k, b, {.padding = same}));
    Var pooled_named = max_pool2d(named);
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
