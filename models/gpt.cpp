#include "models/gpt.h"

#include <algorithm>
#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

namespace tangent::models {

// ---- options ----

nn::TransformerBlockOptions GPTOptions::block_options(int64_t layer) const {
  nn::TransformerBlockOptions b;
  nn::MultiheadAttentionOptions& a = b.attention;
  a.embed_dim = dim;
  a.num_heads = heads;
  a.num_kv_heads = kv_heads;
  a.kind = layer >= layers - dense_last ? AttentionKind::Softmax : parse_attention_kind(attention);
  a.causal = true;
  a.qk_norm = qk_norm;
  // One fixed bias for every sequence length, so that generating from short prompts sees what training saw.
  a.sigmoid_bias = std::isnan(sigmoid_bias) ? -std::log(static_cast<double>(context)) : sigmoid_bias;
  a.moba_block_size = moba_block;
  a.moba_top_k = moba_top_k;
  a.moba_key_conv = a.kind == AttentionKind::MoBA ? moba_key_conv : 0;
  a.rotary = positions == "rotary";
  a.bias = bias;
  a.fused = fused;
  b.norm = norm;
  b.mlp_ratio = mlp_ratio;
  b.layer_scale = layer_scale;
  b.bias = bias;
  return b;
}

nn::Config GPTOptions::to_config() const {
  nn::Config c;
  c.set("vocab", vocab);
  c.set("context", context);
  c.set("layers", layers);
  c.set("heads", heads);
  c.set("kv_heads", kv_heads);
  c.set("dim", dim);
  c.set("norm", norm);
  c.set("positions", positions);
  c.set("attention", attention);
  c.set("dense_last", dense_last);
  c.set("qk_norm", qk_norm);
  c.set("sigmoid_bias", sigmoid_bias);
  c.set("layer_scale", layer_scale);
  c.set("moba_block", moba_block);
  c.set("moba_top_k", moba_top_k);
  c.set("moba_key_conv", moba_key_conv);
  c.set("mlp_ratio", mlp_ratio);
  c.set("tie_weights", tie_weights);
  c.set("bias", bias);
  c.set("fused", fused);
  return c;
}

GPTOptions GPTOptions::from_config(const nn::Config& c) {
  GPTOptions o;
  o.vocab = c.get_ints("vocab");
  o.context = c.get_int("context");
  o.layers = c.get_int("layers");
  o.heads = c.get_int("heads");
  o.kv_heads = c.get_int("kv_heads", 0);
  o.dim = c.get_int("dim");
  o.norm = c.get_string("norm", "layernorm");
  o.positions = c.get_string("positions", "rotary");
  o.attention = c.get_string("attention", "softmax");
  o.dense_last = c.get_int("dense_last", 0);
  o.qk_norm = c.get_string("qk_norm", "auto");
  o.sigmoid_bias = c.get_double("sigmoid_bias", std::numeric_limits<double>::quiet_NaN());
  o.layer_scale = c.get_double("layer_scale", -1.0);
  o.moba_block = c.get_int("moba_block", 32);
  o.moba_top_k = c.get_int("moba_top_k", 3);
  o.moba_key_conv = c.get_int("moba_key_conv", 0);
  o.mlp_ratio = c.get_int("mlp_ratio", 4);
  o.tie_weights = c.get_bool("tie_weights", true);
  o.bias = c.get_bool("bias", true);
  o.fused = c.get_bool("fused", true);
  return o;
}

// ---- model ----

GPT::GPT(const GPTOptions& o) : options(o) {
  TANGENT_CHECK(o.vocab_size() >= 1, "GPT: the vocabulary is empty");
  TANGENT_CHECK(o.context >= 1 && o.layers >= 1 && o.dim >= 1 && o.heads >= 1, "GPT: context, layers, dim and ",
                "heads must be positive, got ", o.context, ", ", o.layers, ", ", o.dim, ", ", o.heads);
  TANGENT_CHECK(o.dense_last >= 0 && o.dense_last <= o.layers, "GPT: dense_last must be in [0, layers = ", o.layers,
                "], got ", o.dense_last);
  TANGENT_CHECK(o.positions == "rotary" || o.positions == "learned", "GPT: positions must be rotary or learned, got '",
                o.positions, "'");
  parse_attention_kind(o.attention);  // validates the name
  token_embedding = register_module("token_embedding", std::make_shared<nn::Embedding>(o.vocab_size(), o.dim));
  nn::init::normal_(token_embedding->weight, 0.0, 0.02);
  if (o.positions == "learned") {
    position_embedding = register_module("position_embedding", std::make_shared<nn::Embedding>(o.context, o.dim));
    nn::init::normal_(position_embedding->weight, 0.0, 0.02);
  }
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < o.layers; ++i) blocks->push_back(std::make_shared<nn::TransformerBlock>(o.block_options(i)));
  final_norm = register_module("final_norm", nn::make_norm(o.norm, o.dim));
  if (!o.tie_weights) lm_head = register_module("lm_head", std::make_shared<nn::Linear>(o.dim, o.vocab_size(), false));
}

