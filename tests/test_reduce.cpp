// Tests for reductions, softmax and the boolean queries (ops/reduce.cpp, ops/cpu/reduce.cpp): values against
// hand-computed results and loop references, dims/keepdim handling, non-contiguous inputs, dtypes, NaN, stability,
// error messages, and gradients (float64 gradcheck / gradgradcheck).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/gradcheck.h"

namespace {

using tangent::DType;
using tangent::kBFloat16;
using tangent::kBool;
using tangent::kFloat16;
using tangent::kFloat32;
using tangent::kFloat64;
using tangent::kInt64;
using tangent::Shape;
using tangent::Tensor;
namespace tg = tangent;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Tensor f64(const std::vector<double>& v, const Shape& s) { return tg::tensor(v, s); }
Tensor f32(const std::vector<float>& v, const Shape& s) { return tg::tensor(v, s); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return tg::tensor(v, s); }
std::vector<double> vals(const Tensor& t) { return tg::to_vector<double>(t); }

void expect_near_vec(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at element " << i;
}

// Reference sum over `dims` by explicit index arithmetic on the row-major values of x, in keepdim layout order.
std::vector<double> reference_sum(const Tensor& x, const std::vector<int64_t>& dims) {
  const std::vector<double> v = vals(x);
  const Shape s = x.shape();
  Shape ks = s;
  for (int64_t d : dims) ks[static_cast<size_t>(d)] = 1;
  std::vector<double> out(static_cast<size_t>(ks.numel()), 0.0);
  const Shape kst = tg::contiguous_strides(ks);
  for (int64_t flat = 0; flat < s.numel(); ++flat) {
    int64_t rem = flat, o = 0;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t idx = rem % s[d];
      rem /= s[d];
      if (ks[d] != 1) o += idx * kst[d];
    }
    out[static_cast<size_t>(o)] += v[static_cast<size_t>(flat)];
  }
  return out;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tg::Error& e) {
    return e.what();
  }
  return "<no error>";
}

