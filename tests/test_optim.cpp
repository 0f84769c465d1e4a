// Tests of nn/optim: each optimizer's trajectory against PyTorch's update formulas evaluated in double, the fused
// CPU loops against the tensor-op fallback, convergence, parameter groups, state_dict round trips (bit-identical
// resume), schedulers' closed forms and gradient clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "nn/optim/optim.h"
#include "support/errors.h"

using namespace tangent;
using tangent::testing::expect_error;
using namespace tangent::optim;

namespace {

using Vec = std::vector<double>;

// The problem every trajectory test uses: loss = sum((w * x - y)^2), so dloss/dw = 2 x (w x - y).
const Vec kX = {0.5, -1.5, 2.0, 1.25, -0.75};
const Vec kY = {1.0, 2.0, -0.5, 0.3, -1.2};
const Vec kW0 = {0.3, -0.2, 0.8, -1.1, 0.05};

Vec ref_grad(const Vec& w) {
  Vec g(w.size());
  for (size_t i = 0; i < w.size(); ++i) g[i] = 2.0 * kX[i] * (w[i] * kX[i] - kY[i]);
  return g;
}

// Fills w.grad with the gradient of the loss through autograd.
void compute_grad(const Tensor& w, DType dtype) {
  Tensor x = tensor(kX, {static_cast<int64_t>(kX.size())}, kFloat64).to(dtype);
  Tensor y = tensor(kY, {static_cast<int64_t>(kY.size())}, kFloat64).to(dtype);
  Tensor r = w * x - y;
  (r * r).sum().backward();
}

Tensor make_param(DType dtype = kFloat64, const Vec& values = kW0) {
  Tensor w = tensor(values, {static_cast<int64_t>(values.size())}, kFloat64).to(dtype);
  w.requires_grad_();
  return w;
}

// Runs `steps` optimizer steps on the problem and returns the parameter after each step.
std::vector<Vec> run(Optimizer& opt, const Tensor& w, int steps) {
  std::vector<Vec> out;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    compute_grad(w, w.dtype());
    opt.step();
    out.push_back(to_vector<double>(w));
  }
  return out;
}

void expect_near_vec(const Vec& got, const Vec& want, double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], rtol * (1.0 + std::abs(want[i]))) << what << " element " << i;
}

