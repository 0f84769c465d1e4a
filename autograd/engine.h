#pragma once
// Reverse-mode differentiation entry points, as in torch::autograd.
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace tangent::autograd {

// Accumulates d(sum_i <tensors[i], grad_tensors[i]>)/d(leaf) into every leaf's .grad. grad_tensors may be
// omitted for scalar outputs (then 1). The graph is freed unless retain_graph (default: create_graph).
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

// Returns d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs[j]) for each input without touching .grad.
// With create_graph the results carry history (higher-order gradients). An input the outputs do not depend
// on raises an Error unless allow_unused (then its gradient is undefined).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

}  // namespace tangent::autograd
