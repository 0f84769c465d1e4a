// Op-table rows for attention (ops/attention.h) and MoBA (ops/moba.h): softmax and sigmoid weights, fused and
// reference paths, causal masks, key padding masks and grouped-query heads, each against one naive loop over
// (query, key) pairs in double. The key padding mask is an input (so it travels to the device with q, k, v).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;
size_t z(int64_t i) { return static_cast<size_t>(i); }

struct Spec {
  AttentionKind kind = AttentionKind::Softmax;
  bool causal = false;
  bool fused = true;
  int64_t block = 2, top_k = 2;  // MoBA
};

AttentionOptions options_of(const Spec& s, const Inputs& x) {
  AttentionOptions o;
  o.kind = s.kind;
  o.causal = s.causal;
  o.fused = s.fused;
  o.moba_block_size = s.block;
  o.moba_top_k = s.top_k;
  if (x.size() > 3) o.key_padding_mask = x[3];
  return o;
}

// q [B, H, Lq, D], k and v [B, Hkv, Lk, D]; optional pad [B, Lk]. Returns the keys query (b, h, i) attends to.
struct Naive {
  int64_t B, H, Hkv, Lq, Lk, D;
  std::vector<double> q, k, v;
  std::vector<bool> pad;
  Spec s;
  double scale;

  Naive(const Inputs& x, const Spec& spec) : s(spec) {
    B = x[0].size(0), H = x[0].size(1), Lq = x[0].size(2), D = x[0].size(3), Hkv = x[1].size(1), Lk = x[1].size(2);
    q = to_vector<double>(x[0]), k = to_vector<double>(x[1]), v = to_vector<double>(x[2]);
    if (x.size() > 3) pad = to_vector<bool>(x[3]);
    scale = 1.0 / std::sqrt(static_cast<double>(D));
  }
  double qk(int64_t b, int64_t h, int64_t i, int64_t j) const {  // unscaled
    const int64_t g = h / (H / Hkv);
    double d = 0;
    for (int64_t e = 0; e < D; ++e) d += q[z(((b * H + h) * Lq + i) * D + e)] * k[z(((b * Hkv + g) * Lk + j) * D + e)];
    return d;
  }
  // MoBA: the blocks query i attends to (its own and the top_k - 1 past ones by q . mean key; ties to the later).
  std::vector<bool> moba_blocks(int64_t b, int64_t h, int64_t i) const {
    const int64_t nb = (Lk + s.block - 1) / s.block, own = i / s.block;
    std::vector<bool> sel(z(nb), false);
    sel[z(own)] = true;
    std::vector<std::pair<double, int64_t>> gates;
    const int64_t g = h / (H / Hkv);
    for (int64_t n = 0; n < own; ++n) {
      double gate = 0;
      for (int64_t e = 0; e < D; ++e) {
        double m = 0;
        for (int64_t j = n * s.block; j < (n + 1) * s.block; ++j) m += k[z(((b * Hkv + g) * Lk + j) * D + e)];
        gate += q[z(((b * H + h) * Lq + i) * D + e)] * m / static_cast<double>(s.block);
      }
      gates.emplace_back(gate, n);
    }
    std::sort(gates.begin(), gates.end(), [](const auto& a, const auto& c) { return a > c; });
    for (size_t t = 0; t + 1 < z(s.top_k) && t < gates.size(); ++t) sel[z(gates[t].second)] = true;
    return sel;
  }
  bool visible(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (s.kind == AttentionKind::MoBA) return j <= i && moba_blocks(b, h, i)[z(j / s.block)];
    if (s.causal && j > i) return false;
    return pad.empty() || !pad[z(b * Lk + j)];
  }
  // out [B, H, Lq, D] (which = 0) or the softmax log-sum-exp [B, H, Lq] (which = 1).
  Tensor run(int which) const {
    std::vector<double> out(z(B * H * Lq * (which == 0 ? D : 1)), 0.0);
    const double bias = -std::log(static_cast<double>(Lk));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Lq; ++i) {
          const int64_t g = h / (H / Hkv);
          std::vector<double> w(z(Lk), 0.0);
          double mx = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < Lk; ++j)
            if (visible(b, h, i, j)) mx = std::max(mx, scale * qk(b, h, i, j));
          double total = 0;
          for (int64_t j = 0; j < Lk; ++j) {
            if (!visible(b, h, i, j)) continue;
            const double sc = scale * qk(b, h, i, j);
            w[z(j)] = s.kind == AttentionKind::Sigmoid ? 1.0 / (1.0 + std::exp(-(sc + bias))) : std::exp(sc - mx);
            total += w[z(j)];
          }
          const int64_t row = (b * H + h) * Lq + i;
          if (which == 1) {
            out[z(row)] = total > 0 ? mx + std::log(total) : std::numeric_limits<double>::infinity();
            continue;
          }
          for (int64_t j = 0; j < Lk; ++j) {
            const double wj = s.kind == AttentionKind::Sigmoid ? w[z(j)] : (total > 0 ? w[z(j)] / total : 0.0);
            for (int64_t e = 0; e < D; ++e) out[z(row * D + e)] += wj * v[z(((b * Hkv + g) * Lk + j) * D + e)];
          }
        }
    return which == 0 ? tensor(out, {B, H, Lq, D}, kFloat64) : tensor(out, {B, H, Lq}, kFloat64);
  }
};

