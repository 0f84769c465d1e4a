// Core suite: dtypes and promotion, Shape, Device, 16-bit float conversions, TensorOptions, tensor creation
// (constant, range and seeded random factories), host data round trips, item(), printing and dtype conversion.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>

#include <tangent/tangent.h>

#include "core/allocator.h"

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::error_message;

namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

// ---------------------------------------------------------------- dtypes
TEST(CoreDType, NamesSizesAndCategories) {
  EXPECT_STREQ(dtype_name(kFloat32), "float32");
  EXPECT_STREQ(dtype_name(kFloat64), "float64");
  EXPECT_STREQ(dtype_name(kFloat16), "float16");
  EXPECT_STREQ(dtype_name(kBFloat16), "bfloat16");
  EXPECT_STREQ(dtype_name(kInt64), "int64");
  EXPECT_STREQ(dtype_name(kBool), "bool");
  EXPECT_EQ(element_size(kFloat32), 4u);
  EXPECT_EQ(element_size(kFloat64), 8u);
  EXPECT_EQ(element_size(kFloat16), 2u);
  EXPECT_EQ(element_size(kBFloat16), 2u);
  EXPECT_EQ(element_size(kInt64), 8u);
  EXPECT_EQ(element_size(kBool), 1u);
  EXPECT_TRUE(is_floating_point(kFloat16));
  EXPECT_TRUE(is_floating_point(kBFloat16));
  EXPECT_FALSE(is_floating_point(kInt64));
  EXPECT_FALSE(is_floating_point(kBool));
  std::ostringstream os;
  os << kBFloat16;
  EXPECT_EQ(os.str(), "bfloat16");
}

TEST(CoreDType, PromotionTable) {
  // Rows/columns: bool, int64, float16, bfloat16, float32, float64 (PyTorch's promote_types).
  const DType order[] = {kBool, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};
  const DType table[6][6] = {
      {kBool, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64},
      {kInt64, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64},
      {kFloat16, kFloat16, kFloat16, kFloat32, kFloat32, kFloat64},
      {kBFloat16, kBFloat16, kFloat32, kBFloat16, kFloat32, kFloat64},
      {kFloat32, kFloat32, kFloat32, kFloat32, kFloat32, kFloat64},
      {kFloat64, kFloat64, kFloat64, kFloat64, kFloat64, kFloat64},
  };
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      EXPECT_EQ(promote_types(order[i], order[j]), table[i][j]) << order[i] << " with " << order[j];
}

// ---------------------------------------------------------------- Shape
TEST(CoreShape, BasicsAndEditing) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.front(), 2);
  EXPECT_EQ(s.back(), 4);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ((Shape{3, 0, 2}).numel(), 0);
  s.push_back(5);
  EXPECT_EQ(s, (Shape{2, 3, 4, 5}));
  s.insert(0, 7);
  EXPECT_EQ(s, (Shape{7, 2, 3, 4, 5}));
  s.insert(5, 9);
  EXPECT_EQ(s, (Shape{7, 2, 3, 4, 5, 9}));
  s.erase(1);
  EXPECT_EQ(s, (Shape{7, 3, 4, 5, 9}));
  s.pop_back();
  EXPECT_EQ(s, (Shape{7, 3, 4, 5}));
  s.resize(6, 1);
  EXPECT_EQ(s, (Shape{7, 3, 4, 5, 1, 1}));
  EXPECT_NE(s, (Shape{7, 3, 4, 5, 1}));
  EXPECT_EQ(Shape(std::vector<int64_t>{1, 2}), (Shape{1, 2}));
  EXPECT_EQ(Shape(size_t{3}, int64_t{4}), (Shape{4, 4, 4}));
  EXPECT_EQ((Shape{5, 6}).vec(), (std::vector<int64_t>{5, 6}));
  std::ostringstream os;
  os << Shape{2, 3} << Shape{};
  EXPECT_EQ(os.str(), "[2, 3][]");
}

TEST(CoreShape, MaxDimsIsChecked) {
  Shape s(Shape::kMaxDims, 1);
  EXPECT_THROW(s.push_back(1), Error);
  EXPECT_THROW(Shape(std::vector<int64_t>(Shape::kMaxDims + 1, 1)), Error);
}

