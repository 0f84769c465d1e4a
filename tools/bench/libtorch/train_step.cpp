// The libtorch C++ baseline of bench_train_step's MLP steps: forward through torch::nn::Linear / ReLU / Linear,
// torch::nn::functional::cross_entropy, backward, torch::optim::SGD (lr 0.01) step and zero_grad, one thread:
//   BM_libtorch_train_step_784_256_10_b32, BM_libtorch_train_step_32_64_10_b16
// Built only with -DTANGENT_BENCH_LIBTORCH=ON (needs find_package(Torch), e.g. Debian's libtorch-dev); see
// tools/bench/README.md. It includes nothing of Tangent.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

void train_step(benchmark::State& state, int64_t in, int64_t hidden, int64_t out, int64_t batch) {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01));
  const torch::Tensor x = torch::randn({batch, in});
  const torch::Tensor y = torch::randint(0, out, {batch}, torch::kLong);
  torch::Tensor loss;
  for (auto _ : state) {
    loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  state.counters["final_loss"] = loss.item<double>();
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_libtorch_train_step_784_256_10_b32(benchmark::State& state) { train_step(state, 784, 256, 10, 32); }
BENCHMARK(BM_libtorch_train_step_784_256_10_b32)->Unit(benchmark::kMicrosecond);

void BM_libtorch_train_step_32_64_10_b16(benchmark::State& state) { train_step(state, 32, 64, 10, 16); }
BENCHMARK(BM_libtorch_train_step_32_64_10_b16)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