Tensor GPT::forward(const Tensor& ids) {
  TANGENT_CHECK(ids.dim() == 2 && ids.dtype() == kInt64 && ids.size(1) >= 1 && ids.size(1) <= options.context,
                "GPT: expected int64 token ids [B, T] with 1 <= T <= ", options.context, ", got ", ids.dtype(),
                " of shape ", ids.shape());
  const int64_t t = ids.size(1);
  Tensor h = (*token_embedding)(ids);
  if (position_embedding) h = add(h, (*position_embedding)(arange(0, t)));
  for (const auto& block : *blocks) h = (*block)(h);
  h = (*final_norm)(h);
  return lm_head ? (*lm_head)(h) : linear(h, token_embedding->weight);
}

std::string GPT::extra_repr() const {
  std::ostringstream os;
  os << "vocab=" << options.vocab_size() << ", context=" << options.context << ", attention=" << options.attention;
  if (options.dense_last > 0) os << " (last " << options.dense_last << " softmax)";
  os << ", positions=" << options.positions << (options.tie_weights ? ", tied" : "");
  return os.str();
}

Tensor GPT::forward_cached(const Tensor& ids, GPTCache& cache) {
  const int64_t pos = cache.length();
  TANGENT_CHECK(ids.dim() == 2 && ids.dtype() == kInt64 && ids.size(1) >= 1 && pos + ids.size(1) <= options.context,
                "GPT::forward_cached: expected int64 token ids [B, T] with 1 <= T and ", pos,
                " cached + T <= ", options.context, ", got ", ids.dtype(), " of shape ", ids.shape());
  NoGradGuard no_grad;
  const int64_t t = ids.size(1);
  if (cache.layers.empty()) cache.layers.resize(blocks->size());
  Tensor h = (*token_embedding)(ids);
  if (position_embedding) h = add(h, (*position_embedding)(arange(pos, pos + t)));
  for (size_t i = 0; i < blocks->size(); ++i)
    h = std::static_pointer_cast<nn::TransformerBlock>((*blocks)[i])->forward_cached(h, cache.layers[i]);
  h = (*final_norm)(h);
  return lm_head ? (*lm_head)(h) : linear(h, token_embedding->weight);
}

namespace {

// The next token from one row of logits l[0, v): greedy at temperature 0, else sampled (top-k cut) with `gen`.
int64_t sample_token(const double* l, int64_t v, const GenerateOptions& g, Generator& gen, std::vector<double>& p) {
  if (g.temperature == 0.0) return std::max_element(l, l + v) - l;
  double cut = -INFINITY;  // logits below the k-th largest are dropped
  if (g.top_k > 0 && g.top_k < v) {
    std::vector<double> sorted(l, l + v);
    std::nth_element(sorted.begin(), sorted.begin() + (g.top_k - 1), sorted.end(), std::greater<double>());
    cut = sorted[static_cast<size_t>(g.top_k - 1)];
  }
  const double top = *std::max_element(l, l + v);
  double total = 0.0;
  for (int64_t i = 0; i < v; ++i) {
    p[static_cast<size_t>(i)] = l[i] >= cut ? std::exp((l[i] - top) / g.temperature) : 0.0;
    total += p[static_cast<size_t>(i)];
  }
  const double u = rand({1}, kFloat64, &gen).item<double>() * total;
  double acc = 0.0;
  for (int64_t i = 0; i < v; ++i) {
    acc += p[static_cast<size_t>(i)];
    if (u < acc) return i;
  }
  for (int64_t i = v - 1; i >= 0; --i)  // rounding at the very top: the last token with non-zero probability
    if (p[static_cast<size_t>(i)] > 0) return i;
  return 0;
}

}  // namespace

