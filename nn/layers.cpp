#include "nn/layers.hpp"

#include <cmath>
#include <mutex>

#include "core/limits.hpp"
#include "ops/dropout.hpp"
#include "ops/linear.hpp"

namespace nalgrad {
namespace {

std::mutex generator_mutex;

// He (Kaiming) uniform for ReLU networks: U(-b, b) with b = sqrt(6 / fan_in).
Var he_uniform(Shape shape, int64_t fan_in, const LayerInit& init) {
    double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
    std::lock_guard lock(generator_mutex);
    Generator& gen = init.generator ? *init.generator : default_generator();
    return requires_grad(uniform(shape, -bound, bound, init.dtype, gen));
}

void check_positive(std::string_view layer, std::string_view what, int64_t v) {
    if (v < 1) fail(layer, "{} must be at least 1, got {}", what, v);
}

}  // namespace

Generator& default_generator() {
    static Generator gen(0);
    return gen;
}

void manual_seed(uint64_t seed) {
    std::lock_guard lock(generator_mutex);
    default_generator() = Generator(seed);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Conv2dOptions options,
               LayerInit init)
    : options(options) {
    check_positive("Conv2d", "in_channels", in_channels);
    check_positive("Conv2d", "out_channels", out_channels);
    check_positive("Conv2d", "kernel height", kernel.h);
    check_positive("Conv2d", "kernel width", kernel.w);
    // Also keeps the fan-in product below from wrapping.
    check_allocation("Conv2d", "the weight", {kernel.h, kernel.w, in_channels, out_channels},
                     init.dtype);
    weight = he_uniform({kernel.h, kernel.w, in_channels, out_channels},
                        kernel.h * kernel.w * in_channels, init);
    bias = requires_grad(zeros({out_channels}, init.dtype));
}

Var Conv2d::operator()(const Var& x, SourceLocation where) const {
    return conv2d(x, weight, bias, options, where);
}

Dense::Dense(int64_t in_features, int64_t out_features, LayerInit init) {
    check_positive("Dense", "in_features", in_features);
    check_positive("Dense", "out_features", out_features);
    check_allocation("Dense", "the weight", {in_features, out_features}, init.dtype);
    weight = he_uniform({in_features, out_features}, in_features, init);
    bias = requires_grad(zeros({out_features}, init.dtype));
}

Var Dense::operator()(const Var& x, SourceLocation where) const {
    return dense(x, weight, bias, where);
}

Var MaxPool2d::operator()(const Var& x, SourceLocation where) const {
    return max_pool2d(x, options, where);
}
Var AvgPool2d::operator()(const Var& x, SourceLocation where) const {
    return avg_pool2d(x, options, where);
}
Var Dropout::operator()(const Var& x, SourceLocation where) {
    return dropout(x, p, generator, training, where);
}

namespace detail {
std::vector<std::string> split_names(std::string_view names) {
    std::vector<std::string> out;
    std::string current;
    for (char c : names) {
        if (c == ',') {
            out.push_back(current);
            current.clear();
        } else if (c != ' ' && c != '\t' && c != '\n') {
            current += c;
        }
    }
    out.push_back(current);
    return out;
}
}  // namespace detail

}  // namespace nalgrad
