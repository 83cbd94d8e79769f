#include "core/kernels/pool.hpp"

#include <algorithm>
#include <limits>

#include "core/block_pool.hpp"
#include "core/checked.hpp"
#include "core/kernels/finite.hpp"
#include "core/kernels/onednn.hpp"
#include "core/kernels/pool_onednn.hpp"
#include "core/limits.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

using pooling::onednn_backward;  // core/kernels/pool_onednn.cpp
using pooling::onednn_forward;
using pooling::onednn_pooling;
using pooling::OnednnPooling;

// ---------------------------------------------------------------------------------------------
// Geometry: which real input pixels a window reads.

struct Span {
    int64_t begin = 0, end = 0;
    int64_t size() const { return end - begin; }
};

// Input indices of output position `out` along one axis, clipped to the image: padding is not
// read, it simply is not there.
Span window_span(int64_t out, int64_t stride, int64_t pad_before, int64_t kernel, int64_t extent) {
    int64_t start = out * stride - pad_before;
    return {std::max<int64_t>(start, 0), std::min(start + kernel, extent)};
}
Span row_span(const Window2d& g, int64_t r) {
    return window_span(r, g.stride_h, g.pad_top, g.kernel_h, g.in_h);
}
Span col_span(const Window2d& g, int64_t c) {
    return window_span(c, g.stride_w, g.pad_left, g.kernel_w, g.in_w);
}

// The real pixels of one window of one batch item.
struct WindowPixels {
    Span rows, cols;
    int64_t image = 0;  // batch item
    const Window2d* g = nullptr;

    int64_t count() const { return rows.size() * cols.size(); }
    // Calls f(element offset in x of the pixel's channel vector), row-major window order.
    template <typename F>
    void each(F&& f) const {
        for (int64_t h = rows.begin; h < rows.end; ++h)
            for (int64_t w = cols.begin; w < cols.end; ++w)
                f(((image * g->in_h + h) * g->in_w + w) * g->channels);
    }
};

// What a pass writes. Forward passes write only their own outputs; backward passes scatter into
// input rows that overlapping windows share.
enum class Writes { outputs, inputs };

