// The capability query (Backend::supports): the CPU backend's optional primitives, and, with a CPU backend that
// reports none of them, that every op with a fused kernel takes its composite path and gives the same values and
// gradients (attention, MoBA, cross-entropy, layer, RMS and batch norm, the optimizer steps, clip_grad_norm_, unfold
// and fold). Also the fused norms' create_graph backward against the fused one.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "autograd/engine.h"
#include "core/backend.h"
#include "nn/functional.h"
#include "nn/optim/optim.h"
#include "ops/attention.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/unfold.h"
#include "support/gradcheck.h"

using namespace tangent;
namespace F = tangent::nn::functional;
using tangent::testing::max_abs_diff;

namespace {

const Primitive kAll[] = {Primitive::Attention, Primitive::Moba,          Primitive::CrossEntropy, Primitive::Norm,
                          Primitive::BatchNorm, Primitive::OptimizerStep, Primitive::PowerSum,     Primitive::Unfold};

// The CPU backend with every optional primitive switched off, so each op must take its composite path.
class CompositeOnlyCpu final : public cpu::CpuBackend {
 public:
  bool supports(Primitive, DType) const override { return false; }
};

// Registers `b` as the CPU backend for the scope.
class BackendSwap {
 public:
  explicit BackendSwap(Backend* b) : prev_(&backend(DeviceType::CPU)) { register_backend(DeviceType::CPU, b); }
  ~BackendSwap() { register_backend(DeviceType::CPU, prev_); }

 private:
  Backend* prev_;
};

// fn's outputs and the gradients of sum(out * weights) w.r.t. the inputs, once with the real CPU backend (fused)
// and once with CompositeOnlyCpu; expects them to agree to `tol`.
void expect_same(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                 double tol) {
  auto run = [&] {
    std::vector<Tensor> xs;
    for (const auto& x : inputs) xs.push_back(x.is_floating_point() ? x.detach().clone().requires_grad_(true) : x);
    const Tensor out = fn(xs);
    manual_seed(7);
    const Tensor w = randn(out.shape(), out.dtype());
    sum(mul(out, w)).backward();
    std::vector<Tensor> r{out.detach()};
    for (const auto& x : xs)
      if (x.is_floating_point()) r.push_back(x.grad());
    return r;
  };
  const std::vector<Tensor> fused = run();
  CompositeOnlyCpu composite_backend;
  std::vector<Tensor> composite;
  {
    BackendSwap swap(&composite_backend);
    composite = run();
  }
  ASSERT_EQ(fused.size(), composite.size());
  for (size_t i = 0; i < fused.size(); ++i) {
    ASSERT_TRUE(fused[i].defined() && composite[i].defined()) << "result " << i;
    EXPECT_EQ(fused[i].shape(), composite[i].shape()) << "result " << i;
    EXPECT_LT(max_abs_diff(fused[i], composite[i]), tol) << "result " << i << " (0 = output, then gradients)";
  }
}

}  // namespace

TEST(Capability, CpuSupportsEveryOptionalPrimitiveForFloat32AndFloat64Only) {
  const Backend& b = backend(DeviceType::CPU);
  for (Primitive p : kAll) {
    EXPECT_TRUE(b.supports(p, kFloat32)) << primitive_name(p);
    EXPECT_TRUE(b.supports(p, kFloat64)) << primitive_name(p);
    EXPECT_FALSE(b.supports(p, kBFloat16)) << primitive_name(p);
    EXPECT_FALSE(b.supports(p, kInt64)) << primitive_name(p);
  }
  EXPECT_STREQ(primitive_name(Primitive::Moba), "moba");
}

TEST(Capability, UnsupportedPrimitivesRaiseNamingThePrimitiveAndBackend) {
  // The Backend defaults, reached through a backend that overrides none of the optional primitives.
  class Bare final : public cpu::CpuBackend {
   public:
    void call_default() {
      const Tensor x = zeros({1, 1, 2, 2});
      Backend::unfold(x, UnfoldParams{}, zeros({1, 1, 4}));
    }
  } bare;
  try {
    bare.call_default();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unfold: not implemented on cpu"), std::string::npos) << e.what();
  }
}

TEST(Capability, CompositeAttentionMatchesFused) {
  manual_seed(1);
  for (bool sigmoid : {false, true}) {
    AttentionOptions o;
    o.kind = sigmoid ? AttentionKind::Sigmoid : AttentionKind::Softmax;
    o.causal = true;
    expect_same([&](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); },
                {randn({2, 4, 7, 8}, kFloat64), randn({2, 2, 7, 8}, kFloat64), randn({2, 2, 7, 8}, kFloat64)}, 1e-10);
  }
}

