// Tests of the nn library's modules, layers, initialisers and losses (nn/*.h): registration and nested names,
// modes, dtype conversion, state_dict round trips and their errors, every layer's forward against a reference
// computed independently (plain loops in double, or a different composition), init statistics, and every loss
// against hand-computed values, with the error messages for bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::expect_error;
namespace F = tangent::nn::functional;

namespace {

using Vec = std::vector<double>;

Vec vec(const Tensor& t) { return to_vector<double>(t); }

// A small model with nested modules, a buffer-carrying layer and a module-level parameter.
struct Net : nn::Module {
  Net() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(5, 4));
    layers = register_module(
        "layers",
        std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
            std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>(), std::make_shared<nn::BatchNorm1d>(3)}));
    scale = register_parameter("scale", ones({3}));
  }
  Tensor forward(const Tensor& x) override { return layers->forward(fc1->forward(x)) * scale; }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<nn::Linear> fc1;
  std::shared_ptr<nn::Sequential> layers;
  Tensor scale;
};

std::vector<std::string> keys(const nn::StateDict& d) {
  std::vector<std::string> out;
  for (const auto& kv : d) out.push_back(kv.first);
  return out;
}

// ---- Module ----

TEST(NnModule, NestedNamesAndOrder) {
  auto net = std::make_shared<Net>();
  EXPECT_EQ(keys(net->named_parameters()),
            (std::vector<std::string>{"scale", "fc1.weight", "fc1.bias", "layers.0.weight", "layers.0.bias",
                                      "layers.2.weight", "layers.2.bias"}));
  EXPECT_EQ(keys(net->named_buffers()), (std::vector<std::string>{"layers.2.running_mean", "layers.2.running_var",
                                                                  "layers.2.num_batches_tracked"}));
  EXPECT_EQ(keys(net->named_parameters(false)), (std::vector<std::string>{"scale"}));
  const auto params = net->parameters();
  ASSERT_EQ(params.size(), 7u);
  EXPECT_TRUE(params[1].is_same(net->fc1->weight));  // handles, not copies
  EXPECT_TRUE(params[2].is_same(net->fc1->bias));
  // state_dict: parameters, then buffers.
  const auto sd = keys(net->state_dict());
  ASSERT_EQ(sd.size(), 10u);
  EXPECT_EQ(sd[0], "scale");
  EXPECT_EQ(sd[7], "layers.2.running_mean");
  std::vector<std::string> mods;
  for (auto& [name, m] : net->named_modules()) mods.push_back(name + ":" + m->type_name());
  EXPECT_EQ(mods, (std::vector<std::string>{":Net", "fc1:Linear", "layers:Sequential", "layers.0:Linear",
                                            "layers.1:ReLU", "layers.2:BatchNorm1d"}));
  EXPECT_EQ(net->num_parameters(), 3 + 5 * 4 + 4 + 4 * 3 + 3 + 3 + 3);
  for (const auto& p : params) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  for (const auto& [name, b] : net->named_buffers()) EXPECT_FALSE(b.requires_grad()) << name;
}

TEST(NnModule, RegistrationErrors) {
  struct Bad : nn::Module {
    std::string type_name() const override { return "Bad"; }
  } m;
  m.register_parameter("w", zeros({2}));
  expect_error([&] { m.register_parameter("w", zeros({2})); }, {"Bad", "'w'", "already registered"});
  expect_error([&] { m.register_buffer("w", zeros({2})); }, {"Bad", "'w'"});
  expect_error([&] { m.register_parameter("a.b", zeros({2})); }, {"invalid parameter name", "a.b"});
  expect_error([&] { m.register_parameter("u", Tensor()); }, {"'u'", "undefined"});
  expect_error([&] { m.forward(zeros({1})); }, {"Bad", "no forward"});
  auto lin = std::make_shared<nn::Linear>(2, 2);
  m.register_module("sub", lin);
  expect_error([&] { m.register_module("sub", lin); }, {"'sub'", "already registered"});
  // A registered parameter keeps requires_grad = false when asked.
  Tensor frozen = m.register_parameter("frozen", ones({3}), false);
  EXPECT_FALSE(frozen.requires_grad());
  EXPECT_EQ(m.num_parameters(), 2 + 3 + 6);
  EXPECT_EQ(m.num_parameters(true), 2 + 6);
}

