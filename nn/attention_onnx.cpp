// MultiheadAttention and TransformerBlock as ONNX nodes; see nn/attention_onnx.h.
#include "nn/attention_onnx.h"

#include <cmath>
#include <limits>
#include <vector>

#include "nn/activation.h"
#include "nn/rotary.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace {

using A = OnnxAttribute;
constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();  // Slice to the end

// Emits `m` (the part `local` of c's module) on x, with a zero sample of `shape` in the graph's float dtype.
std::string emit_on(OnnxContext& c, Module& m, const std::string& local, const std::string& x, const Shape& shape) {
  c.set_sample(zeros(shape, c.sample().options()));
  return c.emit_child(m, local, x);
}

// Node helpers on one context.
struct Graph {
  OnnxContext& c;
  std::string op(const std::string& type, const std::vector<std::string>& in, const std::string& doc = "",
                 const std::vector<A>& attributes = {}) {
    return c.node(type, in, doc, attributes);
  }
  std::string ints(const std::vector<int64_t>& v) { return c.int_initializer("const", v, ""); }
  std::string scalar(int64_t v) { return c.int_scalar("const", v, ""); }
  std::string unsqueeze(const std::string& x, const std::vector<int64_t>& axes) {
    return op("Unsqueeze", {x, ints(axes)});
  }
  std::string slice(const std::string& x, const std::string& starts, const std::string& ends, int64_t axis) {
    return op("Slice", {x, starts, ends, ints({axis})});
  }
  std::string slice(const std::string& x, int64_t start, int64_t end, int64_t axis) {
    return slice(x, ints({start}), ints({end}), axis);
  }
  std::string transpose(const std::string& x, const std::vector<int64_t>& perm) {
    return op("Transpose", {x}, "", {A::integers("perm", perm)});
  }
  std::string range(const std::string& from, const std::string& to) { return op("Range", {from, to, scalar(1)}); }
};

// [B, Hkv, L, D] -> [B, H, L, D]: kv head j serves query heads j G .. j G + G - 1.
std::string expand_heads(Graph& g, const std::string& x, int64_t h, int64_t hkv, int64_t d) {
  if (h == hkv) return x;
  const std::string e = g.op("Expand", {g.unsqueeze(x, {2}), g.ints({1, 1, h / hkv, 1, 1})},
                             "grouped-query attention: each kv head serves " + std::to_string(h / hkv) + " heads");
  return g.op("Reshape", {e, g.ints({0, h, -1, d})});
}

// x * cos + rotate_half(x) * sin with the table rows of positions P .. P + T - 1.
std::string rotary(Graph& g, const std::string& x, const std::string& cos, const std::string& sin, int64_t d) {
  const int64_t half = d / 2;
  const std::string rotated =
      g.op("Concat", {g.op("Neg", {g.slice(x, half, d, 3)}), g.slice(x, 0, half, 3)}, "", {A::integer("axis", -1)});
  return g.op("Add", {g.op("Mul", {x, cos}), g.op("Mul", {rotated, sin})});
}

// [B, H, T, L] bool: the keys each row may see besides causality, for MoBA.
std::string moba_allowed(Graph& g, const MultiheadAttentionOptions& o, const std::string& q, const std::string& keys,
                         const std::string& qpos, const std::string& kpos, const std::string& len, int64_t h,
                         int64_t d) {
  const int64_t bs = o.moba_block_size, past = o.moba_top_k - 1;
  const std::string doc = "MoBA: block " + std::to_string(bs) + ", top_k " + std::to_string(o.moba_top_k);
  const std::string bsc = g.scalar(bs);
  const std::string qblock = g.op("Div", {qpos, bsc}, doc), kblock = g.op("Div", {kpos, bsc});
  const std::string own = g.op("Equal", {g.unsqueeze(kblock, {0}), g.unsqueeze(qblock, {1})});  // [T, L]
  if (past == 0) return own;
  // Block means of the keys padded to whole blocks (a partial block is never a candidate).
  const std::string nb = g.op("Div", {g.op("Add", {len, g.scalar(bs - 1)}), bsc});
  const std::string pad = g.op("Sub", {g.op("Mul", {nb, bsc}), len});
  const std::string pads =
      g.op("Concat", {g.ints({0, 0, 0, 0, 0, 0}), g.unsqueeze(pad, {0}), g.ints({0})}, "", {A::integer("axis", 0)});
  const std::string blocks = g.op("Reshape", {g.op("Pad", {keys, pads}), g.ints({0, h, -1, bs, d})});
  const std::string means =
      g.op("Div", {g.op("ReduceSum", {blocks, g.ints({3})}, "block mean keys", {A::integer("keepdims", 0)}),
                   g.c.constant(static_cast<double>(bs))});
  const std::string gates = g.op("MatMul", {q, g.transpose(means, {0, 1, 3, 2})}, "gates q . mean");  // [B,H,T,nb]
  const std::string ids = g.range(g.scalar(0), nb);
  const std::string candidate = g.op("Less", {g.unsqueeze(ids, {0}), g.unsqueeze(qblock, {1})});  // [T, nb]
  // beats[.., m, n]: candidate m has a higher gate than n, or an equal one and is the later block.
  const std::string gm = g.unsqueeze(gates, {4}), gn = g.unsqueeze(gates, {3});
  const std::string later = g.op("Greater", {g.unsqueeze(ids, {1}), g.unsqueeze(ids, {0})});  // [nb(m), nb(n)]
  std::string beats = g.op("Or", {g.op("Greater", {gm, gn}), g.op("And", {g.op("Equal", {gm, gn}), later})},
                           "top_k - 1 past blocks by gate, ties to the later block");
  beats = g.op("And", {beats, g.unsqueeze(candidate, {2})});
  const std::string count = g.op("ReduceSum", {g.op("Cast", {beats}, "", {A::integer("to", 7)}), g.ints({3})}, "",
                                 {A::integer("keepdims", 0)});                                   // [B, H, T, nb]
  const std::string selected = g.op("And", {candidate, g.op("Less", {count, g.ints({past})})});  // [B, H, T, nb]
  const std::string seen = g.op("Gather", {selected, kblock}, "", {A::integer("axis", 3)});      // [B, H, T, L]
  return g.op("Or", {own, seen});
}

