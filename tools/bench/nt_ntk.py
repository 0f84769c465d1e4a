"""neural-tangents baseline for tools/bench/bench_ntk.cpp (issue 15): empirical NTKs with JAX/XLA, one thread.

Run it with the virtual environment that has neural-tangents 0.6.5 and jax/jaxlib 0.4.25:

  python -m venv V && V/bin/pip install "jax[cpu]==0.4.25" "jaxlib==0.4.25" "numpy<2" "ml_dtypes<0.5" \\
      "scipy<1.13" neural-tangents==0.6.5
  V/bin/python tools/bench/nt_ntk.py [--only SUBSTRING] [--repeats 3] [--fcn-jacobian-n 16]

Each workload is `jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=..., vmap_axes=0, implementation=...))` on
stax networks in the standard parameterisation (stax.Dense / stax.Conv(parameterization="standard"), with
biases), float32; the time is the best of --repeats calls after one warm-up call (which compiles), waiting for
the result (block_until_ready). Workloads:

  mlp_trace_{structured,jacobian,ntvp}_n100  MLP 784-512-512-10 (ReLU), trace kernel of 100 inputs with themselves
  fcn_full_{structured,jacobian}_n16         FCN 3072-2048-2048-2048-8 (ReLU), full [16, 16, 8, 8] kernel, x1 != x2
                                             (neural-tangents' own benchmark shape; the jacobian method holds two
                                             16 x 8 x 10.5M float32 Jacobians, about 11 GB: --fcn-jacobian-n
                                             lowers its N)
  cnn_trace_structured_n500                  conv3x3(32)-ReLU-avgpool2-conv3x3(64)-ReLU-avgpool2-dense(10), SAME
                                             padding, trace kernel of the first 500 Fashion-MNIST test images
                                             (28x28, scaled to [0, 1]) read from /usr/share/datasets/fashion-mnist

Prints one line per workload:

  nt_ntk <name> best_ms=<ms> median_ms=<ms> best_cpu_ms=<ms> compile_ms=<warm-up ms> shape=<kernel shape>

(wall times; best_cpu_ms is the process's CPU time, the figure to compare on a loaded machine).
"""
import argparse
import gzip
import os
import statistics
import sys
import time
import types

# One thread for XLA (set before jax loads).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# neural-tangents' experimental TensorFlow bridge does not load beside jax 0.4.25: an empty module stands in.
sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

IMPL = {
    "jacobian": nt.NtkImplementation.JACOBIAN_CONTRACTION,
    "ntvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
    "structured": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
}
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def dense(n):
    return stax.Dense(n, W_std=1.0, b_std=0.05, parameterization="standard")


def mlp(widths, out):
    layers = []
    for w in widths:
        layers += [dense(w), stax.Relu()]
    return stax.serial(*layers, dense(out))


def cnn():
    def conv(c):
        return stax.Conv(c, (3, 3), padding="SAME", W_std=1.0, b_std=0.05, parameterization="standard")

    return stax.serial(conv(32), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2)),
                       conv(64), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2)),
                       stax.Flatten(), dense(10))


def fashion_mnist(n):
    with gzip.open(FASHION, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051 or count < n:
        raise SystemExit(f"nt_ntk: {FASHION} is not an IDX image file with at least {n} images")
    images = np.frombuffer(data[16:16 + n * rows * cols], dtype=np.uint8).reshape(n, rows, cols, 1)
    return jnp.asarray(images, dtype=jnp.float32) / 255.0  # NHWC


def run(name, net, input_shape, x1, x2, trace_axes, impl, repeats):
    init_fn, apply_fn, _ = net
    _, params = init_fn(jax.random.PRNGKey(0), input_shape)
    fn = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=trace_axes, vmap_axes=0, implementation=IMPL[impl]))
    t0 = time.perf_counter()
    out = fn(x1, x2, params).block_until_ready()  # warm-up: compiles
    compile_ms = (time.perf_counter() - t0) * 1e3
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(x1, x2, params).block_until_ready()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    print(f"nt_ntk {name} best_ms={min(times):.1f} median_ms={statistics.median(times):.1f} "
          f"best_cpu_ms={min(cpu):.1f} compile_ms={compile_ms:.0f} shape={list(out.shape)}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="substring of the workload names to run")
    ap.add_argument("--fcn-jacobian-n", type=int, default=16, help="N of fcn_full_jacobian (memory grows with it)")
    args = ap.parse_args()
    print(f"# jax {jax.__version__}, neural-tangents {getattr(nt, '__version__', '?')}, "
          f"XLA_FLAGS={os.environ['XLA_FLAGS']}", flush=True)
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(1), 3)
    x_mlp = jax.random.normal(key1, (100, 784))
    nj = args.fcn_jacobian_n
    x_fcn1, x_fcn2 = jax.random.normal(key2, (16, 3072)), jax.random.normal(key3, (16, 3072))
    cases = [
        ("mlp_trace_structured_n100", lambda: (mlp([512, 512], 10), (-1, 784), x_mlp, None, (-1,), "structured")),
        ("mlp_trace_jacobian_n100", lambda: (mlp([512, 512], 10), (-1, 784), x_mlp, None, (-1,), "jacobian")),
        ("mlp_trace_ntvp_n100", lambda: (mlp([512, 512], 10), (-1, 784), x_mlp, None, (-1,), "ntvp")),
        ("fcn_full_structured_n16",
         lambda: (mlp([2048] * 3, 8), (-1, 3072), x_fcn1, x_fcn2, (), "structured")),
        (f"fcn_full_jacobian_n{nj}",
         lambda: (mlp([2048] * 3, 8), (-1, 3072), x_fcn1[:nj], x_fcn2[:nj], (), "jacobian")),
        ("cnn_trace_structured_n500",
         lambda: (cnn(), (-1, 28, 28, 1), fashion_mnist(500), None, (-1,), "structured")),
    ]
    for name, make in cases:
        if args.only and args.only not in name:
            continue
        net, shape, x1, x2, trace_axes, impl = make()
        run(name, net, shape, x1, x2, trace_axes, impl, args.repeats)


if __name__ == "__main__":
    main()
