// An activation a kernel applies to its own output as it writes it (a oneDNN post-op), instead of
// a second pass over memory. The op that records it still appears on the tape (ops/activation.cpp).
#pragma once

namespace nalgrad {

enum class FusedActivation { none, relu };

}  // namespace nalgrad
