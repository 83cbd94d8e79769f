#include "allocations.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

// glibc's allocator under its own names: the replacements below forward to them, so they never
// call themselves, and free() needs no replacement.
extern "C" {
void* __libc_malloc(std::size_t n);
void* __libc_calloc(std::size_t count, std::size_t n);
void* __libc_realloc(void* p, std::size_t n);
void* __libc_memalign(std::size_t alignment, std::size_t n);
void* __libc_valloc(std::size_t n);
}

namespace {

struct Counter {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> bytes{0};
    void add(std::size_t n) {
        calls.fetch_add(1, std::memory_order_relaxed);
        bytes.fetch_add(n, std::memory_order_relaxed);
    }
};
// Constant-initialised: counts from the first allocation of the process, before any constructor.
constinit Counter new_counter, malloc_counter;

// Every form of new ends here: glibc's malloc, or memalign for over-aligned types, so every form
// of delete can be free(); neither passes through the malloc counter.
void* counted(std::size_t n, std::size_t alignment) noexcept {
    new_counter.add(n);
    if (n == 0) n = 1;
    if (alignment <= alignof(std::max_align_t)) return __libc_malloc(n);
    return __libc_memalign(alignment, n);
}

void* counted_or_throw(std::size_t n, std::size_t alignment) {
    void* p = counted(n, alignment);
    if (!p) throw std::bad_alloc();
    return p;
}

std::size_t value(std::align_val_t a) {
    return static_cast<std::size_t>(a);
}

bool power_of_two(std::size_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}

}  // namespace

namespace bench {

AllocationCount allocations_so_far() {
    return {new_counter.calls.load(std::memory_order_relaxed),
            new_counter.bytes.load(std::memory_order_relaxed),
            malloc_counter.calls.load(std::memory_order_relaxed),
            malloc_counter.bytes.load(std::memory_order_relaxed)};
}

}  // namespace bench

extern "C" {

void* malloc(std::size_t n) noexcept {
    malloc_counter.add(n);
    return __libc_malloc(n);
}
void* calloc(std::size_t count, std::size_t n) noexcept {
    malloc_counter.add(count * n);
    return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) noexcept {
    malloc_counter.add(n);
    return __libc_realloc(p, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
    if (!power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
    malloc_counter.add(n);
    void* p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
    malloc_counter.add(n);
    return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
    malloc_counter.add(n);
    return __libc_memalign(alignment, n);
}
void* valloc(std::size_t n) noexcept {
    malloc_counter.add(n);
    return __libc_valloc(n);
}

}  // extern "C"

void* operator new(std::size_t n) {
    return counted_or_throw(n, 0);
}
void* operator new[](std::size_t n) {
    return counted_or_throw(n, 0);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return counted_or_throw(n, value(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_or_throw(n, value(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted(n, value(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted(n, value(a));
}

void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
