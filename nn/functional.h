#pragma once
// Stateless building blocks of layers and losses (like torch.nn.functional), composed from differentiable ops.
// The norms and losses are the ops of ops/norm.h and ops/loss.h, named here as PyTorch users expect.
#include "core/generator.h"
#include "core/tensor.h"
#include "ops/loss.h"
#include "ops/norm.h"

namespace tangent::nn::functional {

// Zeroes each element with probability p during training and scales the rest by 1/(1-p).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Rows of `weight` [num, dim] picked by int64 `indices` of any shape -> [..., dim].
Tensor embedding(const Tensor& indices, const Tensor& weight);

// Norms and losses live in ops/ (ops/norm.h, ops/loss.h, with their backward); these are their nn names.
using tangent::batch_norm;
using tangent::binary_cross_entropy_with_logits;
using tangent::cross_entropy;
using tangent::CrossEntropyOptions;
using tangent::l1_loss;
using tangent::layer_norm;
using tangent::mse_loss;
using tangent::nll_loss;
using tangent::parse_reduction;
using tangent::Reduction;
using tangent::rms_norm;

}  // namespace tangent::nn::functional
