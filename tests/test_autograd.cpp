// Autograd suite: backward and grad(), accumulation, higher-order gradients (Hessian-vector products, gradient
// penalties) checked by finite differences, graph retention, saved-tensor version checks, grad mode, detach,
// hooks, retain_grad, error messages, deep graphs, broadcasting, and in-place ops inside graphs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <tangent/tangent.h>

#include "autograd/function.h"

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::error_message;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// float64 values with shape s (an empty s gives a 0-dim tensor from v[0]).
Tensor f64(const std::vector<double>& v, const Shape& s, bool requires_grad = true) {
  const TensorOptions o = TensorOptions(kFloat64).requires_grad(requires_grad);
  return s.empty() ? scalar_tensor(v.at(0), o) : tensor(v, s, o);
}

// Elementwise-only test functions, differentiated with an explicit all-ones seed (no reduction needed).
std::vector<Tensor> grad_of_total(const Tensor& out, const std::vector<Tensor>& wrt, bool create_graph) {
  return autograd::grad({out}, wrt, {ones_like(out)}, std::nullopt, create_graph);
}

}  // namespace

// ---------------------------------------------------------------- basics
TEST(AutogradBasics, BackwardOnScalar) {
  Tensor x = f64({2.0}, {});
  Tensor y = x * x * 3.0 + x;  // dy/dx = 6x + 1
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  y.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), Shape{});
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 13.0);
}

TEST(AutogradBasics, BackwardNeedsGradientForNonScalar) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor y = x * 2.0;
  const std::string msg = error_message([&] { y.backward(); });
  EXPECT_TRUE(contains(msg, "[2]")) << msg;
  y.backward(tensor(std::vector<double>{1.0, -1.0}, {2}, kFloat64));
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{2.0, -2.0}));
  Tensor z = x * 3.0;
  EXPECT_THROW(z.backward(ones({3}, kFloat64)), Error);  // wrong gradient shape
}

TEST(AutogradBasics, GradAccumulatesAcrossBackwardCalls) {
  Tensor x = f64({1.0, 2.0, 3.0}, {3});
  Tensor seed = ones({3}, kFloat64);
  (x * x).backward(seed);
  const Tensor first = x.grad();
  EXPECT_EQ(to_vector<double>(first), (std::vector<double>{2, 4, 6}));
  (x * x).backward(seed);
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{4, 8, 12}));
  EXPECT_EQ(to_vector<double>(first), (std::vector<double>{2, 4, 6}));  // the earlier handle is not modified
  x.set_grad(Tensor());
  (x * 5.0).backward(seed);
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{5, 5, 5}));
}

TEST(AutogradBasics, GradDoesNotTouchDotGrad) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor y = exp(x);
  std::vector<Tensor> g = grad_of_total(y, {x}, false);
  EXPECT_TRUE(all_close(g[0], exp(x.detach()), 1e-14, 0));
  EXPECT_FALSE(x.grad().defined());
}

TEST(AutogradBasics, DiamondGraphSumsBothPaths) {
  Tensor x = f64({0.5, -1.0}, {2});
  Tensor a = x * x;   // 2x
  Tensor b = sin(x);  // cos x
  Tensor y = a * b;   // y' = 2x sin x + x^2 cos x
  y.backward(ones({2}, kFloat64));
  std::vector<double> expect;
  for (double v : {0.5, -1.0}) expect.push_back(2 * v * std::sin(v) + v * v * std::cos(v));
  EXPECT_TRUE(all_close(x.grad(), tensor(expect, {2}, kFloat64), 1e-14, 1e-15));
}

TEST(AutogradBasics, SecondDerivativeViaCreateGraph) {
  Tensor x = f64({0.7, -1.3, 2.0}, {3});
  Tensor y = x * x * x;
  Tensor g = grad_of_total(y, {x}, true)[0];  // 3x^2
  EXPECT_TRUE(g.requires_grad());
  Tensor h = grad_of_total(g, {x}, false)[0];  // 6x
  EXPECT_TRUE(all_close(h, tensor(std::vector<double>{4.2, -7.8, 12.0}, {3}, kFloat64), 1e-13, 1e-13));
  // .backward(create_graph) leaves a .grad with history.
  Tensor z = f64({1.5}, {});
  (z * z * z).backward(Tensor(), false, true);
  ASSERT_TRUE(z.grad().defined());
  EXPECT_TRUE(z.grad().requires_grad());
  Tensor gz = z.grad();
  z.set_grad(Tensor());
  gz.backward();
  EXPECT_DOUBLE_EQ(z.grad().item<double>(), 9.0);  // d(3z^2)/dz = 6z
}

