// Linear algebra suite: matmul (2-D, batched, broadcast, 1-D, transposed and odd-strided operands, every floating
// dtype), mm, bmm, linear (fused bias, N-D input), addmm, against naive loops; error messages; gradients
// (gradcheck and gradgradcheck in float64).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::error_message;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;

namespace {

// Naive NumPy-style matmul of two tensors that are at least 2-D (batch dims broadcast), in double.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const std::vector<double> av = to_vector<double>(a), bv = to_vector<double>(b);
  const int64_t na = a.dim(), nb = b.dim();
  const int64_t M = a.size(na - 2), K = a.size(na - 1), N = b.size(nb - 1);
  const size_t nd = static_cast<size_t>(std::max(na, nb) - 2);
  // Batch shapes right-aligned to nd dims.
  std::vector<int64_t> ba(nd, 1), bb(nd, 1), batch(nd, 1);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t da = static_cast<int64_t>(i) - static_cast<int64_t>(nd) + (na - 2);
    const int64_t db = static_cast<int64_t>(i) - static_cast<int64_t>(nd) + (nb - 2);
    ba[i] = da >= 0 ? a.size(da) : 1;
    bb[i] = db >= 0 ? b.size(db) : 1;
    batch[i] = std::max(ba[i], bb[i]);
  }
  int64_t nbatch = 1;
  for (int64_t s : batch) nbatch *= s;
  std::vector<double> out(static_cast<size_t>(nbatch * M * N), 0.0);
  for (int64_t t = 0; t < nbatch; ++t) {
    int64_t rem = t, oa = 0, ob = 0, sa = 1, sb = 1;
    for (size_t i = nd; i-- > 0;) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      oa += (ba[i] == 1 ? 0 : idx) * sa;
      ob += (bb[i] == 1 ? 0 : idx) * sb;
      sa *= ba[i];
      sb *= bb[i];
    }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += av[static_cast<size_t>((oa * M + i) * K + k)] * bv[static_cast<size_t>((ob * K + k) * N + j)];
        out[static_cast<size_t>((t * M + i) * N + j)] = acc;
      }
  }
  std::vector<int64_t> shape(batch);
  shape.push_back(M);
  shape.push_back(N);
  return tensor(out, Shape(shape));
}

// Checks that got (any dtype) matches want (double) within a relative tolerance scaled by the largest value.
void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<double> g = to_vector<double>(got), w = to_vector<double>(want);
  double scale = 1.0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], tol * scale) << "at flat index " << i;
}

}  // namespace

// ---------------------------------------------------------------- values
TEST(Matmul, TwoDimensionalAgainstNaiveLoops) {
  manual_seed(1);
  const std::vector<std::vector<int64_t>> sizes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 1, 128}, {5, 130, 300}};
  for (const auto& s : sizes) {
    const Tensor a = randn({s[0], s[1]}), b = randn({s[1], s[2]});
    expect_close(matmul(a, b), naive_matmul(a, b), 1e-5);
    expect_close(mm(a, b), naive_matmul(a, b), 1e-5);
  }
}

TEST(Matmul, TransposedAndStridedOperands) {
  manual_seed(2);
  const Tensor at = randn({6, 4}), bt = randn({5, 6});
  // Transposed views (column-major) go to the GEMM without a copy.
  const Tensor a = at.t(), b = bt.t();
  ASSERT_FALSE(a.is_contiguous());
  expect_close(matmul(a, b), naive_matmul(a.contiguous(), b.contiguous()), 1e-5);
  // Every-other-element slices: neither row- nor column-major.
  const Tensor big = randn({8, 12});
  const Tensor s = big.slice(0, 0, 8, 2).slice(1, 0, 12, 2);  // [4, 6], strides (24, 2)
  expect_close(matmul(s, b), naive_matmul(s.contiguous(), b.contiguous()), 1e-5);
  // A broadcast (stride-0) row.
  const Tensor row = randn({1, 6}).expand({3, 6});
  expect_close(matmul(row, b), naive_matmul(row.contiguous(), b.contiguous()), 1e-5);
  // Transposed batched operand.
  const Tensor c = randn({2, 5, 3}).transpose(1, 2);  // [2, 3, 5]
  const Tensor d = randn({2, 4, 5}).transpose(1, 2);  // [2, 5, 4]
  expect_close(matmul(c, d), naive_matmul(c.contiguous(), d.contiguous()), 1e-5);
}

