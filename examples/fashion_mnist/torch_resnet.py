"""The PyTorch twin of the example's residual network (resnet.hpp) and of its training recipe
(main.cpp with --model resnet), for side-by-side figures on the same machine. Run with Debian's
/usr/bin/python3 (python3-torch):

    /usr/bin/python3 examples/fashion_mnist/torch_resnet.py --epochs 30 --seed 1
    /usr/bin/python3 examples/fashion_mnist/torch_resnet.py --epochs 1 --threads 2   # one epoch
    /usr/bin/python3 examples/fashion_mnist/torch_resnet.py --step-benchmark --batch 64

Same network, names and initialisation (He-uniform weights, zero biases, batch norm gamma 1 and
beta 0), the same recipe (SGD with momentum and weight decay on the convolution and dense weights
only, a cosine schedule stepped per batch, batch 128 by default) and the same augmentation (random
crop after zero padding, horizontal flip), channels_last. Writes metrics.csv to --out.
tests/data/torch_resnet_reference.py imports the network to produce the numbers the equivalence
test compares against."""
import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STDDEV = 0.2860, 0.3530


class Projection(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = Projection(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, widths=(32, 64, 128), blocks=1):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s in range(3):
            stage = []
            for b in range(blocks):
                stage.append(BasicBlock(cin, widths[s], 2 if s > 0 and b == 0 else 1))
                cin = widths[s]
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*stage))
        self.fc = nn.Linear(widths[2], 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                # nalgrad's He-uniform: U(-b, b), b = sqrt(6 / fan_in).
                nn.init.kaiming_uniform_(m.weight, a=0, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def to_nalgrad(name, tensor):
    """A PyTorch parameter or buffer in nalgrad's layout: convolutions HWIO, dense [in, out]."""
    t = tensor.detach()
    if t.dim() == 4:
        return t.permute(2, 3, 1, 0).contiguous()
    if t.dim() == 2 and name.endswith("weight"):
        return t.t().contiguous()
    return t.clone()


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(root, split):
    prefix = "train" if split == "train" else "t10k"

    def find(kind):
        for suffix in (".gz", ""):
            path = os.path.join(root, "%s-%s-ubyte%s" % (prefix, kind, suffix))
            if os.path.exists(path):
                return path
        raise FileNotFoundError("no %s-%s-ubyte(.gz) in %s" % (prefix, kind, root))

    images = torch.from_numpy(read_idx(find("images-idx3")).copy()).float().div_(255)
    labels = torch.from_numpy(read_idx(find("labels-idx1")).astype(np.int64))
    return images.unsqueeze(1), labels  # [n, 1, 28, 28]


def augment(x, padding, flip, generator):
    """Random crop after zero padding (zero before standardisation), then a horizontal flip."""
    n, _, h, w = x.shape
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        mirrored = torch.rand(n, generator=generator) < 0.5
        x = torch.where(mirrored.view(n, 1, 1, 1), x.flip(3), x)
    return x


def make_optimizer(model, a):
    """SGD with weight decay on the convolution and dense weights only (not biases, not batch
    norm), as PyTorch users write it and as main.cpp does."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.SGD([{"params": decay, "weight_decay": a.weight_decay},
                            {"params": no_decay, "weight_decay": 0}],
                           lr=a.lr, momentum=a.momentum)


def step_benchmark(a):
    """The training step on a fixed random batch, as examples/benchmark/resnet_step.cpp times
    it: median ms over the timed steps after the warm-up."""
    model = ResNet(widths=(a.width, 2 * a.width, 4 * a.width),
                   blocks=a.blocks).to(memory_format=torch.channels_last)
    opt = make_optimizer(model, a)
    x = torch.randn(a.batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    ms = times[len(times) // 2] if len(times) % 2 else 0.5 * (times[len(times) // 2 - 1] +
                                                             times[len(times) // 2])
    print("resnet B=%d threads=%d: PyTorch %.2f ms/step, %.0f images/s (torch %s, channels_last)"
          % (a.batch, torch.get_num_threads(), ms, 1000 * a.batch / ms, torch.__version__))


def evaluate(model, images, labels, batch=500):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = ((images[i:i + batch] - MEAN) / STDDEV).contiguous(memory_format=torch.channels_last)
            logits = model(x)
            loss += F.cross_entropy(logits, labels[i:i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
    model.train()
    return loss / len(images), correct / len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--crop-padding", type=int, default=2)
    parser.add_argument("--no-flip", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="runs/torch_resnet")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--step-benchmark", action="store_true",
                        help="time the training step on a random batch instead of training")
    parser.add_argument("--steps", type=int, default=30, help="--step-benchmark: timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="--step-benchmark: untimed steps")
    a = parser.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.step_benchmark:
        step_benchmark(a)
        return
    train_x, train_y = fashion_mnist(a.data, "train")
    test_x, test_y = fashion_mnist(a.data, "test")
    if a.limit:
        train_x, train_y = train_x[:a.limit], train_y[:a.limit]
    model = ResNet(widths=(a.width, 2 * a.width, 4 * a.width),
                   blocks=a.blocks).to(memory_format=torch.channels_last)
    opt = make_optimizer(model, a)
    steps = a.epochs * math.ceil(len(train_x) / a.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    generator = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    csv = open(os.path.join(a.out, "metrics.csv"), "w")
    csv.write("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,train_seconds\n")
    print("torch %s, %d threads, %d training images, batch %d" %
          (torch.__version__, torch.get_num_threads(), len(train_x), a.batch))
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(train_x), generator=generator)
        seen, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(order), a.batch):
            index = order[i:i + a.batch]
            x = augment(train_x[index], a.crop_padding, not a.no_flip, generator)
            x = ((x - MEAN) / STDDEV).contiguous(memory_format=torch.channels_last)
            y = train_y[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            seen += len(index)
            loss_sum += loss.item() * len(index)
            correct += (logits.argmax(1) == y).sum().item()
        train_seconds = time.perf_counter() - start
        test_loss, test_accuracy = evaluate(model, test_x, test_y)
        seconds = time.perf_counter() - start
        print("epoch %d: train loss %.4f accuracy %.4f | test loss %.4f accuracy %.4f | %.1fs "
              "(%.1fs training)" % (epoch, loss_sum / seen, correct / seen, test_loss,
                                    test_accuracy, seconds, train_seconds), flush=True)
        csv.write("%d,%.6f,%.6f,%.6f,%.6f,%.2f,%.2f\n" % (epoch, loss_sum / seen, correct / seen,
                                                          test_loss, test_accuracy, seconds,
                                                          train_seconds))
        csv.flush()


if __name__ == "__main__":
    main()
