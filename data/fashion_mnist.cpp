#include "data/fashion_mnist.hpp"

#include <filesystem>

#include "data/idx.hpp"

namespace nalgrad::data {

namespace {

constexpr int64_t side = 28;
constexpr int64_t classes = 10;

// The .gz name when it exists, else the uncompressed one when that exists, else the .gz name (so
// the error names the file the package installs).
std::string find_file(const std::string& root, const std::string& stem) {
    std::filesystem::path gz = std::filesystem::path(root) / (stem + ".gz");
    std::filesystem::path plain = std::filesystem::path(root) / stem;
    std::error_code ignored;
    if (!std::filesystem::exists(gz, ignored) && std::filesystem::exists(plain, ignored))
        return plain.string();
    return gz.string();
}

}  // namespace

Dataset fashion_mnist(const std::string& split, const std::string& root) {
    if (split != "train" && split != "test")
        fail("fashion_mnist", "split must be \"train\" or \"test\", got \"{}\"", split);
    std::string prefix = split == "train" ? "train" : "t10k";
    std::string images_path = find_file(root, prefix + "-images-idx3-ubyte");
    std::string labels_path = find_file(root, prefix + "-labels-idx1-ubyte");

    IdxArray images = read_idx(images_path, 3);
    if (images.dims[1] != side || images.dims[2] != side)
        fail("fashion_mnist", "'{}' holds images of {}x{}, expected {}x{}", images_path,
             images.dims[1], images.dims[2], side, side);
    IdxArray labels = read_idx(labels_path, 1);
    if (labels.dims[0] != images.dims[0])
        fail("fashion_mnist", "'{}' has {} labels but '{}' has {} images", labels_path,
             labels.dims[0], images_path, images.dims[0]);

    Tensor label_tensor({labels.dims[0]}, i64);
    int64_t* out = label_tensor.data<int64_t>();
    for (int64_t i = 0; i < labels.dims[0]; ++i) {
        out[i] = labels.values[i];
        if (out[i] >= classes)
            fail("fashion_mnist", "'{}': label {} of sample {} is not a class 0-{}", labels_path,
                 out[i], i, classes - 1);
    }
    return Dataset(std::move(images.values), Shape{side, side, 1}, label_tensor);
}

}  // namespace nalgrad::data
