// Tests of the empirical NTK (nn/ntk/): the jacobian, structured and auto methods agree on an MLP (standard and NTK
// parametrisation), a small CNN and a sequence model; the jacobian matches float64 central finite differences;
// tiled equals untiled; x2 omitted equals x2 = x1; symmetry and PSD; per-layer terms sum to the kernel; trace and
// diagonal are reductions of full; the linear model's closed form; one GD step moves outputs by -eta Theta r/(NO);
// module forward hooks; error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "nn/ntk/ntk.h"
#include "nn/ntk/ntk_internal.h"
#include "nn/ntk/structured_rule.h"

using namespace tangent;
using ntk::Method;
using ntk::Mode;

namespace {

template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a tangent::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

std::vector<double> values(const Tensor& t) {
  const Tensor c = t.to(kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// max |a - b| / max |b|
double rel_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return 1e30;
  const auto va = values(a), vb = values(b);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::abs(va[i] - vb[i]));
    scale = std::max(scale, std::abs(vb[i]));
  }
  return diff / std::max(scale, 1e-300);
}

ntk::NtkResult run(nn::Module& model, const Tensor& x1, const Tensor& x2, Mode mode, Method method, int64_t tile = 0,
                   bool per_layer = false) {
  ntk::NtkOptions o;
  o.mode = mode;
  o.method = method;
  o.tile = tile;
  o.per_layer = per_layer;
  return ntk::empirical_ntk(model, x1, x2, o);
}

std::shared_ptr<models::MLP> small_mlp(bool ntk_param, const std::string& act = "tanh") {
  models::MLPOptions o;
  o.input_shape = {5};
  o.hidden = {7, 6};
  o.out_features = 3;
  o.activation = act;
  o.ntk = ntk_param;
  o.sigma_w = 1.3;
  o.sigma_b = 0.4;
  return std::make_shared<models::MLP>(o);
}

std::shared_ptr<models::ConvNet> small_cnn() {
  models::ConvNetOptions o;
  o.input_shape = {1, 8, 8};
  o.channels = {3, 4};
  o.hidden = 6;
  o.num_classes = 3;
  o.dropout = 0.25;
  return std::make_shared<models::ConvNet>(o);
}

// Embedding -> Linear on [B, T, C] -> LayerNorm -> tanh -> mean over T -> Linear.
class SeqModel : public nn::Module {
 public:
  SeqModel() {
    emb = register_module("emb", std::make_shared<nn::Embedding>(11, 6));
    proj = register_module("proj", std::make_shared<nn::Linear>(6, 5));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{5}));
    head = register_module("head", std::make_shared<nn::Linear>(5, 2));
  }
  Tensor forward(const Tensor& tokens) override {
    Tensor h = (*norm)((*proj)((*emb)(tokens))).tanh();
    return (*head)(h.mean({1}));
  }
  std::string type_name() const override { return "SeqModel"; }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::Linear> proj, head;
  std::shared_ptr<nn::LayerNorm> norm;
};

// A layer with a parameter but no structured rule: y = x * scale (elementwise).
class Scale : public nn::Module {
 public:
  explicit Scale(int64_t n) { scale = register_parameter("scale", randn({n})); }
  Tensor forward(const Tensor& x) override { return mul(x, scale); }
  std::string type_name() const override { return "Scale"; }
  Tensor scale;
};

// Eigenvalues of a symmetric matrix (cyclic Jacobi), for the PSD checks.
std::vector<double> sym_eigenvalues(std::vector<double> a, int64_t n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::abs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> ev;
  for (int64_t i = 0; i < n; ++i) ev.push_back(a[i * n + i]);
  return ev;
}

// Full kernel [N, N, O, O] -> the (N O) x (N O) matrix.
std::vector<double> as_matrix(const Tensor& full) { return values(full.permute({0, 2, 1, 3}).contiguous()); }

void expect_methods_agree(nn::Module& model, const Tensor& x1, const Tensor& x2, double tol) {
  for (Mode mode : {Mode::Full, Mode::Trace, Mode::Diagonal}) {
    const auto jac = run(model, x1, x2, mode, Method::Jacobian);
    const auto st = run(model, x1, x2, mode, Method::Structured);
    const auto au = run(model, x1, x2, mode, Method::Auto);
    EXPECT_EQ(jac.method, Method::Jacobian);
    EXPECT_EQ(st.method, Method::Structured);
    EXPECT_LT(rel_diff(st.kernel, jac.kernel), tol) << ntk::mode_name(mode);
    EXPECT_LT(rel_diff(au.kernel, jac.kernel), tol) << ntk::mode_name(mode);
    EXPECT_GT(values(jac.kernel.abs().sum())[0], 0.0);
  }
}

}  // namespace

