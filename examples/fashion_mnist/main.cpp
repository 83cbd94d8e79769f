// Trains lenet-fm, the model of lenet.hpp, on Fashion-MNIST:
//   conv 5x5 1->32 SAME, ReLU, max pool 2x2/2, conv 5x5 32->64 SAME, ReLU, max pool 2x2/2,
//   flatten, dense 3136->512, ReLU, dense 512->10, softmax cross-entropy.
// `--model book` is the book's variant: stride-1 pooling followed by the stride op as its own step.
// Writes metrics.csv, metrics.png (gnuplot), model.dot (+ model.png with Graphviz) and
// checkpoint.safetensors (parameters and optimizer state; --resume continues from one).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nalgrad/nalgrad.hpp>

#include "model.hpp"
#include "options.hpp"

namespace ng = nalgrad;
namespace fs = std::filesystem;

namespace {

using fashion_mnist::Options;

// Weight decay applies to the convolution and dense weights only (optim::weight_decay_groups).
std::unique_ptr<ng::optim::Optimizer> make_optimizer(const Options& o,
                                                     const ng::Parameters& params) {
    auto groups = ng::optim::weight_decay_groups(params, o.weight_decay);
    if (o.optimizer == "sgd")
        return std::make_unique<ng::optim::SGD>(
            groups, ng::optim::SGDOptions{.lr = o.lr, .momentum = o.momentum});
    if (o.optimizer == "adam")
        return std::make_unique<ng::optim::Adam>(groups, ng::optim::AdamOptions{.lr = o.lr});
    if (o.optimizer == "adamw")
        return std::make_unique<ng::optim::AdamW>(groups, ng::optim::AdamWOptions{.lr = o.lr});
    if (o.optimizer == "rmsprop")
        return std::make_unique<ng::optim::RMSprop>(groups, ng::optim::RMSpropOptions{.lr = o.lr});
    throw ng::Error("fashion_mnist: unknown optimizer '" + o.optimizer + "'");
}

struct EpochResult {
    double loss = 0, accuracy = 0;
};

int64_t correct_predictions(const ng::Tensor& logits, const ng::Tensor& labels) {
    const float* l = logits.data<float>();
    const int64_t* y = labels.data<int64_t>();
    int64_t classes = logits.size(1), correct = 0;
    for (int64_t i = 0; i < logits.size(0); ++i) {
        int64_t best = 0;
        for (int64_t c = 1; c < classes; ++c)
            if (l[i * classes + c] > l[i * classes + best]) best = c;
        correct += best == y[i];
    }
    return correct;
}

EpochResult evaluate(ng::examples::Model& model, const ng::data::Dataset& data, int64_t batch) {
    ng::NoGradGuard no_grad;
    model.eval();
    EpochResult r;
    int64_t seen = 0;
    for (const auto& b : ng::data::batches(data, {.batch = batch,
                                                 .mean = ng::data::fashion_mnist_mean,
                                                 .stddev = ng::data::fashion_mnist_stddev})) {
        ng::Var logits = model(b.x);
        r.loss += ng::softmax_cross_entropy(logits, b.labels).item() * b.x.size(0);
        r.accuracy += static_cast<double>(correct_predictions(logits.value(), b.labels));
        seen += b.x.size(0);
    }
    r.loss /= static_cast<double>(seen);
    r.accuracy /= static_cast<double>(seen);
    model.train();
    return r;
}

std::string duration(double seconds) {
    int s = static_cast<int>(seconds + 0.5);
    return s >= 60 ? fmt::format("{}m{:02d}s", s / 60, s % 60) : fmt::format("{}s", s);
}

bool have(const char* program) {
    return std::system(fmt::format("command -v {} >/dev/null 2>&1", program).c_str()) == 0;
}

void plot(const fs::path& out) {
    if (!have("gnuplot")) {
        fmt::print("gnuplot is not installed: metrics.csv written, no plot\n");
        return;
    }
    std::ofstream script(out / "metrics.gp");
    script
        << "set terminal png size 900,400\nset output '" << (out / "metrics.png").string()
        << "'\nset datafile separator ','\nset key autotitle columnhead\nset multiplot layout 1,2\n"
        << "set title 'loss'\nset xlabel 'epoch'\nplot '" << (out / "metrics.csv").string()
        << "' using 1:2 with linespoints title 'train', '' using 1:4 with linespoints title "
           "'test'\n"
        << "set title 'accuracy'\nplot '" << (out / "metrics.csv").string()
        << "' using 1:3 with linespoints title 'train', '' using 1:5 with linespoints title "
           "'test'\n"
        << "unset multiplot\n";
    script.close();
    if (std::system(fmt::format("gnuplot '{}'", (out / "metrics.gp").string()).c_str()) != 0)
        fmt::print("gnuplot failed: metrics.csv written, no plot\n");
}

// Continues from a checkpoint of save_checkpoint(); returns the epoch to train first.
int resume_from(const std::string& checkpoint, const ng::NamedTensors& model_state,
                ng::optim::Optimizer& opt) {
    const ng::Metadata metadata = ng::load_training_checkpoint(checkpoint, model_state, opt);
    int first_epoch = 1;
    if (auto it = metadata.find("epoch"); it != metadata.end())
        first_epoch = std::stoi(it->second) + 1;
    fmt::print("resumed from {} after epoch {}\n", checkpoint, first_epoch - 1);
    return first_epoch;
}

void save_checkpoint(const fs::path& out, const ng::NamedTensors& model_state,
                     const ng::optim::Optimizer& opt, int epoch, const Options& o) {
    ng::save_training_checkpoint(
        (out / "checkpoint.safetensors").string(), model_state, opt,
        {{"epoch", std::to_string(epoch)}, {"optimizer", o.optimizer}, {"model", o.model_kind}});
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What the epochs of a run share.
struct Training {
    ng::examples::Model& model;
    ng::optim::Optimizer& optimizer;
    ng::optim::LRSchedule* lr_schedule;  // null without --schedule
    ng::data::Batches& loader;
    const fs::path& out;
    int first_epoch;
    // On a terminal the progress line is redrawn after every batch; into a pipe or a file it is
    // printed ten times an epoch.
    bool terminal;
};

// One pass over the training data: a step per batch, and the progress line.
EpochResult train_epoch(Training& t, int epoch, std::chrono::steady_clock::time_point start) {
    double loss_sum = 0, correct = 0;
    int64_t seen = 0, done = 0, total = t.loader.size(), next_report = 0;
    for (const auto& b : t.loader) {
        ng::Var logits = t.model(b.x);
        ng::Var loss = ng::softmax_cross_entropy(logits, b.labels);
        if (epoch == t.first_epoch && done == 0)
            std::ofstream(t.out / "model.dot") << ng::to_dot(loss);
        t.optimizer.zero_grad();
        loss.backward();
        t.optimizer.step();
        if (t.lr_schedule) t.lr_schedule->step();
        loss_sum += loss.item() * b.x.size(0);
        correct += static_cast<double>(correct_predictions(logits.value(), b.labels));
        seen += b.x.size(0);
        ++done;
        double elapsed = seconds_since(start);
        if (t.terminal || done >= next_report || done == total) {
            std::string line = fmt::format(
                "epoch {} [{:>4}/{}] loss {:.4f} accuracy {:.4f} {:.0f} images/s, {} left", epoch,
                done, total, loss_sum / seen, correct / seen, seen / elapsed,
                duration(elapsed / done * (total - done)));
            if (t.terminal) {
                fmt::print("\r{}\x1b[K", line);
            } else {
                fmt::print("{}\n", line);
                next_report = done + std::max<int64_t>(total / 10, 1);
            }
            std::fflush(stdout);  // a pipe is block-buffered: progress must show now
        }
    }
    if (t.terminal) fmt::print("\n");
    return {loss_sum / seen, correct / seen};
}

// Trains `epochs` epochs, each followed by the test set's figures, a metrics.csv row and a
// checkpoint; returns the last test accuracy.
double train_epochs(Training& t, const ng::data::Dataset& test, int epochs, std::ofstream& csv,
                    const Options& o) {
    double final_accuracy = 0;
    for (int epoch = t.first_epoch; epoch < t.first_epoch + epochs; ++epoch) {
        auto start = std::chrono::steady_clock::now();
        const EpochResult train_result = train_epoch(t, epoch, start);
        double train_seconds = seconds_since(start);
        EpochResult test_result = evaluate(t.model, test, 500);
        final_accuracy = test_result.accuracy;
        double seconds = seconds_since(start);
        fmt::print(
            "epoch {}: train loss {:.4f} accuracy {:.4f} | test loss {:.4f} accuracy "
            "{:.4f} | {} ({} training)\n",
            epoch, train_result.loss, train_result.accuracy, test_result.loss, test_result.accuracy,
            duration(seconds), duration(train_seconds));
        csv << fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.2f}\n", epoch, train_result.loss,
                           train_result.accuracy, test_result.loss, test_result.accuracy, seconds);
        csv.flush();
        std::fflush(stdout);
        save_checkpoint(t.out, t.model.state(), t.optimizer, epoch, o);
    }
    return final_accuracy;
}