// ---- the reference formulas (torch.optim's documented algorithms), in double ----
struct RefSGD {
  double lr = 0, momentum = 0, dampening = 0, wd = 0;
  bool nesterov = false;
  Vec buf = {};
  void step(Vec& w) {
    Vec g = ref_grad(w);
    for (size_t i = 0; i < w.size(); ++i) {
      double d = g[i] + wd * w[i];
      if (momentum != 0) {
        if (buf.size() < w.size()) buf.resize(w.size());
        buf[i] = first ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d;
    }
    first = false;
  }
  bool first = true;
};

struct RefAdam {
  double lr = 0, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0;
  bool amsgrad = false, decoupled = false;
  Vec m = {}, v = {}, vmax = {};
  int t = 0;
  void step(Vec& w) {
    Vec g = ref_grad(w);
    if (m.empty()) m = v = vmax = Vec(w.size(), 0.0);
    ++t;
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    for (size_t i = 0; i < w.size(); ++i) {
      if (decoupled) w[i] *= 1 - lr * wd;
      const double d = decoupled ? g[i] : g[i] + wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * d;
      v[i] = b2 * v[i] + (1 - b2) * d * d;
      vmax[i] = std::max(vmax[i], v[i]);
      const double vh = amsgrad ? vmax[i] : v[i];
      w[i] -= (lr / bc1) * m[i] / (std::sqrt(vh) / std::sqrt(bc2) + eps);
    }
  }
};

struct RefRMSprop {
  double lr = 0, alpha = 0.99, eps = 1e-8, wd = 0, momentum = 0;
  bool centered = false;
  Vec sq = {}, ga = {}, buf = {};
  void step(Vec& w) {
    Vec g = ref_grad(w);
    if (sq.empty()) sq = ga = buf = Vec(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      const double d = g[i] + wd * w[i];
      sq[i] = alpha * sq[i] + (1 - alpha) * d * d;
      double avg;
      if (centered) {
        ga[i] = alpha * ga[i] + (1 - alpha) * d;
        avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
      } else {
        avg = std::sqrt(sq[i]) + eps;
      }
      if (momentum > 0) {
        buf[i] = momentum * buf[i] + d / avg;
        w[i] -= lr * buf[i];
      } else {
        w[i] -= lr * d / avg;
      }
    }
  }
};

template <typename Ref>
void expect_trajectory(Optimizer& opt, const Tensor& w, Ref ref, int steps, double rtol, const std::string& what) {
  Vec wr = to_vector<double>(w);
  std::vector<Vec> got = run(opt, w, steps);
  for (int s = 0; s < steps; ++s) {
    ref.step(wr);
    expect_near_vec(got[static_cast<size_t>(s)], wr, rtol, what + " step " + std::to_string(s + 1));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
TEST(OptimSGD, PlainMatchesFormula) {
  Tensor w = make_param();
  SGDOptions o;
  o.lr = 0.05;
  SGD opt({w}, o);
  RefSGD ref{0.05};
  expect_trajectory(opt, w, ref, 3, 1e-12, "SGD");
}

TEST(OptimSGD, MomentumDampeningWeightDecayMatchesFormula) {
  Tensor w = make_param();
  SGD opt({w}, SGDOptions{0.03, 0.9, 0.2, 0.01, false});
  RefSGD ref{0.03, 0.9, 0.2, 0.01};
  expect_trajectory(opt, w, ref, 3, 1e-12, "SGD momentum");
  // The first step's buffer is the gradient itself (not (1 - dampening) * g).
  Tensor w2 = make_param();
  SGD opt2({w2}, SGDOptions{0.03, 0.9, 0.2, 0.0, false});
  run(opt2, w2, 1);
  const Vec g0 = ref_grad(kW0);
  const Vec w1 = to_vector<double>(w2);
  for (size_t i = 0; i < w1.size(); ++i) EXPECT_NEAR(w1[i], kW0[i] - 0.03 * g0[i], 1e-14);
}

TEST(OptimSGD, NesterovMatchesFormula) {
  Tensor w = make_param();
  SGD opt({w}, SGDOptions{0.02, 0.8, 0.0, 0.05, true});
  RefSGD ref{0.02, 0.8, 0.0, 0.05, true};
  expect_trajectory(opt, w, ref, 3, 1e-12, "SGD nesterov");
  // Nesterov differs from classical momentum from the first step on.
  Tensor w2 = make_param();
  SGD classical({w2}, SGDOptions{0.02, 0.8, 0.0, 0.05, false});
  run(classical, w2, 2);
  EXPECT_GT(std::abs(to_vector<double>(w)[0] - to_vector<double>(w2)[0]), 0.0);
}

TEST(OptimAdam, MatchesFormula) {
  Tensor w = make_param();
  Adam opt({w}, AdamOptions{0.1});
  RefAdam ref{0.1};
  expect_trajectory(opt, w, ref, 3, 1e-12, "Adam");
}

TEST(OptimAdam, WeightDecayAndAmsgradMatchFormula) {
  Tensor w = make_param();
  AdamOptions o{0.05, 0.8, 0.9, 1e-6, 0.1, true};
  Adam opt({w}, o);
  RefAdam ref{0.05, 0.8, 0.9, 1e-6, 0.1, true};
  expect_trajectory(opt, w, ref, 5, 1e-12, "Adam amsgrad");
}

TEST(OptimAdamW, MatchesFormulaAndDiffersFromAdam) {
  Tensor w = make_param();
  AdamOptions o{0.05, 0.9, 0.99, 1e-8, 0.2, false};
  AdamW opt({w}, o);
  EXPECT_EQ(opt.kind(), "AdamW");
  RefAdam ref{0.05, 0.9, 0.99, 1e-8, 0.2, false, true};
  expect_trajectory(opt, w, ref, 3, 1e-12, "AdamW");

  Tensor w2 = make_param();
  Adam adam({w2}, o);
  run(adam, w2, 3);
  const Vec a = to_vector<double>(w), b = to_vector<double>(w2);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  EXPECT_GT(diff, 1e-4);
  // AdamW's default weight decay is 1e-2, Adam's 0.
  AdamW defaults({make_param()});
  EXPECT_DOUBLE_EQ(defaults.param_groups()[0].options.weight_decay, 1e-2);
  Adam adam_defaults({make_param()});
  EXPECT_DOUBLE_EQ(adam_defaults.param_groups()[0].options.weight_decay, 0.0);
}

TEST(OptimAdamW, AmsgradMatchesFormula) {
  Tensor w = make_param();
  AdamW opt({w}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
  RefAdam ref{0.05, 0.9, 0.99, 1e-8, 0.1, true, true};
  expect_trajectory(opt, w, ref, 4, 1e-12, "AdamW amsgrad");
}

TEST(OptimRMSprop, MatchesFormula) {
  Tensor w = make_param();
  RMSprop opt({w}, RMSpropOptions{0.01});
  RefRMSprop ref{0.01};
  expect_trajectory(opt, w, ref, 3, 1e-12, "RMSprop");
}

TEST(OptimRMSprop, CenteredMomentumWeightDecayMatchesFormula) {
  Tensor w = make_param();
  RMSprop opt({w}, RMSpropOptions{0.01, 0.9, 1e-6, 0.05, 0.7, true});
  RefRMSprop ref{0.01, 0.9, 1e-6, 0.05, 0.7, true};
  expect_trajectory(opt, w, ref, 4, 1e-12, "RMSprop centered momentum");
}

// float32 parameters go through the fused float loops; they agree with the double formulas to float precision.
TEST(OptimFused, Float32MatchesFormula) {
  {
    Tensor w = make_param(kFloat32);
    SGD opt({w}, SGDOptions{0.03, 0.9, 0.1, 0.01, false});
    expect_trajectory(opt, w, RefSGD{0.03, 0.9, 0.1, 0.01}, 3, 1e-5, "SGD float32");
  }
  {
    Tensor w = make_param(kFloat32);
    Adam opt({w}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
    expect_trajectory(opt, w, RefAdam{0.05, 0.9, 0.99, 1e-8, 0.1, true}, 3, 1e-5, "Adam float32");
  }
  {
    Tensor w = make_param(kFloat32);
    RMSprop opt({w}, RMSpropOptions{0.01, 0.9, 1e-6, 0.05, 0.7, true});
    expect_trajectory(opt, w, RefRMSprop{0.01, 0.9, 1e-6, 0.05, 0.7, true}, 3, 1e-5, "RMSprop float32");
  }
}

// A large parameter runs the fused loop in parallel chunks; every element follows the formula.
TEST(OptimFused, LargeParameterMatchesFormula) {
  const int64_t n = 100003;
  Tensor w = randn({n}, kFloat64);
  w.requires_grad_();
  Tensor g = randn({n}, kFloat64);
  Adam opt({w}, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.01, false});
  const Vec w0 = to_vector<double>(w), gv = to_vector<double>(g);
  w.set_grad(g.clone());
  opt.step();
  const Vec w1 = to_vector<double>(w);
  for (int64_t i = 0; i < n; i += 997) {
    const double d = gv[static_cast<size_t>(i)] + 0.01 * w0[static_cast<size_t>(i)];
    const double m = 0.1 * d, v = 0.001 * d * d;
    const double want = w0[static_cast<size_t>(i)] - (0.01 / 0.1) * m / (std::sqrt(v) / std::sqrt(0.001) + 1e-8);
    ASSERT_NEAR(w1[static_cast<size_t>(i)], want, 1e-12) << i;
  }
}

// A strided (non-contiguous) parameter takes the tensor-op fallback, which follows the same math.
TEST(OptimFallback, StridedParameterMatchesFusedPath) {
  auto check = [](const std::function<std::unique_ptr<Optimizer>(const Tensor&)>& make, const std::string& what) {
    Tensor dense = tensor(Vec{0.3, -0.2, 0.8, -1.1, 0.05, 0.7}, {2, 3}, kFloat64);
    Tensor strided = dense.t().contiguous().t();  // same values, column-major strides
    dense.requires_grad_();
    strided.requires_grad_();
    ASSERT_FALSE(strided.is_contiguous());
    const Tensor x = tensor(Vec{0.5, -1.5, 2.0, 1.25, -0.75, 0.9}, {2, 3}, kFloat64);
    auto opt_a = make(dense);
    auto opt_b = make(strided);
    for (int s = 0; s < 4; ++s) {
      for (auto* pair : {&dense, &strided}) {
        pair->set_grad(Tensor());
        Tensor r = *pair * x - 0.5;
        (r * r).sum().backward();
      }
      opt_a->step();
      opt_b->step();
    }
    const Vec a = to_vector<double>(dense), b = to_vector<double>(strided);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << what << " element " << i;
    EXPECT_GT(std::abs(a[0] - 0.3), 1e-6) << what << ": the parameter did not move";
  };
  check(
      [](const Tensor& p) {
        return std::make_unique<SGD>(std::vector<Tensor>{p}, SGDOptions{0.02, 0.9, 0.1, 0.01});
      },
      "SGD");
  check(
      [](const Tensor& p) {
        return std::make_unique<SGD>(std::vector<Tensor>{p}, SGDOptions{0.02, 0.9, 0.0, 0.01, true});
      },
      "SGD nesterov");
  check(
      [](const Tensor& p) {
        return std::make_unique<Adam>(std::vector<Tensor>{p}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
      },
      "Adam");
  check(
      [](const Tensor& p) {
        return std::make_unique<AdamW>(std::vector<Tensor>{p}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, false});
      },
      "AdamW");
  check(
      [](const Tensor& p) {
        return std::make_unique<RMSprop>(std::vector<Tensor>{p}, RMSpropOptions{0.01, 0.9, 1e-6, 0.05, 0.7, true});
      },
      "RMSprop");
}

// 16-bit parameters take the tensor-op fallback too; they follow the float32 trajectory to 16-bit precision.
TEST(OptimFallback, HalfPrecisionFollowsFloat32) {
  for (DType dt : {kFloat16, kBFloat16}) {
    Tensor w16 = make_param(dt), w32 = make_param(kFloat32);
    Adam a16({w16}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
    Adam a32({w32}, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
    run(a16, w16, 3);
    run(a32, w32, 3);
    EXPECT_EQ(w16.dtype(), dt);
    ASSERT_NE(nn::find(a16.state_dict().tensors, "0.exp_avg"), nullptr);
    EXPECT_EQ(nn::find(a16.state_dict().tensors, "0.exp_avg")->dtype(), dt);
    const Vec a = to_vector<double>(w16), b = to_vector<double>(w32);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.03) << dt << " element " << i;
  }
}

// When a parameter changes dtype after its state exists (Module::to), the state follows it.
TEST(OptimFallback, StateFollowsParameterDtypeChange) {
  Tensor w = make_param(kFloat32);
  Adam opt({w}, AdamOptions{0.05});
  run(opt, w, 2);
  nn::set_data(w, w.detach().to(kFloat64));
  ASSERT_EQ(w.dtype(), kFloat64);
  ASSERT_TRUE(w.requires_grad());
  run(opt, w, 1);
  EXPECT_EQ(nn::find(opt.state_dict().tensors, "0.exp_avg_sq")->dtype(), kFloat64);
  RefAdam ref{0.05};
  Vec wr = kW0;
  for (int s = 0; s < 3; ++s) ref.step(wr);
  expect_near_vec(to_vector<double>(w), wr, 1e-5, "Adam after a dtype change");
}

// ---------------------------------------------------------------------------------------------------------------
// Least squares y = 3 x - 2 + noise-free, fitted with w * x + b (elementwise, broadcasting the [1] parameters).
double fit(Optimizer& opt, const Tensor& w, const Tensor& b, int steps, double* first_loss) {
  Tensor x = linspace(-2.0, 2.0, 64, kFloat32);
  Tensor y = x * 3.0 - 2.0;
  double loss_value = 0.0;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor r = w * x + b - y;
    Tensor loss = (r * r).mean();
    loss_value = loss.item<double>();
    if (s == 0) *first_loss = loss_value;
    loss.backward();
    opt.step();
  }
  return loss_value;
}

TEST(OptimConvergence, SGDAndAdamReduceLeastSquaresLoss100x) {
  {
    Tensor w = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
    SGD opt({w, b}, SGDOptions{0.05, 0.9});
    double first = 0;
    const double last = fit(opt, w, b, 200, &first);
    EXPECT_LT(last, first / 100.0) << "SGD: " << first << " -> " << last;
  }
  {
    Tensor w = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
    Adam opt({w, b}, AdamOptions{0.1});
    double first = 0;
    const double last = fit(opt, w, b, 300, &first);
    EXPECT_LT(last, first / 100.0) << "Adam: " << first << " -> " << last;
  }
  {
    Tensor w = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
    RMSprop opt({w, b}, RMSpropOptions{0.05});
    double first = 0;
    const double last = fit(opt, w, b, 300, &first);
    EXPECT_LT(last, first / 100.0) << "RMSprop: " << first << " -> " << last;
  }
}

// ---------------------------------------------------------------------------------------------------------------
TEST(OptimGroups, DifferentLearningRatesAndWeightDecay) {
  Tensor a = make_param(), b = make_param();
  SGD opt({}, SGDOptions{0.01});
  opt.add_param_group({a});
  ParamGroup& g2 = opt.add_param_group({b});
  g2.options.lr = 0.1;
  g2.options.weight_decay = 0.5;
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options.lr, 0.01);
  for (const auto& p : {a, b}) compute_grad(p, kFloat64);
  opt.step();
  const Vec g = ref_grad(kW0);
  const Vec va = to_vector<double>(a), vb = to_vector<double>(b);
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_NEAR(va[i], kW0[i] - 0.01 * g[i], 1e-14);
    EXPECT_NEAR(vb[i], kW0[i] - 0.1 * (g[i] + 0.5 * kW0[i]), 1e-14);
  }
  // set_lr sets every group; lr() reads the first.
  opt.set_lr(0.25);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].options.lr, 0.25);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.25);
  // A parameter may appear only once.
  EXPECT_THROW(opt.add_param_group({a}), Error);
  EXPECT_THROW((SGD({a, a})), Error);
}

