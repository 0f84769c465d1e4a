// Attention suite (softmax and sigmoid kinds): golden values (docs in /work/shared/notes/attention.md section 5),
// invariants (shift, zero query, LSE merge of key halves, bias limits, huge logits, fully masked rows), the fused
// CPU kernel against the unfused reference (forward and all three gradients, odd lengths, causal, padding, GQA),
// float64 gradcheck and gradgradcheck of the fused path, and bad-input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "ops/attention.h"

#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::error_message;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;
using tangent::testing::max_abs_diff;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// [1, 1, rows, cols] from row-major values.
Tensor mat(const std::vector<double>& v, int64_t rows, int64_t cols, DType dt = DType::Float64) {
  return tensor(v, {1, 1, rows, cols}).to(dt);
}

Tensor golden_q(DType dt) { return mat({1, 0, 0, 1, 1, 1, -1, .5}, 4, 2, dt); }
Tensor golden_k(DType dt) { return mat({1, 0, 0, 1, .5, -1, 1, 1}, 4, 2, dt); }
Tensor golden_v(DType dt) { return mat({1, 2, 3, 4, 5, 6, 7, 8}, 4, 2, dt); }

AttentionOptions opts(AttentionKind kind, bool causal, bool fused) {
  AttentionOptions o;
  o.kind = kind;
  o.causal = causal;
  o.fused = fused;
  return o;
}

class BothPaths : public ::testing::TestWithParam<bool> {};  // param: fused

TEST_P(BothPaths, SoftmaxGolden) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float32 ? 2e-5 : 1e-6;
    auto [o, lse] =
        attention_with_lse(golden_q(dt), golden_k(dt), golden_v(dt), opts(AttentionKind::Softmax, true, GetParam()));
    EXPECT_TRUE(
        all_close(o, mat({1, 2, 2.339523, 3.339523, 2.442703, 3.442703, 3.902427, 4.902427}, 4, 2, dt), 0, tol));
    EXPECT_TRUE(
        all_close(lse, tensor(std::vector<double>{0.707107, 1.107940, 1.559915, 1.135409}, {1, 1, 4}).to(dt), 0, tol));
    EXPECT_TRUE(all_close(scaled_dot_product_attention(golden_q(dt), golden_k(dt), golden_v(dt),
                                                       opts(AttentionKind::Softmax, true, GetParam())),
                          o, 0, 1e-6));
    auto [o2, lse2] =
        attention_with_lse(golden_q(dt), golden_k(dt), golden_v(dt), opts(AttentionKind::Softmax, false, GetParam()));
    EXPECT_NEAR(to_vector<double>(o2)[0], 4.065447, tol);
    EXPECT_NEAR(to_vector<double>(o2)[1], 5.065447, tol);
    EXPECT_NEAR(to_vector<double>(lse2)[0], 1.868774, tol);
  }
}

TEST_P(BothPaths, SigmoidGolden) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float32 ? 2e-5 : 1e-6;
    AttentionOptions o = opts(AttentionKind::Sigmoid, true, GetParam());
    o.sigmoid_bias = 0.0;
    EXPECT_TRUE(all_close(
        scaled_dot_product_attention(golden_q(dt), golden_k(dt), golden_v(dt), o),
        mat({0.669762, 1.339523, 2.509285, 3.679046, 4.741651, 6.493695, 6.631515, 8.291992}, 4, 2, dt), 0, tol));
    o.sigmoid_bias = std::nan("");  // default -ln(Lk) = -ln 4
    EXPECT_TRUE(all_close(
        scaled_dot_product_attention(golden_q(dt), golden_k(dt), golden_v(dt), o),
        mat({0.336443, 0.672885, 1.209328, 1.745771, 2.092432, 2.914650, 2.491424, 3.122789}, 4, 2, dt), 0, tol));
  }
}

