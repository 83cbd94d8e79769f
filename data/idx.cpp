#include "data/idx.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/ranges.h>
#include <zlib.h>

#include "core/error.hpp"

namespace nalgrad::data {

namespace {

constexpr uint8_t unsigned_byte_type = 0x08;
// Extents and byte counts above this are not an IDX file of this library's making (nor MNIST's).
constexpr int64_t max_bytes = int64_t{1} << 40;

// A gzFile that closes itself; gzopen reads plain files as they are.
class GzFile {
  public:
    GzFile(const std::string& path, const char* mode)
        : file_(gzopen(path.c_str(), mode)), path_(path) {}
    ~GzFile() {
        if (file_) gzclose(file_);
    }
    GzFile(const GzFile&) = delete;
    GzFile& operator=(const GzFile&) = delete;

    explicit operator bool() const { return file_ != nullptr; }
    gzFile get() const { return file_; }
    // Closes now, so that a write error reported by the close is seen; returns zlib's code.
    int close() {
        int code = gzclose(file_);
        file_ = nullptr;
        return code;
    }
    std::string error_message() const {
        int code = Z_OK;
        const char* message = gzerror(file_, &code);
        if (code == Z_ERRNO) return std::strerror(errno);
        std::string text = message ? message : "unknown zlib error";
        // zlib starts its messages with the path, which ours name already.
        if (text.starts_with(path_ + ": ")) text.erase(0, path_.size() + 2);
        return text;
    }
    bool stream_cut_off() const {
        int code = Z_OK;
        gzerror(file_, &code);
        return code == Z_BUF_ERROR;
    }

  private:
    gzFile file_;
    std::string path_;
};

// Reads up to `count` bytes into `out`; returns how many it got (fewer at the end of the file).
int64_t read_some(GzFile& file, uint8_t* out, int64_t count, const std::string& path) {
    int64_t done = 0;
    while (done < count) {
        auto chunk = static_cast<unsigned>(std::min<int64_t>(count - done, 1 << 24));
        int got = gzread(file.get(), out + done, chunk);
        if (got < 0) fail("read_idx", "'{}': read error: {}", path, file.error_message());
        if (got == 0) break;
        done += got;
    }
    return done;
}

uint32_t big_endian_u32(const uint8_t* bytes) {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           uint32_t{bytes[3]};
}

std::string describe_cut(const GzFile& file) {
    return file.stream_cut_off() ? " (the gzip stream is cut off)" : "";
}

}  // namespace

IdxArray read_idx(const std::string& path, int rank) {
    if (rank < 1 || rank > 255) fail("read_idx", "'{}': rank must be 1 to 255, got {}", path, rank);
    GzFile file(path, "rb");
    if (!file) fail("read_idx", "cannot open '{}': {}", path, std::strerror(errno));
    gzbuffer(file.get(), 1 << 17);

    uint8_t magic[4];
    int64_t got = read_some(file, magic, 4, path);
    if (got < 4)
        fail("read_idx", "'{}' is truncated: {} bytes, too short for the 4-byte magic number{}",
             path, got, describe_cut(file));
    uint32_t expected_magic = (uint32_t{unsigned_byte_type} << 8) | static_cast<uint32_t>(rank);
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != unsigned_byte_type || magic[3] != rank)
        fail("read_idx",
             "'{}' has magic number 0x{:08x}, expected 0x{:08x} (IDX, unsigned bytes, {} "
             "dimension{})",
             path, big_endian_u32(magic), expected_magic, rank, rank == 1 ? "" : "s");

    std::vector<uint8_t> header(static_cast<std::size_t>(4 * rank));
    got = read_some(file, header.data(), 4 * rank, path);
    if (got < 4 * rank)
        fail("read_idx", "'{}' is truncated inside the header: {} of {} extent bytes{}", path, got,
             4 * rank, describe_cut(file));
    IdxArray array;
    int64_t count = 1;
    for (int i = 0; i < rank; ++i) {
        int64_t extent = big_endian_u32(header.data() + 4 * i);
        array.dims.push_back(extent);
        if (extent != 0 && count > max_bytes / extent)
            fail("read_idx", "'{}': extents {} describe more than {} bytes", path,
                 fmt::join(array.dims, " x "), max_bytes);
        count *= extent;
    }

    // Grows in steps, so a damaged header that promises terabytes fails at the end of the data
    // instead of allocating them up front.
    int64_t done = 0;
    while (done < count) {
        int64_t step = std::min<int64_t>(count - done, int64_t{1} << 26);
        array.values.resize(static_cast<std::size_t>(done + step));
        int64_t part = read_some(file, array.values.data() + done, step, path);
        done += part;
        if (part < step)
            fail("read_idx", "'{}' is truncated: {} of the {} data bytes that extents [{}] need{}",
                 path, done, count, fmt::join(array.dims, ", "), describe_cut(file));
    }
    uint8_t extra = 0;
    if (read_some(file, &extra, 1, path) != 0)
        fail("read_idx", "'{}' is longer than extents [{}] say: data continues past {} bytes", path,
             fmt::join(array.dims, ", "), count);
    if (file.stream_cut_off())
        fail("read_idx", "'{}': the gzip stream is cut off after the data", path);
    return array;
}

void write_idx(const std::string& path, const IdxArray& array, Compression compression) {
    int rank = static_cast<int>(array.dims.size());
    if (rank < 1 || rank > 255)
        fail("write_idx", "'{}': rank must be 1 to 255, got {}", path, rank);
    std::vector<uint8_t> header = {0, 0, unsigned_byte_type, static_cast<uint8_t>(rank)};
    int64_t count = 1;
    for (int64_t extent : array.dims) {
        if (extent < 0 || extent > std::numeric_limits<uint32_t>::max())
            fail("write_idx", "'{}': extent {} does not fit 32 bits", path, extent);
        for (int shift = 24; shift >= 0; shift -= 8)
            header.push_back(static_cast<uint8_t>(extent >> shift));
        count *= extent;
    }
    if (count != static_cast<int64_t>(array.values.size()))
        fail("write_idx", "'{}': extents [{}] need {} values, got {}", path,
             fmt::join(array.dims, ", "), count, array.values.size());

    // "T": zlib writes the bytes as they are, without gzip framing.
    GzFile file(path, compression == Compression::gzip ? "wb6" : "wbT");
    if (!file) fail("write_idx", "cannot create '{}': {}", path, std::strerror(errno));
    auto write = [&](const uint8_t* bytes, std::size_t n) {
        while (n > 0) {
            auto chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1 << 24));
            if (gzwrite(file.get(), bytes, chunk) != static_cast<int>(chunk))
                fail("write_idx", "'{}': write error: {}", path, file.error_message());
            bytes += chunk;
            n -= chunk;
        }
    };
    write(header.data(), header.size());
    write(array.values.data(), array.values.size());
    if (file.close() != Z_OK) fail("write_idx", "'{}': error while closing the file", path);
}

}  // namespace nalgrad::data
