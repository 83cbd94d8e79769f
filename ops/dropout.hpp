// Dropout.
#pragma once
#include "core/random.hpp"
#include "graph/var.hpp"

namespace nalgrad {

// Inverted dropout: each element is zeroed with probability p and the kept ones are scaled by
// 1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling. The mask comes
// from `gen` (serially: the same seed gives the same mask on any thread count). Returns x itself
// when training is false or p == 0. dx = dy * mask. p must be in [0, 1).
Var dropout(const Var& x, double p, Generator& gen, bool training = true,
            SourceLocation where = SourceLocation::current());

}  // namespace nalgrad
