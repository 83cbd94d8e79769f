#include "core/kernels/onednn.hpp"

#include <memory>
#include <new>

namespace nalgrad::onednn {

// Every primitive is created with engine() (directly, or through memories wrap() made), so
// adopting the thread settings here precedes every creation.
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

dnnl::memory::dims dims_of(const Shape& shape) {
    return {shape.begin(), shape.end()};
}

dnnl::memory::desc plain_desc(const Shape& shape) {
    using tag = dnnl::memory::format_tag;
    static const tag tags[] = {tag::a,    tag::a,     tag::ab,    tag::abc,
                               tag::abcd, tag::abcde, tag::abcdef};
    if (shape.rank() > 6) fail("onednn", "rank {} is above 6: {}", shape.rank(), shape);
    if (shape.rank() == 0) return {{1}, dnnl::memory::data_type::f32, tag::a};
    return {dims_of(shape), dnnl::memory::data_type::f32, tags[shape.rank()]};
}

dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& desc) {
    return dnnl::memory(desc, engine(), t.raw());
}

dnnl::memory wrap(const Tensor& t) {
    return wrap(t, plain_desc(t.shape()));
}

namespace {
struct Scratchpad {
    void* data = nullptr;
    std::size_t bytes = 0;
    ~Scratchpad() { ::operator delete (data, std::align_val_t{64}); }
    void* reserve(std::size_t n) {
        if (n > bytes) {
            ::operator delete (data, std::align_val_t{64});
            data = nullptr;
            data = ::operator new (n, std::align_val_t{64});
            bytes = n;
        }
        return data;
    }
};
}  // namespace

void execute(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, dnnl::memory> args) {
    adopt_thread_settings();
    thread_local Scratchpad scratch;
    dnnl::memory::desc sd = pd.scratchpad_desc();
    if (sd.get_size() > 0)
        args.insert(
            {DNNL_ARG_SCRATCHPAD, dnnl::memory(sd, engine(), scratch.reserve(sd.get_size()))});
    p.execute(stream(), args);
    stream().wait();
}

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
    auto attr = default_attr();
    dnnl::reorder::primitive_desc pd(src, dst, attr);
    execute(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

std::string implementation(const dnnl::primitive_desc_base& pd) {
    return pd.impl_info_str();
}

}  // namespace nalgrad::onednn
