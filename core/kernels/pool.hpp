// Pooling kernels: float32 through oneDNN (max `first`, both average borders), float64 and the tie
// policies oneDNN lacks through the project's own loops (templated, so they exist for float too).
#pragma once
#include <memory>
#include <vector>

#include "core/geometry.hpp"
#include "core/kernels/cache_key.hpp"
#include "core/pool_options.hpp"
#include "core/tensor.hpp"

namespace nalgrad::kernels {

enum class PoolKind { max, avg };

// Everything about one pooling that does not depend on the data: the resolved window, the
// policies and, for average pooling, every output position's divisor. Built once per (input
// shape, options), cached, and shared by forward and backward.
struct PoolPlan {
    PoolKind kind = PoolKind::max;
    Window2d window;
    TiePolicy ties = TiePolicy::first;
    AvgBorder border = AvgBorder::exclude_padding;
    std::vector<double> divisors;  // average pooling: [out_h * out_w], row-major
    CacheKey key;                  // identifies the plan in caches
};

// Throw nalgrad::Error (naming max_pool2d / avg_pool2d, the argument and the shapes) for an
// impossible geometry, including a window that lies entirely in padding.
std::shared_ptr<const PoolPlan> max_pool_plan(const Shape& x, const MaxPool2dOptions& options);
std::shared_ptr<const PoolPlan> avg_pool_plan(const Shape& x, const AvgPool2dOptions& options);

// Whether a forward must keep what its backward needs.
enum class Purpose { inference, training };

// What max pooling's backward needs: x and y (own kernels), or oneDNN's workspace.
class MaxPoolSaved;

struct MaxPoolResult {
    Tensor y;
    std::shared_ptr<const MaxPoolSaved> saved;  // null for Purpose::inference
    bool finite = false;  // x, and so y, is known to hold no NaN or Inf (scanned for oneDNN)
};

MaxPoolResult max_pool_forward(const std::shared_ptr<const PoolPlan>& plan, const Tensor& x,
                               Purpose purpose);
Tensor max_pool_backward(const MaxPoolSaved& saved, const Tensor& dy);

Tensor avg_pool_forward(const PoolPlan& plan, const Tensor& x);
Tensor avg_pool_backward(const PoolPlan& plan, const Tensor& dy);

}  // namespace nalgrad::kernels
