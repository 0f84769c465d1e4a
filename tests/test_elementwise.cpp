// Elementwise suite: binary forward values against std:: math, broadcasting and its errors, type promotion,
// 16-bit arithmetic, in-place variants and version counters, where / masked_fill, clamp, comparisons and logic, and
// NaN behaviour. (Unary values in every floating dtype, across each function's domain, and the gradients of all
// these ops are checked by the op table: tests/op_rows/elementwise_rows.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include <tangent/tangent.h>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::error_message;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tolerance of a dtype's computation relative to a float64 reference (16-bit types round the input too).
double tol_for(DType dt) {
  switch (dt) {
    case kFloat64:
      return 1e-12;
    case kFloat32:
      return 2e-6;
    case kFloat16:
      return 2e-3;
    default:
      return 1.6e-2;
  }
}

}  // namespace

// ---------------------------------------------------------------- forward values
TEST(ElementwiseValues, BinaryMatchesStdMath) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> op;
    std::function<double(double, double)> ref;
  };
  const std::vector<Case> cases = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double a, double b) { return a + b; }},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, -2); },
       [](double a, double b) { return a - 2 * b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double a, double b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(abs(a), b); },
       [](double a, double b) { return std::pow(std::abs(a), b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](double a, double b) { return std::max(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](double a, double b) { return std::min(a, b); }},
  };
  manual_seed(21);
  const Tensor a = randn({5, 7}, kFloat64);
  const Tensor b = add(rand({5, 7}, kFloat64), 0.5);
  for (const auto& c : cases) {
    for (DType dt : {kFloat64, kFloat32}) {
      SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dt));
      const Tensor x = a.to(dt), y = b.to(dt);
      const Tensor out = c.op(x, y);
      ASSERT_EQ(out.dtype(), dt);
      const std::vector<double> xv = to_vector<double>(x), yv = to_vector<double>(y), ov = to_vector<double>(out);
      for (size_t i = 0; i < xv.size(); ++i) {
        const double r = c.ref(xv[i], yv[i]);
        ASSERT_NEAR(ov[i], r, tol_for(dt) * std::max(1.0, std::abs(r)));
      }
    }
  }
}

TEST(ElementwiseValues, IntegerArithmetic) {
  const Tensor a = tensor(std::vector<int64_t>{7, -7, 3, 0});
  const Tensor b = tensor(std::vector<int64_t>{2, 2, -4, 5});
  EXPECT_EQ(to_vector<int64_t>(a + b), (std::vector<int64_t>{9, -5, -1, 5}));
  EXPECT_EQ(to_vector<int64_t>(a - b), (std::vector<int64_t>{5, -9, 7, -5}));
  EXPECT_EQ(to_vector<int64_t>(a * b), (std::vector<int64_t>{14, -14, -12, 0}));
  EXPECT_EQ(to_vector<int64_t>(neg(a)), (std::vector<int64_t>{-7, 7, -3, 0}));
  EXPECT_EQ(to_vector<int64_t>(abs(a)), (std::vector<int64_t>{7, 7, 3, 0}));
  EXPECT_EQ(to_vector<int64_t>(square(a)), (std::vector<int64_t>{49, 49, 9, 0}));
  EXPECT_EQ(to_vector<int64_t>(maximum(a, b)), (std::vector<int64_t>{7, 2, 3, 5}));
  EXPECT_EQ(to_vector<int64_t>(relu(a)), (std::vector<int64_t>{7, 0, 3, 0}));
  EXPECT_EQ(to_vector<int64_t>(sign(a)), (std::vector<int64_t>{1, -1, 1, 0}));
  EXPECT_EQ(to_vector<int64_t>(pow(a, 2)), (std::vector<int64_t>{49, 49, 9, 0}));
  EXPECT_EQ(to_vector<int64_t>(clamp(a, -1, 4)), (std::vector<int64_t>{4, -1, 3, 0}));
  EXPECT_EQ(a.dtype(), (a * b).dtype());
  // Floating functions of integers compute in float32.
  const Tensor e = exp(tensor(std::vector<int64_t>{0, 1}));
  EXPECT_EQ(e.dtype(), kFloat32);
  EXPECT_NEAR(to_vector<double>(e)[1], std::exp(1.0), 1e-6);
  EXPECT_EQ(sqrt(full({2}, true, kBool)).dtype(), kFloat32);
}

