#include "ops/output_saved.hpp"

#include <utility>

#include "graph/tape.hpp"

namespace nalgrad {

Var record_with_output(std::string_view op, const SourceLocation& where, Tensor y, const Var& x,
                       OutputBackward backward) {
    // The capture (a tensor handle and a function pointer) fits BackwardFn's inline buffer, so
    // recording allocates nothing beyond the tape's pooled record.
    auto gradient = [y, backward](const Grads& dy, const Needed&) -> Grads {
        return {backward(y, dy[0])};
    };
    return record(op, where, std::move(y), {x}, std::move(gradient));
}

}  // namespace nalgrad
