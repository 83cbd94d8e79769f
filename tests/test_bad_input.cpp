// The catalogue of wrong uses: each entry does one wrong thing and names the words the
// nalgrad::Error must contain (the op, the argument, the shapes or values). A wrong use that
// crashes, throws something else, or throws a vague message fails here.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/temp_dir.hpp"

namespace ng = nalgrad;
using ng::f32;
using ng::f64;
using ng::i64;
using ng::Var;

namespace {

struct BadUse {
    std::string what;
    std::function<void()> run;
    std::vector<std::string> words;  // all must appear in the message
};

// Runs every entry: each must throw nalgrad::Error containing all its words.
void check_all(const std::vector<BadUse>& table) {
    for (const BadUse& use : table) {
        INFO(use.what);
        for (const std::string& word : use.words)
            CHECK_THROWS_WITH_AS(use.run(), doctest::Contains(word.c_str()), ng::Error);
    }
}

Var v(ng::Shape shape, ng::DType dtype = f32) {
    return requires_grad(ng::full(shape, 0.5, dtype));
}
Var c(ng::Shape shape, ng::DType dtype = f32) {
    return Var(ng::full(shape, 0.5, dtype));
}
ng::Tensor labels(std::vector<double> values, ng::DType dtype = i64) {
    return ng::tensor(values, {static_cast<int64_t>(values.size())}, dtype);
}
// `op` given an undefined variable as `argument`: the message names both.
BadUse undefined(const std::string& op, const std::string& argument, std::function<void()> run) {
    return {op + " of an undefined " + argument, std::move(run), {op, argument + " is undefined"}};
}

std::vector<BadUse> op_table() {
    using ng::Padding;
    return {
        // conv2d
        {"conv2d x of rank 3",
         [] {
             ng::conv2d(c({5, 5, 3}), c({3, 3, 3, 8}));
         },
         {"conv2d", "4-D", "[5, 5, 3]"}},
        {"conv2d k of rank 3",
         [] {
             ng::conv2d(c({2, 5, 5, 3}), c({3, 3, 8}));
         },
         {"conv2d", "HWIO", "[3, 3, 8]"}},
        {"conv2d channels differ",
         [] {
             ng::conv2d(c({2, 5, 5, 3}), c({3, 3, 4, 8}));
         },
         {"conv2d", "channels", "[2, 5, 5, 3]", "[3, 3, 4, 8]"}},
        {"conv2d kernel larger than the input",
         [] {
             ng::conv2d(c({1, 2, 2, 1}), c({3, 3, 1, 1}));
         },
         {"conv2d", "larger than the padded input", "[1, 2, 2, 1]", "[3, 3, 1, 1]"}},
        {"conv2d dilated kernel larger than the input",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), {}, {.dilation = 4});
         },
         {"conv2d", "dilation 4", "[1, 4, 4, 1]"}},
        {"conv2d stride 0",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), {}, {.stride = 0});
         },
         {"conv2d", "stride", "[0, 0]", "[1, 4, 4, 1]"}},
        {"conv2d negative stride",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), {}, {.stride = {1, -2}});
         },
         {"conv2d", "stride", "[1, -2]"}},
        {"conv2d dilation 0",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), {}, {.dilation = {0, 1}});
         },
         {"conv2d", "dilation", "[0, 1]"}},
        {"conv2d negative padding",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), {}, {.padding = Padding(0, -1, 0, 0)});
         },
         {"conv2d", "padding", "bottom -1"}},
        {"conv2d empty kernel (0 rows)",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({0, 2, 1, 1}));
         },
         {"conv2d", "kernel", "[0, 2]"}},
        {"conv2d kernel with no output channels",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 0}));
         },
         {"conv2d", "output channels", "[2, 2, 1, 0]"}},
        {"conv2d empty batch",
         [] {
             ng::conv2d(c({0, 4, 4, 1}), c({2, 2, 1, 1}));
         },
         {"conv2d", "empty", "[0, 4, 4, 1]"}},
        {"conv2d bias length",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 3}), c({5}));
         },
         {"conv2d", "bias", "[5]", "[2, 2, 1, 3]"}},
        {"conv2d f64 kernel on f32 input",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}, f64));
         },
         {"conv2d", "f64", "f32", "[1, 4, 4, 1]"}},
        {"conv2d f64 bias with f32 input",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({2, 2, 1, 1}), c({1}, f64));
         },
         {"conv2d", "b is f64"}},
        {"conv2d i64 input",
         [] {
             ng::conv2d(c({1, 4, 4, 1}, i64), c({2, 2, 1, 1}));
         },
         {"conv2d", "i64"}},

        // pooling
        {"max_pool2d x of rank 3",
         [] {
             ng::max_pool2d(c({4, 4, 1}));
         },
         {"max_pool2d", "4-D", "[4, 4, 1]"}},
        {"max_pool2d kernel 0",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}), {.kernel = {0, 2}});
         },
         {"max_pool2d", "kernel", "[0, 2]"}},
        {"max_pool2d negative stride",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}), {.kernel = 2, .stride = {-1, 1}});
         },
         {"max_pool2d", "stride", "[-1, 1]"}},
        {"max_pool2d kernel larger than the input",
         [] {
             ng::max_pool2d(c({1, 2, 5, 1}), {.kernel = 3});
         },
         {"max_pool2d", "larger", "[1, 2, 5, 1]"}},
        {"max_pool2d window entirely in padding",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}), {.kernel = 2, .padding = Padding(3, 0, 0, 0)});
         },
         {"max_pool2d", "only padding", "[1, 4, 4, 1]"}},
        {"max_pool2d negative padding",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}), {.padding = Padding(0, 0, -2, 0)});
         },
         {"max_pool2d", "padding", "left -2"}},
        {"max_pool2d i64 input",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}, i64));
         },
         {"max_pool2d", "i64", "[1, 4, 4, 1]"}},
        {"avg_pool2d x of rank 2",
         [] {
             ng::avg_pool2d(c({4, 4}));
         },
         {"avg_pool2d", "4-D", "[4, 4]"}},
        {"avg_pool2d negative kernel",
         [] {
             ng::avg_pool2d(c({1, 4, 4, 1}), {.kernel = -3});
         },
         {"avg_pool2d", "kernel", "[-3, -3]"}},
        {"avg_pool2d stride 0 in one axis",
         [] {
             ng::avg_pool2d(c({1, 4, 4, 1}), {.kernel = 2, .stride = {0, 2}});
         },
         {"avg_pool2d", "stride", "[0, 2]"}},
        {"avg_pool2d kernel larger than the input",
         [] {
             ng::avg_pool2d(c({1, 6, 2, 1}), {.kernel = {2, 3}});
         },
         {"avg_pool2d", "larger", "[1, 6, 2, 1]"}},
        {"avg_pool2d i64 input",
         [] {
             ng::avg_pool2d(c({1, 4, 4, 1}, i64));
         },
         {"avg_pool2d", "i64"}},

        // stride
        {"stride x of rank 3",
         [] {
             ng::stride(c({4, 4, 1}), 2);
         },
         {"stride", "4-D", "[4, 4, 1]"}},
        {"stride step 0",
         [] {
             ng::stride(c({1, 4, 4, 1}), {0, 2});
         },
         {"stride", "step", "[0, 2]", "[1, 4, 4, 1]"}},
        {"stride offset outside the image",
         [] {
             ng::stride(c({1, 4, 4, 1}), 2, {4, 0});
         },
         {"stride", "offset", "[4, 0]", "[1, 4, 4, 1]"}},
        {"stride negative offset",
         [] {
             ng::stride(c({1, 4, 4, 1}), 2, {0, -1});
         },
         {"stride", "offset", "[0, -1]"}},
        {"stride i64 input",
         [] {
             ng::stride(c({1, 4, 4, 1}, i64), 2);
         },
         {"stride", "i64"}},
        undefined("stride", "x", [] { ng::stride(Var{}, 2); }),

        // dense and matmul
        {"dense x of rank 3",
         [] {
             ng::dense(c({2, 3, 4}), c({4, 5}));
         },
         {"dense", "2-D", "[2, 3, 4]"}},
        {"dense input features differ",
         [] {
             ng::dense(c({2, 3}), c({4, 5}));
         },
         {"dense", "features", "[2, 3]", "[4, 5]"}},
        {"dense bias length",
         [] {
             ng::dense(c({2, 4}), c({4, 5}), c({4}));
         },
         {"dense", "bias", "[4]", "[4, 5]"}},
        {"dense bias of rank 2",
         [] {
             ng::dense(c({2, 4}), c({4, 5}), c({1, 5}));
         },
         {"dense", "[1, 5]"}},
        {"dense f64 weight on f32 input",
         [] {
             ng::dense(c({2, 4}), c({4, 5}, f64));
         },
         {"dense", "f32", "f64"}},
        {"matmul inner dimensions",
         [] {
             ng::matmul(c({4, 3}), c({5, 2}));
         },
         {"matmul", "inner", "[4, 3]", "[5, 2]"}},
        {"matmul a of rank 1",
         [] {
             ng::matmul(c({3}), c({3, 2}));
         },
         {"matmul", "2-D", "[3]"}},
        {"matmul i64 operand",
         [] {
             ng::matmul(c({2, 3}), c({3, 2}, i64));
         },
         {"matmul", "i64"}},
        {"matmul f32 with f64",
         [] {
             ng::matmul(c({2, 3}, f64), c({3, 2}));
         },
         {"matmul", "f64", "f32"}},
        undefined("matmul", "b",
                  [] {
                      ng::matmul(c({2, 3}), Var{});
                  }),
        undefined("dense", "w",
                  [] {
                      ng::dense(c({2, 3}), Var{});
                  }),
        {"dense f64 bias with f32 weights",
         [] {
             ng::dense(c({2, 4}), c({4, 5}), c({5}, f64));
         },
         {"dense", "w is f32 [4, 5]", "b is f64 [5]"}},

        // elementwise broadcasting and dtypes
        {"add shapes that cannot broadcast",
         [] {
             (void)(c({2, 3}) + c({4}));
         },
         {"add", "broadcast", "[2, 3]", "[4]"}},
        {"sub shapes that cannot broadcast",
         [] {
             (void)(c({2, 3}) - c({3, 2}));
         },
         {"sub", "broadcast", "[2, 3]", "[3, 2]"}},
        {"mul shapes that cannot broadcast",
         [] {
             (void)(c({4, 2, 3}) * c({3, 3}));
         },
         {"mul", "broadcast", "[4, 2, 3]", "[3, 3]"}},
        {"div shapes that cannot broadcast",
         [] { (void)(c({5}) / c({4})); },
         {"div", "broadcast", "[5]", "[4]"}},
        {"add f32 and f64 without a cast",
         [] { (void)(c({2}) + c({2}, f64)); },
         {"add", "f32", "f64", "astype"}},
        {"mul i64 operand", [] { (void)(c({2}, i64) * c({2})); }, {"mul", "i64"}},
        {"div by a double on an i64 variable", [] { (void)(c({2}, i64) / 2.0); }, {"div", "i64"}},
        {"add an undefined operand", [] { (void)(Var{} + c({2})); }, {"add", "undefined"}},
        undefined("sub", "b", [] { (void)(2.0 - Var{}); }),
        {"neg of i64", [] { (void)(-c({2}, i64)); }, {"neg", "x", "i64", "[2]"}},
        undefined("neg", "x", [] { (void)(-Var{}); }),
        undefined("exp", "x", [] { ng::exp(Var{}); }),
        undefined("log", "x", [] { ng::log(Var{}); }),
        undefined("sqrt", "x", [] { ng::sqrt(Var{}); }),
        undefined("pow", "x", [] { ng::pow(Var{}, 2.0); }),
        {"exp of i64", [] { ng::exp(c({2}, i64)); }, {"exp", "i64"}},
        {"log of i64", [] { ng::log(c({2}, i64)); }, {"log", "i64"}},
        {"sqrt of i64", [] { ng::sqrt(c({2}, i64)); }, {"sqrt", "i64"}},
        {"pow of i64", [] { ng::pow(c({2}, i64), 2.0); }, {"pow", "i64"}},
        {"relu of i64", [] { ng::relu(c({2}, i64)); }, {"relu", "i64"}},
        {"sigmoid of i64", [] { ng::sigmoid(c({2}, i64)); }, {"sigmoid", "i64"}},
        {"tanh of i64", [] { ng::tanh(c({2}, i64)); }, {"tanh", "i64"}},

        // reductions
        {"sum axis out of range",
         [] {
             ng::sum(c({2, 3}), {2});
         },
         {"sum", "axis 2", "[2, 3]"}},
        {"mean negative axis out of range",
         [] {
             ng::mean(c({2, 3}), {-3});
         },
         {"mean", "axis -3", "[2, 3]"}},
        {"sum axis given twice",
         [] {
             ng::sum(c({2, 3}), {1, -1});
         },
         {"sum", "twice", "[2, 3]"}},
        {"mean with no axes",
         [] {
             ng::mean(c({2, 3}), std::vector<int>{});
         },
         {"mean", "no axes", "[2, 3]"}},
        {"sum of i64",
         [] {
             ng::sum(c({2, 3}, i64));
         },
         {"sum", "i64"}},
        {"mean of i64 over an axis",
         [] {
             ng::mean(c({2, 3}, i64), {0});
         },
         {"mean", "i64"}},
        undefined("sum", "x", [] { ng::sum(Var{}); }),
        undefined("mean", "x", [] { ng::mean(Var{}, {0}); }),

        // shape changes
        {"reshape element count differs",
         [] {
             ng::reshape(c({2, 3}), {4, 2});
         },
         {"reshape", "[2, 3]", "[4, 2]"}},
        {"reshape two -1",
         [] {
             ng::reshape(c({2, 3}), {-1, -1});
         },
         {"reshape", "-1", "[-1, -1]"}},
        {"reshape negative extent",
         [] {
             ng::reshape(c({2, 3}), {-2, 3});
         },
         {"reshape", "negative", "[-2, 3]"}},
        {"reshape -1 that cannot be inferred",
         [] {
             ng::reshape(c({2, 3}), {4, -1});
         },
         {"reshape", "infer", "[2, 3]", "[4, -1]"}},
        {"reshape to a rank above 8",
         [] { ng::reshape(c({1}), ng::Shape(std::vector<int64_t>(9, 1))); },
         {"shape", "rank 9", "8"}},
        {"flatten a scalar", [] { ng::flatten(c({})); }, {"flatten", "scalar"}},
        undefined("reshape", "x", [] { ng::reshape(Var{}, {2}); }),
        undefined("flatten", "x", [] { ng::flatten(Var{}); }),
        undefined("transpose", "x", [] { ng::transpose(Var{}); }),
        {"transpose of i64",
         [] {
             ng::transpose(c({2, 3}, i64));
         },
         {"transpose", "i64", "[2, 3]"}},
        {"transpose rank 3",
         [] {
             ng::transpose(c({2, 3, 4}));
         },
         {"transpose", "2-D", "[2, 3, 4]"}},
        {"transpose rank 1", [] { ng::transpose(c({3})); }, {"transpose", "2-D", "[3]"}},

        // softmax and losses
        {"softmax of a scalar", [] { ng::softmax(c({})); }, {"softmax", "scalar"}},
        {"softmax of i64",
         [] {
             ng::softmax(c({2, 3}, i64));
         },
         {"softmax", "i64"}},
        undefined("softmax", "x", [] { ng::softmax(Var{}); }),
        undefined("log_softmax", "x", [] { ng::log_softmax(Var{}); }),
        undefined("softmax_cross_entropy", "logits",
                  [] { ng::softmax_cross_entropy(Var{}, labels({0})); }),
        {"log_softmax of i64",
         [] {
             ng::log_softmax(c({2, 3}, i64));
         },
         {"log_softmax", "i64"}},
        {"cross entropy label out of range",
         [] {
             ng::softmax_cross_entropy(c({2, 3}), labels({0, 3}));
         },
         {"softmax_cross_entropy", "label 3", "index 1", "[0, 3)"}},
        {"cross entropy negative label",
         [] {
             ng::softmax_cross_entropy(c({2, 3}), labels({-1, 0}));
         },
         {"softmax_cross_entropy", "label -1", "index 0"}},
        {"cross entropy f32 labels",
         [] {
             ng::softmax_cross_entropy(c({2, 3}), labels({0, 1}, f32));
         },
         {"softmax_cross_entropy", "i64", "f32 [2]"}},
        {"cross entropy labels of the wrong length",
         [] {
             ng::softmax_cross_entropy(c({2, 3}), labels({0, 1, 2}));
         },
         {"softmax_cross_entropy", "[3]", "[2, 3]"}},
        {"cross entropy labels of rank 2",
         [] {
             ng::softmax_cross_entropy(c({2, 3}), ng::zeros({2, 1}, i64));
         },
         {"softmax_cross_entropy", "[2, 1]", "[2, 3]"}},
        {"cross entropy logits of rank 1",
         [] { ng::softmax_cross_entropy(c({3}), labels({0})); },
         {"softmax_cross_entropy", "[mb, classes]", "[3]"}},
        {"cross entropy i64 logits",
         [] {
             ng::softmax_cross_entropy(c({2, 3}, i64), labels({0, 1}));
         },
         {"softmax_cross_entropy", "i64"}},
        {"mse shapes differ",
         [] {
             ng::mse(c({2, 3}), c({3, 2}));
         },
         {"mse", "shapes differ", "[2, 3]", "[3, 2]"}},
        {"mse f32 and f64", [] { ng::mse(c({2}), c({2}, f64)); }, {"mse", "f32", "f64", "astype"}},
        {"mse of i64", [] { ng::mse(c({2}, i64), c({2}, i64)); }, {"mse", "i64"}},
        undefined("mse", "target", [] { ng::mse(c({2}), Var{}); }),
        undefined("sigmoid_cross_entropy", "logits",
                  [] { ng::sigmoid_cross_entropy(Var{}, c({2})); }),
        {"sigmoid_cross_entropy shapes differ",
         [] {
             ng::sigmoid_cross_entropy(c({4}), c({2, 2}));
         },
         {"sigmoid_cross_entropy", "[4]", "[2, 2]"}},
        {"dropout p = 1",
         [] {
             ng::Generator gen(1);
             ng::dropout(c({2, 2}), 1.0, gen);
         },
         {"dropout", "p", "1"}},
        {"dropout negative p",
         [] {
             ng::Generator gen(1);
             ng::dropout(c({2, 2}), -0.5, gen);
         },
         {"dropout", "-0.5"}},
        {"dropout of i64",
         [] {
             ng::Generator gen(1);
             ng::dropout(c({2, 2}, i64), 0.5, gen);
         },
         {"dropout", "x", "i64", "[2, 2]"}},
        undefined("dropout", "x",
                  [] {
                      ng::Generator gen(1);
                      ng::dropout(Var{}, 0.5, gen);
                  }),

        // sizes that overflow int64 or exceed the machine's memory
        {"reshape to a shape whose element count wraps to the input's",
         [] {
             ng::reshape(c({2}), {3, 6148914691236517206});
         },
         {"reshape", "[3, 6148914691236517206]", "int64"}},
        {"conv2d with padding INT64_MAX",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({3, 3, 1, 1}), {},
                        {.padding = Padding(INT64_MAX, 0, 0, 0)});
         },
         {"conv2d", "padding 9223372036854775807", "overflows", "[1, 4, 4, 1]"}},
        {"conv2d with dilation 2^62",
         [] {
             ng::conv2d(c({1, 4, 4, 1}), c({3, 3, 1, 1}), {}, {.dilation = int64_t{1} << 62});
         },
         {"conv2d", "dilation 4611686018427387904", "overflows"}},
        {"conv2d whose output exceeds memory",
         [] {
             const int64_t p = 1 << 16;
             ng::conv2d(c({1, 4, 4, 1}), c({3, 3, 1, 1}), {}, {.padding = Padding(p, p, p, p)});
         },
         {"conv2d", "cannot allocate the output", "[1, 131074, 131074, 1]", "memory"}},
        {"max_pool2d with padding INT64_MAX",
         [] {
             ng::max_pool2d(c({1, 4, 4, 1}), {.padding = Padding(0, INT64_MAX, 0, 0)});
         },
         {"max_pool2d", "overflows", "[1, 4, 4, 1]"}},
        {"add whose broadcast result exceeds memory",
         [] {
             (void)(c({1 << 20, 1}) + c({1, 1 << 20}));
         },
         {"add", "cannot allocate the result", "[1048576, 1048576]"}},
        {"arange to NaN", [] { ng::arange(0, std::nan(""), 1); }, {"arange", "finite", "nan"}},
        {"arange past memory", [] { ng::arange(0, 1e300, 1); }, {"arange", "1e+300"}},
    };
}

