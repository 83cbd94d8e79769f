#include "nn/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace nalgrad {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data: this machine needs byte swapping");

namespace {

using Json = nlohmann::json;

// The safetensors reference implementation refuses larger headers too.
constexpr uint64_t max_header_bytes = 100'000'000;
constexpr const char* metadata_key = "__metadata__";

std::string_view file_dtype(DType d) {
    return d == f32 ? "F32" : d == f64 ? "F64" : "I64";
}

std::optional<DType> parse_dtype(const std::string& name) {
    if (name == "F32") return f32;
    if (name == "F64") return f64;
    if (name == "I64") return i64;
    return std::nullopt;
}

std::string system_error() {
    return std::strerror(errno);
}

// A file descriptor that closes itself.
class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release_and_close() {  // returns close()'s result
        int result = ::close(fd_);
        fd_ = -1;
        return result;
    }

  private:
    int fd_;
};

// ---- writing ----

void write_all(int fd, const void* data, std::size_t n, const std::string& path,
               const std::string& temporary) {
    const char* bytes = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t done = ::write(fd, bytes, std::min<std::size_t>(n, std::size_t{1} << 30));
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0)
            fail("save", "cannot write '{}': writing '{}' failed: {}", path, temporary,
                 done < 0 ? system_error() : std::string("no progress"));
        bytes += done;
        n -= static_cast<std::size_t>(done);
    }
}

void check_names(const NamedTensors& tensors, std::string_view op) {
    std::set<std::string> seen;
    for (const auto& t : tensors) {
        if (t.name.empty()) fail(op, "a tensor has an empty name");
        if (t.name == metadata_key) fail(op, "'{}' is reserved, not a tensor name", metadata_key);
        if (!t.tensor.defined()) fail(op, "tensor '{}' is undefined", t.name);
        if (!seen.insert(t.name).second) fail(op, "two tensors are named '{}'", t.name);
    }
}