TEST(ModuleHooks, ForwardHookSeesAndReplacesOutput) {
  manual_seed(1);
  auto lin = std::make_shared<nn::Linear>(3, 2);
  nn::Sequential seq{lin, std::make_shared<nn::Tanh>()};
  int calls = 0;
  Shape seen_in;
  const int64_t h = lin->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
    ++calls;
    seen_in = in.shape();
    EXPECT_EQ(m.type_name(), "Linear");
    return mul(out, 0.0);  // replaced: tanh(0) = 0
  });
  const Tensor x = randn({4, 3});
  const Tensor y = seq(x);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen_in, (Shape{4, 3}));
  EXPECT_EQ(values(y.abs().sum())[0], 0.0);
  lin->remove_forward_hook(h);
  EXPECT_GT(values(seq(x).abs().sum())[0], 0.0);
  EXPECT_EQ(calls, 1);
}

TEST(Ntk, LinearModelStandardParametrisation) {
  // Theta = (X X^T + 1) (x) I_O for any weights.
  manual_seed(2);
  nn::Linear lin(4, 3);
  lin.to(kFloat64);
  const Tensor x1 = randn({5, 4}, kFloat64), x2 = randn({3, 4}, kFloat64);
  const Tensor k = add(matmul(x1, x2.t()), 1.0);  // [5, 3]
  const Tensor eye3 = eye(3, kFloat64);
  const Tensor want = mul(k.reshape({5, 3, 1, 1}), eye3.reshape({1, 1, 3, 3}));
  for (Method m : {Method::Jacobian, Method::Structured}) {
    const auto r = run(lin, x1, x2, Mode::Full, m);
    EXPECT_EQ(r.kernel.dtype(), kFloat64);
    EXPECT_LT(rel_diff(r.kernel, want), 1e-12) << ntk::method_name(m);
    EXPECT_LT(rel_diff(run(lin, x1, x2, Mode::Trace, m).kernel, mul(k, 3.0)), 1e-12);
  }
}

TEST(Ntk, LinearModelNtkParametrisation) {
  // y = sigma_w / sqrt(d) x W^T + sigma_b b: Theta = (sigma_w^2 X X^T / d + sigma_b^2) (x) I_O.
  manual_seed(17);
  nn::LinearOptions lo;
  lo.in_features = 4;
  lo.out_features = 2;
  lo.parametrization = nn::Parametrization::NTK;
  lo.sigma_w = 1.7;
  lo.sigma_b = 0.3;
  nn::Linear lin(lo);
  lin.to(kFloat64);
  const Tensor x = randn({5, 4}, kFloat64);
  const Tensor k = add(mul(matmul(x, x.t()), 1.7 * 1.7 / 4), 0.09);
  const Tensor want = mul(k.reshape({5, 5, 1, 1}), eye(2, kFloat64).reshape({1, 1, 2, 2}));
  for (Method m : {Method::Jacobian, Method::Structured})
    EXPECT_LT(rel_diff(run(lin, x, Tensor(), Mode::Full, m).kernel, want), 1e-12) << ntk::method_name(m);
}

TEST(Ntk, JacobianMatchesFiniteDifferences) {
  manual_seed(3);
  auto model = small_mlp(false);
  model->to(kFloat64);
  const Tensor x = randn({3, 5}, kFloat64);
  const int64_t N = 3, O = 3;
  // J_fd [N, O, P] by central differences over every parameter element.
  std::vector<std::vector<double>> J(static_cast<size_t>(N * O));
  const double h = 1e-6;
  {
    NoGradGuard ng;
    for (auto& p : model->parameters()) {
      double* d = p.data_ptr<double>();
      for (int64_t e = 0; e < p.numel(); ++e) {
        const double keep = d[e];
        d[e] = keep + h;
        const auto fp = values((*model)(x));
        d[e] = keep - h;
        const auto fm = values((*model)(x));
        d[e] = keep;
        for (int64_t r = 0; r < N * O; ++r) J[r].push_back((fp[r] - fm[r]) / (2 * h));
      }
    }
  }
  std::vector<double> want(static_cast<size_t>(N * N * O * O));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t q = 0; q < O; ++q) {
          double s = 0;
          for (size_t k = 0; k < J[0].size(); ++k) s += J[i * O + o][k] * J[j * O + q][k];
          want[((i * N + j) * O + o) * O + q] = s;
        }
  const Tensor fd = tensor(want, {N, N, O, O});
  EXPECT_LT(rel_diff(run(*model, x, Tensor(), Mode::Full, Method::Jacobian).kernel, fd), 1e-7);
}

