// MoBA attention against dense causal softmax attention, single-threaded, float32: B=1, H=8, D=64, block 64,
// top_k 4, N = 512..8192; forward alone and forward+backward. Three variants per N:
//   BM_moba            the fused MoBA kernel (top_k 4)
//   BM_moba_all_blocks the same kernel with top_k covering every block (exactly dense causal attention)
//   BM_dense_softmax   scaled_dot_product_attention(kind=Softmax, causal) (skipped while it is unavailable)
//   BM_moba_block_size  block sizes 16..128 at N=4096 with top_k * block = 256
// MoBA's cost should grow about linearly in N (each query sees at most 4 * 64 keys) and cross the dense kernels.
#include <benchmark/benchmark.h>

#include <string>

#include <tangent/tangent.h>

#include "ops/moba.h"
#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

constexpr int64_t kHeads = 8, kDim = 64, kBlock = 64, kTopK = 4;

struct Inputs {
  Tensor q, k, v, gout;
  explicit Inputs(int64_t n, bool grad) {
    manual_seed(0);
    q = randn({1, kHeads, n, kDim});
    k = randn({1, kHeads, n, kDim});
    v = randn({1, kHeads, n, kDim});
    gout = randn({1, kHeads, n, kDim});
    if (grad) {
      q.requires_grad_();
      k.requires_grad_();
      v.requires_grad_();
    }
  }
};

AttentionOptions options(AttentionKind kind, int64_t top_k) {
  AttentionOptions o;
  o.kind = kind;
  o.causal = true;
  o.moba_block_size = kBlock;
  o.moba_top_k = top_k;
  return o;
}

void run(benchmark::State& state, const AttentionOptions& o, bool backward) {
  const int64_t n = state.range(0);
  Inputs in(n, backward);
  try {
    for (auto _ : state) {
      Tensor out = scaled_dot_product_attention(in.q, in.k, in.v, o);
      if (backward) {
        (out * in.gout).sum().backward();
        in.q.set_grad(Tensor());
        in.k.set_grad(Tensor());
        in.v.set_grad(Tensor());
      }
      benchmark::DoNotOptimize(out.raw_data());
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

void BM_moba_fwd(benchmark::State& s) { run(s, options(AttentionKind::MoBA, kTopK), false); }
void BM_moba_fwd_bwd(benchmark::State& s) { run(s, options(AttentionKind::MoBA, kTopK), true); }
void BM_moba_all_blocks_fwd(benchmark::State& s) {
  run(s, options(AttentionKind::MoBA, (s.range(0) + kBlock - 1) / kBlock), false);
}
void BM_moba_all_blocks_fwd_bwd(benchmark::State& s) {
  run(s, options(AttentionKind::MoBA, (s.range(0) + kBlock - 1) / kBlock), true);
}
void BM_dense_softmax_fwd(benchmark::State& s) { run(s, options(AttentionKind::Softmax, 1), false); }
void BM_dense_softmax_fwd_bwd(benchmark::State& s) { run(s, options(AttentionKind::Softmax, 1), true); }

// Block size at a fixed budget of 256 attended keys per query (top_k * block = 256), N = 4096: small blocks mean more,
// smaller GEMMs and a larger gate (N x N / block).
void BM_moba_block_size(benchmark::State& s) {
  AttentionOptions o = options(AttentionKind::MoBA, 256 / s.range(1));
  o.moba_block_size = s.range(1);
  run(s, o, true);
}
BENCHMARK(BM_moba_block_size)
    ->ArgNames({"N", "block"})
    ->Args({4096, 16})
    ->Args({4096, 32})
    ->Args({4096, 64})
    ->Args({4096, 128})
    ->Unit(benchmark::kMillisecond);

#define MOBA_LENGTHS RangeMultiplier(2)->Range(512, 8192)->Unit(benchmark::kMillisecond)
BENCHMARK(BM_moba_fwd)->MOBA_LENGTHS;
BENCHMARK(BM_moba_fwd_bwd)->MOBA_LENGTHS;
BENCHMARK(BM_moba_all_blocks_fwd)->MOBA_LENGTHS;
BENCHMARK(BM_moba_all_blocks_fwd_bwd)->MOBA_LENGTHS;
BENCHMARK(BM_dense_softmax_fwd)->MOBA_LENGTHS;
BENCHMARK(BM_dense_softmax_fwd_bwd)->MOBA_LENGTHS;
#undef MOBA_LENGTHS

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
