#include "nn/embedding.h"

#include "nn/functional.h"
#include "nn/init.h"
#include "nn/ntk/structured_rule.h"
#include "nn/onnx_emitter.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace tangent::nn {

Embedding::Embedding(int64_t num, int64_t dim) : num_embeddings(num), embedding_dim(dim) {
  TANGENT_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, " x ", dim);
  Tensor w = empty({num, dim});
  init::normal_(w);
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& indices) {
  TANGENT_CHECK(indices.dtype() == kInt64, "Embedding: indices must be int64, got ", indices.dtype(), " (shape ",
                indices.shape(), ")");
  return functional::embedding(indices, weight);
}

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

// ---- Embedding in ONNX export and in the structured NTK (nn/onnx_emitter.h, nn/ntk/structured_rule.h) ----
namespace {

std::string emit_embedding(Embedding& e, OnnxContext& c, const std::string& x) {
  if (c.sample().dtype() != kInt64)
    c.unsupported("expects int64 indices, got " + std::string(dtype_name(c.sample().dtype())));
  const std::string w = c.initializer("weight", e.weight, "embedding table [num, dim]");
  return c.node("Gather", {w, x}, "Embedding " + e.extra_repr(), {OnnxAttribute::integer("axis", 0)});
}

// The table is read at the D ids of each example.
void embedding_features(Embedding& e, ntk::LayerFeatures& f) {
  const Tensor& in = f.input();
  const int64_t n = f.examples(), D = in.numel() / n;
  f.lookup(in.reshape({n, D}).contiguous(), f.cotangents().reshape({n, f.outputs(), D, e.embedding_dim}));
}

[[maybe_unused]] const bool kOnnx = register_onnx_emitter<Embedding>("Embedding", emit_embedding);
[[maybe_unused]] const bool kNtkRule = ntk::register_structured_rule<Embedding>(embedding_features);

}  // namespace

}  // namespace tangent::nn
