// AddressSanitizer's manual poisoning, for the project's own allocators (core/allocator.cpp,
// core/block_pool.cpp): memory they keep for reuse is poisoned, so a use after release is still
// reported. Without ASan (GCC's __SANITIZE_ADDRESS__, clang's __has_feature) the calls vanish.
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NALGRAD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NALGRAD_ASAN 1
#endif

#if defined(NALGRAD_ASAN)
#include <sanitizer/asan_interface.h>
#define NALGRAD_POISON(address, bytes) ASAN_POISON_MEMORY_REGION(address, bytes)
#define NALGRAD_UNPOISON(address, bytes) ASAN_UNPOISON_MEMORY_REGION(address, bytes)
#else
#define NALGRAD_POISON(address, bytes) ((void)(address), (void)(bytes))
#define NALGRAD_UNPOISON(address, bytes) ((void)(address), (void)(bytes))
#endif
