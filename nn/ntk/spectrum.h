#pragma once
// The spectrum of a kernel matrix (nn/ntk/spectrum.cpp): its 2-D form, top eigenpairs, condition number and a
// PSD check. A kernel is [N1, N2] (meaning kernel (x) I_O) or the full [N1, N2, O, O]; kernel_matrix turns the
// latter into the [N1 O, N2 O] matrix with rows indexed (n, o) (neural-tangents' make_2d).
#include <string>

#include "core/tensor.h"

namespace tangent::ntk {

// [N1, N2] unchanged (float64); [N1, N2, O, O] permuted to [N1, O, N2, O] and reshaped to [N1 O, N2 O].
Tensor kernel_matrix(const Tensor& kernel);

// The k largest eigenvalues (descending, [k]) and their eigenvectors ([n, k] columns) of a symmetric kernel
// (any form kernel_matrix accepts); k <= 0 or k > n gives all of them.
struct TopEigen {
  Tensor eigenvalues;
  Tensor eigenvectors;
};
TopEigen top_eigen(const Tensor& kernel, int64_t k, bool compute_eigenvectors = true);

// lambda_max / lambda_min of a symmetric kernel; +inf when lambda_min <= 0.
double condition_number(const Tensor& kernel);

// A symmetric kernel is numerically PSD when lambda_min >= -eps * lambda_max; eps defaults to a round-off bound
// for float64 accumulation (1e-10; pass ~1e-6 for float32 kernels). `message` says what was found, and warns
// (negative eigenvalues beyond round-off: a precision problem, or a model that is not a function of each input
// alone, e.g. BatchNorm in training mode) when the check fails.
struct PsdCheck {
  double lambda_min = 0, lambda_max = 0;
  bool psd = true;
  std::string message;
};
PsdCheck check_psd(const Tensor& eigenvalues, double eps = 1e-10);

}  // namespace tangent::ntk