Tensor req(Tensor t) {
  t.requires_grad_(true);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------

TEST(ReduceSum, HandComputedValues) {
  const Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(x.sum().item<double>(), 21.0);
  EXPECT_EQ(x.sum().dim(), 0);
  expect_near_vec(vals(tg::sum(x, {0})), {5, 7, 9}, 0);
  expect_near_vec(vals(tg::sum(x, {1})), {6, 15}, 0);
  const Tensor k = tg::sum(x, {-1}, true);
  EXPECT_EQ(k.shape(), (Shape{2, 1}));
  expect_near_vec(vals(k), {6, 15}, 0);
  EXPECT_EQ(tg::sum(x, {0, 1}).shape(), (Shape{}));
  EXPECT_EQ(tg::sum(x, {0, 1}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(tg::sum(x, {1}).dtype(), kFloat32);
}

TEST(ReduceSum, MultipleAndNegativeDims) {
  const Tensor x = tg::arange(0, 24, 1, kFloat64).reshape({2, 3, 4});
  const Tensor a = tg::sum(x, {0, 2});
  EXPECT_EQ(a.shape(), (Shape{3}));
  // Output j sums 12 i + 4 j + k over i in {0, 1}, k in {0..3}: 48 + 32 j + 12 = 60, 92, 124.
  expect_near_vec(vals(a), {60, 92, 124}, 0);
  expect_near_vec(vals(tg::sum(x, {2, 0})), {60, 92, 124}, 0);
  expect_near_vec(vals(tg::sum(x, {-1, -3})), {60, 92, 124}, 0);
  EXPECT_EQ(tg::sum(x, {0, 2}, true).shape(), (Shape{1, 3, 1}));
  expect_near_vec(vals(tg::sum(x, {1})), reference_sum(x, {1}), 0);
  expect_near_vec(vals(tg::sum(x, {0, 1})), reference_sum(x, {0, 1}), 0);
  expect_near_vec(vals(x.sum({1, 2}, true)), reference_sum(x, {1, 2}), 0);
  // A 0-dim tensor sums to itself, and accepts dim 0 / -1.
  const Tensor s = tg::scalar_tensor(2.5, kFloat64);
  EXPECT_EQ(tg::sum(s).item<double>(), 2.5);
  EXPECT_EQ(tg::sum(s, {-1}).item<double>(), 2.5);
}

TEST(ReduceSum, NonContiguousInputs) {
  tg::manual_seed(1);
  const Tensor base = tg::randn({6, 8}, kFloat64);
  const Tensor t = base.t();  // [8, 6], strides (1, 8)
  ASSERT_FALSE(t.is_contiguous());
  expect_near_vec(vals(tg::sum(t, {0})), reference_sum(t, {0}), 1e-12);
  expect_near_vec(vals(tg::sum(t, {1})), reference_sum(t, {1}), 1e-12);
  const Tensor sl = base.slice(1, 0, 8, 3);  // [6, 3] with stride 3 on the last dim
  expect_near_vec(vals(tg::sum(sl, {1})), reference_sum(sl, {1}), 1e-12);
  expect_near_vec(vals(tg::sum(sl, {0})), reference_sum(sl, {0}), 1e-12);
  // An expanded (stride 0) input.
  const Tensor e = f64({1, 2, 3}, {3, 1}).expand({3, 4});
  expect_near_vec(vals(tg::sum(e, {1})), {4, 8, 12}, 0);
  expect_near_vec(vals(tg::sum(e, {0})), {6, 6, 6, 6}, 0);
}

TEST(ReduceSum, LeadingDimAndLargeShapesMatchReference) {
  tg::manual_seed(2);
  // Each shape/dims pair exercises a different kernel path: columns (leading dim), inner runs, chunked.
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1000, 37}, {0}},  {{37, 1000}, {1}},      {{3, 500, 7}, {0, 2}}, {{64, 70}, {0}},   {{100000, 3}, {0}},
      {{3, 100000}, {1}}, {{5, 6, 7, 8}, {1, 3}}, {{200, 300}, {0, 1}},  {{40000, 2}, {1}}, {{2, 3, 40000}, {0, 1}},
  };
  for (const auto& c : cases) {
    const Tensor x = tg::randn(c.first, kFloat64);
    Shape dims(c.second);
    expect_near_vec(vals(tg::sum(x, dims, true)), reference_sum(x, c.second), 1e-9);
    const Tensor xf = x.to(kFloat32);
    expect_near_vec(vals(tg::sum(xf, dims, true)), reference_sum(x, c.second), 1e-3);
  }
}

TEST(ReduceSum, StridedCopiesReduceToIdenticalValues) {
  // The kernels do the same arithmetic for any strides, so a strided copy gives bit-identical results.
  tg::manual_seed(7);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    const Tensor x = tg::randn({37, 300}, kFloat64).to(dt);
    const Tensor nc = tg::testing::make_noncontiguous(x);
    ASSERT_FALSE(nc.is_contiguous());
    for (const Shape& dims : {Shape{0}, Shape{1}, Shape{}}) {
      EXPECT_EQ(vals(tg::sum(x, dims)), vals(tg::sum(nc, dims))) << dt;
      EXPECT_EQ(vals(tg::amax(x, dims)), vals(tg::amax(nc, dims))) << dt;
      EXPECT_EQ(vals(tg::prod(x, dims)), vals(tg::prod(nc, dims))) << dt;
    }
  }
}

TEST(ReduceSum, Float32SumsAreAccurate) {
  // Naive float32 accumulation of 4M copies of 0.1f drifts by thousands; a double/blocked accumulation does not.
  const Tensor x = tg::full({4000000}, 0.1f);
  EXPECT_NEAR(x.sum().item<double>(), 4000000 * static_cast<double>(0.1f), 0.05);
  const Tensor y = tg::full({4000, 1000}, 0.1f);
  expect_near_vec(vals(tg::sum(y, {0})), std::vector<double>(1000, 4000 * static_cast<double>(0.1f)), 1e-3);
}

