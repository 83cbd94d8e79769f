// The convolution's direct loops: the float64 path, and the reference the oneDNN path is tested
// against (for float as well).
#include <cstdint>

#include "core/kernels/conv.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {

// Tap (i, j) of output (r, c) reads input row r*sh + i*dh - pt and
// column c*sw + j*dw - pl; taps that land in the padding read zero and are skipped.
namespace {

int64_t input_row(const Window2d& w, int64_t r, int64_t i) {
    return r * w.stride_h + i * w.dilation_h - w.pad_top;
}
int64_t input_col(const Window2d& w, int64_t c, int64_t j) {
    return c * w.stride_w + j * w.dilation_w - w.pad_left;
}
// The output index whose tap lands on input index p, or -1 when none does (the inverse of
// input_row / input_col for one tap).
int64_t output_index(int64_t p, int64_t pad, int64_t tap, int64_t dilation, int64_t stride,
                     int64_t out) {
    int64_t num = p + pad - tap * dilation;
    if (num < 0 || num % stride != 0 || num / stride >= out) return -1;
    return num / stride;
}

// Parallel over batch x output rows: each task writes its own rows of y.
template <typename T>
void forward_loops(const T* x, const T* k, const T* b, T* y, const Window2d& w, int64_t ychn,
                   Activation activation) {
    const int64_t xchn = w.channels;
    const int64_t cost = w.out_w * w.kernel_h * w.kernel_w * xchn * ychn;
    parallel_for(w.batch * w.out_h, cost, [&](int64_t begin, int64_t end) {
        for (int64_t nr = begin; nr < end; ++nr) {
            const int64_t n = nr / w.out_h, r = nr % w.out_h;
            for (int64_t c = 0; c < w.out_w; ++c) {
                T* out = y + (nr * w.out_w + c) * ychn;
                for (int64_t o = 0; o < ychn; ++o) out[o] = b ? b[o] : T(0);
                for (int64_t i = 0; i < w.kernel_h; ++i) {
                    const int64_t row = input_row(w, r, i);
                    if (row < 0 || row >= w.in_h) continue;
                    for (int64_t j = 0; j < w.kernel_w; ++j) {
                        const int64_t col = input_col(w, c, j);
                        if (col < 0 || col >= w.in_w) continue;
                        const T* in = x + ((n * w.in_h + row) * w.in_w + col) * xchn;
                        const T* taps = k + (i * w.kernel_w + j) * xchn * ychn;
                        for (int64_t ch = 0; ch < xchn; ++ch) {
                            const T v = in[ch];
                            const T* kr = taps + ch * ychn;
                            for (int64_t o = 0; o < ychn; ++o) out[o] += v * kr[o];
                        }
                    }
                }
                if (activation == Activation::relu)
                    for (int64_t o = 0; o < ychn; ++o)
                        out[o] = out[o] <= 0 ? T(0) : out[o];  // NaN stays
            }
        }
    });
}

// Parallel over batch x input rows: each dx element gathers the (output, tap) pairs that read
// it, so no two tasks write the same element.
template <typename T>
void backward_data_loops(const T* dy, const T* k, T* dx, const Window2d& w, int64_t ychn) {
    const int64_t xchn = w.channels;
    const int64_t cost = w.in_w * w.kernel_h * w.kernel_w * xchn * ychn;
    parallel_for(w.batch * w.in_h, cost, [&](int64_t begin, int64_t end) {
        for (int64_t np = begin; np < end; ++np) {
            const int64_t n = np / w.in_h, p = np % w.in_h;
            for (int64_t q = 0; q < w.in_w; ++q) {
                T* d = dx + (np * w.in_w + q) * xchn;
                for (int64_t ch = 0; ch < xchn; ++ch) d[ch] = T(0);
                for (int64_t i = 0; i < w.kernel_h; ++i) {
                    const int64_t r =
                        output_index(p, w.pad_top, i, w.dilation_h, w.stride_h, w.out_h);
                    if (r < 0) continue;
                    for (int64_t j = 0; j < w.kernel_w; ++j) {
                        const int64_t c =
                            output_index(q, w.pad_left, j, w.dilation_w, w.stride_w, w.out_w);
                        if (c < 0) continue;
                        const T* g = dy + ((n * w.out_h + r) * w.out_w + c) * ychn;
                        const T* taps = k + (i * w.kernel_w + j) * xchn * ychn;
                        for (int64_t ch = 0; ch < xchn; ++ch) {
                            const T* kr = taps + ch * ychn;
                            T s = 0;
                            for (int64_t o = 0; o < ychn; ++o) s += g[o] * kr[o];
                            d[ch] += s;
                        }
                    }
                }
            }
        }
    });
}

// Parallel over kernel taps x input channels: each task owns one row dk[i, j, ch, :].
template <typename T>
void backward_weights_loops(const T* x, const T* dy, T* dk, const Window2d& w, int64_t ychn) {
    const int64_t xchn = w.channels;
    const int64_t cost = w.batch * w.out_h * w.out_w * ychn;
    parallel_for(w.kernel_h * w.kernel_w * xchn, cost, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int64_t ch = t % xchn, ij = t / xchn;
            const int64_t i = ij / w.kernel_w, j = ij % w.kernel_w;
            T* acc = dk + t * ychn;
            for (int64_t o = 0; o < ychn; ++o) acc[o] = T(0);
            for (int64_t n = 0; n < w.batch; ++n)
                for (int64_t r = 0; r < w.out_h; ++r) {
                    const int64_t row = input_row(w, r, i);
                    if (row < 0 || row >= w.in_h) continue;
                    for (int64_t c = 0; c < w.out_w; ++c) {
                        const int64_t col = input_col(w, c, j);
                        if (col < 0 || col >= w.in_w) continue;
                        const T v = x[((n * w.in_h + row) * w.in_w + col) * xchn + ch];
                        const T* g = dy + ((n * w.out_h + r) * w.out_w + c) * ychn;
                        for (int64_t o = 0; o < ychn; ++o) acc[o] += v * g[o];
                    }
                }
        }
    });
}

