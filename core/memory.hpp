// Tensor memory: the caching allocator's figures, and a way to hand its cache back to the system
// (like PyTorch's torch.cuda.memory_stats and empty_cache).
//
// Freed tensor storage is kept, keyed by size class, and handed to the next tensor of that class,
// so a training step reuses the previous step's activation and gradient blocks instead of asking
// the system again (core/allocator.cpp states the size classes and the bound on the cache).
#pragma once
#include <cstddef>
#include <cstdint>

namespace nalgrad {

struct MemoryStats {
    std::size_t bytes_in_use = 0;       // held by live tensors (rounded to size classes)
    std::size_t bytes_cached = 0;       // freed, kept for reuse
    std::size_t peak_bytes_in_use = 0;  // since the process started
    uint64_t system_allocations = 0;    // blocks obtained from the system since the start
    uint64_t reuses = 0;                // requests served from the cache since the start
};

MemoryStats memory_stats();

// Returns every cached block to the system; tensors in use are untouched.
void empty_cache();

}  // namespace nalgrad
