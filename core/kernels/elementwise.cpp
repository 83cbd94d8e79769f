#include "core/kernels/elementwise.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/checked.hpp"
#include "core/kernels/finite.hpp"
#include "core/kernels/loops.hpp"
#include "core/kernels/onednn.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {

using detail::cheap;
using detail::costly;
using detail::map_tensors;

void add_into(Tensor& acc, const Tensor& x) {
    if (acc.dtype() != x.dtype() || !(acc.shape() == x.shape()))
        fail("add_into", "accumulator is {} {}, addend is {} {}", dtype_name(acc.dtype()),
             acc.shape(), dtype_name(x.dtype()), x.shape());
    visit_float("add_into", acc.dtype(), [&]<typename T>(T) {
        T* a = acc.data<T>();
        detail::map(
            acc.numel(), cheap, a, [](T u, T v) { return u + v; }, a, x.data<T>());
    });
}

// ---------------------------------------------------------------------------------------------
// Broadcasting

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
    const int rank = std::max(a.rank(), b.rank());
    Shape out;
    for (int i = 0; i < rank; ++i) {
        // Extents aligned from the back; a missing leading extent acts as 1.
        const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
        const int64_t ea = ia >= 0 ? a[ia] : 1, eb = ib >= 0 ? b[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1)
            fail(op, "shapes cannot broadcast: a is {}, b is {}", a, b);
        out.push_back(ea == 1 ? eb : ea);
    }
    // [n, 1] + [1, n] holds n^2 elements, which may wrap although each operand fits.
    if (!checked_product({out.begin(), out.end()}).ok())
        fail(op, "the broadcast of a {} and b {} is {}, whose element count overflows int64", a, b,
             out);
    return out;
}

namespace {

// How two operands map onto a broadcast output, with adjacent axes merged where both operands
// either advance through them together or both stay put, and axes of extent 1 dropped. A
// bias add [n, h, w, c] + [c] becomes two groups: [n*h*w (b stays), c (both advance)].
struct BroadcastPlan {
    int groups = 0;
    std::array<int64_t, Shape::max_rank> extent{};
    std::array<int64_t, Shape::max_rank> a_stride{};  // 0 where a is broadcast
    std::array<int64_t, Shape::max_rank> b_stride{};

    BroadcastPlan(const Shape& out, const Shape& a, const Shape& b) {
        std::array<bool, Shape::max_rank> a_moves{}, b_moves{};
        for (int i = 0; i < out.rank(); ++i) {
            if (out[i] == 1) continue;
            const int ia = i - (out.rank() - a.rank()), ib = i - (out.rank() - b.rank());
            const bool am = ia >= 0 && a[ia] != 1, bm = ib >= 0 && b[ib] != 1;
            if (groups > 0 && a_moves[groups - 1] == am && b_moves[groups - 1] == bm) {
                extent[groups - 1] *= out[i];
            } else {
                extent[groups] = out[i];
                a_moves[groups] = am;
                b_moves[groups] = bm;
                ++groups;
            }
        }
        // Each operand is row-major over the groups it advances through.
        int64_t sa = 1, sb = 1;
        for (int g = groups - 1; g >= 0; --g) {
            a_stride[g] = a_moves[g] ? sa : 0;
            b_stride[g] = b_moves[g] ? sb : 0;
            if (a_moves[g]) sa *= extent[g];
            if (b_moves[g]) sb *= extent[g];
        }
    }

    int64_t inner() const { return groups ? extent[groups - 1] : 1; }
    int64_t a_inner() const { return groups ? a_stride[groups - 1] : 0; }
    int64_t b_inner() const { return groups ? b_stride[groups - 1] : 0; }

