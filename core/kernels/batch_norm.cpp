#include "core/kernels/batch_norm.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <memory>
#include <vector>

#include "core/kernels/onednn.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// x viewed as m = n h w rows of c channels.
struct Rows {
    int64_t m = 0, c = 0;
};
Rows rows_of(const Tensor& x) {
    return {x.size(0) * x.size(1) * x.size(2), x.size(3)};
}

// ---------------------------------------------------------------------------------------------
// Own loops (any floating type). Sums run in double over fixed chunks of rows, in parallel, and
// the chunks' partial sums are added in chunk order: the result does not depend on the thread
// count. The elementwise passes run in parallel over rows.

constexpr int64_t rows_per_chunk = 256;

// K per-channel sums of term(i, ch) (a std::array<double, K>) over the rows i.
template <std::size_t K, typename Term>
std::array<std::vector<double>, K> channel_sums(Rows r, Term&& term) {
    const int64_t chunks = (r.m + rows_per_chunk - 1) / rows_per_chunk;
    const auto width = static_cast<int64_t>(K) * r.c;
    std::vector<double> partial(static_cast<std::size_t>(chunks * width), 0.0);
    parallel_for(chunks, rows_per_chunk * r.c, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
            double* acc = partial.data() + k * width;
            const int64_t last = std::min(r.m, (k + 1) * rows_per_chunk);
            for (int64_t i = k * rows_per_chunk; i < last; ++i)
                for (int64_t ch = 0; ch < r.c; ++ch) {
                    const std::array<double, K> t = term(i, ch);
                    for (std::size_t j = 0; j < K; ++j) acc[j * r.c + ch] += t[j];
                }
        }
    });
    std::array<std::vector<double>, K> sums;
    for (auto& v : sums) v.assign(r.c, 0.0);
    for (int64_t k = 0; k < chunks; ++k)
        for (std::size_t j = 0; j < K; ++j)
            for (int64_t ch = 0; ch < r.c; ++ch) sums[j][ch] += partial[k * width + j * r.c + ch];
    return sums;
}

// The mean, then the biased variance in a second pass about it: no cancellation as in
// E[x^2] - E[x]^2.
template <typename T>
void batch_statistics(const T* x, Rows r, std::vector<double>& mean, std::vector<double>& var) {
    const double m = static_cast<double>(r.m);
    mean = channel_sums<1>(r, [&](int64_t i, int64_t ch) {
        return std::array<double, 1>{static_cast<double>(x[i * r.c + ch])};
    })[0];
    for (double& v : mean) v /= m;
    var = channel_sums<1>(r, [&](int64_t i, int64_t ch) {
        const double d = x[i * r.c + ch] - mean[ch];
        return std::array<double, 1>{d * d};
    })[0];
    for (double& v : var) v /= m;
}

std::vector<double> doubles(const Tensor& t, int64_t c, double otherwise) {
    if (!t.defined()) return std::vector<double>(c, otherwise);
    return t.to_vector();
}

template <typename T>
Tensor to_tensor(const std::vector<double>& v) {
    Tensor t({static_cast<int64_t>(v.size())}, dtype_of<T>());
    for (std::size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = static_cast<T>(v[i]);
    return t;
}

template <typename T>
BatchNormForward loops_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& mean_in, const Tensor& var_in,
                               const BatchNormSpec& spec) {
    const Rows r = rows_of(x);
    std::vector<double> mean, var;
    if (spec.training) {
        batch_statistics(x.data<T>(), r, mean, var);
    } else {
        mean = mean_in.to_vector();
        var = var_in.to_vector();
    }
    const std::vector<double> g = doubles(gamma, r.c, 1.0), b = doubles(beta, r.c, 0.0);
    std::vector<double> scale(r.c), shift(r.c);
    for (int64_t ch = 0; ch < r.c; ++ch) {
        scale[ch] = g[ch] / std::sqrt(var[ch] + spec.eps);
        shift[ch] = b[ch] - mean[ch] * scale[ch];
    }
    Tensor y(x.shape(), x.dtype());
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    parallel_for(r.m, r.c, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            for (int64_t ch = 0; ch < r.c; ++ch)
                ys[i * r.c + ch] = static_cast<T>(xs[i * r.c + ch] * scale[ch] + shift[ch]);
    });
    return {std::move(y), to_tensor<T>(mean), to_tensor<T>(var)};
}