TEST(OptimBasics, SkipsParamsWithoutGradAndZeroGradClears) {
  Tensor a = make_param(), b = make_param();
  Adam opt({a, b}, AdamOptions{0.1});
  compute_grad(a, kFloat64);
  const uint64_t va = a.version(), vb = b.version();
  opt.step();
  EXPECT_EQ(to_vector<double>(b), kW0);  // no gradient: untouched
  EXPECT_NE(to_vector<double>(a), kW0);
  EXPECT_GT(a.version(), va);  // the in-place update bumps the version counter
  EXPECT_EQ(b.version(), vb);
  EXPECT_EQ(opt.step_count(), 1);
  // b has no state yet, a has exp_avg and exp_avg_sq.
  const OptimizerState st = opt.state_dict();
  EXPECT_NE(nn::find(st.tensors, "0.exp_avg"), nullptr);
  EXPECT_NE(nn::find(st.tensors, "0.exp_avg_sq"), nullptr);
  EXPECT_EQ(nn::find(st.tensors, "1.exp_avg"), nullptr);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(OptimBasics, InvalidOptionsAndParamsThrow) {
  Tensor w = make_param();
  expect_error([&] { SGD({w}, SGDOptions{-0.1}); }, {"SGD", "learning rate"});
  expect_error([&] { SGD({w}, SGDOptions{0.1, 0.0, 0.0, 0.0, true}); }, {"SGD", "nesterov"});
  expect_error([&] { Adam({w}, AdamOptions{0.1, 1.0}); }, {"Adam", "beta1"});
  expect_error([&] { AdamW({w}, AdamOptions{0.1, 0.9, 1.5}); }, {"AdamW", "beta2"});
  expect_error([&] { RMSprop({w}, RMSpropOptions{0.1, 0.9, 1e-8, 0.0, -1.0}); }, {"RMSprop", "momentum"});
  Tensor nonleaf = w * 2.0;
  expect_error([&] { SGD({nonleaf}); }, {"SGD", "non-leaf"});
  expect_error([&] { SGD({arange(3)}); }, {"SGD", "floating-point"});
}

// ---------------------------------------------------------------------------------------------------------------
// Runs 3 steps, saves, runs 2 more; a fresh optimizer over a copy of the step-3 parameters, loaded from the saved
// state, runs the same 2 steps: the parameters must be bit-identical.
void check_resume(const std::function<std::unique_ptr<Optimizer>(const std::vector<Tensor>&)>& make,
                  const std::string& what) {
  Tensor a = make_param(kFloat32), b = make_param(kFloat64, {1.0, -2.0, 0.5, 0.25, -0.1});
  auto opt = make({a, b});
  auto train = [](Optimizer& o, const std::vector<Tensor>& ps, int steps) {
    for (int s = 0; s < steps; ++s) {
      o.zero_grad();
      for (const auto& p : ps) compute_grad(p, p.dtype());
      o.step();
    }
  };
  train(*opt, {a, b}, 3);
  const OptimizerState saved = opt->state_dict();
  Tensor a3 = a.detach().clone().requires_grad_(), b3 = b.detach().clone().requires_grad_();
  train(*opt, {a, b}, 2);

  auto fresh = make({a3, b3});
  fresh->set_lr(123.0);  // overwritten by the loaded group options
  fresh->load_state_dict(saved);
  EXPECT_EQ(fresh->step_count(), 3) << what;
  EXPECT_DOUBLE_EQ(fresh->lr(), opt->lr()) << what;
  train(*fresh, {a3, b3}, 2);
  EXPECT_EQ(to_vector<float>(a3), to_vector<float>(a)) << what;
  EXPECT_EQ(to_vector<double>(b3), to_vector<double>(b)) << what;
  EXPECT_NE(to_vector<double>(b3), to_vector<double>(make_param(kFloat64, {1.0, -2.0, 0.5, 0.25, -0.1})));
}

TEST(OptimState, RoundTripIsBitIdentical) {
  check_resume(
      [](const std::vector<Tensor>& ps) {
        return std::make_unique<SGD>(ps, SGDOptions{0.02, 0.9, 0.1, 0.01});
      },
      "SGD");
  check_resume(
      [](const std::vector<Tensor>& ps) {
        return std::make_unique<SGD>(ps, SGDOptions{0.02, 0.9, 0.0, 0.01, true});
      },
      "SGD nesterov");
  check_resume(
      [](const std::vector<Tensor>& ps) {
        return std::make_unique<Adam>(ps, AdamOptions{0.05, 0.9, 0.99, 1e-8, 0.1, true});
      },
      "Adam");
  check_resume([](const std::vector<Tensor>& ps) { return std::make_unique<AdamW>(ps, AdamOptions{0.05}); }, "AdamW");
  check_resume(
      [](const std::vector<Tensor>& ps) {
        return std::make_unique<RMSprop>(ps, RMSpropOptions{0.01, 0.9, 1e-6, 0.05, 0.7, true});
      },
      "RMSprop");
}

TEST(OptimState, ContentsAndIndependence) {
  Tensor a = make_param();
  Adam opt({a}, AdamOptions{0.1, 0.8});
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    compute_grad(a, kFloat64);
    opt.step();
  }
  OptimizerState st = opt.state_dict();
  EXPECT_EQ(st.kind, "Adam");
  ASSERT_NE(find_scalar(st.scalars, "0.step"), nullptr);
  EXPECT_EQ(*find_scalar(st.scalars, "0.step"), 2.0);
  EXPECT_EQ(*find_scalar(st.scalars, "step"), 2.0);
  EXPECT_EQ(*find_scalar(st.scalars, "group.0.lr"), 0.1);
  EXPECT_EQ(*find_scalar(st.scalars, "group.0.beta1"), 0.8);
  EXPECT_EQ(*find_scalar(st.scalars, "group.0.num_params"), 1.0);
  const Tensor* m = nn::find(st.tensors, "0.exp_avg");
  ASSERT_NE(m, nullptr);
  // The saved tensors are copies: further steps do not change them.
  const Vec before = to_vector<double>(*m);
  compute_grad(a, kFloat64);
  opt.step();
  EXPECT_EQ(to_vector<double>(*m), before);
}

