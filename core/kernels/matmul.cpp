#include "core/kernels/matmul.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/kernels/onednn.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

// The logical problem: c [m, n] = op(a) [m, k] * op(b) [k, n].
struct Extents {
    int64_t m = 0, k = 0, n = 0;
};

Extents extents_of(const Tensor& a, const Tensor& b, Transposed transposed, const Tensor& bias) {
    if (a.rank() != 2 || b.rank() != 2 || a.dtype() != b.dtype())
        fail("matmul kernel", "needs two 2-D tensors of one dtype, got {} {} and {} {}",
             dtype_name(a.dtype()), a.shape(), dtype_name(b.dtype()), b.shape());
    const bool ta = transposed == Transposed::a, tb = transposed == Transposed::b;
    Extents e{ta ? a.size(1) : a.size(0), ta ? a.size(0) : a.size(1), tb ? b.size(0) : b.size(1)};
    const int64_t b_rows = tb ? b.size(1) : b.size(0);
    if (b_rows != e.k)
        fail("matmul kernel", "inner dimensions differ: a is {}, b is {}", a.shape(), b.shape());
    if (bias.defined() && (bias.rank() != 1 || bias.size(0) != e.n || bias.dtype() != a.dtype()))
        fail("matmul kernel", "bias is {} {}, the product has {} columns", dtype_name(bias.dtype()),
             bias.shape(), e.n);
    return e;
}

// ---------------------------------------------------------------------------------------------
// The project's own product: GotoBLAS-style blocking. b is copied block by block into column
// panels (so the innermost loop reads it contiguously whatever its strides), and a small tile of
// c is accumulated in registers over a depth block. Rows of c are split across TBB tasks; every
// element of c is summed in the same order however the rows are split, so results are
// reproducible bit for bit.

// The register tile is written with GCC vector types: the auto-vectoriser picked the wrong loop
// (measured 2 GFLOP/s instead of 6-8 on one core). Its size follows the widest vectors the build
// targets (NALGRAD_NATIVE adds AVX-512): two vectors per row of c, and as many rows as the
// vector registers hold (16 registers below AVX-512, 32 with it).
#if defined(__AVX512F__)
constexpr int64_t vector_bytes = 64;
#elif defined(__AVX__)
constexpr int64_t vector_bytes = 32;
#else
constexpr int64_t vector_bytes = 16;
#endif
template <typename T>
using Vector [[gnu::vector_size(vector_bytes)]] = T;
template <typename T>
constexpr int64_t lanes = vector_bytes / static_cast<int64_t>(sizeof(T));

constexpr int64_t row_tile = vector_bytes == 64 ? 6 : 4;  // rows of c in one register tile
template <typename T>
constexpr int64_t col_tile = 2 * lanes<T>;  // columns of c in one register tile (a panel of b)
constexpr int64_t depth_block = 256;        // k per packed block of b
constexpr int64_t col_block = 256;          // n per packed block of b (a multiple of col_tile)

// Element (i, j) of a logical matrix is data[i * row_stride + j * col_stride]; reading a stored
// matrix transposed only swaps the strides.
template <typename T>
struct MatrixView {
    const T* data;
    int64_t row_stride;
    int64_t col_stride;
    const T* at(int64_t i, int64_t j) const { return data + i * row_stride + j * col_stride; }
};

template <typename T>
MatrixView<T> view_of(const Tensor& t, bool transposed) {
    const int64_t stored_cols = t.size(1);
    return transposed ? MatrixView<T>{t.data<T>(), 1, stored_cols}
                      : MatrixView<T>{t.data<T>(), stored_cols, 1};
}