    // Calls row(out_offset, a_offset, b_offset, length) for the stretches of the innermost group
    // that cover output elements [begin, end).
    template <typename Row>
    void walk(int64_t begin, int64_t end, Row&& row) const {
        const int64_t n = inner();
        int64_t outer = begin / n, j = begin % n;
        for (int64_t pos = begin; pos < end; ++outer, j = 0) {
            int64_t rest = outer, oa = 0, ob = 0;
            for (int g = groups - 2; g >= 0; --g) {
                const int64_t index = rest % extent[g];
                rest /= extent[g];
                oa += index * a_stride[g];
                ob += index * b_stride[g];
            }
            const int64_t length = std::min(n - j, end - pos);
            row(pos, oa + j * a_inner(), ob + j * b_inner(), length);
            pos += length;
        }
    }
};

// out = f(a, b) over a broadcast; the inner loop has one of four stride patterns, each a plain
// contiguous loop the compiler vectorises.
template <typename T, typename F>
void broadcast_map(const BroadcastPlan& plan, int64_t n, const T* a, const T* b, T* out, F f) {
    const bool a_moves = plan.a_inner() != 0, b_moves = plan.b_inner() != 0;
    parallel_for(n, cheap, [&](int64_t begin, int64_t end) {
        plan.walk(begin, end, [&](int64_t o, int64_t ia, int64_t ib, int64_t length) {
            T* y = out + o;
            const T* u = a + ia;
            const T* v = b + ib;
            if (a_moves && b_moves) {
                for (int64_t k = 0; k < length; ++k) y[k] = f(u[k], v[k]);
            } else if (a_moves) {
                const T v0 = v[0];
                for (int64_t k = 0; k < length; ++k) y[k] = f(u[k], v0);
            } else if (b_moves) {
                const T u0 = u[0];
                for (int64_t k = 0; k < length; ++k) y[k] = f(u0, v[k]);
            } else {
                std::fill(y, y + length, f(u[0], v[0]));
            }
        });
    });
}

template <typename F>
Tensor broadcast_binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
    if (a.dtype() != b.dtype())
        fail(op, "dtypes differ: a is {}, b is {} (cast one with astype)", dtype_name(a.dtype()),
             dtype_name(b.dtype()));
    const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
    Tensor y(shape, a.dtype());
    visit_float(op, a.dtype(), [&]<typename T>(T) {
        if (a.shape() == b.shape()) {  // the common case: no index arithmetic at all
            detail::map(y.numel(), cheap, y.data<T>(), f, a.data<T>(), b.data<T>());
        } else {
            broadcast_map(BroadcastPlan(shape, a.shape(), b.shape()), y.numel(), a.data<T>(),
                          b.data<T>(), y.data<T>(), f);
        }
    });
    return y;
}

}  // namespace

std::string_view name_of(BinaryOp op) {
    switch (op) {
        case BinaryOp::add:
            return "add";
        case BinaryOp::sub:
            return "sub";
        case BinaryOp::mul:
            return "mul";
        case BinaryOp::div:
            return "div";
    }
    return "binary";
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    const std::string_view name = name_of(op);
    switch (op) {
        case BinaryOp::add:
            return broadcast_binary(name, a, b, [](auto u, auto v) { return u + v; });
        case BinaryOp::sub:
            return broadcast_binary(name, a, b, [](auto u, auto v) { return u - v; });
        case BinaryOp::mul:
            return broadcast_binary(name, a, b, [](auto u, auto v) { return u * v; });
        case BinaryOp::div:
            return broadcast_binary(name, a, b, [](auto u, auto v) { return u / v; });
    }
    fail(name, "unknown operation");
}

Tensor broadcast_to(const Tensor& x, const Shape& shape, double scale) {
    if (!(broadcast_shapes("broadcast_to", x.shape(), shape) == shape))
        fail("broadcast_to", "cannot stretch {} to {}", x.shape(), shape);
    Tensor y(shape, x.dtype());
    visit_float("broadcast_to", x.dtype(), [&]<typename T>(T) {
        const T s = static_cast<T>(scale);
        const T one = 1;  // a one-element second operand that never moves
        broadcast_map(BroadcastPlan(shape, x.shape(), Shape{}), y.numel(), x.data<T>(), &one,
                      y.data<T>(), [s](T u, T) { return u * s; });
    });
    return y;
}

// ---------------------------------------------------------------------------------------------
// Transpose

Tensor transpose(const Tensor& x) {
    if (x.rank() != 2) fail("transpose", "needs a 2-D tensor, got shape {}", x.shape());
    const int64_t rows = x.size(0), cols = x.size(1);
    Tensor y({cols, rows}, x.dtype());
    visit_float("transpose", x.dtype(), [&]<typename T>(T) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        // Tiles keep both the rows read and the rows written in cache.
        constexpr int64_t tile = 32;
        const int64_t row_tiles = (rows + tile - 1) / tile;
        parallel_for(row_tiles, tile * cols, [&](int64_t begin, int64_t end) {
            for (int64_t r0 = begin * tile; r0 < std::min(rows, end * tile); r0 += tile)
                for (int64_t c0 = 0; c0 < cols; c0 += tile)
                    for (int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
                        for (int64_t c = c0; c < std::min(cols, c0 + tile); ++c)
                            out[c * rows + r] = in[r * cols + c];
        });
    });
    return y;
}

// ---------------------------------------------------------------------------------------------
// Unary maps

Tensor neg(const Tensor& x) {
    return map_tensors(
        "neg", cheap, [](auto v) { return -v; }, x);
}

Tensor exp(const Tensor& x) {
    return map_tensors(
        "exp", costly, [](auto v) { return std::exp(v); }, x);
}
Tensor exp_backward(const Tensor& y, const Tensor& dy) {
    return map_tensors(
        "exp", cheap, [](auto v, auto g) { return g * v; }, y, dy);
}

