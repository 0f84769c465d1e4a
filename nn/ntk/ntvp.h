#pragma once
// NTK-vector products without Jacobians: Theta(x1, x2) . v = J(x1) (J(x2)^T v), J = d model / d parameters, from
// one reverse pass over x2 (the vjp J(x2)^T v, a parameter-sized vector) and one forward-mode pass over x1 (the
// jvp of the model along that vector). Memory: the activations of one forward and one parameter-sized vector,
// never a Jacobian. The core of `--method ntvp` (not yet wired into empirical_ntk or the CLI).
#include "core/tensor.h"
#include "nn/module.h"

namespace tangent::ntk {

// v: [N2, O] (or any shape with N2 * O elements, O = the model's outputs per example) -> [N1, O], in the model's
// dtype, w.r.t. the trainable parameters. Undefined x2: x1. BatchNorm and dropout are taken in eval mode (the
// model's mode is restored). Raises an Error naming the shapes when v does not match the outputs on x2.
Tensor ntk_vector_product(nn::Module& model, const Tensor& x1, const Tensor& x2, const Tensor& v);

}  // namespace tangent::ntk
