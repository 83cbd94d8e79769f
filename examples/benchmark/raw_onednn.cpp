#include "raw_onednn.hpp"

#include <functional>
#include <random>

#include <oneapi/dnnl/dnnl.hpp>

#include "timing.hpp"

namespace bench {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

struct Context {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    std::mt19937 random{42};

    memory filled(const memory::desc& desc) {
        memory m(desc, engine);
        auto* p = static_cast<float*>(m.get_data_handle());
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        for (std::size_t i = 0; i < desc.get_size() / sizeof(float); ++i) p[i] = u(random);
        return m;
    }
};

// One layer: its forward primitives and its backward primitives, each run in order.
struct Layer {
    std::string name, what;
    std::vector<std::function<void()>> forward, backward;
};

using Args = std::unordered_map<int, memory>;

// Wraps a primitive run; the stream waits so each pass is timed to completion.
std::function<void()> run(Context& c, dnnl::primitive p, Args args) {
    return [&c, p, args] {
        p.execute(c.stream, args);
        c.stream.wait();
    };
}

// 'same' padding, stride 1, bias; conv1 skips backward-data (the input needs no gradient).
Layer convolution(Context& c, std::string name, int64_t n, int64_t in_c, int64_t out_c, int64_t hw,
                  int64_t k, bool backward_data) {
    const int64_t pad = k / 2;
    const memory::desc src({n, in_c, hw, hw}, f32, tag::nhwc),
        dst({n, out_c, hw, hw}, f32, tag::nhwc), weights({out_c, in_c, k, k}, f32, tag::any),
        bias({out_c}, f32, tag::a);
    const memory::dims strides{1, 1}, padding{pad, pad};
    using namespace dnnl;
    convolution_forward::primitive_desc fwd(
        {prop_kind::forward_training, algorithm::convolution_direct, src, weights, bias, dst,
         strides, padding, padding},
        c.engine);
    convolution_backward_weights::primitive_desc bwd_w(
        {algorithm::convolution_direct, src, weights, bias, dst, strides, padding, padding},
        c.engine, fwd);
    Layer layer{std::move(name), "fwd | ", {}, {}};
    layer.forward.push_back(run(c, convolution_forward(fwd),
                                {{DNNL_ARG_SRC, c.filled(src)},
                                 {DNNL_ARG_WEIGHTS, c.filled(fwd.weights_desc())},
                                 {DNNL_ARG_BIAS, c.filled(bias)},
                                 {DNNL_ARG_DST, c.filled(dst)}}));
    if (backward_data) {
        convolution_backward_data::primitive_desc bwd_d(
            {algorithm::convolution_direct, src, weights, dst, strides, padding, padding}, c.engine,
            fwd);
        layer.backward.push_back(run(c, convolution_backward_data(bwd_d),
                                     {{DNNL_ARG_DIFF_DST, c.filled(dst)},
                                      {DNNL_ARG_WEIGHTS, c.filled(bwd_d.weights_desc())},
                                      {DNNL_ARG_DIFF_SRC, c.filled(src)}}));
        layer.what += "bwd_data + ";
    }
    layer.backward.push_back(run(c, convolution_backward_weights(bwd_w),
                                 {{DNNL_ARG_SRC, c.filled(src)},
                                  {DNNL_ARG_DIFF_DST, c.filled(dst)},
                                  {DNNL_ARG_DIFF_WEIGHTS, c.filled(bwd_w.diff_weights_desc())},
                                  {DNNL_ARG_DIFF_BIAS, c.filled(bias)}}));
    layer.what += "bwd_weights+bias";
    return layer;
}

Layer relu(Context& c, std::string name, const memory::desc& desc) {
    using namespace dnnl;
    eltwise_forward::primitive_desc fwd(
        {prop_kind::forward_training, algorithm::eltwise_relu, desc, 0.f}, c.engine);
    eltwise_backward::primitive_desc bwd({algorithm::eltwise_relu, desc, desc, 0.f}, c.engine, fwd);
    Layer layer{std::move(name), "eltwise fwd | bwd", {}, {}};
    layer.forward.push_back(run(c, eltwise_forward(fwd),
                                {{DNNL_ARG_SRC, c.filled(desc)}, {DNNL_ARG_DST, c.filled(desc)}}));
    layer.backward.push_back(run(c, eltwise_backward(bwd),
                                 {{DNNL_ARG_SRC, c.filled(desc)},
                                  {DNNL_ARG_DIFF_DST, c.filled(desc)},
                                  {DNNL_ARG_DIFF_SRC, c.filled(desc)}}));
    return layer;
}

// 2x2 max pooling, stride 2, with the workspace the backward reads.
Layer max_pool(Context& c, std::string name, int64_t n, int64_t channels, int64_t hw) {
    using namespace dnnl;
    const memory::desc src({n, channels, hw, hw}, f32, tag::nhwc),
        dst({n, channels, hw / 2, hw / 2}, f32, tag::nhwc);
    const memory::dims kernel{2, 2}, strides{2, 2}, padding{0, 0};
    pooling_forward::primitive_desc fwd({prop_kind::forward_training, algorithm::pooling_max, src,
                                         dst, strides, kernel, padding, padding},
                                        c.engine);
    pooling_backward::primitive_desc bwd(
        {algorithm::pooling_max, src, dst, strides, kernel, padding, padding}, c.engine, fwd);
    memory workspace(fwd.workspace_desc(), c.engine);
    Layer layer{std::move(name), "pooling fwd | bwd", {}, {}};
    layer.forward.push_back(run(c, pooling_forward(fwd),
                                {{DNNL_ARG_SRC, c.filled(src)},
                                 {DNNL_ARG_DST, c.filled(dst)},
                                 {DNNL_ARG_WORKSPACE, workspace}}));
    layer.backward.push_back(run(c, pooling_backward(bwd),
                                 {{DNNL_ARG_DIFF_DST, c.filled(dst)},
                                  {DNNL_ARG_WORKSPACE, workspace},
                                  {DNNL_ARG_DIFF_SRC, c.filled(src)}}));
    return layer;
}

// Inner product with bias; activations plain [n, features], weights in oneDNN's layout.
Layer dense(Context& c, std::string name, int64_t n, int64_t in, int64_t out) {
    using namespace dnnl;
    const memory::desc src({n, in}, f32, tag::nc), dst({n, out}, f32, tag::nc),
        weights({out, in}, f32, tag::any), bias({out}, f32, tag::a);
    inner_product_forward::primitive_desc fwd(
        {prop_kind::forward_training, src, weights, bias, dst}, c.engine);
    inner_product_backward_data::primitive_desc bwd_d({src, weights, dst}, c.engine, fwd);
    inner_product_backward_weights::primitive_desc bwd_w({src, weights, bias, dst}, c.engine, fwd);
    Layer layer{std::move(name), "inner product fwd | bwd_data + bwd_weights+bias", {}, {}};
    layer.forward.push_back(run(c, inner_product_forward(fwd),
                                {{DNNL_ARG_SRC, c.filled(src)},
                                 {DNNL_ARG_WEIGHTS, c.filled(fwd.weights_desc())},
                                 {DNNL_ARG_BIAS, c.filled(bias)},
                                 {DNNL_ARG_DST, c.filled(dst)}}));
    layer.backward.push_back(run(c, inner_product_backward_data(bwd_d),
                                 {{DNNL_ARG_DIFF_DST, c.filled(dst)},
                                  {DNNL_ARG_WEIGHTS, c.filled(bwd_d.weights_desc())},
                                  {DNNL_ARG_DIFF_SRC, c.filled(src)}}));
    layer.backward.push_back(run(c, inner_product_backward_weights(bwd_w),
                                 {{DNNL_ARG_SRC, c.filled(src)},
                                  {DNNL_ARG_DIFF_DST, c.filled(dst)},
                                  {DNNL_ARG_DIFF_WEIGHTS, c.filled(bwd_w.diff_weights_desc())},
                                  {DNNL_ARG_DIFF_BIAS, c.filled(bias)}}));
    return layer;
}

double time_pass(const std::vector<std::function<void()>>& pass, int iterations, int warmup) {
    auto run_all = [&] {
        for (const auto& primitive : pass) primitive();
    };
    for (int i = 0; i < warmup; ++i) run_all();
    return median_ms(iterations, run_all);
}

}  // namespace

