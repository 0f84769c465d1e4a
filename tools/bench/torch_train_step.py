#!/usr/bin/env python3
"""PyTorch baseline of tools/bench/bench_train_step.cpp: one training step (forward through nn.Linear / ReLU /
nn.Linear, F.cross_entropy, backward, SGD lr 0.01 step, zero_grad) of an MLP 784-256-10 at batch 32 and of
32-64-10 at batch 16, single-threaded. Prints the median microseconds per step over several timed repeats (CPU time
of this process, which a loaded machine disturbs less than wall time) and the wall-clock median beside it.

    python3 tools/bench/torch_train_step.py [--repeats 15] [--min-time 0.2]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def make_step(n_in, hidden, n_out, batch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, n_in)
    y = torch.randint(0, n_out, (batch,))

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return step


def measure(step, repeats, min_time):
    for _ in range(200):  # warm up: allocator caches, lazy init, branch predictors
        step()
    # Calibrate the inner loop so one repeat lasts about min_time seconds.
    n = 1
    while True:
        t0 = time.process_time()
        for _ in range(n):
            step()
        if time.process_time() - t0 >= min_time / 4 or n >= 1 << 20:
            break
        n *= 2
    n = max(1, int(n * min_time / max(time.process_time() - t0, 1e-9)))
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        cpu.append((time.process_time() - c0) / n * 1e6)
        wall.append((time.perf_counter() - w0) / n * 1e6)
    return statistics.median(cpu), statistics.median(wall), n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for name, shape in (("784_256_10_b32", (784, 256, 10, 32)), ("32_64_10_b16", (32, 64, 10, 16))):
        step = make_step(*shape)
        cpu, wall, n = measure(step, args.repeats, args.min_time)
        print(f"torch_train_step_{name}: {cpu:9.2f} us/step (cpu, median of {args.repeats} x {n}), "
              f"{wall:9.2f} us/step (wall)")


if __name__ == "__main__":
    main()