// Adding c to every logit (an extra feature: q' = [q, c], k' = [k, 1], scale 1) leaves softmax's O unchanged and
// shifts its LSE by c; for sigmoid it is the same as adding c to the bias.
TEST_P(BothPaths, LogitShift) {
  const double c = 2.5;
  Generator gen(7);
  const Tensor q = randn({2, 2, 9, 4}, kFloat64, &gen), k = randn({2, 2, 11, 4}, kFloat64, &gen),
               v = randn({2, 2, 11, 4}, kFloat64, &gen);
  const Tensor q2 = cat({q, full({2, 2, 9, 1}, c, kFloat64)}, 3), k2 = cat({k, ones({2, 2, 11, 1}, kFloat64)}, 3),
               v2 = cat({v, zeros({2, 2, 11, 1}, kFloat64)}, 3);
  for (bool causal : {false, true}) {
    AttentionOptions o = opts(AttentionKind::Softmax, causal, GetParam());
    o.scale = 1.0;
    auto [o1, l1] = attention_with_lse(q, k, v, o);
    auto [o2, l2] = attention_with_lse(q2, k2, v2, o);
    EXPECT_TRUE(all_close(narrow(o2, 3, 0, 4), o1, 0, 1e-10));
    EXPECT_TRUE(all_close(l2, add(l1, c), 0, 1e-10));
    o.kind = AttentionKind::Sigmoid;
    o.sigmoid_bias = -1.0;
    const Tensor s2 = scaled_dot_product_attention(q2, k2, v2, o);
    o.sigmoid_bias = -1.0 + c;
    EXPECT_TRUE(all_close(narrow(s2, 3, 0, 4), scaled_dot_product_attention(q, k, v, o), 0, 1e-10));
  }
}

// Q = 0: softmax gives the mean of the allowed V rows; sigmoid gives sigmoid(b) times their sum.
TEST_P(BothPaths, ZeroQuery) {
  Generator gen(3);
  const int64_t L = 6;
  const Tensor q = zeros({2, 1, L, 3}, kFloat64), k = randn({2, 1, L, 3}, kFloat64, &gen),
               v = randn({2, 1, L, 3}, kFloat64, &gen);
  AttentionOptions o = opts(AttentionKind::Softmax, true, GetParam());
  o.key_padding_mask = tensor(std::vector<bool>{false, false, false, false, false, false,  //
                                                false, true, false, false, true, false},
                              {2, L});
  const std::vector<bool> pad = to_vector<bool>(o.key_padding_mask);
  const std::vector<double> vv = to_vector<double>(v);
  const double bias = -0.7;
  std::vector<double> mean(2 * L * 3), sig(2 * L * 3);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < L; ++i)
      for (int64_t d = 0; d < 3; ++d) {
        double s = 0;
        int n = 0;
        for (int64_t j = 0; j <= i; ++j)
          if (!pad[b * L + j]) s += vv[(b * L + j) * 3 + d], ++n;
        mean[(b * L + i) * 3 + d] = s / n;
        sig[(b * L + i) * 3 + d] = s / (1 + std::exp(-bias));
      }
  EXPECT_TRUE(all_close(scaled_dot_product_attention(q, k, v, o), tensor(mean, {2, 1, L, 3}), 0, 1e-12));
  o.kind = AttentionKind::Sigmoid;
  o.sigmoid_bias = bias;
  EXPECT_TRUE(all_close(scaled_dot_product_attention(q, k, v, o), tensor(sig, {2, 1, L, 3}), 0, 1e-12));
}

// (O, LSE) of two disjoint key halves merge into the whole: the identity MoBA's split computation relies on.
TEST_P(BothPaths, LseMergeOfKeyHalves) {
  Generator gen(11);
  const Tensor q = randn({1, 2, 70, 16}, kFloat64, &gen), k = randn({1, 2, 130, 16}, kFloat64, &gen),
               v = randn({1, 2, 130, 16}, kFloat64, &gen);
  const AttentionOptions o = opts(AttentionKind::Softmax, false, GetParam());
  auto [oa, la] = attention_with_lse(q, narrow(k, 2, 0, 57), narrow(v, 2, 0, 57), o);
  auto [ob, lb] = attention_with_lse(q, narrow(k, 2, 57, 73), narrow(v, 2, 57, 73), o);
  auto [of, lf] = attention_with_lse(q, k, v, o);
  const Tensor l = logsumexp(stack({la, lb}, 0), {0});
  const Tensor merged = add(mul(exp(unsqueeze(sub(la, l), -1)), oa), mul(exp(unsqueeze(sub(lb, l), -1)), ob));
  EXPECT_TRUE(all_close(l, lf, 0, 1e-12));
  EXPECT_TRUE(all_close(merged, of, 0, 1e-12));
  // The notes' golden row 3: keys {0, 1} and {2, 3} of the causal example.
  auto [o1, l1] = attention_with_lse(golden_q(kFloat64), narrow(golden_k(kFloat64), 2, 0, 2),
                                     narrow(golden_v(kFloat64), 2, 0, 2), o);
  auto [o2, l2] = attention_with_lse(golden_q(kFloat64), narrow(golden_k(kFloat64), 2, 2, 2),
                                     narrow(golden_v(kFloat64), 2, 2, 2), o);
  const Tensor l12 = logsumexp(stack({l1, l2}, 0), {0});
  const Tensor m12 = add(mul(exp(unsqueeze(sub(l1, l12), -1)), o1), mul(exp(unsqueeze(sub(l2, l12), -1)), o2));
  EXPECT_NEAR(to_vector<double>(l12)[3], 1.135409, 1e-6);
  EXPECT_NEAR(to_vector<double>(m12)[6], 3.902427, 1e-6);
  EXPECT_NEAR(to_vector<double>(m12)[7], 4.902427, 1e-6);
}