TEST(NnModule, Containers) {
  manual_seed(2);
  auto a = std::make_shared<nn::Linear>(3, 4);
  auto b = std::make_shared<nn::Linear>(4, 2);
  nn::Sequential seq{a, std::make_shared<nn::Tanh>(), b};
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[2].get(), b.get());
  const Tensor x = randn({5, 3});
  EXPECT_TRUE(equal(seq.forward(x), b->forward(tanh(a->forward(x)))));
  expect_error([&] { seq[3]; }, {"Sequential", "index 3", "3 modules"});
  nn::ModuleList list{a, b};
  list.push_back(std::make_shared<nn::ReLU>());
  EXPECT_EQ(keys(list.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
  int n = 0;
  for (const auto& m : list) n += m != nullptr;
  EXPECT_EQ(n, 3);
  expect_error([&] { list[5]; }, {"ModuleList", "index 5"});
  expect_error([&] { list.forward(x); }, {"ModuleList", "no forward"});
  // A module shared by two containers is the same object (its parameters are shared).
  EXPECT_TRUE(list.named_parameters()[0].second.is_same(seq.named_parameters()[0].second));
}

TEST(NnModule, TrainEvalPropagates) {
  auto net = std::make_shared<Net>();
  for (auto& [name, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << name;
  net->eval();
  for (auto& [name, m] : net->named_modules()) EXPECT_FALSE(m->is_training()) << name;
  net->train();
  for (auto& [name, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << name;
}

TEST(NnModule, ToFloat64ConvertsInPlace) {
  auto net = std::make_shared<Net>();
  const Tensor w_handle = net->fc1->weight;
  const Vec before = vec(w_handle);
  net->to(kFloat64);
  EXPECT_EQ(w_handle.dtype(), kFloat64);  // the handle held by the layer sees the conversion
  EXPECT_EQ(net->fc1->weight.dtype(), kFloat64);
  EXPECT_TRUE(w_handle.requires_grad());
  EXPECT_TRUE(w_handle.is_leaf());
  EXPECT_EQ(vec(w_handle), before);  // float32 -> float64 is exact
  auto* bn = dynamic_cast<nn::BatchNorm1d*>((*net->layers)[2].get());
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->running_mean.dtype(), kFloat64);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), kInt64);  // integer buffers keep their dtype
  for (const auto& [name, t] : net->named_parameters()) EXPECT_EQ(t.dtype(), kFloat64) << name;
  // It runs in float64 and its gradients are float64.
  Tensor y = net->forward(randn({6, 5}, kFloat64));
  EXPECT_EQ(y.dtype(), kFloat64);
  y.sum().backward();
  ASSERT_TRUE(w_handle.grad().defined());
  EXPECT_EQ(w_handle.grad().dtype(), kFloat64);
  // And back; gradients are dropped by the conversion.
  net->to(kFloat32);
  EXPECT_EQ(w_handle.dtype(), kFloat32);
  EXPECT_FALSE(w_handle.grad().defined());
}

TEST(NnModule, ZeroGrad) {
  auto net = std::make_shared<Net>();
  net->forward(randn({4, 5})).sum().backward();
  for (const auto& [name, p] : net->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  net->zero_grad();
  for (const auto& [name, p] : net->named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
}

TEST(NnModule, StateDictRoundTrip) {
  manual_seed(1);
  auto a = std::make_shared<Net>();
  a->forward(randn({8, 5}));  // moves the batch norm's running statistics and counter
  manual_seed(2);
  auto b = std::make_shared<Net>();
  const Tensor x = randn({3, 5});
  a->eval();
  b->eval();
  EXPECT_FALSE(equal(a->forward(x), b->forward(x)));
  const Tensor b_weight = b->fc1->weight;
  b->load_state_dict(a->state_dict());
  EXPECT_TRUE(b_weight.is_same(b->fc1->weight));
  const nn::StateDict b_state = b->state_dict();  // find() points into it: keep it alive
  for (const auto& [name, t] : a->state_dict()) {
    const Tensor* other = nn::find(b_state, name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_TRUE(equal(t, *other)) << name;
    EXPECT_EQ(t.dtype(), other->dtype()) << name;
  }
  EXPECT_EQ(b->named_buffers()[2].second.item<int64_t>(), 1);
  EXPECT_TRUE(equal(a->forward(x), b->forward(x)));
  // The loaded values are copies: changing a's afterwards leaves b alone.
  {
    NoGradGuard g;
    a->fc1->weight.add_(ones({4, 5}));
  }
  EXPECT_FALSE(equal(a->fc1->weight, b->fc1->weight));
  EXPECT_TRUE(b->fc1->weight.requires_grad());
}

TEST(NnModule, LoadStateDictErrors) {
  auto net = std::make_shared<Net>();
  const nn::StateDict good = net->state_dict();
  nn::StateDict missing;
  for (const auto& kv : good)
    if (kv.first != "fc1.bias") missing.push_back(kv);
  expect_error([&] { net->load_state_dict(missing); }, {"load_state_dict", "Net", "missing keys: fc1.bias"});
  nn::StateDict unexpected = good;
  unexpected.emplace_back("extra.weight", zeros({2}));
  expect_error([&] { net->load_state_dict(unexpected); }, {"unexpected keys: extra.weight"});
  nn::StateDict both = missing;
  both.emplace_back("extra.weight", zeros({2}));
  expect_error([&] { net->load_state_dict(both); }, {"missing keys: fc1.bias", "unexpected keys: extra.weight"});
  // Non-strict loading skips them.
  EXPECT_NO_THROW(net->load_state_dict(both, false));

  // A mis-shaped tensor names the key and both shapes, and leaves the model unchanged (nothing half-loaded).
  manual_seed(7);
  auto other = std::make_shared<Net>();
  nn::StateDict shaped = other->state_dict();
  for (auto& kv : shaped)
    if (kv.first == "layers.0.weight") kv.second = zeros({3, 5});
  const nn::StateDict before = net->state_dict();
  std::vector<Tensor> copies;
  for (const auto& kv : before) copies.push_back(kv.second.clone());
  expect_error([&] { net->load_state_dict(shaped); }, {"'layers.0.weight'", "[3, 5]", "[3, 4]"});
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(equal(before[i].second, copies[i])) << before[i].first;
}

TEST(NnModule, Summary) {
  auto net = std::make_shared<Net>();
  const std::string s = net->summary();
  EXPECT_NE(s.find("Net"), std::string::npos) << s;
  EXPECT_NE(s.find("(fc1): Linear(in_features=5, out_features=4, bias=true)  # 24 params"), std::string::npos) << s;
  EXPECT_NE(s.find("(layers): Sequential()  # 21 params"), std::string::npos) << s;
  EXPECT_NE(s.find("BatchNorm1d(3"), std::string::npos) << s;
  EXPECT_NE(s.find("Total parameters: 48 (trainable 48)"), std::string::npos) << s;
}

// ---- layers ----

// y[i, o] = sum_k x[i, k] w[o, k] * ws + b[o] * bs, in double.
Vec linear_ref(const Tensor& x, const Tensor& w, const Tensor& b, double ws, double bs) {
  const int64_t n = x.size(0), in = x.size(1), out = w.size(0);
  const Vec xv = vec(x), wv = vec(w), bv = b.defined() ? vec(b) : Vec(static_cast<size_t>(out), 0.0);
  Vec y(static_cast<size_t>(n * out));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < in; ++k) acc += xv[static_cast<size_t>(i * in + k)] * wv[static_cast<size_t>(o * in + k)];
      y[static_cast<size_t>(i * out + o)] = acc * ws + bv[static_cast<size_t>(o)] * bs;
    }
  return y;
}

TEST(NnLayers, LinearMatchesManual) {
  manual_seed(3);
  nn::Linear lin(6, 4);
  EXPECT_EQ(lin.weight.shape(), (Shape{4, 6}));
  EXPECT_EQ(lin.bias.shape(), (Shape{4}));
  // Default init: U(-1/sqrt(in), 1/sqrt(in)).
  for (double v : vec(lin.weight)) EXPECT_LE(std::abs(v), 1.0 / std::sqrt(6.0));
  const Tensor x = randn({5, 6});
  EXPECT_TRUE(all_close(lin.forward(x),
                        tensor(linear_ref(x, lin.weight, lin.bias, 1, 1), {5, 4}, kFloat64).to(kFloat32), 1e-5, 1e-5));
  // Leading batch dims.
  const Tensor x3 = randn({2, 3, 6});
  EXPECT_EQ(lin.forward(x3).shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(all_close(lin.forward(x3).reshape({6, 4}), lin.forward(x3.reshape({6, 6})), 1e-6, 1e-6));
  nn::Linear nobias(6, 4, false);
  EXPECT_FALSE(nobias.bias.defined());
  EXPECT_EQ(nobias.named_parameters().size(), 1u);
  EXPECT_TRUE(all_close(nobias.forward(x),
                        tensor(linear_ref(x, nobias.weight, Tensor(), 1, 1), {5, 4}, kFloat64).to(kFloat32), 1e-5,
                        1e-5));
  expect_error([&] { lin.forward(randn({5, 7})); }, {"Linear", "[..., 6]", "[5, 7]"});
  expect_error([] { nn::Linear(0, 3); }, {"Linear", "in=0"});
}

TEST(NnLayers, LinearNTK) {
  manual_seed(4);
  nn::LinearOptions o{400, 300};
  o.parametrization = nn::Parametrization::NTK;
  o.sigma_w = 1.5;
  o.sigma_b = 0.3;
  nn::Linear lin(o);
  // N(0, 1) parameters.
  EXPECT_NEAR(mean(lin.weight).item<double>(), 0.0, 0.01);
  EXPECT_NEAR(tangent::std(lin.weight).item<double>(), 1.0, 0.01);
  EXPECT_NEAR(tangent::std(lin.bias).item<double>(), 1.0, 0.15);
  EXPECT_DOUBLE_EQ(lin.weight_scale(), 1.5 / 20.0);
  EXPECT_DOUBLE_EQ(lin.bias_scale(), 0.3);
  const Tensor x = randn({3, 400});
  const Tensor ref = tensor(linear_ref(x, lin.weight, lin.bias, 1.5 / std::sqrt(400.0), 0.3), {3, 300}, kFloat64);
  EXPECT_TRUE(all_close(lin.forward(x).to(kFloat64), ref, 1e-4, 1e-4));
  EXPECT_NE(lin.extra_repr().find("ntk"), std::string::npos);
}

TEST(NnLayers, Conv2dMatchesFunctional) {
  manual_seed(5);
  nn::Conv2dOptions o;
  o.in_channels = 4;
  o.out_channels = 6;
  o.kernel_size = {3, 2};
  o.stride = {2, 1};
  o.padding = {1, 0};
  o.groups = 2;
  nn::Conv2d conv(o);
  EXPECT_EQ(conv.weight.shape(), (Shape{6, 2, 3, 2}));
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 2);
  for (double v : vec(conv.weight)) EXPECT_LE(std::abs(v), bound);
  const Tensor x = randn({2, 4, 7, 5});
  const Tensor y = conv.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 6, 4, 4}));
  EXPECT_TRUE(equal(y, conv2d(x, conv.weight, conv.bias, {2, 1}, {1, 0}, {1, 1}, 2)));
  expect_error([&] { conv.forward(randn({2, 3, 7, 5})); }, {"Conv2d", "[N, 4, H, W]", "[2, 3, 7, 5]"});
  expect_error([] { nn::Conv2d(3, 4, 3, 1, 0).forward(randn({3, 8, 8})); }, {"Conv2d", "[3, 8, 8]"});

  // NTK: sigma_w / sqrt(fan_in) * conv(x, W) + sigma_b * b with N(0, 1) parameters.
  o.parametrization = nn::Parametrization::NTK;
  o.sigma_w = 2.0;
  o.sigma_b = 0.5;
  nn::Conv2d ntk(o);
  EXPECT_DOUBLE_EQ(ntk.weight_scale(), 2.0 / std::sqrt(12.0));
  const Tensor ref = add(mul(conv2d(x, ntk.weight, Tensor(), {2, 1}, {1, 0}, {1, 1}, 2), 2.0 / std::sqrt(12.0)),
                         reshape(mul(ntk.bias, 0.5), {1, 6, 1, 1}));
  EXPECT_TRUE(all_close(ntk.forward(x), ref, 1e-5, 1e-6));
}

