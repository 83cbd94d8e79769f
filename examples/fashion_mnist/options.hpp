// The example's command line, and each model's recipe: the options a model trains with unless
// the command line says otherwise.
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <nalgrad/nalgrad.hpp>

namespace fashion_mnist {

namespace ng = nalgrad;

struct Options {
    int epochs = 2, threads = 0;
    int64_t batch = 64, limit = 0;
    std::string optimizer = "adam", model_kind = "lenet", data_root = ng::data::fashion_mnist_root,
                out_dir = "runs/fashion_mnist", resume, schedule = "none";
    double lr = 0, momentum = 0.9, weight_decay = 0, min_accuracy = 0;
    int64_t width = 24, blocks = 1, crop_padding = 0;
    bool flip = false;
    uint64_t seed = 1;
};

void add_options(CLI::App& app, Options& o);

// lenet and book: Adam, lr 1e-3, batch 64, no augmentation. lenet-bn and resnet: SGD with
// momentum 0.9, weight decay 5e-4 on the weights, a cosine schedule, batch 128, crop (padding 2)
// and flip; lr 0.05 for lenet-bn, 0.1 for resnet; 15 epochs for lenet-bn, 14 for resnet (about 30
// minutes on two cores). An option given on the command line keeps its value.
void apply_recipe(const CLI::App& app, Options& o);

}  // namespace fashion_mnist
