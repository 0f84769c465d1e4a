#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "nn/norm.h"
#include "nn/rotary.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::nn {

std::shared_ptr<Module> make_norm(const std::string& kind, int64_t dim) {
  if (kind == "layernorm") return std::make_shared<LayerNorm>(Shape{dim});
  if (kind == "rmsnorm") return std::make_shared<RMSNorm>(Shape{dim});
  TANGENT_FAIL("norm: unknown kind '", kind, "' (expected layernorm or rmsnorm)");
}

// ---- CausalConv1d ----

CausalConv1d::CausalConv1d(int64_t c, int64_t k) : channels(c), kernel_size(k) {
  TANGENT_CHECK(c > 0 && k > 0, "CausalConv1d: channels and kernel_size must be positive, got ", c, " and ", k);
  Tensor w = zeros({k, c});
  w.narrow(0, 0, 1).fill_(1.0);
  weight = register_parameter("weight", w);
}

Tensor CausalConv1d::forward(const Tensor& x) {
  TANGENT_CHECK(x.dim() == 3 && x.size(2) == channels, "CausalConv1d: expected input [B, T, ", channels, "], got ",
                x.shape());
  const int64_t b = x.size(0), t = x.size(1);
  Tensor y = mul(x, weight.select(0, 0));
  for (int64_t j = 1; j < kernel_size && j < t; ++j) {
    // x shifted right by j positions along T, zeros in front.
    const Tensor shifted = cat({zeros({b, j, channels}, x.options()), narrow(x, 1, 0, t - j)}, 1);
    y = add(y, mul(shifted, weight.select(0, j)));
  }
  return y;
}

std::string CausalConv1d::extra_repr() const {
  return "channels=" + std::to_string(channels) + ", kernel_size=" + std::to_string(kernel_size);
}

// ---- options ----

void MultiheadAttentionOptions::to_config(Config& c, const std::string& p) const {
  c.set(p + "embed_dim", embed_dim);
  c.set(p + "num_heads", num_heads);
  c.set(p + "num_kv_heads", num_kv_heads);
  c.set(p + "kind", attention_kind_name(kind));
  c.set(p + "causal", causal);
  c.set(p + "qk_norm", qk_norm);
  c.set(p + "sigmoid_bias", sigmoid_bias);
  c.set(p + "moba_block_size", moba_block_size);
  c.set(p + "moba_top_k", moba_top_k);
  c.set(p + "moba_key_conv", moba_key_conv);
  c.set(p + "rotary", rotary);
  c.set(p + "rotary_base", rotary_base);
  c.set(p + "bias", bias);
  c.set(p + "fused", fused);
}

MultiheadAttentionOptions MultiheadAttentionOptions::from_config(const Config& c, const std::string& p) {
  MultiheadAttentionOptions o;
  o.embed_dim = c.get_int(p + "embed_dim");
  o.num_heads = c.get_int(p + "num_heads");
  o.num_kv_heads = c.get_int(p + "num_kv_heads", 0);
  o.kind = parse_attention_kind(c.get_string(p + "kind", "softmax"));
  o.causal = c.get_bool(p + "causal", true);
  o.qk_norm = c.get_string(p + "qk_norm", "auto");
  o.sigmoid_bias = c.get_double(p + "sigmoid_bias", std::numeric_limits<double>::quiet_NaN());
  o.moba_block_size = c.get_int(p + "moba_block_size", 64);
  o.moba_top_k = c.get_int(p + "moba_top_k", 3);
  o.moba_key_conv = c.get_int(p + "moba_key_conv", 0);
  o.rotary = c.get_bool(p + "rotary", false);
  o.rotary_base = c.get_double(p + "rotary_base", 10000.0);
  o.bias = c.get_bool(p + "bias", true);
  o.fused = c.get_bool(p + "fused", true);
  return o;
}

