#include "nn/training_checkpoint.hpp"

#include <string_view>
#include <utility>

namespace nalgrad {

namespace {

// The optimizer's entries share the file with the parameters; the prefix keeps them apart.
constexpr std::string_view optimizer_prefix = "optimizer.";

}  // namespace

void save_training_checkpoint(const std::string& path, const Parameters& parameters,
                              const optim::Optimizer& optimizer, const Metadata& metadata) {
    NamedTensors everything;
    for (const auto& p : parameters) everything.push_back({p.name, p.var.value()});
    for (const auto& [name, t] : optimizer.state())
        everything.push_back({std::string(optimizer_prefix) + name, t});
    save(everything, path, metadata);
}

Metadata load_training_checkpoint(const std::string& path, const Parameters& parameters,
                                  optim::Optimizer& optimizer) {
    // read_checkpoint gives the optimizer's entries; load() matches every parameter against the
    // file before it copies any. So the file is read twice, once per resume.
    Checkpoint checkpoint = read_checkpoint(path);
    load(parameters, path, ExtraTensors::ignore);
    optim::State state;
    for (const auto& t : checkpoint.tensors)
        if (t.name.starts_with(optimizer_prefix))
            state.push_back({t.name.substr(optimizer_prefix.size()), t.tensor});
    optimizer.load_state(state);
    return std::move(checkpoint.metadata);
}

}  // namespace nalgrad
