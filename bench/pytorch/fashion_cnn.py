#!/usr/bin/env python3
"""PyTorch reference for distconv's default job (examples/fashion-cnn.json).

Same model, data, optimiser and batch as distconv's training of fashion-cnn, so that
bench/run-train can print PyTorch's training images/s next to distconv's:

  conv1 3x3 1->16 pad 1, ReLU, max-pool 2x2, conv2 3x3 16->32 pad 1, ReLU, max-pool 2x2,
  fc 32*7*7 -> 10, softmax cross-entropy; SGD lr 0.01 momentum 0.9, global batch 64,
  Fashion-MNIST from the IDX .gz files of the Debian package dataset-fashion-mnist, scaled
  to [0, 1] and normalised with mean 0.2860, std 0.3530, reshuffled every epoch.

One process:   OMP_NUM_THREADS=1 python3 bench/pytorch/fashion_cnn.py
Data parallel: OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 --master-addr 127.0.0.1 \\
                   --master-port 29533 bench/pytorch/fashion_cnn.py --steps 300
With WORLD_SIZE > 1 (torchrun) every rank takes a disjoint slice of each global batch
(per-rank batch = batch / world, so the global batch stays 64), gradients are averaged
by DistributedDataParallel over the gloo backend.

Prints per epoch
  epoch E/T  train loss L  test loss L  test accuracy A%  N images/s  S s
(S: seconds of that epoch's training loop; N: training images/s of that epoch, the first
--warmup steps of the run left out) and at the end one machine-readable line
  pytorch images_per_s=<float> test_accuracy=<float> world=<n> threads=<t>
with images_per_s the global training images per second over the training loop only
(no data loading, no evaluation, the first --warmup steps left out) and test_accuracy
in percent after the last epoch.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        return self.fc(torch.flatten(x, 1))


def read_idx(path):
    """An IDX file (.gz) as a numpy array of its dimensions (uint8 data only)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {array.size} values for dimensions {dims}")
    return array.reshape(dims)


def load_fashion_mnist(directory, wait_s):
    """Normalised images (N, 1, 28, 28) float32 and int64 labels of both splits.

    The Debian package may still be being installed: wait up to wait_s seconds for the
    files to appear and read whole."""
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            raw = {k: read_idx(os.path.join(directory, v)) for k, v in FILES.items()}
            break
        except (OSError, EOFError, ValueError) as e:
            if time.monotonic() > deadline:
                sys.exit(f"fashion_cnn: cannot read Fashion-MNIST in {directory}: {e}")
            if not said:
                print(f"fashion_cnn: waiting for Fashion-MNIST in {directory} ({e})",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(5)

    def images(a):
        x = torch.from_numpy(a.astype(np.float32) / 255.0)
        return ((x - MEAN) / STD).unsqueeze(1).contiguous()

    def labels(a):
        return torch.from_numpy(a.astype(np.int64))

    return (images(raw["train_images"]), labels(raw["train_labels"]),
            images(raw["test_images"]), labels(raw["test_labels"]))


def rank_slice(n, rank, world):
    """Rank's half-open slice of n items split into world parts, the first n % world
    parts one item longer (a disjoint slice of the global batch)."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def evaluate(model, x, y, rank, world, chunk=1000):
    """Mean cross-entropy and accuracy (percent) over the whole set, each rank taking a
    disjoint part and the sums all-reduced."""
    lo, hi = rank_slice(x.shape[0], rank, world)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        for s in range(lo, hi, chunk):
            e = min(s + chunk, hi)
            out = model(x[s:e])
            loss_sum += F.cross_entropy(out, y[s:e], reduction="sum").double()
            correct += (out.argmax(1) == y[s:e]).sum().double()
    model.train()
    totals = torch.stack([loss_sum, correct])
    if world > 1:
        dist.all_reduce(totals)
    return totals[0].item() / x.shape[0], 100.0 * totals[1].item() / x.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many training steps in all (default: all epochs)")
    p.add_argument("--batch", type=int, default=64, help="global batch size")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--warmup", type=int, default=20,
                   help="steps at the start of the run left out of the timing")
    p.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR",
                                                    "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--wait", type=float, default=900,
                   help="seconds to wait for the data set to appear")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch < world:
        sys.exit(f"fashion_cnn: batch {args.batch} smaller than world {world}")
    lead = rank == 0

    def say(*a):
        if lead:
            print(*a, flush=True)

    x_train, y_train, x_test, y_test = load_fashion_mnist(args.data, args.wait)

    torch.manual_seed(args.seed)  # the same initial weights on every rank
    net = FashionCNN()
    model = net
    if world > 1:
        model = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)

    n = x_train.shape[0]
    steps_per_epoch = n // args.batch  # the last incomplete batch is dropped
    lo, hi = rank_slice(args.batch, rank, world)
    # Each rank's loss is its share of the global batch mean; DDP averages gradients
    # over ranks, so world * sum / batch makes the gradient that of the global mean.
    scale = world / args.batch
    say(f"pytorch {torch.__version__} world={world} threads={torch.get_num_threads()} "
        f"batch={args.batch} (per rank {hi - lo}) lr={args.lr} momentum={args.momentum} "
        f"steps/epoch={steps_per_epoch} train={n} test={x_test.shape[0]}")

    step = 0
    timed_s = 0.0
    timed_images = 0
    accuracy = float("nan")
    done = False
    for epoch in range(args.epochs):
        order = torch.from_numpy(
            np.random.default_rng(args.seed * 1000003 + epoch).permutation(n))
        loss_sum = torch.zeros((), dtype=torch.float64)
        epoch_steps = 0
        epoch_s = 0.0
        epoch_timed_s = 0.0
        epoch_timed_images = 0
        for b in range(steps_per_epoch):
            if args.steps is not None and step >= args.steps:
                done = True
                break
            t0 = time.perf_counter()
            idx = order[b * args.batch + lo: b * args.batch + hi]
            xb, yb = x_train[idx], y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, reduction="sum") * scale
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            dt = time.perf_counter() - t0
            loss_sum += loss.detach().double()
            epoch_s += dt
            if step >= args.warmup:
                epoch_timed_s += dt
                epoch_timed_images += args.batch
            step += 1
            epoch_steps += 1
        if epoch_steps == 0:
            break
        losses = torch.stack([loss_sum])
        if world > 1:
            dist.all_reduce(losses)
        train_loss = losses[0].item() / (world * epoch_steps)
        test_loss, accuracy = evaluate(net, x_test, y_test, rank, world)
        rate = epoch_timed_images / epoch_timed_s if epoch_timed_s > 0 else float("nan")
        say(f"epoch {epoch + 1}/{args.epochs}  train loss {train_loss:.4f}  "
            f"test loss {test_loss:.4f}  test accuracy {accuracy:.2f}%  "
            f"{rate:.1f} images/s  {epoch_s:.1f} s")
        timed_s += epoch_timed_s
        timed_images += epoch_timed_images
        if done:
            break

    rate = timed_images / timed_s if timed_s > 0 else float("nan")
    if timed_s == 0:
        say(f"fashion_cnn: {step} steps, none after the {args.warmup} warm-up steps: no rate")
    say(f"pytorch images_per_s={rate:.2f} test_accuracy={accuracy:.2f} "
        f"world={world} threads={torch.get_num_threads()}")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