TEST(OptimState, LoadRejectsMismatches) {
  Tensor a = make_param();
  SGD sgd({a}, SGDOptions{0.1, 0.9});
  compute_grad(a, kFloat64);
  sgd.step();
  const OptimizerState st = sgd.state_dict();

  Adam adam({make_param()});
  expect_error([&] { adam.load_state_dict(st); }, {"Adam", "load_state_dict", "'SGD'"});

  Tensor wrong = zeros({2, 3}, kFloat64).requires_grad_();
  SGD other({wrong}, SGDOptions{0.1, 0.9});
  expect_error([&] { other.load_state_dict(st); }, {"SGD: load_state_dict", "[5]", "[2, 3]"});

  SGD two({make_param(), make_param()}, SGDOptions{0.1, 0.9});
  expect_error([&] { two.load_state_dict(st); }, {"SGD: load_state_dict", "group 0"});

  SGD groups({make_param()}, SGDOptions{0.1, 0.9});
  groups.add_param_group({make_param()});
  expect_error([&] { groups.load_state_dict(st); }, {"SGD: load_state_dict", "groups"});

  OptimizerState bad = st;
  bad.tensors.emplace_back("0.exp_avg", zeros({5}, kFloat64));
  SGD same({make_param()}, SGDOptions{0.1, 0.9});
  expect_error([&] { same.load_state_dict(bad); }, {"exp_avg"});
  // A failed load leaves the optimizer unchanged.
  EXPECT_EQ(same.step_count(), 0);
}

