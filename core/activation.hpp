// An activation an op applies to its own output as it writes it (conv2d's oneDNN post-op, max
// pooling's pooled output), chosen by the caller through the op's options: a fused op is an op of
// its own, with one record and its gradient beside its forward.
#pragma once

namespace nalgrad {

enum class Activation {
    none,
    relu,  // max(y, 0)
};

}  // namespace nalgrad
