// Softmax and losses. Softmax works on the last axis; every loss is the mean over its elements
// (over the batch for softmax_cross_entropy) and returns a rank-0 variable.
#pragma once
#include "graph/var.hpp"

namespace nalgrad {

Var softmax(const Var& x, SourceLocation where = SourceLocation::current());
Var log_softmax(
    const Var& x,
    SourceLocation where = SourceLocation::current());  // x - logsumexp(x): stable where
                                                        // log(softmax(x)) underflows

// logits [mb, classes]; labels an i64 tensor [mb] with values in [0, classes).
// mean over the batch of -log softmax(logits)[label], computed in one stable pass.
Var softmax_cross_entropy(const Var& logits, const Tensor& labels,
                          SourceLocation where = SourceLocation::current());

// mean((prediction - target)^2); same shapes.
Var mse(const Var& prediction, const Var& target, SourceLocation where = SourceLocation::current());

// mean of the binary cross entropy of sigmoid(logits) against targets in [0, 1], in the form
// max(z, 0) - z t + log(1 + e^-|z|) that neither overflows nor takes log(0); same shapes.
Var sigmoid_cross_entropy(const Var& logits, const Var& targets,
                          SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
