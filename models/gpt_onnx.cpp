// GPT in ONNX export (nn/onnx_emitter.h): token ids [batch, sequence] int64 -> logits [batch, sequence, V], with
// dynamic batch and sequence length (1 <= sequence <= context). Every attention kind, rotary and learned positions,
// both norms, grouped-query attention and tied or untied heads; the blocks are emitted by nn/attention_onnx.h.
//
// With OnnxExportOptions::with_past (`tangent export --with-past`), the graph for generation with a KV cache: for
// each layer i, inputs past_key.i and past_value.i [batch, Hkv, past_sequence, D] (keys after the key
// convolution, QK-norm and rotary), and outputs present_key.i and present_value.i [batch, Hkv, past_sequence +
// sequence, D]; MoBA layers with a key convolution also take past_key_conv.i and give present_key_conv.i
// [batch, K - 1, Hkv * D] (the last K - 1 raw key projections, zeros before position 0). The new ids sit at
// positions past_sequence .. past_sequence + sequence - 1, which must stay below the context. The first call
// passes past tensors with past_sequence = 0.
#include "models/gpt.h"
#include "nn/attention_onnx.h"
#include "nn/rotary.h"
#include "ops/factory.h"

namespace tangent::models {

namespace {

using A = nn::OnnxAttribute;

std::string emit_gpt(GPT& gpt, nn::OnnxContext& c, const std::string& ids) {
  const GPTOptions& o = gpt.options;
  const bool past = c.options().with_past;
  const std::string batch = c.batch_dim(), vocab = std::to_string(o.vocab_size());
  c.set_main_dims({batch, "sequence"}, {batch, "sequence", vocab});
  const TensorOptions float_options = gpt.token_embedding->weight.options();
  const TensorOptions id_options = TensorOptions(kInt64).device(gpt.token_embedding->weight.device());

  c.set_sample(zeros({1, 1}, id_options));
  std::string h = c.emit_child(*gpt.token_embedding, "token_embedding", ids);
  const std::string table = c.name("token_embedding.weight");  // the Embedding emitter's initializer

  auto block = [&](size_t i) { return std::static_pointer_cast<nn::TransformerBlock>((*gpt.blocks)[i]); };
  const nn::MultiheadAttentionOptions& first = block(0)->attention->options;
  const int64_t d = first.head_dim(), hkv = first.kv_heads();

  nn::OnnxAttentionInputs in;
  const std::string scalar_doc = "the position of the first new token";
  if (past) {
    const std::string name =
        c.add_input("past_key.0", kFloat32, {batch, std::to_string(hkv), "past_sequence", std::to_string(d)},
                    "layer 0's keys of the past positions");
    in.offset =
        c.node("Gather", {c.node("Shape", {name}), c.int_scalar("axis2", 2, "")}, scalar_doc, {A::integer("axis", 0)});
  } else {
    in.offset = c.int_scalar("offset", 0, scalar_doc);
  }
  const std::string len = c.node(
      "Add", {in.offset,
              c.node("Gather", {c.node("Shape", {ids}), c.int_scalar("axis1", 1, "")}, "", {A::integer("axis", 0)})});
  if (gpt.position_embedding) {
    const std::string positions = c.node("Range", {in.offset, len, c.int_scalar("one", 1, "")}, "positions");
    c.set_sample(zeros({1}, id_options));
    h = c.node("Add", {h, c.emit_child(*gpt.position_embedding, "position_embedding", positions)});
  }
  if (o.positions == "rotary") {
    const auto tables = nn::functional::rotary_tables(0, o.context, d, first.rotary_base);
    in.rotary_cos = c.initializer("rotary.cos", tables.cos, "rotary cos table [context, head dim]");
    in.rotary_sin = c.initializer("rotary.sin", tables.sin, "rotary sin table [context, head dim]");
  }

  for (size_t i = 0; i < gpt.blocks->size(); ++i) {
    nn::TransformerBlock& b = *block(i);
    const std::string n = std::to_string(i);
    const std::vector<std::string> kv_past{batch, std::to_string(hkv), "past_sequence", std::to_string(d)};
    const std::vector<std::string> kv_present{batch, std::to_string(hkv), "total_sequence", std::to_string(d)};
    nn::OnnxAttentionInputs layer = in;
    if (past) {
      layer.past_key = i == 0 ? "past_key.0" : c.add_input("past_key." + n, kFloat32, kv_past, "");
      layer.past_value = c.add_input("past_value." + n, kFloat32, kv_past, "");
      if (b.attention->key_conv) {
        const int64_t k = b.attention->key_conv->kernel_size, ch = b.attention->key_conv->channels;
        layer.past_key_conv =
            c.add_input("past_key_conv." + n, kFloat32, {batch, std::to_string(k - 1), std::to_string(ch)},
                        "the last kernel_size - 1 raw key projections (zeros before position 0)");
      }
    }
    c.set_sample(zeros({1, 1, o.dim}, float_options));
    nn::OnnxContext bc = c.child(b, "blocks." + n);
    const nn::OnnxAttentionOutputs out = nn::emit_transformer_block(b, bc, h, layer);
    h = out.y;
    if (past) {
      c.add_output(out.present_key, "present_key." + n, kv_present, "the keys of all positions so far");
      c.add_output(out.present_value, "present_value." + n, kv_present, "the values of all positions so far");
      if (!out.present_key_conv.empty())
        c.add_output(out.present_key_conv, "present_key_conv." + n,
                     {batch, std::to_string(b.attention->key_conv->kernel_size - 1),
                      std::to_string(b.attention->key_conv->channels)},
                     "the last kernel_size - 1 raw key projections");
    }
  }
  c.set_sample(zeros({1, 1, o.dim}, float_options));
  h = c.emit_child(*gpt.final_norm, "final_norm", h);
  if (gpt.lm_head) return c.emit_child(*gpt.lm_head, "lm_head", h);
  return c.node("MatMul", {h, c.node("Transpose", {table}, "", {A::integers("perm", {1, 0})})},
                "LM head tied to the token embedding: logits = h E^T");
}

[[maybe_unused]] const bool kOnnx = nn::register_onnx_emitter<GPT>("GPT", emit_gpt, /*container=*/true);

}  // namespace

}  // namespace tangent::models