TEST(NnLayers, PoolsAndFlatten) {
  const Tensor x = arange(0, 32, 1, kFloat32).reshape({1, 2, 4, 4});
  nn::MaxPool2d mp(2);
  EXPECT_EQ(vec(mp.forward(x)), (Vec{5, 7, 13, 15, 21, 23, 29, 31}));
  nn::AvgPool2d ap(2);
  EXPECT_EQ(vec(ap.forward(x)), (Vec{2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5}));
  nn::AdaptiveAvgPool2d gap({1, 1});
  EXPECT_EQ(vec(gap.forward(x)), (Vec{7.5, 23.5}));
  nn::Flatten fl;
  EXPECT_EQ(fl.forward(x).shape(), (Shape{1, 32}));
}

// Per-channel batch statistics of x [N, C, ...] in double: means and biased variances.
void channel_stats(const Tensor& x, Vec* mean_out, Vec* var_out, int64_t* count) {
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  const Vec v = vec(x.contiguous());
  mean_out->assign(static_cast<size_t>(c), 0.0);
  var_out->assign(static_cast<size_t>(c), 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) s += v[static_cast<size_t>((i * c + ch) * inner + k)];
    const double m = s / static_cast<double>(n * inner);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) {
        const double d = v[static_cast<size_t>((i * c + ch) * inner + k)] - m;
        s2 += d * d;
      }
    (*mean_out)[static_cast<size_t>(ch)] = m;
    (*var_out)[static_cast<size_t>(ch)] = s2 / static_cast<double>(n * inner);
  }
  *count = n * inner;
}

// (x - mean) / sqrt(var + eps) * w + b per channel, in double.
Tensor bn_ref(const Tensor& x, const Vec& m, const Vec& var, const Vec& w, const Vec& b, double eps) {
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  Vec v = vec(x.contiguous());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        double& e = v[static_cast<size_t>((i * c + ch) * inner + k)];
        const size_t cc = static_cast<size_t>(ch);
        e = (e - m[cc]) / std::sqrt(var[cc] + eps) * w[cc] + b[cc];
      }
  return tensor(v, x.shape(), kFloat64);
}