Inputs qkv(int64_t B, int64_t H, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D) {
  return Inputs{randn({B, H, Lq, D}, kFloat64), randn({B, Hkv, Lk, D}, kFloat64), randn({B, Hkv, Lk, D}, kFloat64)};
}
Inputs with_pad(Inputs x, std::vector<bool> pad, const Shape& s) {
  x.push_back(tensor(pad, s));
  return x;
}

// The rows of one attention configuration: sdpa and the explicit reference entry point.
OpCase sdpa_row(const std::string& name, std::function<Inputs()> inputs, Spec s, bool through_reference = false) {
  return OpCase{
      .name = name,
      .inputs = std::move(inputs),
      .fn =
          [s, through_reference](const Inputs& x) {
            const AttentionOptions o = options_of(s, x);
            return through_reference ? attention_reference(x[0], x[1], x[2], o)
                                     : scaled_dot_product_attention(x[0], x[1], x[2], o);
          },
      .reference = [s](const Inputs& x) { return Naive(x, s).run(0); },
      .tol_scale = 8.0,  // float32: sums over the keys and the head dim
  };
}

const Spec kSoftmax{}, kSoftmaxCausal{AttentionKind::Softmax, true}, kSigmoid{AttentionKind::Sigmoid},
    kSigmoidCausal{AttentionKind::Sigmoid, true};
Spec unfused(Spec s) {
  s.fused = false;
  return s;
}

// B = 2, 4 keys, the second batch's last key and the first's first key padded.
Inputs padded() {
  return with_pad(qkv(2, 2, 2, 3, 4, 3), {true, false, false, false, false, false, false, true}, {2, 4});
}
Inputs padded_gqa() {
  return with_pad(qkv(2, 4, 2, 4, 4, 3), {false, false, true, false, false, true, false, false}, {2, 4});
}
// Every key of the second batch padded: its rows output 0.
Inputs fully_padded() { return with_pad(qkv(2, 2, 1, 2, 3, 2), {false, true, false, true, true, true}, {2, 3}); }