// One float32 row times a matrix (a decoding step's projections) runs as a GEMV on the operands where they are: every
// layout of the row, the matrix and the bias, and no stale output when there is no bias.
TEST(Matmul, SingleRowInEveryLayout) {
  manual_seed(12);
  const int64_t K = 130, N = 300;
  const Tensor wide = randn({3, 2 * K + 4});
  const std::vector<Tensor> rows = {randn({1, K}), narrow(wide, 1, 3, K).narrow(0, 1, 1),  // offset, long rows
                                    wide.slice(1, 0, 2 * K, 2).narrow(0, 2, 1),            // column stride 2
                                    randn({K, 5}).narrow(1, 2, 1).t()};                    // a column, transposed
  const Tensor bias_wide = randn({2 * N});
  const std::vector<Tensor> mats = {randn({K, N}), randn({N, K}).t(), narrow(randn({K, N + 7}), 1, 7, N)};
  for (const Tensor& a : rows)
    for (const Tensor& b : mats) {
      const Tensor want = naive_matmul(a.contiguous(), b.contiguous());
      expect_close(matmul(a, b), want, 1e-5);
      const Tensor bias = bias_wide.slice(0, 0, 2 * N, 2);
      expect_close(addmm(bias, a, b), want + bias.contiguous(), 1e-5);
      expect_close(linear(a, b.t(), bias), want + bias.contiguous(), 1e-5);
      expect_close(matmul(a, b), want, 1e-5);  // a recycled output buffer that held the biased result
    }
}

TEST(Matmul, BatchedAndBroadcast) {
  manual_seed(3);
  const Tensor a = randn({2, 1, 3, 4}), b = randn({5, 4, 6});
  const Tensor y = matmul(a, b);
  EXPECT_EQ(y.shape(), Shape({2, 5, 3, 6}));
  expect_close(y, naive_matmul(a, b), 1e-5);
  // Batch against a plain matrix (folded into one GEMM) and the reverse.
  const Tensor x = randn({2, 3, 7, 4}), w = randn({4, 5});
  expect_close(matmul(x, w), naive_matmul(x, w), 1e-5);
  const Tensor m = randn({7, 2}), z = randn({3, 2, 5});
  expect_close(matmul(m, z), naive_matmul(m, z), 1e-5);
  // Permuted batch dims that cannot be merged into one batch stride.
  const Tensor p = randn({3, 2, 4, 5}).transpose(0, 1);  // [2, 3, 4, 5]
  const Tensor q = randn({2, 3, 5, 2});
  expect_close(matmul(p, q), naive_matmul(p.contiguous(), q), 1e-5);
  // Both operands broadcast over the batch.
  const Tensor u = randn({1, 3, 4}).expand({4, 3, 4}), v = randn({1, 4, 2}).expand({4, 4, 2});
  expect_close(bmm(u, v), naive_matmul(u.contiguous(), v.contiguous()), 1e-5);
  const Tensor e = randn({3, 4, 5}), f = randn({3, 5, 6});
  expect_close(bmm(e, f), naive_matmul(e, f), 1e-5);
}

TEST(Matmul, OneDimensionalOperands) {
  manual_seed(4);
  const Tensor v = randn({5}), w = randn({5}), m = randn({5, 3}), n = randn({4, 5}), bm = randn({2, 5, 3});
  const Tensor dot = matmul(v, w);
  EXPECT_EQ(dot.dim(), 0);
  double want = 0;
  const auto vv = to_vector<double>(v), wv = to_vector<double>(w);
  for (size_t i = 0; i < 5; ++i) want += vv[i] * wv[i];
  EXPECT_NEAR(dot.item<double>(), want, 1e-5);
  const Tensor vm = matmul(v, m);
  EXPECT_EQ(vm.shape(), Shape({3}));
  expect_close(vm, naive_matmul(v.reshape({1, 5}), m).reshape({3}), 1e-5);
  const Tensor mv = matmul(n, v);
  EXPECT_EQ(mv.shape(), Shape({4}));
  expect_close(mv, naive_matmul(n, v.reshape({5, 1})).reshape({4}), 1e-5);
  const Tensor bv = matmul(v, bm);
  EXPECT_EQ(bv.shape(), Shape({2, 3}));
  expect_close(bv, naive_matmul(v.reshape({1, 5}), bm).reshape({2, 3}), 1e-5);
}