std::vector<int64_t> GPT::generate(const std::vector<int64_t>& prompt, const GenerateOptions& g) {
  return generate_batch({prompt}, g).front();
}

std::vector<std::vector<int64_t>> GPT::generate_batch(const std::vector<std::vector<int64_t>>& prompts,
                                                      const GenerateOptions& g) {
  TANGENT_CHECK(!prompts.empty(), "generate: no prompts");
  TANGENT_CHECK(g.tokens >= 0 && g.temperature >= 0 && g.top_k >= 0, "generate: tokens, temperature and top_k must ",
                "be >= 0, got ", g.tokens, ", ", g.temperature, ", ", g.top_k);
  const int64_t v = options.vocab_size(), ctx = options.context, keep = (options.context + 1) / 2;
  for (size_t i = 0; i < prompts.size(); ++i) {
    TANGENT_CHECK(!prompts[i].empty(), "generate: prompt ", i + 1, " is empty");
    for (int64_t id : prompts[i])
      TANGENT_CHECK(id >= 0 && id < v, "generate: prompt ", i + 1, " has token id ", id, " outside the vocabulary [0, ",
                    v, ")");
  }
  const bool was_training = is_training();
  eval();
  NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> out(prompts.size());
  std::vector<double> p(static_cast<size_t>(v));
  std::vector<bool> done(prompts.size(), false);
  for (size_t first = 0; first < prompts.size(); ++first) {
    if (done[first]) continue;
    std::vector<size_t> rows;  // the prompts of this length, run as one batch
    for (size_t i = first; i < prompts.size(); ++i)
      if (!done[i] && prompts[i].size() == prompts[first].size()) {
        rows.push_back(i);
        done[i] = true;
      }
    const int64_t b = static_cast<int64_t>(rows.size());
    std::vector<std::vector<int64_t>> seqs;
    std::vector<Generator> gens;
    for (size_t i : rows) {
      seqs.push_back(prompts[i]);
      gens.emplace_back(g.seed);
    }
    int64_t start = std::max<int64_t>(0, static_cast<int64_t>(seqs[0].size()) - ctx);  // the window's first token
    GPTCache cache;
    for (int64_t step = 0; step < g.tokens; ++step) {
      const int64_t len = static_cast<int64_t>(seqs[0].size());
      if (len - start > ctx) {  // slide
        start = len - keep;
        cache = GPTCache();
      }
      // The tokens to feed: the whole window, or with a warm cache only the newest token.
      const int64_t from = g.cache && cache.length() > 0 ? len - 1 : start, t = len - from;
      std::vector<int64_t> ids;
      for (const auto& s : seqs) ids.insert(ids.end(), s.begin() + from, s.end());
      const Tensor x = tensor(ids, {b, t});
      const Tensor logits =
          (g.cache ? forward_cached(x, cache) : forward(x)).select(1, t - 1).to(kFloat64).contiguous();
      const double* l = logits.data_ptr<double>();
      for (int64_t r = 0; r < b; ++r) {
        const int64_t next = sample_token(l + r * v, v, g, gens[static_cast<size_t>(r)], p);
        seqs[static_cast<size_t>(r)].push_back(next);
        out[rows[static_cast<size_t>(r)]].push_back(next);
      }
    }
  }
  train(was_training);
  return out;
}

}  // namespace tangent::models