TEST(AutogradBasics, MixedDTypeGradientComesBackInInputDType) {
  Tensor x = tensor(std::vector<float>{1.0f, 2.0f}, {2}, TensorOptions().requires_grad());
  Tensor w = f64({3.0, 4.0}, {2});
  Tensor y = x * w;  // promoted to float64
  EXPECT_EQ(y.dtype(), kFloat64);
  y.backward(ones({2}, kFloat64));
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(x.grad()), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_EQ(w.grad().dtype(), kFloat64);
  EXPECT_EQ(to_vector<double>(w.grad()), (std::vector<double>{1.0, 2.0}));
}

// ---------------------------------------------------------------- higher order, by finite differences
// f(x) = sum_ij tanh(C_ij x_i x_j)^2: a coupled function whose Hessian is dense.
TEST(AutogradHigherOrder, HessianVectorProductMatchesFiniteDifferences) {
  const int64_t n = 4;
  manual_seed(11);
  const Tensor C = randn({n, n}, kFloat64);
  const Tensor x0 = randn({n}, kFloat64);
  const Tensor v = randn({n}, kFloat64);
  auto gradient = [&](const Tensor& x, bool create_graph) {
    Tensor outer = mul(mul(x.unsqueeze(1), x.unsqueeze(0)), C);
    Tensor t = tanh(outer);
    return grad_of_total(t * t, {x}, create_graph)[0];
  };
  Tensor x = x0.clone().requires_grad_(true);
  Tensor g = gradient(x, true);
  Tensor hvp = autograd::grad({g}, {x}, {v}, /*retain_graph=*/true)[0];

  const double eps = 1e-6;
  std::vector<double> fd(static_cast<size_t>(n));
  {
    Tensor xp = add(x0, mul(v, eps)).requires_grad_(true);
    Tensor xm = sub(x0, mul(v, eps)).requires_grad_(true);
    const std::vector<double> gp = to_vector<double>(gradient(xp, false));
    const std::vector<double> gm = to_vector<double>(gradient(xm, false));
    for (size_t i = 0; i < fd.size(); ++i) fd[i] = (gp[i] - gm[i]) / (2 * eps);
  }
  EXPECT_TRUE(all_close(hvp, tensor(fd, {n}, kFloat64), 1e-5, 1e-6));
  // The Hessian is symmetric: e_i^T H e_j == e_j^T H e_i.
  auto hess_col = [&](int64_t j) {
    std::vector<double> e(static_cast<size_t>(n), 0.0);
    e[static_cast<size_t>(j)] = 1.0;
    return to_vector<double>(autograd::grad({g}, {x}, {tensor(e, {n}, kFloat64)}, true)[0]);
  };
  const auto h0 = hess_col(0), h2 = hess_col(2);
  EXPECT_NEAR(h0[2], h2[0], 1e-12);
}

// Gradient penalty: P(W) = sum_j (d out / d x_j)^2 with out = sum_ij V_ij tanh(W_ij x_j); dP/dW by autograd
// (through the create_graph gradient) against finite differences of P.
TEST(AutogradHigherOrder, GradientPenaltyMatchesFiniteDifferences) {
  manual_seed(12);
  const Tensor x = randn({3}, kFloat64).requires_grad_(true);
  const Tensor V = randn({2, 3}, kFloat64);
  const Tensor W0 = randn({2, 3}, kFloat64);
  auto penalty = [&](const Tensor& W, bool create_graph) {
    Tensor out = mul(tanh(mul(W, x.unsqueeze(0))), V);
    Tensor g = grad_of_total(out, {x}, create_graph)[0];
    return g * g;  // summed through the seed of the outer derivative
  };
  Tensor W = W0.clone().requires_grad_(true);
  Tensor P = penalty(W, true);
  P.backward(ones_like(P));
  ASSERT_TRUE(W.grad().defined());

  const double eps = 1e-6;
  std::vector<double> w = to_vector<double>(W0), fd(w.size());
  auto total = [&](const std::vector<double>& wv) {
    double s = 0.0;
    for (double p : to_vector<double>(penalty(tensor(wv, {2, 3}, kFloat64), false))) s += p;
    return s;
  };
  for (size_t i = 0; i < w.size(); ++i) {
    std::vector<double> wp = w, wm = w;
    wp[i] += eps;
    wm[i] -= eps;
    fd[i] = (total(wp) - total(wm)) / (2 * eps);
  }
  EXPECT_TRUE(all_close(W.grad(), tensor(fd, {2, 3}, kFloat64), 1e-5, 1e-7));
}