// Element and byte counts that overflow int64 raise instead of wrapping (a wrapped count once allocated a
// 0-byte buffer for a tensor of 2^62 elements).
TEST(CoreShape, NumelAndLayoutOverflowAreChecked) {
  EXPECT_EQ(Shape({3, 0, 5}).numel(), 0);
  EXPECT_EQ(Shape({1LL << 31, 1LL << 31}).numel(), 1LL << 62);
  EXPECT_THROW(Shape({1LL << 32, 1LL << 32}).numel(), Error);
  EXPECT_EQ(layout_bytes(Shape({2, 3}), 4), 24);
  EXPECT_EQ(layout_bytes(Shape({}), 8), 8);
  EXPECT_EQ(layout_bytes(Shape({0, 1LL << 40}), 4), 0);
  EXPECT_EQ(layout_bytes(Shape({1LL << 31, 1LL << 31}), 4), -1);     // 2^64 bytes
  EXPECT_EQ(layout_bytes(Shape({0, 1LL << 62, 1LL << 62}), 1), -1);  // no elements, but the strides overflow
  EXPECT_EQ(layout_bytes(Shape({2, -1}), 4), -1);
  tangent::testing::expect_error(
      [] {
        empty({1LL << 31, 1LL << 31});
      },
      {"empty", "too large", "[2147483648, 2147483648]"});
  EXPECT_THROW(zeros({0, 1LL << 62, 1LL << 62}), Error);
}

// A buffer larger than the machine's memory (or than what is left of it) is an Error, raised before the system is
// asked: Linux would otherwise hand out the address space and kill the process when the pages are touched.
TEST(CoreAllocator, MoreThanTheMachineHasIsAnError) {
  const size_t limit = host_memory_limit();
  ASSERT_GT(limit, size_t{1} << 26);
  const int64_t too_many = static_cast<int64_t>(limit / 4) + (int64_t{1} << 20);  // float32 elements
  const std::string msg = tangent::testing::error_message([&] { empty({too_many}, kFloat32); });
  EXPECT_NE(msg.find("allocate: out of host memory: " + std::to_string(too_many * 4) + " bytes requested"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(std::to_string(limit) + " bytes of memory"), std::string::npos) << msg;
  // Small buffers still work afterwards: nothing was counted for the refused one.
  EXPECT_EQ(full({1000}, 2.0).sum().item<double>(), 2000.0);
}

TEST(CoreShape, StridesWrapAndBroadcast) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({}), Shape{});
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Shape{3, 3, 1}));
  EXPECT_EQ(wrap_dim(-1, 3, "op"), 2);
  EXPECT_EQ(wrap_dim(0, 0, "op"), 0);  // a 0-dim tensor accepts dim 0 and -1
  EXPECT_EQ(wrap_dim(-1, 0, "op"), 0);
  const std::string msg = error_message([] { wrap_dim(3, 3, "myop"); });
  EXPECT_NE(msg.find("myop"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3"), std::string::npos) << msg;
  EXPECT_THROW(wrap_dim(-4, 3, "op"), Error);
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}, "op"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {5}, "op"), Shape{5});
  EXPECT_EQ(broadcast_shapes({0, 1}, {1, 3}, "op"), (Shape{0, 3}));
  const std::string bmsg = error_message([] { broadcast_shapes({2, 3}, {4}, "foo"); });
  EXPECT_NE(bmsg.find("foo"), std::string::npos) << bmsg;
  EXPECT_NE(bmsg.find("[2, 3]"), std::string::npos) << bmsg;
  EXPECT_NE(bmsg.find("[4]"), std::string::npos) << bmsg;
}

// ---------------------------------------------------------------- Device
TEST(CoreDevice, Parsing) {
  EXPECT_EQ(Device("cpu"), Device(kCPU));
  EXPECT_EQ(Device("cuda"), Device(kCUDA, 0));
  EXPECT_EQ(Device("cuda:1"), Device(kCUDA, 1));
  EXPECT_TRUE(Device("cpu").is_cpu());
  EXPECT_TRUE(Device("cuda:2").is_cuda());
  EXPECT_EQ(Device("cuda:3").str(), "cuda:3");
  EXPECT_EQ(Device("cpu").str(), "cpu");
  EXPECT_NE(Device(kCUDA, 0), Device(kCUDA, 1));
  const std::string msg = error_message([] { Device d("tpu"); });
  EXPECT_NE(msg.find("tpu"), std::string::npos) << msg;
  EXPECT_THROW(Device("cuda:x"), Error);
  std::ostringstream os;
  os << Device(kCUDA, 1);
  EXPECT_EQ(os.str(), "cuda:1");
}

