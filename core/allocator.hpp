// The caching allocator behind Storage (core/memory.hpp has its public face). Not installed for
// users' code to call: tensors are the way to get memory.
#pragma once
#include <cstddef>

namespace nalgrad::allocator {

// A 64-byte aligned block of at least `bytes` (a zero-byte request gets a block too), or nullptr
// when the system has none. Thread-safe.
void* allocate(std::size_t bytes);
// Gives back a block from allocate(bytes), from any thread.
void release(void* block, std::size_t bytes) noexcept;

// The block size a request of `bytes` receives.
std::size_t size_class(std::size_t bytes);

}  // namespace nalgrad::allocator
