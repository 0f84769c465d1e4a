// Lie-group convolutions (nn/lie, models/lie), single-threaded, forward + backward per image (items = images):
//   BM_lie_lift/C/N         LiftConv2d 1 -> C, N samples, 5x5, no padding, on 40x40 (kernel generation included)
//   BM_lie_group_conv/C/N   GroupConv2d C -> C, N -> N samples, 5x5, padding 2, on 36x36 (the residual block's)
//   BM_lie_plain_conv/C/N   the conv2d alone at BM_lie_group_conv's shapes (weight a leaf)
//   BM_lie_model/C/N        a whole LieNet (sl2) training step's forward + backward on 1x40x40 (no optimizer)
// The PyTorch baseline is tools/bench/torch_lie.py (the released construction, same shapes); see README.md there.
#include <benchmark/benchmark.h>

#include <tangent/tangent.h>

#include "tools/bench/bench_main.h"

using namespace tangent;

namespace {

int64_t batch_for(int64_t c, int64_t n) { return c * n >= 200 ? 2 : 8; }

lie::LieConvOptions conv(int64_t in, int64_t out, int64_t padding) {
  lie::LieConvOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.padding = padding;
  return o;
}

void BM_lie_lift(benchmark::State& state) {
  const int64_t c = state.range(0), n = state.range(1), b = batch_for(c, n);
  manual_seed(0);
  lie::SamplerOptions s;
  s.n = n;
  lie::LiftConv2d layer(conv(1, c, 0), s);
  const Tensor x = rand({b, 1, 40, 40});
  for (auto _ : state) {
    layer.zero_grad();
    layer.lift(x).data.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_lie_lift)->Args({16, 4})->Args({16, 8})->Args({40, 10})->Unit(benchmark::kMillisecond);

void BM_lie_group_conv(benchmark::State& state) {
  const int64_t c = state.range(0), n = state.range(1), b = batch_for(c, n);
  manual_seed(0);
  lie::SamplerOptions s;
  s.n = n;
  lie::GroupConv2d layer(conv(c, c, 2), s);
  const auto samples = std::make_shared<const lie::SampleSet>(lie::draw_samples(s, {1, 0}));
  const Tensor x = randn({b, c * n, 36, 36}).requires_grad_();
  for (auto _ : state) {
    layer.zero_grad();
    layer.apply(lie::GroupTensor(x, samples)).data.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_lie_group_conv)->Args({8, 4})->Args({16, 4})->Args({16, 8})->Args({40, 10})->Unit(benchmark::kMillisecond);

// The conv2d alone (weight a leaf), same shapes as BM_lie_group_conv: what the group convolution adds around it.
void BM_lie_plain_conv(benchmark::State& state) {
  const int64_t c = state.range(0), n = state.range(1), b = batch_for(c, n);
  manual_seed(0);
  const Tensor x = randn({b, c * n, 36, 36}).requires_grad_();
  Tensor w = (randn({c * n, c * n, 5, 5}) * 0.01).requires_grad_();
  for (auto _ : state) {
    w.set_grad(Tensor());
    conv2d(x, w, Tensor(), {1, 1}, {2, 2}).sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_lie_plain_conv)->Args({8, 4})->Args({16, 4})->Args({16, 8})->Unit(benchmark::kMillisecond);

void BM_lie_model(benchmark::State& state) {
  const int64_t c = state.range(0), n = state.range(1), b = batch_for(c, n);
  manual_seed(0);
  models::LieNetOptions o;
  o.channels = c;
  o.samples = n;
  models::LieNet net(o);
  const Tensor x = rand({b, 1, 40, 40});
  const Tensor y = randint(0, 10, {b});
  for (auto _ : state) {
    net.zero_grad();
    nn::functional::cross_entropy(net.forward(x), y).backward();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_lie_model)->Args({8, 4})->Args({16, 4})->Args({16, 8})->Args({40, 10})->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return tangent::bench::run_benchmarks(argc, argv); }
