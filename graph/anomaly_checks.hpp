// The anomaly detector's internals (not installed): how a record is described, and the checks
// the tape runs while detection is on (graph/anomaly.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/source_location.hpp"
#include "core/tensor.hpp"
#include "graph/backward_fn.hpp"

namespace nalgrad {

struct TapeRecord;

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