// ---- MultiheadAttention ----

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& o) : options(o) {
  TANGENT_CHECK(o.embed_dim > 0 && o.num_heads > 0 && o.embed_dim % o.num_heads == 0, "MultiheadAttention: embed_dim (",
                o.embed_dim, ") must be a positive multiple of num_heads (", o.num_heads, ")");
  const int64_t hkv = o.kv_heads();
  TANGENT_CHECK(o.num_kv_heads >= 0 && o.num_heads % hkv == 0, "MultiheadAttention: num_kv_heads (", o.num_kv_heads,
                ") must divide num_heads (", o.num_heads, ")");
  TANGENT_CHECK(!o.rotary || o.head_dim() % 2 == 0, "MultiheadAttention: rotary positions need an even head dim, got ",
                o.head_dim());
  TANGENT_CHECK(o.moba_key_conv == 0 || o.moba_key_conv == 3 || o.moba_key_conv == 5,
                "MultiheadAttention: moba_key_conv must be 0 (off), 3 or 5, got ", o.moba_key_conv);
  TANGENT_CHECK(o.moba_block_size >= 1 && o.moba_top_k >= 1, "MultiheadAttention: moba_block_size and moba_top_k ",
                "must be >= 1, got ", o.moba_block_size, " and ", o.moba_top_k);
  if (options.qk_norm == "auto") options.qk_norm = o.kind == AttentionKind::Sigmoid ? "rmsnorm" : "none";
  TANGENT_CHECK(options.qk_norm == "none" || options.qk_norm == "rmsnorm" || options.qk_norm == "layernorm",
                "MultiheadAttention: qk_norm must be auto, none, rmsnorm or layernorm, got '", options.qk_norm, "'");
  const int64_t e = o.embed_dim, d = o.head_dim();
  q_proj = register_module("q_proj", std::make_shared<Linear>(e, o.num_heads * d, o.bias));
  k_proj = register_module("k_proj", std::make_shared<Linear>(e, hkv * d, o.bias));
  v_proj = register_module("v_proj", std::make_shared<Linear>(e, hkv * d, o.bias));
  out_proj = register_module("out_proj", std::make_shared<Linear>(o.num_heads * d, e, o.bias));
  if (options.qk_norm != "none") {
    q_norm = register_module("q_norm", make_norm(options.qk_norm, d));
    k_norm = register_module("k_norm", make_norm(options.qk_norm, d));
  }
  if (o.moba_key_conv > 0)
    key_conv = register_module("key_conv", std::make_shared<CausalConv1d>(hkv * d, o.moba_key_conv));
}

AttentionOptions MultiheadAttention::attention_options() const {
  AttentionOptions a;
  a.kind = options.kind;
  a.causal = options.causal || options.kind == AttentionKind::MoBA;
  a.sigmoid_bias = options.sigmoid_bias;
  a.moba_block_size = options.moba_block_size;
  a.moba_top_k = options.moba_top_k;
  a.fused = options.fused;
  return a;
}

void MultiheadAttention::split_heads(Tensor& q, Tensor& k, Tensor& v, int64_t offset) {
  const int64_t b = q.size(0), t = q.size(1), h = options.num_heads, hkv = options.kv_heads(), d = options.head_dim();
  // [B, T, heads * D] -> [B, heads, T, D]
  q = q.reshape({b, t, h, d}).transpose(1, 2);
  k = k.reshape({b, t, hkv, d}).transpose(1, 2);
  v = v.reshape({b, t, hkv, d}).transpose(1, 2);
  if (q_norm) {
    q = (*q_norm)(q);
    k = (*k_norm)(k);
  }
  if (options.rotary) {
    q = functional::rotary_embedding(q, offset, options.rotary_base);
    k = functional::rotary_embedding(k, offset, options.rotary_base);
  }
  q = q.contiguous();
  k = k.contiguous();
  v = v.contiguous();
}