// dgamma = sum(dy xhat), dbeta = sum(dy); dx = gamma / sqrt(var + eps) * (dy - [training]
// (mean(dy) + xhat mean(dy xhat))).
template <typename T>
BatchNormGrads loops_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma,
                              const Tensor& mean_t, const Tensor& var_t,
                              const BatchNormSpec& spec) {
    const Rows r = rows_of(x);
    const std::vector<double> mean = mean_t.to_vector(), var = var_t.to_vector();
    const std::vector<double> g = doubles(gamma, r.c, 1.0);
    std::vector<double> inv_std(r.c);
    for (int64_t ch = 0; ch < r.c; ++ch) inv_std[ch] = 1.0 / std::sqrt(var[ch] + spec.eps);
    const T* xs = x.data<T>();
    const T* ds = dy.data<T>();
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const auto sums = channel_sums<2>(r, [&](int64_t i, int64_t ch) {
        const double d = ds[i * r.c + ch];
        return std::array<double, 2>{d, d * (xs[i * r.c + ch] - mean[ch]) * inv_std[ch]};
    });
    const std::vector<double>&sum_dy = sums[0], &sum_dy_xhat = sums[1];
    const double m = static_cast<double>(r.m);
    Tensor dx(x.shape(), x.dtype());
    T* dxs = dx.data<T>();
    parallel_for(r.m, r.c, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            for (int64_t ch = 0; ch < r.c; ++ch) {
                const int64_t at = i * r.c + ch;
                double d = ds[at];
                if (spec.training) {
                    const double xhat = (xs[at] - mean[ch]) * inv_std[ch];
                    d -= sum_dy[ch] / m + xhat * sum_dy_xhat[ch] / m;
                }
                dxs[at] = static_cast<T>(g[ch] * inv_std[ch] * d);
            }
    });
    BatchNormGrads grads{std::move(dx), {}, {}};
    if (gamma.defined()) {
        grads.dgamma = to_tensor<T>(sum_dy_xhat);
        grads.dbeta = to_tensor<T>(sum_dy);
    }
    return grads;
}

// ---------------------------------------------------------------------------------------------
// oneDNN (float32).

// Made once per geometry and mode: a backward may hold it while the cache moves on.
struct OnednnBatchNorm {
    onednn::Primitive forward;
    onednn::Primitive backward;
};

dnnl::normalization_flags flags_of(bool affine, bool training) {
    auto flags = dnnl::normalization_flags::none;
    if (affine)
        flags |= dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!training) flags |= dnnl::normalization_flags::use_global_stats;
    return flags;
}

// Forward and backward primitives, cached per thread. The backward is made with a
// forward_training descriptor of the same flags as its hint (oneDNN asks for one even with
// global statistics); with global statistics it treats mean and variance as constants.
std::shared_ptr<const OnednnBatchNorm> onednn_batch_norm(const Shape& x, bool affine, bool training,
                                                         double eps) {
    thread_local onednn::Cache<std::shared_ptr<const OnednnBatchNorm>> cache;
    const auto eps32 = static_cast<float>(eps);
    const CacheKey key = CacheKey{1}.append(x).append(
        {affine, training, static_cast<int64_t>(std::bit_cast<uint32_t>(eps32))});
    return cache.get(key, [&] {
        auto p = std::make_shared<OnednnBatchNorm>();
        const dnnl::memory::desc data({x[0], x[3], x[1], x[2]}, dnnl::memory::data_type::f32,
                                      dnnl::memory::format_tag::nhwc);
        const auto flags = flags_of(affine, training);
        const auto prop =
            training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        p->forward = onednn::Primitive(dnnl::batch_normalization_forward::primitive_desc(
            {prop, data, eps32, flags}, onednn::default_attr(), onednn::engine()));
        const dnnl::batch_normalization_forward::primitive_desc hint(
            {dnnl::prop_kind::forward_training, data, eps32, flags}, onednn::default_attr(),
            onednn::engine());
        const auto back_prop = affine ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data;
        p->backward = onednn::Primitive(dnnl::batch_normalization_backward::primitive_desc(
            {back_prop, data, data, eps32, flags}, onednn::default_attr(), onednn::engine(), hint));
        return std::shared_ptr<const OnednnBatchNorm>(std::move(p));
    });
}

