#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

// Distinct values (a shuffled ramp with gaps of 1/16, shifted by `offset`): max pooling meets no
// ties, where central differences are meaningless.
Var distinct_input(Shape shape, Generator& gen, double offset = 0) {
    Tensor x = zeros(shape, f64);
    const int64_t n = shape.numel();
    for (int64_t i = 0; i < n; ++i)
        x.data<double>()[i] = static_cast<double>(i - n / 2) / 16.0 + offset;
    for (int64_t i = n - 1; i > 0; --i)
        std::swap(x.data<double>()[i], x.data<double>()[gen.below(i + 1)]);
    return requires_grad(x);
}

struct Geometry {
    Shape x;
    Size2 kernel, stride;
    Padding padding;
    const char* padding_name;
};

std::vector<Geometry> geometries() {
    return {{{2, 6, 6, 3}, 2, 2, valid, "valid"},
            {{1, 7, 7, 2}, 2, 2, same, "same"},
            {{2, 5, 6, 2}, 3, 2, same, "same"},  // overlapping windows
            {{1, 7, 5, 3}, {3, 2}, {1, 2}, Padding(1, 2, 0, 1), "explicit 1 2 0 1"},
            {{1, 4, 4, 4}, 3, 1, same, "same"}};
}

std::string describe(const Geometry& g) {
    return fmt::format("x {}, k {}x{}, stride {}x{}, {}", g.x, g.kernel.h, g.kernel.w, g.stride.h,
                       g.stride.w, g.padding_name);
}

// With the relu activation, the fused op "max_pool2d_relu" (relu after the pool, the mask on the
// pooled gradient). The inputs then stay 1/32 away from the relu's kink at 0; windows whose
// maximum is negative pass no gradient under any policy.
std::vector<Case> max_pool_cases(Activation activation) {
    const bool relu = activation == Activation::relu;
    Generator gen(relu ? 25 : 21);
    std::vector<Case> cases;
    for (const Geometry& g : geometries())
        for (auto [ties, name] :
             {std::pair{TiePolicy::first, "first"}, std::pair{TiePolicy::all, "all"},
              std::pair{TiePolicy::split, "split"}})
            cases.push_back({fmt::format("{}, ties {}", describe(g), name),
                             {distinct_input(g.x, gen, relu ? 1.0 / 32 : 0)},
                             [g, ties, activation](const std::vector<Var>& in) {
                                 return max_pool2d(in[0], {.kernel = g.kernel,
                                                           .stride = g.stride,
                                                           .padding = g.padding,
                                                           .ties = ties,
                                                           .activation = activation});
                             }});
    return cases;
}

std::vector<Case> avg_pool_cases() {
    Generator gen(22);
    std::vector<Case> cases;
    for (const Geometry& g : geometries())
        for (auto [border, name] : {std::pair{AvgBorder::exclude_padding, "exclude_padding"},
                                    std::pair{AvgBorder::include_padding, "include_padding"}})
            cases.push_back({fmt::format("{}, {}", describe(g), name),
                             {random_input(g.x, gen)},
                             [g, border](const std::vector<Var>& in) {
                                 return avg_pool2d(in[0], {.kernel = g.kernel,
                                                           .stride = g.stride,
                                                           .padding = g.padding,
                                                           .border = border});
                             }});
    return cases;
}

std::vector<Case> stride_cases() {
    Generator gen(23);
    std::vector<Case> cases;
    for (auto [step, offset] : {std::pair<Size2, Size2>{2, 0}, {{3, 2}, {1, 1}}, {{1, 4}, {0, 3}}})
        cases.push_back(
            {fmt::format("x [2, 7, 6, 3], step {}x{}, offset {}x{}", step.h, step.w, offset.h,
                         offset.w),
             {random_input({2, 7, 6, 3}, gen)},
             [step, offset](const std::vector<Var>& in) { return stride(in[0], step, offset); }});
    return cases;
}