// The plot and the graph's picture, where gnuplot and Graphviz are installed; then the list of
// what the folder holds.
void write_outputs(const fs::path& out) {
    plot(out);
    if (have("dot"))
        std::system(fmt::format("dot -Tpng '{}' -o '{}'", (out / "model.dot").string(),
                                (out / "model.png").string())
                        .c_str());
    std::string written = "metrics.csv";
    for (const char* f : {"metrics.png", "model.dot", "model.png", "checkpoint.safetensors"})
        if (fs::exists(out / f)) written += std::string(", ") + f;
    fmt::print("wrote {}: {}\n", out.string(), written);
}

int run(Options o) {
    if (o.threads > 0) ng::set_num_threads(o.threads);
    ng::manual_seed(o.seed);  // before the model: its initial weights come from the seed
    fs::path out(o.out_dir);
    fs::create_directories(out);

    auto train = ng::data::fashion_mnist("train", o.data_root);
    auto test = ng::data::fashion_mnist("test", o.data_root);
    if (o.limit > 0 && o.limit < train.size()) train = train.subset(0, o.limit);
    fmt::print(
        "Fashion-MNIST: {} training and {} test images; model {}{}, optimizer {} (lr {}, weight "
        "decay {}, schedule {}), batch {}, {} epochs, crop padding {}, flip {}, {} threads\n",
        train.size(), test.size(), o.model_kind,
        o.model_kind == "resnet"
            ? fmt::format(" (width {}, {} block(s) per stage)", o.width, o.blocks)
            : "",
        o.optimizer, o.lr, o.weight_decay, o.schedule, o.batch, o.epochs, o.crop_padding,
        o.flip ? "on" : "off", ng::get_num_threads());

    ng::examples::Model model = ng::examples::make_model(
        o.model_kind, {.widths = {o.width, 2 * o.width, 4 * o.width}, .blocks = o.blocks});
    auto opt = make_optimizer(o, model.parameters());
    const int first_epoch = o.resume.empty() ? 1 : resume_from(o.resume, model.state(), *opt);

    auto loader = ng::data::batches(
        train, {.batch = o.batch,
                .shuffle = true,
                .seed = o.seed,
                .epoch = first_epoch - 1,
                .mean = ng::data::fashion_mnist_mean,
                .stddev = ng::data::fashion_mnist_stddev,
                .augment = {.crop_padding = o.crop_padding, .horizontal_flip = o.flip}});
    std::unique_ptr<ng::optim::LRSchedule> lr_schedule;
    if (o.schedule == "cosine") {
        lr_schedule = std::make_unique<ng::optim::CosineAnnealingLR>(
            *opt, static_cast<int64_t>(first_epoch - 1 + o.epochs) * loader.size());
        lr_schedule->set_last_step(static_cast<int64_t>(first_epoch - 1) * loader.size());
    }
    std::ofstream csv(out / "metrics.csv", first_epoch > 1 ? std::ios::app : std::ios::trunc);
    if (first_epoch == 1)
        csv << "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n";

    Training training{model,
                      *opt,
                      lr_schedule.get(),
                      loader,
                      out,
                      first_epoch,
                      static_cast<bool>(isatty(fileno(stdout)))};
    const double final_accuracy = train_epochs(training, test, o.epochs, csv, o);
    csv.close();
    write_outputs(out);
    if (final_accuracy < o.min_accuracy) {
        fmt::print(stderr, "fashion_mnist: test accuracy {:.4f} is below --min-accuracy {}\n",
                   final_accuracy, o.min_accuracy);
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    CLI::App app{"nalgrad: train a CNN on Fashion-MNIST"};
    Options options;
    add_options(app, options);
    CLI11_PARSE(app, argc, argv);
    apply_recipe(app, options);
    return run(options);
} catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mnist: {}\n", e.what());
    return 1;
}