const bool kAttentionRows = [] {
  auto& rows = tangent::testing::op_cases();
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/softmax", [] { return qkv(1, 2, 2, 3, 4, 3); }, kSoftmax));
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/softmax_causal_gqa", [] { return qkv(1, 4, 2, 4, 4, 3); }, kSoftmaxCausal));
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/softmax_causal_more_queries", [] { return qkv(1, 2, 1, 5, 3, 2); },
      kSoftmaxCausal));
  rows.push_back(sdpa_row("scaled_dot_product_attention/softmax_key_padding", padded, kSoftmax));
  rows.push_back(sdpa_row("scaled_dot_product_attention/softmax_causal_key_padding_gqa", padded_gqa, kSoftmaxCausal));
  rows.push_back(sdpa_row("scaled_dot_product_attention/softmax_fully_padded_rows", fully_padded, kSoftmax));
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/sigmoid", [] { return qkv(1, 2, 2, 3, 4, 3); }, kSigmoid));
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/sigmoid_causal_gqa", [] { return qkv(1, 4, 2, 4, 4, 3); }, kSigmoidCausal));
  rows.push_back(sdpa_row("scaled_dot_product_attention/sigmoid_causal_key_padding_gqa", padded_gqa, kSigmoidCausal));
  rows.push_back(sdpa_row(
      "scaled_dot_product_attention/unfused_softmax_causal_gqa", [] { return qkv(1, 4, 2, 4, 4, 3); },
      unfused(kSoftmaxCausal)));
  rows.push_back(sdpa_row("scaled_dot_product_attention/unfused_sigmoid_key_padding", padded, unfused(kSigmoid)));
  rows.push_back(sdpa_row("attention_reference/softmax_causal_key_padding_gqa", padded_gqa, kSoftmaxCausal, true));
  rows.push_back(sdpa_row(
      "attention_reference/sigmoid_causal", [] { return qkv(1, 2, 2, 3, 4, 3); }, kSigmoidCausal, true));
  // The log-sum-exp (not differentiable): forward only, fused and reference.
  for (bool fused : {true, false}) {
    Spec s = kSoftmaxCausal;
    s.fused = fused;
    rows.push_back(OpCase{
        .name = std::string("attention_with_lse/lse_causal_key_padding") + (fused ? "" : "_unfused"),
        .inputs = padded_gqa,
        .fn = [s](const Inputs& x) { return attention_with_lse(x[0], x[1], x[2], options_of(s, x)).second; },
        .reference = [s](const Inputs& x) { return Naive(x, s).run(1); },
        .tol_scale = 8.0,
        .first_order = false,
    });
  }
  rows.push_back(OpCase{
      .name = "attention_with_lse/out",
      .inputs = padded,
      .fn = [](const Inputs& x) { return attention_with_lse(x[0], x[1], x[2], options_of(kSoftmax, x)).first; },
      .reference = [](const Inputs& x) { return Naive(x, kSoftmax).run(0); },
      .tol_scale = 8.0,
      .first_order = false,
  });

  // MoBA: 8 positions in blocks of 2, top-2 (own block + the best past one); GQA with 4 query and 2 kv heads.
  for (bool fused : {true, false}) {
    Spec s{AttentionKind::MoBA, true, fused, 2, 2};
    const std::string suffix = fused ? "" : "_unfused";
    rows.push_back(OpCase{
        .name = "moba_attention/block2_top2_gqa" + suffix,
        .inputs = [] { return qkv(1, 4, 2, 8, 8, 3); },
        .fn = [s](const Inputs& x) { return moba_attention(x[0], x[1], x[2], options_of(s, x)); },
        .reference = [s](const Inputs& x) { return Naive(x, s).run(0); },
        .tol_scale = 8.0,
    });
    rows.push_back(OpCase{
        .name = "scaled_dot_product_attention/moba_block3_top2_ragged" + suffix,  // 7 positions: a short last block
        .inputs = [] { return qkv(2, 2, 2, 7, 7, 2); },
        .fn =
            [s](const Inputs& x) {
              AttentionOptions o = options_of(s, x);
              o.moba_block_size = 3;
              return scaled_dot_product_attention(x[0], x[1], x[2], o);
            },
        .reference =
            [s](const Inputs& x) {
              Spec s3 = s;
              s3.block = 3;
              return Naive(x, s3).run(0);
            },
        .tol_scale = 8.0,
    });
    rows.push_back(OpCase{
        .name = "moba_attention_with_lse/lse" + suffix,
        .inputs = [] { return qkv(1, 4, 2, 8, 8, 3); },
        .fn = [s](const Inputs& x) { return moba_attention_with_lse(x[0], x[1], x[2], options_of(s, x)).second; },
        .reference = [s](const Inputs& x) { return Naive(x, s).run(1); },
        .tol_scale = 8.0,
        .first_order = false,
    });
  }
  rows.push_back(OpCase{
      .name = "moba_select_blocks/block2_top2_gqa",
      .inputs = [] { return qkv(1, 4, 2, 8, 8, 3); },
      .fn =
          [](const Inputs& x) {
            return moba_select_blocks(x[0], x[1], options_of(Spec{AttentionKind::MoBA, true, true, 2, 2}, x));
          },
      .reference =
          [](const Inputs& x) {
            const Naive n(x, Spec{AttentionKind::MoBA, true, true, 2, 2});
            std::vector<bool> out;
            for (int64_t h = 0; h < n.H; ++h)
              for (int64_t i = 0; i < n.Lq; ++i)
                for (bool b : n.moba_blocks(0, h, i)) out.push_back(b);
            return tensor(out, {1, n.H, n.Lq, 4});
          },
      .first_order = false,
  });
  return true;
}();

}  // namespace