TEST(Ntk, TiledEqualsUntiledAndSymmetricEqualsExplicit) {
  manual_seed(4);
  auto model = small_mlp(false);
  model->to(kFloat64);  // float32 GEMMs round differently for different tile shapes
  const Tensor x = randn({7, 5}, kFloat64);
  for (Method m : {Method::Jacobian, Method::Auto}) {
    for (Mode mode : {Mode::Full, Mode::Trace, Mode::Diagonal}) {
      const auto whole = run(*model, x, Tensor(), mode, m, 0);
      const auto tiled = run(*model, x, Tensor(), mode, m, 3);
      const auto explicit_x2 = run(*model, x, x, mode, m, 2);
      EXPECT_LT(rel_diff(tiled.kernel, whole.kernel), 1e-12) << ntk::mode_name(mode);
      EXPECT_LT(rel_diff(explicit_x2.kernel, whole.kernel), 1e-12) << ntk::mode_name(mode);
    }
  }
}

TEST(Ntk, SymmetricAndPositiveSemidefinite) {
  manual_seed(5);
  auto model = small_mlp(false, "relu");
  model->to(kFloat64);
  const Tensor x = randn({6, 5}, kFloat64);
  for (Method m : {Method::Jacobian, Method::Structured}) {
    const auto r = run(*model, x, Tensor(), Mode::Full, m, 4, true);
    const int64_t N = 6, O = 3, n = N * O;
    const auto a = as_matrix(r.kernel);
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = 0; q < n; ++q) EXPECT_EQ(a[p * n + q], a[q * n + p]);
    const auto ev = sym_eigenvalues(a, n);
    const double lmax = *std::max_element(ev.begin(), ev.end()), lmin = *std::min_element(ev.begin(), ev.end());
    EXPECT_GT(lmax, 0.0);
    EXPECT_GE(lmin, -1e-10 * lmax);
    // Per-layer terms: PSD each and summing to the kernel.
    ASSERT_EQ(r.per_layer.size(), model->named_parameters().size());
    Tensor sum_terms = zeros_like(r.kernel);
    for (const auto& [name, term] : r.per_layer) {
      sum_terms = add(sum_terms, term);
      const auto evl = sym_eigenvalues(as_matrix(term), n);
      EXPECT_GE(*std::min_element(evl.begin(), evl.end()), -1e-10 * lmax) << name;
    }
    EXPECT_LT(rel_diff(sum_terms, r.kernel), 1e-12);
  }
}

TEST(Ntk, TraceAndDiagonalAreReductionsOfFull) {
  manual_seed(6);
  auto model = small_mlp(true);
  model->to(kFloat64);
  const Tensor x1 = randn({4, 5}, kFloat64), x2 = randn({3, 5}, kFloat64);
  for (Method m : {Method::Jacobian, Method::Structured}) {
    const Tensor full = run(*model, x1, x2, Mode::Full, m).kernel;
    const Tensor diag = run(*model, x1, x2, Mode::Diagonal, m).kernel;
    const Tensor trace = run(*model, x1, x2, Mode::Trace, m).kernel;
    std::vector<double> d, t;
    const auto f = values(full);
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        double s = 0;
        for (int64_t o = 0; o < 3; ++o) {
          d.push_back(f[((i * 3 + j) * 3 + o) * 3 + o]);
          s += d.back();
        }
        t.push_back(s);
      }
    EXPECT_LT(rel_diff(diag, tensor(d, {4, 3, 3})), 1e-12);
    EXPECT_LT(rel_diff(trace, tensor(t, {4, 3})), 1e-12);
    ntk::NtkOptions o;
    o.mode = Mode::Trace;
    o.method = m;
    o.trace_mean = true;
    EXPECT_LT(rel_diff(ntk::empirical_ntk(*model, x1, x2, o).kernel, div(tensor(t, {4, 3}), 3.0)), 1e-12);
  }
}