// Copies b[k0 : k0 + depth, n0 : n0 + cols] into panels of col_tile columns: panel p holds, for
// each k, col_tile consecutive values, zero past the last column.
template <typename T>
void pack_panels(MatrixView<T> b, int64_t k0, int64_t depth, int64_t n0, int64_t cols, T* packed) {
    for (int64_t p = 0; p * col_tile<T> < cols; ++p) {
        T* panel = packed + p * depth * col_tile<T>;
        const int64_t width = std::min(col_tile<T>, cols - p * col_tile<T>);
        for (int64_t k = 0; k < depth; ++k) {
            const T* source = b.at(k0 + k, n0 + p * col_tile<T>);
            T* target = panel + k * col_tile<T>;
            for (int64_t j = 0; j < width; ++j) target[j] = source[j * b.col_stride];
            for (int64_t j = width; j < col_tile<T>; ++j) target[j] = T(0);
        }
    }
}

// c[0 : rows, 0 : cols] += a[i0 : i0 + rows, k0 : k0 + depth] * panel.
template <typename T>
void register_tile(MatrixView<T> a, int64_t i0, int64_t rows, int64_t k0, int64_t depth,
                   const T* panel, T* c, int64_t ldc, int64_t cols) {
    using V = Vector<T>;
    // Rows past the edge reread the last row: the loop keeps its fixed shape, and their sums are
    // dropped below.
    const T* a_rows[row_tile];
    for (int64_t r = 0; r < row_tile; ++r) a_rows[r] = a.at(i0 + std::min(r, rows - 1), k0);
    V acc[row_tile][2] = {};
    for (int64_t k = 0; k < depth; ++k) {
        V b0, b1;
        std::memcpy(&b0, panel + k * col_tile<T>, sizeof(V));
        std::memcpy(&b1, panel + k * col_tile<T> + lanes<T>, sizeof(V));
        for (int64_t r = 0; r < row_tile; ++r) {
            const T ar = a_rows[r][k * a.col_stride];
            acc[r][0] += ar * b0;
            acc[r][1] += ar * b1;
        }
    }
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] += acc[r][j / lanes<T>][j % lanes<T>];
}

// Rows of c per TBB task: one task per thread where the rows allow, and at least 32 rows, since
// each task packs all of b (once per block), and with few rows the packing outweighs the
// arithmetic (measured: 8-row tasks ran a [64, 3136] x [3136, 512] product 3x slower).
int64_t rows_per_task(int64_t m) {
    const int64_t threads = get_num_threads();
    const int64_t rows = (m + threads - 1) / threads;
    const int64_t rounded = (rows + row_tile - 1) / row_tile * row_tile;
    return std::clamp<int64_t>(rounded, 32 / row_tile * row_tile, 128);
}

template <typename T>
void blocked_product(MatrixView<T> a, MatrixView<T> b, const T* bias, T* c, Extents e) {
    const int64_t task_rows = rows_per_task(e.m);
    const int64_t tasks = (e.m + task_rows - 1) / task_rows;
    parallel_for(tasks, task_rows * e.k * e.n, [&](int64_t first, int64_t last) {
        thread_local std::vector<T> packed;
        packed.resize(depth_block * col_block);
        const int64_t i_begin = first * task_rows, i_end = std::min(e.m, last * task_rows);
        for (int64_t i = i_begin; i < i_end; ++i) {
            T* row = c + i * e.n;
            if (bias)
                std::copy(bias, bias + e.n, row);
            else
                std::fill(row, row + e.n, T(0));
        }
        for (int64_t n0 = 0; n0 < e.n; n0 += col_block) {
            const int64_t cols = std::min(col_block, e.n - n0);
            for (int64_t k0 = 0; k0 < e.k; k0 += depth_block) {
                const int64_t depth = std::min(depth_block, e.k - k0);
                pack_panels(b, k0, depth, n0, cols, packed.data());
                for (int64_t i0 = i_begin; i0 < i_end; i0 += row_tile)
                    for (int64_t p = 0; p * col_tile<T> < cols; ++p)
                        register_tile(a, i0, std::min(row_tile, i_end - i0), k0, depth,
                                      packed.data() + p * depth * col_tile<T>,
                                      c + i0 * e.n + n0 + p * col_tile<T>, e.n,
                                      std::min(col_tile<T>, cols - p * col_tile<T>));
            }
        }
    });
}