TEST(AutogradHigherOrder, GradcheckOfComposites) {
  manual_seed(13);
  const Tensor a = randn({2, 3}, kFloat64).requires_grad_(true);
  const Tensor b = randn({3}, kFloat64).requires_grad_(true);
  tangent::testing::Fn fn = [](const std::vector<Tensor>& v) {
    return sigmoid(v[0] * v[1]) * tanh(v[0] - v[1]) + exp(v[1] * 0.1);
  };
  EXPECT_TRUE(gradcheck(fn, {a, b}, 1e-6, 1e-5, 1e-3, "composite"));
  EXPECT_TRUE(gradgradcheck(fn, {a, b}, 1e-6, 1e-4, 1e-3, "composite"));
}

TEST(AutogradHigherOrder, GradcheckDetectsAWrongBackward) {
  // A deliberately wrong derivative (x * 2 recorded with gradient 3g): gradcheck must fail and say where.
  struct Wrong {
    static Tensor apply(const Tensor& x) {
      Tensor out;
      {
        NoGradGuard g;
        out = x * 2.0;
      }
      autograd::record("wrong_double", out, {x}, {},
                       [](const Tensor& g, autograd::Context&) { return std::vector<Tensor>{g * 3.0}; });
      return out;
    }
  };
  Tensor x = f64({1.0, 2.0}, {2});
  auto r =
      gradcheck([](const std::vector<Tensor>& v) { return Wrong::apply(v[0]); }, {x}, 1e-6, 1e-5, 1e-3, "wrong_double");
  EXPECT_FALSE(r);
  EXPECT_TRUE(contains(r.message(), "wrong_double")) << r.message();
  EXPECT_TRUE(contains(r.message(), "analytic 3")) << r.message();
  EXPECT_TRUE(contains(r.message(), "numerical 1.99999") || contains(r.message(), "numerical 2")) << r.message();
}

// ---------------------------------------------------------------- graph lifetime and errors
TEST(AutogradGraph, SecondBackwardNeedsRetainGraph) {
  Tensor x = f64({0.5, 1.5}, {2});
  Tensor y = exp(x) * x;
  Tensor seed = ones({2}, kFloat64);
  y.backward(seed, /*retain_graph=*/true);
  y.backward(seed);  // allowed: the graph was retained
  std::vector<double> expect;
  for (double v : {0.5, 1.5}) expect.push_back(2 * (std::exp(v) * (1 + v)));
  EXPECT_TRUE(all_close(x.grad(), tensor(expect, {2}, kFloat64), 1e-14, 0));
  const std::string msg = error_message([&] { y.backward(seed); });  // the graph is freed now
  EXPECT_TRUE(contains(msg, "retain_graph")) << msg;
  EXPECT_TRUE(contains(msg, "second time")) << msg;
}

TEST(AutogradGraph, SavedTensorModifiedInPlaceRaises) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor a = x * 2.0;
  Tensor b = a * a;  // saves a
  a.add_(ones({2}, kFloat64));
  const std::string msg = error_message([&] { b.backward(ones({2}, kFloat64)); });
  EXPECT_TRUE(contains(msg, "in-place")) << msg;
  EXPECT_TRUE(contains(msg, "version")) << msg;
  EXPECT_TRUE(contains(msg, "mul")) << msg;

  // A saved leaf changed under NoGradGuard is caught the same way.
  Tensor w = f64({3.0}, {1});
  Tensor z = w * w;
  {
    NoGradGuard guard;
    w.mul_(2.0);
  }
  const std::string msg2 = error_message([&] { z.backward(ones({1}, kFloat64)); });
  EXPECT_TRUE(contains(msg2, "in-place")) << msg2;
}

