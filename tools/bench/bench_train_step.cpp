// One training step (forward, loss, backward, optimizer step, zero_grad) of the models users train:
//   BM_train_step_784_256_10_b32   MNIST-sized MLP, batch 32, SGD (lr 0.01), one thread
//   BM_train_step_32_64_10_b16     a tiny MLP, batch 16 (almost pure per-op overhead), one thread
//   BM_convnet_b128/threads:<n>    models::ConvNet defaults (conv 32-64 3x3 with BatchNorm, ReLU, max-pool 2,
//                                  hidden 128, dropout 0.25) on 1x28x28, batch 128, Adam (lr 1e-3); items = examples
//   BM_gpt_b16/<softmax|moba>/threads:<n>  models::GPT of the README (4 layers, 4 heads, dim 128, context 256,
//                                  96-character vocabulary, rotary, GELU MLP), batch 16 x 256 tokens, Adam (lr 3e-4);
//                                  MoBA: block 32, top-k 3; items = tokens
//   BM_sgemm_reference/threads:<n> oneDNN sgemm 1024^3 in the same run: the machine's arithmetic limit
// The model steps report GFLOPS (analytic forward+backward FLOPs per step, see *_flops below). The threaded
// benchmarks measure the process's CPU time (all threads); their rates (items/s, GFLOPS) are per CPU second, the
// Time column is wall time (thread scaling on an idle machine: wall time at 1 thread / wall time at 2). The PyTorch
// baseline is tools/bench/torch_train_step.py (same shapes and steps), the libtorch C++ one
// tools/bench/libtorch_train_step.cpp; see tools/bench/README.md.
#include <benchmark/benchmark.h>

#include <tangent/tangent.h>
#include <dnnl.hpp>

#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

// Runs the threaded benchmarks with state.range(0) threads and restores the single-thread default afterwards.
struct Threads {
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(1); }
};

void set_rates(benchmark::State& state, double flops_per_step, int64_t items_per_step) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops_per_step * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * items_per_step);
}

void train_step(benchmark::State& state, int64_t in, int64_t hidden, int64_t out, int64_t batch) {
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(in, hidden), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, out)});
  optim::SGDOptions so;
  so.lr = 0.01;
  optim::SGD opt(model->parameters(), so);
  const Tensor x = randn({batch, in});
  const Tensor y = randint(0, out, {batch});
  Tensor loss;
  for (auto _ : state) {
    loss = nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  state.counters["final_loss"] = loss.item<double>();  // falls as the model fits the fixed batch
  set_rates(state, 6.0 * static_cast<double>(batch * (in * hidden + hidden * out)), batch);
}

void BM_train_step_784_256_10_b32(benchmark::State& state) { train_step(state, 784, 256, 10, 32); }
BENCHMARK(BM_train_step_784_256_10_b32)->Unit(benchmark::kMicrosecond);

void BM_train_step_32_64_10_b16(benchmark::State& state) { train_step(state, 32, 64, 10, 16); }
BENCHMARK(BM_train_step_32_64_10_b16)->Unit(benchmark::kMicrosecond);

// Forward FLOPs of the ConvNet per example (convolutions and linears; 2 per multiply-add), times 3 for
// forward + backward (the first convolution's input gradient is not needed, a 2% overcount).
double convnet_flops(const models::ConvNetOptions& o) {
  double f = 0;
  int64_t c = o.input_shape[0], h = o.input_shape[1], w = o.input_shape[2];
  for (int64_t out : o.channels) {
    f += 2.0 * static_cast<double>(c * out * o.kernel_size * o.kernel_size * h * w);
    c = out;
    h /= 2;
    w /= 2;
  }
  f += 2.0 * static_cast<double>(c * h * w * o.hidden + o.hidden * o.num_classes);
  return 3 * f;
}

void BM_convnet_b128(benchmark::State& state) {
  const Threads threads(static_cast<int>(state.range(0)));
  const int64_t batch = 128;
  manual_seed(0);
  models::ConvNet model{models::ConvNetOptions{}};
  optim::AdamOptions ao;
  ao.lr = 1e-3;
  optim::Adam opt(model.parameters(), ao);
  const Tensor x = randn({batch, 1, 28, 28});
  const Tensor y = randint(0, 10, {batch});
  Tensor loss;
  for (auto _ : state) {
    loss = nn::functional::cross_entropy(model.forward(x), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  state.counters["final_loss"] = loss.item<double>();
  set_rates(state, convnet_flops(model.options) * batch, batch);
}
BENCHMARK(BM_convnet_b128)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

// Forward FLOPs of the GPT per token (projections, MLP, LM head; causal attention scores and values over T/2 keys
// on average), times 3 for forward + backward. MoBA attends to fewer keys; it is counted as dense.
double gpt_flops_per_token(const models::GPTOptions& o) {
  const double d = static_cast<double>(o.dim), t = static_cast<double>(o.context);
  const double per_layer = 2 * (4 * d * d + 2 * static_cast<double>(o.mlp_ratio) * d * d) + 2 * 2 * d * (t / 2);
  return 3 * (static_cast<double>(o.layers) * per_layer + 2 * d * static_cast<double>(o.vocab_size()));
}

void gpt_step(benchmark::State& state, const std::string& attention) {
  const Threads threads(static_cast<int>(state.range(0)));
  const int64_t batch = 16;
  manual_seed(0);
  models::GPTOptions go;
  for (int64_t c = 32; c < 128; ++c) go.vocab.push_back(c);  // 96 characters, as the fortunes
  go.context = 256;
  go.layers = 4;
  go.heads = 4;
  go.dim = 128;
  go.attention = attention;
  go.moba_block = 32;
  go.moba_top_k = 3;
  models::GPT model(go);
  optim::AdamOptions ao;
  ao.lr = 3e-4;
  optim::Adam opt(model.parameters(), ao);
  const Tensor ids = randint(0, go.vocab_size(), {batch, go.context + 1});
  const Tensor x = ids.slice(1, 0, go.context).contiguous(), y = ids.slice(1, 1, go.context + 1).reshape({-1});
  Tensor loss;
  for (auto _ : state) {
    const Tensor logits = model.forward(x);
    loss = nn::functional::cross_entropy(logits.reshape({-1, go.vocab_size()}), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  state.counters["final_loss"] = loss.item<double>();
  set_rates(state, gpt_flops_per_token(go) * static_cast<double>(batch * go.context), batch * go.context);
}

void BM_gpt_b16(benchmark::State& state, const char* attention) { gpt_step(state, attention); }
BENCHMARK_CAPTURE(BM_gpt_b16, softmax, "softmax")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();
BENCHMARK_CAPTURE(BM_gpt_b16, moba, "moba")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

// The arithmetic limit of this run: oneDNN's matmul primitive, 1024^3, plain row-major buffers.
void BM_sgemm_reference(benchmark::State& state) {
  const Threads threads(static_cast<int>(state.range(0)));
  const int64_t n = 1024;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const dnnl::memory::desc md({n, n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  const Tensor a = randn({n, n}), b = randn({n, n}), c = empty({n, n});
  dnnl::memory am(md, eng, a.raw_data()), bm(md, eng, b.raw_data()), cm(md, eng, c.raw_data());
  const dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), eng));
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    strm.wait();
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_rates(state, 2.0 * static_cast<double>(n * n * n), 1);
}
BENCHMARK(BM_sgemm_reference)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
