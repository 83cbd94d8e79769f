// The one seam to oneDNN (float32 kernels). Ops never include this; kernels/ files do.
//
// Thread safety: every primitive runs with a user-managed scratchpad from a per-thread buffer
// (with oneDNN's library scratchpad, one primitive run from two threads at once gives wrong
// results), on a per-thread stream, and primitives are cached per thread.
//
// Thread count: oneDNN's OpenMP count is per calling thread and a primitive keeps the partition
// it was created with, so engine() and Primitive::run() adopt set_num_threads / set_deterministic
// on the calling thread (core/runtime.hpp), and Cache makes an entry afresh once they have changed.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/geometry.hpp"
#include "core/kernels/cache_key.hpp"
#include "core/runtime.hpp"
#include "core/tensor.hpp"

namespace nalgrad::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // this thread's

// Attributes every primitive is created with: user scratchpad (plus optional post-ops).
dnnl::primitive_attr default_attr();

// One argument of a run: its oneDNN id (DNNL_ARG_SRC, ...) and the data. Layouts are the
// primitive descriptor's (query exec_arg_md).
struct Arg {
    int id;
    const void* data;
};
inline Arg arg(int id, const Tensor& t) {
    return {id, t.raw()};
}
// An argument the primitive was made with only when `t` is defined (a bias, a workspace): an
// undefined `t` is left out of the run.
inline Arg optional_arg(int id, const Tensor& t) {
    return {id, t.defined() ? t.raw() : nullptr};
}

// A primitive ready to run, with one reusable oneDNN memory per argument. Making a dnnl::memory
// and passing arguments as std::unordered_map allocate on every call; run() instead points the
// kept memories at this call's data (set_data_handle stores the pointer, and zero-fills padding
// only in blocked layouts) and calls the C API with the arguments in an array on the stack. It
// adds this thread's scratchpad and waits for the primitive to finish.
//
// Used from one thread at a time as a rule (caches are per thread); a second thread that runs it
// meanwhile (a saved backward on another thread) makes memories of its own for that call.
class Primitive {
  public:
    Primitive() = default;
    explicit Primitive(const dnnl::primitive_desc_base& pd);
    Primitive(const Primitive& other);
    Primitive& operator=(const Primitive& other);

    void run(std::initializer_list<Arg> args) const;

    static constexpr std::size_t max_args = 9;  // plus the scratchpad

  private:
    struct Bound {
        int id = 0;
        dnnl::memory memory;
    };
    dnnl::memory& memory_for(int id) const;

    dnnl::primitive_desc_base pd_;
    dnnl::primitive primitive_;
    std::size_t scratchpad_bytes_ = 0;
    mutable std::array<Bound, max_args + 1> bound_;
    mutable std::size_t bound_count_ = 0;
    mutable std::atomic_flag busy_;
};

// A bounded least-recently-used cache, one per thread and kernel kind: creating a primitive
// costs far more than running a small one, so the hot path only looks up.
template <typename Value>
class Cache {
  public:
    explicit Cache(std::size_t capacity = 256) : capacity_(capacity) {}

    template <typename Make>
    Value& get(const CacheKey& key, Make&& make) {
        const uint64_t generation = thread_settings_generation();
        if (auto it = index_.find(key); it != index_.end()) {
            if (it->second->generation == generation) {
                entries_.splice(entries_.begin(), entries_, it->second);
                return it->second->value;
            }
            entries_.erase(it->second);  // made under another thread count: make it again
            index_.erase(it);
        }
        entries_.push_front({key, make(), generation});
        index_[key] = entries_.begin();
        if (entries_.size() > capacity_) {
            index_.erase(entries_.back().key);
            entries_.pop_back();
        }
        return entries_.front().value;
    }
    std::size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        CacheKey key;
        Value value;
        uint64_t generation;  // thread_settings_generation() when made
    };
    std::size_t capacity_;
    std::list<Entry> entries_;
    std::unordered_map<CacheKey, typename std::list<Entry>::iterator, CacheKey::Hash> index_;
};

// Whether oneDNN may take this window. Its JIT kernels keep extents, strides and paddings in
// 32-bit ints, so a geometry with any of them (or a padded extent) at 2^31 or above runs on the
// project's own loops instead: padding or strides near INT64_MAX made oneDNN throw or compute
// garbage. Callers also fall back when oneDNN refuses a geometry with a dnnl::error.
bool fits_onednn(const Window2d& w);

// The name of the implementation oneDNN chose ("brgconv:avx512_core", "jit_1x1:avx2", ...).
std::string implementation(const dnnl::primitive_desc_base& pd);

}  // namespace nalgrad::onednn