TEST(Ntk, OneGradientStepMovesOutputsByTheKernel) {
  // L = |f - y|^2 / (2 N O): f(theta - eta grad L) - f(theta) = -eta Theta (f - y) / (N O) + O(eta^2).
  manual_seed(7);
  auto model = small_mlp(false);
  model->to(kFloat64);
  const int64_t N = 5, O = 3;
  const Tensor x = randn({N, 5}, kFloat64), y = randn({N, O}, kFloat64);
  const Tensor theta = run(*model, x, Tensor(), Mode::Full, Method::Auto).kernel;  // [N, N, O, O]
  const Tensor f0 = (*model)(x);
  const Tensor r = sub(f0, y).detach();
  const Tensor loss = div(pow(sub(f0, y), 2.0).sum(), 2.0 * N * O);
  loss.backward();
  const double eta = 1e-4;
  {
    NoGradGuard ng;
    for (auto& p : model->parameters()) p.sub_(p.grad(), eta);
  }
  const Tensor df = sub((*model)(x), f0).detach();
  // predicted[i, o] = -eta / (N O) sum_{j, p} Theta[i, j, o, p] r[j, p]
  const Tensor th = theta.permute({0, 2, 1, 3}).reshape({N * O, N * O});
  const Tensor pred = mul(matmul(th, r.reshape({N * O, 1})).reshape({N, O}), -eta / (N * O));
  EXPECT_LT(rel_diff(df, pred), 1e-3);
}

TEST(Ntk, MethodsAgreeOnMlp) {
  manual_seed(8);
  const Tensor x1 = randn({4, 5}), x2 = randn({3, 5});
  for (bool ntk_param : {false, true}) {
    auto model = small_mlp(ntk_param, "relu");
    expect_methods_agree(*model, x1, x2, 1e-5);
    expect_methods_agree(*model, x1, Tensor(), 1e-5);
  }
}

TEST(Ntk, MethodsAgreeOnCnn) {
  manual_seed(9);
  auto model = small_cnn();
  model->train();
  // Give BatchNorm non-trivial running statistics and affine parameters.
  {
    NoGradGuard ng;
    for (auto& [name, t] : model->named_buffers())
      if (name.find("running_mean") != std::string::npos)
        t.copy_(mul(randn(t.shape()), 0.3));
      else if (name.find("running_var") != std::string::npos)
        t.copy_(add(rand(t.shape()), 0.5));
    for (auto& [name, t] : model->named_parameters())
      if (name.find("features.1") != std::string::npos || name.find("features.5") != std::string::npos)
        t.copy_(add(mul(randn(t.shape()), 0.3), name.find("weight") != std::string::npos ? 1.0 : 0.0));
  }
  const Tensor x1 = randn({3, 1, 8, 8}), x2 = randn({2, 1, 8, 8});
  expect_methods_agree(*model, x1, x2, 1e-5);
  EXPECT_TRUE(model->is_training());  // restored
}

// Layers that run their own backward feeding each other directly (a cut layer's input is the previous one's output
// leaf), through a reshape, and one output feeding two layers whose results are added.
TEST(Ntk, CutLayersChainedDirectly) {
  manual_seed(13);
  auto chain = std::make_shared<nn::Sequential>();
  chain->push_back(std::make_shared<nn::Conv2d>(2, 3, 3, 1, 1));
  chain->push_back(std::make_shared<nn::Conv2d>(3, 2, 3, 2, 0));
  chain->push_back(std::make_shared<nn::Flatten>());
  chain->push_back(std::make_shared<nn::Linear>(2 * 2 * 2, 5));
  chain->push_back(std::make_shared<nn::Linear>(5, 3));
  expect_methods_agree(*chain, randn({4, 2, 6, 6}), randn({3, 2, 6, 6}), 1e-5);

  struct Fork : nn::Module {
    std::shared_ptr<nn::Linear> a, b, c;
    Fork() {
      a = register_module("a", std::make_shared<nn::Linear>(4, 6));
      b = register_module("b", std::make_shared<nn::Linear>(6, 3));
      c = register_module("c", std::make_shared<nn::Linear>(6, 3));
    }
    Tensor forward(const Tensor& x) override {
      const Tensor h = tanh((*a)(x));
      return add((*b)(h), tanh((*c)(h)));
    }
    std::string type_name() const override { return "Fork"; }
  };
  auto fork = std::make_shared<Fork>();
  expect_methods_agree(*fork, randn({5, 4}), randn({2, 4}), 1e-5);
}

