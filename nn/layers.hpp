// Layers: small structs that own their parameters (He-initialised from a seeded generator) and
// are called like functions, so a model is ordinary C++:
//     Var forward(const Var& x) { return fc2(relu(fc1(flatten(pool(relu(conv1(x))))))); }
#pragma once
#include <string>
#include <string_view>

#include "core/random.hpp"
#include "nn/parameters.hpp"
#include "ops/conv.hpp"
#include "ops/pool.hpp"

namespace nalgrad {

// The generator layers draw their initial weights from (as torch.manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

struct LayerInit {
    DType dtype = f32;
    Generator* generator = nullptr;  // null: default_generator()
};

// y = conv2d(x, weight, bias, options): weight HWIO [kh, kw, in, out], He-uniform; bias zero.
// {.activation = Activation::relu} in the options fuses the relu into the convolution.
class Conv2d {
  public:
    Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Conv2dOptions options = {},
           LayerInit init = {});
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    Parameters parameters() const { return {{"weight", weight}, {"bias", bias}}; }

    Var weight, bias;
    Conv2dOptions options;
};

// y = x weight + bias: weight [in, out], He-uniform; bias zero.
class Dense {
  public:
    Dense(int64_t in_features, int64_t out_features, LayerInit init = {});
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    Parameters parameters() const { return {{"weight", weight}, {"bias", bias}}; }

    Var weight, bias;
};

// {.activation = Activation::relu} in the options pools and applies the relu as one op.
class MaxPool2d {
  public:
    explicit MaxPool2d(MaxPool2dOptions options = {}) : options(options) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    Parameters parameters() const { return {}; }
    MaxPool2dOptions options;
};

class AvgPool2d {
  public:
    explicit AvgPool2d(AvgPool2dOptions options = {}) : options(options) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    Parameters parameters() const { return {}; }
    AvgPool2dOptions options;
};

// Inverted dropout; identity in eval mode. Seeded from its own generator.
class Dropout {
  public:
    explicit Dropout(double p, uint64_t seed = 0) : p(p), generator(seed) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current());
    Parameters parameters() const { return {}; }
    void train(bool on = true) { training = on; }
    void eval() { training = false; }

    double p;
    bool training = true;
    Generator generator;
};

namespace detail {
std::vector<std::string> split_names(std::string_view names);
template <typename... Layers>
Parameters collect_named(std::string_view names, const Layers&... layers) {
    std::vector<std::string> split = split_names(names);
    Parameters all;
    std::size_t i = 0;
    (
        [&] {
            for (auto& p : prefixed(split[i++], layers.parameters())) all.push_back(std::move(p));
        }(),
        ...);
    return all;
}
}  // namespace detail

}  // namespace nalgrad

// All parameters of the named layers, named after them: NALGRAD_COLLECT(conv1, fc1) gives
// "conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias".
#define NALGRAD_COLLECT(...) ::nalgrad::detail::collect_named(#__VA_ARGS__, __VA_ARGS__)