Tensor log(const Tensor& x) {
    return map_tensors(
        "log", costly, [](auto v) { return std::log(v); }, x);
}
Tensor log_backward(const Tensor& x, const Tensor& dy) {
    return map_tensors(
        "log", cheap, [](auto v, auto g) { return g / v; }, x, dy);
}

Tensor sqrt(const Tensor& x) {
    return map_tensors(
        "sqrt", costly, [](auto v) { return std::sqrt(v); }, x);
}
Tensor sqrt_backward(const Tensor& y, const Tensor& dy) {
    return map_tensors(
        "sqrt", cheap, [](auto v, auto g) { return g / (v + v); }, y, dy);
}

Tensor pow(const Tensor& x, double exponent) {
    if (exponent == 2)
        return map_tensors(
            "pow", cheap, [](auto v) { return v * v; }, x);
    return map_tensors(
        "pow", costly,
        [exponent](auto v) { return std::pow(v, static_cast<decltype(v)>(exponent)); }, x);
}
Tensor pow_backward(const Tensor& x, double exponent, const Tensor& dy) {
    return map_tensors(
        "pow", costly,
        [exponent](auto v, auto g) {
            using T = decltype(v);
            return g * static_cast<T>(exponent) * std::pow(v, static_cast<T>(exponent - 1));
        },
        x, dy);
}

namespace {

// Large float32 ReLUs run on oneDNN's eltwise primitives: they then share OpenMP's threads with
// the convolutions beside them instead of handing the cores to TBB and back for one pass.
bool relu_on_onednn(const Tensor& t) {
    return t.dtype() == DType::f32 && t.numel() >= serial_grain;
}

struct Eltwise {
    onednn::Primitive forward;
    onednn::Primitive backward;
};

Eltwise& relu_primitives(int64_t n) {
    thread_local onednn::Cache<Eltwise> cache;
    return cache.get(CacheKey{n}, [&] {
        using namespace dnnl;
        const memory::desc desc({n}, memory::data_type::f32, memory::format_tag::a);
        const auto attr = onednn::default_attr();
        eltwise_forward::primitive_desc fwd(
            {prop_kind::forward_training, algorithm::eltwise_relu_use_dst_for_bwd, desc, 0.f}, attr,
            onednn::engine());
        eltwise_backward::primitive_desc bwd(
            {algorithm::eltwise_relu_use_dst_for_bwd, desc, desc, 0.f}, attr, onednn::engine(),
            fwd);
        return Eltwise{onednn::Primitive(fwd), onednn::Primitive(bwd)};
    });
}

}  // namespace

// The primitives see every tensor as flat: [numel], plain. oneDNN's relu turns NaN into 0; the
// NaN rule keeps it (docs/semantics.md), so an input holding a NaN runs on the own loop. The scan
// is a read pass over x, stopping at the first non-finite chunk: nothing else tells whether oneDNN
// would drop a NaN. (Inf is safe on oneDNN; the scan finds it too and merely picks the own loop.)
Tensor relu(const Tensor& x, bool finite) {
    if (relu_on_onednn(x) && (finite || all_finite(x))) {
        Tensor y(x.shape(), x.dtype());
        relu_primitives(x.numel()).forward.run(
            {onednn::arg(DNNL_ARG_SRC, x), onednn::arg(DNNL_ARG_DST, y)});
        return y;
    }
    return map_tensors(
        "relu", cheap, [](auto v) { return v <= 0 ? decltype(v){0} : v; }, x);  // NaN stays
}
Tensor relu_backward(const Tensor& y, const Tensor& dy) {
    if (relu_on_onednn(y) && dy.dtype() == DType::f32 && y.shape() == dy.shape()) {
        Tensor dx(y.shape(), y.dtype());
        relu_primitives(y.numel()).backward.run({onednn::arg(DNNL_ARG_DST, y),
                                                 onednn::arg(DNNL_ARG_DIFF_DST, dy),
                                                 onednn::arg(DNNL_ARG_DIFF_SRC, dx)});
        return dx;
    }
    return map_tensors(
        "relu", cheap, [](auto v, auto g) { return v > 0 ? g : decltype(g){0}; }, y, dy);
}

Tensor sigmoid(const Tensor& x) {
    return map_tensors(
        "sigmoid", costly, [](auto v) { return detail::stable_sigmoid(v); }, x);
}
Tensor sigmoid_backward(const Tensor& y, const Tensor& dy) {
    return map_tensors(
        "sigmoid", cheap, [](auto v, auto g) { return g * v * (decltype(v){1} - v); }, y, dy);
}

Tensor tanh(const Tensor& x) {
    return map_tensors(
        "tanh", costly, [](auto v) { return std::tanh(v); }, x);
}
Tensor tanh_backward(const Tensor& y, const Tensor& dy) {
    return map_tensors(
        "tanh", cheap, [](auto v, auto g) { return g * (decltype(v){1} - v * v); }, y, dy);
}

}  // namespace nalgrad::kernels
