#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

struct ConvCase {
    Shape x, k;
    Conv2dOptions options;
    bool bias;
    const char* what;
};

std::string padding_name(const Padding& p) {
    if (p == same) return "same";
    if (p == valid) return "valid";
    return fmt::format("{{{}, {}, {}, {}}}", p.top(), p.bottom(), p.left(), p.right());
}

std::vector<Case> conv2d_cases() {
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
        const Conv2dOptions options = c.options;
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

const Register conv2d_family{"conv2d", conv2d_cases};

}  // namespace
}  // namespace nalgrad::suite
