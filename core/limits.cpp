#include "core/limits.hpp"

#include <unistd.h>

#include <cstdint>

#include "core/checked.hpp"
#include "core/error.hpp"

namespace nalgrad {

std::size_t physical_memory() {
    static const std::size_t bytes = [] {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : SIZE_MAX;
    }();
    return bytes;
}

std::string gib(std::size_t bytes) {
    return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
}

void check_allocation(std::string_view op, std::string_view what, const Shape& shape, DType dtype) {
    for (int64_t d : shape)
        if (d < 0) fail(op, "{} has a negative extent in shape {}", what, shape);
    const Checked bytes =
        checked_product({shape.begin(), shape.end()}) * static_cast<int64_t>(dtype_size(dtype));
    if (!bytes.ok())
        fail(op, "{} {} {} has too many elements: its byte count overflows int64", what,
             dtype_name(dtype), shape);
    const auto n = static_cast<std::size_t>(bytes.value());
    if (n > physical_memory())
        fail(op, "cannot allocate {} {} {}: {} bytes ({}), more than this machine's memory ({})",
             what, dtype_name(dtype), shape, n, gib(n), gib(physical_memory()));
}

}  // namespace nalgrad
