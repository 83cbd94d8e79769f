#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/training.hpp"

using namespace nalgrad;
using testing::Model;
using testing::ThreadSettingsGuard;
using testing::TrainingRun;

namespace {

TrainingRun train_on(int threads, DType dtype, uint64_t seed = 5, Model model = Model::pooling) {
    set_num_threads(threads);
    return testing::train(model, dtype, seed);
}

}  // namespace

TEST_CASE("the training run changes with the seed (the comparisons below can fail)") {
    ThreadSettingsGuard restore;
    CHECK_FALSE(testing::identical(train_on(1, f32, 5), train_on(1, f32, 6)));
    const TrainingRun run = train_on(1, f32);
    CHECK(run.losses.size() == 4);
    CHECK(run.losses.back() < run.losses.front());  // it does learn
}

TEST_CASE("two runs on one thread give bitwise the same parameters and losses") {
    ThreadSettingsGuard restore;
    for (Model model : {Model::pooling, Model::conv})
        for (DType dtype : {f32, f64}) {
            CAPTURE(dtype_name(dtype));
            CHECK(testing::identical(train_on(1, dtype, 5, model), train_on(1, dtype, 5, model)));
        }
}

TEST_CASE("two runs on two threads give bitwise the same parameters and losses") {
    ThreadSettingsGuard restore;
    for (Model model : {Model::pooling, Model::conv})
        for (DType dtype : {f32, f64}) {
            CAPTURE(dtype_name(dtype));
            CHECK(testing::identical(train_on(2, dtype, 5, model), train_on(2, dtype, 5, model)));
        }
}

TEST_CASE("the project's own kernels (float64) give the same bits on one and two threads") {
    // Their reductions sum in an order fixed by the shapes, never by the thread partition.
    ThreadSettingsGuard restore;
    CHECK_FALSE(deterministic());
    for (Model model : {Model::pooling, Model::conv})
        CHECK(testing::identical(train_on(1, f64, 5, model), train_on(2, f64, 5, model)));
}

TEST_CASE("deterministic mode: float32 (oneDNN) gives the same bits on one and two threads") {
    ThreadSettingsGuard restore;
    set_deterministic(true);
    CHECK(deterministic());
    const TrainingRun one = train_on(1, f32), two = train_on(2, f32);
    CHECK(testing::identical(one, two));
    set_deterministic(false);
    // Without it oneDNN promises nothing across thread counts; report what this machine does.
    MESSAGE("float32 one vs two threads, default mode, bitwise equal: ",
            testing::identical(train_on(1, f32), train_on(2, f32)));
    // The setting changes how oneDNN runs, not what it computes for one thread.
    CHECK(testing::identical(train_on(1, f32), one));
}

TEST_CASE(
    "deterministic mode: a convolution's weight gradient has the same bits on 1 and 2 threads") {
    // oneDNN's backward-weights convolution splits its sum over the batch by thread count (on
    // AVX-512 machines the bits differ between one and two threads in default mode).
    ThreadSettingsGuard restore;
    set_deterministic(true);
    const TrainingRun one = train_on(1, f32, 5, Model::conv),
                      two = train_on(2, f32, 5, Model::conv);
    CHECK(testing::identical(one, two));
    set_deterministic(false);
    MESSAGE("conv float32 one vs two threads, default mode, bitwise equal: ",
            testing::identical(train_on(1, f32, 5, Model::conv), train_on(2, f32, 5, Model::conv)));
}