Tensor own_product(const Tensor& a, const Tensor& b, Transposed transposed, const Tensor& bias,
                   Extents e) {
    Tensor c({e.m, e.n}, a.dtype());
    visit_float("matmul", a.dtype(), [&]<typename T>(T) {
        blocked_product(view_of<T>(a, transposed == Transposed::a),
                        view_of<T>(b, transposed == Transposed::b),
                        bias.defined() ? bias.data<T>() : nullptr, c.data<T>(), e);
    });
    return c;
}

// ---------------------------------------------------------------------------------------------
// oneDNN's matmul primitive (float32). Measured on the lenet-fm dense shapes it matched or beat
// inner_product, and one primitive kind serves the forward and both gradients.

thread_local onednn::Cache<onednn::Primitive> matmul_cache;

// A logical [rows, cols] matrix; transposed: stored as [cols, rows] row-major. With an extent of
// 1 both layouts are the same bytes, and the plain strides avoid a degenerate descriptor.
dnnl::memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed) {
    const bool swap = transposed && rows > 1 && cols > 1;
    return {{rows, cols},
            dnnl::memory::data_type::f32,
            swap ? dnnl::memory::dims{1, rows} : dnnl::memory::dims{cols, 1}};
}

Tensor onednn_product(const Tensor& a, const Tensor& b, Transposed transposed, const Tensor& bias,
                      Extents e) {
    const CacheKey key{e.m, e.k, e.n, static_cast<int>(transposed), bias.defined()};
    const onednn::Primitive& product = matmul_cache.get(key, [&] {
        const auto a_desc = matrix_desc(e.m, e.k, transposed == Transposed::a);
        const auto b_desc = matrix_desc(e.k, e.n, transposed == Transposed::b);
        const auto c_desc = matrix_desc(e.m, e.n, false);
        const dnnl::memory::desc bias_desc({1, e.n}, dnnl::memory::data_type::f32,
                                           dnnl::memory::format_tag::ab);
        const auto desc = bias.defined() ? dnnl::matmul::desc(a_desc, b_desc, bias_desc, c_desc)
                                         : dnnl::matmul::desc(a_desc, b_desc, c_desc);
        return onednn::Primitive(
            dnnl::matmul::primitive_desc(desc, onednn::default_attr(), onednn::engine()));
    });
    Tensor c({e.m, e.n}, f32);
    product.run({onednn::arg(DNNL_ARG_SRC, a), onednn::arg(DNNL_ARG_WEIGHTS, b),
                 onednn::optional_arg(DNNL_ARG_BIAS, bias), onednn::arg(DNNL_ARG_DST, c)});
    return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, Transposed transposed, const Tensor& bias,
              MatmulBackend backend) {
    if (!is_floating(a.dtype())) fail_not_floating("matmul", a.dtype());
    const Extents e = extents_of(a, b, transposed, bias);
    // oneDNN refuses zero extents; the own loops handle them (a zero depth leaves c = bias).
    const bool empty = e.m == 0 || e.n == 0 || e.k == 0;
    if (a.dtype() == f32 && backend == MatmulBackend::onednn && !empty)
        return onednn_product(a, b, transposed, bias, e);
    return own_product(a, b, transposed, bias, e);
}

Tensor sum_rows(const Tensor& x) {
    if (x.rank() != 2) fail("sum_rows", "needs a 2-D tensor, got {}", x.shape());
    const int64_t m = x.size(0), n = x.size(1);
    Tensor sums({n}, x.dtype());
    visit_float("sum_rows", x.dtype(), [&]<typename T>(T) {
        const T* in = x.data<T>();
        T* out = sums.data<T>();
        // Tasks own column ranges, and each column is summed down the rows in order.
        parallel_for(n, m, [&](int64_t j_begin, int64_t j_end) {
            std::fill(out + j_begin, out + j_end, T(0));
            for (int64_t i = 0; i < m; ++i) {
                const T* row = in + i * n;
                for (int64_t j = j_begin; j < j_end; ++j) out[j] += row[j];
            }
        });
    });
    return sums;
}

std::size_t cached_matmul_primitives() {
    return matmul_cache.size();
}

}  // namespace nalgrad::kernels
