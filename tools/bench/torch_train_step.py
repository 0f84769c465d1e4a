#!/usr/bin/env python3
"""PyTorch baseline of tools/bench/bench_train_step.cpp: one training step (forward, loss, backward, optimizer
step, zero_grad) of the same models at the same shapes:

  mlp_784_256_10_b32, mlp_32_64_10_b16  nn.Linear / ReLU / nn.Linear, F.cross_entropy, SGD lr 0.01 (one thread)
  convnet_b128   models::ConvNet's defaults: conv 1-32 and 32-64 (3x3, padding 1, no bias), BatchNorm2d, ReLU,
                 MaxPool2d(2); Flatten, Linear 3136-128, ReLU, Dropout 0.25, Linear 128-10; 1x28x28, batch 128, Adam 1e-3
  gpt_b16        models::GPT of the README: 4 layers, 4 heads, dim 128, context 256, 96-character vocabulary, token
                 embedding tied to the LM head, rotary positions (base 10000, rotate-half), pre-norm LayerNorm blocks,
                 attention through F.scaled_dot_product_attention(is_causal=True), GELU (exact) MLP of 512, biases;
                 batch 16 x 256 tokens, Adam 3e-4. (Tangent's MoBA variant has no PyTorch counterpart: compare it
                 with this dense softmax step.)

Prints the median milliseconds per step over several timed repeats, wall time and CPU time of this process (all
threads, as bench_train_step's threaded benchmarks measure it), and examples/s or tokens/s from both. On a loaded
machine compare the CPU figures; thread scaling needs wall time on an idle one.

    /opt/torch-venv/bin/python tools/bench/torch_train_step.py [--only gpt,convnet] [--threads 1,2] [--repeats 7]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def mlp_step(n_in, hidden, n_out, batch):
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

    return step, batch


def convnet_step(batch=128):
    torch.manual_seed(0)
    layers = []
    c = 1
    for out in (32, 64):
        layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
        c = out
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
                          nn.Linear(128, 10))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return step, batch


def rotary(x, base=10000.0):
    t, d = x.shape[-2], x.shape[-1]
    half = d // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)

    def forward(self, x, cos, sin):
        b, t, e = x.shape
        h = self.norm1(x)
        split = lambda z: z.view(b, t, self.heads, e // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))

        def rot(z):
            z1, z2 = z.chunk(2, dim=-1)
            return z * cos + torch.cat([-z2, z1], dim=-1) * sin

        a = F.scaled_dot_product_attention(rot(q), rot(k), v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, e))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=96, context=256, layers=4, heads=4, dim=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        cos, sin = rotary(torch.zeros(context, dim // heads))
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids):
        x = self.embed(ids)
        t = ids.shape[1]
        for blk in self.blocks:
            x = blk(x, self.cos[:t], self.sin[:t])
        return self.norm(x) @ self.embed.weight.t()  # the LM head tied to the embedding


def gpt_step(batch=16, context=256, vocab=96):
    torch.manual_seed(0)
    model = GPT(vocab=vocab, context=context)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    ids = torch.randint(0, vocab, (batch, context + 1))
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].reshape(-1)

    def step():
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return step, batch * context


def measure(step, repeats, min_time):
    for _ in range(3):  # warm up: allocator caches, lazy init
        step()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if time.perf_counter() - t0 >= min_time / 4 or n >= 1 << 20:
            break
        n *= 2
    n = max(1, int(n * min_time / max(time.perf_counter() - t0, 1e-9)))
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        cpu.append((time.process_time() - c0) / n * 1e3)
        wall.append((time.perf_counter() - w0) / n * 1e3)
    return statistics.median(cpu), statistics.median(wall), n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="mlp,convnet,gpt", help="comma list of mlp, convnet, gpt")
    ap.add_argument("--threads", default="1,2", help="comma list (the MLPs always run on one thread)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per repeat")
    args = ap.parse_args()
    only = args.only.split(",")
    print(f"torch {torch.__version__}")
    runs = []
    if "mlp" in only:
        runs += [("mlp_784_256_10_b32", lambda: mlp_step(784, 256, 10, 32), "examples", [1]),
                 ("mlp_32_64_10_b16", lambda: mlp_step(32, 64, 10, 16), "examples", [1])]
    threads = [int(t) for t in args.threads.split(",")]
    if "convnet" in only:
        runs.append(("convnet_b128", convnet_step, "examples", threads))
    if "gpt" in only:
        runs.append(("gpt_b16", gpt_step, "tokens", threads))
    for name, make, unit, thread_list in runs:
        for t in thread_list:
            torch.set_num_threads(t)
            step, items = make()
            cpu, wall, n = measure(step, args.repeats, args.min_time)
            print(f"torch_{name}/threads:{t}: {wall:10.3f} ms/step wall, {cpu:10.3f} ms/step cpu "
                  f"(median of {args.repeats} x {n}), {items / wall * 1e3:10.0f} {unit}/s wall, "
                  f"{items / cpu * 1e3:10.0f} {unit}/s cpu", flush=True)


if __name__ == "__main__":
    main()
