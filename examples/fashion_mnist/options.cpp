#include "options.hpp"

namespace fashion_mnist {

void add_options(CLI::App& app, Options& o) {
    app.add_option("--epochs", o.epochs, "epochs to train")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--batch", o.batch, "batch size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--optimizer", o.optimizer, "sgd, adam, adamw or rmsprop")
        ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}))
        ->capture_default_str();
    app.add_option("--lr", o.lr,
                   "learning rate (default: 1e-3 for adam/adamw/rmsprop, 0.01 for sgd)");
    app.add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
    app.add_option("--weight-decay", o.weight_decay,
                   "weight decay of the convolution and dense weights (biases and batch norm "
                   "are not decayed)")
        ->capture_default_str();
    app.add_option("--threads", o.threads, "threads (default: every core)");
    app.add_option("--seed", o.seed, "seed for weights and shuffling")->capture_default_str();
    app.add_option("--model", o.model_kind,
                   "lenet, book (lenet with the stride as its own step), lenet-bn (lenet with "
                   "batch norm) or resnet")
        ->check(CLI::IsMember({"lenet", "book", "lenet-bn", "resnet"}))
        ->capture_default_str();
    app.add_option("--width", o.width, "resnet: channels of the first stage (then 2x and 4x)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--blocks", o.blocks, "resnet: basic blocks per stage")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--data", o.data_root, "folder with the Fashion-MNIST IDX files")
        ->capture_default_str();
    app.add_option("--out", o.out_dir, "output folder")->capture_default_str();
    app.add_option("--resume", o.resume, "checkpoint to continue from");
    app.add_option("--limit", o.limit, "train on the first N images only (a quick run)");
    app.add_option("--schedule", o.schedule,
                   "learning-rate schedule: none, or cosine (annealed to 0 over all the epochs, "
                   "stepped per batch)")
        ->check(CLI::IsMember({"none", "cosine"}))
        ->capture_default_str();
    app.add_option("--crop-padding", o.crop_padding,
                   "augmentation: pad each training image by N zero pixels, then crop a random "
                   "28x28 window")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_flag("--flip", o.flip, "augmentation: flip training images left-right at random");
    app.add_option("--min-accuracy", o.min_accuracy,
                   "exit with status 1 when the final test accuracy is below this");
}

void apply_recipe(const CLI::App& app, Options& o) {
    const auto unless_given = [&](const char* option, auto& value, auto recipe) {
        if (app.count(option) == 0) value = recipe;
    };
    if (o.model_kind == "lenet-bn" || o.model_kind == "resnet") {
        const bool resnet = o.model_kind == "resnet";
        unless_given("--optimizer", o.optimizer, std::string("sgd"));
        unless_given("--lr", o.lr, resnet ? 0.1 : 0.05);
        unless_given("--weight-decay", o.weight_decay, 5e-4);
        unless_given("--schedule", o.schedule, std::string("cosine"));
        unless_given("--batch", o.batch, int64_t{128});
        unless_given("--epochs", o.epochs, resnet ? 14 : 15);
        unless_given("--crop-padding", o.crop_padding, int64_t{2});
        unless_given("--flip", o.flip, true);
    }
    if (o.lr == 0) o.lr = o.optimizer == "sgd" ? 0.01 : 1e-3;
}

}  // namespace fashion_mnist
