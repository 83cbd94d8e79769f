// Fuzzes the ops and the tape: the bytes choose a short program (ops on a stack of variables,
// random small shapes and options, valid or not), run once in float32 (oneDNN) and once in
// float64 (the project's own kernels) on the same input values. Findings: any exception other
// than nalgrad::Error, a crash or sanitizer report, a call refused in one dtype but accepted in
// the other, and values or gradients that disagree beyond float32 rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "support.hpp"

namespace {

using namespace nalgrad;

constexpr int max_steps = 12;
constexpr std::size_t max_stack = 6;
constexpr double tolerance = 2e-3;   // relative to the reference tensor's largest magnitude
constexpr double too_large = 1e6;    // values past this are compared no more (f32 overflow)
constexpr double too_small = 1e-30;  // nor values this close to float32's subnormal range

struct Run {
    std::vector<bool> refused;  // per step
    std::vector<Var> leaves;    // in creation order
    Var loss;
    bool near_kink = false;       // a relu input near 0 or a max-pool window near a tie
    bool beyond_float32 = false;  // an intermediate value float32 cannot hold to its precision
};

class Program {
  public:
    Program(const uint8_t* data, std::size_t size, DType dtype)
        : choices_(data, size), dtype_(dtype) {}

    Run run() {
        push(leaf(shape(choices_.flip() ? 4 : 1, 4)));
        for (int s = 0; s < max_steps && !choices_.empty(); ++s) {
            try {
                step();
                run_.refused.push_back(false);
            } catch (const Error&) {
                run_.refused.push_back(true);
            }
        }
        const Var& top = stack_.back();
        Var weights(leaf_values(top.shape()));
        run_.loss = sum(top * weights);
        try {
            run_.loss.backward();
        } catch (const Error& e) {
            fuzz::finding(fmt::format("backward refused an accepted program: {}", e.what()));
        }
        return std::move(run_);
    }

  private:
    // Values from the generator, rounded to float so both dtypes start from the same numbers.
    Tensor leaf_values(const Shape& s, double low = -2, double high = 2) {
        return uniform(s, low, high, f64, gen_).astype(f32).astype(dtype_);
    }
    Var leaf(const Shape& s, double low = -2, double high = 2) {
        Var v = requires_grad(leaf_values(s, low, high));
        run_.leaves.push_back(v);
        return v;
    }
    int64_t extent() { return choices_.byte() % 16 == 0 ? 0 : choices_.range(1, 5); }
    Shape shape(int min_rank, int max_rank) {
        Shape s;
        for (int64_t r = choices_.range(min_rank, max_rank); r > 0; --r) s.push_back(extent());
        return s;
    }
    // Mostly a shape that broadcasts against `like`, sometimes any shape.
    Shape partner_shape(const Shape& like) {
        if (choices_.byte() % 8 == 0) return shape(0, 4);
        Shape s;
        const int drop = static_cast<int>(choices_.range(0, like.rank()));
        for (int i = drop; i < like.rank(); ++i) s.push_back(choices_.flip() ? like[i] : 1);
        return s;
    }
    Size2 size2(int64_t low, int64_t high) {
        return {choices_.range(low, high), choices_.range(low, high)};
    }
    Padding padding() {
        switch (choices_.range(0, 2)) {
            case 0:
                return valid;
            case 1:
                return same;
            default:
                return Padding(choices_.range(0, 2), choices_.range(0, 2), choices_.range(0, 2),
                               choices_.range(0, 2));
        }
    }
    void push(Var v) {
        // Nested losses square their way out of float32's range (1e65, or 1e-113 that float32
        // rounds to 0 and a log turns into -inf): such programs test float32, not nalgrad.
        if (is_floating(v.dtype()))
            for (double value : v.value().to_vector())
                if (std::abs(value) > too_large || (value != 0 && std::abs(value) < too_small))
                    run_.beyond_float32 = true;
        if (stack_.size() == max_stack) stack_.erase(stack_.begin());
        stack_.push_back(std::move(v));
    }
    Var top() const { return stack_.back(); }
    Var pick() { return stack_[choices_.range(0, static_cast<int64_t>(stack_.size()) - 1)]; }
    int64_t last_extent(const Var& x) { return x.rank() > 0 ? x.size(-1) : 1; }

