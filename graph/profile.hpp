// Op-by-op times of training steps, as PyTorch's autograd profiler gives them, summed per op name:
// an op's forward is the time from the previous recorded op (or from mark()) to its own record,
// and its backward the time of its gradient function inside backward(). So code that runs between
// two ops counts toward the second; call mark() after such code. Only ops that record on the tape
// are seen (grad mode on, an input requiring a gradient). One profiler per thread at a time.
//
//   OpProfiler profiler;
//   for (...) { profiler.mark(); Var loss = model(x); loss.backward(); opt.step(); }
//   for (const OpTime& t : profiler.times()) fmt::print("{} {} {}\n", t.op, t.forward_ms, ...);
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nalgrad {

struct OpTime {
    std::string op;  // "conv2d", "batch_norm2d_relu", ...
    int64_t forward_calls = 0, backward_calls = 0;
    double forward_ms = 0, backward_ms = 0;
};

class OpProfiler {
  public:
    OpProfiler();  // starts profiling this thread's ops; throws if a profiler is already active
    ~OpProfiler();
    OpProfiler(const OpProfiler&) = delete;
    OpProfiler& operator=(const OpProfiler&) = delete;

    void mark();  // the next op's forward time counts from now
    void clear();
    // Per op name, in the order the names were first seen.
    const std::vector<OpTime>& times() const { return times_; }

    // Called by the tape (graph/var.cpp, graph/backward.cpp).
    void forward_recorded(std::string_view op);
    void backward_ran(std::string_view op, double ms);

  private:
    OpTime& row(std::string_view op);
    std::vector<OpTime> times_;
    std::vector<const char*> names_;  // string literals, parallel to times_
    double last_ns_ = 0;
};

// The profiler active on this thread, or null.
OpProfiler* active_profiler();

}  // namespace nalgrad
