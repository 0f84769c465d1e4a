#pragma once
// Embedding: a lookup table of num_embeddings vectors of size embedding_dim, indexed by int64 tensors.
#include "nn/module.h"

namespace tangent::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  Tensor weight;  // [num_embeddings, embedding_dim], initialised N(0, 1) like PyTorch
};

}  // namespace tangent::nn
