// IDX files, the format of MNIST and Fashion-MNIST: a big-endian magic number 0x000008NN (0x08:
// unsigned bytes, NN: the number of dimensions), NN big-endian 32-bit extents, then the bytes in
// row-major order. Files may be plain or gzip-compressed (one member or several, concatenated).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nalgrad::data {

struct IdxArray {
    std::vector<int64_t> dims;    // e.g. {60000, 28, 28}
    std::vector<uint8_t> values;  // row-major, product of dims bytes
};

// Reads an IDX file of unsigned bytes with `rank` dimensions (magic 0x00000800 + rank). Throws
// nalgrad::Error naming the file and the problem: missing, not IDX, another element type or rank,
// truncated, longer than its dimensions say, a damaged gzip stream, or bytes after the gzip data
// that are not gzip data (trailing garbage, which zlib's gzread would skip silently).
IdxArray read_idx(const std::string& path, int rank);

enum class Compression { none, gzip };

// Writes `array` as an IDX file of unsigned bytes (for tests and for making subsets).
void write_idx(const std::string& path, const IdxArray& array,
               Compression compression = Compression::gzip);

}  // namespace nalgrad::data
