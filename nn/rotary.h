#pragma once
// Rotary position embedding (RoPE; Su et al. 2021) for attention heads, in the "rotate half" layout that GPT-NeoX
// and Llama use: the head dim D (even) is split into halves x1 = x[..., :D/2], x2 = x[..., D/2:], and pair i is
// rotated by the angle pos * base^(-2i/D):
//   out = x * cos + rotate_half(x) * sin,   rotate_half(x) = cat(-x2, x1).
// Composed from differentiable ops, so it is differentiable in x (the angles are constants).
#include "core/tensor.h"

namespace tangent::nn::functional {

// The cos and sin tables [T, D] (float64) of positions offset .. offset + T - 1: each half of the head dim repeats
// the angles of its pairs. rotary_embedding uses them (cast to x's dtype), and so does the ONNX export of language
// models (models/gpt_onnx.cpp), which stores them for positions 0 .. context - 1. Constants, not an op.
struct RotaryTables {
  Tensor cos, sin;
};
RotaryTables rotary_tables(int64_t offset, int64_t t, int64_t d, double base = 10000.0);

// x [B, H, T, D] (any leading dims, positions along dim -2): position t gets angle (offset + t) * inv_freq.
Tensor rotary_embedding(const Tensor& x, int64_t offset = 0, double base = 10000.0);

}  // namespace tangent::nn::functional
