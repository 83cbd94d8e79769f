// The example's models behind one type, so the training loop is written once: a Model holds any
// module (nn/module.hpp) that is called like a function.
#pragma once
#include <memory>
#include <string>

#include <nalgrad/nalgrad.hpp>

#include "lenet.hpp"
#include "resnet.hpp"

namespace nalgrad::examples {

class Model {
  public:
    template <typename Module>
    explicit Model(Module module) : self_(std::make_shared<Holder<Module>>(std::move(module))) {}

    Var operator()(const Var& x) const { return self_->forward(x); }
    Parameters parameters() const { return self_->parameters(); }
    NamedTensors state() const { return self_->state(); }
    void train(bool on = true) { self_->train(on); }
    void eval() { self_->train(false); }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual Var forward(const Var& x) const = 0;
        virtual Parameters parameters() const = 0;
        virtual NamedTensors state() const = 0;
        virtual void train(bool on) = 0;
    };
    template <typename Module>
    struct Holder : Base {
        explicit Holder(Module m) : module(std::move(m)) {}
        Var forward(const Var& x) const override { return module(x); }
        Parameters parameters() const override { return module.parameters(); }
        NamedTensors state() const override { return module.state(); }
        void train(bool on) override { module.train(on); }
        Module module;
    };
    std::shared_ptr<Base> self_;
};

// "lenet" (lenet-fm), "book" (lenet-fm pooling at stride 1, then the stride op), "lenet-bn" or
// "resnet" (of `shape`); the weights come from the default generator (manual_seed).
inline Model make_model(const std::string& kind, const ResNetShape& shape = {}) {
    if (kind == "lenet" || kind == "book") {
        LeNet lenet;
        lenet.book_style = kind == "book";
        return Model(std::move(lenet));
    }
    if (kind == "lenet-bn") return Model(LeNetBN{});
    if (kind == "resnet") return Model(ResNet(shape));
    fail("make_model", "unknown model '{}'", kind);
}

}  // namespace nalgrad::examples
