#pragma once
// GPT: a decoder-only character-level language model (kind "transformer").
//   ids [B, T] int64 (T <= context) -> token embedding (+ learned positions, or rotary positions in attention)
//   -> `layers` pre-norm TransformerBlocks -> final norm -> LM head (tied to the token embedding by default)
//   -> logits [B, T, V]
// The attention kind is chosen per layer: every layer uses `attention` except the last `dense_last`, which use
// softmax (MoBA models usually keep the top layers dense). The configuration holds the vocabulary (byte values),
// so a checkpoint alone can encode prompts and decode samples.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/transformer.h"

namespace tangent::models {

struct GPTOptions {
  std::vector<int64_t> vocab;  // the characters as byte values (data::Vocabulary::bytes()); V = vocab.size()
  int64_t context = 128;       // the longest input, and the length of learned positions
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t kv_heads = 0;  // 0: heads (no grouping)
  int64_t dim = 128;
  std::string norm = "layernorm";     // layernorm or rmsnorm (block pre-norms and the final norm)
  std::string positions = "rotary";   // rotary or learned
  std::string attention = "softmax";  // softmax, sigmoid or moba
  int64_t dense_last = 0;             // the last N layers use softmax attention
  std::string qk_norm = "auto";       // auto (rmsnorm for sigmoid layers), none, rmsnorm, layernorm
  double sigmoid_bias = std::numeric_limits<double>::quiet_NaN();  // NaN: -ln(context), fixed for all lengths
  double layer_scale = -1.0;  // < 0: 1e-4 on sigmoid layers, off elsewhere; 0: off; > 0: init value
  int64_t moba_block = 32;
  int64_t moba_top_k = 3;
  int64_t moba_key_conv = 0;  // 0 (off), 3 or 5: causal conv on keys in MoBA layers
  int64_t mlp_ratio = 4;
  bool tie_weights = true;  // the LM head reuses the token embedding matrix
  bool bias = true;         // in projections and MLPs
  bool fused = true;        // false: unfused reference attention kernels

  int64_t vocab_size() const { return static_cast<int64_t>(vocab.size()); }
  // The block options of layer i (0-based).
  nn::TransformerBlockOptions block_options(int64_t layer) const;
  nn::Config to_config() const;
  static GPTOptions from_config(const nn::Config& config);
};

struct GenerateOptions {
  int64_t tokens = 200;      // how many to generate
  double temperature = 1.0;  // 0: greedy (argmax)
  int64_t top_k = 0;         // 0: sample from all; else only the k most likely
  uint64_t seed = 0;
  bool cache = true;  // false: run the whole window again for every token (same tokens, for comparison)
};

// The per-layer key/value caches of GPT::forward_cached.
struct GPTCache {
  std::vector<nn::KVCache> layers;
  int64_t length() const { return layers.empty() ? 0 : layers.front().length(); }
};

class GPT : public Model {
 public:
  explicit GPT(const GPTOptions& options);
  // ids [B, T] int64 with 1 <= T <= context, each in [0, V) -> logits [B, T, V].
  Tensor forward(const Tensor& ids) override;
  std::string type_name() const override { return "GPT"; }
  std::string extra_repr() const override;
  std::string kind() const override { return "transformer"; }
  nn::Config config() const override { return options.to_config(); }
  Shape input_shape() const override { return {options.context}; }
  DType input_dtype() const override { return kInt64; }

  // Incremental forward without gradients: ids [B, T] at positions cache.length() .. + T - 1 (all < context) ->
  // their logits [B, T, V], as forward() gives them on the whole sequence (up to rounding). The cache must be empty
  // (a prefill) or T == 1.
  Tensor forward_cached(const Tensor& ids, GPTCache& cache);

  // Autoregressive sampling after `prompt` (token ids, non-empty); returns only the new tokens. Runs in eval mode
  // without gradients. The model sees a window of at most `context` tokens at positions 0, 1, ...: it starts as the
  // last min(context, prompt length) tokens of the prompt; when the next token would not fit, the window slides:
  // it restarts from the last ceil(context / 2) tokens, encoded again from position 0 (with rotary or learned
  // positions alike). With the cache, that is one prefill every ceil(context / 2) tokens; without it, the whole
  // window runs for each token. Both see the same windows, so they give the same tokens. Sampling draws from a
  // Generator seeded with options.seed.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, const GenerateOptions& options);
  // Several prompts at once: prompts of equal length run as one batch; each prompt samples from its own Generator
  // seeded with options.seed, so its tokens are those generate(prompt, options) gives alone.
  std::vector<std::vector<int64_t>> generate_batch(const std::vector<std::vector<int64_t>>& prompts,
                                                   const GenerateOptions& options);

  GPTOptions options;
  std::shared_ptr<nn::Embedding> token_embedding, position_embedding;  // positions: null with rotary
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Module> final_norm;
  std::shared_ptr<nn::Linear> lm_head;  // null with tied weights
};

}  // namespace tangent::models
