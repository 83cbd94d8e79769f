// Recycled memory for the small objects made and freed every step (the tape's variables, records
// and gradient functions' state, tensors' Storage, a max pooling's saved state), so that a training
// step after the first allocates none of them.
// std::allocate_shared<VarNode>(PoolAllocator<VarNode>{}) puts the node and its reference counts in
// one block of the pool.
//
// Blocks come in size classes of 32 bytes up to 2 KiB (larger or over-aligned requests go to
// operator new). Each thread keeps, per class and without a lock, two magazines of up to 2048
// free blocks; a thread that frees more than it allocates (it drops variables another thread
// made) parks full magazines in shared lists under a mutex, and a thread that runs dry takes one
// from there before asking the heap. A block is a plain heap block, so it may be freed on any
// thread, before or after the thread that allocated it ends. Freed blocks are kept, not returned
// to the heap: the pool holds the peak number of live nodes and records.
#pragma once
#include <cstddef>

namespace nalgrad::detail {

void* pool_allocate(std::size_t bytes, std::size_t alignment);
void pool_deallocate(void* block, std::size_t bytes, std::size_t alignment) noexcept;

// Blocks this thread holds ready in its free lists, over all size classes (for tests).
std::size_t pool_blocks_cached_on_this_thread();

template <typename T>
struct PoolAllocator {
    using value_type = T;

    PoolAllocator() = default;
    template <typename U>
    PoolAllocator(const PoolAllocator<U>&) noexcept {}  // NOLINT: rebinding, as std::allocator

    T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T), alignof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { pool_deallocate(p, n * sizeof(T), alignof(T)); }

    template <typename U>
    bool operator==(const PoolAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace nalgrad::detail