struct RawStep::Primitives {
    Context context;
    std::vector<Layer> layers;
};

RawStep::RawStep(int64_t batch) : primitives_(std::make_unique<Primitives>()) {
    Context& c = primitives_->context;
    std::vector<Layer>& layers = primitives_->layers;
    const int64_t n = batch;
    layers.push_back(convolution(c, "conv1", n, 1, 32, 28, 5, false));
    layers.push_back(relu(c, "relu1", {{n, 32, 28, 28}, f32, tag::nhwc}));
    layers.push_back(max_pool(c, "pool1", n, 32, 28));
    layers.push_back(convolution(c, "conv2", n, 32, 64, 14, 5, true));
    layers.push_back(relu(c, "relu2", {{n, 64, 14, 14}, f32, tag::nhwc}));
    layers.push_back(max_pool(c, "pool2", n, 64, 14));
    layers.push_back(dense(c, "dense1", n, 7 * 7 * 64, 512));
    layers.push_back(relu(c, "relu3", {{n, 512}, f32, tag::nc}));
    layers.push_back(dense(c, "dense2", n, 512, 10));
}

RawStep::~RawStep() = default;

std::vector<RawLayer> RawStep::time(int iterations, int warmup) {
    std::vector<RawLayer> times;
    for (const Layer& layer : primitives_->layers)
        times.push_back({layer.name, layer.what, time_pass(layer.forward, iterations, warmup),
                         time_pass(layer.backward, iterations, warmup)});
    return times;
}

double RawStep::time_sequence(int iterations) {
    const std::vector<Layer>& layers = primitives_->layers;
    return median_ms(iterations, [&] {
        for (const Layer& layer : layers)
            for (const auto& primitive : layer.forward) primitive();
        for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer)
            for (const auto& primitive : layer->backward) primitive();
    });
}

}  // namespace bench
