// MoBA suite: routing and outputs against the golden values of the design notes (N=6, d=2, block 2), oracles
// (top_k covering every block or one block covering the sequence = dense causal attention; block size 1 = self
// plus the top-(k-1) previous keys by raw q.k; rows of block 0 = dense causal; top_k=1 = block-diagonal causal),
// a brute-force double-precision MoBA in loops, the fused kernel against the reference (outputs, LSE and all three
// gradients, odd lengths, block sizes 1..64, top_k 1..5, GQA, one and two threads), float64 gradcheck and
// gradgradcheck, tie breaking, non-contiguous inputs and the bad-input errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "ops/moba.h"
#include "support/errors.h"
#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::error_message;
using tangent::testing::gradcheck;
using tangent::testing::gradgradcheck;
using tangent::testing::max_abs_diff;

namespace {

AttentionOptions moba_options(int64_t block, int64_t top_k, bool fused = true) {
  AttentionOptions o;
  o.kind = AttentionKind::MoBA;
  o.moba_block_size = block;
  o.moba_top_k = top_k;
  o.fused = fused;
  return o;
}

// The notes' example: N=6, d=2.
struct Golden {
  Tensor q = tensor(std::vector<double>{1, 0, 0, 1, 1, 1, -1, .5, 2, -1, -1, 2}, {1, 1, 6, 2});
  Tensor k = tensor(std::vector<double>{1, 0, 0, 1, .5, -1, 1, 1, 0, -1, 1, .5}, {1, 1, 6, 2});
  Tensor v = tensor(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 1, 6, 2});
};

// Dense causal softmax attention from ordinary ops (q [B, H, L, D], k and v [B, H, L, *]).
Tensor dense_causal(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const int64_t L = q.size(2);
  std::vector<bool> above(static_cast<size_t>(L * L));
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j) above[static_cast<size_t>(i * L + j)] = j > i;
  const Tensor s = masked_fill(matmul(q, transpose(k, -2, -1)) * scale, tensor(above, {L, L}),
                               -std::numeric_limits<double>::infinity());
  return matmul(softmax(s, -1), v);
}

// k [B, Hkv, L, E] repeated to H heads.
Tensor repeat_heads(const Tensor& x, int64_t H) {
  const int64_t B = x.size(0), Hkv = x.size(1), L = x.size(2), E = x.size(3);
  return reshape(expand(unsqueeze(x, 2), {B, Hkv, H / Hkv, L, E}), {B, H, L, E});
}

// Brute-force MoBA in double loops: centroids, gates, top-(k-1) past blocks (ties to the later block), softmax
// over the allowed keys. Returns out [B, H, L, Dv] and fills the selection [B, H, L, nb] and LSE [B, H, L].
Tensor brute_force(const Tensor& q, const Tensor& k, const Tensor& v, int64_t bs, int64_t top_k, double scale,
                   std::vector<bool>* selection = nullptr, std::vector<double>* lse = nullptr) {
  const auto qv = to_vector<double>(q), kv = to_vector<double>(k), vv = to_vector<double>(v);
  const int64_t B = q.size(0), H = q.size(1), Hkv = k.size(1), L = q.size(2), D = q.size(3), Dv = v.size(3);
  const int64_t nb = (L + bs - 1) / bs, G = H / Hkv;
  std::vector<double> out(static_cast<size_t>(B * H * L * Dv));
  if (selection) selection->assign(static_cast<size_t>(B * H * L * nb), false);
  if (lse) lse->assign(static_cast<size_t>(B * H * L), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const double* Q = qv.data() + (b * H + h) * L * D;
      const double* K = kv.data() + (b * Hkv + h / G) * L * D;
      const double* V = vv.data() + (b * Hkv + h / G) * L * Dv;
      std::vector<double> cent(static_cast<size_t>(nb * D), 0.0);
      for (int64_t n = 0; n < nb; ++n) {
        const int64_t len = std::min(bs, L - n * bs);
        for (int64_t j = n * bs; j < n * bs + len; ++j)
          for (int64_t d = 0; d < D; ++d) cent[n * D + d] += K[j * D + d] / static_cast<double>(len);
      }
      for (int64_t t = 0; t < L; ++t) {
        const int64_t c = t / bs;
        std::vector<std::pair<double, int64_t>> gates;
        for (int64_t n = 0; n < c; ++n) {
          double g = 0;
          for (int64_t d = 0; d < D; ++d) g += Q[t * D + d] * cent[n * D + d];
          gates.push_back({g, n});
        }
        std::sort(gates.begin(), gates.end(),
                  [](auto a, auto b2) { return a.first != b2.first ? a.first > b2.first : a.second > b2.second; });
        std::vector<bool> chosen(static_cast<size_t>(nb), false);
        chosen[static_cast<size_t>(c)] = true;
        for (int64_t s = 0; s < std::min<int64_t>(top_k - 1, static_cast<int64_t>(gates.size())); ++s)
          chosen[static_cast<size_t>(gates[s].second)] = true;
        if (selection)
          for (int64_t n = 0; n < nb; ++n) (*selection)[((b * H + h) * L + t) * nb + n] = chosen[n];
        std::vector<double> logits;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= t; ++j) {
          if (!chosen[static_cast<size_t>(j / bs)]) continue;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += Q[t * D + d] * K[j * D + d];
          logits.push_back(s * scale);
          keys.push_back(j);
        }
        const double mx = *std::max_element(logits.begin(), logits.end());
        double z = 0;
        for (double s : logits) z += std::exp(s - mx);
        double* o = out.data() + ((b * H + h) * L + t) * Dv;
        for (size_t i = 0; i < keys.size(); ++i)
          for (int64_t d = 0; d < Dv; ++d) o[d] += std::exp(logits[i] - mx) / z * V[keys[i] * Dv + d];
        if (lse) (*lse)[(b * H + h) * L + t] = mx + std::log(z);
      }
    }
  return tensor(out, {B, H, L, Dv});
}

