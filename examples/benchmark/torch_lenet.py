#!/usr/bin/python3
"""PyTorch's training step on lenet-fm, the reference that run.sh sets beside nalgrad's benchmark.

lenet-fm, on Fashion-MNIST's 28x28 grey images, standardised (mean 0.2860, std 0.3530):
  conv 5x5 1->32 SAME + bias, ReLU, max pool 2x2/2, conv 5x5 32->64 SAME + bias, ReLU,
  max pool 2x2/2, flatten (3136), dense 3136->512, ReLU, dense 512->10,
  softmax cross-entropy (mean over the batch), SGD (lr 0.01, momentum 0.9).
A step is the benchmark's: zero_grad(set_to_none), forward, backward, update.

Each configuration (batch x threads x memory format) runs in --rounds rounds, interleaved so that
a slower stretch of a shared machine touches every configuration; a round builds the model afresh,
runs --warmup untimed steps, then times --steps steps. Reported per configuration: the median of
all timed steps and each round's median. The step times use random standardised-looking data, as
the benchmark does: the values do not change the work. Then, unless --no-epoch, one epoch on the
real training set per seed (--epoch-seeds), and the test accuracy.

Run with Debian's /usr/bin/python3 (python3-torch), through openblas.sh, which gives PyTorch
OpenBLAS in place of the reference BLAS:
  examples/benchmark/openblas.sh /usr/bin/python3 examples/benchmark/torch_lenet.py \\
      --batches 64 --threads 2 --no-epoch --json out.json
--json writes {"steps": [{"batch", "threads", "fmt", "median_ms", "round_medians_ms", ...}],
"epochs": [...]}; run.sh reads each step entry's "fmt" and "median_ms".
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and deviation, on [0, 1]
FORMATS = ("contiguous", "channels_last")
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


class LeNetFM(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)  # padding 2 is SAME for a 5x5 kernel
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.dense1 = nn.Linear(7 * 7 * 64, 512)
        self.dense2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.dense1(torch.flatten(x, 1)))
        return self.dense2(x)  # logits: the loss applies the softmax


def make_model(fmt, seed):
    torch.manual_seed(seed)
    model = LeNetFM()
    if fmt == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def train_step(model, sgd, images, labels):
    sgd.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    sgd.step()


def in_format(images, fmt):
    # images: N,1,28,28. With one channel both formats hold the same bytes; channels_last only
    # changes the strides, which decides the layout PyTorch's convolutions pick.
    if fmt == "channels_last":
        return images.contiguous(memory_format=torch.channels_last)
    return images


class CpuWindow:
    """Cores that other processes (and the hypervisor, as steal time) kept busy while the window
    was open: machine-wide busy time from /proc/stat minus this process's CPU time, per wall
    second; None when /proc/stat is unreadable. The benchmark annotates its figures the same way."""

    @staticmethod
    def _machine_busy_s():
        try:
            with open("/proc/stat") as f:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                    int, f.readline().split()[1:9])
        except (OSError, ValueError):
            return None
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        self.busy, self.own = self._machine_busy_s(), time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *_):
        busy, wall_s = self._machine_busy_s(), time.perf_counter() - self.wall
        if busy is None or self.busy is None or wall_s <= 0:
            self.foreign = None
        else:
            foreign = (busy - self.busy) - (time.process_time() - self.own)
            self.foreign = max(foreign, 0.0) / wall_s


def time_round(batch, threads, fmt, warmup, steps):
    """One round of a configuration: per-step times in ms, and the foreign load."""
    torch.set_num_threads(threads)
    model, sgd = make_model(fmt, seed=0)
    gen = torch.Generator().manual_seed(1)
    images = in_format(torch.randn(batch, 1, 28, 28, generator=gen), fmt)
    labels = torch.randint(0, 10, (batch,), generator=gen)
    for _ in range(warmup):
        train_step(model, sgd, images, labels)
    times = []
    with CpuWindow() as window:
        for _ in range(steps):
            start = time.perf_counter()
            train_step(model, sgd, images, labels)
            times.append((time.perf_counter() - start) * 1e3)
    return times, window.foreign


def read_idx(path):
    """An IDX file (gzip): the big-endian magic's last byte is the rank, then one u32 per dim."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(root, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels


def batch_tensors(images, labels, index, fmt):
    x = torch.from_numpy(images[index]).float().div_(255.0).sub_(MEAN).div_(STD).unsqueeze(1)
    return in_format(x, fmt), torch.from_numpy(labels[index].astype(np.int64))


def run_epoch(root, seed, fmt, batch, threads):
    """One shuffled epoch (the last, smaller batch included), then the test accuracy."""
    train_images, train_labels = load_split(root, "train")
    test_images, test_labels = load_split(root, "test")
    torch.set_num_threads(threads)
    model, sgd = make_model(fmt, seed)
    order = np.random.default_rng(seed).permutation(len(train_images))
    start = time.perf_counter()
    steps = 0
    with CpuWindow() as window:
        for i in range(0, len(order), batch):
            images, labels = batch_tensors(train_images, train_labels, order[i:i + batch], fmt)
            train_step(model, sgd, images, labels)
            steps += 1
    wall_s = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_images), 1000):
            index = np.arange(i, min(i + 1000, len(test_images)))
            images, labels = batch_tensors(test_images, test_labels, index, fmt)
            correct += (model(images).argmax(1) == labels).sum().item()
    return dict(seed=seed, fmt=fmt, batch=batch, threads=threads, steps=steps, epoch_wall_s=wall_s,
                test_acc=correct / len(test_images), foreign_cores=window.foreign)


