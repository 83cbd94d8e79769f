// Anomaly detection, as torch.autograd.detect_anomaly: while a DetectAnomaly guard is alive on a
// thread, the tape checks every recorded op's forward output and every gradient backward computes
// for NaN and Inf, and throws nalgrad::Error naming the op, the pass (and, backward, which input's
// gradient), the record's place on the tape and the user's source line that called the op:
//
//   relu: anomaly in forward: the output f32 [2, 3] holds 1 Inf, the first at [1, 0] (tape
//   record #4, called at train.cpp:42:18 in 'int main()'); input 0 (f32 [2, 3], a leaf) already
//   held 1 Inf
//
// Off by default. When off, each record costs one thread-local test.
#pragma once

namespace nalgrad {

// Turns detection on (or off, with false) for this thread while it lives; nests.
class DetectAnomaly {
  public:
    explicit DetectAnomaly(bool enabled = true);
    ~DetectAnomaly();
    DetectAnomaly(const DetectAnomaly&) = delete;
    DetectAnomaly& operator=(const DetectAnomaly&) = delete;

  private:
    bool previous_;
};
bool anomaly_detection_enabled();

}  // namespace nalgrad