// ---------------------------------------------------------------------------------------------------------------
TEST(OptimScheduler, StepLRClosedForm) {
  Tensor w = make_param();
  SGD opt({w}, SGDOptions{0.5});
  StepLR sched(opt, 3, 0.1);
  for (int e = 0; e < 10; ++e) {
    const double want = 0.5 * std::pow(0.1, e / 3);
    EXPECT_DOUBLE_EQ(sched.get_last_lr(), want) << e;
    EXPECT_DOUBLE_EQ(opt.lr(), want) << e;
    EXPECT_EQ(sched.last_epoch(), e);
    sched.step();
  }
}

TEST(OptimScheduler, ExponentialLRClosedFormPerGroup) {
  SGD opt({make_param()}, SGDOptions{0.2});
  opt.add_param_group({make_param()}).options.lr = 0.02;
  ExponentialLR sched(opt, 0.9);
  for (int e = 0; e < 6; ++e) {
    EXPECT_DOUBLE_EQ(opt.param_groups()[0].options.lr, 0.2 * std::pow(0.9, e));
    EXPECT_DOUBLE_EQ(opt.param_groups()[1].options.lr, 0.02 * std::pow(0.9, e));
    ASSERT_EQ(sched.get_last_lrs().size(), 2u);
    sched.step();
  }
}

