#pragma once
// Losses (as torch.nn.functional; nn::functional forwards these names). cross_entropy over class indices runs
// the backend's fused cross_entropy_forward/backward when it supports them for the dtype (one autograd node), and
// the composition of log_softmax and nll_loss otherwise.
#include <string>

#include "core/tensor.h"

namespace tangent {

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

}  // namespace tangent
