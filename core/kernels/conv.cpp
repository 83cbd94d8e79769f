#include "core/kernels/conv.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "core/kernels/elementwise.hpp"
#include "core/kernels/finite.hpp"
#include "core/kernels/onednn.hpp"

namespace nalgrad::kernels {

// The convolution on oneDNN (float32), and the dispatch between it and the direct loops
// (conv_direct.cpp). Activations stay NHWC; the weights' layout is oneDNN's choice (`any`) per
// pass, since pinning HWIO sends it to a gemm path measured 2.35x slower. The user's HWIO
// weights are reordered into the forward's and backward-data's layouts (cached per weight
// storage and version), and the weight gradient is reordered back to HWIO.
namespace {

using dnnl::memory;
using tag = memory::format_tag;

thread_local ConvCacheStats stats;

// oneDNN dims order is N C H W whatever the layout.
memory::desc nhwc_desc(int64_t n, int64_t h, int64_t w, int64_t c) {
    return {{n, c, h, w}, memory::data_type::f32, tag::nhwc};
}

// A reorder between two layouts of the same weights; absent when they already agree.
struct WeightReorder {
    onednn::Primitive primitive;
    static std::optional<WeightReorder> between(const memory::desc& from, const memory::desc& to) {
        if (from == to) return std::nullopt;
        dnnl::reorder::primitive_desc pd(onednn::engine(), from, onednn::engine(), to,
                                         onednn::default_attr());
        return WeightReorder{onednn::Primitive(pd)};
    }
    void run(const void* from, void* to) const {
        primitive.run({{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
    }
};

// oneDNN 2.6.3 defect (oneDNN bug report 6035): on AVX2-only processors the 1x1, stride > 1 NHWC
// backward-weights kernel jit_1x1:avx2 writes wrong gradients and corrupts the heap. Such a
// descriptor moves on to oneDNN's next implementation.
bool defective_backward_weights(const dnnl::primitive_desc_base& pd, const Window2d& w) {
    const bool strided = w.stride_h > 1 || w.stride_w > 1;
    return strided && onednn::implementation(pd).rfind("jit_1x1:avx2", 0) == 0;
}

// Everything one convolution geometry needs, created once per thread and reused. The backward
// passes are created on first use, with the plain forward's descriptor as their hint. The forward
// always has a bias (zeros when the user gives none) and backward-weights always computes its
// gradient: one primitive set per geometry costs less than a bias add of ychn values per output
// pixel. The forward with a relu post-op is a different primitive (with its own weight layout),
// made on first use beside the plain one; both share the backward passes, which do not depend on
// what the forward applied after the convolution.
struct ConvPrimitives {
    CacheKey key;
    Window2d w;
    int64_t ychn = 0;
    memory::desc src, dst, user_weights, bias;
    memory::dims strides, dilates, padding_l, padding_r;
    Tensor zero_bias;

    // Layouts are kept from the descriptors: querying one (dnnl.hpp's query_md) allocates. The
    // descriptor stays too: the plain forward's is the backward passes' hint.
    struct Forward {
        dnnl::convolution_forward::primitive_desc pd;
        onednn::Primitive primitive;
        memory::desc weights;
        std::optional<WeightReorder> to_weights;
    };
    Forward forward;
    std::optional<Forward> forward_relu;

    // Either oneDNN's backward-data primitive, or (as_forward) a forward convolution of dy with
    // the kernel flipped in space and its channels swapped, the same sums when stride and
    // dilation are 1: oneDNN 2.6's brgconv forward runs lenet's conv2 backward-data 13-15% faster
    // than its jit:avx512_core backward-data kernel (B=16, 64, 256). Capped to AVX2 both are
    // jit:avx2 and the forward is no faster, so it is taken only where oneDNN picks brgconv.
    struct BackwardData {
        onednn::Primitive primitive;
        memory::desc weights;
        std::optional<WeightReorder> to_weights;
        bool as_forward = false;
    };
    std::optional<BackwardData> backward_data;

    struct BackwardWeights {
        onednn::Primitive primitive;
        std::size_t diff_weights_bytes = 0;
        std::optional<WeightReorder> to_user_weights;
    };
    std::optional<BackwardWeights> backward_weights;

    ConvPrimitives(const CacheKey& cache_key, const Window2d& window, int64_t out_channels)
        : key(cache_key), w(window), ychn(out_channels) {
        src = nhwc_desc(w.batch, w.in_h, w.in_w, w.channels);
        dst = nhwc_desc(w.batch, w.out_h, w.out_w, ychn);
        user_weights = {weight_dims(), memory::data_type::f32, tag::hwio};
        bias = {{ychn}, memory::data_type::f32, tag::a};
        zero_bias = zeros({ychn}, f32);
        strides = {w.stride_h, w.stride_w};
        dilates = {w.dilation_h - 1, w.dilation_w - 1};  // oneDNN counts the gaps
        padding_l = {w.pad_top, w.pad_left};
        padding_r = {w.pad_bottom, w.pad_right};

        forward = make_forward(onednn::default_attr());
        ++stats.primitive_sets_created;
    }

    Forward make_forward(const dnnl::primitive_attr& attr) const {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                          dnnl::algorithm::convolution_direct, src, any_weights(),
                                          bias, dst, strides, dilates, padding_l, padding_r);
        dnnl::convolution_forward::primitive_desc pd(d, attr, onednn::engine());
        return {pd, onednn::Primitive(pd), pd.weights_desc(),
                WeightReorder::between(user_weights, pd.weights_desc())};
    }

    Forward& forward_pass(Activation activation) {
        if (activation == Activation::none) return forward;
        if (!forward_relu) {
            dnnl::post_ops relu;
            relu.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
            dnnl::primitive_attr attr = onednn::default_attr();
            attr.set_post_ops(relu);
            forward_relu = make_forward(attr);
        }
        return *forward_relu;
    }

    memory::dims weight_dims() const { return {ychn, w.channels, w.kernel_h, w.kernel_w}; }
    memory::desc any_weights() const { return {weight_dims(), memory::data_type::f32, tag::any}; }

    // The flipped kernel: logical dims {out = channels, in = ychn, kh, kw}; the user's is hwio.
    memory::desc flipped_weights(tag layout) const {
        return {{w.channels, ychn, w.kernel_h, w.kernel_w}, memory::data_type::f32, layout};
    }

    std::optional<BackwardData> backward_data_as_forward() const {
        // dx[r, c] = sum dy[r + pt - i, c + pl - j] k[i, j]: with i' = kh - 1 - i, a forward
        // convolution padded by kh - 1 - pt before and kh - 1 - pb after (likewise for columns),
        // whose output has the input's size when the stride is 1.
        const memory::dims before{w.kernel_h - 1 - w.pad_top, w.kernel_w - 1 - w.pad_left};
        const memory::dims after{w.kernel_h - 1 - w.pad_bottom, w.kernel_w - 1 - w.pad_right};
        const bool unit =
            w.stride_h == 1 && w.stride_w == 1 && w.dilation_h == 1 && w.dilation_w == 1;
        if (!unit || std::min({before[0], before[1], after[0], after[1]}) < 0) return std::nullopt;
        try {
            dnnl::convolution_forward::desc d(
                dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, dst,
                flipped_weights(tag::any), src, strides, dilates, before, after);
            dnnl::convolution_forward::primitive_desc pd(d, onednn::default_attr(),
                                                         onednn::engine());
            if (onednn::implementation(pd).rfind("brg", 0) != 0) return std::nullopt;
            return BackwardData{
                onednn::Primitive(pd), pd.weights_desc(),
                WeightReorder::between(flipped_weights(tag::hwio), pd.weights_desc()), true};
        } catch (const dnnl::error&) {
            return std::nullopt;  // a geometry oneDNN's forward refuses: the backward-data
                                  // primitive
        }
    }

    BackwardData& backward_data_pass() {
        if (!backward_data) backward_data = backward_data_as_forward();
        if (!backward_data) {
            dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src,
                                                    any_weights(), dst, strides, dilates, padding_l,
                                                    padding_r);
            dnnl::convolution_backward_data::primitive_desc pd(d, onednn::default_attr(),
                                                               onednn::engine(), forward.pd);
            backward_data = BackwardData{onednn::Primitive(pd), pd.weights_desc(),
                                         WeightReorder::between(user_weights, pd.weights_desc())};
        }
        return *backward_data;
    }

    BackwardWeights& backward_weights_pass() {
        if (!backward_weights) {
            dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src,
                                                       any_weights(), bias, dst, strides, dilates,
                                                       padding_l, padding_r);
            dnnl::convolution_backward_weights::primitive_desc pd(d, onednn::default_attr(),
                                                                  onednn::engine(), forward.pd);
            while (defective_backward_weights(pd, w)) {
                if (!pd.next_impl())
                    fail("conv2d", "oneDNN has no usable backward-weights implementation");
                ++stats.defective_implementations_skipped;
            }
            backward_weights =
                BackwardWeights{onednn::Primitive(pd), pd.diff_weights_desc().get_size(),
                                WeightReorder::between(pd.diff_weights_desc(), user_weights)};
        }
        return *backward_weights;
    }
};

ConvPrimitives& primitives_for(const Window2d& w, int64_t ychn) {
    thread_local onednn::Cache<ConvPrimitives> cache(128);
    const CacheKey key{w.batch,      w.in_h,     w.in_w,       w.channels, ychn,
                       w.kernel_h,   w.kernel_w, w.stride_h,   w.stride_w, w.dilation_h,
                       w.dilation_w, w.pad_top,  w.pad_bottom, w.pad_left, w.pad_right};
    return cache.get(key, [&] { return ConvPrimitives(key, w, ychn); });
}

// Which pass's layout reordered weights are in.
enum class Pass { forward, forward_relu, backward_data, backward_data_as_forward };

// flipped[i, j, o, c] = k[kh - 1 - i, kw - 1 - j, c, o], HWIO in and out: the kernel of
// backward-data as a forward convolution (ConvPrimitives::BackwardData).
void flip_kernel(const Tensor& k, float* flipped) {
    const int64_t kh = k.size(0), kw = k.size(1), in = k.size(2), out = k.size(3);
    const float* source = k.data<float>();
    for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j)
            for (int64_t c = 0; c < in; ++c)
                for (int64_t o = 0; o < out; ++o)
                    flipped[((i * kw + j) * out + o) * in + c] =
                        source[(((kh - 1 - i) * kw + (kw - 1 - j)) * in + c) * out + o];
}

// The user's weights in one pass's layout, cached per weight storage, pass and geometry. The
// entry holds the source tensor, so its address cannot be reused by another tensor while cached;
// an optimizer's in-place update bumps the version, which triggers a new reorder.
struct ReorderedWeights {
    Tensor source;
    uint64_t version = 0;
    memory::desc layout;
    Tensor buffer;
};

const void* weights_in_layout(const Tensor& k, const ConvPrimitives& p,
                              const std::optional<WeightReorder>& reorder,
                              const memory::desc& layout, Pass pass) {
    const bool flip = pass == Pass::backward_data_as_forward;
    if (!reorder && !flip) return k.raw();
    thread_local onednn::Cache<ReorderedWeights> cache(64);
    const CacheKey key =
        CacheKey{static_cast<int64_t>(pass), reinterpret_cast<intptr_t>(k.raw())}.append(p.key);
    ReorderedWeights& entry = cache.get(key, [] { return ReorderedWeights{}; });
    if (!entry.source.shares_storage_with(k) || entry.version != k.version() ||
        entry.layout != layout) {
        const auto floats = static_cast<int64_t>(layout.get_size() / sizeof(float));
        if (!entry.buffer.defined() || entry.buffer.numel() < floats)
            entry.buffer = Tensor({floats}, f32);
        entry.source = k;
        entry.version = k.version();
        entry.layout = layout;
        if (flip && reorder) {
            Tensor flipped({k.numel()}, f32);
            flip_kernel(k, flipped.data<float>());
            reorder->run(flipped.raw(), entry.buffer.raw());
        } else if (flip) {
            flip_kernel(k, entry.buffer.data<float>());
        } else {
            reorder->run(k.raw(), entry.buffer.raw());
        }
        ++stats.weight_reorders;
    }
    return entry.buffer.raw();
}

Tensor onednn_forward(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                      Activation activation) {
    ConvPrimitives& p = primitives_for(w, k.size(3));
    ConvPrimitives::Forward& pass = p.forward_pass(activation);
    Tensor y(w.output_shape(p.ychn), f32);
    const void* weights =
        weights_in_layout(k, p, pass.to_weights, pass.weights,
                          activation == Activation::none ? Pass::forward : Pass::forward_relu);
    pass.primitive.run({onednn::arg(DNNL_ARG_SRC, x),
                        {DNNL_ARG_WEIGHTS, weights},
                        onednn::arg(DNNL_ARG_BIAS, b.defined() ? b : p.zero_bias),
                        onednn::arg(DNNL_ARG_DST, y)});
    return y;
}

Tensor onednn_backward_data(const Tensor& dy, const Tensor& k, const Window2d& w) {
    ConvPrimitives& p = primitives_for(w, k.size(3));
    ConvPrimitives::BackwardData& pass = p.backward_data_pass();
    Tensor dx({w.batch, w.in_h, w.in_w, w.channels}, f32);
    const void* weights =
        weights_in_layout(k, p, pass.to_weights, pass.weights,
                          pass.as_forward ? Pass::backward_data_as_forward : Pass::backward_data);
    if (pass.as_forward) ++stats.backward_data_as_forward;
    pass.primitive.run({onednn::arg(pass.as_forward ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, dy),
                        {DNNL_ARG_WEIGHTS, weights},
                        onednn::arg(pass.as_forward ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC, dx)});
    return dx;
}

ConvWeightGrads onednn_backward_weights(const Tensor& x, const Tensor& dy,
                                        const Shape& kernel_shape, const Window2d& w,
                                        bool with_bias) {
    ConvPrimitives& p = primitives_for(w, kernel_shape[3]);
    ConvPrimitives::BackwardWeights& pass = p.backward_weights_pass();
    ConvWeightGrads g{Tensor(kernel_shape, f32), Tensor({kernel_shape[3]}, f32)};
    Tensor dk_onednn = g.dk;  // the gradient in oneDNN's layout, when that is not HWIO
    if (pass.to_user_weights) {
        const auto floats = pass.diff_weights_bytes / sizeof(float);
        dk_onednn = Tensor({static_cast<int64_t>(floats)}, f32);
    }
    pass.primitive.run({onednn::arg(DNNL_ARG_SRC, x), onednn::arg(DNNL_ARG_DIFF_DST, dy),
                        onednn::arg(DNNL_ARG_DIFF_WEIGHTS, dk_onednn),
                        onednn::arg(DNNL_ARG_DIFF_BIAS, g.db)});
    if (pass.to_user_weights) pass.to_user_weights->run(dk_onednn.raw(), g.dk.raw());
    if (!with_bias) g.db = Tensor{};
    return g;
}

// oneDNN's relu post-op turns a NaN pre-activation into 0 in some implementations (its jit
// kernels take max(z, 0)), where the NaN rule keeps NaN (docs/semantics.md). So the post-op
// serves only when no pre-activation can be NaN: x, k and b finite, and no sum able to overflow
// into Inf - Inf, as |z| <= max|x| max|k| taps + max|b| stays below FLT_MAX / 2 (the half
// covers rounding). This costs one read pass over x (k and b are small): unavoidable, since
// nothing else tells whether x holds a NaN before oneDNN drops it.
bool relu_post_op_safe(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w) {
    const double kmax = max_abs_or_inf(k);
    const double bmax = b.defined() ? max_abs_or_inf(b) : 0.0;
    if (!std::isfinite(kmax) || !std::isfinite(bmax)) return false;
    const double xmax = max_abs_or_inf(x);
    const auto taps = static_cast<double>(w.kernel_h * w.kernel_w * w.channels);
    return xmax * kmax * taps + bmax < std::numeric_limits<float>::max() / 2;
}

Tensor onednn_forward_nan_safe(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                               Activation activation) {
    if (activation == Activation::relu && !relu_post_op_safe(x, k, b, w))
        return relu(onednn_forward(x, k, b, w, Activation::none));
    return onednn_forward(x, k, b, w, activation);
}

}  // namespace

