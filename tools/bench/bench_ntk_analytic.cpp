// The analytic infinite-width NTK (nn/ntk/analytic.h) of a 3-hidden-layer ReLU MLP on Fashion-MNIST-sized inputs,
// and kernel regression at t = inf (Cholesky) and finite t (eigh) on an analytic kernel (nn/ntk/regression.h). The
// decompositions alone are in bench_linalg.
#include <benchmark/benchmark.h>

#include <tangent/tangent.h>

#include "nn/ntk/analytic.h"
#include "nn/ntk/regression.h"
#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

Tensor spd(int64_t n) {
  manual_seed(1);
  const Tensor x = randn({n, 64}, kFloat64);
  ntk::AnalyticOptions o;
  o.depth = 2;
  o.sigma_b = 0.1;
  return ntk::analytic_ntk(x, Tensor(), o);
}

// N x N analytic NTK of 784-dim inputs, 3 hidden ReLU layers.
void BM_analytic_ntk(benchmark::State& state) {
  manual_seed(2);
  const Tensor x = rand({state.range(0), 784});
  ntk::AnalyticOptions o;
  o.depth = 3;
  o.sigma_w = 1.4;
  o.sigma_b = 0.1;
  for (auto _ : state) benchmark::DoNotOptimize(ntk::analytic_ntk(x, Tensor(), o));
}
BENCHMARK(BM_analytic_ntk)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

// Regression of 10 outputs on an N x N kernel, 200 test points: t = inf (Cholesky) and t = 100 (eigh).
void BM_regression(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor k = spd(n + 200);
  const Tensor ktt = k.narrow(0, 0, n).narrow(1, 0, n).contiguous();
  const Tensor kst = k.narrow(0, n, 200).narrow(1, 0, n).contiguous();
  const Tensor y = randn({n, 10}, kFloat64);
  ntk::RegressionOptions o;
  if (state.range(1) > 0) o.t = static_cast<double>(state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(ntk::gradient_descent_mse(ktt, y, kst, Tensor(), Tensor(), o).test);
}
BENCHMARK(BM_regression)->Args({1024, 0})->Args({1024, 100})->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
