#!/usr/bin/env python3
"""PyTorch baseline of tools/bench/bench_attention.cpp: F.scaled_dot_product_attention (CPU, float32,
is_causal=True) forward and forward+backward at B=1, H=8, D=64, N in {512, 1024, 2048, 4096}, single-threaded.
Prints the median milliseconds over several timed repeats: CPU time of this process (which a loaded machine disturbs
less than wall time) and wall time beside it. PyTorch picks its own CPU backend for SDPA (its flash kernel for
float32 CPU inputs); the sigmoid kind has no PyTorch counterpart, so softmax is the baseline for both.

    python3 tools/bench/torch_attention.py [--repeats 7] [--sizes 512 1024 2048 4096]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

B, H, D = 1, 8, 64


def make(n, backward):
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, H, n, D, requires_grad=backward) for _ in range(3))
    g = torch.randn(B, H, n, D)

    def run():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if backward:
            torch.autograd.grad(out, (q, k, v), g)
        return out

    return run


def measure(run, repeats):
    for _ in range(2):  # warm up
        run()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu) * 1e3, statistics.median(wall) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, B={B} H={H} D={D}, causal, float32")
    print(f"{'N':>6} {'mode':>8} {'cpu ms':>9} {'wall ms':>9} {'GFLOPS':>8}")
    for n in args.sizes:
        for backward in (False, True):
            cpu, wall = measure(make(n, backward), args.repeats)
            flops = 2.0 * B * H * n * n * D * (3.5 if backward else 1.0)  # causal: half of 4 B H N^2 D
            mode = "fwd+bwd" if backward else "fwd"
            print(f"{n:>6} {mode:>8} {cpu:>9.2f} {wall:>9.2f} {flops / cpu / 1e6:>8.1f}")


if __name__ == "__main__":
    main()