BatchNormForward onednn_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor& mean_in, const Tensor& var_in,
                                const BatchNormSpec& spec) {
    const auto p = onednn_batch_norm(x.shape(), gamma.defined(), spec.training, spec.eps);
    BatchNormForward out{Tensor(x.shape(), f32), mean_in, var_in};
    if (spec.training) {
        out.mean = Tensor({x.size(3)}, f32);
        out.var = Tensor({x.size(3)}, f32);
    }
    p->forward.run({onednn::arg(DNNL_ARG_SRC, x), onednn::arg(DNNL_ARG_DST, out.y),
                    onednn::arg(DNNL_ARG_MEAN, out.mean), onednn::arg(DNNL_ARG_VARIANCE, out.var),
                    onednn::optional_arg(DNNL_ARG_SCALE, gamma),
                    onednn::optional_arg(DNNL_ARG_SHIFT, beta)});
    return out;
}

BatchNormGrads onednn_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma,
                               const Tensor& beta, const Tensor& mean, const Tensor& var,
                               const BatchNormSpec& spec) {
    const auto p = onednn_batch_norm(x.shape(), gamma.defined(), spec.training, spec.eps);
    BatchNormGrads g{Tensor(x.shape(), f32), {}, {}};
    if (gamma.defined()) {
        g.dgamma = Tensor({x.size(3)}, f32);
        g.dbeta = Tensor({x.size(3)}, f32);
    }
    p->backward.run(
        {onednn::arg(DNNL_ARG_SRC, x), onednn::arg(DNNL_ARG_MEAN, mean),
         onednn::arg(DNNL_ARG_VARIANCE, var), onednn::arg(DNNL_ARG_DIFF_DST, dy),
         onednn::optional_arg(DNNL_ARG_SCALE, gamma), onednn::optional_arg(DNNL_ARG_SHIFT, beta),
         onednn::arg(DNNL_ARG_DIFF_SRC, g.dx), onednn::optional_arg(DNNL_ARG_DIFF_SCALE, g.dgamma),
         onednn::optional_arg(DNNL_ARG_DIFF_SHIFT, g.dbeta)});
    return g;
}

bool use_onednn(const Tensor& x, const BatchNormSpec& spec) {
    return x.dtype() == f32 && spec.path == BatchNormPath::automatic;
}

}  // namespace

BatchNormForward batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& mean, const Tensor& var,
                                    const BatchNormSpec& spec) {
    if (use_onednn(x, spec)) return onednn_forward(x, gamma, beta, mean, var, spec);
    if (x.dtype() == f32) return loops_forward<float>(x, gamma, beta, mean, var, spec);
    return loops_forward<double>(x, gamma, beta, mean, var, spec);
}

BatchNormGrads batch_norm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& mean, const Tensor& var,
                                   const BatchNormSpec& spec) {
    if (use_onednn(x, spec)) return onednn_backward(x, dy, gamma, beta, mean, var, spec);
    if (x.dtype() == f32) return loops_backward<float>(x, dy, gamma, mean, var, spec);
    return loops_backward<double>(x, dy, gamma, mean, var, spec);
}

void batch_norm_update_running(const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& mean, const Tensor& biased_var, double momentum,
                               int64_t count) {
    const std::vector<double> m = mean.to_vector(), v = biased_var.to_vector();
    const std::vector<double> rm = running_mean.to_vector(), rv = running_var.to_vector();
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    for (std::size_t ch = 0; ch < m.size(); ++ch) {
        const double new_mean = (1 - momentum) * rm[ch] + momentum * m[ch];
        const double new_var = (1 - momentum) * rv[ch] + momentum * v[ch] * unbias;
        if (running_mean.dtype() == f32) {
            running_mean.data<float>()[ch] = static_cast<float>(new_mean);
            running_var.data<float>()[ch] = static_cast<float>(new_var);
        } else {
            running_mean.data<double>()[ch] = new_mean;
            running_var.data<double>()[ch] = new_var;
        }
    }
    running_mean.bump_version();
    running_var.bump_version();
}

}  // namespace nalgrad::kernels
