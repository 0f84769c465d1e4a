#pragma once
// Dense float64 matrix decompositions on the host (ops/decomposition.cpp): Cholesky factorisation and solve, and
// the symmetric eigen-decomposition. They serve kernel methods (nn/ntk/regression.h, nn/ntk/spectrum.h) and are
// not differentiable (no autograd graph is recorded). Inputs of any floating dtype and device are copied to
// float64 on the host; results are float64 CPU tensors. Cost O(n^3), meant for n up to a few thousand.
//
// Bad input raises tangent::Error: a matrix that is not 2-D and square, NaN or infinite entries, and (cholesky)
// a matrix that is not positive definite, naming the failing pivot.
#include "core/tensor.h"

namespace tangent {

// Lower-triangular L with a = L L^T (only the lower triangle of `a` is read, as in torch.linalg.cholesky).
Tensor cholesky(const Tensor& a);

// Solves a x = b given L = cholesky(a); b is [n] or [n, k] (torch.cholesky_solve(b, L) argument order).
Tensor cholesky_solve(const Tensor& b, const Tensor& l);

// a = V diag(eigenvalues) V^T for a symmetric a (the symmetric part (a + a^T) / 2 is used): eigenvalues [n] in
// ascending order, eigenvectors [n, n] as orthonormal columns (torch.linalg.eigh). Householder reduction to
// tridiagonal form, then implicit QL with Wilkinson-style shifts.
struct EighResult {
  Tensor eigenvalues;
  Tensor eigenvectors;
};
EighResult eigh(const Tensor& a, bool compute_eigenvectors = true);
// Eigenvalues only (ascending), cheaper than eigh.
Tensor eigvalsh(const Tensor& a);

}  // namespace tangent
