// A few SGD steps of a small model, for the thread, determinism and anomaly tests: they compare
// the parameters and losses of runs bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing {

// Restores the thread settings a test changed.
struct ThreadSettingsGuard {
    int threads = get_num_threads();
    bool was_deterministic = deterministic();
    ~ThreadSettingsGuard() {
        set_num_threads(threads);
        set_deterministic(was_deterministic);
    }
};

enum class Model {
    mlp,      // dense, relu, dense
    pooling,  // dense, relu, reshape, max_pool2d, flatten, dropout, matmul
    conv,     // conv2d, relu, max_pool2d, flatten, dropout, dense
};

struct TrainingRun {
    std::vector<Tensor> parameters;  // after the last step
    std::vector<double> losses;      // one per step
};

// `steps` SGD steps (momentum 0.9) of a mean-squared-error regression on fixed random data;
// everything random comes from `seed`.
inline TrainingRun train(Model model, DType dtype, uint64_t seed, int steps = 4) {
    constexpr int64_t batch = 16, features = 256, side = 8, channels = 8, outputs = 10;
    constexpr int64_t image = 12, image_channels = 3;
    Generator gen(seed);
    auto parameter = [&](Shape shape, int64_t fan_in) {
        return requires_grad(normal(shape, 0, 1 / std::sqrt(double(fan_in)), dtype, gen));
    };
    const Tensor x = model == Model::conv
                         ? normal({batch, image, image, image_channels}, dtype, gen)
                         : normal({batch, features}, dtype, gen);
    const Tensor target = normal({batch, outputs}, dtype, gen);
    const int64_t hidden = model == Model::conv  ? (image / 2) * (image / 2) * channels
                           : model == Model::mlp ? side * side * channels
                                                 : (side / 2) * (side / 2) * channels;
    Var w1 = model == Model::conv ? parameter({3, 3, image_channels, channels}, 9 * image_channels)
                                  : parameter({features, side * side * channels}, features);
    Var b1 = parameter({w1.size(-1)}, features);
    Var w2 = parameter({hidden, outputs}, hidden), b2 = parameter({outputs}, hidden);
    std::vector<Var> params{w1, b1, w2};
    if (model != Model::pooling) params.push_back(b2);
    optim::SGD sgd(params, {.lr = 0.05, .momentum = 0.9});
    Generator dropout_gen(seed + 1);

    TrainingRun run;
    for (int step = 0; step < steps; ++step) {
        Var y;
        if (model == Model::mlp) {
            y = dense(relu(dense(x, w1, b1)), w2, b2);
        } else if (model == Model::pooling) {
            Var h = reshape(relu(dense(x, w1, b1)), {batch, side, side, channels});
            y = matmul(dropout(flatten(max_pool2d(h)), 0.25, dropout_gen), w2);
        } else {
            Var h = max_pool2d(relu(conv2d(x, w1, b1, {.padding = same})));
            y = dense(dropout(flatten(h), 0.25, dropout_gen), w2, b2);
        }
        Var loss = mse(y, target);
        run.losses.push_back(loss.item());
        sgd.zero_grad();
        loss.backward();
        sgd.step();
    }
    for (const Var& p : params) run.parameters.push_back(p.value().clone());
    return run;
}

// Bitwise equality of two runs.
inline bool identical(const TrainingRun& a, const TrainingRun& b) {
    if (a.losses != b.losses || a.parameters.size() != b.parameters.size()) return false;
    for (std::size_t i = 0; i < a.parameters.size(); ++i)
        if (!equal(a.parameters[i], b.parameters[i])) return false;
    return true;
}

}  // namespace nalgrad::testing