TEST(ReduceSum, SameResultForAnyThreadCount) {
  tg::manual_seed(3);
  const Tensor x = tg::randn({1 << 20}, kFloat32);
  const Tensor y = tg::randn({4096, 96}, kFloat32);
  const int prev = tg::get_num_threads();
  tg::set_num_threads(1);
  const double a = x.sum().item<double>();
  const std::vector<double> ya = vals(tg::sum(y, {0}));
  tg::set_num_threads(4);
  const double b = x.sum().item<double>();
  const std::vector<double> yb = vals(tg::sum(y, {0}));
  tg::set_num_threads(prev);
  EXPECT_EQ(a, b);
  EXPECT_EQ(ya, yb);
}

TEST(ReduceSum, IntegerAndBoolInputsSumToInt64) {
  const Tensor x = i64({4000000000LL, 5000000000LL, 1, -2}, {2, 2});
  const Tensor s = x.sum();
  EXPECT_EQ(s.dtype(), kInt64);
  EXPECT_EQ(s.item<int64_t>(), 8999999999LL);
  EXPECT_EQ(tg::to_vector<int64_t>(tg::sum(x, {1})), (std::vector<int64_t>{9000000000LL, -1}));
  const Tensor b = tg::tensor(std::vector<bool>{true, false, true, true}, {4});
  EXPECT_EQ(b.sum().dtype(), kInt64);
  EXPECT_EQ(b.sum().item<int64_t>(), 3);
  // An explicit dtype.
  const Tensor f = f32({1, 2, 3}, {3});
  const Tensor d = tg::sum(f, {}, false, kFloat64);
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_EQ(d.item<double>(), 6.0);
}

TEST(ReduceSum, HalfPrecisionAccumulatesInFloat) {
  const Tensor x = tg::full({3000}, 0.1f).to(kFloat16);
  EXPECT_NEAR(x.sum().to(kFloat32).item<double>(), 3000 * 0.0999755859375, 2.0);  // half(0.1) = 0.0999755859375
  const Tensor b = tg::full({1000}, 1.0f).to(kBFloat16);
  EXPECT_EQ(b.sum().item<double>(), 1000.0);  // a bf16 running sum would stall at 256
}

TEST(ReduceSum, EmptyReductions) {
  const Tensor z = tg::zeros({0, 3});
  const Tensor s = tg::sum(z, {0});
  EXPECT_EQ(s.shape(), (Shape{3}));
  expect_near_vec(vals(s), {0, 0, 0}, 0);
  expect_near_vec(vals(tg::prod(z, {0})), {1, 1, 1}, 0);
  EXPECT_EQ(tg::sum(z, {1}).shape(), (Shape{0}));
  EXPECT_EQ(tg::amax(z, {1}).shape(), (Shape{0}));
  const std::string m = message_of([&] { tg::amax(z, {0}); });
  EXPECT_NE(m.find("amax"), std::string::npos) << m;
  EXPECT_NE(m.find("[0, 3]"), std::string::npos) << m;
  EXPECT_THROW(tg::max(z), tg::Error);
  EXPECT_THROW(tg::argmax(z), tg::Error);
  EXPECT_TRUE(std::isnan(tg::mean(z).item<double>()));
}

TEST(ReduceSum, Errors) {
  const Tensor x = tg::zeros({2, 3});
  const std::string range = message_of([&] { tg::sum(x, {2}); });
  EXPECT_NE(range.find("sum"), std::string::npos) << range;
  EXPECT_NE(range.find("out of range"), std::string::npos) << range;
  const std::string rep = message_of([&] { tg::sum(x, {1, -1}); });
  EXPECT_NE(rep.find("sum"), std::string::npos) << rep;
  EXPECT_NE(rep.find("more than once"), std::string::npos) << rep;
  EXPECT_NE(rep.find("[2, 3]"), std::string::npos) << rep;
  EXPECT_THROW(tg::sum(Tensor()), tg::Error);
  const std::string mi = message_of([] { tg::mean(tg::tensor(std::vector<int64_t>{1, 2}, {2})); });
  EXPECT_NE(mi.find("mean"), std::string::npos) << mi;
  EXPECT_NE(mi.find("int64"), std::string::npos) << mi;
  EXPECT_THROW(tg::amax(x, {-3}), tg::Error);
  EXPECT_THROW(tg::argmax(x, 2), tg::Error);
  EXPECT_THROW(tg::softmax(x, 5), tg::Error);
  EXPECT_THROW(tg::softmax(i64({1, 2}, {2}), 0), tg::Error);
}

