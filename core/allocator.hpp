// The caching allocator behind Storage (core/memory.hpp has its public face). Not installed for
// users' code to call: tensors are the way to get memory.
#pragma once
#include <cstddef>
#include <new>

namespace nalgrad::allocator {

// A 64-byte aligned block of at least `bytes` (a zero-byte request gets a block too), or nullptr
// when the system has none. Thread-safe.
void* allocate(std::size_t bytes);
// Gives back a block from allocate(bytes), from any thread.
void release(void* block, std::size_t bytes) noexcept;

// The same for small objects made and freed every step (Storage with its reference count), so
// that making a tensor asks the system for nothing once a step has run. Kept apart from tensor
// data, and out of memory_stats(). Objects needing more than 64-byte alignment do not belong here.
void* allocate_object(std::size_t bytes);
void release_object(void* object, std::size_t bytes) noexcept;

// The block size a request of `bytes` receives.
std::size_t size_class(std::size_t bytes);

// For std::allocate_shared: objects made every step (a Storage, a kernel's saved state) come
// from the object cache, with their reference counts.
template <typename T>
struct ObjectAllocator {
    using value_type = T;
    ObjectAllocator() = default;
    template <typename U>
    ObjectAllocator(const ObjectAllocator<U>&) {}
    T* allocate(std::size_t n) {
        void* object = allocate_object(n * sizeof(T));
        if (!object) throw std::bad_alloc();
        return static_cast<T*>(object);
    }
    void deallocate(T* object, std::size_t n) noexcept { release_object(object, n * sizeof(T)); }
    friend bool operator==(const ObjectAllocator&, const ObjectAllocator&) { return true; }
};

}  // namespace nalgrad::allocator
