// Attention kernels, single-threaded: B=1, H=8, D=64, causal, float32, N in {512, 1024, 2048, 4096}. For kinds
// softmax and sigmoid: the fused kernel forward, fused forward+backward, and the unfused reference forward+backward
// (few iterations at large N: it forms the N x N score matrices). For kind MoBA (block 64, top_k 4) the same through
// scaled_dot_product_attention (fused and reference); until MoBA is implemented those report a skip with the error.
// GFLOPS counts the dense causal FLOPs (fwd 2*B*H*N^2*D, fwd+bwd 3.5x that) for every kind, so MoBA's figure is an
// "effective" rate; compare the times. PyTorch's baseline at the same shapes: tools/bench/torch_attention.py.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "ops/attention.h"
#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

constexpr int64_t kB = 1, kH = 8, kD = 64;

enum class Mode { Forward, ForwardBackward };

void run(benchmark::State& state, AttentionKind kind, bool fused, Mode mode, int64_t n) {
  Generator gen(0);
  Tensor q = randn({kB, kH, n, kD}, kFloat32, &gen), k = randn({kB, kH, n, kD}, kFloat32, &gen),
         v = randn({kB, kH, n, kD}, kFloat32, &gen);
  const Tensor g = randn({kB, kH, n, kD}, kFloat32, &gen);
  AttentionOptions o;
  o.kind = kind;
  o.causal = true;
  o.fused = fused;
  o.moba_block_size = 64;
  o.moba_top_k = 4;
  if (mode == Mode::ForwardBackward) {
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
  }
  try {
    for (auto _ : state) {
      const Tensor out = scaled_dot_product_attention(q, k, v, o);
      if (mode == Mode::ForwardBackward) {
        const std::vector<Tensor> grads = autograd::grad({out}, {q, k, v}, {g});
        benchmark::DoNotOptimize(grads[0].raw_data());
      }
      benchmark::DoNotOptimize(out.raw_data());
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double fwd = 2.0 * static_cast<double>(kB * kH * n * n * kD);  // 4 B H N^2 D, halved by causality
  state.counters["GFLOPS"] = benchmark::Counter((mode == Mode::Forward ? 1.0 : 3.5) * fwd / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid, AttentionKind::MoBA}) {
    for (int64_t n : {512, 1024, 2048, 4096}) {
      const std::string base = std::string("attention/") + attention_kind_name(kind) + "/N:" + std::to_string(n);
      benchmark::RegisterBenchmark((base + "/fused_fwd").c_str(), [=](benchmark::State& s) {
        run(s, kind, true, Mode::Forward, n);
      })->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((base + "/fused_fwd_bwd").c_str(), [=](benchmark::State& s) {
        run(s, kind, true, Mode::ForwardBackward, n);
      })->Unit(benchmark::kMillisecond);
      auto* ref = benchmark::RegisterBenchmark((base + "/reference_fwd_bwd").c_str(), [=](benchmark::State& s) {
        run(s, kind, false, Mode::ForwardBackward, n);
      });
      ref->Unit(benchmark::kMillisecond);
      if (n >= 2048) ref->Iterations(n >= 4096 ? 1 : 2);  // the N x N score matrices: slow and large
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return tangent::bench::run_benchmarks(argc, argv);
}
