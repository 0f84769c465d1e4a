// Language-model generation, single-threaded: a GPT of 4 layers, width 128, 4 heads, a 96-character vocabulary
// and a context of 1088, generating with and without the KV cache (models::GPT::generate) at 64, 256 and 1024
// tokens of context.
//   BM_token/<kind>/<cache>/N: one new token (forward + greedy pick) after N tokens already seen: with the cache one
//     step against a cache filled with N positions; without it the forward of all N + 1 positions. The cost per
//     token at that context length.
//   BM_generate/<cache>/N: GPT::generate of 32 tokens after a prompt of N tokens (softmax attention), prefill
//     included; items_per_second is tokens per second.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

constexpr int64_t kVocab = 96, kNewTokens = 32;

models::GPT& model(const std::string& attention) {
  static std::map<std::string, std::unique_ptr<models::GPT>> models;
  auto& m = models[attention];
  if (!m) {
    manual_seed(0);
    models::GPTOptions o;
    for (int64_t i = 0; i < kVocab; ++i) o.vocab.push_back(32 + i);
    o.context = 1024 + 64;
    o.layers = 4;
    o.dim = 128;
    o.heads = 4;
    o.attention = attention;
    o.moba_block = 64;
    o.moba_top_k = 3;
    m = std::make_unique<models::GPT>(o);
    m->eval();
  }
  return *m;
}

std::vector<int64_t> prompt(int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = (i * 37 + 11) % kVocab;
  return ids;
}

void BM_token(benchmark::State& state, const std::string& attention, bool cache) {
  const int64_t n = state.range(0);
  models::GPT& gpt = model(attention);
  NoGradGuard no_grad;
  const std::vector<int64_t> ids = prompt(n + 1);
  const Tensor all = tensor(ids, {1, n + 1});
  models::GPTCache filled;
  if (cache) gpt.forward_cached(all.narrow(1, 0, n), filled);
  for (auto _ : state) {
    Tensor logits;
    if (cache) {
      models::GPTCache c = filled;  // the step appends new tensors: the filled cache stays as it is
      logits = gpt.forward_cached(all.narrow(1, n, 1), c).select(1, 0);
    } else {
      logits = gpt.forward(all).select(1, n);
    }
    benchmark::DoNotOptimize(argmax(logits, -1).item<int64_t>());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_generate(benchmark::State& state, bool cache) {
  const int64_t n = state.range(0);
  models::GPT& gpt = model("softmax");
  models::GenerateOptions g;
  g.tokens = kNewTokens;
  g.temperature = 0.0;
  g.cache = cache;
  const std::vector<int64_t> ids = prompt(n);
  for (auto _ : state) benchmark::DoNotOptimize(gpt.generate(ids, g).back());
  state.SetItemsProcessed(state.iterations() * kNewTokens);
}

void register_all() {
  for (const std::string attention : {"softmax", "sigmoid", "moba"})
    for (bool cache : {true, false})
      benchmark::RegisterBenchmark(("BM_token/" + attention + (cache ? "/cache" : "/no_cache")).c_str(),
                                   [attention, cache](benchmark::State& s) { BM_token(s, attention, cache); })
          ->Arg(64)
          ->Arg(256)
          ->Arg(1024)
          ->Unit(benchmark::kMicrosecond);
  for (bool cache : {true, false})
    benchmark::RegisterBenchmark(cache ? "BM_generate/cache" : "BM_generate/no_cache",
                                 [cache](benchmark::State& s) { BM_generate(s, cache); })
        ->Arg(64)
        ->Arg(256)
        ->Arg(1024)
        ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return tangent::bench::run_benchmarks(argc, argv);
}