TEST(NnLayers, BatchNorm1dTrainAndEval) {
  manual_seed(6);
  nn::BatchNorm1d bn(3, 1e-5, 0.2);
  {
    NoGradGuard g;
    bn.weight.copy_(tensor(std::vector<float>{1.5f, 0.5f, -1.0f}, {3}));
    bn.bias.copy_(tensor(std::vector<float>{0.1f, -0.2f, 0.3f}, {3}));
  }
  const Tensor x = add(mul(randn({8, 3}, kFloat64), 2.0), 1.0);
  bn.to(kFloat64);
  Vec m, v;
  int64_t cnt = 0;
  channel_stats(x, &m, &v, &cnt);
  const Vec w = vec(bn.weight), b = vec(bn.bias);
  const Tensor y = bn.forward(x);
  EXPECT_TRUE(all_close(y, bn_ref(x, m, v, w, b, 1e-5), 1e-10, 1e-10));
  // Running statistics: momentum 0.2, unbiased variance.
  Vec rm(3), rv(3);
  for (size_t c = 0; c < 3; ++c) {
    rm[c] = 0.8 * 0.0 + 0.2 * m[c];
    rv[c] = 0.8 * 1.0 + 0.2 * v[c] * static_cast<double>(cnt) / static_cast<double>(cnt - 1);
  }
  EXPECT_TRUE(all_close(bn.running_mean, tensor(rm, {3}, kFloat64), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(bn.running_var, tensor(rv, {3}, kFloat64), 1e-12, 1e-12));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  // Gradients flow to the input and the affine parameters.
  y.sum().backward();
  EXPECT_TRUE(bn.weight.grad().defined());
  EXPECT_TRUE(bn.bias.grad().defined());
  // [N, C, L] inputs normalise over N and L.
  const Tensor x3 = randn({4, 3, 5}, kFloat64);
  Vec m3, v3;
  channel_stats(x3, &m3, &v3, &cnt);
  EXPECT_TRUE(all_close(bn.forward(x3), bn_ref(x3, m3, v3, w, b, 1e-5), 1e-10, 1e-10));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  // Eval: the running statistics, which stay put.
  bn.eval();
  const Vec rm_now = vec(bn.running_mean), rv_now = vec(bn.running_var);
  EXPECT_TRUE(all_close(bn.forward(x), bn_ref(x, rm_now, rv_now, w, b, 1e-5), 1e-10, 1e-10));
  EXPECT_EQ(vec(bn.running_mean), rm_now);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  // Errors.
  expect_error([&] { bn.forward(randn({4, 2}, kFloat64)); }, {"BatchNorm1d", "2 or 3 dims", "3 channels", "[4, 2]"});
  bn.train();
  expect_error([&] { bn.forward(randn({1, 3}, kFloat64)); }, {"batch_norm", "more than 1 value", "[1, 3]"});
}

TEST(NnLayers, BatchNorm2d) {
  manual_seed(7);
  nn::BatchNorm2d bn(2);
  const Tensor x = randn({3, 2, 4, 5});
  Vec m, v;
  int64_t cnt = 0;
  channel_stats(x, &m, &v, &cnt);
  EXPECT_EQ(cnt, 60);
  const Tensor y = bn.forward(x);
  EXPECT_TRUE(all_close(y.to(kFloat64), bn_ref(x, m, v, {1, 1}, {0, 0}, 1e-5), 1e-4, 1e-5));
  EXPECT_TRUE(all_close(bn.running_var.to(kFloat64),
                        tensor(Vec{0.9 + 0.1 * v[0] * 60 / 59, 0.9 + 0.1 * v[1] * 60 / 59}, {2}, kFloat64), 1e-5,
                        1e-6));
  bn.eval();
  const Vec rm = vec(bn.running_mean), rv = vec(bn.running_var);
  EXPECT_TRUE(all_close(bn.forward(x).to(kFloat64), bn_ref(x, rm, rv, {1, 1}, {0, 0}, 1e-5), 1e-4, 1e-5));
  expect_error([&] { bn.forward(randn({3, 2, 4})); }, {"BatchNorm2d", "4 dims", "[3, 2, 4]"});
}

TEST(NnLayers, LayerNormAndRMSNorm) {
  manual_seed(8);
  nn::LayerNorm ln(Shape{3, 4});
  {
    NoGradGuard g;
    ln.weight.copy_(randn({3, 4}));
    ln.bias.copy_(randn({3, 4}));
  }
  const Tensor x = randn({2, 3, 4});
  const Vec xv = vec(x), wv = vec(ln.weight), bv = vec(ln.bias);
  Vec ref(24), rms_ref(24);
  for (size_t r = 0; r < 2; ++r) {
    double s = 0, s2 = 0, sq = 0;
    for (size_t k = 0; k < 12; ++k) s += xv[r * 12 + k];
    const double m = s / 12;
    for (size_t k = 0; k < 12; ++k) {
      s2 += (xv[r * 12 + k] - m) * (xv[r * 12 + k] - m);
      sq += xv[r * 12 + k] * xv[r * 12 + k];
    }
    for (size_t k = 0; k < 12; ++k) {
      ref[r * 12 + k] = (xv[r * 12 + k] - m) / std::sqrt(s2 / 12 + 1e-5) * wv[k] + bv[k];
      rms_ref[r * 12 + k] = xv[r * 12 + k] / std::sqrt(sq / 12 + 1e-6) * wv[k];
    }
  }
  EXPECT_TRUE(all_close(ln.forward(x).to(kFloat64), tensor(ref, {2, 3, 4}, kFloat64), 1e-4, 1e-5));
  nn::RMSNorm rms(Shape{3, 4});
  {
    NoGradGuard g;
    rms.weight.copy_(ln.weight);
  }
  EXPECT_TRUE(all_close(rms.forward(x).to(kFloat64), tensor(rms_ref, {2, 3, 4}, kFloat64), 1e-4, 1e-5));
  expect_error([&] { ln.forward(randn({2, 4, 3})); }, {"LayerNorm", "[3, 4]", "[2, 4, 3]"});
  // Checked without affine parameters too.
  expect_error([] { nn::LayerNorm(Shape{4}, 1e-5, false).forward(randn({2, 5})); }, {"LayerNorm", "[4]", "[2, 5]"});
  expect_error([] { nn::RMSNorm(Shape{4}, 1e-6, false).forward(randn({4, 2})); }, {"RMSNorm", "[4]", "[4, 2]"});
  expect_error([] { F::layer_norm(randn({2, 3}), 3, Tensor(), Tensor()); }, {"layer_norm", "[2, 3]"});
  expect_error([] { nn::LayerNorm(Shape{}); }, {"LayerNorm", "empty"});
}

TEST(NnLayers, Embedding) {
  manual_seed(9);
  nn::Embedding emb(10, 3);
  EXPECT_EQ(emb.weight.shape(), (Shape{10, 3}));
  const Tensor idx = tensor(std::vector<int64_t>{3, 0, 9, 3, 7, 1}, {2, 3});
  const Tensor y = emb.forward(idx);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3}));
  const Vec w = vec(emb.weight), yv = vec(y);
  const std::vector<int64_t> ids{3, 0, 9, 3, 7, 1};
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t k = 0; k < 3; ++k) EXPECT_EQ(yv[i * 3 + k], w[static_cast<size_t>(ids[i]) * 3 + k]);
  // The gradient accumulates per row (row 3 is used twice).
  y.sum().backward();
  const Vec g = vec(emb.weight.grad());
  EXPECT_EQ(g[3 * 3], 2.0);
  EXPECT_EQ(g[0], 1.0);
  EXPECT_EQ(g[2 * 3], 0.0);
  expect_error([&] { emb.forward(tensor(std::vector<float>{1.f, 2.f}, {2})); }, {"Embedding", "int64", "float32"});
  EXPECT_THROW(emb.forward(tensor(std::vector<int64_t>{10}, {1})), Error);
}

