// "lenet-fm" (../shared/bench/README.md), the example's model; tests train it too.
//   conv 5x5 1->32 SAME, ReLU, max pool 2x2/2, conv 5x5 32->64 SAME, ReLU, max pool 2x2/2,
//   flatten, dense 3136->512, ReLU, dense 512->10.
// book_style: the notes' variant, stride-1 pooling followed by the stride op as its own step.
#pragma once
#include <nalgrad/nalgrad.hpp>

namespace nalgrad::examples {

struct LeNet {
    bool book_style = false;
    Conv2d conv1{1, 32, {5, 5}, {.padding = same}};
    Conv2d conv2{32, 64, {5, 5}, {.padding = same}};
    Dense fc1{7 * 7 * 64, 512};
    Dense fc2{512, 10};

    // h is a relu's output that nothing else holds: passed on as such, the pool applies the
    // relu's gradient mask itself (ops/pool.hpp).
    Var pool(Var&& h) const {
        if (!book_style) return max_pool2d(std::move(h), {.kernel = 2, .stride = 2});
        // Pool at stride 1 (one padding row and column after, so the skip keeps 14 and 7), then
        // skip every other row and column.
        return stride(max_pool2d(std::move(h), {.kernel = 2, .stride = 1, .padding = {0, 1, 0, 1}}),
                      2);
    }
    Var operator()(const Var& x) const {
        Var h = pool(relu(conv1(x)));
        h = pool(relu(conv2(h)));
        return fc2(relu(fc1(flatten(h))));
    }
    Parameters parameters() const { return NALGRAD_COLLECT(conv1, conv2, fc1, fc2); }
};

}  // namespace nalgrad::examples