struct Grads {
  Tensor out, lse, dq, dk, dv;
};

// Runs MoBA on fresh leaf copies of q, k, v and backpropagates `gout`.
Grads run(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gout, const AttentionOptions& o) {
  Tensor ql = q.detach().clone().requires_grad_(), kl = k.detach().clone().requires_grad_(),
         vl = v.detach().clone().requires_grad_();
  auto [out, lse] = moba_attention_with_lse(ql, kl, vl, o);
  (out * gout).sum().backward();
  return {out.detach(), lse, ql.grad(), kl.grad(), vl.grad()};
}

// Max |a - b| relative to max(1, max |b|).
double rel_diff(const Tensor& a, const Tensor& b) {
  double scale = 1.0;
  for (double x : to_vector<double>(b)) scale = std::max(scale, std::abs(x));
  return max_abs_diff(a, b) / scale;
}

TEST(MoBA, GoldenSelection) {
  Golden g;
  const Tensor sel = moba_select_blocks(g.q, g.k, moba_options(2, 2));
  ASSERT_EQ(sel.shape(), (Shape{1, 1, 6, 3}));
  const std::vector<bool> want = {1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1};
  EXPECT_EQ(to_vector<bool>(sel), want);
  // float32 routes the same.
  EXPECT_EQ(to_vector<bool>(moba_select_blocks(g.q.to(kFloat32), g.k.to(kFloat32), moba_options(2, 2))), want);
}

TEST(MoBA, GoldenOutputAndLse) {
  Golden g;
  const std::vector<double> want_o = {1,        2,        2.339523, 3.339523, 2.442703, 3.442703,
                                      3.902427, 4.902427, 6.489530, 7.489530, 4.448441, 5.448441};
  const std::vector<double> want_lse = {0.707107, 1.107940, 1.559915, 1.135409, 2.100405, 1.766345};
  for (DType dt : {kFloat64, kFloat32})
    for (bool fused : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (fused ? " fused" : " reference"));
      auto [out, lse] = moba_attention_with_lse(g.q.to(dt), g.k.to(dt), g.v.to(dt), moba_options(2, 2, fused));
      EXPECT_TRUE(all_close(out.to(kFloat64), tensor(want_o, {1, 1, 6, 2}), 0, 2e-6));
      EXPECT_TRUE(all_close(lse.to(kFloat64), tensor(want_lse, {1, 1, 6}), 0, 2e-6));
    }
  // Through the common entry point, and differing from dense causal attention in rows 4-5.
  AttentionOptions o = moba_options(2, 2);
  const Tensor out = scaled_dot_product_attention(g.q, g.k, g.v, o);
  EXPECT_NEAR(to_vector<double>(out)[8], 6.489530, 2e-6);
  const auto dense = to_vector<double>(dense_causal(g.q, g.k, g.v, 1 / std::sqrt(2.0)));
  EXPECT_NEAR(dense[8], 4.587466, 2e-6);
  EXPECT_NEAR(dense[10], 5.103118, 2e-6);
}

