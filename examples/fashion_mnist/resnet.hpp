// "resnet", the example's residual network for 28x28 images (He et al.'s CIFAR design, sized for
// two cores): a 3x3 stem, three stages of basic blocks at 28x28, 14x14 and 7x7, global average
// pooling and a dense classifier. The first block of a later stage halves the resolution with a
// stride-2 convolution, its shortcut a 1x1 stride-2 projection with batch norm. Convolutions
// before a batch norm have no bias, as in torchvision.
//   block(x) = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
// Names follow torchvision's: "layer2.0.conv1.weight", "layer2.0.downsample.bn.running_mean".
// The 3x3 convolutions pad one pixel on every side, as PyTorch's padding=1: at stride 2 on an
// even size, SAME would pad only after (TensorFlow's rule) and sample other pixels.
// torch_resnet.py builds the same network in PyTorch.
#pragma once
#include <optional>
#include <vector>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::examples {

struct ResNetShape {
    std::vector<int64_t> widths = {32, 64, 128};  // channels of each stage
    int64_t blocks = 1;                           // basic blocks per stage
    DType dtype = f32;
};

inline LayerInit no_bias(DType dtype) {
    return {.dtype = dtype, .bias = false};
}
inline constexpr Padding pad1{1, 1, 1, 1};

struct Projection {
    Conv2d conv;
    BatchNorm2d bn;
    Var operator()(const Var& x) const { return bn(conv(x)); }
    NALGRAD_MODULE(conv, bn)
};

struct BasicBlock {
    BasicBlock(int64_t in, int64_t out, int64_t stride, DType dtype)
        : conv1(in, out, {3, 3}, {.stride = stride, .padding = pad1}, no_bias(dtype)),
          bn1(out, {.activation = Activation::relu}, {.dtype = dtype}),
          conv2(out, out, {3, 3}, {.padding = pad1}, no_bias(dtype)),
          bn2(out, {}, {.dtype = dtype}) {
        if (stride != 1 || in != out)
            downsample = Projection{Conv2d(in, out, {1, 1}, {.stride = stride}, no_bias(dtype)),
                                    BatchNorm2d(out, {}, {.dtype = dtype})};
    }
    Var operator()(const Var& x) const {
        Var h = bn2(conv2(bn1(conv1(x))));
        return relu(h + (downsample ? (*downsample)(x) : x));
    }

    Conv2d conv1;
    BatchNorm2d bn1;
    Conv2d conv2;
    BatchNorm2d bn2;
    std::optional<Projection> downsample;
    NALGRAD_MODULE(conv1, bn1, conv2, bn2, downsample)
};

struct ResNet {
    explicit ResNet(const ResNetShape& shape = {})
        : conv1(1, shape.widths.at(0), {3, 3}, {.padding = pad1}, no_bias(shape.dtype)),
          bn1(shape.widths.at(0), {.activation = Activation::relu}, {.dtype = shape.dtype}),
          fc(shape.widths.at(2), 10, {.dtype = shape.dtype}) {
        std::vector<BasicBlock>* stages[] = {&layer1, &layer2, &layer3};
        int64_t in = shape.widths[0];
        for (int s = 0; s < 3; ++s) {
            for (int64_t b = 0; b < shape.blocks; ++b) {
                const int64_t stride = s > 0 && b == 0 ? 2 : 1;
                stages[s]->emplace_back(in, shape.widths[s], stride, shape.dtype);
                in = shape.widths[s];
            }
        }
    }
    Var operator()(const Var& x) const {
        Var h = bn1(conv1(x));
        for (const auto* stage : {&layer1, &layer2, &layer3})
            for (const BasicBlock& block : *stage) h = block(h);
        return fc(global_avg_pool2d(h));
    }

    Conv2d conv1;
    BatchNorm2d bn1;
    std::vector<BasicBlock> layer1, layer2, layer3;
    Dense fc;
    NALGRAD_MODULE(conv1, bn1, layer1, layer2, layer3, fc)
};

}  // namespace nalgrad::examples
