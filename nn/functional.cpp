#include "nn/functional.h"

#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::nn::functional {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  TANGENT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  const Tensor keep = bernoulli(x.shape(), 1.0 - p, x.options(), gen);
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  TANGENT_CHECK(indices.dtype() == kInt64, "embedding: indices must be int64, got ", indices.dtype());
  TANGENT_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, dim], got ", weight.shape());
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  return reshape(index_select(weight, 0, reshape(indices, {-1})), out_shape);
}

}  // namespace tangent::nn::functional
