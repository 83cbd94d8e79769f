// Heap allocation counting. allocations.cpp replaces the global operator new and delete of the
// whole process (the library and oneDNN included), so only the benchmark binary links it.
// Allocations that bypass operator new (malloc inside oneDNN or TBB) are not counted.
#pragma once
#include <cstdint>

namespace bench {

struct AllocationCount {
    uint64_t calls = 0;  // operator new calls of every form
    uint64_t bytes = 0;  // bytes they asked for
};

AllocationCount allocations_so_far();

}  // namespace bench
