#pragma once
// MultiheadAttention and TransformerBlock in ONNX export (opset 17, standard operators only), with or without a
// key/value cache. Language models (models/gpt_onnx.cpp) call these for each block: the nodes need values the
// whole graph shares (the position of the first row, the rotary tables, the past keys and values). A
// MultiheadAttention or TransformerBlock exported on its own (in a Sequential) goes through the emitters
// registered in nn/attention_onnx.cpp, which call the same functions without a cache.
//
// The attention of rows at positions P .. P + T - 1 (P = 0 without a cache) against keys 0 .. P + T - 1:
//   softmax  softmax(Where(causal, q k^T / sqrt(D), -inf)) v
//   sigmoid  Where(causal, sigmoid(q k^T / sqrt(D) + bias), 0) v     (bias NaN: -ln(P + T))
//   MoBA     keys padded to whole blocks, block means [B, H, nblocks, D]; gates q . mean (unscaled); a past
//            block n is a candidate for the row at position t when n < t / block; a candidate is selected when
//            fewer than top_k - 1 candidates beat it (a higher gate, or an equal gate and a later block: the tie
//            rule of ops/moba.h); the row attends with one softmax to its own block (causally) and the selected
//            blocks.
// Grouped-query attention expands the kv heads (kv head h / (H / Hkv) serves query head h).
#include <string>

#include "nn/onnx_emitter.h"
#include "nn/transformer.h"

namespace tangent::nn {

// What an attention layer's nodes read from the rest of the graph.
struct OnnxAttentionInputs {
  std::string offset;                  // int64 scalar P: the position of the first row of x
  std::string rotary_cos, rotary_sin;  // float32 [context, D] tables of positions 0 .. context - 1 (rotary only)
  // With a cache (empty without): past keys and values [B, Hkv, P, D] (after key_conv, qk_norm and rotary) and,
  // with key_conv, the last kernel_size - 1 raw key projections [B, kernel_size - 1, Hkv * D].
  std::string past_key, past_value, past_key_conv;
};

// The layer's output [B, T, E] and, always, the keys and values of all P + T positions [B, Hkv, P + T, D] and
// (key_conv) the last kernel_size - 1 raw key projections, as the next step's past.
struct OnnxAttentionOutputs {
  std::string y, present_key, present_value, present_key_conv;
};

OnnxAttentionOutputs emit_attention(MultiheadAttention& attention, OnnxContext& c, const std::string& x,
                                    const OnnxAttentionInputs& in);
// x + LayerScale(Attention(Norm1(x))), then + MLP(Norm2(.)); `c` is the block's context.
OnnxAttentionOutputs emit_transformer_block(TransformerBlock& block, OnnxContext& c, const std::string& x,
                                            const OnnxAttentionInputs& in);

}  // namespace tangent::nn
