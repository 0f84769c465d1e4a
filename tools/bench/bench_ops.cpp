// Per-op overhead and GEMM throughput, single-threaded: small adds with and without autograd recording, a 64x64
// matmul, a forward+backward through a 3-op chain, and a 1024^3 SGEMM through tangent::matmul next to its baseline,
// a bare oneDNN matmul primitive created once and executed in the loop (report the ratio of the two GFLOPS); the
// same baseline at 64x64 shows the per-op overhead of BM_matmul_64.
#include <benchmark/benchmark.h>

#include <dnnl.hpp>

#include <tangent/tangent.h>

#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

constexpr int64_t kGemm = 1024;

// Sets the GFLOP/s counter for an M x N x K product per iteration.
void set_gflops(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * static_cast<double>(m * n * k) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_add_8x8(benchmark::State& state) {
  const Tensor a = randn({8, 8}), b = randn({8, 8});
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
}
BENCHMARK(BM_add_8x8);

void BM_add_8x8_grad(benchmark::State& state) {
  Tensor a = randn({8, 8}), b = randn({8, 8});
  a.requires_grad_();
  b.requires_grad_();
  for (auto _ : state) {
    Tensor c = add(a, b);  // records a node
    benchmark::DoNotOptimize(c.raw_data());
  }
}
BENCHMARK(BM_add_8x8_grad);

void BM_matmul_64(benchmark::State& state) {
  const Tensor a = randn({64, 64}), b = randn({64, 64});
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 64, 64, 64);
}
BENCHMARK(BM_matmul_64);

void BM_chain3_fwd_bwd(benchmark::State& state) {
  const Tensor x = randn({16, 16});
  Tensor w = randn({16, 16}), b = randn({16});
  w.requires_grad_();
  b.requires_grad_();
  for (auto _ : state) {
    Tensor y = relu(x * w + b).sum();
    y.backward();
    benchmark::DoNotOptimize(w.grad().raw_data());
  }
}
BENCHMARK(BM_chain3_fwd_bwd);

void BM_sgemm_1024(benchmark::State& state) {
  const Tensor a = randn({kGemm, kGemm}), b = randn({kGemm, kGemm});
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, kGemm, kGemm, kGemm);
}
BENCHMARK(BM_sgemm_1024)->Unit(benchmark::kMillisecond);

// The baseline: oneDNN's matmul primitive on plain row-major n x n buffers, created once outside the loop.
void dnnl_sgemm(benchmark::State& state, int64_t n) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc md({n, n}, memory::data_type::f32, memory::format_tag::ab);
  const Tensor a = randn({n, n}), b = randn({n, n}), c = empty({n, n});
  memory am(md, eng, a.raw_data()), bm(md, eng, b.raw_data()), cm(md, eng, c.raw_data());
  const dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), eng));
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    strm.wait();
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, n, n, n);
}

void BM_dnnl_sgemm_1024(benchmark::State& state) { dnnl_sgemm(state, kGemm); }
BENCHMARK(BM_dnnl_sgemm_1024)->Unit(benchmark::kMillisecond);

// Baseline of BM_matmul_64: the difference is tangent's per-op overhead (allocation, cache lookup, dispatch).
void BM_dnnl_sgemm_64(benchmark::State& state) { dnnl_sgemm(state, 64); }
BENCHMARK(BM_dnnl_sgemm_64);

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
