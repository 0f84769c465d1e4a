"""PyTorch baseline for tools/bench/bench_ntk.cpp: the empirical NTK with torch.func, single-threaded.

The recipe is the one of PyTorch's "Neural Tangent Kernels" tutorial: per-example Jacobians with
vmap(jacrev(f)) over functional_call, then an einsum contraction over parameters (jacobian contraction). Same
models and sizes as bench_ntk:

  fcn_full_jacobian_n4     FCN 3072-2048-2048-2048-8 (ReLU), full [4, 4, 8, 8] kernel, x1 != x2
  mlp_trace_jacobian_n100  MLP 784-512-512-10 (ReLU), trace kernel of 100 inputs against themselves

The FCN's Jacobians for N = 16 would take 2 x 7.5 GB (more than the development machine can spare), and the
tutorial's NTK-vector-product variant vmaps 16 x 16 x 8 parameter-sized cotangents at once (~120 GB); torch.func
has no structured-derivatives method, so bench_ntk's structured FCN at N = 16 has no direct PyTorch counterpart.
Prints the median wall and CPU time of `--repeats` runs after one warm-up, in milliseconds.
"""
import argparse
import statistics
import time

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).eval()


def jacobian_ntk(model, x1, x2, mode):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def f(p, x):
        return functional_call(model, p, (x.unsqueeze(0),)).squeeze(0)

    jac1 = vmap(jacrev(f), (None, 0))(params, x1)
    jac1 = [j.flatten(2) for j in jac1.values()]
    if x2 is None:
        jac2 = jac1
    else:
        jac2 = vmap(jacrev(f), (None, 0))(params, x2)
        jac2 = [j.flatten(2) for j in jac2.values()]
    eq = {"full": "Naf,Mbf->NMab", "trace": "Naf,Maf->NM", "diagonal": "Naf,Maf->NMa"}[mode]
    return sum(torch.einsum(eq, j1, j2) for j1, j2 in zip(jac1, jac2))


def timed(fn, repeats):
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="substring of the benchmark names to run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    fcn = mlp([3072, 2048, 2048, 2048, 8])
    m = mlp([784, 512, 512, 10])
    cases = {
        "fcn_full_jacobian_n4": lambda: jacobian_ntk(fcn, torch.randn(4, 3072), torch.randn(4, 3072), "full"),
        "mlp_trace_jacobian_n100": lambda: jacobian_ntk(m, torch.randn(100, 784), None, "trace"),
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for name, fn in cases.items():
        if args.only and args.only not in name:
            continue
        wall, cpu, out = timed(fn, args.repeats)
        print(f"{name:28s} wall {wall:10.1f} ms   cpu {cpu:10.1f} ms   shape {tuple(out.shape)}")


if __name__ == "__main__":
    main()