TEST(OptimScheduler, CosineAnnealingWarmupValues) {
  SGD opt({make_param()}, SGDOptions{1.0});
  CosineAnnealingWarmup sched(opt, 4, 12, 0.1);
  const double pi = 3.14159265358979323846;
  std::vector<double> got;
  for (int e = 0; e <= 14; ++e) {
    got.push_back(sched.get_last_lr());
    sched.step();
  }
  for (int e = 0; e < 4; ++e) EXPECT_DOUBLE_EQ(got[static_cast<size_t>(e)], e / 4.0) << e;
  for (int e = 4; e <= 12; ++e)
    EXPECT_NEAR(got[static_cast<size_t>(e)], 0.1 + 0.9 * 0.5 * (1 + std::cos(pi * (e - 4) / 8.0)), 1e-15) << e;
  EXPECT_DOUBLE_EQ(got[4], 1.0);
  EXPECT_DOUBLE_EQ(got[8], 0.55);
  EXPECT_DOUBLE_EQ(got[12], 0.1);
  EXPECT_DOUBLE_EQ(got[14], 0.1);
  // A start factor begins the warmup above zero.
  SGD opt2({make_param()}, SGDOptions{2.0});
  CosineAnnealingWarmup s2(opt2, 4, 8, 0.0, 0.25);
  EXPECT_DOUBLE_EQ(s2.get_last_lr(), 0.5);
  s2.step();
  EXPECT_DOUBLE_EQ(s2.get_last_lr(), 2.0 * (0.25 + 0.75 * 0.25));
  EXPECT_THROW(CosineAnnealingWarmup(opt2, 5, 3), Error);
  EXPECT_THROW(StepLR(opt2, 0), Error);
}

