// The dense float64 decompositions (ops/decomposition.h, LAPACK on OpenBLAS) on random symmetric matrices:
// eigh (eigenvalues and eigenvectors), eigvalsh and cholesky at n = 1024 and 4096, one thread. The NumPy baseline
// is tools/bench/numpy_linalg.py (numpy.linalg.eigh and friends on matrices drawn the same way).
#include <benchmark/benchmark.h>

#include <tangent/tangent.h>

#include "ops/decomposition.h"
#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

// (G + G^T) / 2 for a standard normal G: a spectrum spread like a semicircle, with no clusters for the
// divide-and-conquer step to deflate (NumPy's script draws the same way).
Tensor random_symmetric(int64_t n) {
  manual_seed(1);
  const Tensor g = randn({n, n}, kFloat64);
  return mul(add(g, g.t()), 0.5).contiguous();
}

// The same plus n I, positive definite.
Tensor random_spd(int64_t n) { return add(random_symmetric(n), mul(eye(n, kFloat64), static_cast<double>(n))); }

void BM_eigh(benchmark::State& state) {
  const Tensor a = random_symmetric(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(eigh(a).eigenvectors);
}
BENCHMARK(BM_eigh)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_eigvalsh(benchmark::State& state) {
  const Tensor a = random_symmetric(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(eigvalsh(a));
}
BENCHMARK(BM_eigvalsh)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_cholesky(benchmark::State& state) {
  const Tensor a = random_spd(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(cholesky(a));
}
BENCHMARK(BM_cholesky)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
