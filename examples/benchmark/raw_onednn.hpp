// The lenet-fm training step's oneDNN primitives called directly through oneDNN's C++ API, with
// no framework around them: the floor nalgrad's float32 step can approach on these primitives.
// Activations NHWC, convolution and inner-product weights in oneDNN's own layouts (`any`),
// library-managed scratchpads, no reorders, data random. The loss and the optimizer update have
// no oneDNN primitive and are left out.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

struct RawLayer {
    std::string name;   // as in the nalgrad per-op table: "conv1", "relu1", "pool1", ...
    std::string what;   // the primitives timed, e.g. "fwd | bwd_data + bwd_weights(+bias)"
    double forward_ms;  // median
    double backward_ms;
};

// The step's primitives and their buffers, created once, so that timings can be taken in rounds
// alternating with nalgrad's steps. Uses as many OpenMP threads as the caller set
// (nalgrad::set_num_threads sets them).
class RawStep {
  public:
    explicit RawStep(int64_t batch);
    ~RawStep();
    RawStep(const RawStep&) = delete;
    RawStep& operator=(const RawStep&) = delete;

    // Each layer's passes: the median of `iterations` timed runs after `warmup` untimed ones.
    std::vector<RawLayer> time(int iterations, int warmup);

    // The whole step as one sequence, each primitive once: the layers' forward passes in order,
    // then their backward passes in reverse order, timed together (the median of `iterations`
    // runs). Unlike a primitive repeated on its own, each then finds its buffers as a step leaves
    // them: evicted by the other layers' work.
    double time_sequence(int iterations);

  private:
    struct Primitives;
    std::unique_ptr<Primitives> primitives_;
};

}  // namespace bench