std::vector<BadUse> tape_and_optimizer_table() {
    return {
        {"backward on a non-scalar without a seed",
         [] {
             (v({2, 3}) * 2.0).backward();
         },
         {"backward", "[2, 3]", "seed"}},
        {"backward seed of another shape",
         [] {
             (v({2, 3}) * 2.0).backward(ng::ones({3, 2}));
         },
         {"backward", "[3, 2]", "[2, 3]"}},
        {"backward seed of another dtype",
         [] { (v({2}) * 2.0).backward(ng::ones({2}, f64)); },
         {"backward", "f64", "f32"}},
        {"backward twice through freed records",
         [] {
             Var x = v({2});
             Var loss = ng::sum(x * x);
             loss.backward();
             loss.backward();
         },
         {"backward", "freed", "retain_graph"}},
        {"backward through freed records reached from a later op",
         [] {
             Var x = v({2});
             Var h = ng::exp(x);
             ng::sum(h).backward();
             ng::sum(h * 3.0).backward();
         },
         {"backward", "freed", "exp"}},
        {"backward on a variable that requires no grad",
         [] {
             ng::sum(c({2, 2})).backward();
         },
         {"backward", "does not require a gradient"}},
        {"backward on an undefined variable", [] { Var{}.backward(); }, {"backward", "undefined"}},
        {"backward after an in-place change of an input",
         [] {
             Var x = v({2});
             Var loss = ng::sum(x * x);
             ng::Tensor(x.value()).fill_(2.0);
             loss.backward();
         },
         {"backward", "modified in place", "mul"}},
        {"SGD given a non-leaf",
         [] {
             Var x = v({2});
             ng::optim::SGD sgd({x * 2.0}, {.lr = 0.1});
         },
         {"SGD", "not a leaf", "mul"}},
        {"SGD given a tensor without requires_grad",
         [] {
             ng::optim::SGD sgd({c({2, 3})}, {.lr = 0.1});
         },
         {"SGD", "does not require a gradient", "[2, 3]"}},
        {"SGD negative lr",
         [] { ng::optim::SGD sgd({v({2})}, {.lr = -0.1}); },
         {"SGD", "learning rate", "-0.1"}},
        {"Adam NaN lr",
         [] { ng::optim::Adam adam({v({2})}, {.lr = std::numeric_limits<double>::quiet_NaN()}); },
         {"Adam", "learning rate", "nan"}},
        {"Adam beta1 of 1",
         [] {
             ng::optim::Adam adam({v({2})}, {.betas = {1.0, 0.999}});
         },
         {"Adam", "beta", "1"}},
        {"set_lr infinite",
         [] {
             ng::optim::SGD sgd({v({2})}, {.lr = 0.1});
             sgd.set_lr(std::numeric_limits<double>::infinity());
         },
         {"SGD", "learning rate", "inf"}},
        {"optimizer with an empty parameter list",
         [] { ng::optim::SGD sgd(std::vector<Var>{}, {.lr = 0.1}); },
         {"SGD", "empty"}},
        {"optimizer given one parameter twice",
         [] {
             Var x = v({2});
             ng::optim::SGD sgd({x, x}, {.lr = 0.1});
         },
         {"SGD", "more than once"}},
        {"optimizer given an i64 parameter",
         [] { ng::optim::SGD sgd({v({2}, i64)}, {.lr = 0.1}); },
         {"SGD", "i64"}},

        // memory
        {"a tensor larger than memory",
         [] {
             ng::zeros({int64_t{1} << 20, int64_t{1} << 20, 1024});
         },
         {"tensor", "cannot allocate", "memory"}},
        {"a shape whose element count overflows",
         [] {
             ng::zeros({int64_t{1} << 40, int64_t{1} << 40});
         },
         {"tensor", "too many elements", "[1099511627776, 1099511627776]"}},
        {"a negative extent",
         [] {
             ng::zeros({2, -3});
         },
         {"tensor", "negative", "[2, -3]"}},

        // threads and optimizer state
        {"set_num_threads(1 << 20)",
         [] { ng::set_num_threads(1 << 20); },
         {"set_num_threads", "4096", "1048576"}},
        {"backward on a thread that did not record the graph",
         [] {
             const Var loss = ng::sum(v({2}) * 2.0);
             std::string message;
             std::thread([&] {
                 try {
                     loss.backward();
                 } catch (const ng::Error& e) {
                     message = e.what();
                 }
             }).join();
             throw ng::Error(message);
         },
         {"backward", "'sum'", "recorded on another thread"}},
        {"load_state with an infinite step",
         [] {
             Var w = v({2});
             ng::optim::Adam adam({w}, {.lr = 0.1});
             ng::sum(w * w).backward();
             adam.step();
             ng::optim::State state = adam.state();
             for (auto& [name, t] : state)
                 if (name == "0.step") t = ng::scalar(std::numeric_limits<double>::infinity(), f64);
             adam.load_state(state);
         },
         {"Adam.load_state", "0.step", "whole number", "inf"}},
    };
}