TEST(AutogradGraph, OutputThatDoesNotRequireGradRaises) {
  Tensor x = f64({1.0}, {1}, false);
  Tensor y = x * 2.0;
  EXPECT_FALSE(y.requires_grad());
  const std::string msg = error_message([&] { y.backward(ones({1}, kFloat64)); });
  EXPECT_TRUE(contains(msg, "does not require grad")) << msg;
  Tensor w = f64({1.0}, {1});
  const std::string msg2 = error_message([&] { autograd::grad({y}, {w}, {ones({1}, kFloat64)}); });
  EXPECT_TRUE(contains(msg2, "does not require grad")) << msg2;
  // An input that does not require grad is rejected too.
  Tensor z = w * 2.0;
  const std::string msg3 = error_message([&] { autograd::grad({z}, {x}, {ones({1}, kFloat64)}); });
  EXPECT_TRUE(contains(msg3, "does not require grad")) << msg3;
}

TEST(AutogradGraph, AllowUnused) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor w = f64({5.0}, {1});
  Tensor y = x * 3.0;
  const std::string msg = error_message([&] { autograd::grad({y}, {x, w}, {ones({2}, kFloat64)}, true); });
  EXPECT_TRUE(contains(msg, "allow_unused")) << msg;
  std::vector<Tensor> g = autograd::grad({y}, {x, w}, {ones({2}, kFloat64)}, true, false, /*allow_unused=*/true);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(to_vector<double>(g[0]), (std::vector<double>{3.0, 3.0}));
  EXPECT_FALSE(g[1].defined());
}

TEST(AutogradGraph, GradWithRespectToNonLeaf) {
  Tensor x = f64({1.0, -2.0}, {2});
  Tensor h = x * 3.0;
  Tensor y = h * h;
  std::vector<Tensor> g = autograd::grad({y}, {h, x}, {ones({2}, kFloat64)});
  EXPECT_EQ(to_vector<double>(g[0]), (std::vector<double>{6.0, -12.0}));   // 2h
  EXPECT_EQ(to_vector<double>(g[1]), (std::vector<double>{18.0, -36.0}));  // 18x
  EXPECT_FALSE(x.grad().defined());
}

TEST(AutogradGraph, MultipleOutputsWithSeeds) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor a = x * 2.0, b = x * x;
  autograd::backward({a, b}, {ones({2}, kFloat64), tensor(std::vector<double>{1.0, 0.5}, {2}, kFloat64)});
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{4.0, 4.0}));  // 2 + 2x * w
}

TEST(AutogradGraph, DeepChainDoesNotOverflowTheStack) {
  Tensor x = f64({1.0}, {1});
  Tensor y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001;
  y.backward(ones({1}, kFloat64));
  EXPECT_NEAR(x.grad().item<double>(), std::pow(1.0001, 10000), 1e-9);
  // Building and dropping a deeper graph without running it must not crash either.
  Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = z + 0.5;
  EXPECT_NEAR(z.item<double>(), 50001.0, 1e-6);
  z = Tensor();
  // And a deep chain through grad() with create_graph.
  Tensor w = x;
  for (int i = 0; i < 10000; ++i) w = tanh(w) + x * 1e-3;
  EXPECT_TRUE(std::isfinite(autograd::grad({w}, {x}, {ones({1}, kFloat64)}, std::nullopt, true)[0].item<double>()));
}

