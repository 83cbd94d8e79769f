// Pooling on oneDNN (float32), for core/kernels/pool.cpp: the primitives of a plan and their runs.
// Internal to the kernels.
#pragma once
#include <memory>

#include "core/kernels/onednn.hpp"
#include "core/kernels/pool.hpp"

namespace nalgrad::kernels::pooling {

// Made once: a backward may hold it while the cache moves on.
struct OnednnPooling {
    onednn::Primitive forward;
    std::size_t workspace_bytes = 0;  // kept: querying the descriptor allocates
    onednn::Primitive backward;       // training only
};

// Primitives per plan and propagation kind, cached per thread. A training entry also holds the
// backward, made with the forward descriptor as its hint so that it reads the forward's
// workspace. Throws dnnl::error for a geometry oneDNN refuses.
std::shared_ptr<const OnednnPooling> onednn_pooling(const PoolPlan& plan, dnnl::prop_kind prop);

// y from x; with `workspace`, also what the backward of a max pooling reads.
Tensor onednn_forward(const PoolPlan& plan, const OnednnPooling& p, const Tensor& x,
                      Tensor* workspace);
Tensor onednn_backward(const PoolPlan& plan, const OnednnPooling& p, const Tensor& dy,
                       const Tensor* workspace);

}  // namespace nalgrad::kernels::pooling
