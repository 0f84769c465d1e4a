// Empirical NTK (nn/ntk/), single-threaded, float32 models, float64 kernels:
//   BM_fcn_full_structured_n16    neural-tangents' FCN 3072-2048-2048-2048-8 (ReLU, NTK parametrisation), full
//                                 [16, 16, 8, 8] kernel between two batches of 16 (x1 != x2), structured method
//   BM_fcn_full_jacobian_n4       the same with the jacobian method on batches of 4 (its Jacobians take
//                                 N * O * P * 4 bytes = 1.9 GB per batch of 4)
//   BM_mlp_trace_structured_n1000 MLP 784-512-512-10 (ReLU), trace kernel of 1,000 inputs against themselves
//   BM_mlp_trace_jacobian_n100    the same, jacobian method, 100 inputs
//   BM_cnn_trace_structured_n500  neural-tangents' CNN: conv3x3(32)-ReLU-avgpool2-conv3x3(64)-ReLU-avgpool2-
//                                 dense(10), SAME padding, trace kernel of the first 500 Fashion-MNIST test images
//   BM_convnet_trace_structured_n500  models::ConvNet (default options, 1x28x28, BatchNorm in eval), trace, 500
//                                 inputs
//   BM_convnet_trace_jacobian_n50 the same, jacobian method, 50 inputs
//   BM_sgemm/M/K/N                the float32 GEMM rate (ops mm on oneDNN) to compare the gflops counters with
//   BM_mlp_trace_structured_n100  the structured method on the jacobian's 100 inputs (and functorch's)
//   BM_mlp_trace_structured_n10000  the 10,000 x 10,000 trace kernel of the MLP (slow and about 5 GB: skip it with
//                                 --benchmark_filter=-n10000)
// Counters: gflop and gflops (the structured method's GEMM and convolution flops, see dense_flop), peak_bytes (the
// method's own working-set estimate) and vmhwm_mb (the process's peak resident memory so far, from /proc/self/status:
// monotonic over the run, so read it for the largest benchmark run alone). The PyTorch baseline is
// tools/bench/functorch_ntk.py (torch.func: vmap(jacrev) + einsum); neural-tangents' is tools/bench/nt_ntk.py (same
// workload names).
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include <tangent/tangent.h>

#include "nn/data/fashion_mnist.h"
#include "nn/ntk/ntk.h"
#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

double vmhwm_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

std::shared_ptr<models::MLP> mlp(int64_t in, std::vector<int64_t> hidden, int64_t out, bool ntk_param) {
  models::MLPOptions o;
  o.input_shape = {in};
  o.hidden = std::move(hidden);
  o.out_features = out;
  o.activation = "relu";
  o.ntk = ntk_param;
  o.sigma_w = 1.0;
  o.sigma_b = 0.1;
  return std::make_shared<models::MLP>(o);
}

// Floating-point operations of the structured method's GEMMs and convolutions (what it must compute; elementwise
// work is not counted), for the counters gflop and gflops (per second of CPU time) beside BM_sgemm's rate.
// n1 x n2 examples (x2 = x1 when symmetric), O outputs. Per Linear (K in, C out) with inputs at each example:
// forward 2 K C per example (also on discovery's two examples), the backward of the O output cotangents through
// every Linear but the first 2 O K C per example, the input Gram 2 n1 n2 K and the cotangent Gram 2 n1 n2 O C
// (trace) or 2 n1 n2 O^2 C (full).
double dense_flop(int64_t K, int64_t C, bool first, int64_t n1, int64_t n2, bool symmetric, int64_t O, ntk::Mode mode) {
  const double rows = static_cast<double>(symmetric ? n1 : n1 + n2) + 2;
  const double oc = mode == ntk::Mode::Full ? double(O) * O : double(O);
  return 2.0 * rows * K * C + (first ? 0.0 : 2.0 * (rows - 2) * O * K * C) + 2.0 * n1 * n2 * K + 2.0 * n1 * n2 * oc * C;
}

double mlp_flop(const std::vector<int64_t>& widths, int64_t n1, int64_t n2, bool symmetric, ntk::Mode mode) {
  double f = 0;
  for (size_t l = 0; l + 1 < widths.size(); ++l)
    f += dense_flop(widths[l], widths[l + 1], l == 0, n1, n2, symmetric, widths.back(), mode);
  return f;
}

