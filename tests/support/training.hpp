// A few SGD steps of a small model on main's ops, for the thread and determinism tests: they
// compare the parameters and losses of runs bit for bit.
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

// A test-only reshape op (ops/shape is another branch): the same data seen with another shape.
inline Var view(const Var& x, Shape shape) {
    const Shape input_shape = x.shape();
    return record("view", x.value().reshape(shape), {x},
                  [input_shape](const Grads& dy, const std::vector<bool>&) -> Grads {
                      return {dy[0].reshape(input_shape)};
                  });
}

enum class Model {
    mlp,      // dense, relu, dense
    pooling,  // dense, relu, max_pool2d, dropout, matmul
};

struct TrainingRun {
    std::vector<Tensor> parameters;  // after the last step
    std::vector<double> losses;      // one per step
};

// `steps` SGD steps (momentum 0.9) on a fixed random regression problem; everything random comes
// from `seed`. The loss is the mean squared error, computed here (serially, in double) along with
// its gradient, which seeds backward.
inline TrainingRun train(Model model, DType dtype, uint64_t seed, int steps = 4) {
    constexpr int64_t batch = 32, inputs = 256, side = 8, channels = 8, outputs = 10;
    constexpr int64_t hidden = side * side * channels;
    constexpr int64_t pooled = (side / 2) * (side / 2) * channels;
    Generator gen(seed);
    auto parameter = [&](Shape shape, int64_t fan_in) {
        return normal(shape, 0, 1 / std::sqrt(double(fan_in)), dtype, gen).requires_grad();
    };
    const Tensor x = normal({batch, inputs}, dtype, gen);
    const Tensor target = normal({batch, outputs}, dtype, gen);
    Var w1 = parameter({inputs, hidden}, inputs), b1 = parameter({hidden}, inputs);
    const int64_t last_in = model == Model::mlp ? hidden : pooled;
    Var w2 = parameter({last_in, outputs}, last_in), b2 = parameter({outputs}, last_in);
    std::vector<Var> params{w1, b1, w2};
    if (model == Model::mlp) params.push_back(b2);
    optim::SGD sgd(params, {.lr = 0.05, .momentum = 0.9});
    Generator dropout_gen(seed + 1);

    TrainingRun run;
    for (int step = 0; step < steps; ++step) {
        Var h = relu(dense(x, w1, b1));
        Var y;
        if (model == Model::mlp) {
            y = dense(h, w2, b2);
        } else {
            Var pooled_h = max_pool2d(view(h, {batch, side, side, channels}));
            y = matmul(dropout(view(pooled_h, {batch, pooled}), 0.25, dropout_gen), w2);
        }
        const Tensor out = y.value().astype(f64), t = target.astype(f64);
        Tensor seed_grad({batch, outputs}, f64);
        double loss = 0;
        for (int64_t i = 0; i < out.numel(); ++i) {
            const double diff = out.data<double>()[i] - t.data<double>()[i];
            loss += diff * diff;
            seed_grad.data<double>()[i] = 2 * diff / double(out.numel());
        }
        run.losses.push_back(loss / double(out.numel()));
        sgd.zero_grad();
        y.backward(seed_grad.astype(dtype));
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
