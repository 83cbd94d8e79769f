// Heap allocation counting. allocations.cpp replaces the global operator new and delete, and
// interposes the C allocation functions (malloc, calloc, realloc, posix_memalign, aligned_alloc,
// memalign, valloc), for the whole process: the library, oneDNN, TBB and libgomp included. So only
// the benchmark binary links it.
#pragma once
#include <cstdint>

namespace bench {

struct AllocationCount {
    uint64_t calls = 0;  // operator new calls of every form
    uint64_t bytes = 0;  // bytes they asked for
    // Direct calls of the C allocation functions (oneDNN's and TBB's own, libc's), which
    // operator new's are not among.
    uint64_t malloc_calls = 0;
    uint64_t malloc_bytes = 0;

    AllocationCount& operator+=(const AllocationCount& o) {
        calls += o.calls;
        bytes += o.bytes;
        malloc_calls += o.malloc_calls;
        malloc_bytes += o.malloc_bytes;
        return *this;
    }
    friend AllocationCount operator-(const AllocationCount& a, const AllocationCount& b) {
        return {a.calls - b.calls, a.bytes - b.bytes, a.malloc_calls - b.malloc_calls,
                a.malloc_bytes - b.malloc_bytes};
    }
};

AllocationCount allocations_so_far();

}  // namespace bench
