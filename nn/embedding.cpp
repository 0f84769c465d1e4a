#include "nn/embedding.h"

#include "nn/functional.h"
#include "nn/init.h"
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

std::string Embedding::extra_repr() const { return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim); }

}  // namespace tangent::nn