template <typename T>
void bias_loops(const T* dy, T* db, int64_t pixels, int64_t ychn) {
    for (int64_t o = 0; o < ychn; ++o) db[o] = T(0);
    for (int64_t p = 0; p < pixels; ++p)
        for (int64_t o = 0; o < ychn; ++o) db[o] += dy[p * ychn + o];
}

template <typename T>
const T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

Tensor conv2d_forward_direct(const Tensor& x, const Tensor& k, const Tensor& b, const Window2d& w,
                             Activation activation) {
    const int64_t ychn = k.size(3);
    Tensor y(w.output_shape(ychn), x.dtype());
    visit_float("conv2d", x.dtype(), [&]<typename T>(T) {
        forward_loops<T>(x.data<T>(), k.data<T>(), data_or_null<T>(b), y.data<T>(), w, ychn,
                         activation);
    });
    return y;
}

Tensor conv2d_backward_data_direct(const Tensor& dy, const Tensor& k, const Window2d& w) {
    Tensor dx({w.batch, w.in_h, w.in_w, w.channels}, dy.dtype());
    visit_float("conv2d", dy.dtype(), [&]<typename T>(T) {
        backward_data_loops<T>(dy.data<T>(), k.data<T>(), dx.data<T>(), w, k.size(3));
    });
    return dx;
}

Tensor conv2d_backward_bias(const Tensor& dy) {
    const int64_t ychn = dy.size(3);
    Tensor db({ychn}, dy.dtype());
    visit_float("conv2d", dy.dtype(), [&]<typename T>(T) {
        bias_loops<T>(dy.data<T>(), db.data<T>(), dy.numel() / ychn, ychn);
    });
    return db;
}

ConvWeightGrads conv2d_backward_weights_direct(const Tensor& x, const Tensor& dy,
                                               const Shape& kernel_shape, const Window2d& w,
                                               bool with_bias) {
    ConvWeightGrads g{Tensor(kernel_shape, x.dtype()), Tensor{}};
    visit_float("conv2d", x.dtype(), [&]<typename T>(T) {
        backward_weights_loops<T>(x.data<T>(), dy.data<T>(), g.dk.data<T>(), w, kernel_shape[3]);
    });
    if (with_bias) g.db = conv2d_backward_bias(dy);
    return g;
}

}  // namespace nalgrad::kernels