// ---- mean, var, std, prod ----

TEST(ReduceMean, ValuesAndKeepdim) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_DOUBLE_EQ(x.mean().item<double>(), 3.5);
  expect_near_vec(vals(tg::mean(x, {0})), {2.5, 3.5, 4.5}, 1e-15);
  const Tensor m = x.mean({1}, true);
  EXPECT_EQ(m.shape(), (Shape{2, 1}));
  expect_near_vec(vals(m), {2, 5}, 1e-15);
  EXPECT_NEAR(tg::mean(x.to(kFloat16)).to(kFloat32).item<double>(), 3.5, 1e-3);
}

TEST(ReduceVar, UnbiasedBiasedAndStd) {
  const Tensor x = f64({1, 2, 3, 4}, {4});
  EXPECT_NEAR(tg::var(x).item<double>(), 5.0 / 3.0, 1e-14);
  EXPECT_NEAR(tg::var(x, {}, 0).item<double>(), 1.25, 1e-14);
  EXPECT_NEAR(tg::std(x).item<double>(), std::sqrt(5.0 / 3.0), 1e-14);
  const Tensor y = f64({1, 2, 3, 4, 6, 8}, {2, 3});
  expect_near_vec(vals(tg::var(y, {1})), {1.0, 4.0}, 1e-14);
  const Tensor v = tg::var(y, {0}, 1, true);
  EXPECT_EQ(v.shape(), (Shape{1, 3}));
  expect_near_vec(vals(v), {4.5, 8.0, 12.5}, 1e-14);
  // Numerically stable for a large offset (two-pass).
  const Tensor big = f64({1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4}, {4});
  EXPECT_NEAR(tg::var(big).item<double>(), 5.0 / 3.0, 1e-6);
  // One element with correction 1: NaN as in PyTorch.
  EXPECT_TRUE(std::isnan(tg::var(f64({3}, {1})).item<double>()));
}

TEST(ReduceProd, Values) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_near_vec(vals(tg::prod(x, {1})), {6, 120}, 0);
  expect_near_vec(vals(tg::prod(x, {0})), {4, 10, 18}, 0);
  EXPECT_EQ(tg::prod(x).item<double>(), 720.0);
  const Tensor i = i64({2, 3, 7}, {3});
  EXPECT_EQ(tg::prod(i).dtype(), kInt64);
  EXPECT_EQ(tg::prod(i).item<int64_t>(), 42);
}

TEST(ReduceProd, GradientWithZeros) {
  // d prod / d x_i is the product of the others, also when x has zeros.
  Tensor x = req(f64({2, 0, 3, 0, 0, 5, 1, 2, 4}, {3, 3}));
  tg::prod(x, {1}).sum().backward();
  // row 0 (one zero): [0, 6, 0]; row 1 (two zeros): [0, 0, 0]; row 2 (no zero): [8, 4, 2]
  expect_near_vec(vals(x.grad()), {0, 6, 0, 0, 0, 0, 8, 4, 2}, 1e-14);
  EXPECT_TRUE(tg::testing::gradcheck([](const std::vector<Tensor>& v) { return tg::prod(v[0], {1}); },
                                     {req(f64({2, 0, 3, 1.5, 2, 4}, {2, 3}))}));
}

// ---- max, min, arg ----

TEST(ReduceMax, ValuesIndicesAndTies) {
  const Tensor x = f64({3, 7, 7, 1, -2, 5, 5, 0}, {2, 4});
  expect_near_vec(vals(tg::amax(x, {1})), {7, 5}, 0);
  expect_near_vec(vals(tg::amin(x, {1})), {1, -2}, 0);
  expect_near_vec(vals(tg::amax(x, {0})), {3, 7, 7, 1}, 0);
  EXPECT_EQ(tg::max(x).item<double>(), 7.0);
  EXPECT_EQ(tg::min(x).item<double>(), -2.0);
  auto [v, i] = tg::max(x, 1);
  expect_near_vec(vals(v), {7, 5}, 0);
  EXPECT_EQ(tg::to_vector<int64_t>(i), (std::vector<int64_t>{1, 1}));  // first of the tied maxima
  auto [vn, in] = tg::min(x, -1, true);
  EXPECT_EQ(vn.shape(), (Shape{2, 1}));
  EXPECT_EQ(tg::to_vector<int64_t>(in), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmax(x, 0)), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmin(x, 0)), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(tg::argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(x.argmax(1, true).shape(), (Shape{2, 1}));
  // int64 and non-contiguous inputs.
  const Tensor n = i64({4, -1, 9, 2, 9, 0}, {2, 3});
  EXPECT_EQ(tg::amax(n).item<int64_t>(), 9);
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmax(n.t(), 1)), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmax(n, 0)), (std::vector<int64_t>{0, 1, 0}));
}