TEST(NnLayers, Dropout) {
  nn::Dropout drop(0.3);
  const Tensor x = ones({200000});
  drop.eval();
  EXPECT_TRUE(equal(drop.forward(x), x));
  drop.train();
  manual_seed(11);
  const Tensor y = drop.forward(x);
  const Vec v = vec(y);
  int64_t zeros_count = 0;
  for (double e : v) {
    if (e == 0.0) {
      ++zeros_count;
    } else {
      ASSERT_NEAR(e, 1.0 / 0.7, 1e-6);
    }
  }
  EXPECT_NEAR(static_cast<double>(zeros_count) / 200000.0, 0.3, 0.005);
  EXPECT_NEAR(mean(y).item<double>(), 1.0, 0.01);  // unbiased
  manual_seed(11);
  EXPECT_TRUE(equal(drop.forward(x), y));   // deterministic under manual_seed
  EXPECT_FALSE(equal(drop.forward(x), y));  // and the generator advanced
  // Its own generator.
  Generator gen(5);
  nn::Dropout d2(0.5, &gen);
  const Tensor a = d2.forward(x);
  gen.manual_seed(5);
  EXPECT_TRUE(equal(d2.forward(x), a));
  // The gradient is the same mask, scaled.
  Tensor xr = ones({1000}).requires_grad_();
  manual_seed(12);
  Tensor out = drop.forward(xr);
  out.sum().backward();
  EXPECT_TRUE(equal(xr.grad(), out.detach()));
  // Edge probabilities.
  EXPECT_TRUE(equal(nn::Dropout(0.0).forward(x), x));
  EXPECT_EQ(sum(nn::Dropout(1.0).forward(x)).item<double>(), 0.0);
  expect_error([] { nn::Dropout(1.5); }, {"Dropout", "1.5"});
}

TEST(NnLayers, Activations) {
  const Vec xs{-30.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.0, 25.0};
  const Tensor x = tensor(xs, {9}, kFloat64);
  auto check = [&](const std::string& name, const std::function<double(double)>& f) {
    auto m = nn::make_activation(name);
    const Vec y = vec(m->forward(x));
    for (size_t i = 0; i < xs.size(); ++i)
      EXPECT_NEAR(y[i], f(xs[i]), 1e-7 * (1 + std::abs(f(xs[i])))) << name << " at " << xs[i];
  };
  check("relu", [](double v) { return v > 0 ? v : 0.0; });
  check("gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check("gelu_tanh",
        [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))); });
  check("silu", [](double v) { return v / (1 + std::exp(-v)); });
  check("tanh", [](double v) { return std::tanh(v); });
  check("sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); });
  check("softplus", [](double v) { return v > 20 ? v : std::log1p(std::exp(v)); });
  check("erf", [](double v) { return std::erf(v); });
  nn::Softplus sp(2.0, 10.0);
  const Vec y = vec(sp.forward(x));
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = 2.0 * xs[i] > 10.0 ? xs[i] : std::log1p(std::exp(2.0 * xs[i])) / 2.0;
    EXPECT_NEAR(y[i], want, 1e-9) << xs[i];
  }
  expect_error([] { nn::make_activation("swish"); }, {"activation", "swish"});
  EXPECT_EQ(nn::make_activation("gelu_tanh")->extra_repr(), "approximate=tanh");
}

// ---- init ----

TEST(NnInit, FansAndGains) {
  EXPECT_EQ(nn::init::fans(empty({64, 16, 3, 3})), (std::pair<int64_t, int64_t>{144, 576}));
  EXPECT_EQ(nn::init::fans(empty({10, 20})), (std::pair<int64_t, int64_t>{20, 10}));
  expect_error([] { nn::init::fans(empty({5})); }, {"init", "[5]"});
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  expect_error([] { nn::init::calculate_gain("nope"); }, {"calculate_gain", "nope"});
}

