// The lenet-fm training step's oneDNN primitives called directly, with no framework around them
// (as ../shared/bench/onednn_conv.cpp does): the floor nalgrad's float32 step can approach on
// these primitives. Activations NHWC, convolution and inner-product weights in oneDNN's own
// layouts (`any`), library-managed scratchpads, no reorders, data random. The loss and the
// optimizer update have no oneDNN primitive and are left out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct RawLayer {
    std::string name;   // as in the nalgrad per-op table: "conv1", "relu1", "pool1", ...
    std::string what;   // the primitives timed, e.g. "fwd | bwd_data + bwd_weights(+bias)"
    double forward_ms;  // median
    double backward_ms;
};

// Uses as many OpenMP threads as the caller set (nalgrad::set_num_threads sets them).
// `iterations` timed runs of each pass after `warmup` untimed ones.
std::vector<RawLayer> time_raw_onednn(int64_t batch, int iterations, int warmup);

}  // namespace bench
