// The fused kernels with their own backward (softmax and sigmoid attention, MoBA, the fused cross-entropy) switch
// to a separate, differentiable backward when the graph is recorded (create_graph). gradgradcheck checks that
// second path's *derivative*, not its value, so a wrong first derivative there would go unnoticed. These tests
// take the first-order gradients both ways on the same inputs and require them equal: the plain backward (the
// fused kernel's) and the create_graph backward (ordinary ops), float64, random inputs, odd sizes, every option
// that changes the backward.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "ops/attention.h"
#include "ops/moba.h"

#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::max_abs_diff;
namespace F = tangent::nn::functional;

namespace {

// d<f(inputs), gout>/d(inputs) on fresh leaf copies, with or without create_graph.
template <typename Fn>
std::vector<Tensor> first_order(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& gout, bool create_graph) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) leaves.push_back(x.detach().clone().requires_grad_());
  const Tensor out = f(leaves);
  const Tensor g = gout.defined() ? gout : ones_like(out);
  std::vector<Tensor> grads = autograd::grad({out}, leaves, {g}, std::nullopt, create_graph);
  if (create_graph) {
    for (const Tensor& d : grads) EXPECT_TRUE(d.requires_grad()) << "create_graph gave a gradient without history";
  }
  for (Tensor& d : grads) d = d.detach();
  return grads;
}

// Max |a - b| relative to max(1, max |b|).
double rel_diff(const Tensor& a, const Tensor& b) {
  const double scale = std::max(1.0, max_abs_diff(b, zeros_like(b)));
  return max_abs_diff(a, b) / scale;
}

template <typename Fn>
void expect_same_first_order(const std::string& what, const Fn& f, const std::vector<Tensor>& inputs,
                             const Tensor& gout = Tensor()) {
  const std::vector<Tensor> plain = first_order(f, inputs, gout, false);
  const std::vector<Tensor> recorded = first_order(f, inputs, gout, true);
  ASSERT_EQ(plain.size(), recorded.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_EQ(plain[i].shape(), recorded[i].shape()) << what << ", input " << i;
    EXPECT_LT(rel_diff(recorded[i], plain[i]), 1e-10) << what << ", gradient of input " << i;
    // Not trivially zero: the comparison means something.
    EXPECT_GT(max_abs_diff(plain[i], zeros_like(plain[i])), 1e-6) << what << ", gradient of input " << i;
  }
}

AttentionOptions attention_options(AttentionKind kind, bool causal) {
  AttentionOptions o;
  o.kind = kind;
  o.causal = causal;
  o.fused = true;
  return o;
}

}  // namespace

TEST(CreateGraphFirstOrder, SoftmaxAndSigmoidAttention) {
  manual_seed(11);
  struct Case {
    int64_t b, h, hkv, lq, lk, d;
    bool causal, padding;
  };
  const std::vector<Case> cases{{1, 2, 2, 7, 7, 5, true, false},
                                {2, 4, 2, 13, 9, 8, false, false},
                                {1, 2, 1, 9, 13, 4, true, false},
                                {2, 2, 2, 11, 11, 6, false, true},
                                {1, 3, 3, 130, 130, 4, true, false}};  // past one 128-row tile
  for (AttentionKind kind : {AttentionKind::Softmax, AttentionKind::Sigmoid}) {
    for (const Case& c : cases) {
      AttentionOptions o = attention_options(kind, c.causal);
      if (c.padding) {
        std::vector<bool> pad(static_cast<size_t>(c.b * c.lk), false);
        pad[1] = pad[static_cast<size_t>(c.lk) + 3] = true;
        o.key_padding_mask = tensor(pad, {c.b, c.lk});
      }
      const Tensor q = randn({c.b, c.h, c.lq, c.d}, kFloat64), k = randn({c.b, c.hkv, c.lk, c.d}, kFloat64),
                   v = randn({c.b, c.hkv, c.lk, c.d}, kFloat64), gout = randn({c.b, c.h, c.lq, c.d}, kFloat64);
      expect_same_first_order(
          std::string(attention_kind_name(kind)) + " Lq " + std::to_string(c.lq) + " Lk " + std::to_string(c.lk),
          [&](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); }, {q, k, v},
          gout);
    }
  }
}

TEST(CreateGraphFirstOrder, MoBA) {
  manual_seed(12);
  struct Case {
    int64_t h, hkv, l, block, top_k;
  };
  for (const Case& c : std::vector<Case>{{2, 2, 29, 8, 2}, {4, 2, 37, 5, 3}, {2, 1, 16, 4, 1}, {2, 2, 20, 3, 9}}) {
    AttentionOptions o;
    o.kind = AttentionKind::MoBA;
    o.moba_block_size = c.block;
    o.moba_top_k = c.top_k;
    o.fused = true;
    const Tensor q = randn({2, c.h, c.l, 6}, kFloat64), k = randn({2, c.hkv, c.l, 6}, kFloat64),
                 v = randn({2, c.hkv, c.l, 6}, kFloat64), gout = randn({2, c.h, c.l, 6}, kFloat64);
    expect_same_first_order(
        "moba L " + std::to_string(c.l) + " block " + std::to_string(c.block),
        [&](const std::vector<Tensor>& x) { return moba_attention(x[0], x[1], x[2], o); }, {q, k, v}, gout);
  }
}

TEST(CreateGraphFirstOrder, FusedCrossEntropy) {
  manual_seed(13);
  const Tensor logits = randn({9, 7}, kFloat64) * 3.0;
  const Tensor target = tensor(std::vector<int64_t>{0, 6, 3, 3, -100, 1, 2, 5, 4}, {9});
  for (F::Reduction reduction : {F::Reduction::Mean, F::Reduction::Sum, F::Reduction::None}) {
    for (double smoothing : {0.0, 0.15}) {
      F::CrossEntropyOptions o;
      o.reduction = reduction;
      o.label_smoothing = smoothing;
      const Tensor gout = reduction == F::Reduction::None ? randn({9}, kFloat64) : Tensor();
      expect_same_first_order(
          "cross_entropy smoothing " + std::to_string(smoothing),
          [&](const std::vector<Tensor>& x) { return F::cross_entropy(x[0], target, o); }, {logits}, gout);
    }
  }
}