TEST(NnInit, Statistics) {
  manual_seed(13);
  auto stats = [](const Tensor& t) {
    return std::pair<double, double>{mean(t).item<double>(), tangent::std(t).item<double>()};
  };
  Tensor w = empty({512, 256});
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");
  auto [m, s] = stats(w);
  EXPECT_NEAR(m, 0.0, 0.002);
  EXPECT_NEAR(s, std::sqrt(2.0 / 256), 0.01 * std::sqrt(2.0 / 256));
  nn::init::kaiming_uniform_(w, 0.0, "fan_out", "relu");
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, std::sqrt(2.0 / 512), 0.01 * std::sqrt(2.0 / 512));
  EXPECT_LE(amax(abs(w)).item<double>(), std::sqrt(3.0 * 2.0 / 512) + 1e-7);
  nn::init::xavier_uniform_(w);
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, std::sqrt(2.0 / 768), 0.01 * std::sqrt(2.0 / 768));
  nn::init::xavier_normal_(w, 2.0);
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, 2.0 * std::sqrt(2.0 / 768), 0.02 * std::sqrt(2.0 / 768));
  // Conv weights: fan_in = in * kH * kW, fan_out = out * kH * kW.
  Tensor cw = empty({64, 32, 3, 3});
  nn::init::kaiming_normal_(cw, 0.0, "fan_out", "relu");
  std::tie(m, s) = stats(cw);
  EXPECT_NEAR(s, std::sqrt(2.0 / 576), 0.01 * std::sqrt(2.0 / 576));
  nn::init::kaiming_normal_(cw, 0.0, "fan_in", "relu");
  std::tie(m, s) = stats(cw);
  EXPECT_NEAR(s, std::sqrt(2.0 / 288), 0.01 * std::sqrt(2.0 / 288));
  expect_error([&] { nn::init::kaiming_normal_(cw, 0.0, "fan_mid"); }, {"fan_mid"});
  nn::init::uniform_(w, 2.0, 3.0);
  EXPECT_GE(amin(w).item<double>(), 2.0);
  EXPECT_LT(amax(w).item<double>(), 3.0);
  EXPECT_NEAR(mean(w).item<double>(), 2.5, 0.005);
  nn::init::constant_(w, 0.25);
  EXPECT_EQ(amin(w).item<double>(), 0.25);
  EXPECT_EQ(amax(w).item<double>(), 0.25);
  // In place on a parameter that requires grad, without recording history; a generator makes it reproducible.
  Tensor p = empty({100}).requires_grad_();
  Generator g1(3), g2(3);
  nn::init::normal_(p, 0.0, 1.0, &g1);
  EXPECT_TRUE(p.is_leaf());
  Tensor q = empty({100});
  nn::init::normal_(q, 0.0, 1.0, &g2);
  EXPECT_TRUE(equal(p.detach(), q));
}

// ---- losses ----

// Log-softmax of each row of a [N, C] value list, in double.
std::vector<Vec> log_softmax_rows(const Vec& v, int64_t n, int64_t c) {
  std::vector<Vec> out(static_cast<size_t>(n), Vec(static_cast<size_t>(c)));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, v[static_cast<size_t>(i * c + k)]);
    double s = 0;
    for (int64_t k = 0; k < c; ++k) s += std::exp(v[static_cast<size_t>(i * c + k)] - mx);
    for (int64_t k = 0; k < c; ++k)
      out[static_cast<size_t>(i)][static_cast<size_t>(k)] = v[static_cast<size_t>(i * c + k)] - mx - std::log(s);
  }
  return out;
}

const Vec kLogits = {1.0, 2.0, 0.5, -1.0, 0.0, 0.0, 3.0, 1.0, -2.0, 4.0, 0.5, 0.25};  // [3, 4]

TEST(NnLoss, CrossEntropyIndices) {
  const Tensor logits = tensor(kLogits, {3, 4}, kFloat64);
  const Tensor target = tensor(std::vector<int64_t>{1, 3, 0}, {3});
  const auto lp = log_softmax_rows(kLogits, 3, 4);
  const Vec per{-lp[0][1], -lp[1][3], -lp[2][0]};
  F::CrossEntropyOptions o;
  o.reduction = F::Reduction::None;
  EXPECT_TRUE(all_close(F::cross_entropy(logits, target, o), tensor(per, {3}, kFloat64), 1e-12, 1e-12));
  o.reduction = F::Reduction::Sum;
  EXPECT_NEAR(F::cross_entropy(logits, target, o).item<double>(), per[0] + per[1] + per[2], 1e-12);
  EXPECT_NEAR(F::cross_entropy(logits, target).item<double>(), (per[0] + per[1] + per[2]) / 3, 1e-12);
  // A hand-computed value: logits [0, 0] with target 0 gives log 2.
  EXPECT_NEAR(F::cross_entropy(zeros({1, 2}, kFloat64), tensor(std::vector<int64_t>{0}, {1})).item<double>(),
              std::log(2.0), 1e-15);
  // Float32 logits give a float32 loss; the gradient is softmax - onehot, over N.
  Tensor l32 = tensor(kLogits, {3, 4}, kFloat64).to(kFloat32).requires_grad_();
  Tensor loss = F::cross_entropy(l32, target);
  EXPECT_EQ(loss.dtype(), kFloat32);
  loss.backward();
  const Vec g = vec(l32.grad());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t t = std::vector<int64_t>{1, 3, 0}[static_cast<size_t>(i)];
      EXPECT_NEAR(g[static_cast<size_t>(i * 4 + k)],
                  (std::exp(lp[static_cast<size_t>(i)][static_cast<size_t>(k)]) - (k == t)) / 3, 1e-6);
    }
}

TEST(NnLoss, CrossEntropyProbabilitiesAndSmoothing) {
  const Tensor logits = tensor(kLogits, {3, 4}, kFloat64);
  const Vec probs = {0.1, 0.2, 0.3, 0.4, 1.0, 0.0, 0.0, 0.0, 0.25, 0.25, 0.25, 0.25};
  const Tensor p = tensor(probs, {3, 4}, kFloat64);
  const auto lp = log_softmax_rows(kLogits, 3, 4);
  auto soft_ref = [&](double ls) {
    Vec per(3);
    for (size_t i = 0; i < 3; ++i)
      for (size_t k = 0; k < 4; ++k) per[i] -= (probs[i * 4 + k] * (1 - ls) + ls / 4) * lp[i][k];
    return per;
  };
  F::CrossEntropyOptions o;
  o.reduction = F::Reduction::None;
  EXPECT_TRUE(all_close(F::cross_entropy(logits, p, o), tensor(soft_ref(0.0), {3}, kFloat64), 1e-12, 1e-12));
  o.label_smoothing = 0.2;
  EXPECT_TRUE(all_close(F::cross_entropy(logits, p, o), tensor(soft_ref(0.2), {3}, kFloat64), 1e-12, 1e-12));
  // Index targets with smoothing equal one-hot probabilities with smoothing.
  const std::vector<int64_t> idx{1, 3, 0};
  Vec per(3);
  for (size_t i = 0; i < 3; ++i) {
    double mean_lp = 0;
    for (size_t k = 0; k < 4; ++k) mean_lp += lp[i][k] / 4;
    per[i] = -0.8 * lp[i][static_cast<size_t>(idx[i])] - 0.2 * mean_lp;
  }
  const Tensor t = tensor(idx, {3});
  EXPECT_TRUE(all_close(F::cross_entropy(logits, t, o), tensor(per, {3}, kFloat64), 1e-12, 1e-12));
  o.reduction = F::Reduction::Mean;
  EXPECT_NEAR(F::cross_entropy(logits, t, o).item<double>(), (per[0] + per[1] + per[2]) / 3, 1e-12);
  EXPECT_NEAR(F::cross_entropy(logits, one_hot(t, 4).to(kFloat64), o).item<double>(), (per[0] + per[1] + per[2]) / 3,
              1e-12);
  o.label_smoothing = 1.5;
  expect_error([&] { F::cross_entropy(logits, t, o); }, {"cross_entropy", "label_smoothing", "1.5"});
}