// A conv output of 512 KB per example: the structured method runs its backward passes on chunks of 16 examples
// (8 MB per tensor), so 20 examples take two chunks, and x1 != x2 (one pass on both, 26 examples) two.
TEST(Ntk, ChunkedBackwardPassesAgree) {
  manual_seed(12);
  auto model = std::make_shared<nn::Sequential>();
  model->push_back(std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1));
  model->push_back(std::make_shared<nn::ReLU>());
  model->push_back(std::make_shared<nn::AvgPool2d>(16));
  model->push_back(std::make_shared<nn::Flatten>());
  model->push_back(std::make_shared<nn::Linear>(32 * 4 * 4, 3));
  const Tensor x1 = randn({20, 1, 64, 64}), x2 = randn({6, 1, 64, 64});
  for (Mode mode : {Mode::Full, Mode::Trace}) {
    const auto jac = run(*model, x1, x2, mode, Method::Jacobian);
    EXPECT_LT(rel_diff(run(*model, x1, x2, mode, Method::Structured).kernel, jac.kernel), 1e-5);
    const auto sym = run(*model, x1, Tensor(), mode, Method::Jacobian);
    EXPECT_LT(rel_diff(run(*model, x1, Tensor(), mode, Method::Structured).kernel, sym.kernel), 1e-5);
    EXPECT_GT(values(jac.kernel.abs().sum())[0], 0.0);
  }
}

TEST(Ntk, MethodsAgreeOnSequenceModel) {
  manual_seed(10);
  SeqModel model;
  const Tensor t1 = randint(0, 11, {3, 4}), t2 = randint(0, 11, {2, 4});
  expect_methods_agree(model, t1, t2, 1e-5);
  expect_methods_agree(model, t1, Tensor(), 1e-5);
}

TEST(Ntk, PositionAndWeightSpaceContractionsAgree) {
  // A weight shared over D positions: sum_{d,d'} (a_id . a_jd')(g_iod . g_jpd') = <g_io^T a_i, g_jp^T a_j>.
  manual_seed(14);
  const int64_t n1 = 3, n2 = 2, O = 2, D = 5, K = 4, C = 3;
  const Tensor aI = randn({n1, D, K}, kFloat64), aJ = randn({n2, D, K}, kFloat64);
  const Tensor gI = randn({n1, O, D, C}, kFloat64), gJ = randn({n2, O, D, C}, kFloat64);
  auto per_example = [&](const Tensor& a, const Tensor& g) {
    const int64_t n = a.size(0);
    return bmm(g.permute({0, 1, 3, 2}).reshape({n, O * C, D}), a).reshape({n, O, C * K});
  };
  const Tensor A = matmul(aI.reshape({n1 * D, K}), aJ.reshape({n2 * D, K}).t()).reshape({n1, D, n2, D});
  for (Mode mode : {Mode::Full, Mode::Trace, Mode::Diagonal}) {
    const Tensor pos = ntk::detail::contract_position(A, gI, gJ, mode);
    const Tensor wt = ntk::detail::contract_weight(per_example(aI, gI), per_example(aJ, gJ), mode);
    EXPECT_LT(rel_diff(pos, wt), 1e-12) << ntk::mode_name(mode);
  }
}

TEST(Ntk, MethodsAgreeOnStridedConvAndNorms) {
  // Conv2d with stride, padding and dilation (NTK parametrisation), BatchNorm1d and RMSNorm on [B, C].
  manual_seed(15);
  nn::Conv2dOptions co;
  co.in_channels = 2;
  co.out_channels = 3;
  co.kernel_size = {3, 2};
  co.stride = {2, 1};
  co.padding = {1, 2};
  co.dilation = {2, 1};
  co.parametrization = nn::Parametrization::NTK;
  co.sigma_w = 1.5;
  co.sigma_b = 0.3;
  auto bn = std::make_shared<nn::BatchNorm1d>(6);
  {
    NoGradGuard ng;
    bn->running_mean.copy_(mul(randn({6}), 0.2));
    bn->running_var.copy_(add(rand({6}), 0.5));
    bn->weight.copy_(add(randn({6}), 1.0));
    bn->bias.copy_(randn({6}));
  }
  auto rms = std::make_shared<nn::RMSNorm>(Shape{6});
  {
    NoGradGuard ng;
    rms->weight.copy_(add(randn({6}), 1.0));
  }
  nn::Sequential model{std::make_shared<nn::Conv2d>(co),
                       std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Flatten>(),
                       std::make_shared<nn::Linear>(3 * 2 * 8, 6),
                       bn,
                       std::make_shared<nn::Tanh>(),
                       rms,
                       std::make_shared<nn::Linear>(6, 2)};
  model.to(kFloat64);
  const Tensor x1 = randn({3, 2, 5, 5}, kFloat64), x2 = randn({2, 2, 5, 5}, kFloat64);
  ASSERT_EQ(model(x1).shape(), (Shape{3, 2}));
  expect_methods_agree(model, x1, x2, 1e-10);
  expect_methods_agree(model, x1, Tensor(), 1e-10);
}