TEST(MoBA, GoldenTopK1IsBlockDiagonal) {
  Golden g;
  const std::vector<double> want = {1, 2, 2.339523, 3.339523, 5, 6, 6.174958, 7.174958, 9, 10, 10.608859, 11.608859};
  for (bool fused : {true, false}) {
    const Tensor out = moba_attention(g.q, g.k, g.v, moba_options(2, 1, fused));
    EXPECT_TRUE(all_close(out, tensor(want, {1, 1, 6, 2}), 0, 2e-6)) << (fused ? "fused" : "reference");
  }
  const std::vector<bool> diag = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1};
  EXPECT_EQ(to_vector<bool>(moba_select_blocks(g.q, g.k, moba_options(2, 1))), diag);
}

TEST(MoBA, CoveringEveryBlockIsDenseCausal) {
  manual_seed(1);
  const Tensor q = randn({2, 3, 37, 8}, kFloat64), k = randn({2, 3, 37, 8}, kFloat64),
               v = randn({2, 3, 37, 5}, kFloat64);
  const Tensor dense = dense_causal(q, k, v, 1 / std::sqrt(8.0));
  for (bool fused : {true, false}) {
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(8, 5, fused)), dense, 1e-10, 1e-10));   // 5 blocks
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(8, 9, fused)), dense, 1e-10, 1e-10));   // more
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(37, 1, fused)), dense, 1e-10, 1e-10));  // B >= N
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(64, 2, fused)), dense, 1e-10, 1e-10));
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(std::numeric_limits<int64_t>::max(), 1, fused)), dense,
                          1e-10, 1e-10));
  }
  // Fewer blocks than that differs (so the comparison above can fail).
  EXPECT_GT(max_abs_diff(moba_attention(q, k, v, moba_options(8, 2)), dense), 1e-3);
  // Grouped-query attention: four query heads on two kv heads.
  const Tensor q4 = randn({1, 4, 19, 8}, kFloat64), k2 = randn({1, 2, 19, 8}, kFloat64),
               v2 = randn({1, 2, 19, 8}, kFloat64);
  const Tensor dense4 = dense_causal(q4, repeat_heads(k2, 4), repeat_heads(v2, 4), 1 / std::sqrt(8.0));
  for (bool fused : {true, false})
    EXPECT_TRUE(all_close(moba_attention(q4, k2, v2, moba_options(4, 5, fused)), dense4, 1e-10, 1e-10));
}

TEST(MoBA, CoveringEveryBlockEqualsAttentionReference) {
  // The same oracle against the library's dense reference (ops/attention.cpp), GQA included.
  manual_seed(9);
  const Tensor q = randn({1, 4, 29, 8}, kFloat64), k = randn({1, 2, 29, 8}, kFloat64),
               v = randn({1, 2, 29, 8}, kFloat64);
  AttentionOptions dense_options;
  dense_options.kind = AttentionKind::Softmax;
  dense_options.causal = true;
  dense_options.fused = false;
  const Tensor dense = attention_reference(q, k, v, dense_options);
  for (bool fused : {true, false})
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(8, 4, fused)), dense, 1e-10, 1e-10));
}