TEST(OptimScheduler, StateRoundTrip) {
  SGD opt({make_param()}, SGDOptions{1.0});
  CosineAnnealingWarmup sched(opt, 3, 10, 0.01);
  for (int e = 0; e < 5; ++e) sched.step();
  const SchedulerState st = sched.state_dict();
  EXPECT_EQ(st.kind, "CosineAnnealingWarmup");
  EXPECT_EQ(*find_scalar(st.scalars, "last_epoch"), 5.0);

  SGD opt2({make_param()}, SGDOptions{1.0});
  CosineAnnealingWarmup sched2(opt2, 3, 10, 0.01);
  sched2.load_state_dict(st);
  EXPECT_EQ(sched2.last_epoch(), 5);
  EXPECT_EQ(opt2.lr(), opt.lr());
  for (int e = 0; e < 3; ++e) {
    sched.step();
    sched2.step();
    EXPECT_EQ(sched2.get_last_lr(), sched.get_last_lr());
  }
  StepLR wrong(opt2, 2);
  expect_error([&] { wrong.load_state_dict(st); }, {"StepLR", "CosineAnnealingWarmup"});
}

// ---------------------------------------------------------------------------------------------------------------
TEST(OptimClip, GradNormValueAndScaling) {
  Tensor a = zeros({2}, kFloat64).requires_grad_(), b = zeros({3}, kFloat32).requires_grad_();
  Tensor c = zeros({2}, kFloat64).requires_grad_();  // no gradient: ignored
  a.set_grad(tensor(Vec{3.0, 4.0}, {2}, kFloat64));
  b.set_grad(tensor(std::vector<float>{12.0f, 0.0f, 0.0f}, {3}));
  const double total = clip_grad_norm_({a, b, c}, 6.5);
  EXPECT_DOUBLE_EQ(total, 13.0);
  const double f = 6.5 / (13.0 + 1e-6);
  EXPECT_NEAR(to_vector<double>(a.grad())[0], 3.0 * f, 1e-12);
  EXPECT_NEAR(to_vector<double>(a.grad())[1], 4.0 * f, 1e-12);
  EXPECT_NEAR(to_vector<double>(b.grad())[0], 12.0 * f, 1e-5);
  // Below the limit nothing changes.
  const Vec before = to_vector<double>(a.grad());
  EXPECT_NEAR(clip_grad_norm_({a, b}, 100.0), 6.5, 1e-5);
  EXPECT_EQ(to_vector<double>(a.grad()), before);
  // Infinity norm and the 1-norm.
  a.set_grad(tensor(Vec{-5.0, 2.0}, {2}, kFloat64));
  b.set_grad(tensor(std::vector<float>{1.0f, -3.0f, 0.5f}, {3}));
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 100.0, kInf), 5.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 100.0, 1.0), 11.5);
  EXPECT_NEAR(clip_grad_norm_({a, b}, 100.0, 3.0), std::cbrt(125.0 + 8.0 + 1.0 + 27.0 + 0.125), 1e-6);
}

