#include "core/geometry.hpp"

#include "core/checked.hpp"
#include "core/error.hpp"

namespace nalgrad {
namespace {

// One axis: returns {pad_before, pad_after, out}.
struct Axis {
    int64_t before, after, out;
};

// Every quantity is computed in checked arithmetic: padding, strides and dilations come from the
// user, and a wrapped extent would give a wrong output size (or a negative one).
Axis resolve_axis(std::string_view op, const char* axis_name, const Shape& x, int64_t in,
                  int64_t kernel, int64_t stride, int64_t dilation, Padding padding,
                  int64_t explicit_before, int64_t explicit_after) {
    const Checked effective = (Checked(kernel) - 1) * dilation + 1;
    if (!effective.ok())
        fail(op,
             "the {} kernel extent (kernel {}, dilation {}) overflows int64, larger than any "
             "input; input is {}",
             axis_name, kernel, dilation, x);
    switch (padding.mode()) {
        case Padding::Mode::same: {
            // out = ceil(in / stride) never exceeds in; the total padding then fits as well.
            const Checked out = ceil_div(in, stride);
            const Checked needed = (out - 1) * stride + effective - in;
            if (!out.ok() || !needed.ok())
                fail(op,
                     "SAME padding for the {} kernel extent {} at stride {} overflows int64; input "
                     "is {}",
                     axis_name, effective.value(), stride, x);
            const int64_t total = std::max<int64_t>(needed.value(), 0);
            return {total / 2, total - total / 2, out.value()};
        }
        case Padding::Mode::valid:
            explicit_before = explicit_after = 0;
            [[fallthrough]];
        case Padding::Mode::explicit_: {
            const Checked padded = Checked(in) + explicit_before + explicit_after;
            if (!padded.ok())
                fail(op, "the padded {} extent {} + padding {} + {} overflows int64; input is {}",
                     axis_name, in, explicit_before, explicit_after, x);
            if (padded.value() < effective.value())
                fail(op,
                     "the {} kernel extent {} (kernel {}, dilation {}) is larger than the "
                     "padded input {} ({} + padding {} + {}); input is {}",
                     axis_name, effective.value(), kernel, dilation, padded.value(), in,
                     explicit_before, explicit_after, x);
            return {explicit_before, explicit_after,
                    (padded.value() - effective.value()) / stride + 1};
        }
    }
    return {0, 0, 0};
}

}  // namespace

Window2d make_window(std::string_view op, const Shape& x, Size2 kernel, Size2 stride,
                     Size2 dilation, Padding padding) {
    if (x.rank() != 4) fail(op, "input must be 4-D NHWC [mb, h, w, c], got shape {}", x);
    for (int i = 0; i < 4; ++i)
        if (x[i] < 1) fail(op, "input has an empty dimension: shape {}", x);
    if (kernel.h < 1 || kernel.w < 1)
        fail(op, "kernel size must be at least 1, got [{}, {}] for input {}", kernel.h, kernel.w,
             x);
    if (stride.h < 1 || stride.w < 1)
        fail(op, "stride must be at least 1, got [{}, {}] for input {}", stride.h, stride.w, x);
    if (dilation.h < 1 || dilation.w < 1)
        fail(op, "dilation must be at least 1, got [{}, {}] for input {}", dilation.h, dilation.w,
             x);
    if (padding.mode() == Padding::Mode::explicit_ &&
        (padding.top() < 0 || padding.bottom() < 0 || padding.left() < 0 || padding.right() < 0))
        fail(op,
             "padding must be non-negative, got {{top {}, bottom {}, left {}, right {}}} for "
             "input {}",
             padding.top(), padding.bottom(), padding.left(), padding.right(), x);

    Window2d g;
    g.batch = x[0];
    g.in_h = x[1];
    g.in_w = x[2];
    g.channels = x[3];
    g.kernel_h = kernel.h;
    g.kernel_w = kernel.w;
    g.stride_h = stride.h;
    g.stride_w = stride.w;
    g.dilation_h = dilation.h;
    g.dilation_w = dilation.w;
    Axis rows = resolve_axis(op, "row", x, g.in_h, kernel.h, stride.h, dilation.h, padding,
                             padding.top(), padding.bottom());
    Axis cols = resolve_axis(op, "column", x, g.in_w, kernel.w, stride.w, dilation.w, padding,
                             padding.left(), padding.right());
    g.pad_top = rows.before;
    g.pad_bottom = rows.after;
    g.out_h = rows.out;
    g.pad_left = cols.before;
    g.pad_right = cols.after;
    g.out_w = cols.out;
    return g;
}

}  // namespace nalgrad