TEST(NnLoss, CrossEntropyIgnoreIndex) {
  const Tensor logits = tensor(kLogits, {3, 4}, kFloat64);
  const auto lp = log_softmax_rows(kLogits, 3, 4);
  const Tensor t = tensor(std::vector<int64_t>{1, -100, 0}, {3});
  F::CrossEntropyOptions o;
  o.reduction = F::Reduction::None;
  EXPECT_TRUE(
      all_close(F::cross_entropy(logits, t, o), tensor(Vec{-lp[0][1], 0.0, -lp[2][0]}, {3}, kFloat64), 1e-12, 1e-12));
  o.reduction = F::Reduction::Mean;  // the mean is over the non-ignored targets
  EXPECT_NEAR(F::cross_entropy(logits, t, o).item<double>(), (-lp[0][1] - lp[2][0]) / 2, 1e-12);
  o.reduction = F::Reduction::Sum;
  EXPECT_NEAR(F::cross_entropy(logits, t, o).item<double>(), -lp[0][1] - lp[2][0], 1e-12);
  // With smoothing, ignored rows contribute nothing either.
  o.reduction = F::Reduction::Mean;
  o.label_smoothing = 0.1;
  auto sm = [&](size_t i, size_t k) {
    double m = 0;
    for (size_t c = 0; c < 4; ++c) m += lp[i][c] / 4;
    return -0.9 * lp[i][k] - 0.1 * m;
  };
  EXPECT_NEAR(F::cross_entropy(logits, t, o).item<double>(), (sm(0, 1) + sm(2, 0)) / 2, 1e-12);
  // A custom ignore_index; the gradient of ignored rows is zero.
  o.label_smoothing = 0;
  o.ignore_index = 3;
  Tensor l = tensor(kLogits, {3, 4}, kFloat64).requires_grad_();
  F::cross_entropy(l, tensor(std::vector<int64_t>{3, 3, 2}, {3}), o).backward();
  const Vec g = vec(l.grad());
  for (size_t k = 0; k < 8; ++k) EXPECT_EQ(g[k], 0.0);
  EXPECT_NEAR(g[8 + 2], std::exp(lp[2][2]) - 1.0, 1e-12);
}

TEST(NnLoss, CrossEntropySpatial) {
  manual_seed(14);
  // logits [N, C, d1, d2] with targets [N, d1, d2] equal the flattened [N*d1*d2, C] problem.
  const Tensor logits = randn({2, 3, 2, 4}, kFloat64);
  const Tensor target = randint(0, 3, {2, 2, 4});
  const Tensor flat = permute(logits, {0, 2, 3, 1}).reshape({16, 3});
  F::CrossEntropyOptions o;
  o.reduction = F::Reduction::None;
  const Tensor per = F::cross_entropy(logits, target, o);
  EXPECT_EQ(per.shape(), (Shape{2, 2, 4}));
  EXPECT_TRUE(all_close(per.reshape({16}), F::cross_entropy(flat, target.reshape({16}), o), 1e-12, 1e-12));
  EXPECT_NEAR(F::cross_entropy(logits, target).item<double>(), mean(per).item<double>(), 1e-12);
  // Probability targets shaped like the logits.
  const Tensor probs = softmax(randn({2, 3, 2, 4}, kFloat64), 1);
  const Tensor pflat = permute(probs, {0, 2, 3, 1}).reshape({16, 3});
  const Tensor pper = F::cross_entropy(logits, probs, o);
  EXPECT_EQ(pper.shape(), (Shape{2, 2, 4}));
  EXPECT_TRUE(all_close(pper.reshape({16}), F::cross_entropy(flat, pflat, o), 1e-12, 1e-12));
  EXPECT_NEAR(F::cross_entropy(logits, probs).item<double>(), mean(pper).item<double>(), 1e-12);
  // [N, C, d] too.
  const Tensor l3 = randn({2, 3, 5}, kFloat64);
  EXPECT_EQ(F::cross_entropy(l3, randint(0, 3, {2, 5}), o).shape(), (Shape{2, 5}));
}

TEST(NnLoss, CrossEntropyErrors) {
  const Tensor logits = tensor(kLogits, {3, 4}, kFloat64);
  expect_error(
      [&] {
        F::cross_entropy(logits, tensor(std::vector<bool>{true, false, true}, {3}));
      },
      {"cross_entropy", "int64", "bool"});
  expect_error(
      [&] {
        F::cross_entropy(logits, tensor(std::vector<int64_t>{1, 4, 0}, {3}));
      },
      {"out of range", "[0, 4)", "[3, 4]"});
  expect_error([&] { F::cross_entropy(logits, tensor(std::vector<int64_t>{1, -1, 0}, {3})); }, {"out of range"});
  expect_error(
      [&] {
        F::cross_entropy(logits, tensor(std::vector<int64_t>{1, 2}, {2}));
      },
      {"cross_entropy", "[2]", "[3, 4]"});
  expect_error([&] { F::cross_entropy(logits, zeros({3, 3}, kFloat64)); }, {"cross_entropy", "[3, 3]", "[3, 4]"});
  expect_error([&] { F::cross_entropy(zeros({4}), tensor(std::vector<int64_t>{1}, {1})); }, {"cross_entropy", "[4]"});
}