TEST(ElementwiseValues, ScalarOperandsAndOperators) {
  const Tensor x = tensor(std::vector<float>{1.0f, 2.0f, 4.0f});
  EXPECT_EQ(to_vector<float>(x + 1), (std::vector<float>{2, 3, 5}));
  EXPECT_EQ(to_vector<float>(1 + x), (std::vector<float>{2, 3, 5}));
  EXPECT_EQ(to_vector<float>(x - 1), (std::vector<float>{0, 1, 3}));
  EXPECT_EQ(to_vector<float>(10 - x), (std::vector<float>{9, 8, 6}));
  EXPECT_EQ(to_vector<float>(x * 0.5), (std::vector<float>{0.5f, 1, 2}));
  EXPECT_EQ(to_vector<float>(3 * x), (std::vector<float>{3, 6, 12}));
  EXPECT_EQ(to_vector<float>(x / 2), (std::vector<float>{0.5f, 1, 2}));
  EXPECT_EQ(to_vector<float>(8 / x), (std::vector<float>{8, 4, 2}));
  EXPECT_EQ(to_vector<float>(-x), (std::vector<float>{-1, -2, -4}));
  EXPECT_EQ(to_vector<float>(pow(2.0, x)), (std::vector<float>{2, 4, 16}));
  Tensor y = x.clone();
  y += x;
  y -= tensor(std::vector<float>{1.0f, 1.0f, 1.0f});
  y *= tensor(std::vector<float>{2.0f});
  y /= tensor(std::vector<float>{2.0f, 4.0f, 7.0f});
  EXPECT_EQ(to_vector<float>(y), (std::vector<float>{1, 1.5f, 2}));
}

// ---------------------------------------------------------------- broadcasting
TEST(ElementwiseBroadcast, Shapes) {
  EXPECT_EQ((ones({2, 3}) + ones({3})).shape(), (Shape{2, 3}));
  EXPECT_EQ((ones({2, 1, 4}) * ones({3, 1})).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ((ones({}) + ones({5})).shape(), Shape{5});
  EXPECT_EQ((ones({}) + ones({})).shape(), Shape{});
  EXPECT_EQ((ones({0, 3}) + ones({3})).shape(), (Shape{0, 3}));
  EXPECT_EQ((ones({1, 3}) + ones({4, 1})).shape(), (Shape{4, 3}));
  // Values: an outer sum.
  const Tensor r = tensor(std::vector<float>{0.0f, 10.0f}, {2, 1}) + tensor(std::vector<float>{1.0f, 2.0f, 3.0f});
  EXPECT_EQ(to_vector<float>(r), (std::vector<float>{1, 2, 3, 11, 12, 13}));
  // Broadcasting through a non-contiguous operand.
  const Tensor t = tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3}).t();  // [3, 2]
  EXPECT_EQ(to_vector<float>(t * tensor(std::vector<float>{1.0f, 10.0f})), (std::vector<float>{1, 40, 2, 50, 3, 60}));
}

TEST(ElementwiseBroadcast, ErrorsNameTheOpAndShapes) {
  const std::string msg = error_message([] { add(ones({2, 3}), ones({4})); });
  EXPECT_TRUE(contains(msg, "add")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3]")) << msg;
  EXPECT_TRUE(contains(msg, "[4]")) << msg;
  EXPECT_TRUE(contains(msg, "broadcast")) << msg;
  const std::string m2 = error_message([] { mul(ones({2, 3}), ones({3, 2})); });
  EXPECT_TRUE(contains(m2, "mul") && contains(m2, "[2, 3]") && contains(m2, "[3, 2]")) << m2;
  const std::string m3 = error_message([] { maximum(ones({5}), ones({4})); });
  EXPECT_TRUE(contains(m3, "maximum") && contains(m3, "[5]") && contains(m3, "[4]")) << m3;
  const std::string m4 = error_message([] { lt(ones({2}), ones({3})); });
  EXPECT_TRUE(contains(m4, "lt")) << m4;
  const std::string m5 = error_message([] { where(full({3}, true, kBool), ones({2}), ones({2})); });
  EXPECT_TRUE(contains(m5, "where")) << m5;
  EXPECT_THROW(add(Tensor(), ones({1})), Error);
}

// ---------------------------------------------------------------- type promotion
TEST(ElementwisePromotion, TensorTensor) {
  const Tensor i = tensor(std::vector<int64_t>{1, 2});
  const Tensor f = tensor(std::vector<float>{0.5f, 0.25f});
  const Tensor d = tensor(std::vector<double>{0.5, 0.25});
  const Tensor b = tensor(std::vector<bool>{true, false});
  EXPECT_EQ((i + f).dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(i + f), (std::vector<float>{1.5f, 2.25f}));
  EXPECT_EQ((f + d).dtype(), kFloat64);
  EXPECT_EQ((i * d).dtype(), kFloat64);
  EXPECT_EQ((b + i).dtype(), kInt64);
  EXPECT_EQ((b + b).dtype(), kBool);
  EXPECT_EQ(to_vector<bool>(b + b), (std::vector<bool>{true, false}));
  EXPECT_EQ((b * f).dtype(), kFloat32);
  EXPECT_EQ((f.to(kFloat16) + f.to(kBFloat16)).dtype(), kFloat32);
  EXPECT_EQ((f.to(kFloat16) + f).dtype(), kFloat32);
  EXPECT_EQ((f.to(kFloat16) + i).dtype(), kFloat16);
  EXPECT_EQ((f.to(kBFloat16) * d).dtype(), kFloat64);
  EXPECT_EQ(maximum(i, f).dtype(), kFloat32);
  EXPECT_EQ(where(b, i, f).dtype(), kFloat32);
}