// The JSON header, padded with spaces so that the data starts 8-byte aligned (as the Python
// safetensors library does).
std::string make_header(const NamedTensors& tensors, const Metadata& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header[metadata_key] = metadata;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        uint64_t end = offset + t.tensor.nbytes();
        header[t.name] = {{"dtype", file_dtype(t.tensor.dtype())},
                          {"shape", t.tensor.shape().to_vector()},
                          {"data_offsets", {offset, end}}};
        offset = end;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {  // names that are not UTF-8
        fail("save", "cannot encode the header: {}", e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

void fsync_folder(const std::filesystem::path& folder) {
    // Makes the rename itself durable; some file systems refuse, which costs only durability.
    Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
}

// ---- reading ----

struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;  // within the data
};

struct Header {
    std::vector<Entry> entries;  // in data order
    Metadata metadata;
    uint64_t data_start = 0;  // in the file
    uint64_t data_bytes = 0;
};

void read_exactly(const Fd& fd, void* out, uint64_t n, uint64_t offset, const std::string& path) {
    char* bytes = static_cast<char*>(out);
    while (n > 0) {
        ssize_t got = ::pread(fd.get(), bytes, std::min<uint64_t>(n, uint64_t{1} << 30),
                              static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) fail("load", "'{}': read error: {}", path, system_error());
        if (got == 0) fail("load", "'{}' ended while reading (the file changed?)", path);
        bytes += got;
        n -= static_cast<uint64_t>(got);
        offset += static_cast<uint64_t>(got);
    }
}

Entry parse_entry(const std::string& name, const Json& value, uint64_t data_bytes,
                  const std::string& path) {
    auto bad = [&](std::string_view what) {
        fail("load", "'{}': tensor '{}' {}", path, name, what);
    };
    if (!value.is_object()) bad("is not a JSON object");
    auto dtype = value.find("dtype");
    auto shape = value.find("shape");
    auto offsets = value.find("data_offsets");
    if (dtype == value.end() || shape == value.end() || offsets == value.end())
        bad("lacks one of dtype, shape and data_offsets");
    if (!dtype->is_string()) bad("has a dtype that is not a string");
    Entry entry{name, f32, {}, 0, 0};
    std::optional<DType> parsed = parse_dtype(dtype->get<std::string>());
    if (!parsed)
        bad(fmt::format("has dtype \"{}\"; only F32, F64 and I64 are supported",
                        dtype->get<std::string>()));
    entry.dtype = *parsed;
    if (!shape->is_array() || shape->size() > Shape::max_rank)
        bad(fmt::format("needs a shape of at most {} extents", Shape::max_rank));
    uint64_t count = 1;
    for (const Json& extent : *shape) {
        if (!extent.is_number_unsigned()) bad("has a shape with an extent that is not a count");
        auto d = extent.get<uint64_t>();
        if (d != 0 && count > (uint64_t{1} << 60) / d) bad("has an impossibly large shape");
        count *= d;
        entry.shape.push_back(static_cast<int64_t>(d));
    }
    if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
        bad("needs data_offsets [begin, end] of two counts");
    entry.begin = (*offsets)[0].get<uint64_t>();
    entry.end = (*offsets)[1].get<uint64_t>();
    if (entry.end < entry.begin)
        bad(fmt::format("has data_offsets [{}, {}] that end before they begin", entry.begin,
                        entry.end));
    uint64_t needed = count * dtype_size(entry.dtype);
    if (entry.end - entry.begin != needed)
        bad(fmt::format("has data_offsets [{}, {}] of {} bytes, but {} {} needs {}", entry.begin,
                        entry.end, entry.end - entry.begin, file_dtype(entry.dtype), entry.shape,
                        needed));
    if (entry.end > data_bytes)
        bad(fmt::format("has data_offsets [{}, {}] beyond the {} data bytes", entry.begin,
                        entry.end, data_bytes));
    return entry;
}

// A parser callback that notes in `duplicate` the first key that appears twice in one JSON object,
// at any depth: nlohmann's parser would keep the last and drop the others.
nlohmann::json::parser_callback_t duplicate_key_finder(std::optional<std::string>& duplicate) {
    return [&duplicate, open = std::vector<std::set<std::string>>{}](int, Json::parse_event_t event,
                                                                     Json& parsed) mutable {
        if (event == Json::parse_event_t::object_start) {
            open.emplace_back();
        } else if (event == Json::parse_event_t::object_end && !open.empty()) {
            open.pop_back();
        } else if (event == Json::parse_event_t::key && !open.empty() && !duplicate &&
                   !open.back().insert(parsed.get<std::string>()).second) {
            duplicate = parsed.get<std::string>();
        }
        return true;
    };
}

// Reads and checks the header: lengths against the file size, JSON, every entry, and that the
// tensors tile the data exactly (no overlap, no gap, nothing after them: the format's rule).
Header read_header(const Fd& fd, const std::string& path) {
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) fail("load", "cannot stat '{}': {}", path, system_error());
    if (!S_ISREG(info.st_mode)) fail("load", "'{}' is not a regular file", path);
    auto file_bytes = static_cast<uint64_t>(info.st_size);
    if (file_bytes < 8)
        fail("load", "'{}' is truncated: {} bytes, too short for the 8-byte header length", path,
             file_bytes);
    unsigned char length_bytes[8];
    read_exactly(fd, length_bytes, 8, 0, path);
    uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | length_bytes[i];
    if (header_bytes > file_bytes - 8)
        fail("load", "'{}': header length {} exceeds the {} bytes that follow it (truncated?)",
             path, header_bytes, file_bytes - 8);
    if (header_bytes > max_header_bytes)
        fail("load", "'{}': header length {} is over the limit of {}", path, header_bytes,
             max_header_bytes);
    std::string text(header_bytes, '\0');
    read_exactly(fd, text.data(), header_bytes, 8, path);

    std::optional<std::string> duplicate;
    Json json = Json::parse(text, duplicate_key_finder(duplicate), /*allow_exceptions=*/false);
    if (json.is_discarded()) fail("load", "'{}': the header is not valid JSON", path);
    if (!json.is_object()) fail("load", "'{}': the header is not a JSON object", path);

    Header header;
    header.data_start = 8 + header_bytes;
    header.data_bytes = file_bytes - header.data_start;
    for (const auto& [key, value] : json.items()) {
        if (key == metadata_key) {
            if (!value.is_object()) fail("load", "'{}': {} is not an object", path, metadata_key);
            for (const auto& [name, text_value] : value.items()) {
                if (!text_value.is_string())
                    fail("load", "'{}': metadata '{}' is not a string", path, name);
                header.metadata[name] = text_value.get<std::string>();
            }
            continue;
        }
        header.entries.push_back(parse_entry(key, value, header.data_bytes, path));
    }
    std::sort(header.entries.begin(), header.entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : header.entries) {
        if (e.begin < covered)
            fail("load", "'{}': tensors '{}' and '{}' overlap in the data", path, previous->name,
                 e.name);
        if (e.begin > covered)
            fail("load", "'{}': data bytes [{}, {}) before tensor '{}' belong to no tensor", path,
                 covered, e.begin, e.name);
        covered = e.end;
        previous = &e;
    }
    if (covered != header.data_bytes)
        fail("load", "'{}': {} data bytes after the last tensor belong to no tensor", path,
             header.data_bytes - covered);
    // Last: a duplicate whose twin's bytes now belong to no tensor is reported as that above.
    if (duplicate)
        fail("load",
             "'{}': the header names '{}' twice in one object (the format forbids duplicate "
             "names; a JSON reader would keep one of them silently)",
             path, *duplicate);
    return header;
}

Tensor read_tensor(const Fd& fd, const Header& header, const Entry& entry,
                   const std::string& path) {
    Tensor t(entry.shape, entry.dtype);
    read_exactly(fd, t.raw(), entry.end - entry.begin, header.data_start + entry.begin, path);
    return t;
}

NamedTensors as_named(const Parameters& parameters, std::string_view op) {
    for (const auto& p : parameters)
        if (!p.var.defined()) fail(op, "parameter '{}' is undefined", p.name);
    return named_values(parameters);
}

}  // namespace

