// Anomaly detection, as torch.autograd.detect_anomaly: while a DetectAnomaly guard is alive on a
// thread, the tape checks every recorded op's forward output and every gradient backward computes
// for NaN and Inf, and throws nalgrad::Error naming the op, the pass (and, backward, which input's
// gradient), the record's place on the tape and the user's source line that called the op:
//
//   relu: anomaly in forward: the output f32 [2, 3] holds 1 Inf, the first at [1, 0] (tape
//   record #4, called at train.cpp:42:18 in 'int main()'); input 0 (f32 [2, 3], a leaf) already
//   held 1 Inf
//
// Off by default. When off, each public op call and each record costs one thread-local test.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/source_location.hpp"
#include "core/tensor.hpp"
#include "graph/backward_fn.hpp"

namespace nalgrad {

struct TapeRecord;

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

// Where the user called an op. A public op function takes a trailing
//     SourceLocation where = SourceLocation::current()
// (a default argument is evaluated in the caller, so it names the user's file and line) and
// opens `const CallSite site(where);` first thing. While anomaly detection is on, the records
// made during the outermost CallSite alive on this thread carry its location: the records of an
// op built from other ops name the user's line, not a line in ops/.
class CallSite {
  public:
    explicit CallSite(const SourceLocation& where);
    ~CallSite();
    CallSite(const CallSite&) = delete;
    CallSite& operator=(const CallSite&) = delete;

  private:
    bool outermost_ = false;
};

// The location of this thread's outermost CallSite, or an empty one (line 0) when there is none.
SourceLocation current_call_site();

// "tape record #7, called at train.cpp:42:18 in 'int main()'", without the call when the location
// is empty.
std::string describe_record(uint64_t sequence, const SourceLocation& where);

// The tape's checks (graph/var.cpp calls them while detection is on). Each throws nalgrad::Error.
namespace anomaly {
void check_forward(const TapeRecord& record, const Tensor& output);
void check_seed(const Tensor& seed);
// `gradient`: the record's local gradient for input `input`; `incoming`: the gradients of its
// outputs, which the message says were finite or not.
void check_gradient(const TapeRecord& record, std::size_t input, const Tensor& gradient,
                    const Grads& incoming);
// `sum`: input `input`'s gradient after adding this record's contribution to earlier ones.
void check_accumulated(const TapeRecord& record, std::size_t input, const Tensor& sum);
}  // namespace anomaly

}  // namespace nalgrad
