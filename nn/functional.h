#pragma once
// Stateless building blocks of layers and losses (like torch.nn.functional), composed from differentiable ops.
#include <optional>
#include <string>

#include "core/generator.h"
#include "core/tensor.h"

namespace tangent::nn::functional {

// Zeroes each element with probability p during training and scales the rest by 1/(1-p).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Batch normalisation over all dims but 1 (channels). In training, uses batch statistics and updates the running
// ones in place (running = (1 - momentum) running + momentum batch, unbiased variance); in eval, uses the
// running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalises over the last `normalized_ndim` dims.
Tensor layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);
Tensor rms_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, double eps = 1e-6);
// Rows of `weight` [num, dim] picked by int64 `indices` of any shape -> [..., dim].
Tensor embedding(const Tensor& indices, const Tensor& weight);

enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& name);

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;   // class-index targets equal to this contribute nothing
  double label_smoothing = 0.0;  // mix the target with the uniform distribution
};
// logits [N, C] (or [N, C, d...]); target int64 class indices [N] (or [N, d...]) or float probabilities shaped
// like the logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options = {});
// log_probs [N, C], target int64 [N].
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean,
                int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// pos_weight (optional) multiplies the positive term, as in PyTorch.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean, const Tensor& pos_weight = Tensor());

}  // namespace tangent::nn::functional