TEST(Capability, CompositeMobaMatchesFused) {
  manual_seed(2);
  AttentionOptions o;
  o.kind = AttentionKind::MoBA;
  o.moba_block_size = 4;
  o.moba_top_k = 3;
  const Tensor q = randn({2, 4, 21, 8}, kFloat64), k = randn({2, 2, 21, 8}, kFloat64),
               v = randn({2, 2, 21, 8}, kFloat64);
  expect_same([&](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); },
              {q, k, v}, 1e-10);
  // The routing itself: the composite selection equals the kernel's.
  const Tensor fused = moba_select_blocks(q, k, o);
  CompositeOnlyCpu composite_backend;
  BackendSwap swap(&composite_backend);
  const Tensor composite = moba_select_blocks(q, k, o);
  EXPECT_EQ(fused.shape(), (Shape{2, 4, 21, 6}));
  EXPECT_TRUE(equal(fused, composite));
}

TEST(Capability, CompositeCrossEntropyMatchesFused) {
  manual_seed(3);
  const Tensor target = tensor(std::vector<int64_t>{0, 4, -100, 2, 1, 3}, {6});
  for (auto r : {F::Reduction::Mean, F::Reduction::Sum, F::Reduction::None}) {
    F::CrossEntropyOptions o;
    o.reduction = r;
    expect_same([&](const std::vector<Tensor>& x) { return F::cross_entropy(x[0], x[1], o); },
                {randn({6, 5}, kFloat64), target}, 1e-12);
  }
}

TEST(Capability, CompositeNormsMatchFused) {
  manual_seed(4);
  expect_same([](const std::vector<Tensor>& x) { return F::layer_norm(x[0], 2, x[1], x[2], 1e-5); },
              {randn({3, 4, 5}, kFloat64), randn({4, 5}, kFloat64), randn({4, 5}, kFloat64)}, 1e-10);
  expect_same([](const std::vector<Tensor>& x) { return F::layer_norm(x[0], 1, Tensor(), Tensor(), 1e-5); },
              {randn({70, 9}, kFloat32)}, 1e-4);
  expect_same([](const std::vector<Tensor>& x) { return F::rms_norm(x[0], 1, x[1], 1e-6); },
              {randn({5, 6}, kFloat64), randn({6}, kFloat64)}, 1e-10);
}

TEST(Capability, FusedNormsCreateGraphBackwardMatchesFusedBackward) {
  manual_seed(5);
  for (bool rms : {false, true}) {
    const Tensor x = randn({4, 3, 6}, kFloat64).requires_grad_(true), w = randn({6}, kFloat64).requires_grad_(true);
    const Tensor b = randn({6}, kFloat64).requires_grad_(true), g = randn({4, 3, 6}, kFloat64);
    auto f = [&] { return rms ? F::rms_norm(x, 1, w, 1e-6) : F::layer_norm(x, 1, w, b, 1e-5); };
    const std::vector<Tensor> in = rms ? std::vector<Tensor>{x, w} : std::vector<Tensor>{x, w, b};
    const auto plain = autograd::grad({f()}, in, {g}, /*retain_graph=*/false, /*create_graph=*/false);
    const auto graph = autograd::grad({f()}, in, {g}, /*retain_graph=*/true, /*create_graph=*/true);
    for (size_t i = 0; i < in.size(); ++i) EXPECT_LT(max_abs_diff(plain[i], graph[i]), 1e-12) << rms << " " << i;
    EXPECT_TRUE(graph[0].requires_grad());
  }
}

TEST(Capability, CompositeBatchNormMatchesFused) {
  manual_seed(8);
  auto train = [](const std::vector<Tensor>& x) {
    return F::batch_norm(x[0], Tensor(), Tensor(), x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), true,
                         0.1, 1e-5);
  };
  expect_same(train, {randn({4, 3, 5, 6}, kFloat64), randn({3}, kFloat64), randn({3}, kFloat64)}, 1e-10);
  expect_same(train, {randn({7, 4}, kFloat64), randn({4}, kFloat64)}, 1e-10);
  // float32 far from zero: the fused statistics (two passes) keep the composite's accuracy
  expect_same(train, {add(mul(randn({16, 2, 37}), 3.0), 50.0)}, 2e-4);
  // The running statistics take the same update on both paths.
  const Tensor x = randn({5, 3, 4}, kFloat64);
  auto running = [&] {
    Tensor rm = zeros({3}, kFloat64), rv = ones({3}, kFloat64);
    F::batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.3, 1e-5);
    return std::vector<Tensor>{rm, rv};
  };
  const std::vector<Tensor> fused = running();
  CompositeOnlyCpu composite_backend;
  BackendSwap swap(&composite_backend);
  const std::vector<Tensor> composite = running();
  EXPECT_LT(max_abs_diff(fused[0], composite[0]), 1e-12);
  EXPECT_LT(max_abs_diff(fused[1], composite[1]), 1e-12);
  EXPECT_GT(max_abs_diff(fused[1], ones({3}, kFloat64)), 1e-3);  // it did update
}

