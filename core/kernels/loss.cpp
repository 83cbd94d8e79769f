#include "core/kernels/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "core/kernels/loops.hpp"
#include "core/runtime.hpp"

namespace nalgrad::kernels {
namespace {

using detail::cheap;
using detail::costly;

// Rows of the last axis.
struct Rows {
    int64_t count = 0;
    int64_t length = 0;
};

Rows rows_of(std::string_view op, const Tensor& x) {
    if (x.rank() == 0) fail(op, "needs at least one axis, got a scalar");
    const int64_t length = x.size(-1);
    return {length == 0 ? 0 : x.numel() / length, length};
}

// Calls row(r) for every row, in parallel over rows.
template <typename Row>
void for_each_row(Rows rows, Row&& row) {
    parallel_for(rows.count, rows.length * costly, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) row(r);
    });
}

// Writes e[i] = exp(x[i] - max) and returns max and sum(e): subtracting the maximum keeps every
// exp at most 1, so nothing overflows. log(sum exp(x)) = max + log(sum(e)). n >= 1.
template <typename T>
struct ExpSum {
    T top;
    T sum;
    T log_sum_exp() const { return top + std::log(sum); }
};

template <typename T>
ExpSum<T> exp_shifted(const T* x, T* e, int64_t n) {
    ExpSum<T> r{*std::max_element(x, x + n), T(0)};
    for (int64_t i = 0; i < n; ++i) {
        e[i] = std::exp(x[i] - r.top);
        r.sum += e[i];
    }
    return r;
}

// The two softmax forms: probabilities (softmax) or their logarithms (log_softmax).
enum class Form { probabilities, logarithms };

Tensor softmax_rows(std::string_view op, const Tensor& x, Form form) {
    const Rows rows = rows_of(op, x);
    Tensor y(x.shape(), x.dtype());
    visit_float(op, x.dtype(), [&]<typename T>(T) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        for_each_row(rows, [&](int64_t r) {
            const T* xr = in + r * rows.length;
            T* yr = out + r * rows.length;
            const ExpSum<T> es = exp_shifted(xr, yr, rows.length);
            if (form == Form::logarithms) {
                const T lse = es.log_sum_exp();
                for (int64_t i = 0; i < rows.length; ++i) yr[i] = xr[i] - lse;
            } else {
                const T inverse = T(1) / es.sum;
                for (int64_t i = 0; i < rows.length; ++i) yr[i] *= inverse;
            }
        });
    });
    return y;
}

// Per row, from the forward's output y:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
Tensor softmax_rows_backward(std::string_view op, const Tensor& y, const Tensor& dy, Form form) {
    if (dy.dtype() != y.dtype() || !(dy.shape() == y.shape()))
        fail(op, "gradient is {} {}, output is {} {}", dtype_name(dy.dtype()), dy.shape(),
             dtype_name(y.dtype()), y.shape());
    const Rows rows = rows_of(op, y);
    Tensor dx(y.shape(), y.dtype());
    visit_float(op, y.dtype(), [&]<typename T>(T) {
        for_each_row(rows, [&](int64_t r) {
            const T* yr = y.data<T>() + r * rows.length;
            const T* gr = dy.data<T>() + r * rows.length;
            T* dr = dx.data<T>() + r * rows.length;
            T dot = 0;
            if (form == Form::logarithms) {
                for (int64_t i = 0; i < rows.length; ++i) dot += gr[i];
                for (int64_t i = 0; i < rows.length; ++i) dr[i] = gr[i] - std::exp(yr[i]) * dot;
            } else {
                for (int64_t i = 0; i < rows.length; ++i) dot += gr[i] * yr[i];
                for (int64_t i = 0; i < rows.length; ++i) dr[i] = yr[i] * (gr[i] - dot);
            }
        });
    });
    return dx;
}

void check_labels(const Tensor& labels, int64_t rows, int64_t classes) {
    const int64_t* l = labels.data<int64_t>();
    if (labels.numel() != rows)
        fail("softmax_cross_entropy", "{} labels for {} rows", labels.numel(), rows);
    for (int64_t i = 0; i < rows; ++i)
        if (l[i] < 0 || l[i] >= classes)
            fail("softmax_cross_entropy", "label {} at index {} is out of range [0, {})", l[i], i,
                 classes);
}

}  // namespace

Tensor softmax(const Tensor& x) {
    return softmax_rows("softmax", x, Form::probabilities);
}
Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
    return softmax_rows_backward("softmax", y, dy, Form::probabilities);
}
Tensor log_softmax(const Tensor& x) {
    return softmax_rows("log_softmax", x, Form::logarithms);
}
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy) {
    return softmax_rows_backward("log_softmax", y, dy, Form::logarithms);
}

