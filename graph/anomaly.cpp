#include "graph/anomaly.hpp"

#include "core/kernels/finite.hpp"
#include "graph/anomaly_checks.hpp"
#include "graph/tape.hpp"

namespace nalgrad {
namespace {

thread_local bool detecting = false;

// "2 NaN and 1 Inf, the first at [1, 0]".
std::string describe_values(const Tensor& t, const kernels::NonFinite& bad) {
    std::string counts;
    if (bad.nan > 0) counts = fmt::format("{} NaN", bad.nan);
    if (bad.inf > 0) counts += fmt::format("{}{} Inf", counts.empty() ? "" : " and ", bad.inf);
    if (t.rank() == 0) return counts;
    std::vector<int64_t> index(static_cast<std::size_t>(t.rank()));
    int64_t rest = bad.first;
    for (int axis = t.rank() - 1; axis >= 0; --axis) {
        index[static_cast<std::size_t>(axis)] = rest % t.size(axis);
        rest /= t.size(axis);
    }
    return fmt::format("{}, the first at [{}]", counts, fmt::join(index, ", "));
}

// "input 1 (f32 [4, 3], a leaf)" or "input 0 (f32 [2, 3], the output of 'relu', tape record #3)".
std::string describe_input(const TapeRecord& record, std::size_t input) {
    VarNode& node = *record.inputs[input];
    const std::string origin =
        node.producer ? fmt::format("the output of '{}', {}", node.producer->op,
                                    describe_record(node.producer->sequence, node.producer->where))
                      : std::string("a leaf");
    return fmt::format("input {} of {} ({} {}, {})", input, record.inputs.size(),
                       dtype_name(node.dtype()), node.shape(), origin);
}

}  // namespace

DetectAnomaly::DetectAnomaly(bool enabled) : previous_(detecting) {
    detecting = enabled;
}
DetectAnomaly::~DetectAnomaly() {
    detecting = previous_;
}
bool anomaly_detection_enabled() {
    return detecting;
}

std::string describe_record(uint64_t sequence, const SourceLocation& where) {
    if (where.line() == 0) return fmt::format("tape record #{}", sequence);
    return fmt::format("tape record #{}, called at {}:{}:{} in '{}'", sequence, where.file_name(),
                       where.line(), where.column(), where.function_name());
}

namespace anomaly {

void check_forward(const TapeRecord& record, const Tensor& output) {
    if (kernels::all_finite(output)) return;
    // A non-finite input can only be a leaf or a value made before detection was on: every
    // recorded output since has passed this check.
    std::string inputs = "its inputs are finite";
    for (std::size_t i = 0; i < record.inputs.size(); ++i) {
        if (record.inputs[i]->released) continue;
        const Tensor& value = record.inputs[i]->value;
        if (kernels::all_finite(value)) continue;
        inputs = fmt::format("{} already held {}", describe_input(record, i),
                             describe_values(value, kernels::count_non_finite(value)));
        break;
    }
    fail(record.op, "anomaly in forward: the output {} {} holds {} ({}); {}",
         dtype_name(output.dtype()), output.shape(),
         describe_values(output, kernels::count_non_finite(output)),
         describe_record(record.sequence, record.where), inputs);
}

void check_seed(const Tensor& seed) {
    if (kernels::all_finite(seed)) return;
    fail("backward", "anomaly: the seed gradient {} {} holds {}", dtype_name(seed.dtype()),
         seed.shape(), describe_values(seed, kernels::count_non_finite(seed)));
}

void check_gradient(const TapeRecord& record, std::size_t input, const Tensor& gradient,
                    const Grads& incoming) {
    if (kernels::all_finite(gradient)) return;
    std::string from = "the incoming gradient is finite";
    for (const Tensor& dy : incoming)
        if (!kernels::all_finite(dy))
            from = fmt::format("the incoming gradient already held {}",
                               describe_values(dy, kernels::count_non_finite(dy)));
    fail(record.op, "anomaly in backward: the gradient for {} holds {} ({}); {}",
         describe_input(record, input),
         describe_values(gradient, kernels::count_non_finite(gradient)),
         describe_record(record.sequence, record.where), from);
}

void check_accumulated(const TapeRecord& record, std::size_t input, const Tensor& sum) {
    if (kernels::all_finite(sum)) return;
    fail(record.op,
         "anomaly in backward: the gradient for {} is finite, but adding it to the gradient that "
         "input had already received overflowed: the sum holds {} ({})",
         describe_input(record, input), describe_values(sum, kernels::count_non_finite(sum)),
         describe_record(record.sequence, record.where));
}

}  // namespace anomaly
}  // namespace nalgrad