TEST(Ntk, GroupedConvFallsBack) {
  manual_seed(16);
  nn::Conv2dOptions co;
  co.in_channels = 2;
  co.out_channels = 4;
  co.groups = 2;
  co.padding = {1, 1};
  nn::Sequential model{std::make_shared<nn::Conv2d>(co), std::make_shared<nn::Tanh>(), std::make_shared<nn::Flatten>(),
                       std::make_shared<nn::Linear>(4 * 4 * 4, 3)};
  const Tensor x = randn({3, 2, 4, 4});
  const auto au = run(model, x, Tensor(), Mode::Full, Method::Auto);
  EXPECT_EQ(au.fallback, (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_LT(rel_diff(au.kernel, run(model, x, Tensor(), Mode::Full, Method::Jacobian).kernel), 1e-5);
  expect_error([&] { run(model, x, Tensor(), Mode::Full, Method::Structured); }, {"0.weight", "grouped Conv2d"});
}

TEST(Ntk, AutoFallsBackForLayersWithoutARule) {
  manual_seed(11);
  nn::Sequential model{std::make_shared<nn::Linear>(4, 5), std::make_shared<Scale>(5), std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Linear>(5, 2)};
  const Tensor x = randn({4, 4});
  const auto au = run(model, x, Tensor(), Mode::Full, Method::Auto, 0, true);
  const auto jac = run(model, x, Tensor(), Mode::Full, Method::Jacobian, 0, true);
  EXPECT_EQ(au.method, Method::Auto);
  EXPECT_EQ(au.fallback, std::vector<std::string>{"1.scale"});
  EXPECT_LT(rel_diff(au.kernel, jac.kernel), 1e-5);
  for (size_t i = 0; i < au.per_layer.size(); ++i) {
    EXPECT_EQ(au.per_layer[i].first, jac.per_layer[i].first);
    EXPECT_LT(rel_diff(au.per_layer[i].second, jac.per_layer[i].second), 1e-5) << au.per_layer[i].first;
  }
  expect_error([&] { run(model, x, Tensor(), Mode::Full, Method::Structured); },
               {"empirical_ntk", "structured", "1.scale", "Scale"});
}

// A layer defined outside the library with a structured rule of its own: y = x * weight (elementwise), which is
// the scale part of the scale_shift form. `refused` makes its rule decline the instance.
class RuledScale : public nn::Module {
 public:
  explicit RuledScale(int64_t n) { weight = register_parameter("weight", randn({n})); }
  Tensor forward(const Tensor& x) override { return mul(x, weight); }
  std::string type_name() const override { return "RuledScale"; }
  Tensor weight;
  bool refused = false;
};

TEST(Ntk, RuleRegisteredBesideALayerCoversIt) {
  ntk::register_structured_rule<RuledScale>(
      [](RuledScale& m, ntk::LayerFeatures& f) {
        const int64_t n = f.examples(), S = m.weight.numel();
        EXPECT_EQ(f.input().shape(), (Shape{n, S}));
        EXPECT_EQ(f.cotangents().shape(), (Shape{n, f.outputs(), S}));
        f.scale_shift(f.input().reshape({n, 1, 1, S}), f.cotangents().reshape({n, f.outputs(), 1, S}));
      },
      [](const RuledScale& m) { return m.refused ? std::string("RuledScale refused by the test") : std::string(); });
  manual_seed(12);
  auto scale = std::make_shared<RuledScale>(5);
  nn::Sequential model{std::make_shared<nn::Linear>(4, 5), scale, std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Linear>(5, 2)};
  model.to(kFloat64);
  const Tensor x = randn({4, 4}, kFloat64);
  const auto st = run(model, x, Tensor(), Mode::Full, Method::Structured, 0, true);
  const auto jac = run(model, x, Tensor(), Mode::Full, Method::Jacobian, 0, true);
  EXPECT_EQ(st.method, Method::Structured);
  EXPECT_TRUE(st.fallback.empty());
  EXPECT_LT(rel_diff(st.kernel, jac.kernel), 1e-10);
  ASSERT_EQ(st.per_layer.size(), jac.per_layer.size());
  for (size_t i = 0; i < st.per_layer.size(); ++i) {
    EXPECT_EQ(st.per_layer[i].first, jac.per_layer[i].first);
    EXPECT_LT(rel_diff(st.per_layer[i].second, jac.per_layer[i].second), 1e-10) << st.per_layer[i].first;
  }
  scale->refused = true;
  const auto au = run(model, x, Tensor(), Mode::Full, Method::Auto);
  EXPECT_EQ(au.fallback, std::vector<std::string>{"1.weight"});
  EXPECT_LT(rel_diff(au.kernel, jac.kernel), 1e-10);
  expect_error([&] { run(model, x, Tensor(), Mode::Full, Method::Structured); },
               {"1.weight", "RuledScale refused by the test"});
}

TEST(Ntk, Errors) {
  manual_seed(12);
  auto model = small_mlp(false);
  expect_error(
      [&] {
        run(*model, randn({3, 4}), Tensor(), Mode::Trace, Method::Auto);
      },
      {"empirical_ntk", "[5]", "[3, 4]"});
  expect_error(
      [&] {
        run(*model, randn({3, 5}), randn({2, 6}), Mode::Trace, Method::Auto);
      },
      {"empirical_ntk", "x1", "x2", "[2, 6]"});
  expect_error([&] { run(*model, Tensor(), Tensor(), Mode::Trace, Method::Auto); }, {"empirical_ntk", "x1"});
  ntk::NtkOptions o;
  o.tile = -1;
  expect_error([&] { ntk::empirical_ntk(*model, randn({2, 5}), Tensor(), o); }, {"tile"});
  expect_error([] { ntk::parse_mode("fulll"); }, {"fulll", "full, trace or diagonal"});
  expect_error([] { ntk::parse_method("fast"); }, {"fast", "auto, jacobian or structured"});
  EXPECT_EQ(ntk::parse_mode("diagonal"), Mode::Diagonal);
  EXPECT_EQ(ntk::parse_method("structured"), Method::Structured);
}

TEST(Ntk, ProgressAndResultFields) {
  manual_seed(13);
  auto model = small_mlp(false);
  const Tensor x = randn({5, 5});
  std::vector<std::pair<int64_t, int64_t>> calls;
  ntk::NtkOptions o;
  o.method = Method::Jacobian;
  o.tile = 2;  // 3 tiles: 6 pairs i <= j
  o.progress = [&](int64_t d, int64_t t) { calls.emplace_back(d, t); };
  const auto r = ntk::empirical_ntk(*model, x, Tensor(), o);
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls.back(), (std::pair<int64_t, int64_t>{6, 6}));
  EXPECT_GT(r.peak_bytes, 0);
  EXPECT_GE(r.seconds, 0.0);
  EXPECT_EQ(r.kernel.shape(), (Shape{5, 5}));
  o.dtype = kFloat32;
  EXPECT_EQ(ntk::empirical_ntk(*model, x, Tensor(), o).kernel.dtype(), kFloat32);
}

namespace {

// A tiny GPT (vocabulary from a short string, context 8, 2 layers, dim 16, 2 heads, fused kernels).
std::shared_ptr<models::GPT> tiny_gpt(const std::string& attention, bool tied) {
  models::GPTOptions o;
  for (char c : std::string("tangent")) {  // the distinct characters a, e, g, n, t: V = 5, O = 8 * 5
    const int64_t b = static_cast<unsigned char>(c);
    if (std::find(o.vocab.begin(), o.vocab.end(), b) == o.vocab.end()) o.vocab.push_back(b);
  }
  o.context = 8;
  o.layers = 2;
  o.dim = 16;
  o.heads = 2;
  o.attention = attention;
  o.moba_block = 4;
  o.moba_top_k = 1;
  o.layer_scale = 0;  // no per-block layer_scale parameter: every parameter has a structured rule
  o.tie_weights = tied;
  o.fused = true;
  return std::make_shared<models::GPT>(o);
}

// Reads head.weight again outside head's forward: out = head(h) + h^2 W_head^T.
class TiedLinearModel : public nn::Module {
 public:
  TiedLinearModel() {
    body = register_module("body", std::make_shared<nn::Linear>(4, 5));
    head = register_module("head", std::make_shared<nn::Linear>(5, 3));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = (*body)(x).tanh();
    return add((*head)(h), linear(mul(h, h), head->weight));
  }
  std::string type_name() const override { return "TiedLinearModel"; }
  std::shared_ptr<nn::Linear> body, head;
};

}  // namespace

TEST(Ntk, TiedWeightUsedOutsideItsModuleIsDetected) {
  manual_seed(21);
  TiedLinearModel model;
  const Tensor x1 = randn({4, 4}), x2 = randn({3, 4});
  for (Mode mode : {Mode::Full, Mode::Trace}) {
    const auto jac = run(model, x1, x2, mode, Method::Jacobian, 0, true);
    const auto au = run(model, x1, x2, mode, Method::Auto, 0, true);
    EXPECT_EQ(au.method, Method::Auto);
    EXPECT_EQ(au.fallback, std::vector<std::string>{"head.weight"});
    EXPECT_LT(rel_diff(au.kernel, jac.kernel), 1e-5) << ntk::mode_name(mode);
    for (size_t i = 0; i < au.per_layer.size(); ++i)
      EXPECT_LT(rel_diff(au.per_layer[i].second, jac.per_layer[i].second), 1e-5) << au.per_layer[i].first;
  }
  expect_error([&] { run(model, x1, x2, Mode::Trace, Method::Structured); },
               {"empirical_ntk", "structured", "head.weight", "outside"});
}

TEST(Ntk, UnbatchedModuleCallFallsBack) {
  // GPT's learned positions: the position Embedding is called on arange(T), without the batch dim.
  manual_seed(22);
  auto base = tiny_gpt("softmax", false);
  models::GPTOptions o = base->options;
  o.positions = "learned";
  models::GPT model(o);
  const Tensor x = randint(0, 5, {3, 8});
  const auto au = run(model, x, Tensor(), Mode::Trace, Method::Auto);
  EXPECT_EQ(au.fallback, std::vector<std::string>{"position_embedding.weight"});
  EXPECT_LT(rel_diff(au.kernel, run(model, x, Tensor(), Mode::Trace, Method::Jacobian).kernel), 1e-5);
  expect_error([&] { run(model, x, Tensor(), Mode::Trace, Method::Structured); },
               {"position_embedding.weight", "batch"});
}

TEST(Ntk, MethodsAgreeOnGpt) {
  manual_seed(23);
  const Tensor x1 = randint(0, 5, {3, 8}), x2 = randint(0, 5, {2, 8});
  for (const std::string attention : {"softmax", "sigmoid", "moba"})
    for (bool tied : {true, false}) {
      auto model = tiny_gpt(attention, tied);
      const std::string what = attention + (tied ? " tied" : " untied");
      for (Mode mode : {Mode::Full, Mode::Trace}) {
        const auto jac = run(*model, x1, x2, mode, Method::Jacobian);
        EXPECT_EQ(jac.kernel.shape(), mode == Mode::Full ? (Shape{3, 2, 40, 40}) : (Shape{3, 2})) << what;
        EXPECT_GT(values(jac.kernel.abs().sum())[0], 0.0);
        const auto au = run(*model, x1, x2, mode, Method::Auto);
        EXPECT_LT(rel_diff(au.kernel, jac.kernel), 1e-5) << what << " " << ntk::mode_name(mode);
        if (tied) {
          EXPECT_EQ(au.method, Method::Auto) << what;
          EXPECT_EQ(au.fallback, std::vector<std::string>{"token_embedding.weight"}) << what;
          expect_error([&] { run(*model, x1, x2, mode, Method::Structured); },
                       {"structured", "token_embedding.weight", "outside", "Embedding"});
        } else {
          EXPECT_EQ(au.method, Method::Structured) << what;
          EXPECT_TRUE(au.fallback.empty()) << what;
          const auto st = run(*model, x1, x2, mode, Method::Structured);
          EXPECT_LT(rel_diff(st.kernel, jac.kernel), 1e-5) << what << " " << ntk::mode_name(mode);
        }
      }
    }
  // x2 = x1 (symmetric tiles), tiled.
  auto model = tiny_gpt("softmax", true);
  const auto jac = run(*model, x1, Tensor(), Mode::Trace, Method::Jacobian);
  EXPECT_LT(rel_diff(run(*model, x1, Tensor(), Mode::Trace, Method::Auto, 2).kernel, jac.kernel), 1e-5);
}

TEST(Ntk, SymmetricBlockProductMatchesExplicit) {
  // x2 = x1 with >= 64 rows takes the two-block symmetric product in contract_weight (trace: N rows, full: N * O).
  manual_seed(24);
  auto model = small_mlp(false);
  const Tensor x = randn({70, 5});
  for (Mode mode : {Mode::Trace, Mode::Full, Mode::Diagonal}) {
    const auto sym = run(*model, x, Tensor(), mode, Method::Jacobian);
    const auto explicit_x2 = run(*model, x, x, mode, Method::Jacobian);
    EXPECT_LT(rel_diff(sym.kernel, explicit_x2.kernel), 1e-6) << ntk::mode_name(mode);
    EXPECT_LT(rel_diff(sym.kernel, run(*model, x, Tensor(), mode, Method::Structured).kernel), 1e-5)
        << ntk::mode_name(mode);
  }
}