// A small model's parameters, for checkpoint loading.
ng::Parameters small_model(ng::DType dtype = f32) {
    return {{"fc.weight", v({3, 2}, dtype)}, {"fc.bias", v({2}, dtype)}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<BadUse> file_table(const ng::testing::TempDir& dir) {
    const std::string good = dir / "good.safetensors";
    ng::save(small_model(), good);
    const std::string bytes = read_bytes(good);
    auto variant = [&dir](const std::string& name, const std::string& content) {
        std::string path = dir / name;
        write_bytes(path, content);
        return path;
    };
    const std::string truncated =
        variant("truncated.safetensors", bytes.substr(0, bytes.size() - 5));
    const std::string short_file = variant("short.safetensors", bytes.substr(0, 5));
    std::string garbage_header = bytes;
    for (std::size_t i = 8; i < 20; ++i) garbage_header[i] = '#';
    const std::string not_json = variant("not-json.safetensors", garbage_header);
    std::string huge = bytes;
    huge[6] = '\x7f';  // header length near 2^55
    const std::string huge_header = variant("huge-header.safetensors", huge);

    const std::string idx_good = dir / "good.idx";
    ng::data::write_idx(idx_good, {{2, 3}, {1, 2, 3, 4, 5, 6}}, ng::data::Compression::none);
    const std::string idx_bytes = read_bytes(idx_good);
    std::string bad_magic = idx_bytes;
    bad_magic[2] = '\x0d';  // float elements
    const std::string idx_magic = variant("magic.idx", bad_magic);
    const std::string idx_truncated =
        variant("truncated.idx", idx_bytes.substr(0, idx_bytes.size() - 2));
    const std::string idx_header_cut = variant("header-cut.idx", idx_bytes.substr(0, 6));
    const std::string idx_longer = variant("longer.idx", idx_bytes + "xyz");
    const std::string idx_gzip_good = dir / "good.idx.gz";
    ng::data::write_idx(idx_gzip_good, {{2, 3}, {1, 2, 3, 4, 5, 6}});
    std::string gz = read_bytes(idx_gzip_good);
    const std::string idx_gzip_cut = variant("cut.idx.gz", gz.substr(0, gz.size() / 2 + 4));

    return {
        {"load a missing checkpoint",
         [&dir] { ng::load(small_model(), dir / "absent.safetensors"); },
         {"load", "cannot open", "absent.safetensors"}},
        {"load a truncated checkpoint",
         [=] { ng::load(small_model(), truncated); },
         {"load", "truncated.safetensors"}},
        {"load a 5-byte checkpoint",
         [=] { ng::load(small_model(), short_file); },
         {"load", "truncated", "5 bytes"}},
        {"load a checkpoint with a corrupted header",
         [=] { ng::load(small_model(), not_json); },
         {"load", "not-json.safetensors", "JSON"}},
        {"load a checkpoint with a huge header length",
         [=] { ng::read_checkpoint(huge_header); },
         {"load", "header length"}},
        {"load a checkpoint of other shapes",
         [=] {
             ng::load({{"fc.weight", v({2, 3})}, {"fc.bias", v({2})}}, good);
         },
         {"load", "fc.weight", "[3, 2]", "[2, 3]"}},
        {"load a checkpoint of another dtype",
         [=] { ng::load(small_model(f64), good); },
         {"load", "fc.weight", "F32", "F64"}},
        {"load a checkpoint that lacks a tensor",
         [=] {
             ng::load({{"fc.weight", v({3, 2})}, {"out.bias", v({2})}}, good);
         },
         {"load", "out.bias"}},
        {"load a checkpoint with an extra tensor",
         [=] {
             ng::load({{"fc.weight", v({3, 2})}}, good);
         },
         {"load", "fc.bias", "1 extra"}},
        {"save into a missing folder",
         [&dir] { ng::save(small_model(), dir / "missing/folder/model.safetensors"); },
         {"save", "missing/folder", "cannot"}},
        {"read_idx of a missing file",
         [&dir] { ng::data::read_idx(dir / "absent.idx", 2); },
         {"read_idx", "cannot open", "absent.idx"}},
        {"read_idx of another element type",
         [=] { ng::data::read_idx(idx_magic, 2); },
         {"read_idx", "magic.idx"}},
        {"read_idx of another rank",
         [=] { ng::data::read_idx(idx_good, 3); },
         {"read_idx", "good.idx"}},
        {"read_idx of a truncated file",
         [=] { ng::data::read_idx(idx_truncated, 2); },
         {"read_idx", "truncated", "4 of the 6"}},
        {"read_idx of a file cut in its header",
         [=] { ng::data::read_idx(idx_header_cut, 2); },
         {"read_idx", "header-cut.idx", "header"}},
        {"read_idx of a file longer than its extents",
         [=] { ng::data::read_idx(idx_longer, 2); },
         {"read_idx", "longer than", "[2, 3]"}},
        {"read_idx of a cut gzip stream",
         [=] { ng::data::read_idx(idx_gzip_cut, 2); },
         {"read_idx", "cut.idx.gz"}},
    };
}

}  // namespace

TEST_CASE("bad input: ops throw nalgrad::Error naming the op, the argument and the shapes") {
    check_all(op_table());
}

TEST_CASE("bad input: the tape, optimizers and allocation") {
    check_all(tape_and_optimizer_table());
}

TEST_CASE("bad input: damaged and mismatched checkpoint and IDX files") {
    ng::testing::TempDir dir;
    check_all(file_table(dir));
}

TEST_CASE("bad input: the catalogue holds at least 60 wrong uses") {
    ng::testing::TempDir dir;
    CHECK(op_table().size() + tape_and_optimizer_table().size() + file_table(dir).size() >= 60);
}

TEST_CASE("bad input: a failed load or save leaves the model and the old checkpoint intact") {
    ng::testing::TempDir dir;
    const std::string path = dir / "model.safetensors";
    ng::Parameters saved = small_model();
    ng::save(saved, path);
    const std::string before = read_bytes(path);

    // A save into a missing folder does not touch the existing file.
    CHECK_THROWS_AS(ng::save(small_model(), dir / "missing/model.safetensors"), ng::Error);
    CHECK(read_bytes(path) == before);

    // A load that fails on the second tensor changes neither.
    ng::Parameters target = {{"fc.weight", v({3, 2})}, {"fc.bias", v({3})}};
    ng::Tensor(target[0].var.value()).fill_(7.0);
    CHECK_THROWS_AS(ng::load(target, path), ng::Error);
    CHECK(target[0].var.value().at(0) == 7.0);
    CHECK(read_bytes(path) == before);
}

TEST_CASE("bad input: a failing optimizer step leaves the parameters unchanged") {
    Var w = v({2, 2});
    ng::optim::SGD sgd({w}, {.lr = 0.1});
    ng::sum(w * 2.0).backward();
    const ng::Tensor before = w.value().clone();
    CHECK_THROWS_AS(sgd.set_lr(-1.0), ng::Error);
    CHECK(sgd.lr() == 0.1);
    sgd.step();
    CHECK(ng::max_abs_diff(w.value(), before) == doctest::Approx(0.2));
}

TEST_CASE("fuzz finding: average pooling with trailing padding as large as the kernel") {
    // Rows 0-1 and 3-4 (row 4 is padding): the second window averages row 3 alone. oneDNN refuses
    // this geometry with a dnnl::error unless the kernel drops the trailing padding no window
    // reads.
    ng::Generator gen(3);
    const ng::Tensor x = ng::uniform({1, 4, 2, 1}, f32, gen);
    const ng::AvgPool2dOptions o{.kernel = {2, 1}, .stride = {3, 1}, .padding = {0, 2, 0, 0}};
    const Var y = ng::avg_pool2d(Var(x), o);
    REQUIRE(y.shape() == ng::Shape{1, 2, 2, 1});
    CHECK(y.value().at(2) == doctest::Approx(x.at(6)));
    CHECK(y.value().at(3) == doctest::Approx(x.at(7)));
    CHECK(y.value().at(0) == doctest::Approx((x.at(0) + x.at(2)) / 2));
    CHECK(ng::max_abs_diff(y.value(), ng::avg_pool2d(Var(x.astype(f64)), o).value()) < 1e-6);
}