void save(const NamedTensors& tensors, const std::string& path, const Metadata& metadata) {
    check_names(tensors, "save");
    std::string header = make_header(tensors, metadata);

    std::filesystem::path target(path);
    std::filesystem::path folder = target.parent_path();
    if (folder.empty()) folder = ".";
    static std::atomic<uint64_t> counter{0};
    std::string temporary = fmt::format("{}.tmp-{}-{}", path, ::getpid(), counter++);

    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (fd.get() < 0)
        fail("save", "cannot write '{}': cannot create a file in folder '{}': {}", path,
             folder.string(), system_error());
    try {
        unsigned char length[8];
        for (int i = 0; i < 8; ++i)
            length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
        write_all(fd.get(), length, 8, path, temporary);
        write_all(fd.get(), header.data(), header.size(), path, temporary);
        for (const auto& t : tensors)
            write_all(fd.get(), t.tensor.raw(), t.tensor.nbytes(), path, temporary);
        if (::fsync(fd.get()) != 0)
            fail("save", "cannot write '{}': flushing '{}' failed: {}", path, temporary,
                 system_error());
        if (fd.release_and_close() != 0)
            fail("save", "cannot write '{}': closing '{}' failed: {}", path, temporary,
                 system_error());
        if (::rename(temporary.c_str(), path.c_str()) != 0)
            fail("save", "cannot write '{}': renaming '{}' over it failed: {}", path, temporary,
                 system_error());
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    fsync_folder(folder);
}

void save(const Parameters& parameters, const std::string& path, const Metadata& metadata) {
    save(as_named(parameters, "save"), path, metadata);
}

Checkpoint read_checkpoint(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail("load", "cannot open '{}': {}", path, system_error());
    Header header = read_header(fd, path);
    Checkpoint checkpoint;
    checkpoint.metadata = header.metadata;
    for (const Entry& e : header.entries)
        checkpoint.tensors.push_back({e.name, read_tensor(fd, header, e, path)});
    return checkpoint;
}

const Tensor& Checkpoint::at(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return t.tensor;
    fail("checkpoint", "no tensor named '{}'", name);
}

void load(const NamedTensors& tensors, const std::string& path, ExtraTensors extra) {
    check_names(tensors, "load");
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail("load", "cannot open '{}': {}", path, system_error());
    Header header = read_header(fd, path);

    std::map<std::string, const Entry*> by_name;
    for (const Entry& e : header.entries) by_name[e.name] = &e;
    std::vector<const Entry*> sources;
    std::vector<std::string> missing;
    for (const auto& t : tensors) {
        auto found = by_name.find(t.name);
        if (found == by_name.end()) {
            missing.push_back(fmt::format("'{}' ({} {})", t.name, file_dtype(t.tensor.dtype()),
                                          t.tensor.shape()));
            continue;
        }
        const Entry& e = *found->second;
        if (e.dtype != t.tensor.dtype() || !(e.shape == t.tensor.shape()))
            fail("load", "tensor '{}' is {} {} in '{}', but the destination is {} {}", t.name,
                 file_dtype(e.dtype), e.shape, path, file_dtype(t.tensor.dtype()),
                 t.tensor.shape());
        sources.push_back(&e);
        by_name.erase(found);
    }
    std::vector<std::string> extras;
    if (extra == ExtraTensors::reject)
        for (const auto& [name, entry] : by_name) extras.push_back(fmt::format("'{}'", name));
    if (!missing.empty() || !extras.empty())
        fail("load", "'{}' does not match its destination: {} missing{}{}; {} extra{}{}", path,
             missing.size(), missing.empty() ? "" : ": ", fmt::join(missing, ", "), extras.size(),
             extras.empty() ? "" : " (ExtraTensors::ignore skips them): ", fmt::join(extras, ", "));

    // Everything is read before anything is copied: a failure leaves the destinations untouched.
    std::vector<Tensor> staged;
    staged.reserve(sources.size());
    for (const Entry* e : sources) staged.push_back(read_tensor(fd, header, *e, path));
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        Tensor destination = tensors[i].tensor;
        destination.copy_(staged[i]);
    }
}

void load(const Parameters& parameters, const std::string& path, ExtraTensors extra) {
    load(as_named(parameters, "load"), path, extra);
}

}  // namespace nalgrad
