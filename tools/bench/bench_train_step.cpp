// One training step of a small MLP, single-threaded: forward through nn::Linear / ReLU / nn::Linear,
// cross_entropy, backward, SGD update (lr 0.01) and zero_grad, at two sizes:
//   BM_train_step_784_256_10_b32   MNIST-sized MLP, batch 32
//   BM_train_step_32_64_10_b16     a tiny MLP, batch 16 (almost pure per-op overhead)
// The PyTorch baseline is tools/bench/torch_train_step.py (same shapes and step); see tools/bench/README.md.
#include <benchmark/benchmark.h>

#include <tangent/tangent.h>

#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

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
}

void BM_train_step_784_256_10_b32(benchmark::State& state) { train_step(state, 784, 256, 10, 32); }
BENCHMARK(BM_train_step_784_256_10_b32)->Unit(benchmark::kMicrosecond);

void BM_train_step_32_64_10_b16(benchmark::State& state) { train_step(state, 32, 64, 10, 16); }
BENCHMARK(BM_train_step_32_64_10_b16)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
