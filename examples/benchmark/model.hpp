// lenet-fm as the benchmark trains it: the model's parameters as plain variables, initialised as
// PyTorch initialises the same layers, and one fixed batch of random data.
//   conv 5x5 1->32 SAME + bias, ReLU, max pool 2x2/2, conv 5x5 32->64 SAME + bias, ReLU,
//   max pool 2x2/2, flatten (3136), dense 3136->512, ReLU, dense 512->10, softmax cross-entropy;
//   SGD, lr 0.01, momentum 0.9.
// The layers' calls are in profile.cpp; torch_lenet.py is the same model in PyTorch.
#pragma once
#include <cstdint>
#include <vector>

#include <nalgrad/nalgrad.hpp>

namespace bench {

namespace ng = nalgrad;

struct LeNetFM {
    ng::Var w1, b1, w2, b2, w3, b3, w4, b4;  // conv1, conv2 (HWIO), dense1, dense2 ([in, out])
    std::vector<ng::Var> parameters() const { return {w1, b1, w2, b2, w3, b3, w4, b4}; }
};

LeNetFM make_model(ng::Generator& gen);

// Random standardised-looking images and labels; the values do not change the work done.
struct Batch {
    ng::Var images;
    ng::Tensor labels;
};

Batch random_batch(int64_t batch, ng::Generator& gen);

}  // namespace bench