TEST(ElementwisePromotion, ScalarsDoNotUpcastTensors) {
  const Tensor i = tensor(std::vector<int64_t>{1, 2});
  const Tensor f = tensor(std::vector<float>{0.5f, 0.25f});
  const Tensor b = tensor(std::vector<bool>{true, false});
  EXPECT_EQ((i + 2.5).dtype(), kFloat32);  // int tensor with a float scalar: the default float type
  EXPECT_EQ(to_vector<float>(i + 2.5), (std::vector<float>{3.5f, 4.5f}));
  EXPECT_EQ((i + 2).dtype(), kInt64);
  EXPECT_EQ((f * 2.0).dtype(), kFloat32);  // a double scalar keeps float32
  EXPECT_EQ((f.to(kFloat16) * 2.0).dtype(), kFloat16);
  EXPECT_EQ((f.to(kBFloat16) + 1).dtype(), kBFloat16);
  EXPECT_EQ((b + 1).dtype(), kInt64);
  EXPECT_EQ((b + 1.5).dtype(), kFloat32);
  EXPECT_EQ((2.0 - i).dtype(), kFloat32);
  EXPECT_EQ((tensor(std::vector<double>{1.0, 2.0}) * 3).dtype(), kFloat64);
}

TEST(ElementwisePromotion, DivisionAndComparisons) {
  const Tensor i = tensor(std::vector<int64_t>{7, -7, 1});
  const Tensor j = tensor(std::vector<int64_t>{2, 2, 4});
  const Tensor q = i / j;  // true division
  EXPECT_EQ(q.dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(q), (std::vector<float>{3.5f, -3.5f, 0.25f}));
  EXPECT_EQ((i / 2).dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(i / 2), (std::vector<float>{3.5f, -3.5f, 0.5f}));
  const Tensor f = tensor(std::vector<float>{1.0f, 2.0f, 3.0f});
  for (const Tensor& c : {eq(f, 2.0), ne(f, 2.0), lt(f, 2.0), le(f, 2.0), gt(f, 2.0), ge(f, 2.0), f == f, f < i})
    EXPECT_EQ(c.dtype(), kBool);
  EXPECT_EQ(to_vector<bool>(eq(f, 2.0)), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(to_vector<bool>(ne(f, 2.0)), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(to_vector<bool>(lt(f, 2.0)), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(to_vector<bool>(le(f, 2.0)), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(to_vector<bool>(gt(f, 2.0)), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(to_vector<bool>(ge(f, 2.0)), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(to_vector<bool>(f < i), (std::vector<bool>{true, false, false}));  // compared after promotion
  EXPECT_EQ(to_vector<bool>(eq(f, 2.5)), (std::vector<bool>{false, false, false}));
  EXPECT_EQ(to_vector<bool>(eq(i, 1.0)), (std::vector<bool>{false, false, true}));
  // Broadcast comparison.
  const Tensor m = tensor(std::vector<float>{1.0f, 2.0f}, {2, 1}) < tensor(std::vector<float>{0.0f, 1.5f, 3.0f});
  EXPECT_EQ(m.shape(), (Shape{2, 3}));
  EXPECT_EQ(to_vector<bool>(m), (std::vector<bool>{false, true, true, false, false, true}));
}

TEST(ElementwiseLogic, AndOrNot) {
  const Tensor a = tensor(std::vector<bool>{true, true, false, false});
  const Tensor b = tensor(std::vector<bool>{true, false, true, false});
  EXPECT_EQ(to_vector<bool>(logical_and(a, b)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(to_vector<bool>(logical_or(a, b)), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(to_vector<bool>(logical_not(a)), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(logical_not(a).dtype(), kBool);
  const Tensor f = tensor(std::vector<float>{0.0f, 2.0f, -1.0f, 0.0f});
  EXPECT_EQ(to_vector<bool>(logical_and(f, a)), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(to_vector<bool>(logical_not(f)), (std::vector<bool>{true, false, false, true}));
  EXPECT_THROW(neg(a), Error);
}

// ---------------------------------------------------------------- 16-bit floats
TEST(ElementwiseHalf, ArithmeticRoundsToTheDType) {
  for (DType dt : {kFloat16, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor a = tensor(std::vector<float>{1.5f, 2.25f, -4.0f, 0.5f}).to(dt);
    const Tensor b = tensor(std::vector<float>{0.5f, 0.25f, 2.0f, 8.0f}).to(dt);
    EXPECT_EQ((a + b).dtype(), dt);
    EXPECT_EQ(to_vector<float>(a + b), (std::vector<float>{2.0f, 2.5f, -2.0f, 8.5f}));
    EXPECT_EQ(to_vector<float>(a * b), (std::vector<float>{0.75f, 0.5625f, -8.0f, 4.0f}));
    EXPECT_EQ(to_vector<float>(a / b), (std::vector<float>{3.0f, 9.0f, -2.0f, 0.0625f}));
    EXPECT_EQ(to_vector<float>(maximum(a, b)), (std::vector<float>{1.5f, 2.25f, 2.0f, 8.0f}));
    EXPECT_EQ(to_vector<float>(relu(a)), (std::vector<float>{1.5f, 2.25f, 0.0f, 0.5f}));
  }
  // 1 + 2^-11 is not a half: the sum rounds (to even, i.e. 1).
  const Tensor one = ones({1}, kFloat16);
  const Tensor tiny = full({1}, std::ldexp(1.0, -11), kFloat16);
  EXPECT_EQ(to_vector<float>(one + tiny)[0], 1.0f);
  EXPECT_EQ(to_vector<float>(one + tiny + tiny + tiny)[0], 1.0f);  // each step rounds back
  EXPECT_EQ(to_vector<float>(one + tiny * 3)[0], 1.0f + std::ldexp(1.0f, -9));
  // Overflow: 60000 * 2 is inf in float16 but finite in bfloat16.
  EXPECT_TRUE(std::isinf(to_vector<float>(full({1}, 60000.0, kFloat16) * 2)[0]));
  EXPECT_FALSE(std::isinf(to_vector<float>(full({1}, 60000.0, kBFloat16) * 2)[0]));
  // bfloat16 keeps 8 bits of mantissa: 256 + 1 == 256.
  EXPECT_EQ(to_vector<float>(full({1}, 256.0, kBFloat16) + 1)[0], 256.0f);
}

// ---------------------------------------------------------------- in-place
TEST(ElementwiseInPlace, ValuesAndVersions) {
  Tensor t = tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3});
  uint64_t v = t.version();
  t.add_(tensor(std::vector<float>{1.0f, 1.0f, 1.0f}));  // broadcast
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{2, 3, 4, 5, 6, 7}));
  t.add_(tensor(std::vector<float>{10.0f, 20.0f}, {2, 1}), 0.5);
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{7, 8, 9, 15, 16, 17}));
  t.sub_(ones({2, 3}), 2);
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{5, 6, 7, 13, 14, 15}));
  t.mul_(tensor(std::vector<float>{2.0f, 0.0f, 1.0f}));
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{10, 0, 7, 26, 0, 15}));
  t.mul_(0.5);
  t.div_(2.0);
  v += 2;
  EXPECT_EQ(t.version(), v);
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{2.5f, 0, 1.75f, 6.5f, 0, 3.75f}));
  t.fill_(3.0);
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), std::vector<float>(6, 3.0f));
  t.zero_();
  EXPECT_EQ(t.version(), ++v);
  EXPECT_EQ(to_vector<float>(t), std::vector<float>(6, 0.0f));
  // The unary in-place variants.
  Tensor u = tensor(std::vector<float>{-1.0f, 0.5f, 2.0f});
  relu_(u);
  EXPECT_EQ(to_vector<float>(u), (std::vector<float>{0, 0.5f, 2}));
  neg_(u);
  EXPECT_EQ(to_vector<float>(u), (std::vector<float>{0, -0.5f, -2}));
  clamp_(u, -1.0, std::nullopt);
  EXPECT_EQ(to_vector<float>(u), (std::vector<float>{0, -0.5f, -1}));
  pow_(u, 2);
  EXPECT_EQ(to_vector<float>(u), (std::vector<float>{0, 0.25f, 1}));
  exp_(u);
  EXPECT_NEAR(to_vector<float>(u)[2], std::exp(1.0f), 1e-6);
  tanh_(u);
  sigmoid_(u);
  masked_fill_(u, tensor(std::vector<bool>{true, false, false}), 9.0);
  EXPECT_EQ(to_vector<float>(u)[0], 9.0f);
  EXPECT_EQ(u.version(), 8u);  // one bump per in-place op
}

