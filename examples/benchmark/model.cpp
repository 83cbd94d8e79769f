#include "model.hpp"

#include <cmath>
#include <utility>

namespace bench {
namespace {

// PyTorch's default initialisation bound, 1 / sqrt(fan_in), for weights and biases alike.
ng::Var parameter(ng::Shape shape, int64_t fan_in, ng::Generator& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return requires_grad(ng::uniform(std::move(shape), -bound, bound, ng::f32, gen));
}

}  // namespace

LeNetFM make_model(ng::Generator& gen) {
    return {parameter({5, 5, 1, 32}, 25, gen),       parameter({32}, 25, gen),
            parameter({5, 5, 32, 64}, 800, gen),     parameter({64}, 800, gen),
            parameter({7 * 7 * 64, 512}, 3136, gen), parameter({512}, 3136, gen),
            parameter({512, 10}, 512, gen),          parameter({10}, 512, gen)};
}

Batch random_batch(int64_t batch, ng::Generator& gen) {
    ng::Tensor labels({batch}, ng::i64);
    for (int64_t i = 0; i < batch; ++i)
        labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    return {ng::Var(ng::normal({batch, 28, 28, 1}, ng::f32, gen)), labels};
}

}  // namespace bench
