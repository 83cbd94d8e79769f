#include "nn/training_checkpoint.hpp"

#include <set>
#include <string_view>
#include <utility>

#include <fmt/ranges.h>

namespace nalgrad {

namespace {

// The optimizer's entries share the file with the model's; the prefix keeps them apart.
constexpr std::string_view optimizer_prefix = "optimizer.";

}  // namespace

void save_training_checkpoint(const std::string& path, const NamedTensors& model_state,
                              const optim::Optimizer& optimizer, const Metadata& metadata) {
    NamedTensors everything = model_state;
    for (const auto& [name, t] : optimizer.state())
        everything.push_back({std::string(optimizer_prefix) + name, t});
    save(everything, path, metadata);
}

void save_training_checkpoint(const std::string& path, const Parameters& parameters,
                              const optim::Optimizer& optimizer, const Metadata& metadata) {
    save_training_checkpoint(path, named_values(parameters), optimizer, metadata);
}

Metadata load_training_checkpoint(const std::string& path, const NamedTensors& model_state,
                                  optim::Optimizer& optimizer) {
    // read_checkpoint gives the optimizer's entries and the model's names; load() matches every
    // destination against the file before it copies any. So the file is read twice per resume.
    Checkpoint checkpoint = read_checkpoint(path);
    std::set<std::string> expected;
    for (const auto& t : model_state) expected.insert(t.name);
    std::vector<std::string> extras;
    optim::State state;
    for (const auto& t : checkpoint.tensors) {
        if (t.name.starts_with(optimizer_prefix))
            state.push_back({t.name.substr(optimizer_prefix.size()), t.tensor});
        else if (!expected.contains(t.name))
            extras.push_back(fmt::format("'{}'", t.name));
    }
    if (!extras.empty())
        fail("load_training_checkpoint", "'{}' has {} entries the model lacks: {}", path,
             extras.size(), fmt::join(extras, ", "));
    // The optimizer's entries are the only ones left for load() to skip.
    load(model_state, path, ExtraTensors::ignore);
    optimizer.load_state(state);
    return std::move(checkpoint.metadata);
}

Metadata load_training_checkpoint(const std::string& path, const Parameters& parameters,
                                  optim::Optimizer& optimizer) {
    return load_training_checkpoint(path, named_values(parameters), optimizer);
}

}  // namespace nalgrad