TEST(NnLoss, NllLoss) {
  const Tensor lp = log(tensor(Vec{0.2, 0.3, 0.5, 0.6, 0.1, 0.3}, {2, 3}, kFloat64));
  const Tensor t = tensor(std::vector<int64_t>{2, 0}, {2});
  EXPECT_NEAR(F::nll_loss(lp, t).item<double>(), -(std::log(0.5) + std::log(0.6)) / 2, 1e-12);
  EXPECT_NEAR(F::nll_loss(lp, t, F::Reduction::Sum).item<double>(), -(std::log(0.5) + std::log(0.6)), 1e-12);
  EXPECT_TRUE(all_close(F::nll_loss(lp, t, F::Reduction::None),
                        tensor(Vec{-std::log(0.5), -std::log(0.6)}, {2}, kFloat64), 1e-12, 1e-12));
  EXPECT_NEAR(F::nll_loss(lp, tensor(std::vector<int64_t>{2, 1}, {2}), F::Reduction::Mean, 1).item<double>(),
              -std::log(0.5), 1e-12);
  expect_error([&] { F::nll_loss(lp, tensor(Vec{2, 0}, {2}, kFloat64)); }, {"nll_loss", "int64", "float64"});
  expect_error(
      [&] {
        F::nll_loss(lp, tensor(std::vector<int64_t>{3, 0}, {2}));
      },
      {"nll_loss", "out of range", "[2, 3]"});
  expect_error([&] { F::nll_loss(lp, tensor(std::vector<int64_t>{0, 0, 0}, {3})); }, {"nll_loss", "[3]", "[2, 3]"});
  expect_error([&] { F::nll_loss(zeros({6}, kFloat64), t); }, {"nll_loss", "[6]"});
  EXPECT_EQ(F::parse_reduction("sum"), F::Reduction::Sum);
  expect_error([] { F::parse_reduction("avg"); }, {"reduction", "avg"});
}

TEST(NnLoss, MseAndL1) {
  const Tensor a = tensor(Vec{1.0, -2.0, 3.0, 0.5}, {2, 2}, kFloat64);
  const Tensor b = tensor(Vec{0.0, 1.0, 3.5, 0.5}, {2, 2}, kFloat64);
  EXPECT_NEAR(F::mse_loss(a, b).item<double>(), (1 + 9 + 0.25 + 0) / 4, 1e-15);
  EXPECT_NEAR(F::mse_loss(a, b, F::Reduction::Sum).item<double>(), 10.25, 1e-15);
  EXPECT_EQ(vec(F::mse_loss(a, b, F::Reduction::None)), (Vec{1, 9, 0.25, 0}));
  EXPECT_NEAR(F::l1_loss(a, b).item<double>(), (1 + 3 + 0.5 + 0) / 4, 1e-15);
  EXPECT_NEAR(F::l1_loss(a, b, F::Reduction::Sum).item<double>(), 4.5, 1e-15);
  EXPECT_EQ(vec(F::l1_loss(a, b, F::Reduction::None)), (Vec{1, 3, 0.5, 0}));
  expect_error([&] { F::mse_loss(a, zeros({4}, kFloat64)); }, {"mse_loss", "[2, 2]", "[4]"});
  expect_error([&] { F::l1_loss(a, zeros({2, 3}, kFloat64)); }, {"l1_loss", "[2, 2]", "[2, 3]"});
}

TEST(NnLoss, BinaryCrossEntropyWithLogits) {
  const Vec xs{-2.0, -0.5, 0.0, 0.7, 3.0, 1.5};
  const Vec ys{0.0, 1.0, 0.5, 1.0, 0.0, 0.25};
  const Vec pw{2.0, 0.5, 1.0, 3.0, 1.0, 2.0};
  const Tensor x = tensor(xs, {2, 3}, kFloat64), y = tensor(ys, {2, 3}, kFloat64), w = tensor(pw, {2, 3}, kFloat64);
  Vec per(6), per_w(6);
  for (size_t i = 0; i < 6; ++i) {
    const double s = 1 / (1 + std::exp(-xs[i]));
    per[i] = -(ys[i] * std::log(s) + (1 - ys[i]) * std::log(1 - s));
    per_w[i] = -(pw[i] * ys[i] * std::log(s) + (1 - ys[i]) * std::log(1 - s));
  }
  EXPECT_TRUE(all_close(F::binary_cross_entropy_with_logits(x, y, F::Reduction::None), tensor(per, {2, 3}, kFloat64),
                        1e-12, 1e-12));
  double total = 0, total_w = 0;
  for (size_t i = 0; i < 6; ++i) total += per[i], total_w += per_w[i];
  EXPECT_NEAR(F::binary_cross_entropy_with_logits(x, y).item<double>(), total / 6, 1e-12);
  EXPECT_NEAR(F::binary_cross_entropy_with_logits(x, y, F::Reduction::Sum).item<double>(), total, 1e-12);
  EXPECT_NEAR(F::binary_cross_entropy_with_logits(x, y, F::Reduction::Sum, w).item<double>(), total_w, 1e-12);
  // pos_weight broadcasts per class.
  const Tensor pw_row = tensor(Vec{2.0, 0.5, 1.0}, {3}, kFloat64);
  Vec per_row(6);
  for (size_t i = 0; i < 6; ++i) {
    const double s = 1 / (1 + std::exp(-xs[i]));
    per_row[i] = -(std::vector<double>{2.0, 0.5, 1.0}[i % 3] * ys[i] * std::log(s) + (1 - ys[i]) * std::log(1 - s));
  }
  EXPECT_TRUE(all_close(F::binary_cross_entropy_with_logits(x, y, F::Reduction::None, pw_row),
                        tensor(per_row, {2, 3}, kFloat64), 1e-12, 1e-12));
  // Stable at extreme logits, in float32 too: finite values and gradients sigmoid(x) - y.
  for (DType dt : {kFloat64, kFloat32}) {
    Tensor big = tensor(Vec{100.0, 100.0, -100.0, -100.0}, {4}, kFloat64).to(dt).requires_grad_();
    const Tensor t = tensor(Vec{1.0, 0.0, 1.0, 0.0}, {4}, kFloat64).to(dt);
    const Tensor l = F::binary_cross_entropy_with_logits(big, t, F::Reduction::None);
    const Vec lv = vec(l);
    EXPECT_NEAR(lv[0], 0.0, 1e-30);
    EXPECT_NEAR(lv[1], 100.0, 1e-4);
    EXPECT_NEAR(lv[2], 100.0, 1e-4);
    EXPECT_NEAR(lv[3], 0.0, 1e-30);
    sum(l).backward();
    const Vec g = vec(big.grad());
    EXPECT_NEAR(g[0], 0.0, 1e-12);
    EXPECT_NEAR(g[1], 1.0, 1e-6);
    EXPECT_NEAR(g[2], -1.0, 1e-6);
    EXPECT_NEAR(g[3], 0.0, 1e-12);
  }
  expect_error([&] { F::binary_cross_entropy_with_logits(x, zeros({6}, kFloat64)); },
               {"binary_cross_entropy_with_logits", "[2, 3]", "[6]"});
}

}  // namespace
