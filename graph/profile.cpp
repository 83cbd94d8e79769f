#include "graph/profile.hpp"

#include <chrono>

#include "core/error.hpp"

namespace nalgrad {

namespace {

thread_local OpProfiler* active = nullptr;

double now_ns() {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

OpProfiler* active_profiler() {
    return active;
}

OpProfiler::OpProfiler() {
    if (active) fail("OpProfiler", "a profiler is already active on this thread");
    active = this;
    mark();
}

OpProfiler::~OpProfiler() {
    active = nullptr;
}

void OpProfiler::mark() {
    last_ns_ = now_ns();
}

void OpProfiler::clear() {
    times_.clear();
    names_.clear();
    mark();
}

OpTime& OpProfiler::row(std::string_view op) {
    // Op names are string literals: the pointer finds the row without comparing text, and a
    // second literal of the same text (another translation unit) falls back to the text.
    for (std::size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == op.data() || times_[i].op == op) return times_[i];
    names_.push_back(op.data());
    times_.push_back({.op = std::string(op)});
    return times_.back();
}

void OpProfiler::forward_recorded(std::string_view op) {
    const double now = now_ns();
    OpTime& t = row(op);
    ++t.forward_calls;
    t.forward_ms += (now - last_ns_) * 1e-6;
    last_ns_ = now_ns();  // the row search is not the next op's time
}

void OpProfiler::backward_ran(std::string_view op, double ms) {
    OpTime& t = row(op);
    ++t.backward_calls;
    t.backward_ms += ms;
    mark();  // after backward(), the next forward starts afresh
}

}  // namespace nalgrad