// The causal depthwise key convolution over the past raw projections and the new ones.
std::string key_convolution(Graph& g, CausalConv1d& conv, const std::string& raw, const OnnxAttentionInputs& in,
                            std::string* tail) {
  const int64_t k = conv.kernel_size;
  OnnxContext cc = g.c.child(conv, "key_conv");
  Graph kg{cc};
  const std::string doc = "CausalConv1d " + conv.extra_repr() + " on the key projections";
  // [B, K - 1 + T, C]: the past projections (zeros before position 0), then the new ones.
  const std::string all = in.past_key_conv.empty()
                              ? kg.op("Pad", {raw, kg.ints({0, k - 1, 0, 0, 0, 0})}, doc)
                              : kg.op("Concat", {in.past_key_conv, raw}, doc, {A::integer("axis", 1)});
  const std::string w = cc.initializer("weight", conv.weight, "weight [kernel_size, channels]");
  std::string y;
  for (int64_t j = 0; j < k; ++j) {  // y = sum_j w[j] x[t - j], in CausalConv1d::forward's order
    const std::string shifted = kg.slice(all, k - 1 - j, j == 0 ? kEnd : -j, 1);
    const std::string term = kg.op("Mul", {shifted, kg.op("Gather", {w, kg.scalar(j)}, "", {A::integer("axis", 0)})});
    y = j == 0 ? term : kg.op("Add", {y, term});
  }
  *tail = kg.slice(all, -(k - 1), kEnd, 1);
  return y;
}

}  // namespace

OnnxAttentionOutputs emit_attention(MultiheadAttention& a, OnnxContext& c, const std::string& x,
                                    const OnnxAttentionInputs& in) {
  const MultiheadAttentionOptions& o = a.options;
  const int64_t e = o.embed_dim, h = o.num_heads, hkv = o.kv_heads(), d = o.head_dim();
  Graph g{c};
  OnnxAttentionOutputs out;
  std::string q = emit_on(c, *a.q_proj, "q_proj", x, {1, 1, e});
  std::string k = emit_on(c, *a.k_proj, "k_proj", x, {1, 1, e});
  std::string v = emit_on(c, *a.v_proj, "v_proj", x, {1, 1, e});
  if (a.key_conv) k = key_convolution(g, *a.key_conv, k, in, &out.present_key_conv);
  // [B, T, heads * D] -> [B, heads, T, D]
  q = g.transpose(g.op("Reshape", {q, g.ints({0, 0, h, d})}, "split the heads"), {0, 2, 1, 3});
  k = g.transpose(g.op("Reshape", {k, g.ints({0, 0, hkv, d})}), {0, 2, 1, 3});
  v = g.transpose(g.op("Reshape", {v, g.ints({0, 0, hkv, d})}), {0, 2, 1, 3});
  if (a.q_norm) {
    q = emit_on(c, *a.q_norm, "q_norm", q, {1, 1, 1, d});
    k = emit_on(c, *a.k_norm, "k_norm", k, {1, 1, 1, d});
  }
  // Positions P .. P + T - 1 of the rows, 0 .. P + T - 1 of the keys.
  const std::string t = g.op("Gather", {g.op("Shape", {x}), g.scalar(1)}, "", {A::integer("axis", 0)});
  const std::string len = g.op("Add", {in.offset, t});
  const std::string qpos = g.range(in.offset, len), kpos = g.range(g.scalar(0), len);
  if (o.rotary) {
    const std::string from = g.unsqueeze(in.offset, {0}), to = g.unsqueeze(len, {0});
    const std::string cos = g.slice(in.rotary_cos, from, to, 0), sin = g.slice(in.rotary_sin, from, to, 0);
    q = rotary(g, q, cos, sin, d);
    k = rotary(g, k, cos, sin, d);
  }
  if (!in.past_key.empty()) {
    k = g.op("Concat", {in.past_key, k}, "the past keys, then the new ones", {A::integer("axis", 2)});
    v = g.op("Concat", {in.past_value, v}, "the past values, then the new ones", {A::integer("axis", 2)});
  }
  out.present_key = k;
  out.present_value = v;
  const std::string keys = expand_heads(g, k, h, hkv, d), values = expand_heads(g, v, h, hkv, d);
  const std::string scores =
      g.op("Mul", {g.op("MatMul", {q, g.transpose(keys, {0, 1, 3, 2})}, "attention " + a.extra_repr()),
                   c.constant(1.0 / std::sqrt(static_cast<double>(d)))});
  const std::string causal = g.op("LessOrEqual", {g.unsqueeze(kpos, {0}), g.unsqueeze(qpos, {1})});  // [T, L]
  std::string p;
  if (o.kind == AttentionKind::Sigmoid) {
    const std::string bias =
        std::isnan(o.sigmoid_bias)
            ? g.op("Neg", {g.op("Log", {g.op("Cast", {len}, "", {A::integer("to", 1)})})}, "sigmoid bias -ln(L)")
            : c.constant(o.sigmoid_bias);
    p = g.op("Where", {causal, g.op("Sigmoid", {g.op("Add", {scores, bias})}), c.constant(0.0)});
  } else {
    std::string allowed = causal;
    if (o.kind == AttentionKind::MoBA)
      allowed = g.op("And", {causal, moba_allowed(g, o, q, keys, qpos, kpos, len, h, d)});
    p = g.op("Softmax", {g.op("Where", {allowed, scores, c.constant(-INFINITY)})}, "", {A::integer("axis", -1)});
  }
  const std::string heads = g.op("MatMul", {p, values});  // [B, H, T, D]
  const std::string merged = g.op("Reshape", {g.transpose(heads, {0, 2, 1, 3}), g.ints({0, 0, h * d})});
  out.y = emit_on(c, *a.out_proj, "out_proj", merged, {1, 1, h * d});
  return out;
}