    void step() {
        switch (choices_.range(0, 15)) {
            case 0:
                return push(leaf(shape(0, 4)));
            case 1:
                return binary();
            case 2: {
                Var b = choices_.flip() ? pick() : leaf(partner_shape(top().shape()));
                return push(top() / (b * b + 1.0));
            }
            case 3:
                return unary();
            case 4:
                return reduction();
            case 5: {
                const int64_t inner = choices_.flip() ? last_extent(top()) : choices_.range(0, 4);
                return push(matmul(top(), leaf({inner, choices_.range(1, 4)})));
            }
            case 6: {
                const int64_t in = choices_.byte() % 8 ? last_extent(top()) : choices_.range(0, 4);
                const int64_t out = choices_.range(1, 4);
                Var w = leaf({in, out});
                Var b = choices_.flip() ? leaf({choices_.byte() % 8 ? out : 3}) : Var{};
                return push(dense(top(), w, b));
            }
            case 7:
                return convolution();
            case 8: {
                MaxPool2dOptions o{.kernel = size2(1, 3),
                                   .stride = size2(0, 3),
                                   .padding = padding(),
                                   .ties = static_cast<TiePolicy>(choices_.range(0, 2))};
                if (is_floating(top().dtype()) && top().rank() == 4) note_ties(top(), o);
                if (top().op_name() != "relu" || !pool_accepts(top(), o))
                    return push(max_pool2d(top(), o));
                // pool(relu(...)): the relu's output leaves the stack for the pool. In float32
                // the pool takes over the relu's gradient mask (ops/pool.hpp); float64 keeps the
                // relu's own backward, so the comparison checks the fold too.
                Var relu_output = std::move(stack_.back());
                stack_.pop_back();
                if (dtype_ == f32) return push(max_pool2d(std::move(relu_output), o));
                return push(max_pool2d(relu_output, o));
            }
            case 9: {
                AvgPool2dOptions o{.kernel = size2(1, 3),
                                   .stride = size2(0, 3),
                                   .padding = padding(),
                                   .border = static_cast<AvgBorder>(choices_.range(0, 1))};
                return push(avg_pool2d(top(), o));
            }
            case 10: {
                const Size2 step = size2(1, 3), offset = size2(0, 2);
                return push(stride(top(), step, offset));
            }
            case 11:
                return reshaping();
            case 12:
                return push(choices_.flip() ? softmax(top()) : log_softmax(top()));
            case 13:
                return loss();
            case 14: {
                if (stack_.size() > 1) stack_.pop_back();
                return;
            }
            default: {
                const double p = static_cast<double>(choices_.range(0, 2)) / 4;
                Generator mask(choices_.byte());
                return push(dropout(top(), p, mask));
            }
        }
    }

    void binary() {
        const int64_t kind = choices_.range(0, 2);
        Var a = top();
        Var b = choices_.flip() ? pick() : leaf(partner_shape(a.shape()));
        if (choices_.flip()) std::swap(a, b);
        push(kind == 0 ? a + b : kind == 1 ? a - b : a * b);
    }

    void unary() {
        const Var x = top();
        switch (choices_.range(0, 9)) {
            case 0: {
                if (is_floating(x.dtype()))
                    for (double value : x.value().to_vector())
                        if (std::abs(value) < 1e-4) run_.near_kink = true;
                return push(relu(x));
            }
            case 1:
                return push(sigmoid(x));
            case 2:
                return push(tanh(x));
            case 3:
                return push(exp(tanh(x)));
            case 4:
                return push(log(x * x + 1.0));
            case 5:
                return push(sqrt(x * x + 0.5));
            case 6:
                return push(pow(x, static_cast<double>(choices_.range(2, 3))));
            case 7:
                return push(-x);
            case 8:
                return push(2.5 * x - 1.0);
            default:
                return push(1.5 / (x * x + 1.0) + x);
        }
    }

    void reduction() {
        const bool mean_of = choices_.flip();
        if (choices_.flip()) return push(mean_of ? mean(top()) : sum(top()));
        std::vector<int> axes;
        for (int64_t n = choices_.range(1, 3); n > 0; --n)
            axes.push_back(static_cast<int>(choices_.range(-5, 4)));
        const bool keepdims = choices_.flip();
        push(mean_of ? mean(top(), axes, keepdims) : sum(top(), axes, keepdims));
    }

    void convolution() {
        const Size2 kernel = size2(1, 3);
        const int64_t in = choices_.byte() % 8 ? last_extent(top()) : choices_.range(1, 3);
        const int64_t out = choices_.range(1, 3);
        Var k = leaf({kernel.h, kernel.w, in, out});
        Var b = choices_.flip() ? leaf({out}) : Var{};
        Conv2dOptions o{.stride = size2(1, 3), .dilation = size2(1, 2), .padding = padding()};
        push(conv2d(top(), k, b, o));
    }

    void reshaping() {
        switch (choices_.range(0, 3)) {
            case 0:
                return push(flatten(top()));
            case 1:
                return push(reshape(top(), {-1}));
            case 2:
                return push(reshape(top(), {choices_.range(1, 4), -1}));
            default:
                return push(transpose(top()));
        }
    }

    void loss() {
        const Var x = top();
        switch (choices_.range(0, 2)) {
            case 0:
                return push(mse(x, leaf(choices_.byte() % 8 ? x.shape() : shape(0, 3))));
            case 1:
                return push(sigmoid_cross_entropy(x, leaf(x.shape(), 0, 1)));
            default: {
                const int64_t rows = x.rank() > 0 ? x.size(0) : 1;
                const int64_t classes = std::max<int64_t>(last_extent(x), 1);
                Tensor labels({choices_.byte() % 8 ? rows : 2}, i64);
                for (int64_t i = 0; i < labels.numel(); ++i)
                    labels.data<int64_t>()[i] =
                        choices_.byte() % 16 ? choices_.range(0, classes - 1) : classes;
                return push(softmax_cross_entropy(x, labels));
            }
        }
    }

