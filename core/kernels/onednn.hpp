// The one seam to oneDNN (float32 kernels). Ops never include this; kernels/ files do.
//
// Thread safety: every primitive runs with a user-managed scratchpad from a per-thread buffer
// (with oneDNN's library scratchpad, one primitive run from two threads at once gives wrong
// results), on a per-thread stream, and primitives are cached per thread.
//
// Thread count: oneDNN's OpenMP count is per calling thread and a primitive keeps the partition
// it was created with, so engine() and execute() adopt set_num_threads / set_deterministic on the
// calling thread (core/runtime.hpp), and Cache makes an entry afresh once they have changed.
#pragma once
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/runtime.hpp"
#include "core/tensor.hpp"

namespace nalgrad::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // this thread's

// Attributes every primitive is created with: user scratchpad (plus optional post-ops).
dnnl::primitive_attr default_attr();

// A plain row-major float32 descriptor for these dims (rank 1 to 6).
dnnl::memory::desc plain_desc(const Shape& shape);
// oneDNN dims from a shape.
dnnl::memory::dims dims_of(const Shape& shape);
// A oneDNN memory over a tensor's data, no copy.
dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& desc);
dnnl::memory wrap(const Tensor& t);  // with plain_desc(t.shape())

// Runs p on this thread's stream with this thread's scratchpad, sized from pd, and waits.
void execute(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, dnnl::memory> args);

// Copies src into dst through a reorder (layouts differ, data does not).
void reorder(const dnnl::memory& src, const dnnl::memory& dst);

// A bounded least-recently-used cache, one per thread and kernel kind: creating a primitive
// costs far more than running a small one, so the hot path only looks up.
template <typename Value>
class Cache {
  public:
    explicit Cache(std::size_t capacity = 256) : capacity_(capacity) {}

    template <typename Make>
    Value& get(const std::string& key, Make&& make) {
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
        std::string key;
        Value value;
        uint64_t generation;  // thread_settings_generation() when made
    };
    std::size_t capacity_;
    std::list<Entry> entries_;
    std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

// The name of the implementation oneDNN chose ("brgconv:avx512_core", "jit_1x1:avx2", ...).
std::string implementation(const dnnl::primitive_desc_base& pd);

}  // namespace nalgrad::onednn
