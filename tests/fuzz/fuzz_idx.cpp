// Fuzzes the IDX reader: the bytes become a file (plain or gzip: zlib detects which) that
// read_idx must either accept or refuse with nalgrad::Error. An accepted array holds exactly the
// bytes its extents describe.
#include <cstdint>

#include <nalgrad/nalgrad.hpp>

#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static nalgrad::fuzz::ScratchFile scratch("input.idx");
    const std::string& path = scratch.write(data, size);
    for (int rank : {1, 2, 3, 4}) {
        try {
            nalgrad::data::IdxArray array = nalgrad::data::read_idx(path, rank);
            int64_t count = 1;
            for (int64_t d : array.dims) count *= d;
            if (static_cast<int>(array.dims.size()) != rank ||
                count != static_cast<int64_t>(array.values.size()))
                nalgrad::fuzz::finding(
                    fmt::format("read_idx(rank {}) gave extents [{}] and {} values", rank,
                                fmt::join(array.dims, ", "), array.values.size()));
        } catch (const nalgrad::Error&) {
        }
    }
    return 0;
}
