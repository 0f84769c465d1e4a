#pragma once
// Matrix products on the backend's GEMM (oneDNN on CPU) (ops/linalg.cpp).
#include "core/tensor.h"

namespace tangent {

// NumPy matmul semantics: 1-D operands are promoted, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);   // 2-D only
Tensor bmm(const Tensor& a, const Tensor& b);  // 3-D only, equal batch
// x @ weight^T + bias, with x [..., in], weight [out, in], bias [out] (fused into the GEMM).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// beta * input + alpha * (a @ b), a and b 2-D; input broadcast to the result.
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, const Scalar& beta = 1, const Scalar& alpha = 1);

}  // namespace tangent
