// "lenet-fm", the example's model; tests train it too.
//   conv 5x5 1->32 SAME, ReLU, max pool 2x2/2, conv 5x5 32->64 SAME, ReLU, max pool 2x2/2,
//   flatten, dense 3136->512, ReLU, dense 512->10.
// Each ReLU after a convolution runs inside the pool that follows it (relu after a max pool
// equals max pool after relu, on a quarter of the elements): MaxPool2dOptions::activation.
// book_style: a variant that pools at stride 1, then applies the stride op as its own step.
// LeNetBN ("lenet-bn"): batch norm after each convolution, before the relu and the pool.
#pragma once
#include <nalgrad/nalgrad.hpp>

namespace nalgrad::examples {

struct LeNet {
    bool book_style = false;
    Conv2d conv1{1, 32, {5, 5}, {.padding = same}};
    Conv2d conv2{32, 64, {5, 5}, {.padding = same}};
    Dense fc1{7 * 7 * 64, 512};
    Dense fc2{512, 10};

    // max_pool2d(relu(h)), as one op.
    Var relu_pool(const Var& h) const {
        if (!book_style)
            return max_pool2d(h, {.kernel = 2, .stride = 2, .activation = Activation::relu});
        // Pool at stride 1 (one padding row and column after, so the skip keeps 14 and 7), then
        // skip every other row and column.
        return stride(max_pool2d(h, {.kernel = 2,
                                     .stride = 1,
                                     .padding = {0, 1, 0, 1},
                                     .activation = Activation::relu}),
                      2);
    }
    Var operator()(const Var& x) const {
        Var h = relu_pool(conv1(x));
        h = relu_pool(conv2(h));
        return fc2(relu(fc1(flatten(h))));
    }
    NALGRAD_MODULE(conv1, conv2, fc1, fc2)
};

struct LeNetBN {
    Conv2d conv1{1, 32, {5, 5}, {.padding = same}, {.bias = false}};
    BatchNorm2d bn1{32};
    Conv2d conv2{32, 64, {5, 5}, {.padding = same}, {.bias = false}};
    BatchNorm2d bn2{64};
    Dense fc1{7 * 7 * 64, 512};
    Dense fc2{512, 10};

    Var operator()(const Var& x) const {
        const MaxPool2dOptions relu_pool{.kernel = 2, .stride = 2, .activation = Activation::relu};
        Var h = max_pool2d(bn1(conv1(x)), relu_pool);
        h = max_pool2d(bn2(conv2(h)), relu_pool);
        return fc2(relu(fc1(flatten(h))));
    }
    NALGRAD_MODULE(conv1, bn1, conv2, bn2, fc1, fc2)
};

}  // namespace nalgrad::examples