def blas_libraries():
    """The BLAS libraries the process mapped: whether OpenBLAS took the reference BLAS's place."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))  # loads the BLAS if nothing has yet
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line and ".so" in line}
    found = ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none found"
    if "openblas" in found:
        found += f" (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'detected')})"
    return found


def cores(foreign):
    return "unknown" if foreign is None else f"{foreign:.2f}"


def at_least(low):
    def parse(text):
        if not text.isdigit() or int(text) < low:
            raise argparse.ArgumentTypeError(f"'{text}': an integer of at least {low}")
        return int(text)
    return parse


def positive_ints(text):
    return [at_least(1)(v) for v in text.split(",")]


def memory_formats(text):
    values = text.split(",")
    if any(v not in FORMATS for v in values):
        raise argparse.ArgumentTypeError(f"'{text}': {' and/or '.join(FORMATS)}")
    return values


def parse_arguments():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=positive_ints, default="64,256", help="batch sizes (64,256)")
    p.add_argument("--threads", type=positive_ints, default="1,2", help="thread counts (1,2)")
    p.add_argument("--formats", type=memory_formats, default=",".join(FORMATS),
                   help="memory formats (contiguous,channels_last)")
    p.add_argument("--warmup", type=at_least(0), default=10, help="untimed steps per round (10)")
    p.add_argument("--steps", type=at_least(1), default=30, help="timed steps per round (30)")
    p.add_argument("--rounds", type=at_least(1), default=2, help="rounds per configuration (2)")
    p.add_argument("--no-epoch", action="store_true", help="step times only, no epoch")
    p.add_argument("--epoch-only", action="store_true", help="the epoch only, no step times")
    p.add_argument("--epoch-seeds", type=lambda t: [at_least(0)(v) for v in t.split(",")],
                   default="0", help="one epoch per seed (0)")
    p.add_argument("--epoch-batch", type=at_least(1), default=64, help="the epoch's batch (64)")
    p.add_argument("--epoch-threads", type=at_least(1), default=2, help="the epoch's threads (2)")
    p.add_argument("--epoch-format", choices=FORMATS, default="contiguous",
                   help="the epoch's memory format (contiguous)")
    p.add_argument("--data", default=os.environ.get("FMNIST_DIR", FASHION_MNIST_ROOT),
                   help=f"folder with Fashion-MNIST's IDX files ({FASHION_MNIST_ROOT})")
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args()


def time_steps(a):
    configs = [] if a.epoch_only else [
        (b, t, f) for b in a.batches for t in a.threads for f in a.formats]
    if not configs:
        return []
    rounds = {c: [] for c in configs}
    for _ in range(a.rounds):
        for c in configs:
            rounds[c].append(time_round(*c, a.warmup, a.steps))
    results = []
    print(f"{'B':>4} {'thr':>3} {'format':<13} {'median ms':>9} {'round medians ms':>22} "
          f"{'img/s':>8} {'foreign cores':>14}")
    for (batch, threads, fmt), runs in rounds.items():
        times = [t for run, _ in runs for t in run]
        median = statistics.median(times)
        round_medians = [statistics.median(run) for run, _ in runs]
        foreign = [f for _, f in runs]
        results.append(dict(batch=batch, threads=threads, fmt=fmt, median_ms=median,
                            round_medians_ms=round_medians, min_ms=min(times), max_ms=max(times),
                            img_per_s=batch / median * 1e3, foreign_cores=foreign))
        print(f"{batch:>4} {threads:>3} {fmt:<13} {median:9.2f} "
              f"{' / '.join(f'{m:.2f}' for m in round_medians):>22} {batch / median * 1e3:8.0f} "
              f"{' / '.join(map(cores, foreign)):>14}", flush=True)
    return results


def main():
    a = parse_arguments()
    print(f"torch {torch.__version__}, {os.cpu_count()} cpus, BLAS: {blas_libraries()}", flush=True)
    steps = time_steps(a)
    epochs = []
    if not a.no_epoch:
        for seed in a.epoch_seeds:
            e = run_epoch(a.data, seed, a.epoch_format, a.epoch_batch, a.epoch_threads)
            epochs.append(e)
            print(f"epoch (B={e['batch']}, {e['threads']} threads, {e['fmt']}, seed {seed}): "
                  f"{e['steps']} steps in {e['epoch_wall_s']:.2f} s "
                  f"({e['epoch_wall_s'] / e['steps'] * 1e3:.2f} ms/step), test accuracy "
                  f"{e['test_acc']:.4f}, foreign load {cores(e['foreign_cores'])} cores",
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(steps=steps, epochs=epochs), f, indent=1)


if __name__ == "__main__":
    main()
