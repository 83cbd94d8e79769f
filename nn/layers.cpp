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
    if (init.bias) bias = requires_grad(zeros({out_channels}, init.dtype));
}

Conv2d::Conv2d(Var weight, Var bias, Conv2dOptions options)
    : weight(std::move(weight)), bias(std::move(bias)), options(options) {
    if (!this->weight.defined() || this->weight.rank() != 4)
        fail("Conv2d", "weight must be a defined HWIO [kh, kw, in, out] variable, got {}",
             this->weight.defined() ? fmt::format("{}", this->weight.shape()) : "undefined");
    const int64_t out = this->weight.shape().dim(3);
    if (this->bias.defined() && !(this->bias.shape() == Shape{out}))
        fail("Conv2d", "bias must be [{}] for weight {}, got {}", out, this->weight.shape(),
             this->bias.shape());
}

void Conv2d::visit(ModuleVisitor& visitor) {
    visitor.parameter(visitor.name_of("weight"), weight);
    if (bias.defined()) visitor.parameter(visitor.name_of("bias"), bias);
}

void Dense::visit(ModuleVisitor& visitor) {
    visitor.parameter(visitor.name_of("weight"), weight);
    visitor.parameter(visitor.name_of("bias"), bias);
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

}  // namespace nalgrad