void flop_counters(benchmark::State& state, double flop) {
  state.counters["gflop"] = flop / 1e9;
  state.counters["gflops"] =
      benchmark::Counter(flop, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void run_ntk(benchmark::State& state, nn::Module& model, const Tensor& x1, const Tensor& x2, ntk::Mode mode,
             ntk::Method method, int64_t max_memory_mb = 4096) {
  ntk::NtkOptions o;
  o.mode = mode;
  o.method = method;
  o.max_memory_mb = max_memory_mb;
  ntk::NtkResult r;
  for (auto _ : state) {
    r = ntk::empirical_ntk(model, x1, x2, o);
    benchmark::DoNotOptimize(r.kernel.raw_data());
  }
  state.counters["peak_bytes"] = static_cast<double>(r.peak_bytes);
  state.counters["vmhwm_mb"] = vmhwm_mb();
  state.counters["kernel_sum"] = r.kernel.sum().item<double>();
}

void BM_fcn_full_structured_n16(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(3072, {2048, 2048, 2048}, 8, true);
  run_ntk(state, *model, randn({16, 3072}), randn({16, 3072}), ntk::Mode::Full, ntk::Method::Structured);
  flop_counters(state, mlp_flop({3072, 2048, 2048, 2048, 8}, 16, 16, false, ntk::Mode::Full));
}
BENCHMARK(BM_fcn_full_structured_n16)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_fcn_full_jacobian_n4(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(3072, {2048, 2048, 2048}, 8, true);
  run_ntk(state, *model, randn({4, 3072}), randn({4, 3072}), ntk::Mode::Full, ntk::Method::Jacobian);
}
BENCHMARK(BM_fcn_full_jacobian_n4)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_mlp_trace_structured_n1000(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(784, {512, 512}, 10, false);
  run_ntk(state, *model, randn({1000, 784}), Tensor(), ntk::Mode::Trace, ntk::Method::Structured);
}
BENCHMARK(BM_mlp_trace_structured_n1000)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_mlp_trace_jacobian_n100(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(784, {512, 512}, 10, false);
  run_ntk(state, *model, randn({100, 784}), Tensor(), ntk::Mode::Trace, ntk::Method::Jacobian);
}
BENCHMARK(BM_mlp_trace_jacobian_n100)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_mlp_trace_structured_n100(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(784, {512, 512}, 10, false);
  run_ntk(state, *model, randn({100, 784}), Tensor(), ntk::Mode::Trace, ntk::Method::Structured);
  flop_counters(state, mlp_flop({784, 512, 512, 10}, 100, 100, true, ntk::Mode::Trace));
}
BENCHMARK(BM_mlp_trace_structured_n100)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_convnet_trace_structured_n500(benchmark::State& state) {
  manual_seed(0);
  models::ConvNet model{models::ConvNetOptions{}};
  run_ntk(state, model, randn({500, 1, 28, 28}), Tensor(), ntk::Mode::Trace, ntk::Method::Structured);
}
BENCHMARK(BM_convnet_trace_structured_n500)->Unit(benchmark::kMillisecond)->Iterations(1);

// neural-tangents' CNN (tools/bench/nt_ntk.py cnn_trace_structured_n500): conv3x3(32)-ReLU-avgpool2-conv3x3(64)-
// ReLU-avgpool2-dense(10), SAME padding, standard parametrisation with biases.
std::shared_ptr<nn::Sequential> stax_cnn() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::AvgPool2d>(2));
  net->push_back(std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::AvgPool2d>(2));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(64 * 7 * 7, 10));
  return net;
}

// The first n Fashion-MNIST test images, [n, 1, 28, 28] in [0, 1] (random images when the data set is missing,
// named in the label).
Tensor fashion_images(int64_t n, benchmark::State& state) {
  try {
    return data::load_fashion_mnist(data::kFashionMnistRoot, false, n).data();
  } catch (const Error&) {
    state.SetLabel("Fashion-MNIST missing: random images");
    return rand({n, 1, 28, 28});
  }
}

void BM_cnn_trace_structured_n500(benchmark::State& state) {
  manual_seed(0);
  auto model = stax_cnn();
  run_ntk(state, *model, fashion_images(500, state), Tensor(), ntk::Mode::Trace, ntk::Method::Structured);
  // Convolutions (D positions, K = C_in * 9, C = C_out): forward 2 D K C per example, the O cotangents' backward
  // through the second (a transposed convolution, as many flops), per-example weight gradients 2 O D K C, their
  // Gram 2 N^2 O K C (weight space: D is large); bias Grams 2 N^2 O C; then the dense layer.
  const double N = 500, O = 10, rows = N + 2;
  const double c1 = 784.0 * 9 * 32, c2 = 196.0 * 288 * 64;
  const double conv = 2 * rows * (c1 + c2) + 2 * N * O * c2 + 2 * N * O * (c1 + c2) +
                      2 * N * N * O * (9.0 * 32 + 288.0 * 64) + 2 * N * N * O * (32 + 64);
  flop_counters(state, conv + dense_flop(3136, 10, false, 500, 500, true, 10, ntk::Mode::Trace));
}
BENCHMARK(BM_cnn_trace_structured_n500)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_convnet_trace_jacobian_n50(benchmark::State& state) {
  manual_seed(0);
  models::ConvNet model{models::ConvNetOptions{}};
  run_ntk(state, model, randn({50, 1, 28, 28}), Tensor(), ntk::Mode::Trace, ntk::Method::Jacobian);
}
BENCHMARK(BM_convnet_trace_jacobian_n50)->Unit(benchmark::kMillisecond)->Iterations(1);

// The sgemm reference: float32 C [M, N] = A [M, K] B [N, K]^T through ops::mm (oneDNN), GFLOP/s as a counter.
void BM_sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  manual_seed(0);
  const Tensor a = randn({M, K}), b = randn({N, K});
  for (auto _ : state) {
    Tensor c = mm(a, b.t());
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.counters["gflops"] =
      benchmark::Counter(2.0 * M * K * N, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_sgemm)
    ->Args({16, 2048, 2048})
    ->Args({128, 2048, 2048})
    ->Args({256, 2048, 2048})
    ->Args({1024, 1024, 1024})
    ->Unit(benchmark::kMillisecond);

void BM_mlp_trace_structured_n10000(benchmark::State& state) {
  manual_seed(0);
  auto model = mlp(784, {512, 512}, 10, false);
  run_ntk(state, *model, randn({10000, 784}), Tensor(), ntk::Mode::Trace, ntk::Method::Structured, 4096);
}
BENCHMARK(BM_mlp_trace_structured_n10000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
