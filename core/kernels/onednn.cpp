#include "core/kernels/onednn.hpp"

#include <memory>
#include <new>

namespace nalgrad::onednn {

// Every primitive is created with engine(), so adopting the thread settings here precedes every
// creation.
dnnl::engine& engine() {
    adopt_thread_settings();
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

dnnl::primitive_attr default_attr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

namespace {

// This thread's scratchpad: grows to the largest any primitive asked for, and stays.
void* scratchpad(std::size_t n) {
    struct Buffer {
        void* data = nullptr;
        std::size_t bytes = 0;
        ~Buffer() { ::operator delete (data, std::align_val_t{64}); }
    };
    thread_local Buffer buffer;
    if (n > buffer.bytes) {
        ::operator delete (buffer.data, std::align_val_t{64});
        buffer.data = nullptr;
        buffer.data = ::operator new (n, std::align_val_t{64});
        buffer.bytes = n;
    }
    return buffer.data;
}

}  // namespace

Primitive::Primitive(const dnnl::primitive_desc_base& pd)
    : pd_(pd), primitive_(pd.get()), scratchpad_bytes_(pd.scratchpad_desc().get_size()) {}

// A copy shares the primitive and makes its own memories (on first use).
Primitive::Primitive(const Primitive& other)
    : pd_(other.pd_), primitive_(other.primitive_), scratchpad_bytes_(other.scratchpad_bytes_) {}

Primitive& Primitive::operator=(const Primitive& other) {
    if (this != &other) {
        pd_ = other.pd_;
        primitive_ = other.primitive_;
        scratchpad_bytes_ = other.scratchpad_bytes_;
        bound_ = {};
        bound_count_ = 0;
    }
    return *this;
}

dnnl::memory& Primitive::memory_for(int id) const {
    for (std::size_t i = 0; i < bound_count_; ++i)
        if (bound_[i].id == id) return bound_[i].memory;
    if (bound_count_ == bound_.size()) fail("onednn", "more than {} arguments", max_args);
    Bound& b = bound_[bound_count_++];
    b.id = id;
    b.memory = dnnl::memory(pd_.query_md(dnnl::query::exec_arg_md, id), engine(), DNNL_MEMORY_NONE);
    return b.memory;
}

void Primitive::run(std::initializer_list<Arg> args) const {
    if (args.size() > max_args) fail("onednn", "more than {} arguments", max_args);
    adopt_thread_settings();
    // The kept memories are this call's unless another thread is running the primitive.
    const bool kept = !busy_.test_and_set(std::memory_order_acquire);
    struct Release {
        std::atomic_flag* flag;
        ~Release() {
            if (flag) flag->clear(std::memory_order_release);
        }
    } release{kept ? &busy_ : nullptr};

    std::array<dnnl_exec_arg_t, max_args + 1> c_args;
    std::array<dnnl::memory, max_args + 1> own;  // empty handles unless not kept
    int n = 0;
    auto add = [&](int id, void* data) {
        if (kept) {
            dnnl::memory& m = memory_for(id);
            m.set_data_handle(data);
            c_args[n] = {id, m.get()};
        } else {
            own[n] = dnnl::memory(pd_.query_md(dnnl::query::exec_arg_md, id), engine(), data);
            c_args[n] = {id, own[n].get()};
        }
        ++n;
    };
    for (const Arg& a : args)
        if (a.data) add(a.id, const_cast<void*>(a.data));  // null: an optional_arg left out
    if (scratchpad_bytes_ > 0) add(DNNL_ARG_SCRATCHPAD, scratchpad(scratchpad_bytes_));
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(primitive_.get(), stream().get(), n, c_args.data()),
        "could not execute a primitive");
    stream().wait();
}

bool fits_onednn(const Window2d& w) {
    constexpr int64_t limit = int64_t{1} << 31;
    for (int64_t v : {w.batch, w.in_h, w.in_w, w.channels, w.kernel_h, w.kernel_w, w.stride_h,
                      w.stride_w, w.dilation_h, w.dilation_w, w.pad_top, w.pad_bottom, w.pad_left,
                      w.pad_right, w.out_h, w.out_w})
        if (v >= limit) return false;
    // Below 2^31 each, these sums cannot wrap.
    return w.in_h + w.pad_top + w.pad_bottom < limit && w.in_w + w.pad_left + w.pad_right < limit &&
           (w.kernel_h - 1) * w.dilation_h < limit && (w.kernel_w - 1) * w.dilation_w < limit;
}

std::string implementation(const dnnl::primitive_desc_base& pd) {
    return pd.impl_info_str();
}

}  // namespace nalgrad::onednn