// float32 runs on oneDNN unless the geometry is beyond it (onednn::fits_onednn) or oneDNN refuses
// it with a dnnl::error; the direct loops then compute the same formulas.
Tensor conv2d_forward(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                      Activation activation) {
    if (activation == Activation::relu) ++stats.relu_fused_forwards;
    if (x.dtype() == f32 && onednn::fits_onednn(w)) {
        try {
            return onednn_forward_nan_safe(x, k, b, w, activation);
        } catch (const dnnl::error&) {
        }
    }
    return conv2d_forward_direct(x, k, b, w, activation);
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& k, const Window2d& w) {
    if (dy.dtype() == f32 && onednn::fits_onednn(w)) {
        try {
            return onednn_backward_data(dy, k, w);
        } catch (const dnnl::error&) {
        }
    }
    return conv2d_backward_data_direct(dy, k, w);
}

ConvWeightGrads conv2d_backward_weights(const Tensor& x, const Tensor& dy,
                                        const Shape& kernel_shape, const Window2d& w,
                                        bool with_bias) {
    if (x.dtype() == f32 && onednn::fits_onednn(w)) {
        try {
            return onednn_backward_weights(x, dy, kernel_shape, w, with_bias);
        } catch (const dnnl::error&) {
        }
    }
    return conv2d_backward_weights_direct(x, dy, kernel_shape, w, with_bias);
}

ConvCacheStats conv2d_cache_stats() {
    return stats;
}

}  // namespace nalgrad::kernels
