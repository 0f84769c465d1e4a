"""NumPy baseline for tools/bench/bench_linalg.cpp: numpy.linalg.eigh, eigvalsh and cholesky at n = 1024 and 4096.

Matrices are drawn as in bench_linalg ((G + G^T) / 2 for a standard normal G; plus n I for cholesky). One thread
unless --threads says otherwise; on a shared machine compare the CPU column with bench_linalg's CPU column (threadpoolctl when installed, else OPENBLAS_NUM_THREADS, which must then be set
before NumPy loads: this script sets it before importing NumPy). Prints one line per benchmark:

  numpy_linalg <name>/<n> median_ms=<wall ms> min_ms=<wall ms> cpu_median_ms=<process CPU ms> repeats=<k>

and, with threadpoolctl, the BLAS library NumPy runs on and the kernel (core type) it picked. OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE, if set in the environment, change that kernel: to compare with a current NumPy, unset both
for this command only (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...).
"""
import argparse
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--sizes", default="1024,4096")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--only", default="", help="comma-separated subset of eigh,eigvalsh,cholesky")
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ["OMP_NUM_THREADS"] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread variables)

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None

if threadpool_limits is not None:
    threadpool_limits(args.threads)
    for lib in threadpool_info():
        print(f"# {lib.get('internal_api')} {lib.get('version')} kernel={lib.get('architecture')} "
              f"threads={lib.get('num_threads')} {lib.get('filepath')}")
else:
    print("# threadpoolctl not installed: threads from OPENBLAS_NUM_THREADS only, kernel unknown", file=sys.stderr)
print(f"# numpy {np.__version__}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


def random_symmetric(n):
    g = np.random.default_rng(1).standard_normal((n, n))
    return (g + g.T) / 2


def timed(name, n, fn, repeats):
    fn()  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    print(f"numpy_linalg {name}/{n} median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} "
          f"cpu_median_ms={statistics.median(cpu):.1f} repeats={repeats}", flush=True)


only = set(filter(None, args.only.split(",")))
for n in [int(s) for s in args.sizes.split(",")]:
    a = random_symmetric(n)
    spd = a + n * np.eye(n)
    if not only or "eigh" in only:
        timed("eigh", n, lambda: np.linalg.eigh(a), args.repeats)
    if not only or "eigvalsh" in only:
        timed("eigvalsh", n, lambda: np.linalg.eigvalsh(a), args.repeats)
    if not only or "cholesky" in only:
        timed("cholesky", n, lambda: np.linalg.cholesky(spd), args.repeats)