// ---------------------------------------------------------------- 16-bit floats
TEST(CoreHalf, ExactValuesAndLimits) {
  EXPECT_EQ(Half(1.0f).bits, 0x3c00);
  EXPECT_EQ(Half(-2.0f).bits, 0xc000);
  EXPECT_EQ(Half(0.0f).bits, 0x0000);
  EXPECT_EQ(Half(-0.0f).bits, 0x8000);
  EXPECT_EQ(Half(65504.0f).bits, 0x7bff);  // the largest finite half
  EXPECT_EQ(static_cast<float>(Half(65504.0f)), 65504.0f);
  EXPECT_EQ(Half(1e6f).bits, 0x7c00);  // overflow to inf
  EXPECT_EQ(Half(std::numeric_limits<float>::infinity()).bits, 0x7c00);
  EXPECT_EQ(Half(-std::numeric_limits<float>::infinity()).bits, 0xfc00);
  EXPECT_TRUE(std::isnan(static_cast<float>(Half(std::nanf("")))));
  // Subnormals: 2^-24 is the smallest; 2^-14 the smallest normal.
  EXPECT_EQ(Half(std::ldexp(1.0f, -24)).bits, 0x0001);
  EXPECT_EQ(static_cast<float>(Half::to_float(0x0001)), std::ldexp(1.0f, -24));
  EXPECT_EQ(Half(std::ldexp(1.0f, -14)).bits, 0x0400);
  EXPECT_EQ(Half(std::ldexp(3.0f, -20)).bits, 0x0030);  // 3 * 2^-20 = 48 * 2^-24
  EXPECT_EQ(Half(1e-9f).bits, 0x0000);                  // underflow to zero
  // Every half value round-trips through float.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
    ASSERT_EQ(Half(Half::to_float(h)).bits, h) << std::hex << b;
  }
}

TEST(CoreHalf, RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -10);                                    // spacing of halves in [1, 2)
  EXPECT_EQ(static_cast<float>(Half(1.0f + ulp / 2)), 1.0f);                  // tie -> even (down)
  EXPECT_EQ(static_cast<float>(Half(1.0f + 3 * ulp / 2)), 1.0f + 2 * ulp);    // tie -> even (up)
  EXPECT_EQ(static_cast<float>(Half(1.0f + ulp / 2 + ulp / 8)), 1.0f + ulp);  // above the tie
  EXPECT_EQ(static_cast<float>(Half(1.0f + ulp / 2 - ulp / 8)), 1.0f);        // below the tie
  EXPECT_EQ(Half(65519.0f).bits, 0x7bff);                                     // below the rounding boundary to inf
  EXPECT_EQ(Half(65520.0f).bits, 0x7c00);                                     // the tie rounds to even, i.e. inf
  // Rounding carries into the exponent: 2 - ulp/4 rounds to 2.
  EXPECT_EQ(static_cast<float>(Half(2.0f - ulp / 4)), 2.0f);
}

TEST(CoreBFloat16, ConversionsAndRounding) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(BFloat16(-2.0f).bits, 0xc000);
  EXPECT_EQ(static_cast<float>(BFloat16(3.140625f)), 3.140625f);  // exactly representable
  const float ulp = std::ldexp(1.0f, -7);
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + ulp / 2)), 1.0f);                // tie -> even
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 3 * ulp / 2)), 1.0f + 2 * ulp);  // tie -> even (up)
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + ulp * 0.75f)), 1.0f + ulp);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(static_cast<float>(BFloat16(inf)), inf);
  EXPECT_EQ(static_cast<float>(BFloat16(-inf)), -inf);
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(bits_to_float(0x7f800001u)))));  // NaN never becomes inf
  EXPECT_EQ(static_cast<float>(BFloat16(std::numeric_limits<float>::max())), inf);    // rounds up past the max
  EXPECT_EQ(static_cast<float>(BFloat16(1e-40f)), bits_to_float(0x00010000u));        // subnormals survive
}