TEST(AutogradGraph, BroadcastGradientsAreReduced) {
  Tensor a = f64({1.0, 2.0, 3.0}, {3, 1});
  Tensor b = f64({10.0, 20.0, 30.0, 40.0}, {4});
  Tensor y = a * b + a;  // [3, 4]
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  y.backward(ones({3, 4}, kFloat64));
  ASSERT_EQ(a.grad().shape(), (Shape{3, 1}));
  ASSERT_EQ(b.grad().shape(), (Shape{4}));
  EXPECT_EQ(to_vector<double>(a.grad()), (std::vector<double>{104.0, 104.0, 104.0}));  // sum(b) + 4
  EXPECT_EQ(to_vector<double>(b.grad()), (std::vector<double>{6.0, 6.0, 6.0, 6.0}));   // sum(a)
  // Gradients of different shapes meeting at one tensor: a broadcast use ([3, 4]) and a plain use ([4]).
  Tensor c = f64({1.0, 2.0, 3.0, 4.0}, {4});
  autograd::backward({a.detach() * c, c * 2.0}, {ones({3, 4}, kFloat64), ones({4}, kFloat64)});
  EXPECT_EQ(to_vector<double>(c.grad()), (std::vector<double>{8.0, 8.0, 8.0, 8.0}));  // sum(a) + 2
  Tensor c2 = f64({1.0, 2.0, 3.0, 4.0}, {4});
  autograd::backward({c2 * 2.0, a.detach() * c2}, {ones({4}, kFloat64), ones({3, 4}, kFloat64)});
  EXPECT_EQ(to_vector<double>(c2.grad()), (std::vector<double>{8.0, 8.0, 8.0, 8.0}));
  Tensor s = f64({2.0}, {});
  Tensor z = exp(f64({0.0, 1.0}, {2, 1}, false)) * s;
  z.backward(ones({2, 1}, kFloat64));
  EXPECT_EQ(s.grad().shape(), Shape{});
  EXPECT_NEAR(s.grad().item<double>(), 1.0 + std::exp(1.0), 1e-14);
}

// ---------------------------------------------------------------- grad mode, detach, hooks
TEST(AutogradMode, NoGradGuardRecordsNothing) {
  Tensor x = f64({1.0}, {1});
  EXPECT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = x * 2.0 + exp(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
    {
      AutoGradMode enable(true);
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  ASSERT_TRUE(z.grad_fn());
  EXPECT_STREQ(z.grad_fn()->name(), "mul");
}

TEST(AutogradMode, DetachSharesStorageWithoutHistory) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor y = x * 3.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_FALSE(d.grad_fn());
  EXPECT_EQ(d.storage(), y.storage());
  EXPECT_EQ(to_vector<double>(d), (std::vector<double>{3.0, 6.0}));
  Tensor z = d * x;  // the gradient w.r.t. x sees d as a constant
  z.backward(ones({2}, kFloat64));
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{3.0, 6.0}));
}

TEST(AutogradHooks, LeafHookDoublesTheGradient) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor seen;
  x.register_hook([&seen](const Tensor& g) {
    seen = g;
    return g * 2.0;
  });
  (x * 3.0).backward(ones({2}, kFloat64));
  ASSERT_TRUE(seen.defined());
  EXPECT_EQ(to_vector<double>(seen), (std::vector<double>{3.0, 3.0}));
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{6.0, 6.0}));
}

TEST(AutogradHooks, NonLeafHookChangesWhatFlowsUpstream) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor h = x * 3.0;
  int calls = 0;
  h.register_hook([&calls](const Tensor& g) {
    ++calls;
    return g * 2.0;
  });
  h.register_hook([](const Tensor&) { return Tensor(); });  // observing only: keeps the gradient
  Tensor y = h * h;
  y.backward(ones({2}, kFloat64));
  EXPECT_EQ(calls, 1);
  // dy/dh = 2h = [6, 12], doubled, times dh/dx = 3.
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{36.0, 72.0}));
  EXPECT_FALSE(h.grad().defined());  // non-leaves do not keep .grad unless asked
  Tensor c = f64({1.0}, {1}, false);
  EXPECT_THROW(c.register_hook([](const Tensor& g) { return g; }), Error);
}

TEST(AutogradHooks, RetainGrad) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor h = x * 3.0;
  h.retain_grad();
  Tensor y = h * h;
  y.backward(ones({2}, kFloat64), true);
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(to_vector<double>(h.grad()), (std::vector<double>{6.0, 12.0}));
  y.backward(ones({2}, kFloat64));
  EXPECT_EQ(to_vector<double>(h.grad()), (std::vector<double>{12.0, 24.0}));  // accumulates like a leaf
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{36.0, 72.0}));
}

