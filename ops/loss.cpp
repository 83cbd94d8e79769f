#include "ops/loss.hpp"

#include "core/kernels/elementwise.hpp"
#include "core/kernels/loss.hpp"
#include "graph/tape.hpp"
#include "ops/checks.hpp"
#include "ops/output_saved.hpp"

namespace nalgrad {
namespace {

// Two operands of a loss: floating, one dtype, one shape, not empty.
void check_pair(std::string_view op, const Var& a, std::string_view a_name, const Var& b,
                std::string_view b_name) {
    checks::require_float(op, a_name, a);
    checks::require_same_dtype(op, a_name, a, b_name, b);
    if (!(a.shape() == b.shape()))
        fail(op, "shapes differ: {} is {}, {} is {}", a_name, a.shape(), b_name, b.shape());
    if (a.numel() == 0) fail(op, "{} is empty: {}", a_name, a.shape());
}

}  // namespace

// y = softmax(x);  dx = y * (dy - sum(dy * y)) per row
Var softmax(const Var& x, SourceLocation where) {
    checks::require_float("softmax", "x", x);
    return record_with_output("softmax", where, kernels::softmax(x.value()), x,
                              kernels::softmax_backward);
}

// y = log_softmax(x);  dx = dy - softmax(x) * sum(dy) per row
Var log_softmax(const Var& x, SourceLocation where) {
    checks::require_float("log_softmax", "x", x);
    return record_with_output("log_softmax", where, kernels::log_softmax(x.value()), x,
                              kernels::log_softmax_backward);
}

// y = mean_n (logsumexp(z_n) - z_n[label_n]);  dz = dy / mb * (softmax(z) - onehot(label))
Var softmax_cross_entropy(const Var& logits, const Tensor& labels, SourceLocation where) {
    const std::string_view op = "softmax_cross_entropy";
    checks::require_float(op, "logits", logits);
    if (!labels.defined()) fail(op, "labels are undefined");
    if (logits.rank() != 2 || logits.size(0) == 0 || logits.size(1) == 0)
        fail(op, "logits must be [mb, classes] with mb, classes > 0, got {}", logits.shape());
    if (labels.dtype() != i64)
        fail(op, "labels must be an i64 tensor of class indices, got {} {}",
             dtype_name(labels.dtype()), labels.shape());
    if (labels.rank() != 1 || labels.size(0) != logits.size(0))
        fail(op, "labels must be [mb]: labels are {}, logits are {}", labels.shape(),
             logits.shape());
    kernels::CrossEntropy ce =
        kernels::softmax_cross_entropy(logits.value(), labels);  // checks range
    // The labels are copied: a data loader may refill its batch before backward runs.
    Tensor labels_kept = recording({logits}) ? labels.clone() : Tensor{};
    const double mb = static_cast<double>(logits.size(0));
    return record(
        "softmax_cross_entropy", where, ce.loss, {logits},
        [p = ce.probabilities, labels_kept, mb](const Grads& dy, const Needed&) -> Grads {
            return {kernels::softmax_cross_entropy_backward(p, labels_kept, dy[0].item() / mb)};
        });
}

// y = mean((p - t)^2);  dp = dy * 2 (p - t) / n,  dt = -dp
Var mse(const Var& prediction, const Var& target, SourceLocation where) {
    check_pair("mse", prediction, "prediction", target, "target");
    const double n = static_cast<double>(prediction.numel());
    return record("mse", where, kernels::mse(prediction.value(), target.value()),
                  {prediction, target},
                  [p = prediction.value(), t = target.value(), n](const Grads& dy,
                                                                  const Needed& needed) -> Grads {
                      Tensor dp = kernels::mse_backward(p, t, dy[0].item() / n);
                      return {needed[0] ? dp : Tensor{}, needed[1] ? kernels::neg(dp) : Tensor{}};
                  });
}

// y = mean(max(z, 0) - z t + log(1 + e^-|z|));  dz = dy (sigmoid(z) - t) / n,  dt = -dy z / n
Var sigmoid_cross_entropy(const Var& logits, const Var& targets, SourceLocation where) {
    check_pair("sigmoid_cross_entropy", logits, "logits", targets, "targets");
    const double n = static_cast<double>(logits.numel());
    return record(
        "sigmoid_cross_entropy", where,
        kernels::sigmoid_cross_entropy(logits.value(), targets.value()), {logits, targets},
        [z = logits.value(), t = targets.value(), n](const Grads& dy,
                                                     const Needed& needed) -> Grads {
            const double scale = dy[0].item() / n;
            return {
                needed[0] ? kernels::sigmoid_cross_entropy_backward_logits(z, t, scale) : Tensor{},
                needed[1] ? kernels::sigmoid_cross_entropy_backward_targets(z, scale) : Tensor{}};
        });
}

}  // namespace nalgrad
