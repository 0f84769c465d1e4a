#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_. Parameters without a gradient are
// skipped.
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace tangent::optim {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The norm_type-norm of all gradients together (as if concatenated into one vector; norm_type = kInf for the
// largest absolute value), computed in double. When it exceeds max_norm every gradient is scaled in place by
// max_norm / (total + 1e-6). Returns the total norm before clipping. With error_if_nonfinite, a NaN or infinite
// total raises an Error (and no gradient is changed).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value] in place.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace tangent::optim