TEST(Capability, FusedBatchNormCreateGraphBackwardMatchesFusedBackward) {
  manual_seed(9);
  const Tensor x = randn({4, 3, 2, 5}, kFloat64).requires_grad_(true), w = randn({3}, kFloat64).requires_grad_(true);
  const Tensor b = randn({3}, kFloat64).requires_grad_(true), g = randn({4, 3, 2, 5}, kFloat64);
  auto f = [&] { return F::batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 1e-5); };
  const auto plain = autograd::grad({f()}, {x, w, b}, {g}, /*retain_graph=*/false, /*create_graph=*/false);
  const auto graph = autograd::grad({f()}, {x, w, b}, {g}, /*retain_graph=*/true, /*create_graph=*/true);
  for (size_t i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(plain[i], graph[i]), 1e-12) << i;
  EXPECT_TRUE(graph[0].requires_grad());
}

TEST(Capability, CompositeUnfoldAndFoldMatchFused) {
  manual_seed(6);
  UnfoldOptions o;
  o.kernel_size = {3, 2};
  o.stride = {1, 2};
  o.padding = {1, 0};
  o.dilation = {2, 1};
  expect_same([&](const std::vector<Tensor>& x) { return unfold(x[0], o); }, {randn({2, 3, 6, 7}, kFloat64)}, 1e-12);
  // Ho = (6 + 2 - 4 - 1) / 1 + 1 = 4, Wo = (7 - 1 - 1) / 2 + 1 = 3
  expect_same(
      [&](const std::vector<Tensor>& x) {
        return fold(x[0], {6, 7}, o);
      },
      {randn({2, 18, 12}, kFloat64)}, 1e-12);
}

TEST(Capability, CompositeOptimizerStepsAndClipMatchFused) {
  // Three steps of each optimizer (and a clip of the gradients first) from the same start, fused vs composite.
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<std::pair<const char*, Make>> makers = {
      {"sgd",
       [](std::vector<Tensor> p) {
         optim::SGDOptions o;
         o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.01, o.nesterov = true;
         return std::make_unique<optim::SGD>(std::move(p), o);
       }},
      {"adam",
       [](std::vector<Tensor> p) {
         optim::AdamOptions o;
         o.lr = 0.01, o.amsgrad = true, o.weight_decay = 0.1;
         return std::make_unique<optim::Adam>(std::move(p), o);
       }},
      {"adamw", [](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(std::move(p)); }},
      {"rmsprop",
       [](std::vector<Tensor> p) {
         optim::RMSpropOptions o;
         o.momentum = 0.5, o.centered = true, o.weight_decay = 0.01;
         return std::make_unique<optim::RMSprop>(std::move(p), o);
       }},
  };
  for (const auto& maker : makers) {
    const char* name = maker.first;
    const auto& make = maker.second;  // a plain reference: lambdas cannot capture structured bindings before C++20
    for (DType dt : {kFloat32, kFloat64}) {
      manual_seed(8);
      const Tensor start = randn({37, 5}, dt), target = randn({37, 5}, dt);
      auto train = [&](double* norm) {
        Tensor p = start.clone().requires_grad_(true);
        auto opt = make({p});
        for (int s = 0; s < 3; ++s) {
          opt->zero_grad();
          sum(mul(mul(sub(p, target), sub(p, target)), 3.0)).backward();
          *norm = optim::clip_grad_norm_({p}, 5.0);
          opt->step();
        }
        return p.detach();
      };
      double fused_norm = 0, composite_norm = 0;
      const Tensor fused = train(&fused_norm);
      CompositeOnlyCpu composite_backend;
      Tensor composite;
      {
        BackendSwap swap(&composite_backend);
        composite = train(&composite_norm);
      }
      const double tol = dt == kFloat32 ? 1e-5 : 1e-12;
      EXPECT_LT(max_abs_diff(fused, composite), tol) << name << " " << dt;
      EXPECT_NEAR(fused_norm, composite_norm, tol * fused_norm) << name << " " << dt;
      EXPECT_GT(max_abs_diff(fused, start), 1e-3) << name << ": the steps moved the parameter";
    }
  }
}