TEST(ElementwiseInPlace, OnViewsWritesThroughToTheBase) {
  Tensor base = zeros({3, 4});
  Tensor col = base.select(1, 2);  // a strided view
  col.add_(tensor(std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(to_vector<float>(base), (std::vector<float>{0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0}));
  Tensor tr = base.t();
  tr.mul_(full({4, 3}, 2.0));
  EXPECT_EQ(to_vector<float>(base), (std::vector<float>{0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 6, 0}));
  EXPECT_EQ(base.version(), 2u);
}

TEST(ElementwiseInPlace, CopyWithBroadcastingAndConversion) {
  Tensor t = zeros({2, 3});
  t.copy_(tensor(std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(t.version(), 1u);
  t.copy_(tensor(std::vector<double>{7.0, 8.0}, {2, 1}));  // float64 source
  EXPECT_EQ(to_vector<float>(t), (std::vector<float>{7, 7, 7, 8, 8, 8}));
  Tensor i = zeros({3}, kInt64);
  i.copy_(tensor(std::vector<float>{1.9f, -1.9f, 2.0f}));
  EXPECT_EQ(to_vector<int64_t>(i), (std::vector<int64_t>{1, -1, 2}));
  Tensor nc = zeros({3, 2}).t();  // non-contiguous target
  nc.copy_(tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3}));
  EXPECT_EQ(to_vector<float>(nc), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const std::string msg = error_message([&] { t.copy_(ones({4})); });
  EXPECT_TRUE(contains(msg, "copy_")) << msg;
}

TEST(ElementwiseInPlace, ErrorsOnShapeOrDTypeThatDoNotFit) {
  Tensor t = zeros({3});
  const std::string msg = error_message([&] { t.add_(ones({2, 3})); });  // the result would be [2, 3]
  EXPECT_TRUE(contains(msg, "add_")) << msg;
  EXPECT_EQ(t.version(), 0u);
  Tensor i = zeros({2}, kInt64);
  const std::string msg2 = error_message([&] { i.add_(tensor(std::vector<float>{0.5f, 0.5f})); });
  EXPECT_TRUE(contains(msg2, "add_") && contains(msg2, "int64")) << msg2;
  i.add_(tensor(std::vector<int64_t>{1, 2}));
  EXPECT_EQ(to_vector<int64_t>(i), (std::vector<int64_t>{1, 2}));
  // A float32 tensor accepts a float64 operand (the result is cast back).
  Tensor f = zeros({2});
  f.add_(tensor(std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(f), (std::vector<float>{0.5f, 1.5f}));
}

// ---------------------------------------------------------------- where / masked_fill / clamp
TEST(ElementwiseSelect, WhereAndMaskedFill) {
  const Tensor c = tensor(std::vector<bool>{true, false, true});
  const Tensor a = tensor(std::vector<float>{1.0f, 2.0f, 3.0f});
  const Tensor b = tensor(std::vector<float>{-1.0f, -2.0f, -3.0f});
  EXPECT_EQ(to_vector<float>(where(c, a, b)), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(to_vector<float>(where(c, a, 0.5)), (std::vector<float>{1, 0.5f, 3}));
  EXPECT_EQ(where(c, a, 0.5).dtype(), kFloat32);
  const Tensor w = where(tensor(std::vector<bool>{true, false}, {2, 1}), a, b);  // broadcast all three
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(to_vector<float>(w), (std::vector<float>{1, 2, 3, -1, -2, -3}));
  const std::string msg = error_message([&] { where(a, a, b); });
  EXPECT_TRUE(contains(msg, "where") && contains(msg, "bool") && contains(msg, "float32")) << msg;
  const Tensor x = tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  EXPECT_EQ(to_vector<float>(masked_fill(x, tensor(std::vector<bool>{false, true}), -9.0)),
            (std::vector<float>{1, -9, 3, -9}));
  EXPECT_EQ(masked_fill(x, tensor(std::vector<bool>{false, true}), -9.0).dtype(), kFloat32);
  const Tensor xi = tensor(std::vector<int64_t>{1, 2});
  EXPECT_EQ(masked_fill(xi, tensor(std::vector<bool>{true, false}), 5).dtype(), kInt64);
  EXPECT_THROW(masked_fill(x, tensor(std::vector<float>{1.0f, 0.0f}), 0.0), Error);  // mask must be bool
  const std::string m2 = error_message([&] { masked_fill(ones({2}), full({3, 2}, true, kBool), 0.0); });
  EXPECT_TRUE(contains(m2, "masked_fill")) << m2;
}

TEST(ElementwiseSelect, ClampWithOnlyOneBound) {
  const Tensor x = tensor(std::vector<float>{-2.0f, -0.5f, 0.5f, 2.0f});
  EXPECT_EQ(to_vector<float>(clamp(x, -1.0, std::nullopt)), (std::vector<float>{-1, -0.5f, 0.5f, 2}));
  EXPECT_EQ(to_vector<float>(clamp(x, std::nullopt, 1.0)), (std::vector<float>{-2, -0.5f, 0.5f, 1}));
  EXPECT_EQ(to_vector<float>(clamp_min(x, 0.0)), (std::vector<float>{0, 0, 0.5f, 2}));
  EXPECT_EQ(to_vector<float>(clamp_max(x, 0.0)), (std::vector<float>{-2, -0.5f, 0, 0}));
  EXPECT_EQ(to_vector<float>(clamp(x, -1.0, 1.0)), (std::vector<float>{-1, -0.5f, 0.5f, 1}));
  const std::string msg = error_message([&] { clamp(x, std::nullopt, std::nullopt); });
  EXPECT_TRUE(contains(msg, "clamp")) << msg;
  // Gradient passes only inside the bounds.
  Tensor y = tensor(std::vector<double>{-2.0, 0.5, 2.0}, {3}, TensorOptions(kFloat64).requires_grad());
  clamp(y, -1.0, std::nullopt).backward(ones({3}, kFloat64));
  EXPECT_EQ(to_vector<double>(y.grad()), (std::vector<double>{0, 1, 1}));
}

// ---------------------------------------------------------------- NaN and infinities
TEST(ElementwiseNaN, PropagatesThroughMaximumReluAndClamp) {
  const Tensor x = tensor(std::vector<double>{kNaN, 1.0, -1.0}, {3}, kFloat64);
  const Tensor y = tensor(std::vector<double>{0.0, kNaN, 0.0}, {3}, kFloat64);
  const std::vector<double> mx = to_vector<double>(maximum(x, y));
  EXPECT_TRUE(std::isnan(mx[0]));
  EXPECT_TRUE(std::isnan(mx[1]));
  EXPECT_EQ(mx[2], 0.0);
  const std::vector<double> mn = to_vector<double>(minimum(x, y));
  EXPECT_TRUE(std::isnan(mn[0]) && std::isnan(mn[1]));
  EXPECT_EQ(mn[2], -1.0);
  const std::vector<double> r = to_vector<double>(relu(x));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 1.0);
  EXPECT_EQ(r[2], 0.0);
  EXPECT_TRUE(std::isnan(to_vector<double>(clamp(x, 0.0, 0.5))[0]));
  EXPECT_TRUE(std::isnan(to_vector<float>(relu(x.to(kFloat32)))[0]));
  EXPECT_TRUE(std::isnan(to_vector<float>(maximum(x.to(kFloat16), y.to(kFloat16)))[0]));
  // Comparisons with NaN are false (ne is true).
  EXPECT_EQ(to_vector<bool>(eq(x, x)), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(to_vector<bool>(ne(x, x)), (std::vector<bool>{true, false, false}));
  // Domain errors give NaN and infinities, not exceptions.
  const std::vector<double> lg = to_vector<double>(log(tensor(std::vector<double>{-1.0, 0.0}, {2}, kFloat64)));
  EXPECT_TRUE(std::isnan(lg[0]));
  EXPECT_EQ(lg[1], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(to_vector<double>(div(ones({1}, kFloat64), zeros({1}, kFloat64)))[0],
            std::numeric_limits<double>::infinity());
  // Large inputs stay finite where the function is.
  const std::vector<double> big = to_vector<double>(sigmoid(tensor(std::vector<double>{-800.0, 800.0}, {2}, kFloat64)));
  EXPECT_EQ(big[0], 0.0);
  EXPECT_EQ(big[1], 1.0);
  EXPECT_EQ(to_vector<double>(softplus(tensor(std::vector<double>{800.0}, {1}, kFloat64)))[0], 800.0);
  EXPECT_EQ(to_vector<double>(tanh(tensor(std::vector<double>{-1000.0}, {1}, kFloat64)))[0], -1.0);
}

// ---------------------------------------------------------------- size and layout
TEST(ElementwiseLayout, LargeAndStridedInputs) {
  // Large enough to be split across threads.
  const int64_t n = 1 << 20;
  const Tensor a = arange(0, n, 1, kFloat64);
  const Tensor b = full({n}, 0.5, kFloat64);
  const std::vector<double> s = to_vector<double>(a * 2.0 + b);
  for (int64_t i = 0; i < n; i += 4099) ASSERT_EQ(s[static_cast<size_t>(i)], 2.0 * static_cast<double>(i) + 0.5);
  ASSERT_EQ(s.back(), 2.0 * static_cast<double>(n - 1) + 0.5);
  // Strided, transposed and broadcast operands agree with their contiguous copies.
  manual_seed(31);
  const Tensor x = randn({6, 5}, kFloat64);
  const Tensor xt = x.t();  // [5, 6]
  const Tensor y = randn({5, 6}, kFloat64);
  EXPECT_EQ(tangent::testing::max_abs_diff(xt * y, xt.contiguous() * y), 0.0);
  EXPECT_EQ(tangent::testing::max_abs_diff(exp(xt), exp(xt.contiguous())), 0.0);
  const Tensor sl = x.slice(0, 0, 6, 2);  // every other row
  EXPECT_EQ(tangent::testing::max_abs_diff(sin(sl), sin(sl.contiguous())), 0.0);
  const Tensor e = tensor(std::vector<double>{1.0, 2.0, 3.0}, {3, 1}, kFloat64).expand({3, 4});
  EXPECT_EQ(to_vector<double>(e * 2.0), (std::vector<double>{2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6}));
  // Empty tensors.
  EXPECT_EQ((zeros({0, 4}) + 1.0).numel(), 0);
  EXPECT_EQ(exp(zeros({0})).shape(), Shape{0});
}

// ---- floor, round, atan2 (added through core/scalar_math.h) ----

TEST(ElementwiseRounding, FloorAndRoundHalfToEvenInEveryDType) {
  // torch.round rounds half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0, -1.5 -> -2.
  const std::vector<double> v = {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.2, 1.7};
  const std::vector<double> rounded = {-2, -2, -0.0, 0, 2, 2, -1, 2};
  const std::vector<double> floored = {-3, -2, -1, 0, 1, 2, -2, 1};
  for (DType t : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = tensor(v, Shape{8}, kFloat64).to(t);
    const Tensor r = round(x), f = floor(x);
    EXPECT_EQ(r.dtype(), t);
    EXPECT_EQ(to_vector<double>(r.to(kFloat64)), rounded) << t;
    EXPECT_EQ(to_vector<double>(f.to(kFloat64)), floored) << t;
  }
  EXPECT_TRUE(std::signbit(to_vector<double>(round(tensor(std::vector<double>{-0.4}, Shape{1})))[0]));
  // Integers are already whole: returned with their dtype and values.
  const Tensor i = tensor(std::vector<int64_t>{-3, 0, 7}, Shape{3});
  EXPECT_EQ(to_vector<int64_t>(floor(i)), (std::vector<int64_t>{-3, 0, 7}));
  EXPECT_EQ(round(i).dtype(), kInt64);
  // NaN and infinities pass through.
  const Tensor special = tensor(std::vector<double>{NAN, INFINITY, -INFINITY}, Shape{3});
  const std::vector<double> fr = to_vector<double>(floor(special)), rr = to_vector<double>(round(special));
  EXPECT_TRUE(std::isnan(fr[0]) && std::isnan(rr[0]));
  EXPECT_EQ(fr[1], INFINITY);
  EXPECT_EQ(rr[2], -INFINITY);
  tangent::testing::expect_error([] { floor(tensor(std::vector<bool>{true}, Shape{1})); }, {"floor", "bool"});
  tangent::testing::expect_error([] { round(tensor(std::vector<bool>{true}, Shape{1})); }, {"round", "bool"});
}

TEST(ElementwiseRounding, GradientIsZero) {
  Tensor x = tensor(std::vector<double>{-1.3, 0.2, 2.7}, Shape{3}).requires_grad_(true);
  add(floor(x), round(x)).sum().backward();
  EXPECT_EQ(to_vector<double>(x.grad()), (std::vector<double>{0, 0, 0}));
}

TEST(ElementwiseAtan2, QuadrantsSignedZerosAndPromotion) {
  const Tensor y = tensor(std::vector<double>{1, 1, -1, -1, 0, -0.0, 0, 1}, Shape{8});
  const Tensor x = tensor(std::vector<double>{1, -1, -1, 1, -1, -1, 0, 0}, Shape{8});
  const std::vector<double> got = to_vector<double>(atan2(y, x));
  const std::vector<double> yv = to_vector<double>(y), xv = to_vector<double>(x);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], std::atan2(yv[i], xv[i])) << i;
  EXPECT_EQ(got[5], -M_PI);  // atan2(-0, -1) = -pi, as torch.atan2
  // Integers give float32 (as torch.atan2); a float32 tensor with a float64 one gives float64.
  const Tensor yi = tensor(std::vector<int64_t>{1, -2}, Shape{2}), xi = tensor(std::vector<int64_t>{0, 2}, Shape{2});
  const Tensor ri = atan2(yi, xi);
  EXPECT_EQ(ri.dtype(), kFloat32);
  EXPECT_NEAR(to_vector<float>(ri)[0], M_PI / 2, 1e-6);
  EXPECT_NEAR(to_vector<float>(ri)[1], -M_PI / 4, 1e-6);
  EXPECT_EQ(atan2(ones({2}), ones({2}, kFloat64)).dtype(), kFloat64);
  tangent::testing::expect_error([] { atan2(ones({2}), ones({3})); }, {"atan2", "[2]", "[3]"});
}

// A unary node saves only what its backward reads: exp reads its output, so changing the input in place
// afterwards does not invalidate the graph; log reads its input, so changing its output does not either.
TEST(ElementwiseAutograd, UnaryNodesSaveOnlyWhatTheyRead) {
  Tensor leaf = tensor(std::vector<double>{0.5, 1.5}, Shape{2}).requires_grad_(true);
  Tensor x = mul(leaf, 1.0);
  const Tensor y = exp(x);
  {
    NoGradGuard guard;
    x.add_(ones({2}, kFloat64));  // bumps x's version: a saved x would now fail to unpack
  }
  y.sum().backward();
  EXPECT_TRUE(tangent::testing::all_close(leaf.grad(), exp(tensor(std::vector<double>{0.5, 1.5}, Shape{2}))));

  Tensor leaf2 = tensor(std::vector<double>{2.0, 4.0}, Shape{2}).requires_grad_(true);
  Tensor z = log(mul(leaf2, 1.0));
  {
    NoGradGuard guard;
    z.mul_(zeros({2}, kFloat64));
  }
  z.sum().backward();
  EXPECT_EQ(to_vector<double>(leaf2.grad()), (std::vector<double>{0.5, 0.25}));

  // A saved tensor that is read still guards against in-place changes.
  Tensor leaf3 = tensor(std::vector<double>{2.0}, Shape{1}).requires_grad_(true);
  Tensor u = mul(leaf3, 1.0);
  const Tensor w = log(u);
  {
    NoGradGuard guard;
    u.add_(ones({1}, kFloat64));
  }
  tangent::testing::expect_error([&] { w.sum().backward(); }, {"log"});
}

// float32 erf and gelu run a vectorisable rational approximation (core/scalar_math.h), gelu's backward one fused
// derivative kernel: both against float64 std::erf on a dense grid, with the special values.
TEST(ElementwiseErf, Float32IsWithinRoundOffOfDoubleOnADenseGrid) {
  const int64_t n = 480001;  // step 2.5e-5 over [-6, 6]
  const Tensor x = linspace(-6.0, 6.0, n, TensorOptions(kFloat32)).requires_grad_(true);
  const Tensor e = erf(x.detach()), y = gelu(x);
  y.sum().backward();
  const float* xp = x.detach().data_ptr<float>();
  const float* ep = e.data_ptr<float>();
  const float* yp = y.detach().data_ptr<float>();
  const float* gp = x.grad().data_ptr<float>();
  double erf_err = 0, erf_rel = 0, gelu_err = 0, grad_err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = xp[i], cdf = 0.5 * (1.0 + std::erf(v / std::sqrt(2.0)));
    const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2.0 * 3.14159265358979323846);
    erf_err = std::max(erf_err, std::fabs(ep[i] - std::erf(v)));
    if (v != 0 && std::fabs(v) < 1) erf_rel = std::max(erf_rel, std::fabs(ep[i] / std::erf(v) - 1));
    gelu_err = std::max(gelu_err, std::fabs(yp[i] - v * cdf) / std::max(1.0, std::fabs(v)));
    grad_err = std::max(grad_err, std::fabs(gp[i] - (cdf + v * pdf)));
  }
  EXPECT_LT(erf_err, 4e-7);   // 6 ulp of 1; libm's erff is within 1 ulp
  EXPECT_LT(erf_rel, 5e-7);   // near 0 too (1 - P(t) e^(-x^2) forms such as Abramowitz-Stegun 7.1.26 fail here)
  EXPECT_LT(gelu_err, 4e-7);  // relative to max(1, |x|)
  EXPECT_LT(grad_err, 4e-7);
  EXPECT_GT(erf_err, 0.0);  // float32 did run in float, not in double

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> special = to_vector<float>(erf(tensor(std::vector<float>{inf, -inf, nan, 0.f}, Shape{4})));
  EXPECT_EQ(special[0], 1.f);
  EXPECT_EQ(special[1], -1.f);
  EXPECT_TRUE(std::isnan(special[2]));
  EXPECT_EQ(special[3], 0.f);
  const Tensor g = tensor(std::vector<float>{nan, 100.f, -100.f}, Shape{3}).requires_grad_(true);
  gelu(g).sum().backward();
  const std::vector<float> gg = to_vector<float>(g.grad());
  EXPECT_TRUE(std::isnan(gg[0]));
  EXPECT_EQ(gg[1], 1.f);
  EXPECT_EQ(gg[2], 0.f);
}

TEST(ElementwiseErf, Float64KeepsStdErfAndGeluHasASecondDerivative) {
  const Tensor x = tensor(std::vector<double>{-2.5, -0.3, 0.7, 3.1}, Shape{4});
  const std::vector<double> e = to_vector<double>(erf(x));
  for (size_t i = 0; i < e.size(); ++i) EXPECT_EQ(e[i], std::erf(to_vector<double>(x)[i]));
  // d2/dx2 gelu(x) = phi(x) (2 - x^2)
  const Tensor xg = x.clone().requires_grad_(true);
  const Tensor d1 = autograd::grad({gelu(xg).sum()}, {xg}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  const Tensor d2 = autograd::grad({d1.sum()}, {xg})[0];
  const std::vector<double> xv = to_vector<double>(x), d2v = to_vector<double>(d2);
  for (size_t i = 0; i < xv.size(); ++i) {
    const double pdf = std::exp(-0.5 * xv[i] * xv[i]) / std::sqrt(2.0 * 3.14159265358979323846);
    EXPECT_NEAR(d2v[i], pdf * (2.0 - xv[i] * xv[i]), 1e-12);
  }
}