TEST(ReduceMax, ArgReduceMatchesReferenceOnLargerShapes) {
  tg::manual_seed(4);
  const Tensor x = tg::randn({7, 300, 5}, kFloat64);
  const std::vector<double> v = vals(x);
  for (int64_t dim = 0; dim < 3; ++dim) {
    const Tensor idx = tg::argmax(x, dim);
    const Tensor val = std::get<0>(tg::max(x, dim));
    const std::vector<int64_t> got = tg::to_vector<int64_t>(idx);
    const std::vector<double> gv = vals(val);
    const Shape s = x.shape();
    Shape ks = s;
    ks[static_cast<size_t>(dim)] = 1;
    for (int64_t o = 0; o < ks.numel(); ++o) {
      int64_t a = o / (ks[1] * ks[2]), b = (o / ks[2]) % ks[1], c = o % ks[2];
      int64_t best = 0;
      double bv = -kInf;
      for (int64_t r = 0; r < s[static_cast<size_t>(dim)]; ++r) {
        int64_t idx3[3] = {a, b, c};
        idx3[dim] = r;
        const double e = v[static_cast<size_t>((idx3[0] * s[1] + idx3[1]) * s[2] + idx3[2])];
        if (e > bv) {
          bv = e;
          best = r;
        }
      }
      ASSERT_EQ(got[static_cast<size_t>(o)], best) << "dim " << dim << " output " << o;
      ASSERT_EQ(gv[static_cast<size_t>(o)], bv);
    }
  }
}

