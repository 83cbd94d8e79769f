// Layers: small structs that own their parameters (He-initialised from a seeded generator) and
// are called like functions, so a model is ordinary C++:
//     Var operator()(const Var& x) const { return fc2(relu(fc1(flatten(pool(conv1(x)))))); }
// Each layer is a module (nn/module.hpp): parameters(), buffers(), train() and eval().
#pragma once
#include <string>
#include <string_view>

#include "core/random.hpp"
#include "nn/module.hpp"
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
    bool bias = true;                // false: no bias parameter (as when a batch norm follows)
};

// y = conv2d(x, weight, bias, options): weight HWIO [kh, kw, in, out], He-uniform; bias zero,
// or none with {.bias = false}. {.activation = Activation::relu} in the options fuses the relu
// into the convolution.
class Conv2d {
  public:
    Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Conv2dOptions options = {},
           LayerInit init = {});
    // A layer around given variables: weight HWIO, bias [out] or undefined.
    Conv2d(Var weight, Var bias, Conv2dOptions options = {});
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    void visit(ModuleVisitor& visitor);
    NALGRAD_MODULE_METHODS

    Var weight, bias;
    Conv2dOptions options;
};

// y = x weight + bias: weight [in, out], He-uniform; bias zero.
class Dense {
  public:
    Dense(int64_t in_features, int64_t out_features, LayerInit init = {});
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    void visit(ModuleVisitor& visitor);
    NALGRAD_MODULE_METHODS

    Var weight, bias;
};

// {.activation = Activation::relu} in the options pools and applies the relu as one op.
class MaxPool2d {
  public:
    explicit MaxPool2d(MaxPool2dOptions options = {}) : options(options) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    void visit(ModuleVisitor&) {}
    NALGRAD_MODULE_METHODS
    MaxPool2dOptions options;
};

class AvgPool2d {
  public:
    explicit AvgPool2d(AvgPool2dOptions options = {}) : options(options) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current()) const;
    void visit(ModuleVisitor&) {}
    NALGRAD_MODULE_METHODS
    AvgPool2dOptions options;
};

// Inverted dropout; identity in eval mode. Seeded from its own generator.
class Dropout {
  public:
    explicit Dropout(double p, uint64_t seed = 0) : p(p), generator(seed) {}
    Var operator()(const Var& x, SourceLocation where = SourceLocation::current());
    void visit(ModuleVisitor& visitor) { visitor.mode(visitor.name_of("training"), training); }
    NALGRAD_MODULE_METHODS

    double p;
    bool training = true;
    Generator generator;
};

}  // namespace nalgrad
