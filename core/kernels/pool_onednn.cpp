#include "core/kernels/pool_onednn.hpp"

#include <algorithm>

namespace nalgrad::kernels::pooling {
namespace {

dnnl::memory::desc nhwc_desc(int64_t n, int64_t h, int64_t w, int64_t c) {
    return {{n, c, h, w}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc};
}
dnnl::memory::desc src_desc(const Window2d& g) {
    return nhwc_desc(g.batch, g.in_h, g.in_w, g.channels);
}
dnnl::memory::desc dst_desc(const Window2d& g) {
    return nhwc_desc(g.batch, g.out_h, g.out_w, g.channels);
}

dnnl::algorithm algorithm_of(const PoolPlan& plan) {
    if (plan.kind == PoolKind::max) return dnnl::algorithm::pooling_max;
    return plan.border == AvgBorder::exclude_padding ? dnnl::algorithm::pooling_avg_exclude_padding
                                                     : dnnl::algorithm::pooling_avg_include_padding;
}

}  // namespace

std::shared_ptr<const OnednnPooling> onednn_pooling(const PoolPlan& plan, dnnl::prop_kind prop) {
    thread_local onednn::Cache<std::shared_ptr<const OnednnPooling>> cache;
    return cache.get(CacheKey(plan.key).append({static_cast<int>(prop)}), [&] {
        auto p = std::make_shared<OnednnPooling>();
        const Window2d& g = plan.window;
        // Trailing padding no window reaches is dropped: oneDNN refuses average pooling
        // (exclude_padding) with padding as large as the kernel, though such padding changes
        // nothing (found by tests/fuzz/fuzz_program).
        auto used_after = [](int64_t out, int64_t stride, int64_t kernel, int64_t in,
                             int64_t before) {
            return std::max<int64_t>((out - 1) * stride + kernel - in - before, 0);
        };
        const dnnl::memory::dims strides{g.stride_h, g.stride_w}, kernel{g.kernel_h, g.kernel_w},
            padding_l{g.pad_top, g.pad_left},
            padding_r{used_after(g.out_h, g.stride_h, g.kernel_h, g.in_h, g.pad_top),
                      used_after(g.out_w, g.stride_w, g.kernel_w, g.in_w, g.pad_left)};
        dnnl::pooling_forward::desc forward(prop, algorithm_of(plan), src_desc(g), dst_desc(g),
                                            strides, kernel, padding_l, padding_r);
        const dnnl::pooling_forward::primitive_desc forward_pd(forward, onednn::default_attr(),
                                                               onednn::engine());
        p->forward = onednn::Primitive(forward_pd);
        p->workspace_bytes = forward_pd.workspace_desc().get_size();
        if (prop == dnnl::prop_kind::forward_training) {
            dnnl::pooling_backward::desc backward(algorithm_of(plan), src_desc(g), dst_desc(g),
                                                  strides, kernel, padding_l, padding_r);
            p->backward = onednn::Primitive(dnnl::pooling_backward::primitive_desc(
                backward, onednn::default_attr(), onednn::engine(), forward_pd));
        }
        return std::shared_ptr<const OnednnPooling>(std::move(p));
    });
}

Tensor onednn_forward(const PoolPlan& plan, const OnednnPooling& p, const Tensor& x,
                      Tensor* workspace) {
    Tensor y(plan.window.output_shape(plan.window.channels), f32);
    if (workspace) {
        const auto floats = static_cast<int64_t>((p.workspace_bytes + 3) / 4);
        *workspace = Tensor({std::max<int64_t>(1, floats)}, f32);
    }
    p.forward.run({onednn::arg(DNNL_ARG_SRC, x), onednn::arg(DNNL_ARG_DST, y),
                   onednn::optional_arg(DNNL_ARG_WORKSPACE, workspace ? *workspace : Tensor{})});
    return y;
}

Tensor onednn_backward(const PoolPlan& plan, const OnednnPooling& p, const Tensor& dy,
                       const Tensor* workspace) {
    const Window2d& g = plan.window;
    Tensor dx({g.batch, g.in_h, g.in_w, g.channels}, f32);
    p.backward.run({onednn::arg(DNNL_ARG_DIFF_DST, dy), onednn::arg(DNNL_ARG_DIFF_SRC, dx),
                    onednn::optional_arg(DNNL_ARG_WORKSPACE, workspace ? *workspace : Tensor{})});
    return dx;
}

}  // namespace nalgrad::kernels::pooling
