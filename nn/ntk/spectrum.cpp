// Kernel spectra (see nn/ntk/spectrum.h).
#include "nn/ntk/spectrum.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "ops/decomposition.h"
#include "ops/factory.h"

namespace tangent::ntk {

Tensor kernel_matrix(const Tensor& kernel) {
  TANGENT_CHECK(kernel.defined() && (kernel.dim() == 2 || (kernel.dim() == 4 && kernel.size(2) == kernel.size(3))),
                "kernel_matrix: expected a kernel [N1, N2] or [N1, N2, O, O], got ",
                kernel.defined() ? kernel.shape() : Shape{});
  const Tensor k = kernel.to(kFloat64);
  if (k.dim() == 2) return k;
  const int64_t n1 = k.size(0), n2 = k.size(1), o = k.size(2);
  return k.permute({0, 2, 1, 3}).contiguous().reshape({n1 * o, n2 * o});
}

TopEigen top_eigen(const Tensor& kernel, int64_t k, bool compute_eigenvectors) {
  const Tensor m = kernel_matrix(kernel);
  const EighResult e = eigh(m, compute_eigenvectors);
  const int64_t n = m.size(0);
  if (k <= 0 || k > n) k = n;
  const std::vector<double> values = to_vector<double>(e.eigenvalues);
  std::vector<double> top(k);
  for (int64_t i = 0; i < k; ++i) top[i] = values[n - 1 - i];
  TopEigen r;
  r.eigenvalues = from_data(top.data(), {k}, kFloat64);
  if (compute_eigenvectors) {
    const std::vector<double> v = to_vector<double>(e.eigenvectors);
    std::vector<double> out(static_cast<size_t>(n * k));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < k; ++c) out[i * k + c] = v[i * n + (n - 1 - c)];
    r.eigenvectors = from_data(out.data(), {n, k}, kFloat64);
  }
  return r;
}

double condition_number(const Tensor& kernel) {
  const std::vector<double> v = to_vector<double>(eigvalsh(kernel_matrix(kernel)));
  if (v.empty() || v.front() <= 0) return std::numeric_limits<double>::infinity();
  return v.back() / v.front();
}

PsdCheck check_psd(const Tensor& eigenvalues, double eps) {
  TANGENT_CHECK(eigenvalues.defined() && eigenvalues.dim() == 1 && eigenvalues.numel() > 0,
                "check_psd: expected a non-empty vector of eigenvalues, got ",
                eigenvalues.defined() ? eigenvalues.shape() : Shape{});
  const std::vector<double> v = to_vector<double>(eigenvalues);
  PsdCheck r;
  r.lambda_min = v[0];
  r.lambda_max = v[0];
  for (double x : v) {
    r.lambda_min = std::min(r.lambda_min, x);
    r.lambda_max = std::max(r.lambda_max, x);
  }
  const double bound = -eps * std::max(std::fabs(r.lambda_max), std::numeric_limits<double>::min());
  r.psd = r.lambda_min >= bound;
  std::ostringstream os;
  os.precision(4);
  if (r.psd) {
    os << "PSD: lambda_min " << r.lambda_min << " >= -" << eps << " * lambda_max (" << r.lambda_max << ")";
  } else {
    os << "warning: the kernel is not PSD beyond round-off: lambda_min " << r.lambda_min << " < -" << eps
       << " * lambda_max (" << r.lambda_max << "); compute it in float64, or check that each output depends on its "
       << "own input only (BatchNorm in eval mode)";
  }
  r.message = os.str();
  return r;
}

}  // namespace tangent::ntk
