#include <algorithm>

#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

struct ConvCase {
    Shape x, k;
    Conv2dOptions options;
    bool bias;
    const char* what;
};

// A relu whose input is nowhere positive passes no gradient, and the check would prove nothing:
// then negate the kernel and bias, which negates the convolution's output.
void make_some_positive(std::vector<Var>& in, const Conv2dOptions& options) {
    const Tensor y = conv2d(in[0], in[1], in.size() > 2 ? in[2] : Var{}, options).value();
    if (std::ranges::any_of(y.to_vector(), [](double v) { return v > 0; })) return;
    for (std::size_t i = 1; i < in.size(); ++i) in[i] = requires_grad((-in[i]).value());
}

std::string padding_name(const Padding& p) {
    if (p == same) return "same";
    if (p == valid) return "valid";
    return fmt::format("{{{}, {}, {}, {}}}", p.top(), p.bottom(), p.left(), p.right());
}

// activation: relu makes each case the fused op "conv2d_relu".
std::vector<Case> conv2d_cases(Activation activation) {
    Generator gen(31);
    const ConvCase configs[] = {
        {{1, 3, 3, 1}, {2, 2, 1, 1}, {.padding = same}, true, "even kernel, SAME pads after"},
        {{2, 5, 5, 3}, {3, 3, 3, 4}, {.padding = same}, true, "SAME"},
        {{1, 7, 6, 2}, {3, 3, 2, 3}, {.stride = 2, .padding = same}, false, "strided SAME"},
        {{2, 6, 7, 2},
         {3, 2, 2, 2},
         {.stride = {2, 1}, .dilation = {1, 2}, .padding = Padding(1, 2, 0, 3)},
         true,
         "explicit, dilated"},
        {{1, 9, 8, 2}, {3, 3, 2, 2}, {.dilation = 2}, true, "dilated VALID"},
        {{3, 7, 5, 3}, {1, 1, 3, 4}, {.stride = 2}, true, "1x1 strided"},
        {{1, 4, 4, 2}, {4, 4, 2, 1}, {}, false, "kernel as large as the input"},
    };
    std::vector<Case> cases;
    for (const ConvCase& c : configs) {
        std::vector<Var> in{random_input(c.x, gen), random_input(c.k, gen)};
        if (c.bias) in.push_back(random_input({c.k[3]}, gen));
        Conv2dOptions options = c.options;
        options.activation = activation;
        if (activation == Activation::relu) make_some_positive(in, options);
        cases.push_back(
            {fmt::format("x {} k {} stride {}x{} dilation {}x{} {}{} ({})", c.x, c.k,
                         options.stride.h, options.stride.w, options.dilation.h, options.dilation.w,
                         padding_name(options.padding), c.bias ? " bias" : "", c.what),
             in, [options](const std::vector<Var>& v) {
                 return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Var{}, options);
             }});
    }
    return cases;
}

// Random geometries: batch 1-3, sizes 1-12, channels 1-8, kernels 1-5
// (even too), strides 1-3, dilation 1-2, every padding mode, with and without bias. Small ones
// get the full Jacobian, the rest random projections.
std::vector<Case> conv2d_random_cases() {
    Generator gen(37);
    auto pick = [&](int64_t lo, int64_t hi) {
        return lo + static_cast<int64_t>(gen.below(hi - lo + 1));
    };
    std::vector<Case> cases;
    while (cases.size() < 80) {
        Shape x{pick(1, 3), pick(1, 12), pick(1, 12), pick(1, 8)};
        Shape k{pick(1, 5), pick(1, 5), x[3], pick(1, 8)};
        Conv2dOptions options{.stride = {pick(1, 3), pick(1, 3)},
                              .dilation = {pick(1, 2), pick(1, 2)}};
        switch (gen.below(3)) {
            case 0:
                options.padding = same;
                break;
            case 1:
                options.padding = valid;
                break;
            default:
                options.padding = Padding(pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2));
        }
        try {
            conv2d_window(x, k, options);
        } catch (const Error&) {
            continue;  // an impossible geometry: the error tests cover those
        }
        bool bias = gen.below(2) == 1;
        std::vector<Var> in{random_input(x, gen), random_input(k, gen)};
        if (bias) in.push_back(random_input({k[3]}, gen));
        GradcheckOptions check;
        check.fast = x.numel() + k.numel() > 300;
        check.seed = cases.size();
        cases.push_back({fmt::format("x {} k {} stride {}x{} dilation {}x{} {}{}{}", x, k,
                                     options.stride.h, options.stride.w, options.dilation.h,
                                     options.dilation.w, padding_name(options.padding),
                                     bias ? " bias" : "", check.fast ? " (fast)" : ""),
                         in,
                         [options](const std::vector<Var>& v) {
                             return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Var{}, options);
                         },
                         check});
    }
    return cases;
}

const Register conv2d_family{"conv2d", [] { return conv2d_cases(Activation::none); }};
const Register conv2d_relu_family{"conv2d_relu", [] { return conv2d_cases(Activation::relu); }};
const Register conv2d_random_family{"conv2d_random", conv2d_random_cases};

}  // namespace
}  // namespace nalgrad::suite