TEST_P(BothPaths, SigmoidBiasMinusInfinityGivesZero) {
  Generator gen(5);
  // 37 keys: the vectorised rows and their scalar tails.
  const Tensor q = randn({1, 2, 37, 4}, kFloat32, &gen), k = randn({1, 2, 37, 4}, kFloat32, &gen),
               v = randn({1, 2, 37, 4}, kFloat32, &gen);
  AttentionOptions o = opts(AttentionKind::Sigmoid, true, GetParam());
  o.sigmoid_bias = -kInf;
  const Tensor out = scaled_dot_product_attention(q, k, v, o);
  EXPECT_EQ(max_abs_diff(out, zeros_like(out)), 0.0);
  // Every key padded: exactly 0 as well.
  o.sigmoid_bias = 0.0;
  o.key_padding_mask = ones({1, 37}, DType::Bool);
  const Tensor masked = scaled_dot_product_attention(q, k, v, o);
  EXPECT_EQ(max_abs_diff(masked, zeros_like(masked)), 0.0);
}

TEST_P(BothPaths, HugeLogitsStayFinite) {
  // Logits of about +-1e4: softmax picks the best key, no inf or NaN anywhere (forward or gradients).
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    Tensor q = mul(golden_q(kFloat32), 100.0).requires_grad_();
    Tensor k = mul(golden_k(kFloat32), 100.0).requires_grad_();
    Tensor v = golden_v(kFloat32).requires_grad_();
    AttentionOptions o = opts(kind, false, GetParam());
    o.scale = 1.0;
    const Tensor out = scaled_dot_product_attention(q, k, v, o);
    const auto grads = autograd::grad({out}, {q, k, v}, {ones_like(out)});
    EXPECT_FALSE(any(isnan(out)));
    for (const Tensor& g : grads) EXPECT_FALSE(any(isnan(g)));
    EXPECT_TRUE(std::isfinite(to_vector<double>(sum(abs(out)))[0]));
    if (kind == AttentionKind::Softmax) {  // row 0 = [1, 0] . keys: key 3 = [1, 1] and key 0 tie at 1e4 -> mean
      EXPECT_TRUE(all_close(narrow(out, 2, 0, 1), mat({4, 5}, 1, 2, DType::Float32), 0, 1e-4));
    }
  }
}

