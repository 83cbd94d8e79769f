// Trains "lenet-fm" (../shared/bench/README.md) on Fashion-MNIST:
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

#include "lenet.hpp"

namespace ng = nalgrad;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<ng::optim::Optimizer> make_optimizer(const std::string& name, double lr,
                                                     double momentum,
                                                     const ng::Parameters& params) {
    if (name == "sgd")
        return std::make_unique<ng::optim::SGD>(
            params, ng::optim::SGDOptions{.lr = lr, .momentum = momentum});
    if (name == "adam")
        return std::make_unique<ng::optim::Adam>(params, ng::optim::AdamOptions{.lr = lr});
    if (name == "adamw")
        return std::make_unique<ng::optim::AdamW>(params, ng::optim::AdamWOptions{.lr = lr});
    if (name == "rmsprop")
        return std::make_unique<ng::optim::RMSprop>(params, ng::optim::RMSpropOptions{.lr = lr});
    throw ng::Error("fashion_mnist: unknown optimizer '" + name + "'");
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

EpochResult evaluate(const ng::examples::LeNet& model, const ng::data::Dataset& data,
                     int64_t batch) {
    ng::NoGradGuard no_grad;
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

}  // namespace

int main(int argc, char** argv) try {
    CLI::App app{"nalgrad: train a CNN on Fashion-MNIST"};
    int epochs = 2, threads = 0;
    int64_t batch = 64, limit = 0;
    std::string optimizer = "adam", model_kind = "lenet", data_root = ng::data::fashion_mnist_root,
                out_dir = "runs/fashion_mnist", resume;
    double lr = 0, momentum = 0.9;
    uint64_t seed = 1;
    app.add_option("--epochs", epochs, "epochs to train")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--batch", batch, "batch size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--optimizer", optimizer, "sgd, adam, adamw or rmsprop")
        ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}))
        ->capture_default_str();
    app.add_option("--lr", lr,
                   "learning rate (default: 1e-3 for adam/adamw/rmsprop, 0.01 for sgd)");
    app.add_option("--momentum", momentum, "SGD momentum")->capture_default_str();
    app.add_option("--threads", threads, "threads (default: every core)");
    app.add_option("--seed", seed, "seed for weights and shuffling")->capture_default_str();
    app.add_option("--model", model_kind, "lenet, or book (stride as its own step)")
        ->check(CLI::IsMember({"lenet", "book"}))
        ->capture_default_str();
    app.add_option("--data", data_root, "folder with the Fashion-MNIST IDX files")
        ->capture_default_str();
    app.add_option("--out", out_dir, "output folder")->capture_default_str();
    app.add_option("--resume", resume, "checkpoint to continue from");
    app.add_option("--limit", limit, "train on the first N images only (a quick run)");
    std::string schedule = "none";
    app.add_option("--schedule", schedule,
                   "learning-rate schedule: none, or cosine (annealed to 0 over all the epochs, "
                   "stepped per batch)")
        ->check(CLI::IsMember({"none", "cosine"}))
        ->capture_default_str();
    double min_accuracy = 0;
    app.add_option("--min-accuracy", min_accuracy,
                   "exit with status 1 when the final test accuracy is below this");
    CLI11_PARSE(app, argc, argv);

    if (threads > 0) ng::set_num_threads(threads);
    if (lr == 0) lr = optimizer == "sgd" ? 0.01 : 1e-3;
    ng::manual_seed(seed);
    fs::path out(out_dir);
    fs::create_directories(out);

    auto train = ng::data::fashion_mnist("train", data_root);
    auto test = ng::data::fashion_mnist("test", data_root);
    if (limit > 0 && limit < train.size()) train = train.subset(0, limit);
    fmt::print(
        "Fashion-MNIST: {} training and {} test images; model {}, optimizer {} (lr {}), "
        "batch {}, {} threads\n",
        train.size(), test.size(), model_kind, optimizer, lr, batch, ng::get_num_threads());

    ng::examples::LeNet model;
    model.book_style = model_kind == "book";
    ng::Parameters params = model.parameters();
    auto opt = make_optimizer(optimizer, lr, momentum, params);
    int first_epoch = 1;
    if (!resume.empty()) {
        ng::Checkpoint ck = ng::read_checkpoint(resume);
        ng::load(params, resume, ng::ExtraTensors::ignore);
        ng::optim::State state;
        for (const auto& t : ck.tensors)
            if (t.name.rfind("optimizer.", 0) == 0) state.push_back({t.name.substr(10), t.tensor});
        opt->load_state(state);
        if (auto it = ck.metadata.find("epoch"); it != ck.metadata.end())
            first_epoch = std::stoi(it->second) + 1;
        fmt::print("resumed from {} after epoch {}\n", resume, first_epoch - 1);
    }

    auto loader = ng::data::batches(train, {.batch = batch,
                                            .shuffle = true,
                                            .seed = seed,
                                            .epoch = first_epoch - 1,
                                            .mean = ng::data::fashion_mnist_mean,
                                            .stddev = ng::data::fashion_mnist_stddev});
    std::unique_ptr<ng::optim::LRSchedule> lr_schedule;
    if (schedule == "cosine") {
        lr_schedule = std::make_unique<ng::optim::CosineAnnealingLR>(
            *opt, static_cast<int64_t>(first_epoch - 1 + epochs) * loader.size());
        lr_schedule->set_last_step(static_cast<int64_t>(first_epoch - 1) * loader.size());
    }
    const bool terminal = isatty(fileno(stdout));
    std::ofstream csv(out / "metrics.csv", first_epoch > 1 ? std::ios::app : std::ios::trunc);
    if (first_epoch == 1)
        csv << "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n";

    double final_accuracy = 0;
    for (int epoch = first_epoch; epoch < first_epoch + epochs; ++epoch) {
        auto start = std::chrono::steady_clock::now();
        double loss_sum = 0, correct = 0;
        int64_t seen = 0, done = 0, total = loader.size(), next_report = 0;
        for (const auto& b : loader) {
            ng::Var logits = model(b.x);
            ng::Var loss = ng::softmax_cross_entropy(logits, b.labels);
            if (epoch == first_epoch && done == 0)
                std::ofstream(out / "model.dot") << ng::to_dot(loss);
            opt->zero_grad();
            loss.backward();
            opt->step();
            if (lr_schedule) lr_schedule->step();
            loss_sum += loss.item() * b.x.size(0);
            correct += static_cast<double>(correct_predictions(logits.value(), b.labels));
            seen += b.x.size(0);
            ++done;
            double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (terminal || done >= next_report || done == total) {
                std::string line = fmt::format(
                    "epoch {} [{:>4}/{}] loss {:.4f} accuracy {:.4f} {:.0f} images/s, {} left",
                    epoch, done, total, loss_sum / seen, correct / seen, seen / elapsed,
                    duration(elapsed / done * (total - done)));
                if (terminal) {
                    fmt::print("\r{}\x1b[K", line);
                } else {
                    fmt::print("{}\n", line);
                    next_report = done + std::max<int64_t>(total / 10, 1);
                }
                std::fflush(stdout);  // a pipe is block-buffered: progress must show now
            }
        }
        if (terminal) fmt::print("\n");
        double train_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EpochResult test_result = evaluate(model, test, 500);
        final_accuracy = test_result.accuracy;
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        fmt::print(
            "epoch {}: train loss {:.4f} accuracy {:.4f} | test loss {:.4f} accuracy "
            "{:.4f} | {} ({} training)\n",
            epoch, loss_sum / seen, correct / seen, test_result.loss, test_result.accuracy,
            duration(seconds), duration(train_seconds));
        csv << fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.2f}\n", epoch, loss_sum / seen,
                           correct / seen, test_result.loss, test_result.accuracy, seconds);
        csv.flush();
        std::fflush(stdout);

        ng::NamedTensors everything;
        for (const auto& p : params) everything.push_back({p.name, p.var.value()});
        for (const auto& [name, t] : opt->state()) everything.push_back({"optimizer." + name, t});
        ng::save(
            everything, (out / "checkpoint.safetensors").string(),
            {{"epoch", std::to_string(epoch)}, {"optimizer", optimizer}, {"model", model_kind}});
    }
    csv.close();
    plot(out);
    if (have("dot"))
        std::system(fmt::format("dot -Tpng '{}' -o '{}'", (out / "model.dot").string(),
                                (out / "model.png").string())
                        .c_str());
    std::string written = "metrics.csv";
    for (const char* f : {"metrics.png", "model.dot", "model.png", "checkpoint.safetensors"})
        if (fs::exists(out / f)) written += std::string(", ") + f;
    fmt::print("wrote {}: {}\n", out.string(), written);
    if (final_accuracy < min_accuracy) {
        fmt::print(stderr, "fashion_mnist: test accuracy {:.4f} is below --min-accuracy {}\n",
                   final_accuracy, min_accuracy);
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mnist: {}\n", e.what());
    return 1;
}