// ---------------------------------------------------------------- requires_grad and dtypes
TEST(AutogradRequiresGrad, IntegerTensorsCannotRequireGrad) {
  Tensor i = tensor(std::vector<int64_t>{1, 2});
  const std::string msg = error_message([&] { i.requires_grad_(); });
  EXPECT_TRUE(contains(msg, "int64")) << msg;
  EXPECT_TRUE(contains(msg, "requires_grad")) << msg;
  Tensor b = full({2}, true, kBool);
  EXPECT_TRUE(contains(error_message([&] { b.requires_grad_(); }), "bool"));
  EXPECT_FALSE(i.requires_grad());
  i.requires_grad_(false);  // turning it off is always fine
  // Ops on float tensors that require grad give non-differentiable integer/bool results.
  Tensor x = f64({1.0, -1.0}, {2});
  EXPECT_FALSE(gt(x, 0.0).requires_grad());
}

TEST(AutogradRequiresGrad, NonLeafCannotBeTurnedOff) {
  Tensor x = f64({1.0}, {1});
  Tensor y = x * 2.0;
  const std::string msg = error_message([&] { y.requires_grad_(false); });
  EXPECT_TRUE(contains(msg, "detach")) << msg;
}

// ---------------------------------------------------------------- in-place ops and versions
TEST(AutogradInPlace, LeafThatRequiresGradCannotBeModified) {
  Tensor x = f64({1.0, 2.0}, {2});
  const std::string msg = error_message([&] { x.add_(ones({2}, kFloat64)); });
  EXPECT_TRUE(contains(msg, "leaf")) << msg;
  EXPECT_TRUE(contains(msg, "add_")) << msg;
  EXPECT_THROW(x.mul_(2.0), Error);
  EXPECT_THROW(x.fill_(0.0), Error);
  EXPECT_THROW(relu_(x), Error);
  EXPECT_EQ(to_vector<double>(x), (std::vector<double>{1.0, 2.0}));  // unchanged
  {
    NoGradGuard guard;  // an optimizer step
    const uint64_t v = x.version();
    x.sub_(ones({2}, kFloat64), 0.5);
    EXPECT_EQ(x.version(), v + 1);
  }
  EXPECT_EQ(to_vector<double>(x), (std::vector<double>{0.5, 1.5}));
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
}

TEST(AutogradInPlace, NonLeafWithHistoryGetsCorrectGradients) {
  Tensor x = f64({1.0, 2.0}, {2});
  Tensor w = f64({0.5, -1.0}, {2});
  Tensor h = x * 2.0;
  h.add_(w);  // h = 2x + w
  EXPECT_FALSE(h.is_leaf());
  Tensor z = h * h;
  z.backward(ones({2}, kFloat64));
  // dz/dx = 2h * 2, dz/dw = 2h with h = [2.5, 3]
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{10.0, 12.0}));
  EXPECT_EQ(to_vector<double>(w.grad()), (std::vector<double>{5.0, 6.0}));

  Tensor a = f64({1.5, -0.5}, {2});
  Tensor b = a * 2.0;
  b.mul_(a);  // b = 2 a^2
  exp_(b);    // b = exp(2 a^2)
  b.backward(ones({2}, kFloat64));
  std::vector<double> expect;
  for (double v : {1.5, -0.5}) expect.push_back(std::exp(2 * v * v) * 4 * v);
  EXPECT_TRUE(all_close(a.grad(), tensor(expect, {2}, kFloat64), 1e-13, 0));
}

TEST(AutogradInPlace, VersionCounterBumps) {
  Tensor t = zeros({2, 3});
  const uint64_t v0 = t.version();
  t.add_(ones({3}));
  EXPECT_EQ(t.version(), v0 + 1);
  t.mul_(2.0);
  EXPECT_EQ(t.version(), v0 + 2);
  Tensor view = t.view({6});
  view.fill_(1.0);
  EXPECT_EQ(t.version(), v0 + 3);  // shared by views
  t.zero_();
  EXPECT_EQ(view.version(), v0 + 4);
  t.copy_(ones({3}));
  EXPECT_EQ(t.version(), v0 + 5);
  Tensor out_of_place = t + 1.0;
  EXPECT_EQ(t.version(), v0 + 5);  // out-of-place ops do not bump
  EXPECT_EQ(out_of_place.version(), 0u);
}
