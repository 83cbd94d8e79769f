// Checkpoints in the safetensors format, readable by PyTorch's and Hugging Face's tools:
// an 8-byte little-endian header length N, N bytes of JSON
//   {"conv1.weight": {"dtype": "F32", "shape": [5, 5, 1, 32], "data_offsets": [0, 3200]}, ...,
//    "__metadata__": {"epoch": "3"}}
// then the tensors' raw little-endian bytes, offsets counted from the end of the header.
//
// save() is atomic: it writes a temporary file in the same folder, flushes it to disk and renames
// it over the old one, so a failure leaves the old checkpoint intact. load() validates the whole
// file and matches every tensor against its destination before it copies anything, so a bad file
// never leaves a model partly loaded.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "nn/parameters.hpp"

namespace nalgrad {

using Metadata = std::map<std::string, std::string>;

void save(const Parameters& parameters, const std::string& path, const Metadata& metadata = {});
void save(const NamedTensors& tensors, const std::string& path, const Metadata& metadata = {});

// What to do with tensors in the file that have no destination.
enum class ExtraTensors { reject, ignore };

// Copies the file's tensors into the parameters' (or tensors') storage, matching by name; each
// must exist in the file with the same dtype and shape. Versions are bumped (copy_).
void load(const Parameters& parameters, const std::string& path,
          ExtraTensors extra = ExtraTensors::reject);
void load(const NamedTensors& tensors, const std::string& path,
          ExtraTensors extra = ExtraTensors::reject);

// Everything in a file, as new tensors in the order of their data.
struct Checkpoint {
    NamedTensors tensors;
    Metadata metadata;
    const Tensor& at(const std::string& name) const;  // throws when absent
};
Checkpoint read_checkpoint(const std::string& path);

}  // namespace nalgrad