// Calls visit(pixels, y_offset, position) for every window: y_offset is the element offset of
// its output channel vector, position = r * out_w + c. Parallel over batch items and output rows.
// With Writes::inputs, output rows run concurrently only when their windows share no input row
// (rows r, r + p, r + 2p, ... with p = ceil(kernel_h / stride_h) form one phase), so scatters
// need no atomics and every sum is taken in a fixed order: backward is bitwise repeatable.
template <typename Visit>
void for_each_window(const Window2d& g, Writes writes, Visit&& visit) {
    const int64_t phases =
        writes == Writes::inputs ? ceil_div(g.kernel_h, g.stride_h).value() : int64_t{1};
    // A window reads at most the image's rows and columns, however large the kernel.
    const Checked reads =
        Checked(g.out_w) * std::min(g.kernel_h, g.in_h) * std::min(g.kernel_w, g.in_w) * g.channels;
    const int64_t cost = reads.ok() ? reads.value() : INT64_MAX;
    for (int64_t phase = 0; phase < std::min(phases, g.out_h); ++phase) {
        const int64_t rows = (g.out_h - phase + phases - 1) / phases;
        parallel_for(g.batch * rows, cost, [&](int64_t begin, int64_t end) {
            for (int64_t item = begin; item < end; ++item) {
                WindowPixels pixels;
                pixels.g = &g;
                pixels.image = item / rows;
                const int64_t r = phase + (item % rows) * phases;
                pixels.rows = row_span(g, r);
                for (int64_t c = 0; c < g.out_w; ++c) {
                    pixels.cols = col_span(g, c);
                    const int64_t position = r * g.out_w + c;
                    visit(pixels, (pixels.image * g.out_h * g.out_w + position) * g.channels,
                          position);
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Plans.

// Window positions grow with the output index, so when some window lies wholly in padding, the
// first or the last one does: two checks, however many outputs there are.
void check_no_window_in_padding(std::string_view op, const Shape& x, const Window2d& g) {
    auto check_axis = [&](const char* axis, int64_t outs, int64_t extent, int64_t kernel,
                          int64_t stride, int64_t before, int64_t after, auto span) {
        for (int64_t o : {int64_t{0}, outs - 1}) {
            Span s = span(g, o);
            if (s.size() > 0) continue;
            int64_t first = o * stride - before;
            fail(op,
                 "output {} {} reads only padding (input {}s {} to {}; the image has {}s 0 to "
                 "{}): padding {} before and {} after is too large for kernel {} with stride {}; "
                 "input is {}",
                 axis, o, axis, first, first + kernel - 1, axis, extent - 1, before, after, kernel,
                 stride, x);
        }
    };
    check_axis("row", g.out_h, g.in_h, g.kernel_h, g.stride_h, g.pad_top, g.pad_bottom, row_span);
    check_axis("column", g.out_w, g.in_w, g.kernel_w, g.stride_w, g.pad_left, g.pad_right,
               col_span);
}

// The output must fit in memory (checked in f32, the smaller dtype: the op checks its own dtype)
// before anything is sized by it, such as average pooling's divisors.
PoolPlan make_plan(std::string_view op, const Shape& x, Size2 kernel, Size2 stride,
                   Padding padding) {
    if (stride == Size2{0, 0}) stride = kernel;
    PoolPlan plan;
    plan.window = make_window(op, x, kernel, stride, 1, padding);
    check_allocation(op, "the output", plan.window.output_shape(plan.window.channels), f32);
    check_no_window_in_padding(op, x, plan.window);
    return plan;
}

CacheKey plan_key(const Shape& x, Size2 kernel, Size2 stride, const Padding& p, int kind,
                  int policy) {
    return CacheKey{kind}.append(x).append({kernel.h, kernel.w, stride.h, stride.w,
                                            static_cast<int>(p.mode()), p.top(), p.bottom(),
                                            p.left(), p.right(), policy});
}

// Plans are immutable and data-independent, so any thread may use one; the cache is per thread.
template <typename Make>
std::shared_ptr<const PoolPlan> cached_plan(const CacheKey& key, Make&& make) {
    thread_local onednn::Cache<std::shared_ptr<const PoolPlan>> plans(512);
    return plans.get(key, [&] {
        auto plan = std::make_shared<PoolPlan>(make());
        plan->key = key;
        return std::shared_ptr<const PoolPlan>(std::move(plan));
    });
}

// ---------------------------------------------------------------------------------------------
// The project's own loops (float64, and the tie policies oneDNN lacks).

template <typename T>
Tensor own_max_forward(const Window2d& g, const Tensor& x) {
    Tensor y(g.output_shape(g.channels), x.dtype());
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for_each_window(g, Writes::outputs, [&](const WindowPixels& pixels, int64_t yo, int64_t) {
        T* o = out + yo;
        std::fill(o, o + g.channels, -std::numeric_limits<T>::infinity());
        // A NaN wins and stays (the NaN rule, docs/semantics.md): v != v only for NaN.
        pixels.each([&](int64_t xo) {
            for (int64_t ch = 0; ch < g.channels; ++ch) {
                const T v = in[xo + ch];
                o[ch] = v > o[ch] || v != v ? v : o[ch];
            }
        });
    });
    return y;
}

// The window's maxima are the elements equal to y (y is one of them, so equality is exact); when
// y is NaN they are the window's NaNs, as PyTorch sends the gradient to the NaN.
template <typename T>
Tensor own_max_backward(const Window2d& g, TiePolicy ties, const Tensor& x, const Tensor& y,
                        const Tensor& dy) {
    Tensor dx = zeros(x.shape(), x.dtype());
    const T* in = x.data<T>();
    const T* out = y.data<T>();
    const T* grad = dy.data<T>();
    T* d = dx.data<T>();
    for_each_window(g, Writes::inputs, [&](const WindowPixels& pixels, int64_t yo, int64_t) {
        for (int64_t ch = 0; ch < g.channels; ++ch) {
            const T top = out[yo + ch];
            const bool nan_top = top != top;
            auto is_max = [&](T v) { return nan_top ? v != v : v == top; };
            T share = grad[yo + ch];
            if (ties == TiePolicy::split) {
                int64_t tied = 0;
                pixels.each([&](int64_t xo) { tied += is_max(in[xo + ch]); });
                share /= static_cast<T>(tied);
            }
            bool given = false;
            pixels.each([&](int64_t xo) {
                if (given || !is_max(in[xo + ch])) return;
                d[xo + ch] += share;
                given = ties == TiePolicy::first;
            });
        }
    });
    return dx;
}

template <typename T>
Tensor own_avg_forward(const PoolPlan& plan, const Tensor& x) {
    const Window2d& g = plan.window;
    Tensor y(g.output_shape(g.channels), x.dtype());
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for_each_window(g, Writes::outputs, [&](const WindowPixels& pixels, int64_t yo, int64_t pos) {
        T* o = out + yo;
        std::fill(o, o + g.channels, T(0));
        pixels.each([&](int64_t xo) {
            for (int64_t ch = 0; ch < g.channels; ++ch) o[ch] += in[xo + ch];
        });
        const T divisor = static_cast<T>(plan.divisors[pos]);
        for (int64_t ch = 0; ch < g.channels; ++ch) o[ch] /= divisor;
    });
    return y;
}

template <typename T>
Tensor own_avg_backward(const PoolPlan& plan, const Tensor& dy) {
    const Window2d& g = plan.window;
    Tensor dx = zeros({g.batch, g.in_h, g.in_w, g.channels}, dy.dtype());
    const T* grad = dy.data<T>();
    T* d = dx.data<T>();
    for_each_window(g, Writes::inputs, [&](const WindowPixels& pixels, int64_t yo, int64_t pos) {
        const T divisor = static_cast<T>(plan.divisors[pos]);
        pixels.each([&](int64_t xo) {
            for (int64_t ch = 0; ch < g.channels; ++ch) d[xo + ch] += grad[yo + ch] / divisor;
        });
    });
    return dx;
}

}  // namespace

std::shared_ptr<const PoolPlan> max_pool_plan(const Shape& x, const MaxPool2dOptions& o) {
    return cached_plan(
        plan_key(x, o.kernel, o.stride, o.padding, 0, static_cast<int>(o.ties)), [&] {
            PoolPlan plan = make_plan("max_pool2d", x, o.kernel, o.stride, o.padding);
            plan.kind = PoolKind::max;
            plan.ties = o.ties;
            return plan;
        });
}

std::shared_ptr<const PoolPlan> avg_pool_plan(const Shape& x, const AvgPool2dOptions& o) {
    return cached_plan(
        plan_key(x, o.kernel, o.stride, o.padding, 1, static_cast<int>(o.border)), [&] {
            PoolPlan plan = make_plan("avg_pool2d", x, o.kernel, o.stride, o.padding);
            plan.kind = PoolKind::avg;
            plan.border = o.border;
            const Window2d& g = plan.window;
            check_allocation("avg_pool2d", "the divisors", {g.out_h, g.out_w}, f64);
            plan.divisors.resize(g.out_h * g.out_w);
            for (int64_t r = 0; r < g.out_h; ++r)
                for (int64_t c = 0; c < g.out_w; ++c)
                    plan.divisors[r * g.out_w + c] =
                        o.border == AvgBorder::include_padding
                            ? static_cast<double>(g.kernel_h * g.kernel_w)
                            : static_cast<double>(row_span(g, r).size() * col_span(g, c).size());
            return plan;
        });
}

class MaxPoolSaved {
  public:
    std::shared_ptr<const PoolPlan> plan;
    Tensor x, y;                                      // own backward
    Tensor workspace;                                 // oneDNN backward
    std::shared_ptr<const OnednnPooling> primitives;  // oneDNN backward
};

MaxPoolResult max_pool_forward(const std::shared_ptr<const PoolPlan>& plan, const Tensor& x,
                               Purpose purpose) {
    // From the block pool: one per max pooling in every training step.
    auto saved = std::allocate_shared<MaxPoolSaved>(detail::PoolAllocator<MaxPoolSaved>{});
    saved->plan = plan;
    Tensor y;
    // oneDNN's max pooling is `first`; for `all` and `split` its forward values still serve, and
    // our backward finds the tied maxima by comparing x with them.
    const bool onednn_backward_wanted =
        purpose == Purpose::training && plan->ties == TiePolicy::first;
    // oneDNN's max pooling skips NaN (it gives the largest number, or -FLT_MAX for an all-NaN
    // window) and starts from -FLT_MAX (an all -Inf window gives -FLT_MAX): a non-finite input
    // runs on the own loops, which keep NaN. The check is a read pass over x that stops at the
    // first non-finite chunk; it is unavoidable, since nothing else tells whether x holds a NaN
    // before oneDNN drops it.
    bool finite = false;
    visit_float("max_pool2d", x.dtype(), [&]<typename T>(T) {
        if constexpr (std::is_same_v<T, float>) {
            finite = onednn::fits_onednn(plan->window) && all_finite(x);
            if (finite) {
                try {
                    auto p = onednn_pooling(*plan, onednn_backward_wanted
                                                       ? dnnl::prop_kind::forward_training
                                                       : dnnl::prop_kind::forward_inference);
                    y = onednn_forward(*plan, *p, x,
                                       onednn_backward_wanted ? &saved->workspace : nullptr);
                    if (onednn_backward_wanted) saved->primitives = p;
                    return;
                } catch (const dnnl::error&) {
                    saved->workspace = Tensor{};  // refused: the own loops below
                }
            }
        }
        y = own_max_forward<T>(plan->window, x);
    });
    if (purpose == Purpose::inference) return {y, nullptr, finite};
    if (!saved->primitives) {
        saved->x = x;
        saved->y = y;
    }
    return {y, saved, finite};
}

Tensor max_pool_backward(const MaxPoolSaved& saved, const Tensor& dy) {
    if (saved.primitives)
        return onednn_backward(*saved.plan, *saved.primitives, dy, &saved.workspace);
    return visit_float("max_pool2d", dy.dtype(), [&]<typename T>(T) {
        return own_max_backward<T>(saved.plan->window, saved.plan->ties, saved.x, saved.y, dy);
    });
}

// Average pooling keeps NaN on oneDNN too (a sum). A geometry beyond oneDNN, or one it refuses,
// runs on the own loops.
Tensor avg_pool_forward(const PoolPlan& plan, const Tensor& x) {
    return visit_float("avg_pool2d", x.dtype(), [&]<typename T>(T) {
        if constexpr (std::is_same_v<T, float>) {
            if (onednn::fits_onednn(plan.window)) {
                try {
                    auto p = onednn_pooling(plan, dnnl::prop_kind::forward_training);
                    return onednn_forward(plan, *p, x, nullptr);
                } catch (const dnnl::error&) {
                }
            }
        }
        return own_avg_forward<T>(plan, x);
    });
}

Tensor avg_pool_backward(const PoolPlan& plan, const Tensor& dy) {
    return visit_float("avg_pool2d", dy.dtype(), [&]<typename T>(T) {
        if constexpr (std::is_same_v<T, float>) {
            if (onednn::fits_onednn(plan.window)) {
                try {
                    auto p = onednn_pooling(plan, dnnl::prop_kind::forward_training);
                    return onednn_backward(plan, *p, dy, nullptr);
                } catch (const dnnl::error&) {
                }
            }
        }
        return own_avg_backward<T>(plan, dy);
    });
}

}  // namespace nalgrad::kernels