Tensor MultiheadAttention::forward(const Tensor& x) {
  const int64_t e = options.embed_dim;
  TANGENT_CHECK(x.dim() == 3 && x.size(2) == e, "MultiheadAttention: expected input [B, T, ", e, "], got ", x.shape());
  const int64_t b = x.size(0), t = x.size(1);
  Tensor q = (*q_proj)(x), k = (*k_proj)(x), v = (*v_proj)(x);
  if (key_conv) k = (*key_conv)(k);
  split_heads(q, k, v, 0);
  const Tensor o = scaled_dot_product_attention(q, k, v, attention_options());
  return (*out_proj)(o.transpose(1, 2).reshape({b, t, options.num_heads * options.head_dim()}));
}

Tensor KVCache::keys() const { return narrow(key_buffer, 2, 0, positions); }
Tensor KVCache::values() const { return narrow(value_buffer, 2, 0, positions); }

namespace {

// Writes x [B, Hkv, T, D] at positions from .. from + T - 1 of `buffer`, doubling its capacity when it is full.
void append(Tensor& buffer, const Tensor& x, int64_t from) {
  const int64_t t = x.size(2), need = from + t;
  if (!buffer.defined() || buffer.size(2) < need) {
    Shape shape = x.shape();
    shape[2] = std::max<int64_t>({need, 2 * (buffer.defined() ? buffer.size(2) : 0), 2 * t, 64});
    Tensor grown = empty(shape, x.options());
    if (from > 0) grown.narrow(2, 0, from).copy_(buffer.narrow(2, 0, from));
    buffer = grown;
  }
  buffer.narrow(2, from, t).copy_(x);
}

}  // namespace

Tensor MultiheadAttention::forward_cached(const Tensor& x, KVCache& cache) {
  const int64_t e = options.embed_dim, pos = cache.length();
  TANGENT_CHECK(x.dim() == 3 && x.size(2) == e && x.size(1) >= 1, "MultiheadAttention::forward_cached: expected input ",
                "[B, T, ", e, "], got ", x.shape());
  const int64_t b = x.size(0), t = x.size(1), h = options.num_heads, d = options.head_dim();
  TANGENT_CHECK(pos == 0 || (t == 1 && cache.key_buffer.size(0) == b), "MultiheadAttention::forward_cached: after ",
                "the prefill the input must be one position of the cached batch [", cache.key_buffer.size(0), ", 1, ",
                e, "], got ", x.shape());
  NoGradGuard no_grad;
  Tensor q = (*q_proj)(x), k = (*k_proj)(x), v = (*v_proj)(x);
  if (key_conv) {
    const int64_t kk = key_conv->kernel_size, c = key_conv->channels;
    const Tensor raw = k;
    if (pos == 0) {
      k = (*key_conv)(raw);
    } else {  // the terms of CausalConv1d::forward for the last row, in the same order
      k = mul(raw, key_conv->weight.select(0, 0));
      for (int64_t j = 1; j < kk && j <= pos; ++j)
        k = add(k, mul(narrow(cache.key_tail, 1, kk - 1 - j, 1), key_conv->weight.select(0, j)));
    }
    const Tensor all = cat({pos == 0 ? zeros({b, kk - 1, c}, raw.options()) : cache.key_tail, raw}, 1);
    cache.key_tail = narrow(all, 1, all.size(1) - (kk - 1), kk - 1).contiguous();
  }
  split_heads(q, k, v, pos);
  append(cache.key_buffer, k, pos);
  append(cache.value_buffer, v, pos);
  cache.positions = pos + t;
  if (options.kind == AttentionKind::MoBA) {  // the mean keys of blocks completed by these positions
    const int64_t bs = options.moba_block_size, hkv = options.kv_heads();
    const int64_t have = cache.block_means.defined() ? cache.block_means.size(2) : 0, done = cache.length() / bs;
    if (done > have) {
      const Tensor keys =
          narrow(cache.key_buffer, 2, have * bs, (done - have) * bs).contiguous().reshape({b, hkv, done - have, bs, d});
      const Tensor means = div(sum(keys, {3}), static_cast<double>(bs));
      cache.block_means = have == 0 ? means.contiguous() : cat({cache.block_means, means}, 2);
    }
  }
  const Tensor o = pos == 0 ? scaled_dot_product_attention(q, k, v, attention_options()) : attend_step(q, cache);
  return (*out_proj)(o.transpose(1, 2).reshape({b, t, h * d}));
}

