#include "graph/block_pool.hpp"

#include <array>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define NALGRAD_POISON(address, bytes) ASAN_POISON_MEMORY_REGION(address, bytes)
#define NALGRAD_UNPOISON(address, bytes) ASAN_UNPOISON_MEMORY_REGION(address, bytes)
#else
#define NALGRAD_POISON(address, bytes) ((void)(address), (void)(bytes))
#define NALGRAD_UNPOISON(address, bytes) ((void)(address), (void)(bytes))
#endif

namespace nalgrad::detail {
namespace {

constexpr std::size_t class_bytes = 32;
constexpr std::size_t class_count = 64;  // blocks up to 2 KiB
constexpr std::size_t largest_block = class_bytes * class_count;
// A thread's list of one class holds at most this many blocks; past it, half go to the shared
// list, so a thread that alternates between freeing and allocating does not lock each time.
constexpr std::size_t thread_limit = 4096;
constexpr std::size_t batch = thread_limit / 2;

struct Block {
    Block* next;
};

// Under AddressSanitizer a block on a list is poisoned past its link, so a use of a node or
// record after its release is still reported.
struct FreeList {
    Block* head = nullptr;
    std::size_t count = 0;

    void push(void* memory, std::size_t bytes) {
        auto* block = static_cast<Block*>(memory);
        block->next = head;
        NALGRAD_POISON(reinterpret_cast<char*>(block) + sizeof(Block), bytes - sizeof(Block));
        head = block;
        ++count;
    }
    void* pop(std::size_t bytes) {
        Block* block = head;
        head = block->next;
        --count;
        NALGRAD_UNPOISON(block, bytes);
        return block;
    }
    // Moves up to `n` blocks to the front of `to`.
    void move_to(FreeList& to, std::size_t n, std::size_t bytes) {
        for (; n > 0 && head; --n) to.push(pop(bytes), bytes);
    }
};

using Lists = std::array<FreeList, class_count>;

struct Shared {
    std::mutex mutex;
    Lists lists;
};
// Never destroyed: blocks are freed by destructors of other static and thread-local objects,
// which may run after this one would have been.
Shared& shared() {
    static Shared& instance = *new Shared;
    return instance;
}

// Trivially destructible, so it stays usable while this thread's other thread-local objects
// (the tape among them) are destroyed at thread exit.
thread_local Lists local;
thread_local bool local_closed = false;

// Hands this thread's blocks to the shared lists when the thread ends; later frees on this thread
// go straight to the shared lists.
struct LocalCloser {
    LocalCloser() = default;
    LocalCloser(const LocalCloser&) = delete;
    LocalCloser& operator=(const LocalCloser&) = delete;
    ~LocalCloser() {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        for (std::size_t c = 0; c < class_count; ++c)
            local[c].move_to(s.lists[c], local[c].count, (c + 1) * class_bytes);
        local_closed = true;
    }
};
thread_local bool closer_registered = false;

void register_closer() {
    thread_local LocalCloser closer;
    closer_registered = true;
}

bool pooled(std::size_t bytes, std::size_t alignment) {
    return bytes <= largest_block && alignment <= alignof(std::max_align_t);
}
std::size_t class_of(std::size_t bytes) {
    return (bytes + class_bytes - 1) / class_bytes - 1;
}

}  // namespace

void* pool_allocate(std::size_t bytes, std::size_t alignment) {
    if (!pooled(bytes, alignment)) return ::operator new(bytes, std::align_val_t(alignment));
    const std::size_t c = class_of(bytes);
    const std::size_t block_bytes = (c + 1) * class_bytes;
    if (!closer_registered) register_closer();
    FreeList& list = local[c];
    if (list.head) return list.pop(block_bytes);
    {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        if (local_closed) {
            if (s.lists[c].head) return s.lists[c].pop(block_bytes);
        } else {
            s.lists[c].move_to(list, batch, block_bytes);
        }
    }
    if (list.head) return list.pop(block_bytes);
    return ::operator new(block_bytes);
}

void pool_deallocate(void* block, std::size_t bytes, std::size_t alignment) noexcept {
    if (!pooled(bytes, alignment)) {
        ::operator delete(block, std::align_val_t(alignment));
        return;
    }
    const std::size_t c = class_of(bytes);
    const std::size_t block_bytes = (c + 1) * class_bytes;
    if (local_closed) {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        s.lists[c].push(block, block_bytes);
        return;
    }
    if (!closer_registered) register_closer();
    FreeList& list = local[c];
    list.push(block, block_bytes);
    if (list.count <= thread_limit) return;
    Shared& s = shared();
    const std::lock_guard lock(s.mutex);
    list.move_to(s.lists[c], batch, block_bytes);
}

std::size_t pool_blocks_cached_on_this_thread() {
    std::size_t n = 0;
    for (const FreeList& list : local) n += list.count;
    return n;
}

}  // namespace nalgrad::detail