TEST(Matmul, Float64AndHalfDtypes) {
  manual_seed(5);
  // float64 runs on our own blocked GEMM: cover partial row blocks and several column chunks.
  const std::vector<std::vector<int64_t>> sizes = {{1, 1, 1}, {9, 17, 300}, {6, 64, 513}};
  for (const auto& s : sizes) {
    const Tensor a = randn({s[0], s[1]}, kFloat64), b = randn({s[1], s[2]}, kFloat64);
    expect_close(matmul(a, b), naive_matmul(a, b), 1e-12);
    expect_close(matmul(b.t(), a.t()), naive_matmul(b.t().contiguous(), a.t().contiguous()), 1e-12);
  }
  const Tensor a = randn({2, 3, 4}, kFloat64), b = randn({4, 5}, kFloat64), bias = randn({5}, kFloat64);
  expect_close(linear(a, b.t(), bias), naive_matmul(a, b) + bias, 1e-12);
  for (DType dt : {kFloat16, kBFloat16}) {
    const Tensor x = randn({7, 9}).to(dt), y = randn({9, 4}).to(dt);
    const Tensor z = matmul(x, y);
    EXPECT_EQ(z.dtype(), dt);
    expect_close(z, naive_matmul(x, y), dt == kFloat16 ? 1e-2 : 3e-2);
  }
}

TEST(Matmul, EmptyInnerDimensionGivesZerosOrBias) {
  const Tensor a = zeros({3, 0}), b = zeros({0, 4});
  const Tensor y = matmul(a, b);
  EXPECT_EQ(y.shape(), Shape({3, 4}));
  EXPECT_EQ(to_vector<double>(y), std::vector<double>(12, 0.0));
  const Tensor bias = tensor(std::vector<float>{1.f, 2.f, 3.f, 4.f});
  const auto lv = to_vector<double>(linear(a, zeros({4, 0}), bias));
  EXPECT_EQ(lv, std::vector<double>({1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}));
  EXPECT_EQ(matmul(zeros({0, 3}), zeros({3, 2})).shape(), Shape({0, 2}));
}

TEST(Matmul, RepeatedCallsReuseThePrimitiveAndStayCorrect) {
  manual_seed(6);
  const Tensor b = randn({8, 8});
  for (int i = 0; i < 5; ++i) {
    const Tensor a = randn({8, 8});
    expect_close(matmul(a, b), naive_matmul(a, b), 1e-5);
    expect_close(matmul(a.t(), b), naive_matmul(a.t().contiguous(), b), 1e-5);
  }
}

TEST(Linear, FusedBiasAndLeadingDims) {
  manual_seed(7);
  const Tensor x = randn({2, 3, 6}), w = randn({4, 6}), bias = randn({4});
  const Tensor y = linear(x, w, bias);
  EXPECT_EQ(y.shape(), Shape({2, 3, 4}));
  expect_close(y, naive_matmul(x, w.t().contiguous()) + bias, 1e-5);
  expect_close(linear(x, w), naive_matmul(x, w.t().contiguous()), 1e-5);
  // 1-D input, transposed (non-foldable) input, transposed weight.
  const Tensor v = randn({6});
  expect_close(linear(v, w, bias), (naive_matmul(v.reshape({1, 6}), w.t().contiguous()) + bias).reshape({4}), 1e-5);
  const Tensor xt = randn({6, 3, 2}).permute({2, 1, 0});  // [2, 3, 6], not foldable
  expect_close(linear(xt, w, bias), naive_matmul(xt.contiguous(), w.t().contiguous()) + bias, 1e-5);
  const Tensor wt = randn({6, 4}).t();
  expect_close(linear(x, wt, bias), naive_matmul(x, wt.t().contiguous()) + bias, 1e-5);
}

TEST(Addmm, ScalesAndFusedBias) {
  manual_seed(8);
  const Tensor a = randn({3, 5}), b = randn({5, 4}), bias = randn({4}), full = randn({3, 4});
  const Tensor ab = naive_matmul(a, b);
  expect_close(addmm(bias, a, b), ab + bias, 1e-5);
  expect_close(addmm(full, a, b, 0.5, 2.0), ab * 2.0 + full * 0.5, 1e-5);
  const Tensor nan_in = full_like(full, std::nan(""));
  expect_close(addmm(nan_in, a, b, 0.0, 1.0), ab, 1e-5);  // beta = 0 ignores the input
}

