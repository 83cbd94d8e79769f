#include "core/allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

#include "core/memory.hpp"

#include "core/asan.hpp"

namespace nalgrad {
namespace {

constexpr std::size_t alignment = 64;

// Blocks of 2 MiB and more (activations, gradients, the dense layer's weights and optimizer
// state) come straight from mmap, their start aligned to 2 MiB, with MADV_HUGEPAGE: Debian's
// kernels back only advised memory with transparent huge pages, and a training step streams
// tens of megabytes through these blocks, which on 4 KiB pages costs a TLB miss every 4 KiB.
// On lenet-fm at B=64, 2 threads, nalgrad / raw oneDNN sum is 1.12 with it and 1.16 without
// (medians of 6 runs each, in turns). The block's tail past its last full huge
// page stays on 4 KiB pages, so resident memory does not grow by the rounding.
constexpr std::size_t huge_page = std::size_t{2} << 20;
constexpr std::size_t small_page = 4096;

std::size_t mapped_length(std::size_t size) {
    return (size + small_page - 1) / small_page * small_page;
}

void* system_allocate(std::size_t size) noexcept {
    if (size < huge_page) return ::operator new (size, std::align_val_t{alignment}, std::nothrow);
    // Map one huge page more than needed, then cut off the unaligned head and the rest.
    const std::size_t length = mapped_length(size);
    const std::size_t padded = length + huge_page;
    void* mapping =
        mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(mapping);
    const std::uintptr_t aligned = (start + huge_page - 1) / huge_page * huge_page;
    if (aligned > start) munmap(mapping, aligned - start);
    const std::uintptr_t end = aligned + length;
    if (start + padded > end) munmap(reinterpret_cast<void*>(end), start + padded - end);
    void* block = reinterpret_cast<void*>(aligned);
    madvise(block, length, MADV_HUGEPAGE);  // advice: without huge pages the block works the same
    return block;
}

// Gives a block back to the system, unpoisoned first: a later block may reuse the addresses.
void system_free(void* block, std::size_t size) noexcept {
    NALGRAD_UNPOISON(block, size);
    if (size < huge_page)
        ::operator delete (block, std::align_val_t{alignment});
    else
        munmap(block, mapped_length(size));
}

// A training step frees and allocates the same tensors again every step (about 50 MiB for the
// benchmark's lenet-fm at B=64). Asking the system each time costs calls, and glibc hands large
// freed blocks back to the kernel, so every step would page-fault its activations in again
// (9,500 faults, 15-30 ms of a 50-80 ms step). Freed blocks are therefore kept here, one free list
// per size class, and a request takes a block of its class when one is free.
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
        void* block = system_allocate(size);
        if (!block) {
            empty();
            block = system_allocate(size);
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
            system_free(block, size);
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
        system_free(block, size);
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
