// Fuzzes the checkpoint reader: the bytes become a file that read_checkpoint and load (into a
// small fixed model) must either accept or refuse with nalgrad::Error. Invariants: a refused load
// leaves the model untouched; an accepted file saves and reads back to the same tensors.
#include <cstdint>
#include <vector>

#include <nalgrad/nalgrad.hpp>

#include "support.hpp"

namespace {

using namespace nalgrad;

// What tests/fuzz/corpus/checkpoint/ holds valid files for.
Parameters& model() {
    static Parameters parameters = [] {
        set_num_threads(1);
        return Parameters{{"fc.weight", requires_grad(full({3, 2}, 0.25, f32))},
                          {"fc.bias", requires_grad(full({2}, -1.0, f32))},
                          {"conv.weight", requires_grad(full({1, 1, 1, 2}, 2.0, f64))}};
    }();
    return parameters;
}

std::vector<Tensor> snapshot() {
    std::vector<Tensor> values;
    for (const Parameter& p : model()) values.push_back(p.var.value().clone());
    return values;
}

void check_unchanged(const std::vector<Tensor>& before, std::string_view how) {
    for (std::size_t i = 0; i < before.size(); ++i)
        if (!equal(before[i], model()[i].var.value()))
            fuzz::finding(fmt::format("a refused {} changed parameter '{}'", how, model()[i].name));
}

void load_into_model(const std::string& path, ExtraTensors extra, std::string_view how) {
    const std::vector<Tensor> before = snapshot();
    try {
        load(model(), path, extra);
    } catch (const Error&) {
        check_unchanged(before, how);
    }
}

// An accepted file, saved again and read back, gives the same tensors and metadata.
void check_round_trip(const Checkpoint& checkpoint, const fuzz::ScratchFile& scratch) {
    const std::string copy = scratch.sibling("copy.safetensors");
    save(checkpoint.tensors, copy, checkpoint.metadata);
    Checkpoint again = read_checkpoint(copy);
    if (again.tensors.size() != checkpoint.tensors.size() || again.metadata != checkpoint.metadata)
        fuzz::finding("a saved checkpoint reads back with other tensors or metadata");
    for (std::size_t i = 0; i < again.tensors.size(); ++i) {
        const NamedTensor& a = checkpoint.tensors[i];
        const NamedTensor* b = nullptr;
        for (const NamedTensor& t : again.tensors)
            if (t.name == a.name) b = &t;
        if (!b || !equal(a.tensor, b->tensor))
            fuzz::finding(fmt::format("tensor '{}' changed in a save and read", a.name));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static fuzz::ScratchFile scratch("input.safetensors");
    const std::string& path = scratch.write(data, size);
    try {
        Checkpoint checkpoint = read_checkpoint(path);
        check_round_trip(checkpoint, scratch);
    } catch (const Error&) {
    }
    load_into_model(path, ExtraTensors::reject, "load");
    load_into_model(path, ExtraTensors::ignore, "load ignoring extra tensors");
    return 0;
}