// The query at position p = cache.length() - 1, its key and value already cached. Query heads are grouped by their
// kv head ([B, Hkv, H / Hkv, D]), so the scores are one strided matmul with the cached keys [B, Hkv, L, D]. Softmax
// and sigmoid use every key. MoBA: the gates against the complete blocks' mean keys pick the top_k - 1 highest
// (ties to the later block, as ops/moba.h; the gates are computed before the block of p completes, so p's own block
// is never a candidate), and one softmax runs over those blocks and p's own block.
Tensor MultiheadAttention::attend_step(const Tensor& q, const KVCache& cache) const {
  const int64_t b = q.size(0), h = q.size(1), d = q.size(3), hkv = options.kv_heads(), len = cache.length();
  const Tensor qg = q.reshape({b, hkv, h / hkv, d});
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Tensor scores = mul(matmul(qg, cache.keys().transpose(-2, -1)), scale);  // [B, Hkv, H / Hkv, L]
  Tensor p;
  if (options.kind == AttentionKind::Softmax) {
    p = softmax(scores, -1);
  } else if (options.kind == AttentionKind::Sigmoid) {
    const double bias = std::isnan(options.sigmoid_bias) ? -std::log(static_cast<double>(len)) : options.sigmoid_bias;
    p = sigmoid(add(scores, bias));
  } else {
    const int64_t bs = options.moba_block_size, own = (len - 1) / bs, past = std::min(options.moba_top_k - 1, own);
    std::vector<double> mask(static_cast<size_t>(b * h * len), -std::numeric_limits<double>::infinity());
    Tensor gate_tensor;  // [B, Hkv, H / Hkv, own]
    if (past > 0)
      gate_tensor = matmul(qg, narrow(cache.block_means, 2, 0, own).transpose(-2, -1)).to(kFloat64).contiguous();
    const double* gates = past > 0 ? gate_tensor.data_ptr<double>() : nullptr;
    std::vector<int64_t> order(static_cast<size_t>(own));
    for (int64_t r = 0; r < b * h; ++r) {
      double* row = mask.data() + r * len;
      std::fill(row + own * bs, row + len, 0.0);
      if (past == 0) continue;
      for (int64_t n = 0; n < own; ++n) order[static_cast<size_t>(n)] = n;
      const double* g = gates + r * own;
      std::partial_sort(order.begin(), order.begin() + past, order.end(),
                        [g](int64_t i, int64_t j) { return g[i] > g[j] || (g[i] == g[j] && i > j); });
      for (int64_t s = 0; s < past; ++s) {
        const int64_t n = order[static_cast<size_t>(s)];
        std::fill(row + n * bs, row + (n + 1) * bs, 0.0);
      }
    }
    p = softmax(add(scores, tensor(mask, {b, hkv, h / hkv, len}).to(q.dtype())), -1);
  }
  return matmul(p, cache.values()).reshape({b, h, 1, d});
}

std::string MultiheadAttention::extra_repr() const {
  std::ostringstream os;
  os << "embed_dim=" << options.embed_dim << ", heads=" << options.num_heads;
  if (options.kv_heads() != options.num_heads) os << ", kv_heads=" << options.kv_heads();
  os << ", kind=" << attention_kind_name(options.kind);
  if (options.causal) os << ", causal";
  if (options.qk_norm != "none") os << ", qk_norm=" << options.qk_norm;
  if (options.rotary) os << ", rotary";
  if (options.kind == AttentionKind::MoBA)
    os << ", block=" << options.moba_block_size << ", top_k=" << options.moba_top_k;
  if (key_conv) os << ", key_conv=" << options.moba_key_conv;
  return os.str();
}

}  // namespace tangent::nn