TEST(OptimClip, LargeGradientNorm) {
  const int64_t n = 200001;  // several parallel blocks
  Tensor w = zeros({n}, kFloat32).requires_grad_();
  w.set_grad(full({n}, 0.5f));
  const double total = clip_grad_norm_({w}, 1.0);
  EXPECT_NEAR(total, 0.5 * std::sqrt(static_cast<double>(n)), 1e-9 * total);
  const Vec g = to_vector<double>(w.grad());
  EXPECT_NEAR(g[12345], 0.5 / (total + 1e-6), 1e-8);
}

TEST(OptimClip, NonfiniteNorm) {
  Tensor a = zeros({2}, kFloat64).requires_grad_();
  a.set_grad(tensor(Vec{1.0, std::nan("")}, {2}, kFloat64));
  expect_error([&] { clip_grad_norm_({a}, 1.0, 2.0, true); }, {"clip_grad_norm_", "nan"});
  a.set_grad(tensor(Vec{1.0, INFINITY}, {2}, kFloat64));
  expect_error([&] { clip_grad_norm_({a}, 1.0, 2.0, true); }, {"clip_grad_norm_", "inf"});
  // Without the flag the norm is returned and the gradients are scaled (inf -> coefficient 0).
  EXPECT_TRUE(std::isinf(clip_grad_norm_({a}, 1.0)));
  EXPECT_EQ(to_vector<double>(a.grad())[0], 0.0);
  EXPECT_THROW(clip_grad_norm_({a}, 1.0, -1.0), Error);
}

TEST(OptimClip, GradValue) {
  Tensor a = zeros({4}, kFloat64).requires_grad_(), b = zeros({2}, kFloat32).requires_grad_();
  a.set_grad(tensor(Vec{-3.0, 0.5, 2.0, -0.25}, {4}, kFloat64));
  b.set_grad(tensor(std::vector<float>{10.0f, -0.75f}, {2}));
  clip_grad_value_({a, b}, 1.0);
  EXPECT_EQ(to_vector<double>(a.grad()), (Vec{-1.0, 0.5, 1.0, -0.25}));
  EXPECT_EQ(to_vector<float>(b.grad()), (std::vector<float>{1.0f, -0.75f}));
  EXPECT_THROW(clip_grad_value_({a}, -1.0), Error);
}