CrossEntropy softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
    const std::string_view op = "softmax_cross_entropy";
    if (logits.rank() != 2) fail(op, "logits must be [mb, classes], got {}", logits.shape());
    const Rows rows = rows_of(op, logits);
    check_labels(labels, logits.size(0), rows.length);
    CrossEntropy result{Tensor(Shape{}, logits.dtype()), Tensor(logits.shape(), logits.dtype())};
    visit_float(op, logits.dtype(), [&]<typename T>(T) {
        const int64_t* label = labels.data<int64_t>();
        Tensor row_losses({rows.count}, f64);  // from the tensor cache, unlike a std::vector
        double* row_loss = row_losses.data<double>();
        for_each_row(rows, [&](int64_t r) {
            const T* xr = logits.data<T>() + r * rows.length;
            T* pr = result.probabilities.data<T>() + r * rows.length;
            const ExpSum<T> es = exp_shifted(xr, pr, rows.length);
            const T inverse = T(1) / es.sum;
            for (int64_t i = 0; i < rows.length; ++i) pr[i] *= inverse;
            row_loss[r] = static_cast<double>(es.log_sum_exp() - xr[label[r]]);  // -log p[label]
        });
        double total = 0;  // in row order: the same bits for any thread count
        for (int64_t r = 0; r < rows.count; ++r) total += row_loss[r];
        result.loss.data<T>()[0] = static_cast<T>(total / static_cast<double>(rows.count));
    });
    return result;
}

Tensor softmax_cross_entropy_backward(const Tensor& probabilities, const Tensor& labels,
                                      double scale) {
    const std::string_view op = "softmax_cross_entropy";
    const Rows rows = rows_of(op, probabilities);
    check_labels(labels, rows.count, rows.length);
    Tensor dx(probabilities.shape(), probabilities.dtype());
    visit_float(op, probabilities.dtype(), [&]<typename T>(T) {
        const T s = static_cast<T>(scale);
        const int64_t* label = labels.data<int64_t>();
        for_each_row(rows, [&](int64_t r) {
            const T* pr = probabilities.data<T>() + r * rows.length;
            T* dr = dx.data<T>() + r * rows.length;
            for (int64_t i = 0; i < rows.length; ++i) dr[i] = s * pr[i];
            dr[label[r]] -= s;
        });
    });
    return dx;
}

namespace {

// mean over all elements of term(a[i], b[i]), as a rank-0 tensor of a's dtype.
template <typename Term>
Tensor mean_of(std::string_view op, const Tensor& a, const Tensor& b, Term term) {
    if (a.dtype() != b.dtype() || !(a.shape() == b.shape()))
        fail(op, "operands differ: {} {} and {} {}", dtype_name(a.dtype()), a.shape(),
             dtype_name(b.dtype()), b.shape());
    Tensor loss(Shape{}, a.dtype());
    visit_float(op, a.dtype(), [&]<typename T>(T) {
        const T* u = a.data<T>();
        const T* v = b.data<T>();
        const double total = detail::deterministic_sum(a.numel(), costly,
                                                       [&](int64_t i) { return term(u[i], v[i]); });
        loss.data<T>()[0] = static_cast<T>(total / static_cast<double>(a.numel()));
    });
    return loss;
}

}  // namespace

Tensor mse(const Tensor& prediction, const Tensor& target) {
    return mean_of("mse", prediction, target, [](auto p, auto t) { return (p - t) * (p - t); });
}

Tensor mse_backward(const Tensor& prediction, const Tensor& target, double scale) {
    return detail::map_tensors(
        "mse", cheap,
        [scale](auto p, auto t) { return static_cast<decltype(p)>(2 * scale) * (p - t); },
        prediction, target);
}

Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& targets) {
    return mean_of("sigmoid_cross_entropy", logits, targets, [](auto z, auto t) {
        using T = decltype(z);
        return std::max(z, T(0)) - z * t + std::log1p(std::exp(-std::abs(z)));
    });
}

Tensor sigmoid_cross_entropy_backward_logits(const Tensor& logits, const Tensor& targets,
                                             double scale) {
    return detail::map_tensors(
        "sigmoid_cross_entropy", costly,
        [scale](auto z, auto t) {
            return static_cast<decltype(z)>(scale) * (detail::stable_sigmoid(z) - t);
        },
        logits, targets);
}

Tensor sigmoid_cross_entropy_backward_targets(const Tensor& logits, double scale) {
    return detail::map_tensors(
        "sigmoid_cross_entropy", cheap,
        [scale](auto z) { return static_cast<decltype(z)>(-scale) * z; }, logits);
}

}  // namespace nalgrad::kernels