TEST(MoBA, BlockSizeOneIsSelfPlusTopPreviousKeys) {
  manual_seed(2);
  const int64_t L = 23, D = 4, top_k = 4;
  const Tensor q = randn({1, 1, L, D}, kFloat64), k = randn({1, 1, L, D}, kFloat64), v = randn({1, 1, L, D}, kFloat64);
  const auto qv = to_vector<double>(q), kv = to_vector<double>(k);
  // Allowed keys: self plus the top_k - 1 previous keys by raw q.k, then dense softmax with that mask.
  std::vector<bool> blocked(static_cast<size_t>(L * L), true);
  for (int64_t t = 0; t < L; ++t) {
    std::vector<std::pair<double, int64_t>> dots;
    for (int64_t j = 0; j < t; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += qv[t * D + d] * kv[j * D + d];
      dots.push_back({s, j});
    }
    std::sort(dots.rbegin(), dots.rend());
    blocked[t * L + t] = false;
    for (size_t s = 0; s < std::min<size_t>(top_k - 1, dots.size()); ++s) blocked[t * L + dots[s].second] = false;
  }
  const Tensor s = masked_fill(matmul(q, transpose(k, -2, -1)) * 0.5, tensor(blocked, {L, L}),
                               -std::numeric_limits<double>::infinity());
  const Tensor want = matmul(softmax(s, -1), v);
  for (bool fused : {true, false})
    EXPECT_TRUE(all_close(moba_attention(q, k, v, moba_options(1, top_k, fused)), want, 1e-10, 1e-10));
}

TEST(MoBA, BlockZeroRowsAreDenseCausal) {
  manual_seed(3);
  const Tensor q = randn({1, 2, 40, 8}), k = randn({1, 2, 40, 8}), v = randn({1, 2, 40, 8});
  const Tensor dense = dense_causal(q, k, v, 1 / std::sqrt(8.0));
  const Tensor out = moba_attention(q, k, v, moba_options(16, 2));
  EXPECT_TRUE(all_close(narrow(out, 2, 0, 16), narrow(dense, 2, 0, 16), 1e-5, 1e-6));
  // Rows of block c equal dense causal when top_k > c (every past block fits): block 1 with top_k 2.
  EXPECT_TRUE(all_close(narrow(out, 2, 16, 16), narrow(dense, 2, 16, 16), 1e-5, 1e-6));
  EXPECT_GT(max_abs_diff(narrow(out, 2, 32, 8), narrow(dense, 2, 32, 8)), 1e-4);
}

TEST(MoBA, MatchesBruteForce) {
  manual_seed(4);
  struct Case {
    int64_t B, H, Hkv, L, D, Dv, bs, top_k;
  };
  for (const Case& c : std::vector<Case>{{1, 1, 1, 1, 4, 4, 2, 2},
                                         {1, 2, 2, 7, 3, 3, 2, 3},
                                         {2, 4, 2, 65, 8, 6, 16, 3},
                                         {1, 3, 1, 130, 16, 16, 16, 4},
                                         {1, 2, 1, 200, 8, 8, 1, 5}}) {
    SCOPED_TRACE("L=" + std::to_string(c.L) + " bs=" + std::to_string(c.bs) + " top_k=" + std::to_string(c.top_k));
    const Tensor q = randn({c.B, c.H, c.L, c.D}, kFloat64), k = randn({c.B, c.Hkv, c.L, c.D}, kFloat64),
                 v = randn({c.B, c.Hkv, c.L, c.Dv}, kFloat64);
    const double scale = 1 / std::sqrt(static_cast<double>(c.D));
    std::vector<bool> sel;
    std::vector<double> lse;
    const Tensor want = brute_force(q, k, v, c.bs, c.top_k, scale, &sel, &lse);
    EXPECT_EQ(to_vector<bool>(moba_select_blocks(q, k, moba_options(c.bs, c.top_k))), sel);
    for (bool fused : {true, false}) {
      auto [out, l] = moba_attention_with_lse(q, k, v, moba_options(c.bs, c.top_k, fused));
      EXPECT_TRUE(all_close(out, want, 1e-10, 1e-10));
      EXPECT_TRUE(all_close(l, tensor(lse, {c.B, c.H, c.L}), 1e-10, 1e-10));
    }
  }
}

