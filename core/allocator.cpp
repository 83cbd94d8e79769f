#include "core/allocator.hpp"

#include <algorithm>
#include <bit>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/memory.hpp"

#include "core/asan.hpp"

namespace nalgrad {
namespace {

constexpr std::size_t alignment = 64;

// A training step frees and allocates the same tensors again every step (about 50 MiB for the
// benchmark's lenet-fm at B=64). Asking the system each time costs calls, and glibc hands large
// freed blocks back to the kernel, so every step page-faulted its activations in again (9,500
// faults, 15-30 ms of a 50-80 ms step). Freed blocks are therefore kept here, one free list per
// size class, and a request takes a block of its class when one is free.
//
// Bound: the footprint (bytes in use + cached) may grow to twice the peak bytes in use, at least
// 256 MiB. A steady training loop settles well inside it: after a step or two every request
// finds a block. When a request misses and a new block would take the footprint over the bound,
// cached blocks (of other sizes: a workload whose shapes changed) go back to the system first,
// as many as needed. When the system refuses, the whole cache goes back and the request is
// tried once more.
//
// Under AddressSanitizer cached blocks are poisoned, so a tensor's data used after its storage
// was freed is still reported; a block handed out is unpoisoned up to the bytes asked for, so
// reads and writes past them (within the rounding) are reported too.
class CachingAllocator {
  public:
    void* allocate(std::size_t bytes) {
        const std::size_t size = allocator::size_class(bytes);
        if (size == 0) return nullptr;
        {
            std::lock_guard lock(mutex_);
            if (void* block = take_cached(size)) return addressable(block, bytes, size);
            trim_for(size);
        }
        void* block = ::operator new (size, std::align_val_t{alignment}, std::nothrow);
        if (!block) {
            empty();
            block = ::operator new (size, std::align_val_t{alignment}, std::nothrow);
            if (!block) return nullptr;
        }
        std::lock_guard lock(mutex_);
        ++stats_.system_allocations;
        count_in_use(size);
        return addressable(block, bytes, size);
    }

    void release(void* block, std::size_t bytes) noexcept {
        const std::size_t size = allocator::size_class(bytes);
        std::lock_guard lock(mutex_);
        stats_.bytes_in_use -= size;
        try {
            free_lists_[size].push_back(block);  // grows only while the cache fills
        } catch (const std::bad_alloc&) {
            ::operator delete (block, std::align_val_t{alignment});
            return;
        }
        NALGRAD_POISON(block, size);
        stats_.bytes_cached += size;
    }

    void empty() noexcept {
        std::lock_guard lock(mutex_);
        for (auto& [size, blocks] : free_lists_)
            while (!blocks.empty()) free_one(size, blocks);
    }

    MemoryStats stats() {
        std::lock_guard lock(mutex_);
        return stats_;
    }

  private:
    void* take_cached(std::size_t size) {
        auto it = free_lists_.find(size);
        if (it == free_lists_.end() || it->second.empty()) return nullptr;
        void* block = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= size;
        ++stats_.reuses;
        count_in_use(size);
        return block;
    }

    static void* addressable(void* block, std::size_t bytes, std::size_t size) {
        NALGRAD_POISON(block, size);
        NALGRAD_UNPOISON(block, bytes);
        return block;
    }

    void count_in_use(std::size_t size) {
        stats_.bytes_in_use += size;
        stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    }

    void trim_for(std::size_t request) {
        constexpr std::size_t floor = std::size_t{256} << 20;
        const std::size_t bound = std::max(2 * stats_.peak_bytes_in_use, floor);
        for (auto it = free_lists_.begin(); it != free_lists_.end(); ++it)
            while (!it->second.empty() &&
                   stats_.bytes_in_use + stats_.bytes_cached + request > bound)
                free_one(it->first, it->second);
    }

    void free_one(std::size_t size, std::vector<void*>& blocks) noexcept {
        void* block = blocks.back();
        blocks.pop_back();
        NALGRAD_UNPOISON(block, size);
        ::operator delete (block, std::align_val_t{alignment});
        stats_.bytes_cached -= size;
    }

    std::mutex mutex_;
    std::unordered_map<std::size_t, std::vector<void*>> free_lists_;
    MemoryStats stats_;
};

// Never destroyed: tensors held by static or thread-local objects may be freed after they would be.
CachingAllocator& caching_allocator() {
    static CachingAllocator* instance = new CachingAllocator;
    return *instance;
}

}  // namespace

namespace allocator {

// Sizes up to 64 bytes take one 64-byte block; above, sizes round up to steps of an eighth of
// the power of two below them. At most 12.5% is wasted, the number of classes stays small, and
// tensors of slightly different shapes (a last, smaller batch; a crop a few pixels off) share a
// class and so reuse each other's blocks.
std::size_t size_class(std::size_t bytes) {
    if (bytes <= alignment) return alignment;
    if (bytes > SIZE_MAX / 2) return 0;  // no block can be that large
    const std::size_t step = std::max(alignment, std::bit_floor(bytes) / 8);
    return (bytes + step - 1) / step * step;
}

void* allocate(std::size_t bytes) {
    return caching_allocator().allocate(bytes);
}

void release(void* block, std::size_t bytes) noexcept {
    if (block) caching_allocator().release(block, bytes);
}

}  // namespace allocator

MemoryStats memory_stats() {
    return caching_allocator().stats();
}

void empty_cache() {
    caching_allocator().empty();
}

}  // namespace nalgrad
