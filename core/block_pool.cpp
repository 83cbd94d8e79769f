#include "core/block_pool.hpp"

#include <array>
#include <mutex>
#include <new>

#include "core/asan.hpp"

namespace nalgrad::detail {
namespace {

constexpr std::size_t class_bytes = 32;
constexpr std::size_t class_count = 64;  // blocks up to 2 KiB
constexpr std::size_t largest_block = class_bytes * class_count;
// A thread keeps per size class two "magazines" (Bonwick's slab allocator) of at most this many
// blocks: the one in use and a spare. Whole magazines move to and from the shared lists in O(1),
// and the spare keeps a thread that alternates between freeing and allocating off the lock.
constexpr std::size_t magazine_blocks = 2048;

// A free block. `next_chain` and `chain_count` are valid in the first block of a chain parked in
// the shared lists.
struct Block {
    Block* next;
    Block* next_chain;
    std::size_t chain_count;
};
static_assert(sizeof(Block) <= class_bytes);

// A LIFO chain of blocks. Under AddressSanitizer a block on a chain is poisoned past its header,
// so a use of a node or record after its release is still reported.
struct Chain {
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
        prefetch(head, bytes);
        return block;
    }
    // Blocks on a chain are cold; fetching the next one to be handed out while its predecessor is
    // in use hides that (a long chain of ops touches a new node and record each op).
    static void prefetch(const Block* block, std::size_t bytes) {
        if (!block) return;
        for (std::size_t line = 0; line < bytes; line += 64)
            __builtin_prefetch(reinterpret_cast<const char*>(block) + line, 1);
    }
};

// Chains parked by threads, per size class, stacked through their first blocks.
struct Shared {
    std::mutex mutex;
    std::array<Block*, class_count> chains{};

    void park(std::size_t c, Chain& chain) {  // under the mutex
        if (!chain.head) return;
        chain.head->next_chain = chains[c];
        chain.head->chain_count = chain.count;
        chains[c] = chain.head;
        chain = Chain{};
    }
    Chain take(std::size_t c) {  // under the mutex; empty when none is parked
        Block* first = chains[c];
        if (!first) return {};
        chains[c] = first->next_chain;
        return {first, first->chain_count};
    }
};
// Never destroyed: blocks are freed by destructors of other static and thread-local objects,
// which may run after this one would have been.
Shared& shared() {
    static Shared& instance = *new Shared;
    return instance;
}

struct Magazines {
    Chain current, spare;  // spare: empty or full
};

// Trivially destructible, so it stays usable while this thread's other thread-local objects
// (the tape among them) are destroyed at thread exit. One object: one thread-local lookup.
struct Local {
    std::array<Magazines, class_count> classes;
    bool closer_registered = false;
    bool closed = false;  // the thread is ending: its frees go to the shared lists
};
thread_local Local local;

// Parks this thread's blocks in the shared lists when the thread ends.
struct LocalCloser {
    LocalCloser() = default;
    LocalCloser(const LocalCloser&) = delete;
    LocalCloser& operator=(const LocalCloser&) = delete;
    ~LocalCloser() {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        for (std::size_t c = 0; c < class_count; ++c) {
            s.park(c, local.classes[c].current);
            s.park(c, local.classes[c].spare);
        }
        local.closed = true;
    }
};

void register_closer(Local& here) {
    thread_local LocalCloser closer;
    here.closer_registered = true;
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
    Local& here = local;
    if (here.closed) {  // take one block of a parked chain, and park the rest again
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        Chain chain = s.take(c);
        if (!chain.head) return ::operator new(block_bytes);
        void* block = chain.pop(block_bytes);
        s.park(c, chain);
        return block;
    }
    if (!here.closer_registered) register_closer(here);
    Magazines& m = here.classes[c];
    if (!m.current.head) std::swap(m.current, m.spare);
    if (!m.current.head) {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        m.current = s.take(c);
    }
    if (m.current.head) return m.current.pop(block_bytes);
    return ::operator new(block_bytes);
}

void pool_deallocate(void* block, std::size_t bytes, std::size_t alignment) noexcept {
    if (!pooled(bytes, alignment)) {
        ::operator delete(block, std::align_val_t(alignment));
        return;
    }
    const std::size_t c = class_of(bytes);
    const std::size_t block_bytes = (c + 1) * class_bytes;
    Local& here = local;
    if (here.closed) {  // a chain of one block
        Chain alone;
        alone.push(block, block_bytes);
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        s.park(c, alone);
        return;
    }
    if (!here.closer_registered) register_closer(here);
    Magazines& m = here.classes[c];
    m.current.push(block, block_bytes);
    if (m.current.count < magazine_blocks) return;
    if (m.spare.head) {
        Shared& s = shared();
        const std::lock_guard lock(s.mutex);
        s.park(c, m.spare);
    }
    std::swap(m.current, m.spare);
}

std::size_t pool_blocks_cached_on_this_thread() {
    std::size_t n = 0;
    for (const Magazines& m : local.classes) n += m.current.count + m.spare.count;
    return n;
}

}  // namespace nalgrad::detail