TEST(MoBA, FusedMatchesReferenceWithGradients) {
  manual_seed(5);
  struct Case {
    int64_t B, H, Hkv, L, D, Dv, bs, top_k;
  };
  const std::vector<Case> cases = {{1, 1, 1, 1, 4, 4, 1, 1},      {1, 2, 1, 7, 5, 3, 2, 2},
                                   {2, 2, 2, 65, 8, 8, 16, 3},    {1, 4, 2, 130, 16, 8, 16, 5},
                                   {1, 2, 2, 200, 8, 8, 64, 4},   {1, 2, 1, 200, 8, 8, 1, 3},
                                   {1, 3, 3, 130, 32, 32, 64, 1}, {2, 2, 1, 300, 16, 16, 16, 4}};
  for (const Case& c : cases)
    for (DType dt : {kFloat64, kFloat32}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " L=" + std::to_string(c.L) + " bs=" + std::to_string(c.bs) +
                   " top_k=" + std::to_string(c.top_k) + " H=" + std::to_string(c.H) + "/" + std::to_string(c.Hkv));
      const Tensor q = randn({c.B, c.H, c.L, c.D}, dt), k = randn({c.B, c.Hkv, c.L, c.D}, dt),
                   v = randn({c.B, c.Hkv, c.L, c.Dv}, dt), gout = randn({c.B, c.H, c.L, c.Dv}, dt);
      const Grads f = run(q, k, v, gout, moba_options(c.bs, c.top_k, true));
      const Grads r = run(q, k, v, gout, moba_options(c.bs, c.top_k, false));
      const double tol = dt == kFloat64 ? 1e-11 : 2e-5;
      EXPECT_LT(rel_diff(f.out, r.out), tol);
      EXPECT_LT(rel_diff(f.lse, r.lse), tol);
      EXPECT_LT(rel_diff(f.dq, r.dq), tol);
      EXPECT_LT(rel_diff(f.dk, r.dk), tol);
      EXPECT_LT(rel_diff(f.dv, r.dv), tol);
    }
}

TEST(MoBA, TwoThreadsSplitQueriesAndKeyBlocks) {
  // One (batch, head) and two threads: the forward splits the queries and the backward the key blocks (with a
  // private dQ per part); also with grouped-query attention.
  manual_seed(6);
  const int prev = get_num_threads();
  set_num_threads(2);
  for (int64_t H : {1, 2}) {
    SCOPED_TRACE("H=" + std::to_string(H));
    const Tensor q = randn({1, H, 257, 16}), k = randn({1, 1, 257, 16}), v = randn({1, 1, 257, 16}),
                 gout = randn({1, H, 257, 16});
    const Grads f = run(q, k, v, gout, moba_options(16, 3, true));
    const Grads r = run(q, k, v, gout, moba_options(16, 3, false));
    EXPECT_LT(rel_diff(f.out, r.out), 2e-5);
    EXPECT_LT(rel_diff(f.dq, r.dq), 2e-5);
    EXPECT_LT(rel_diff(f.dk, r.dk), 2e-5);
    EXPECT_LT(rel_diff(f.dv, r.dv), 2e-5);
  }
  set_num_threads(prev);
}

TEST(MoBA, GradcheckAndGradgradcheck) {
  manual_seed(7);
  const Tensor q = randn({1, 2, 7, 3}, kFloat64).requires_grad_(), k = randn({1, 1, 7, 3}, kFloat64).requires_grad_(),
               v = randn({1, 1, 7, 2}, kFloat64).requires_grad_();
  for (bool fused : {true, false}) {
    const AttentionOptions o = moba_options(2, 2, fused);
    auto fn = [o](const std::vector<Tensor>& x) { return moba_attention(x[0], x[1], x[2], o); };
    EXPECT_TRUE(gradcheck(fn, {q, k, v}, 1e-6, 1e-6, 1e-4, fused ? "moba fused" : "moba reference"));
    EXPECT_TRUE(gradgradcheck(fn, {q, k, v}, 1e-6, 1e-5, 1e-3, fused ? "moba fused" : "moba reference"));
  }
}

TEST(MoBA, GradientForOnlyOneInput) {
  manual_seed(10);
  const Tensor q = randn({1, 2, 20, 4}, kFloat64), k = randn({1, 2, 20, 4}, kFloat64);
  std::vector<Tensor> grads;
  for (bool fused : {true, false}) {
    manual_seed(11);  // the same v for both
    Tensor v = randn({1, 2, 20, 4}, kFloat64).requires_grad_();
    moba_attention(q, k, v, moba_options(4, 2, fused)).sum().backward();
    ASSERT_TRUE(v.grad().defined());
    EXPECT_FALSE(q.grad().defined());
    grads.push_back(v.grad());
  }
  EXPECT_TRUE(all_close(grads[0], grads[1], 1e-12, 1e-12));
  // Without any input requiring grad the output has no history.
  EXPECT_FALSE(moba_attention(q, k, k, moba_options(4, 2)).requires_grad());
}

