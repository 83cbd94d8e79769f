#include "data/idx.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.hpp"

namespace nalgrad::data {

namespace {

constexpr uint8_t unsigned_byte_type = 0x08;
// Extents and byte counts above this are not an IDX file of this library's making (nor MNIST's).
constexpr int64_t max_bytes = int64_t{1} << 40;

// A gzFile for writing that closes itself.
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

  private:
    gzFile file_;
    std::string path_;
};

// The bytes of a plain or gzip file (one gzip member or several, as `cat a.gz b.gz` makes).
// zlib's gzread skips bytes after the last member that are not another member; this reader
// inflates itself so that such trailing garbage is refused.
class Source {
  public:
    explicit Source(const std::string& path) : path_(path), buffer_(1 << 17) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) fail("read_idx", "cannot open '{}': {}", path, std::strerror(errno));
        fill();
        gzip_ = available_ >= 2 && buffer_[0] == 0x1f && buffer_[1] == 0x8b;
        if (gzip_ && inflateInit2(&z_, 15 + 16) != Z_OK)  // 16: gzip framing
            fail("read_idx", "'{}': cannot start zlib", path);
    }
    ~Source() {
        if (gzip_) inflateEnd(&z_);
        ::close(fd_);
    }
    Source(const Source&) = delete;
    Source& operator=(const Source&) = delete;

    // Reads up to `count` bytes into `out`; returns how many it got (fewer at the end).
    int64_t read(uint8_t* out, int64_t count) {
        int64_t done = 0;
        while (done < count) {
            if (available_ == 0 && !fill()) {
                cut_off_ = gzip_ && !between_members_;
                break;
            }
            done += gzip_ ? inflate_some(out + done, count - done)
                          : copy_some(out + done, count - done);
        }
        return done;
    }
    // Whether the gzip data ended inside a member.
    bool cut_off() const { return cut_off_; }

  private:
    bool fill() {
        if (available_ > 0) return true;
        for (;;) {
            const ssize_t got = ::read(fd_, buffer_.data(), buffer_.size());
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail("read_idx", "'{}': read error: {}", path_, std::strerror(errno));
            next_ = buffer_.data();
            available_ = static_cast<std::size_t>(got);
            consumed_before_ += static_cast<uint64_t>(got);
            return got > 0;
        }
    }
    int64_t copy_some(uint8_t* out, int64_t count) {
        const auto n = std::min<std::size_t>(available_, static_cast<std::size_t>(count));
        std::memcpy(out, next_, n);
        next_ += n;
        available_ -= n;
        return static_cast<int64_t>(n);
    }
    // Inflates from the buffer (never empty here); 0 bytes when a member just ended.
    int64_t inflate_some(uint8_t* out, int64_t count) {
        if (between_members_) {
            // What follows a member must be another (gzip's magic 1f 8b), else it is garbage.
            if (next_[0] != 0x1f)
                fail("read_idx",
                     "'{}': {} bytes after the end of the gzip data are not gzip data (trailing "
                     "garbage)",
                     path_, bytes_left());
            inflateReset(&z_);
            between_members_ = false;
        }
        z_.next_in = next_;
        z_.avail_in = static_cast<uInt>(std::min<std::size_t>(available_, UINT32_MAX));
        z_.next_out = out;
        z_.avail_out = static_cast<uInt>(std::min<int64_t>(count, UINT32_MAX));
        const int code = inflate(&z_, Z_NO_FLUSH);
        if (code != Z_OK && code != Z_STREAM_END)
            fail("read_idx", "'{}': read error: {}", path_, z_.msg ? z_.msg : "damaged gzip data");
        const auto used = static_cast<std::size_t>(z_.next_in - next_);
        next_ += used;
        available_ -= used;
        between_members_ = code == Z_STREAM_END;
        return static_cast<int64_t>(z_.next_out - out);
    }
    // The bytes from the current position to the end of the file.
    uint64_t bytes_left() {
        struct stat info {};
        ::fstat(fd_, &info);
        const uint64_t position = consumed_before_ - available_;
        return static_cast<uint64_t>(info.st_size) - position;
    }

    std::string path_;
    int fd_ = -1;
    std::vector<uint8_t> buffer_;
    uint8_t* next_ = nullptr;
    std::size_t available_ = 0;
    uint64_t consumed_before_ = 0;  // bytes read from the file into the buffer so far
    bool gzip_ = false;
    bool between_members_ = false;
    bool cut_off_ = false;
    z_stream z_{};
};

uint32_t big_endian_u32(const uint8_t* bytes) {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           uint32_t{bytes[3]};
}

std::string describe_cut(const Source& file) {
    return file.cut_off() ? " (the gzip stream is cut off)" : "";
}

}  // namespace

IdxArray read_idx(const std::string& path, int rank) {
    if (rank < 1 || rank > 255) fail("read_idx", "'{}': rank must be 1 to 255, got {}", path, rank);
    Source file(path);

    uint8_t magic[4];
    int64_t got = file.read(magic, 4);
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
    got = file.read(header.data(), 4 * rank);
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
        int64_t part = file.read(array.values.data() + done, step);
        done += part;
        if (part < step)
            fail("read_idx", "'{}' is truncated: {} of the {} data bytes that extents [{}] need{}",
                 path, done, count, fmt::join(array.dims, ", "), describe_cut(file));
    }
    uint8_t extra = 0;
    if (file.read(&extra, 1) != 0)
        fail("read_idx", "'{}' is longer than extents [{}] say: data continues past {} bytes", path,
             fmt::join(array.dims, ", "), count);
    if (file.cut_off()) fail("read_idx", "'{}': the gzip stream is cut off after the data", path);
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
