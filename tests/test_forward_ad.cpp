// Forward-mode autodiff (autograd/forward_ad.h): jvp of every op-table row that has a rule, checked against
// central differences and against reverse mode through the double-vjp identity jvp(f, x, v) = d/du <vjp(f, x, u), v>;
// the list of rows whose op has no jvp rule yet (asserted, so it cannot silently grow); dual tensors' semantics and
// errors; and forward-over-reverse Hessian-vector products against double backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/function.h"
#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/op_table.h"

namespace tangent::testing {
namespace {

constexpr uint64_t kSeed = 1234;

Tensor values(const std::vector<double>& v) { return tensor(v, Shape{static_cast<int64_t>(v.size())}, kFloat64); }

// The rows whose op has no jvp rule yet. A row listed here must raise the "no forward-mode (jvp) rule" error; a
// row not listed must have a correct jvp. Adding a rule means removing its rows here.
const std::set<std::string>& rows_without_jvp_rule() {
  static const std::set<std::string> rows = {};
  return rows;
}

bool is_no_grad(const OpCase& c, size_t i) {
  return std::find(c.no_grad_inputs.begin(), c.no_grad_inputs.end(), i) != c.no_grad_inputs.end();
}

// The row's float64 inputs (seeded as the op table does) and one random tangent per floating input.
struct Sample {
  std::vector<Tensor> xs, vs;
};

Sample make_sample(const OpCase& c) {
  manual_seed(kSeed);
  Sample s;
  s.xs = c.inputs();
  manual_seed(kSeed + 7);
  for (size_t i = 0; i < s.xs.size(); ++i) {
    const Tensor& x = s.xs[i];
    s.vs.push_back(x.defined() && x.is_floating_point() && !is_no_grad(c, i) ? randn(x.shape(), x.dtype()) : Tensor());
  }
  return s;
}

// The row's function as jvp takes it; seeded so that random ops (dropout) draw the same mask every call.
autograd::Function as_function(const OpCase& c) {
  return [&c](const std::vector<Tensor>& x) {
    manual_seed(kSeed + 1);
    return std::vector<Tensor>{c.fn(x)};
  };
}

bool is_missing_rule(const std::string& message) {
  return message.find("no forward-mode (jvp) rule") != std::string::npos;
}

std::vector<size_t> differentiable_rows() {
  std::vector<size_t> idx;
  for (size_t i = 0; i < op_cases().size(); ++i)
    if (op_cases()[i].first_order) idx.push_back(i);
  return idx;
}

std::string test_name(size_t i) {
  std::string s = op_cases()[i].name;
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// f(x + h v) - f(x - h v) over 2h, with the tangents' inputs perturbed.
Tensor central_difference(const autograd::Function& f, const Sample& s, double h) {
  NoGradGuard no_grad;
  auto shifted = [&](double sign) {
    std::vector<Tensor> x;
    for (size_t i = 0; i < s.xs.size(); ++i)
      x.push_back(s.vs[i].defined() ? add(s.xs[i].detach(), mul(s.vs[i], sign * h)) : s.xs[i]);
    return f(x)[0].to(kFloat64);
  };
  return div(sub(shifted(1.0), shifted(-1.0)), 2.0 * h);
}

class OpTableJvp : public ::testing::TestWithParam<size_t> {};

TEST_P(OpTableJvp, Row) {
  const OpCase& c = op_cases()[GetParam()];
  const Sample s = make_sample(c);
  const autograd::Function f = as_function(c);
  if (rows_without_jvp_rule().count(c.name)) {
    const std::string m = error_message([&] { autograd::jvp(f, s.xs, s.vs); });
    EXPECT_TRUE(is_missing_rule(m)) << c.name << " is listed without a jvp rule but jvp gave: " << m
                                    << " (remove it from rows_without_jvp_rule() if it has a rule now)";
    return;
  }
  std::vector<Tensor> outs, tangents;
  try {
    std::tie(outs, tangents) = autograd::jvp(f, s.xs, s.vs);
  } catch (const std::exception& e) {
    FAIL() << c.name << ": jvp threw: " << e.what();
  }
  ASSERT_EQ(tangents.size(), 1u);
  const Tensor jv = tangents[0];
  ASSERT_EQ(jv.shape(), outs[0].shape()) << c.name;
  if (!outs[0].is_floating_point()) return;  // an integer output (argmax) has no tangent to compare
  const double atol = std::max(c.atol, 1e-6), rtol = c.rtol;

  // Against central differences.
  const Tensor fd = central_difference(f, s, 1e-6);
  EXPECT_TRUE(all_close(jv.detach().to(kFloat64), fd, rtol, atol)) << c.name << ": jvp vs finite differences";

  // Against reverse mode: Jv = d/du <J^T u, v>, or <u, Jv> = <J^T u, v> for rows without double backward.
  std::vector<Tensor> leaves;
  std::vector<size_t> which;
  for (size_t i = 0; i < s.xs.size(); ++i) {
    Tensor x = s.xs[i];
    if (s.vs[i].defined()) {
      x = x.detach().requires_grad_(true);
      which.push_back(i);
    }
    leaves.push_back(x);
  }
  const Tensor out = f(leaves)[0];
  if (!out.requires_grad()) {
    EXPECT_EQ(max_abs_diff(jv.detach(), zeros_like(jv)), 0.0) << c.name << ": an output without history";
    return;
  }
  manual_seed(kSeed + 9);
  std::vector<Tensor> wrt;
  for (size_t i : which) wrt.push_back(leaves[i]);
  if (c.second_order) {
    const Tensor u = randn(out.shape(), out.dtype()).requires_grad_(true);
    const std::vector<Tensor> g = autograd::grad({out}, wrt, {u}, true, true, true);
    Tensor dot = zeros({}, kFloat64);
    for (size_t k = 0; k < which.size(); ++k)
      if (g[k].defined()) dot = add(dot, sum(mul(g[k], s.vs[which[k]])));
    if (!dot.requires_grad()) {  // J^T u does not depend on u: J = 0
      EXPECT_EQ(max_abs_diff(jv.detach(), zeros_like(jv)), 0.0) << c.name;
      return;
    }
    const Tensor jv_rev = autograd::grad({dot}, {u}, {}, std::nullopt, false, true)[0];
    EXPECT_TRUE(all_close(jv.detach(), jv_rev.defined() ? jv_rev : zeros_like(jv), 1e-6, 1e-8))
        << c.name << ": jvp vs d/du <vjp(u), v>";
  } else {
    const Tensor u = randn(out.shape(), out.dtype());
    const std::vector<Tensor> g = autograd::grad({out}, wrt, {u}, std::nullopt, false, true);
    double lhs = sum(mul(u, jv.detach())).item<double>(), rhs = 0.0;
    for (size_t k = 0; k < which.size(); ++k)
      if (g[k].defined()) rhs += sum(mul(g[k], s.vs[which[k]])).item<double>();
    EXPECT_NEAR(lhs, rhs, 1e-8 * std::max(1.0, std::abs(rhs))) << c.name << ": <u, Jv> vs <J^T u, v>";
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTableJvp, ::testing::ValuesIn(differentiable_rows()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return test_name(info.param); });

// The rows without a jvp rule, printed, and every listed name is a real differentiable row.
TEST(OpTableJvpCoverage, ListedRowsExist) {
  std::set<std::string> names;
  for (const auto& c : op_cases())
    if (c.first_order) names.insert(c.name);
  std::string listed;
  for (const auto& r : rows_without_jvp_rule()) {
    EXPECT_TRUE(names.count(r)) << r << " is listed in rows_without_jvp_rule() but is no differentiable row";
    listed += " " + r;
  }
  std::cout << "[jvp coverage] " << names.size() - rows_without_jvp_rule().size() << " of " << names.size()
            << " differentiable rows have a jvp rule; without:" << listed << "\n";
}

// ---- dual tensors ----

TEST(ForwardAD, JvpOfACompositionMatchesTheChainRule) {
  const Tensor x = values({0.5, -1.0, 2.0}), v = values({1.0, 2.0, -0.5});
  // f(x) = sum(sin(x) * x): f' = sum((cos x * x + sin x) v)
  const auto r = autograd::jvp(
      [](const std::vector<Tensor>& p) { return std::vector<Tensor>{sum(mul(sin(p[0]), p[0]))}; }, {x}, {v});
  const Tensor expected = sum(mul(add(mul(cos(x), x), sin(x)), v));
  EXPECT_NEAR(r.second[0].item<double>(), expected.item<double>(), 1e-12);
  EXPECT_NEAR(r.first[0].item<double>(), sum(mul(sin(x), x)).item<double>(), 1e-12);
  EXPECT_FALSE(r.first[0].requires_grad());
  EXPECT_FALSE(r.second[0].requires_grad());
}

TEST(ForwardAD, MakeDualAndUnpackDualInsideALevel) {
  autograd::forward::DualLevel level;
  const Tensor x = values({1.0, 2.0}), v = values({3.0, 4.0});
  const Tensor d = autograd::forward::make_dual(x, v);
  const Tensor y = mul(exp(d), 2.0);
  const Tensor ty = autograd::forward::unpack_dual(y).second;
  ASSERT_TRUE(ty.defined());
  EXPECT_TRUE(all_close(ty, mul(mul(exp(x), 2.0), v), 1e-12, 1e-12));
  EXPECT_FALSE(autograd::forward::unpack_dual(x).second.defined());  // x itself carries no tangent
}

// An op as a new primitive is written: a forward without history, then its backward recorded, but no jvp rule.
Tensor double_without_jvp_rule(const Tensor& x) {
  const Tensor out = mul(x.detach(), 2.0);
  if (autograd::needs_grad(x))
    autograd::record("double_without_jvp_rule", out, {x}, {},
                     [](const Tensor& g, autograd::Context&) { return std::vector<Tensor>{mul(g, 2.0)}; });
  return out;
}

TEST(ForwardAD, AnOpWithoutARuleRaisesAnErrorNamingIt) {
  const Tensor x = randn({3, 4}, kFloat64), v = randn({3, 4}, kFloat64);
  auto f = [](const std::vector<Tensor>& p) { return std::vector<Tensor>{double_without_jvp_rule(exp(p[0]))}; };
  expect_error([&] { autograd::jvp(f, {x}, {v}); },
               {"double_without_jvp_rule", "no forward-mode (jvp) rule", "[3, 4]", "float64"});
  // Also under hvp.
  expect_error([&] { autograd::hvp([](const Tensor& q) { return sum(double_without_jvp_rule(mul(q, q))); }, x, v); },
               {"no forward-mode (jvp) rule"});
}

TEST(ForwardAD, ProdAtZerosMatchesTheProductOfTheOtherEntries) {
  const Tensor x = reshape(values({2.0, 0.0, 3.0, 0.0, 0.0, 5.0, 1.5, -2.0, 4.0}), {3, 3});
  const Tensor v = reshape(values({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}), {3, 3});
  const auto r =
      autograd::jvp([](const std::vector<Tensor>& p) { return std::vector<Tensor>{prod(p[0], {1})}; }, {x}, {v});
  // row 0: only x[0,1] is zero: 2 * 3 * v[0,1]; row 1: two zeros: 0; row 2: 7*(-8) + 8*(6) + 9*(-3)
  EXPECT_TRUE(all_close(r.second[0], values({12.0, 0.0, -56.0 + 48.0 - 27.0}), 1e-12, 1e-12));
}

TEST(ForwardAD, BadArgumentsAreErrors) {
  const Tensor x = randn({3}, kFloat64);
  auto id = [](const std::vector<Tensor>& p) { return p; };
  expect_error([&] { autograd::jvp(id, {x}, {randn({4}, kFloat64)}); }, {"jvp", "[3]", "[4]"});
  expect_error([&] { autograd::jvp(id, {x}, {}); }, {"jvp", "1 primals", "0 tangents"});
  autograd::forward::DualLevel level;
  expect_error([&] { autograd::jvp(id, {x}, {x}); }, {"dual level is already open"});
  expect_error([&] { autograd::forward::make_dual(x, randn({2}, kFloat64)); }, {"make_dual", "[2]", "[3]"});
}

TEST(ForwardAD, InPlaceOpsCarryTheTangent) {
  const Tensor x = values({1.0, 2.0}), v = values({0.5, -1.0});
  const auto r = autograd::jvp(
      [](const std::vector<Tensor>& p) {
        Tensor y = mul(p[0], 3.0);
        y.mul_(p[0]);  // y = 3 x^2: dy = 6 x v
        return std::vector<Tensor>{y};
      },
      {x}, {v});
  EXPECT_TRUE(all_close(r.second[0], mul(mul(x, 6.0), v), 1e-12, 1e-12));
}

// ---- Hessian-vector products ----

// A small MLP's loss as a function of its flattened parameters [W1 (5x4), b1 (5), W2 (3x5), b2 (3)].
Tensor mlp_loss(const Tensor& p, const Tensor& x, const Tensor& y) {
  const Tensor w1 = reshape(narrow(p, 0, 0, 20), {5, 4}), b1 = narrow(p, 0, 20, 5);
  const Tensor w2 = reshape(narrow(p, 0, 25, 15), {3, 5}), b2 = narrow(p, 0, 40, 3);
  const Tensor h = tanh(linear(x, w1, b1));
  const Tensor logits = linear(gelu(h, "none"), w2, b2);
  return add(cross_entropy(logits, y), mul(sum(mul(p, p)), 1e-3));
}

TEST(ForwardAD, HvpMatchesDoubleBackwardOnAnMlpLoss) {
  manual_seed(3);
  const Tensor x = randn({8, 4}, kFloat64), y = tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 2, 1}, {8}, kInt64);
  const Tensor p = mul(randn({43}, kFloat64), 0.5), v = randn({43}, kFloat64);
  auto f = [&](const Tensor& q) { return mlp_loss(q, x, y); };
  const Tensor hv = autograd::hvp(f, p, v);

  const Tensor leaf = p.detach().requires_grad_(true);
  const Tensor g = autograd::grad({f(leaf)}, {leaf}, {}, std::nullopt, true)[0];
  const Tensor hv_ref = autograd::grad({sum(mul(g, v))}, {leaf})[0];
  ASSERT_EQ(hv.shape(), hv_ref.shape());
  EXPECT_TRUE(all_close(hv, hv_ref, 1e-9, 1e-11));
  EXPECT_GT(max_abs_diff(hv_ref, zeros_like(hv_ref)), 1e-3);  // a real curvature, not a zero vector
  EXPECT_FALSE(hv.requires_grad());
}

TEST(ForwardAD, HvpOfAQuadraticIsTheMatrixProduct) {
  const Tensor a = reshape(values({2.0, 1.0, 1.0, 3.0}), {2, 2});
  const Tensor x = values({0.3, -0.7}), v = values({1.0, 2.0});
  // f = 1/2 x^T A x (A symmetric): H v = A v
  const Tensor hv = autograd::hvp([&](const Tensor& q) { return mul(sum(mul(q, matmul(a, q))), 0.5); }, x, v);
  EXPECT_TRUE(all_close(hv, matmul(a, v), 1e-12, 1e-12));
}

// ---- the models: the jvp along every parameter at once, against central differences ----

// d/dh model(x; params + h vs) at h = 0, by forward mode (the parameters made dual in place).
Tensor parameter_jvp(nn::Module& m, const Tensor& x, const std::vector<Tensor>& vs) {
  autograd::forward::DualLevel level;
  const std::vector<Tensor> ps = m.parameters();
  for (size_t i = 0; i < ps.size(); ++i) autograd::forward::set_tangent(ps[i], vs[i], "test");
  const Tensor y = m.forward(x);
  const Tensor t = autograd::forward::tangent(y);
  EXPECT_TRUE(t.defined());
  return t.defined() ? t.detach() : zeros_like(y);
}

Tensor parameter_central_difference(nn::Module& m, const Tensor& x, const std::vector<Tensor>& vs, double h) {
  NoGradGuard no_grad;
  std::vector<Tensor> ps = m.parameters();
  auto shift = [&](double by) {
    for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(mul(vs[i], by));
  };
  shift(h);
  const Tensor plus = m.forward(x);
  shift(-2.0 * h);
  const Tensor minus = m.forward(x);
  shift(h);
  return div(sub(plus, minus), 2.0 * h);
}

void expect_parameter_jvp(nn::Module& m, const Tensor& x, const std::string& what) {
  m.to(kFloat64);
  m.eval();
  manual_seed(11);
  std::vector<Tensor> vs;
  for (const auto& p : m.parameters()) vs.push_back(randn(p.shape(), p.dtype()));
  ASSERT_FALSE(vs.empty()) << what;
  const Tensor jv = parameter_jvp(m, x, vs);
  const Tensor fd = parameter_central_difference(m, x, vs, 1e-6);
  EXPECT_TRUE(all_close(jv, fd, 1e-4, 1e-6)) << what << ": parameter jvp vs finite differences";
  EXPECT_GT(max_abs_diff(jv, zeros_like(jv)), 1e-3) << what;
}

TEST(ForwardADModels, MlpConvNetAndGptParameterJvpsMatchFiniteDifferences) {
  manual_seed(5);
  {
    models::MLPOptions o;
    o.input_shape = {6};
    o.hidden = {8, 8};
    o.out_features = 3;
    o.activation = "gelu";
    models::MLP mlp(o);
    expect_parameter_jvp(mlp, randn({4, 6}, kFloat64), "mlp");
  }
  {
    models::ConvNetOptions o;
    o.input_shape = {1, 8, 8};
    o.channels = {3, 4};
    o.hidden = 6;
    o.num_classes = 3;
    models::ConvNet cnn(o);
    expect_parameter_jvp(cnn, randn({2, 1, 8, 8}, kFloat64), "cnn");
  }
  for (const std::string attention : {"softmax", "moba"}) {
    models::GPTOptions o;
    for (int64_t i = 0; i < 7; ++i) o.vocab.push_back('a' + i);
    o.context = 8;
    o.layers = 2;
    o.heads = 2;
    o.dim = 8;
    o.attention = attention;
    o.moba_block = 2;
    o.moba_top_k = 2;
    models::GPT gpt(o);  // fused kernels: forward mode takes their composite paths
    const Tensor ids = tensor(std::vector<int64_t>{0, 3, 1, 6, 2, 2, 5, 4, 1, 0}, {2, 5}, kInt64);
    expect_parameter_jvp(gpt, ids, "gpt/" + attention);
  }
}

}  // namespace
}  // namespace tangent::testing