// ---------------------------------------------------------------- errors
TEST(LinalgErrors, MessagesNameTheOpAndShapes) {
  const std::string m = error_message([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_NE(m.find("matmul"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
  const std::string l = error_message([] { linear(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_NE(l.find("linear"), std::string::npos) << l;
  EXPECT_NE(l.find("[4, 5]"), std::string::npos) << l;
  const std::string lb = error_message([] { linear(zeros({2, 5}), zeros({4, 5}), zeros({3})); });
  EXPECT_NE(lb.find("bias"), std::string::npos) << lb;
  EXPECT_NE(error_message([] { mm(zeros({2, 3, 4}), zeros({4, 5})); }).find("mm: expected 2-D"), std::string::npos);
  EXPECT_NE(error_message([] { bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }).find("bmm"), std::string::npos);
  const std::string d = error_message([] { matmul(zeros({2, 3}), zeros({3, 4}, kFloat64)); });
  EXPECT_NE(d.find("float64"), std::string::npos) << d;
  EXPECT_NE(error_message([] { matmul(zeros({}), zeros({3})); }).find("at least 1-D"), std::string::npos);
  const std::string bb = error_message([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); });
  EXPECT_NE(bb.find("matmul"), std::string::npos) << bb;
  EXPECT_NE(error_message([] { addmm(zeros({5, 4}), zeros({3, 5}), zeros({5, 4})); }).find("addmm"), std::string::npos);
}

// ---------------------------------------------------------------- gradients
TEST(LinalgGrad, MatmulVariants) {
  manual_seed(9);
  auto mm2 = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  const std::vector<std::vector<Shape>> cases = {
      {{3, 4}, {4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{4}, {4, 3}},      {{3, 4}, {4}},
      {{4}, {4}},       {{3, 4}, {2, 4, 2}},       {{2, 3, 4}, {4, 2}}};
  for (const auto& c : cases) {
    const std::vector<Tensor> in = {randn(c[0], kFloat64).requires_grad_(), randn(c[1], kFloat64).requires_grad_()};
    EXPECT_TRUE(gradcheck(mm2, in)) << c[0] << " @ " << c[1];
    EXPECT_TRUE(gradgradcheck(mm2, in)) << c[0] << " @ " << c[1];
  }
}

TEST(LinalgGrad, GradientValuesMatchFormulas) {
  manual_seed(10);
  const Tensor a = randn({3, 4}, kFloat64).requires_grad_(), b = randn({4, 2}, kFloat64).requires_grad_();
  matmul(a, b).backward(ones({3, 2}, kFloat64));
  // d/da sum(a @ b) = 1 @ b^T: every row is the row sums of b.
  const auto bv = to_vector<double>(b), ga = to_vector<double>(a.grad());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) EXPECT_NEAR(ga[static_cast<size_t>(i * 4 + k)], bv[2 * k] + bv[2 * k + 1], 1e-12);
}

TEST(LinalgGrad, LinearAndAddmm) {
  manual_seed(11);
  auto lin = [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); };
  EXPECT_TRUE(gradcheck(lin, {randn({2, 3, 4}, kFloat64).requires_grad_(), randn({5, 4}, kFloat64).requires_grad_(),
                              randn({5}, kFloat64).requires_grad_()}));
  EXPECT_TRUE(gradgradcheck(lin, {randn({3, 4}, kFloat64).requires_grad_(), randn({5, 4}, kFloat64).requires_grad_(),
                                  randn({5}, kFloat64).requires_grad_()}));
  auto lin_nobias = [](const std::vector<Tensor>& x) { return linear(x[0], x[1]); };
  EXPECT_TRUE(gradcheck(lin_nobias, {randn({4}, kFloat64).requires_grad_(), randn({2, 4}, kFloat64).requires_grad_()}));
  auto am = [](const std::vector<Tensor>& x) { return addmm(x[0], x[1], x[2]); };
  const std::vector<Tensor> in = {randn({4}, kFloat64).requires_grad_(), randn({3, 2}, kFloat64).requires_grad_(),
                                  randn({2, 4}, kFloat64).requires_grad_()};
  EXPECT_TRUE(gradcheck(am, in));
  EXPECT_TRUE(gradgradcheck(am, in));
  auto am2 = [](const std::vector<Tensor>& x) { return addmm(x[0], x[1], x[2], 0.5, -2.0); };
  EXPECT_TRUE(gradcheck(am2, {randn({3, 4}, kFloat64).requires_grad_(), randn({3, 2}, kFloat64).requires_grad_(),
                              randn({2, 4}, kFloat64).requires_grad_()}));
}
