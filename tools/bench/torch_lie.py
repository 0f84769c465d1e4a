#!/usr/bin/env python3
"""PyTorch baseline of tools/bench/bench_lie.cpp: the lifting and group convolutions of Mironenco & Forre
(ICLR 2024) built the way the released code builds them (torch.linalg.eigh for the polar decomposition, matrix
square roots and logarithms; the kernel grid from F.affine_grid; a SIREN kernel network; every sample in one
F.conv2d), at the same shapes, forward + backward, single-threaded. SL(2,R), kernel 5x5:
  lift C/N        1 -> C channels, N samples, no padding, on 40x40
  group_conv C/N  C -> C channels, N -> N samples, padding 2, on 36x36
Prints the median milliseconds per image (CPU time of this process, which a loaded machine disturbs less than
wall time) and the wall-clock median beside it.

    /opt/torch-venv/bin/python tools/bench/torch_lie.py [--repeats 7] [--min-time 0.5]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class Siren(nn.Module):
    def __init__(self, d_in, d_out, c_in, k, width=60, hidden=2, omega=10.0):
        super().__init__()
        self.omega = omega
        dims = [d_in] + [width] * (hidden + 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, d_out)
        with torch.no_grad():
            self.layers[0].weight.uniform_(-1 / d_in, 1 / d_in)
            for l in self.layers[1:]:
                l.weight.uniform_(-math.sqrt(6 / width) / omega, math.sqrt(6 / width) / omega)
                l.bias.zero_()
            b = math.sqrt(6 / width) / math.sqrt(c_in * k * k)
            self.out.weight.uniform_(-b, b)
            self.out.bias.zero_()

    def forward(self, z):
        for l in self.layers:
            z = torch.sin(self.omega * l(z))
        return self.out(z)


def sample_sl2(n, spd_std=math.sqrt(0.1)):
    """g = S^1/2 R(theta), S = exp(X), X traceless symmetric; theta on the even grid; returns (g, g^-1)."""
    theta = -math.pi + 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    c, s = torch.cos(theta), torch.sin(theta)
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    v = torch.randn(n, 2, dtype=torch.float64) * spd_std
    X = torch.zeros(n, 2, 2, dtype=torch.float64)
    X[:, 0, 0], X[:, 1, 1] = v[:, 0] / math.sqrt(2), -v[:, 0] / math.sqrt(2)
    X[:, 0, 1] = X[:, 1, 0] = v[:, 1] / math.sqrt(2)
    lam, Q = torch.linalg.eigh(X / 2)
    half = Q @ torch.diag_embed(torch.exp(lam)) @ Q.transpose(-1, -2)
    half_inv = Q @ torch.diag_embed(torch.exp(-lam)) @ Q.transpose(-1, -2)
    return (half @ R).float(), (R.transpose(-1, -2) @ half_inv).float()


def chart_sl2(h):
    """xi^-1 as released: P = (h h^T)^1/2 and log P by eigh, R = P^-1 h, theta = atan2(R10, R00)."""
    lam, Q = torch.linalg.eigh(h @ h.transpose(-1, -2))
    P = Q @ torch.diag_embed(lam.sqrt()) @ Q.transpose(-1, -2)
    logP = Q @ torch.diag_embed(0.5 * lam.log()) @ Q.transpose(-1, -2)
    R = torch.linalg.solve(P, h)
    theta = torch.atan2(R[..., 1, 0], R[..., 0, 0])
    return torch.stack([math.sqrt(2) * logP[..., 0, 1], theta, math.sqrt(2) * logP[..., 0, 0]], -1)


def kernel_grid(k):
    return F.affine_grid(torch.eye(2, 3)[None], [1, 1, k, k], align_corners=False)[0].reshape(k * k, 2)


class Lift(nn.Module):
    def __init__(self, c_out, n, k=5):
        super().__init__()
        self.c_out, self.n, self.k = c_out, n, k
        self.net = Siren(2, c_out, 1, k)
        self.register_buffer("grid", kernel_grid(k))

    def forward(self, x):
        g, g_inv = sample_sl2(self.n)
        z = torch.einsum("nij,pj->npi", g_inv, self.grid)  # [N, k*k, 2]
        mask = (z.norm(dim=-1, keepdim=True) <= 1).float()
        w = (self.net(z) * mask).reshape(self.n, self.k, self.k, self.c_out, 1)
        w = w.permute(3, 0, 4, 1, 2).reshape(self.c_out * self.n, 1, self.k, self.k)
        return F.conv2d(x, w), (g, g_inv)


class GroupConv(nn.Module):
    def __init__(self, c_in, c_out, n, k=5, padding=2):
        super().__init__()
        self.c_in, self.c_out, self.n, self.k, self.padding = c_in, c_out, n, k, padding
        self.net = Siren(5, c_out * c_in, c_in, k)
        self.register_buffer("grid", kernel_grid(k))

    def forward(self, x, samples_in):
        h, _ = samples_in
        g, g_inv = sample_sl2(self.n)
        with torch.no_grad():
            rel = chart_sl2((g_inv[:, None] @ h[None]).double()).float()  # [No, Ni, 3]
        z = torch.einsum("nij,pj->npi", g_inv, self.grid)  # [No, k*k, 2]
        n_in = h.shape[0]
        pts = torch.cat([z[:, None].expand(-1, n_in, -1, -1), rel[:, :, None].expand(-1, -1, self.k * self.k, -1)], -1)
        mask = (z.norm(dim=-1) <= 1).float()[:, None, :, None]
        w = (self.net(pts) * mask).reshape(self.n, n_in, self.k, self.k, self.c_out, self.c_in)
        w = w.permute(4, 0, 5, 1, 2, 3).reshape(self.c_out * self.n, self.c_in * n_in, self.k, self.k)
        return F.conv2d(x, w, padding=self.padding)


def batch_for(c, n):
    return 2 if c * n >= 200 else 8


def measure(step, repeats, min_time):
    for _ in range(2):
        step()
    n, t0 = 1, time.process_time()
    step()
    n = max(1, int(min_time / max(time.process_time() - t0, 1e-9)))
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        cpu.append((time.process_time() - c0) / n)
        wall.append((time.perf_counter() - w0) / n)
    return statistics.median(cpu), statistics.median(wall), n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repeat")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    cases = [("lift", c, n) for c, n in ((16, 4), (16, 8), (40, 10))]
    cases += [("group_conv", c, n) for c, n in ((8, 4), (16, 4), (16, 8), (40, 10))]
    for kind, c, n in cases:
        b = batch_for(c, n)
        if kind == "lift":
            layer = Lift(c, n)
            x = torch.rand(b, 1, 40, 40)

            def step():
                layer.zero_grad()
                layer(x)[0].sum().backward()
        else:
            layer = GroupConv(c, c, n)
            x = torch.randn(b, c * n, 36, 36, requires_grad=True)
            samples = sample_sl2(n)

            def step():
                layer.zero_grad()
                layer(x, samples).sum().backward()

        cpu, wall, reps = measure(step, args.repeats, args.min_time)
        print(f"torch_lie_{kind}/{c}/{n}: {cpu / b * 1e3:9.3f} ms/image (cpu, median of {args.repeats} x {reps}, "
              f"batch {b}), {wall / b * 1e3:9.3f} ms/image (wall)")


if __name__ == "__main__":
    main()
