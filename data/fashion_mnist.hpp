// Fashion-MNIST (Zalando): 28x28 grayscale images of clothing in 10 classes, 60000 for training
// and 10000 for testing, as IDX files. Debian's dataset-fashion-mnist package installs them under
// /usr/share/datasets/fashion-mnist.
#pragma once
#include <array>
#include <string>
#include <string_view>

#include "data/dataset.hpp"

namespace nalgrad::data {

inline constexpr const char* fashion_mnist_root = "/usr/share/datasets/fashion-mnist";

// Pixel mean and standard deviation of the training images on [0, 1], for standardising.
inline constexpr double fashion_mnist_mean = 0.2860;
inline constexpr double fashion_mnist_stddev = 0.3530;

inline constexpr std::array<std::string_view, 10> fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// split "train" or "test": images as samples [28, 28, 1] (NHWC once batched), labels 0-9.
// Reads {root}/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, or the same names without .gz.
Dataset fashion_mnist(const std::string& split, const std::string& root = fashion_mnist_root);

}  // namespace nalgrad::data