    // Whether max_pool2d takes x with these options (checked before x leaves the stack).
    static bool pool_accepts(const Var& x, const MaxPool2dOptions& o) {
        if (!is_floating(x.dtype()) || x.rank() != 4) return false;
        try {
            (void)max_pool2d(x.detach(), o);
        } catch (const Error&) {
            return false;
        }
        return true;
    }

    // Marks the run when some window's two largest values are close: float32 may then pick
    // another maximum than float64, and the gradients differ legitimately.
    void note_ties(const Var& x, const MaxPool2dOptions& o) {
        const Size2 stride = o.stride == Size2{0, 0} ? o.kernel : o.stride;
        Window2d g;
        try {
            g = make_window("max_pool2d", x.shape(), o.kernel, stride, 1, o.padding);
        } catch (const Error&) {
            return;  // max_pool2d will refuse it too
        }
        const std::vector<double> v = x.value().to_vector();
        for (int64_t n = 0; n < g.batch; ++n)
            for (int64_t oh = 0; oh < g.out_h; ++oh)
                for (int64_t ow = 0; ow < g.out_w; ++ow)
                    for (int64_t c = 0; c < g.channels; ++c) {
                        std::vector<double> window;
                        for (int64_t i = 0; i < g.kernel_h; ++i)
                            for (int64_t j = 0; j < g.kernel_w; ++j) {
                                const int64_t r = oh * g.stride_h - g.pad_top + i;
                                const int64_t col = ow * g.stride_w - g.pad_left + j;
                                if (r >= 0 && r < g.in_h && col >= 0 && col < g.in_w)
                                    window.push_back(
                                        v[((n * g.in_h + r) * g.in_w + col) * g.channels + c]);
                            }
                        std::sort(window.rbegin(), window.rend());
                        if (window.size() > 1 &&
                            window[0] - window[1] < 1e-4 * (1 + std::abs(window[0])))
                            run_.near_kink = true;
                    }
    }

    fuzz::Choices choices_;
    DType dtype_;
    Generator gen_{12345};
    std::vector<Var> stack_;
    Run run_;
};

double largest_magnitude(const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;  // NaN compares false: a NaN-only tensor gives 0, and max_abs_diff gives inf
}

// Whether `single` (f32) agrees with `reference` (f64) within `tolerance` relative to the larger of
// the reference's own magnitude and `magnitude_floor`; values past too_large are not compared.
void compare(const Tensor& single, const Tensor& reference, std::string_view what,
             double magnitude_floor = 0) {
    if (single.defined() != reference.defined())
        fuzz::finding(fmt::format("{}: defined in one dtype only", what));
    if (!reference.defined()) return;
    if (!(single.shape() == reference.shape()))
        fuzz::finding(
            fmt::format("{}: shape {} in f32, {} in f64", what, single.shape(), reference.shape()));
    for (double v : reference.to_vector())
        if (!std::isfinite(v) || std::abs(v) > too_large) return;
    const double scale = 1 + std::max(largest_magnitude(reference), magnitude_floor);
    const double diff = max_abs_diff(single, reference);
    if (!(diff <= tolerance * scale))
        fuzz::finding(fmt::format("{}: f32 and f64 differ by {} (scale {}):\nf32 {}\nf64 {}", what,
                                  diff, scale, single, reference));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static const bool once = [] {
        set_num_threads(1);
        return true;
    }();
    (void)once;
    Run single = Program(data, size, f32).run();
    Run reference = Program(data, size, f64).run();
    if (single.refused != reference.refused)
        fuzz::finding("a call was refused in one dtype and accepted in the other");
    if (single.leaves.size() != reference.leaves.size())
        fuzz::finding("the two runs created different numbers of leaves");
    if (reference.beyond_float32) return 0;
    compare(single.loss.value(), reference.loss.value(), "loss");
    if (reference.near_kink) return 0;
    // A NaN or infinite loss sends non-finite gradients back through the ops, and float32 and
    // float64 may then differ by IEEE rules alone: oneDNN's convolution multiplies them by its
    // zero padding (NaN), the float64 loops skip padded taps (0). Nothing to compare.
    if (!std::isfinite(reference.loss.value().item())) return 0;
    // A gradient that is zero by cancellation (a shift along a softmax's axis, say) carries the
    // float32 rounding of the terms that cancelled, which are as large as the gradients flowing
    // through the program: so every leaf's gradient is compared at the scale of the largest one.
    double largest_gradient = 0;
    for (const Var& leaf : reference.leaves)
        if (leaf.grad().defined())
            for (double v : leaf.grad().to_vector())
                if (std::isfinite(v)) largest_gradient = std::max(largest_gradient, std::abs(v));
    if (largest_gradient > too_large) return 0;  // float32 overflows on the way there
    for (std::size_t i = 0; i < single.leaves.size(); ++i)
        compare(single.leaves[i].grad(), reference.leaves[i].grad(),
                fmt::format("gradient of leaf {}", i), largest_gradient);
    return 0;
}