TEST(ReduceMax, NaNPropagates) {
  const Tensor x = f64({1, kNaN, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(std::isnan(tg::max(x).item<double>()));
  EXPECT_TRUE(std::isnan(tg::min(x).item<double>()));
  const std::vector<double> r = vals(tg::amax(x, {1}));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 6.0);
  const std::vector<double> c = vals(tg::amin(x, {0}));
  EXPECT_EQ(c[0], 1.0);
  EXPECT_TRUE(std::isnan(c[1]));
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmax(x, 1)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(tg::to_vector<int64_t>(tg::argmin(x, 1)), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(tg::argmax(x).item<int64_t>(), 1);
  // Also through the vectorised lanes and the chunked path, in float32.
  Tensor big = tg::zeros({100000});
  big.narrow(0, 77777, 1).fill_(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(tg::amax(big).item<double>()));
  EXPECT_TRUE(std::isnan(tg::amin(big).item<double>()));
  EXPECT_TRUE(std::isnan(big.sum().item<double>()));
  EXPECT_EQ(tg::argmax(big).item<int64_t>(), 77777);
}

TEST(ReduceMax, GradientSplitsAmongTies) {
  Tensor x = req(f64({1, 3, 3, 2}, {4}));
  tg::amax(x, {0}).backward();
  expect_near_vec(vals(x.grad()), {0, 0.5, 0.5, 0}, 1e-15);
  Tensor y = req(f64({5, 1, 5, 2, 0, 2}, {2, 3}));
  std::get<0>(tg::max(y, 1)).sum().backward();
  expect_near_vec(vals(y.grad()), {0.5, 0, 0.5, 0.5, 0, 0.5}, 1e-15);
}

// ---- softmax, logsumexp ----

TEST(ReduceSoftmax, RowsSumToOneAndMatchHandValues) {
  const Tensor x = f64({1, 2, 3, 1, 1, 1}, {2, 3});
  const Tensor y = tg::softmax(x, 1);
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
  expect_near_vec(vals(y), {e1 / s, e2 / s, e3 / s, 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-15);
  const Tensor ls = tg::log_softmax(x, -1);
  expect_near_vec(vals(ls),
                  {1 - std::log(s), 2 - std::log(s), 3 - std::log(s), -std::log(3.0), -std::log(3.0), -std::log(3.0)},
                  1e-14);
}

TEST(ReduceSoftmax, StableForLargeLogits) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = f64({1000, 1001, 1002, -1000, 0, 1000}, {2, 3}).to(dt);
    const std::vector<double> y = vals(tg::softmax(x, 1));
    const double s = 1 + std::exp(1.0) + std::exp(2.0);
    expect_near_vec(y, {1 / s, std::exp(1.0) / s, std::exp(2.0) / s, 0, 0, 1}, 1e-6);
    const std::vector<double> l = vals(tg::log_softmax(x, 1));
    EXPECT_NEAR(l[0], -std::log(s), 1e-4);
    EXPECT_NEAR(l[3], -2000.0, 1e-2);
    for (double v : l) EXPECT_TRUE(std::isfinite(v));
  }
  // Masked (-inf) logits get probability 0.
  const std::vector<double> m = vals(tg::softmax(f32({0, -std::numeric_limits<float>::infinity(), 0}, {3}), 0));
  expect_near_vec(m, {0.5, 0, 0.5}, 1e-7);
}

TEST(ReduceSoftmax, AnyDimNonContiguousAndFloat32Accuracy) {
  tg::manual_seed(5);
  const Tensor x = tg::mul(tg::randn({6, 50, 9}, kFloat64), 4.0);
  for (int64_t dim = 0; dim < 3; ++dim) {
    const Tensor y = tg::softmax(x, dim);
    expect_near_vec(vals(tg::sum(y, {dim})), std::vector<double>(static_cast<size_t>(y.numel() / x.size(dim)), 1.0),
                    1e-12);
    // log_softmax agrees with log(softmax), and float32 agrees with float64.
    expect_near_vec(vals(tg::log_softmax(x, dim)), vals(tg::log(y)), 1e-12);
    expect_near_vec(vals(tg::softmax(x.to(kFloat32), dim)), vals(y), 2e-7);
    expect_near_vec(vals(tg::log_softmax(x.to(kFloat32), dim)), vals(tg::log(y)), 1e-5);
    // A transposed (non-contiguous) input gives the transposed result.
    const Tensor xt = x.transpose(0, 2);
    const int64_t tdim = dim == 0 ? 2 : dim == 2 ? 0 : 1;
    expect_near_vec(vals(tg::softmax(xt, tdim).contiguous()), vals(y.transpose(0, 2).contiguous()), 1e-15);
  }
  // Half precision computes in float.
  const Tensor h = tg::softmax(x.to(kBFloat16), 1);
  EXPECT_EQ(h.dtype(), kBFloat16);
  expect_near_vec(vals(h), vals(tg::softmax(x.to(kBFloat16).to(kFloat64), 1)), 1e-2);
}

TEST(ReduceLogsumexp, MatchesNaiveAndIsStable) {
  const Tensor x = f64({0.5, -1, 2, 0, 3, 1}, {2, 3});
  const Tensor naive = tg::log(tg::sum(tg::exp(x), {1}));
  expect_near_vec(vals(tg::logsumexp(x, {1})), vals(naive), 1e-14);
  expect_near_vec(vals(tg::logsumexp(x, {0, 1}, true)), {std::log(vals(tg::exp(x).sum())[0])}, 1e-14);
  EXPECT_EQ(tg::logsumexp(x, {0}, true).shape(), (Shape{1, 3}));
  const Tensor big = f64({1000, 1000, 1000}, {3});
  EXPECT_NEAR(tg::logsumexp(big, {0}).item<double>(), 1000 + std::log(3.0), 1e-10);
  const Tensor ninf = f64({-kInf, -kInf}, {2});
  EXPECT_EQ(tg::logsumexp(ninf, {0}).item<double>(), -kInf);
  EXPECT_EQ(tg::logsumexp(f64({kInf, 1}, {2}), {0}).item<double>(), kInf);
}

// ---- norm ----

TEST(ReduceNorm, Values) {
  const Tensor x = f64({3, -4, 0, 12}, {2, 2});
  EXPECT_DOUBLE_EQ(tg::norm(f64({3, -4}, {2})).item<double>(), 5.0);
  expect_near_vec(vals(tg::norm(x, 2, {1})), {5, 12}, 1e-15);
  expect_near_vec(vals(tg::norm(x, 1, {1})), {7, 12}, 1e-15);
  expect_near_vec(vals(tg::norm(x, kInf, {1})), {4, 12}, 0);
  expect_near_vec(vals(tg::norm(x, -kInf, {1})), {3, 0}, 0);
  expect_near_vec(vals(tg::norm(x, 0, {1})), {2, 1}, 0);
  expect_near_vec(vals(tg::norm(x, 3, {0}, true)), {std::cbrt(27.0), std::cbrt(64.0 + 1728.0)}, 1e-12);
  // The p=2 gradient at an all-zero slice is 0, not NaN.
  Tensor z = req(tg::zeros({2, 2}, kFloat64));
  tg::norm(z, 2, {1}).sum().backward();
  expect_near_vec(vals(z.grad()), {0, 0, 0, 0}, 0);
  EXPECT_THROW(tg::norm(i64({1, 2}, {2})), tg::Error);
}

// ---- sum_to ----

TEST(ReduceSumTo, ReversesBroadcasting) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(tg::sum_to(x, {2, 3}).is_same(x));
  expect_near_vec(vals(tg::sum_to(x, {3})), {5, 7, 9}, 0);
  EXPECT_EQ(tg::sum_to(x, {1, 3}).shape(), (Shape{1, 3}));
  expect_near_vec(vals(tg::sum_to(x, {2, 1})), {6, 15}, 0);
  EXPECT_EQ(tg::sum_to(x, {}).item<double>(), 21.0);
  expect_near_vec(vals(tg::sum_to(tg::ones({4, 2, 3}, kFloat64), {2, 1})), {12, 12}, 0);
  const std::string m = message_of([&] { tg::sum_to(x, {4}); });
  EXPECT_NE(m.find("sum_to"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  EXPECT_THROW(tg::sum_to(x, {1, 2, 3}), tg::Error);
  // Broadcasting backward goes through sum_to: d(a + b)/db for b [3] sums over rows.
  Tensor b = req(f64({0, 0, 0}, {3}));
  tg::add(x, b).sum().backward();
  expect_near_vec(vals(b.grad()), {2, 2, 2}, 0);
}

// ---- boolean queries ----

TEST(ReduceQueries, AllcloseEqualIsnanAnyAll) {
  const Tensor a = f64({1, 2, kInf}, {3});
  EXPECT_TRUE(tg::allclose(a, f64({1 + 1e-9, 2, kInf}, {3})));
  EXPECT_FALSE(tg::allclose(a, f64({1.01, 2, kInf}, {3})));
  EXPECT_FALSE(tg::allclose(a, f64({1, 2, -kInf}, {3})));
  EXPECT_TRUE(tg::allclose(a, f64({1.01, 2, kInf}, {3}), 0.1));
  EXPECT_TRUE(tg::allclose(f32({1, 2}, {2}), f64({1, 2}, {2})));
  const Tensor n = f64({1, kNaN}, {2});
  EXPECT_FALSE(tg::allclose(n, n));
  EXPECT_TRUE(tg::allclose(n, n, 1e-5, 1e-8, true));
  EXPECT_THROW(tg::allclose(a, f64({1, 2}, {2})), tg::Error);

  EXPECT_TRUE(tg::equal(a, f64({1, 2, kInf}, {3})));
  EXPECT_FALSE(tg::equal(a, f64({1, 2, 3}, {3})));
  EXPECT_FALSE(tg::equal(a, f64({1, 2, kInf}, {3, 1})));
  EXPECT_FALSE(tg::equal(n, n));

  const Tensor m = tg::isnan(f64({kNaN, 0, kInf}, {3}));
  EXPECT_EQ(m.dtype(), kBool);
  EXPECT_EQ(tg::to_vector<bool>(m), (std::vector<bool>{true, false, false}));
  EXPECT_FALSE(tg::any(tg::isnan(i64({1, 2}, {2}))));

  EXPECT_TRUE(tg::any(f64({0, 0, 2}, {3})));
  EXPECT_FALSE(tg::any(f64({0, 0, 0}, {3})));
  EXPECT_TRUE(tg::all(f64({1, -1, 2}, {3})));
  EXPECT_FALSE(tg::all(i64({1, 0, 2}, {3})));
  EXPECT_TRUE(tg::all(tg::tensor(std::vector<bool>{true, true}, {2})));
  EXPECT_FALSE(tg::any(tg::zeros({0})));
  EXPECT_TRUE(tg::all(tg::zeros({0})));
}

// ---- gradients (the op table repeats these with non-contiguous inputs) ----

using Inputs = std::vector<Tensor>;

TEST(ReduceGrad, Gradcheck) {
  tg::manual_seed(6);
  const Tensor x = req(tg::randn({3, 4}, kFloat64));
  const Tensor x3 = req(tg::randn({2, 3, 4}, kFloat64));
  const Tensor pos = req(tg::add(tg::rand({3, 4}, kFloat64), 0.5));
  const std::vector<std::pair<std::string, std::function<Tensor(const Inputs&)>>> fns = {
      {"sum", [](const Inputs& v) { return tg::sum(v[0]); }},
      {"sum dims",
       [](const Inputs& v) {
         return tg::sum(v[0], {0, -1}, true);
       }},
      {"mean", [](const Inputs& v) { return tg::mean(v[0], {1}); }},
      {"var", [](const Inputs& v) { return tg::var(v[0], {1}); }},
      {"std", [](const Inputs& v) { return tg::std(v[0], {0}, 0, true); }},
      {"logsumexp", [](const Inputs& v) { return tg::logsumexp(v[0], {1}); }},
      {"softmax", [](const Inputs& v) { return tg::softmax(v[0], 0); }},
      {"log_softmax", [](const Inputs& v) { return tg::log_softmax(v[0], 1); }},
      {"norm2", [](const Inputs& v) { return tg::norm(v[0], 2, {1}); }},
      {"norm1", [](const Inputs& v) { return tg::norm(v[0], 1, {0}); }},
  };
  for (const auto& [name, fn] : fns) {
    EXPECT_TRUE(tg::testing::gradcheck(fn, {x})) << name;
    EXPECT_TRUE(tg::testing::gradgradcheck(fn, {x})) << name;
  }
  EXPECT_TRUE(tg::testing::gradcheck([](const Inputs& v) { return tg::sum(v[0], {0, 2}); }, {x3}));
  EXPECT_TRUE(tg::testing::gradcheck([](const Inputs& v) { return tg::var(v[0], {0, 2}, 1, true); }, {x3}));
  EXPECT_TRUE(tg::testing::gradcheck([](const Inputs& v) { return tg::prod(v[0], {1}); }, {pos}));
  EXPECT_TRUE(tg::testing::gradgradcheck([](const Inputs& v) { return tg::prod(v[0], {1}); }, {pos}));
  EXPECT_TRUE(tg::testing::gradcheck([](const Inputs& v) { return tg::norm(v[0], 3.0, {1}); }, {pos}));
}

TEST(ReduceGrad, GradcheckExtremes) {
  // Inputs without ties, so max is differentiable.
  const Tensor x = req(f64({0.1, 2.3, -1.2, 0.7, 3.1, -0.4, 1.9, 0.2, -2.5, 1.1, 0.6, 2.8}, {3, 4}));
  const std::vector<std::function<Tensor(const Inputs&)>> fns = {
      [](const Inputs& v) { return tg::amax(v[0], {1}); },
      [](const Inputs& v) { return tg::amin(v[0], {0}, true); },
      [](const Inputs& v) { return tg::max(v[0]); },
      [](const Inputs& v) { return std::get<0>(tg::max(v[0], 0)); },
      [](const Inputs& v) { return std::get<0>(tg::min(v[0], 1, true)); },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    EXPECT_TRUE(tg::testing::gradcheck(fns[i], {x})) << "function " << i;
    EXPECT_TRUE(tg::testing::gradgradcheck(fns[i], {x})) << "function " << i;
  }
}

}  // namespace