OnnxAttentionOutputs emit_transformer_block(TransformerBlock& b, OnnxContext& c, const std::string& x,
                                            const OnnxAttentionInputs& in) {
  const int64_t e = b.options.attention.embed_dim, wide = b.options.mlp_ratio * e;
  OnnxContext ac = c.child(*b.attention, "attention");
  OnnxAttentionOutputs out = emit_attention(*b.attention, ac, emit_on(c, *b.norm1, "norm1", x, {1, 1, e}), in);
  std::string branch = out.y;
  if (b.layer_scale.defined())
    branch = c.node("Mul", {branch, c.initializer("layer_scale", b.layer_scale, "LayerScale gamma [E]")});
  const std::string hidden = c.node("Add", {x, branch}, "residual");
  const std::string up = emit_on(c, *b.fc1, "fc1", emit_on(c, *b.norm2, "norm2", hidden, {1, 1, e}), {1, 1, e});
  GELU gelu;  // TransformerBlock's MLP uses the exact GELU
  const std::string act = emit_on(c, gelu, "gelu", up, {1, 1, wide});
  out.y = c.node("Add", {hidden, emit_on(c, *b.fc2, "fc2", act, {1, 1, wide})}, "residual");
  return out;
}

// ---- registered emitters, for a MultiheadAttention or TransformerBlock exported on its own (in a Sequential) ----
namespace {

// No cache; the input's sequence length is the sample's (the graph's non-batch dims are fixed), so the rotary
// tables cover exactly it.
OnnxAttentionInputs plain_inputs(OnnxContext& c, const MultiheadAttention& a) {
  if (c.sample().dim() != 3) c.unsupported("expects an input [B, T, E], got " + c.sample_shape());
  OnnxAttentionInputs in;
  in.offset = c.int_scalar("offset", 0, "the position of the first row");
  if (a.options.rotary) {
    const functional::RotaryTables t =
        functional::rotary_tables(0, c.sample().size(1), a.options.head_dim(), a.options.rotary_base);
    in.rotary_cos = c.initializer("rotary.cos", t.cos, "rotary cos table [T, head dim]");
    in.rotary_sin = c.initializer("rotary.sin", t.sin, "rotary sin table [T, head dim]");
  }
  return in;
}

// Emits the layer; the sample keeps its shape (the output's).
template <typename M, typename F>
std::string emit_plain(M& m, OnnxContext& c, const std::string& x, MultiheadAttention& a, F emit) {
  const Tensor sample = c.sample();
  const std::string y = emit(m, c, x, plain_inputs(c, a)).y;
  c.set_sample(sample);
  return y;
}

[[maybe_unused]] const bool kOnnx = register_onnx_emitter<MultiheadAttention>(
                                        "MultiheadAttention",
                                        [](MultiheadAttention& a, OnnxContext& c, const std::string& x) {
                                          return emit_plain(a, c, x, a, emit_attention);
                                        },
                                        /*container=*/true) &&
                                    register_onnx_emitter<TransformerBlock>(
                                        "TransformerBlock",
                                        [](TransformerBlock& b, OnnxContext& c, const std::string& x) {
                                          return emit_plain(b, c, x, *b.attention, emit_transformer_block);
                                        },
                                        /*container=*/true);

}  // namespace

}  // namespace tangent::nn