// ---------------------------------------------------------------- TensorOptions
TEST(CoreTensorOptions, DefaultsAndBuilders) {
  TensorOptions o;
  EXPECT_EQ(o.dtype_, kFloat32);
  EXPECT_EQ(o.device_, Device(kCPU));
  EXPECT_FALSE(o.requires_grad_);
  TensorOptions p = TensorOptions(kFloat64).requires_grad();
  EXPECT_EQ(p.dtype_, kFloat64);
  EXPECT_TRUE(p.requires_grad_);
  EXPECT_EQ(o.dtype_, kFloat32);  // builders copy
  TensorOptions q = Device(kCUDA, 1);
  EXPECT_EQ(q.device_, Device(kCUDA, 1));
  EXPECT_EQ(q.dtype_, kFloat32);
  Tensor t = zeros({2}, TensorOptions(kFloat64).requires_grad());
  EXPECT_TRUE(t.requires_grad());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_EQ(t.options().dtype_, kFloat64);
  EXPECT_EQ(t.options().device_, Device(kCPU));
  EXPECT_THROW(zeros({2}, TensorOptions(kInt64).requires_grad()), Error);
}

// ---------------------------------------------------------------- factories
TEST(CoreFactory, EmptyZerosOnesFull) {
  Tensor e = empty({2, 3}, kFloat64);
  EXPECT_EQ(e.shape(), (Shape{2, 3}));
  EXPECT_EQ(e.strides(), (Shape{3, 1}));
  EXPECT_EQ(e.dtype(), kFloat64);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_EQ(e.numel(), 6);
  EXPECT_EQ(e.dim(), 2);
  EXPECT_EQ(e.size(-1), 3);
  EXPECT_EQ(e.stride(0), 3);
  EXPECT_THROW(empty({2, -1}), Error);
  EXPECT_EQ(to_vector<float>(zeros({3})), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(to_vector<double>(ones({2, 2}, kFloat64)), (std::vector<double>(4, 1.0)));
  EXPECT_EQ(to_vector<int64_t>(full({2}, 7, kInt64)), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(to_vector<float>(full({2}, 2.5)), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(to_vector<bool>(full({2}, true, kBool)), (std::vector<bool>{true, true}));
  Tensor z = zeros({0, 3});
  EXPECT_EQ(z.numel(), 0);
  EXPECT_TRUE(to_vector<float>(z).empty());
  Tensor s = zeros({});
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  Tensor like = ones_like(full({2, 2}, 3, kInt64));
  EXPECT_EQ(like.dtype(), kInt64);
  EXPECT_EQ(to_vector<int64_t>(like), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(to_vector<float>(full_like(zeros({2}), -1.5)), (std::vector<float>{-1.5f, -1.5f}));
  EXPECT_EQ(scalar_tensor(3).dtype(), kInt64);
  EXPECT_EQ(scalar_tensor(3.0).dtype(), kFloat32);
  EXPECT_EQ(scalar_tensor(true).dtype(), kBool);
  EXPECT_EQ(scalar_tensor(2.5, kFloat64).item<double>(), 2.5);
}

TEST(CoreFactory, Arange) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(to_vector<int64_t>(a), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  Tensor b = arange(0.0, 1.0, 0.25);
  EXPECT_EQ(b.dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(b), (std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(to_vector<int64_t>(arange(10, 0, -3)), (std::vector<int64_t>{10, 7, 4, 1}));
  EXPECT_EQ(to_vector<int64_t>(arange(2, 8, 2)), (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(arange(3, 3).numel(), 0);
  Tensor c = arange(0, 3, 1, kFloat64);
  EXPECT_EQ(c.dtype(), kFloat64);
  EXPECT_EQ(to_vector<double>(c), (std::vector<double>{0, 1, 2}));
  EXPECT_THROW(arange(0, 5, 0), Error);
  EXPECT_THROW(arange(5, 0, 1), Error);
}

TEST(CoreFactory, LinspaceAndEye) {
  const std::vector<float> l = to_vector<float>(linspace(0.0, 1.0, 5));
  EXPECT_EQ(l, (std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f}));
  const std::vector<double> d = to_vector<double>(linspace(-1.0, 0.3, 14, kFloat64));
  EXPECT_EQ(d.front(), -1.0);
  EXPECT_EQ(d.back(), 0.3);  // the end point is exact
  for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], -1.0 + 0.1 * static_cast<double>(i), 1e-12);
  EXPECT_EQ(to_vector<float>(linspace(2.0, 5.0, 1)), (std::vector<float>{2.0f}));
  EXPECT_EQ(linspace(0.0, 1.0, 0).numel(), 0);
  EXPECT_THROW(linspace(0.0, 1.0, -1), Error);
  EXPECT_EQ(to_vector<float>(eye(3)), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Tensor r = eye(2, 3, kInt64);
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(to_vector<int64_t>(r), (std::vector<int64_t>{1, 0, 0, 0, 1, 0}));
}

TEST(CoreRandom, SeededDeterminism) {
  manual_seed(42);
  const std::vector<float> a = to_vector<float>(rand({1000}));
  const std::vector<float> an = to_vector<float>(randn({1000}));
  manual_seed(42);
  EXPECT_EQ(to_vector<float>(rand({1000})), a);
  EXPECT_EQ(to_vector<float>(randn({1000})), an);
  manual_seed(43);
  const std::vector<float> b = to_vector<float>(rand({1000}));
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
  EXPECT_GT(differ, 990u);
  // Consecutive draws differ too (the stream advances).
  manual_seed(42);
  (void)rand({1000});
  EXPECT_NE(to_vector<float>(rand({1000})), a);
  // A private generator does not disturb the global one.
  manual_seed(7);
  const std::vector<float> g1 = to_vector<float>(rand({16}));
  manual_seed(7);
  Generator gen(99);
  const std::vector<float> p1 = to_vector<float>(rand({16}, {}, &gen));
  EXPECT_EQ(to_vector<float>(rand({16})), g1);
  Generator gen2(99);
  EXPECT_EQ(to_vector<float>(rand({16}, {}, &gen2)), p1);
  // float64 draws are deterministic as well.
  manual_seed(5);
  const std::vector<double> d1 = to_vector<double>(randn({64}, kFloat64));
  manual_seed(5);
  EXPECT_EQ(to_vector<double>(randn({64}, kFloat64)), d1);
}

TEST(CoreRandom, UniformRangeAndMoments) {
  manual_seed(1);
  const std::vector<double> u = to_vector<double>(rand({100000}, kFloat64));
  double mean = 0.0, lo = 1.0, hi = 0.0;
  for (double v : u) {
    mean += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  mean /= static_cast<double>(u.size());
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_NEAR(mean, 0.5, 0.005);  // std error 0.0009
  const std::vector<float> f = to_vector<float>(rand({100000}));
  for (float v : f) ASSERT_TRUE(v >= 0.0f && v < 1.0f) << v;
}

TEST(CoreRandom, NormalMoments) {
  manual_seed(2);
  for (DType dt : {kFloat32, kFloat64}) {
    const std::vector<double> x = to_vector<double>(randn({100000}, dt));
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (double v : x) m1 += v;
    m1 /= static_cast<double>(x.size());
    for (double v : x) {
      const double c = v - m1;
      m2 += c * c;
      m3 += c * c * c;
      m4 += c * c * c * c;
    }
    const double n = static_cast<double>(x.size());
    m2 /= n;
    m3 /= n;
    m4 /= n;
    EXPECT_NEAR(m1, 0.0, 0.015) << dt;            // std error 0.0032
    EXPECT_NEAR(m2, 1.0, 0.03) << dt;             // std error 0.0045
    EXPECT_NEAR(m3, 0.0, 0.05) << dt;             // skewness, std error 0.008
    EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.1) << dt;  // kurtosis, std error 0.015
    size_t within1 = 0;
    for (double v : x) within1 += std::abs(v - m1) < std::sqrt(m2);
    EXPECT_NEAR(static_cast<double>(within1) / n, 0.6827, 0.01) << dt;
  }
}

TEST(CoreRandom, RandintRangeAndCoverage) {
  manual_seed(3);
  Tensor r = randint(-3, 4, {20000});
  EXPECT_EQ(r.dtype(), kInt64);
  std::vector<int64_t> counts(7, 0);
  for (int64_t v : to_vector<int64_t>(r)) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    ++counts[static_cast<size_t>(v + 3)];
  }
  for (int64_t c : counts) EXPECT_NEAR(static_cast<double>(c), 20000.0 / 7.0, 250.0);
  Tensor rf = randint(0, 10, {100}, kFloat32);
  EXPECT_EQ(rf.dtype(), kFloat32);
  for (float v : to_vector<float>(rf)) EXPECT_EQ(v, std::floor(v));
  EXPECT_THROW(randint(5, 5, {3}), Error);
}

TEST(CoreRandom, BernoulliMean) {
  manual_seed(4);
  const std::vector<float> b = to_vector<float>(bernoulli({100000}, 0.3));
  double mean = 0.0;
  for (float v : b) {
    ASSERT_TRUE(v == 0.0f || v == 1.0f) << v;
    mean += v;
  }
  EXPECT_NEAR(mean / 100000.0, 0.3, 0.006);  // std error 0.0015
  EXPECT_EQ(to_vector<float>(bernoulli({10}, 0.0)), std::vector<float>(10, 0.0f));
  EXPECT_EQ(to_vector<float>(bernoulli({10}, 1.0)), std::vector<float>(10, 1.0f));
  EXPECT_THROW(bernoulli({3}, 1.5), Error);
  // Per-element probabilities.
  Tensor probs = tensor(std::vector<float>(50000, 0.8f));
  double m = 0.0;
  for (float v : to_vector<float>(bernoulli(probs))) m += v;
  EXPECT_NEAR(m / 50000.0, 0.8, 0.01);
  Tensor half = tensor(std::vector<float>{0.0f, 1.0f, 0.0f, 1.0f});
  EXPECT_EQ(to_vector<float>(bernoulli(half)), (std::vector<float>{0, 1, 0, 1}));
}

// ---------------------------------------------------------------- host data
TEST(CoreData, TensorFromBlobToVector) {
  Tensor t = tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(to_vector<double>(t), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(tensor(std::vector<double>{1.5}).shape(), Shape{1});  // no shape: 1-D, as torch.tensor([1.5])
  EXPECT_EQ(tensor(std::vector<double>{1.5, 2.5}).shape(), Shape{2});
  EXPECT_EQ(tensor(std::vector<int64_t>{1, 2}).dtype(), kInt64);
  EXPECT_EQ(tensor(std::vector<bool>{true, false}).dtype(), kBool);
  EXPECT_EQ(to_vector<bool>(tensor(std::vector<bool>{true, false})), (std::vector<bool>{true, false}));
  EXPECT_EQ(tensor(std::vector<double>{1.0, 2.0}, {2}, kFloat32).dtype(), kFloat32);
  EXPECT_THROW(tensor(std::vector<float>{1.0f, 2.0f, 3.0f}, {2, 2}), Error);

  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor b = from_blob(buf.data(), {2, 3});
  EXPECT_EQ(b.raw_data(), static_cast<void*>(buf.data()));  // no copy
  buf[4] = 50.0f;
  EXPECT_EQ(to_vector<float>(b)[4], 50.0f);
  Tensor bt = from_blob(buf.data(), {3, 2}, {1, 3}, kFloat32);  // the transpose of b
  EXPECT_FALSE(bt.is_contiguous());
  EXPECT_EQ(to_vector<float>(bt), (std::vector<float>{1, 4, 2, 50, 3, 6}));
  std::vector<double> src = {7, 8};
  Tensor copied = from_data(src.data(), {2}, kFloat64);
  src[0] = 0;
  EXPECT_EQ(to_vector<double>(copied), (std::vector<double>{7, 8}));
  // to_vector converts dtypes.
  EXPECT_EQ(to_vector<int64_t>(tensor(std::vector<float>{1.7f, -1.7f})), (std::vector<int64_t>{1, -1}));
  EXPECT_EQ(to_vector<float>(tensor(std::vector<int64_t>{3, -4})), (std::vector<float>{3.0f, -4.0f}));
}

TEST(CoreData, Item) {
  EXPECT_EQ(tensor(std::vector<double>{2.5}).item<double>(), 2.5);
  EXPECT_EQ(full({}, 3, kInt64).item<int64_t>(), 3);
  EXPECT_TRUE(full({1, 1}, true, kBool).item<bool>());
  EXPECT_FALSE(full({}, false, kBool).item<bool>());
  Scalar s = full({}, 1.25, kFloat16).item();
  EXPECT_TRUE(s.is_floating_point());
  EXPECT_EQ(s.to_double(), 1.25);
  EXPECT_TRUE(full({}, 4, kInt64).item().is_integral());
  const std::string msg = error_message([] { (void)zeros({2, 2}).item(); });
  EXPECT_NE(msg.find("item"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 2]"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- printing
TEST(CorePrint, Format) {
  EXPECT_EQ(tensor(std::vector<float>{1.0f, 2.5f, -3.0f}).str(), "tensor([1.0000, 2.5000, -3.0000])");
  EXPECT_EQ(tensor(std::vector<double>{1.0, 2.0}).str(), "tensor([1.0000, 2.0000], dtype=float64)");
  EXPECT_EQ(tensor(std::vector<int64_t>{1, -2, 3}).str(), "tensor([1, -2, 3])");
  EXPECT_EQ(tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}, {2, 2}).str(),
            "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])");
  EXPECT_EQ(tensor(std::vector<float>{1e-5f, 2e-5f}).str(), "tensor([1.0000e-05, 2.0000e-05])");
  EXPECT_EQ(scalar_tensor(1.0f).str(), "tensor(1.0000)");  // a 0-dim tensor prints without brackets, as in PyTorch
  EXPECT_EQ(tensor(std::vector<float>{1.0f, 2.0f}, {2}).str(), "tensor([1.0000, 2.0000])");
  Tensor nan = tensor(std::vector<float>{std::nanf(""), std::numeric_limits<float>::infinity(), 1.0f});
  EXPECT_EQ(nan.str(), "tensor([nan, inf, 1.0000])");
  EXPECT_NE(tensor(std::vector<float>{1.0f}, {1}, TensorOptions().requires_grad()).str().find("requires_grad=true"),
            std::string::npos);
  Tensor x = tensor(std::vector<double>{1.0, 2.0}, {2}, TensorOptions(kFloat64).requires_grad());
  EXPECT_NE((x * 2.0).str().find("grad_fn=<mul>"), std::string::npos) << (x * 2.0).str();
  EXPECT_NE(full({2}, true, kBool).str().find("dtype=bool"), std::string::npos);
  EXPECT_NE(full({2}, 1.5, kBFloat16).str().find("dtype=bfloat16"), std::string::npos);
  std::ostringstream os;
  os << Tensor();
  EXPECT_EQ(os.str(), "tensor(undefined)");
  // Long tensors are summarised.
  const std::string big = arange(5000).str();
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_LT(big.size(), 200u);
}

// ---------------------------------------------------------------- dtype conversion
TEST(CoreConvert, ToDType) {
  Tensor f = tensor(std::vector<float>{2.7f, -2.7f, 0.0f, 0.4f});
  Tensor i = f.to(kInt64);
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(to_vector<int64_t>(i), (std::vector<int64_t>{2, -2, 0, 0}));  // truncation toward zero
  EXPECT_EQ(to_vector<bool>(f.to(kBool)), (std::vector<bool>{true, true, false, true}));
  EXPECT_TRUE(f.to(kFloat32).is_same(f));  // same dtype: the same tensor
  Tensor d = f.to(kFloat64);
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_EQ(to_vector<double>(d)[0], static_cast<double>(2.7f));
  // float32 -> float16 / bfloat16 round to nearest.
  Tensor h = tensor(std::vector<float>{1.0f + std::ldexp(1.0f, -11), 65520.0f, 0.1f}).to(kFloat16);
  EXPECT_EQ(h.dtype(), kFloat16);
  const std::vector<float> hv = to_vector<float>(h);
  EXPECT_EQ(hv[0], 1.0f);
  EXPECT_TRUE(std::isinf(hv[1]));
  EXPECT_EQ(hv[2], static_cast<float>(Half(0.1f)));
  const std::vector<float> bv =
      to_vector<float>(tensor(std::vector<float>{1.0f + std::ldexp(1.0f, -8), 3.0f}).to(kBFloat16));
  EXPECT_EQ(bv, (std::vector<float>{1.0f, 3.0f}));
  EXPECT_EQ(to_vector<int64_t>(full({2}, true, kBool).to(kInt64)), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(to_vector<double>(tensor(std::vector<int64_t>{-5, 9}).to(kFloat64)), (std::vector<double>{-5.0, 9.0}));
  // Differentiable between floating dtypes: the gradient comes back in the input's dtype.
  Tensor x = tensor(std::vector<float>{1.0f, 2.0f}, {2}, TensorOptions().requires_grad());
  Tensor y = x.to(kFloat64) * 3.0;
  y.backward(ones({2}, kFloat64));
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(x.grad()), (std::vector<float>{3.0f, 3.0f}));
}

TEST(CoreTensor, MetadataAndViewsShareStorage) {
  Tensor t = arange(0, 6, 1, kFloat32).view({2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  Tensor tt = t.t();
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.strides(), (Shape{1, 3}));
  EXPECT_EQ(to_vector<float>(tt), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(tt.storage(), t.storage());
  EXPECT_EQ(tt.version(), t.version());
  const uint64_t v = t.version();
  tt.fill_(1.0);
  EXPECT_EQ(t.version(), v + 1);  // views share the version counter
  EXPECT_EQ(to_vector<float>(t), std::vector<float>(6, 1.0f));
  Tensor c = tt.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), t.storage());
  Tensor n = tensor(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}).narrow(0, 1, 2);
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_EQ(to_vector<float>(n), (std::vector<float>{2.0f, 3.0f}));
  EXPECT_EQ(n.clone().storage_offset(), 0);
}

TEST(CoreTestSupport, NoncontiguousCopiesAndDiffs) {
  Tensor t = tensor(std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor nc = tangent::testing::make_noncontiguous(t);
  EXPECT_FALSE(nc.is_contiguous());
  EXPECT_EQ(nc.shape(), t.shape());
  EXPECT_EQ(to_vector<double>(nc), to_vector<double>(t));
  EXPECT_NE(nc.storage(), t.storage());
  EXPECT_EQ(tangent::testing::max_abs_diff(nc, t), 0.0);
  EXPECT_EQ(tangent::testing::max_abs_diff(t, tensor(std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.5}, {2, 3})), 0.5);
  EXPECT_TRUE(tangent::testing::all_close(t, nc));
  EXPECT_FALSE(tangent::testing::all_close(t, tensor(std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.5}, {2, 3})));
  Tensor i = tangent::testing::make_noncontiguous(tensor(std::vector<int64_t>{3, 4, 5}));
  EXPECT_FALSE(i.is_contiguous());
  EXPECT_EQ(to_vector<int64_t>(i), (std::vector<int64_t>{3, 4, 5}));
}

// An Error thrown inside parallel_for, on a worker thread or on every thread, reaches the caller (an exception
// leaving an OpenMP region would terminate the process); the other chunks still run to completion.
TEST(Parallel, ExceptionInsideParallelForReachesTheCaller) {
  const int saved = get_num_threads();
  set_num_threads(4);
  const int64_t n = 4 * kParallelGrain;
  std::atomic<int64_t> covered{0};
  tangent::testing::expect_error(
      [&] {
        parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
          covered += e - b;
          if (b > 0) TANGENT_FAIL("kernel: chunk [", b, ", ", e, ") failed");
        });
      },
      {"kernel: chunk [", ") failed"});
  EXPECT_EQ(covered.load(), n);
  EXPECT_EQ(error_message(
                [&] { parallel_for(n, kParallelGrain, [](int64_t, int64_t) { TANGENT_FAIL("every chunk fails"); }); }),
            "every chunk fails");
  // A std::exception that is not an Error comes through as itself.
  EXPECT_THROW(parallel_for(n, kParallelGrain,
                            [](int64_t b, int64_t) {
                              if (b == 0) throw std::out_of_range("first chunk");
                            }),
               std::out_of_range);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), n);
  set_num_threads(saved);
}