// A row with every key masked outputs 0 (LSE +inf) and passes back zero, finite gradients.
TEST_P(BothPaths, FullyMaskedRows) {
  Generator gen(9);
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    for (bool causal : {false, true}) {
      Tensor q = randn({2, 2, 5, 3}, kFloat64, &gen).requires_grad_();
      Tensor k = randn({2, 2, 5, 3}, kFloat64, &gen).requires_grad_();
      Tensor v = randn({2, 2, 5, 3}, kFloat64, &gen).requires_grad_();
      AttentionOptions o = opts(kind, causal, GetParam());
      // Batch 0: key 0 and 1 padded (causal rows 0 and 1 see nothing); batch 1: every key padded.
      o.key_padding_mask =
          tensor(std::vector<bool>{true, true, false, false, false, true, true, true, true, true}, {2, 5});
      const Tensor out = scaled_dot_product_attention(q, k, v, o);
      EXPECT_EQ(max_abs_diff(select(out, 0, 1), zeros({2, 5, 3}, kFloat64)), 0.0);
      if (causal) {
        EXPECT_EQ(max_abs_diff(narrow(select(out, 0, 0), 1, 0, 2), zeros({2, 2, 3}, kFloat64)), 0.0);
      }
      const auto grads = autograd::grad({out}, {q, k, v}, {ones_like(out)});
      for (const Tensor& g : grads) EXPECT_FALSE(any(isnan(g)));
      EXPECT_EQ(max_abs_diff(select(grads[0], 0, 1), zeros({2, 5, 3}, kFloat64)), 0.0);
      if (kind == AttentionKind::Softmax) {
        auto [o2, lse] = attention_with_lse(q, k, v, o);
        for (double l : to_vector<double>(select(lse, 0, 1))) EXPECT_EQ(l, kInf);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Attention, BothPaths, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Fused" : "Reference"; });

struct Case {
  int64_t B, H, Hkv, Lq, Lk, D;
  bool causal, pad;
};

// The fused kernel against the reference: forward and dq, dk, dv (float32), on lengths that do not divide tiles.
TEST(Attention, FusedMatchesReference) {
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 8, false, false},     {1, 1, 1, 1, 1, 8, true, false},     {2, 4, 2, 7, 7, 16, true, true},
      {1, 2, 1, 65, 65, 32, true, false},   {1, 2, 1, 65, 65, 32, false, true},  {1, 2, 2, 129, 200, 64, false, true},
      {1, 2, 2, 129, 200, 64, true, false}, {2, 4, 1, 200, 129, 24, true, true}, {1, 1, 1, 130, 130, 64, true, true},
  };
  Generator gen(21);
  for (const Case& c : cases) {
    for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
      SCOPED_TRACE(std::string(attention_kind_name(kind)) + " B" + std::to_string(c.B) + " H" + std::to_string(c.H) +
                   " Hkv" + std::to_string(c.Hkv) + " Lq" + std::to_string(c.Lq) + " Lk" + std::to_string(c.Lk) + " D" +
                   std::to_string(c.D) + (c.causal ? " causal" : "") + (c.pad ? " pad" : ""));
      Tensor q = randn({c.B, c.H, c.Lq, c.D}, kFloat32, &gen).requires_grad_();
      Tensor k = randn({c.B, c.Hkv, c.Lk, c.D}, kFloat32, &gen).requires_grad_();
      Tensor v = randn({c.B, c.Hkv, c.Lk, c.D}, kFloat32, &gen).requires_grad_();
      const Tensor g = randn({c.B, c.H, c.Lq, c.D}, kFloat32, &gen);
      AttentionOptions o = opts(kind, c.causal, true);
      if (c.pad) o.key_padding_mask = gt(rand({c.B, c.Lk}, kFloat32, &gen), 0.7);
      const Tensor fused = scaled_dot_product_attention(q, k, v, o);
      const auto gf = autograd::grad({fused}, {q, k, v}, {g});
      const Tensor ref = attention_reference(q, k, v, o);
      const auto gr = autograd::grad({ref}, {q, k, v}, {g});
      EXPECT_TRUE(all_close(fused, ref, 1e-4, 1e-4));
      for (int i = 0; i < 3; ++i) EXPECT_TRUE(all_close(gf[i], gr[i], 1e-4, 2e-4)) << "gradient " << i;
    }
  }
}

// Several threads split the work differently (query tiles forward, key tiles backward with per-thread dQ buffers):
// same results as one thread, up to summation order.
TEST(Attention, ThreadCountDoesNotChangeResults) {
  Generator gen(29);
  Tensor q = randn({2, 4, 150, 32}, kFloat32, &gen).requires_grad_();
  Tensor k = randn({2, 2, 150, 32}, kFloat32, &gen).requires_grad_();
  Tensor v = randn({2, 2, 150, 32}, kFloat32, &gen).requires_grad_();
  const Tensor g = randn({2, 4, 150, 32}, kFloat32, &gen);
  const int saved = get_num_threads();
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    const AttentionOptions o = opts(kind, true, true);
    std::vector<std::vector<Tensor>> results;
    for (int threads : {1, 3}) {
      set_num_threads(threads);
      const Tensor out = scaled_dot_product_attention(q, k, v, o);
      std::vector<Tensor> r = autograd::grad({out}, {q, k, v}, {g});
      r.push_back(out);
      results.push_back(r);
    }
    set_num_threads(saved);
    for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(all_close(results[1][i], results[0][i], 1e-5, 1e-5)) << i;
  }
}

// D = rowsum(dO * O) equals rowsum(P * dP): the identity the softmax backward uses.
TEST(Attention, SoftmaxBackwardDeltaIdentity) {
  Generator gen(4);
  const Tensor q = randn({1, 1, 6, 3}, kFloat64, &gen), k = randn({1, 1, 6, 3}, kFloat64, &gen),
               v = randn({1, 1, 6, 3}, kFloat64, &gen), dO = randn({1, 1, 6, 3}, kFloat64, &gen);
  const Tensor p = softmax(mul(matmul(q, transpose(k, -2, -1)), 1 / std::sqrt(3.0)), -1);
  const Tensor o = scaled_dot_product_attention(q, k, v);
  EXPECT_TRUE(all_close(sum(mul(dO, o), {-1}), sum(mul(p, matmul(dO, transpose(v, -2, -1))), {-1}), 0, 1e-12));
}

