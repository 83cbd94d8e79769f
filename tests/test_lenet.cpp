// The example's model ("lenet-fm") on real Fashion-MNIST images: a few training steps repeat
// bitwise at a fixed thread count (1 and 2), learn, and the book-style variant (stride as its own
// step) equals the strided pooling exactly.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "examples/fashion_mnist/lenet.hpp"
#include "support/training.hpp"

using namespace nalgrad;

namespace {

struct Run {
    std::vector<Tensor> parameters;
    std::vector<double> losses;
};

Run train_lenet(int threads, uint64_t seed, bool book_style = false) {
    set_num_threads(threads);
    manual_seed(seed);
    examples::LeNet model;
    model.book_style = book_style;
    optim::SGD opt(model.parameters(), {.lr = 0.01, .momentum = 0.9});
    auto images = data::fashion_mnist("train").subset(0, 48);
    Run run;
    for (const auto& b : data::batches(images, {.batch = 16,
                                               .shuffle = true,
                                               .seed = seed,
                                               .mean = data::fashion_mnist_mean,
                                               .stddev = data::fashion_mnist_stddev})) {
        Var loss = softmax_cross_entropy(model(b.x), b.labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        run.losses.push_back(loss.item());
    }
    for (const auto& p : model.parameters()) run.parameters.push_back(p.var.value().clone());
    return run;
}

bool identical(const Run& a, const Run& b) {
    if (a.losses != b.losses || a.parameters.size() != b.parameters.size()) return false;
    for (std::size_t i = 0; i < a.parameters.size(); ++i)
        if (!equal(a.parameters[i], b.parameters[i])) return false;
    return true;
}

}  // namespace

TEST_CASE("lenet-fm: two runs repeat bitwise on one thread and on two, and differ by seed") {
    testing::ThreadSettingsGuard restore;
    const Run one = train_lenet(1, 3);
    CHECK(identical(one, train_lenet(1, 3)));
    CHECK(identical(train_lenet(2, 3), train_lenet(2, 3)));
    CHECK_FALSE(identical(one, train_lenet(1, 4)));
    REQUIRE(one.losses.size() == 3);
    CHECK(one.losses.front() > 1.5);  // about ln(10) at the start
}

TEST_CASE(
    "lenet-fm book style: stride after stride-1 pooling trains exactly like strided pooling") {
    testing::ThreadSettingsGuard restore;
    const Run strided = train_lenet(1, 3, false), book = train_lenet(1, 3, true);
    REQUIRE(strided.parameters.size() == book.parameters.size());
    for (std::size_t i = 0; i < strided.parameters.size(); ++i)
        CHECK(max_abs_diff(strided.parameters[i], book.parameters[i]) < 1e-5);
}
