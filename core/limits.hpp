// The size rule every allocation obeys, checked before allocating so that a refusal names the op
// that asked (internal: nalgrad.hpp does not include it). A shape is allocatable when it has no
// negative extent, its element and byte counts fit int64 (core/checked.hpp), and its bytes do not
// exceed this machine's physical memory: with overcommit a larger request would succeed and the
// process be killed on first touch.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "core/dtype.hpp"
#include "core/shape.hpp"

namespace nalgrad {

// Total physical memory in bytes (SIZE_MAX when the system does not say).
std::size_t physical_memory();

// Throws nalgrad::Error naming `op` and `what` ("the output", "the result") with the dtype and
// shape, as "conv2d: cannot allocate the output f32 [1, 131074, 131074, 1]: 68721573904 bytes
// (64.0 GiB), more than this machine's memory (23.5 GiB)".
void check_allocation(std::string_view op, std::string_view what, const Shape& shape, DType dtype);

// "64.0 GiB"
std::string gib(std::size_t bytes);

}  // namespace nalgrad