TEST(MoBA, TiesGoToTheLaterBlock) {
  // Blocks 0 and 1 have the same mean key, so every query in block 2 gates them equally; top_k 2 keeps block 1.
  const Tensor k = tensor(std::vector<double>{1, 0, 0, 1, 0, 1, 1, 0, 3, 3, 2, 2}, {1, 1, 6, 2});
  const Tensor q = tensor(std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, -1, 3}, {1, 1, 6, 2});
  const auto sel = to_vector<bool>(moba_select_blocks(q, k, moba_options(2, 2)));
  EXPECT_EQ(std::vector<bool>(sel.begin() + 12, sel.end()), (std::vector<bool>{0, 1, 1, 0, 1, 1}));
}

TEST(MoBA, NonContiguousInputsAndCustomScale) {
  manual_seed(8);
  const Tensor q = randn({1, 2, 33, 4}, kFloat64), k = randn({1, 2, 33, 4}, kFloat64),
               v = randn({1, 2, 33, 4}, kFloat64);
  AttentionOptions o = moba_options(4, 3);
  o.scale = 0.7;
  const Tensor want = brute_force(q, k, v, 4, 3, 0.7);
  const Tensor out = moba_attention(tangent::testing::make_noncontiguous(q), tangent::testing::make_noncontiguous(k),
                                    tangent::testing::make_noncontiguous(v), o);
  EXPECT_TRUE(all_close(out, want, 1e-10, 1e-10));
  // A transposed (strided) q gives the same.
  const Tensor qt = transpose(contiguous(transpose(q, 1, 2)), 1, 2);
  EXPECT_TRUE(all_close(moba_attention(qt, k, v, o), want, 1e-10, 1e-10));
}

TEST(MoBA, EmptySequence) {
  const Tensor q = zeros({1, 2, 0, 4}), k = zeros({1, 1, 0, 4}), v = zeros({1, 1, 0, 4});
  EXPECT_EQ(moba_attention(q, k, v, moba_options(4, 2)).shape(), (Shape{1, 2, 0, 4}));
  EXPECT_EQ(moba_select_blocks(q, k, moba_options(4, 2)).shape(), (Shape{1, 2, 0, 0}));
}

TEST(MoBA, ErrorsNameTheProblem) {
  const Tensor q = zeros({1, 4, 8, 4}), k = zeros({1, 2, 8, 4}), v = zeros({1, 2, 8, 4});
  const AttentionOptions o = moba_options(4, 2);
  EXPECT_NE(error_message([&] {
              moba_attention(q, zeros({1, 2, 6, 4}), zeros({1, 2, 6, 4}), o);
            }).find("MoBA is causal self-attention, so the query length (8"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              moba_attention(q, zeros({1, 3, 8, 4}), zeros({1, 3, 8, 4}), o);
            }).find("must be a multiple of the key/value heads (3"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              moba_attention(q, zeros({1, 2, 8, 5}), v, o);
            }).find("does not match q of shape"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              moba_attention(q, k, zeros({1, 2, 7, 4}), o);
            }).find("does not match k of shape"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              moba_attention(zeros({4, 8, 4}), k, v, o);
            }).find("expected q of shape [B, H, L, D]"),
            std::string::npos);
  EXPECT_NE(error_message([&] { moba_attention(q, k.to(kFloat64), v, o); }).find("must share a dtype"),
            std::string::npos);
  EXPECT_NE(error_message([&] { moba_attention(q.to(kInt64), k, v, o); }).find("expected float32 or float64 q"),
            std::string::npos);
  EXPECT_NE(
      error_message([&] { moba_attention(q, k, v, moba_options(0, 2)); }).find("moba_block_size must be positive"),
      std::string::npos);
  EXPECT_NE(error_message([&] { moba_attention(q, k, v, moba_options(4, 0)); }).find("moba_top_k must be positive"),
            std::string::npos);
  AttentionOptions padded = o;
  padded.key_padding_mask = zeros({1, 8}, TensorOptions(kBool));
  EXPECT_NE(error_message([&] { moba_attention(q, k, v, padded); }).find("key_padding_mask is not supported"),
            std::string::npos);
  EXPECT_NE(error_message([&] { moba_select_blocks(q, Tensor(), o); }).find("moba_select_blocks: k is an undefined"),
            std::string::npos);
}

}  // namespace
