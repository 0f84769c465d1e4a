#pragma once
// Dense float64 matrix decompositions on the host (ops/decomposition.cpp), on LAPACK (OpenBLAS, through LAPACKE):
// Cholesky factorisation and solve, and the symmetric eigen-decomposition. They serve kernel methods
// (nn/ntk/regression.h, nn/ntk/spectrum.h) and are not differentiable (no autograd graph is recorded). Inputs of any
// floating dtype and device are copied to float64 on the host; results are float64 CPU tensors. Cost O(n^3).
//
// Threads: OpenBLAS runs on its own thread pool, beside the OpenMP one of the rest of Tangent. Each call sets it to
// get_num_threads() (set_num_threads, --threads, OMP_NUM_THREADS), or to one thread when called from inside one of
// our parallel regions, so the two pools take turns (OpenBLAS's idle workers spin briefly after a call, then sleep).
//
// Size: n is bounded by LAPACK's 32-bit integers and by host memory (core/allocator.h host_memory_limit); both are
// checked before any copy (dense_size_problem below).
//
// Bad input raises tangent::Error: a matrix that is not 2-D and square, NaN or infinite entries, a matrix too large
// for the limits above, and (cholesky) a matrix that is not positive definite, naming the failing pivot.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace tangent {

// Lower-triangular L with a = L L^T (only the lower triangle of `a` is read, as in torch.linalg.cholesky).
Tensor cholesky(const Tensor& a);

// Solves a x = b given L = cholesky(a); b is [n] or [n, k] (torch.cholesky_solve(b, L) argument order).
Tensor cholesky_solve(const Tensor& b, const Tensor& l);

// a = V diag(eigenvalues) V^T for a symmetric a (the symmetric part (a + a^T) / 2 is used): eigenvalues [n] in
// ascending order, eigenvectors [n, n] as orthonormal columns (torch.linalg.eigh). LAPACK's dsyevd (Householder
// tridiagonalisation, then divide and conquer), as numpy.linalg.eigh and torch.linalg.eigh use.
struct EighResult {
  Tensor eigenvalues;
  Tensor eigenvectors;
};
EighResult eigh(const Tensor& a, bool compute_eigenvectors = true);
// Eigenvalues only (ascending), cheaper than eigh.
Tensor eigvalsh(const Tensor& a);

// Whether a dense decomposition of an n x n float64 matrix fits: n within LAPACK's 32-bit integers (at most
// 32766, where eigh's workspace of 1 + 6n + 2n^2 doubles still has a 32-bit size) and `matrices` n x n float64
// buffers of working memory (eigh with eigenvectors 3, eigvalsh and cholesky 1) within host_memory_limit().
// Empty when it fits, else the reason, naming n, the bytes needed and the limit.
std::string dense_size_problem(int64_t n, int matrices);
// Raises an Error "<what>: <the reason>" when dense_size_problem(n, matrices) is not empty.
void check_dense_size(const std::string& what, int64_t n, int matrices);

}  // namespace tangent
