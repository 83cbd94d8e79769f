// Activations.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

// `where`: the caller's line, for anomaly messages (graph/anomaly.hpp); leave it defaulted.
Var relu(const Var& x, SourceLocation where = SourceLocation::current());
// relu(conv2d(...)) runs the relu inside the convolution's forward, when nothing else holds the
// convolution's output; the tape still shows conv2d then relu, and the gradients are the same.
Var relu(Var&& x, SourceLocation where = SourceLocation::current());
namespace detail {
// For an op that records an expiring `y` (see producer_of_expiring) where `y` = relu(x): the
// relu's gradient becomes the identity, and the caller multiplies its own output gradient by
// [y > 0] instead, at the positions it reads. Exact when each gradient the caller sends to an
// element of y is paired with that element's own value (max pooling: the window's maximum is the
// winner's value). False, changing nothing, when y is not such a relu output.
bool take_relu_mask(const Var& y);
// How many times take_relu_mask succeeded on this thread (for tests).
int64_t relu_masks_taken();
}  // namespace detail

Var sigmoid(const Var& x,
            SourceLocation where =
                SourceLocation::current());  // 1 / (1 + e^-x), without overflow for large |x|
Var tanh(const Var& x, SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