// Random geometries (batch 1-3, sizes 1-12, channels 1-8, kernels 1-5, strides 1-3, every
// padding mode), each under every tie policy and border rule.
std::vector<Case> pool_random_cases() {
    Generator gen(24);
    auto pick = [&](int64_t lo, int64_t hi) {
        return lo + static_cast<int64_t>(gen.below(hi - lo + 1));
    };
    std::vector<Case> cases;
    int geometries_made = 0;
    while (geometries_made < 30) {
        Shape x{pick(1, 3), pick(1, 12), pick(1, 12), pick(1, 8)};
        Size2 kernel{pick(1, 5), pick(1, 5)}, step{pick(1, 3), pick(1, 3)};
        Padding padding = valid;
        std::string padding_name = "valid";
        if (auto mode = gen.below(3); mode == 0) {
            padding = same;
            padding_name = "same";
        } else if (mode == 2) {
            // at most kernel - 1 per side, so no window lies entirely in padding
            padding = Padding(pick(0, kernel.h - 1), pick(0, kernel.h - 1), pick(0, kernel.w - 1),
                              pick(0, kernel.w - 1));
            padding_name = fmt::format("{{{}, {}, {}, {}}}", padding.top(), padding.bottom(),
                                       padding.left(), padding.right());
        }
        if (x[1] + padding.top() + padding.bottom() < kernel.h ||
            x[2] + padding.left() + padding.right() < kernel.w)
            continue;
        if (padding == same && (x[1] < kernel.h - step.h || x[2] < kernel.w - step.w)) continue;
        ++geometries_made;
        const Geometry g{x, kernel, step, padding, ""};
        std::string where = fmt::format("x {}, k {}x{}, stride {}x{}, {}", x, kernel.h, kernel.w,
                                        step.h, step.w, padding_name);
        GradcheckOptions check;
        check.fast = x.numel() > 300;
        for (auto [ties, name] :
             {std::pair{TiePolicy::first, "first"}, std::pair{TiePolicy::all, "all"},
              std::pair{TiePolicy::split, "split"}})
            cases.push_back({fmt::format("max {}, ties {}", where, name),
                             {distinct_input(x, gen)},
                             [g, ties](const std::vector<Var>& in) {
                                 return max_pool2d(in[0], {.kernel = g.kernel,
                                                           .stride = g.stride,
                                                           .padding = g.padding,
                                                           .ties = ties});
                             },
                             check});
        for (auto [border, name] : {std::pair{AvgBorder::exclude_padding, "exclude_padding"},
                                    std::pair{AvgBorder::include_padding, "include_padding"}})
            cases.push_back({fmt::format("avg {}, {}", where, name),
                             {random_input(x, gen)},
                             [g, border](const std::vector<Var>& in) {
                                 return avg_pool2d(in[0], {.kernel = g.kernel,
                                                           .stride = g.stride,
                                                           .padding = g.padding,
                                                           .border = border});
                             },
                             check});
    }
    return cases;
}

const Register max_pool{"max_pool2d", [] { return max_pool_cases(Activation::none); }};
const Register max_pool_relu{"max_pool2d_relu", [] { return max_pool_cases(Activation::relu); }};
const Register pool_random{"pool_random", pool_random_cases};
const Register global_avg_pool{
    "global_avg_pool2d", [] {
        Generator gen(26);
        std::vector<Case> cases;
        for (const Shape& x : {Shape{1, 1, 1, 3}, Shape{2, 3, 4, 2}, Shape{3, 7, 5, 1}})
            cases.push_back({fmt::format("x {}", x),
                             {random_input(x, gen)},
                             [](const std::vector<Var>& in) { return global_avg_pool2d(in[0]); }});
        return cases;
    }};
const Register avg_pool{"avg_pool2d", avg_pool_cases};
const Register stride_op{"stride", stride_cases};

}  // namespace
}  // namespace nalgrad::suite