TEST(Attention, GradcheckFusedFloat64) {
  Generator gen(13);
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    for (bool causal : {false, true}) {
      const Tensor q = randn({1, 2, 5, 3}, kFloat64, &gen).requires_grad_();
      const Tensor k = randn({1, 1, 7, 3}, kFloat64, &gen).requires_grad_();
      const Tensor v = randn({1, 1, 7, 3}, kFloat64, &gen).requires_grad_();
      AttentionOptions o = opts(kind, causal, true);
      o.key_padding_mask = tensor(std::vector<bool>{false, true, false, false, false, false, true}, {1, 7});
      const auto fn = [o](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); };
      EXPECT_TRUE(gradcheck(fn, {q, k, v}, 1e-6, 1e-6, 1e-4, attention_kind_name(kind)));
      EXPECT_TRUE(gradgradcheck(fn, {q, k, v}, 1e-6, 1e-5, 1e-3, attention_kind_name(kind)));
    }
  }
}

TEST(Attention, GradcheckReferenceFloat64) {
  Generator gen(17);
  const Tensor q = randn({1, 2, 4, 3}, kFloat64, &gen).requires_grad_();
  const Tensor k = randn({1, 2, 4, 3}, kFloat64, &gen).requires_grad_();
  const Tensor v = randn({1, 2, 4, 3}, kFloat64, &gen).requires_grad_();
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    const AttentionOptions o = opts(kind, true, false);
    const auto fn = [o](const std::vector<Tensor>& x) { return attention_reference(x[0], x[1], x[2], o); };
    EXPECT_TRUE(gradcheck(fn, {q, k, v}, 1e-6, 1e-6, 1e-4, attention_kind_name(kind)));
  }
}

TEST(Attention, NonContiguousInputs) {
  Generator gen(23);
  const Tensor q = transpose(randn({1, 9, 2, 8}, kFloat32, &gen), 1, 2);  // [1, 2, 9, 8], strided
  const Tensor k = randn({1, 2, 9, 8}, kFloat32, &gen), v = randn({1, 2, 9, 8}, kFloat32, &gen);
  const AttentionOptions o = opts(AttentionKind::Softmax, true, true);
  EXPECT_TRUE(all_close(scaled_dot_product_attention(q, k, v, o), attention_reference(q, k, v, o), 1e-5, 1e-5));
}

// Kind MoBA goes to moba_attention: with every past block selectable it is dense causal softmax attention.
TEST(Attention, MobaDispatch) {
  Generator gen(31);
  const Tensor q = randn({1, 2, 16, 8}, kFloat32, &gen), k = randn({1, 2, 16, 8}, kFloat32, &gen),
               v = randn({1, 2, 16, 8}, kFloat32, &gen);
  AttentionOptions o = opts(AttentionKind::MoBA, true, true);
  o.moba_block_size = 4;
  o.moba_top_k = 4;
  EXPECT_TRUE(all_close(scaled_dot_product_attention(q, k, v, o),
                        scaled_dot_product_attention(q, k, v, opts(AttentionKind::Softmax, true, true)), 1e-5, 1e-5));
}

TEST(Attention, BadInputs) {
  const Tensor q = zeros({1, 4, 5, 8}), k = zeros({1, 2, 6, 8}), v = zeros({1, 2, 6, 8});
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(zeros({4, 5, 8}), k, v);
            }).find("expected 4-D"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(q, zeros({1, 2, 6, 4}), zeros({1, 2, 6, 4}));
            }).find("differ in head dim D"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(q, zeros({1, 3, 6, 8}), zeros({1, 3, 6, 8}));
            }).find("must be a multiple of the number of key/value heads"),
            std::string::npos);
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(q, k.to(kFloat64), v); }).find("must share a dtype"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(q.to(DType::Int64), k.to(DType::Int64), v.to(DType::Int64));
            }).find("expected float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(q, k, zeros({1, 2, 7, 8}));
            }).find("k and v must have the same shape"),
            std::string::npos);
  AttentionOptions o;
  o.key_padding_mask = zeros({1, 6}, DType::Bool);
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(q, k, v, o); }).find("<no error>"), std::string::npos);
  o.key_padding_mask = zeros({1, 5}, DType::Bool);
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(q, k, v, o); }).find("key_padding_mask must have shape"),
            std::string::npos);
  o.key_padding_mask = zeros({1, 6});
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(q, k, v, o); }).find("key_padding_mask must be bool"),
            std::string::npos);
  EXPECT_NE(error_message([&] { parse_attention_kind("linear"); }).find("unknown kind 'linear'"), std::string::npos);
  o = AttentionOptions();
  o.kind = AttentionKind::MoBA;
  EXPECT_NE(error_message([&] { attention_reference(q, k, v, o); }).find("has its own reference"), std::string::npos);
}

}  // namespace
