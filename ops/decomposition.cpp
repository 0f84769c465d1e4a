// Cholesky and the symmetric eigen-decomposition in float64 on LAPACK (see ops/decomposition.h).
#include "ops/decomposition.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <sstream>
#include <utility>

#include "autograd/grad_mode.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/parallel.h"

// LAPACKE's C prototypes mention complex types; in C++ they are std::complex (else the header uses C99 _Complex).
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapacke.h>

extern "C" void openblas_set_num_threads(int num_threads);  // OpenBLAS's own API (its cblas.h, not LAPACKE's)

namespace tangent {

namespace {

// The largest n LAPACK's 32-bit integers serve: dsyevd with eigenvectors sizes its workspace of 1 + 6n + 2n^2
// doubles in one.
constexpr int64_t kMaxLapackN = 32766;

std::string gib(double bytes) {
  std::ostringstream os;
  os.precision(3);
  os << bytes / double(1ull << 30) << " GiB";
  return os.str();
}

// Gives OpenBLAS tangent's thread count for one call (see the header): one thread inside a parallel region.
void set_blas_threads() { openblas_set_num_threads(detail::in_parallel_region() ? 1 : std::max(get_num_threads(), 1)); }

void check_square(const Tensor& a, const char* op) {
  TANGENT_CHECK(a.defined(), op, ": undefined tensor");
  TANGENT_CHECK(a.dim() == 2 && a.size(0) == a.size(1), op, ": expected a square matrix [n, n], got ", a.shape());
  TANGENT_CHECK(is_floating_point(a.dtype()), op, ": expected a floating-point matrix, got ", a.dtype());
}

void check_finite(const double* m, int64_t n, const Tensor& a, const char* op) {
  const int64_t count = n * n;
  for (int64_t i = 0; i < count; ++i)
    TANGENT_CHECK(std::isfinite(m[i]), op, ": the matrix ", a.shape(), " has a non-finite entry (", m[i], ") at [",
                  i / n, ", ", i % n, "]");
}

// A float64 host copy of the square matrix a, row-major, after checking its shape, size and entries.
Tensor host_copy(const Tensor& a, const char* op, int matrices) {
  check_square(a, op);
  const int64_t n = a.size(0);
  check_dense_size(op, n, matrices);
  Tensor m = empty({n, n}, kFloat64);
  {
    NoGradGuard no_grad;
    m.copy_(a.detach());
  }
  check_finite(m.data_ptr<double>(), n, a, op);
  return m;
}

// An error for a LAPACK info code below zero (an argument LAPACK rejected) or LAPACKE's out-of-memory code.
[[noreturn]] void lapack_failed(const char* op, const char* routine, lapack_int info, int64_t n) {
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
    TANGENT_FAIL(op, ": out of memory allocating LAPACK's workspace for ", routine, " on a ", n, "x", n, " matrix");
  TANGENT_FAIL(op, ": LAPACK's ", routine, " rejected argument ", -info, " for a ", n, "x", n,
               " matrix (an internal error)");
}

// In-place transpose of a square row-major n x n matrix.
void transpose_square(double* m, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) std::swap(m[i * n + j], m[j * n + i]);
}

}  // namespace

std::string dense_size_problem(int64_t n, int matrices) {
  std::ostringstream os;
  const double need = double(matrices) * double(n) * double(n) * sizeof(double);
  const double limit = double(host_memory_limit());
  if (n > kMaxLapackN)
    os << "a " << n << "x" << n << " matrix is too large for LAPACK's 32-bit indexing (n at most " << kMaxLapackN
       << ")";
  else if (need > limit)
    os << "a " << n << "x" << n << " float64 decomposition needs about " << gib(need) << " (" << matrices
       << " n x n buffers), more than this machine's " << gib(limit) << " of memory (host_memory_limit)";
  return os.str();
}

void check_dense_size(const std::string& what, int64_t n, int matrices) {
  const std::string problem = dense_size_problem(n, matrices);
  TANGENT_CHECK(problem.empty(), what, ": ", problem);
}

Tensor cholesky(const Tensor& a) {
  Tensor m = host_copy(a, "cholesky", 1);
  const int64_t n = m.size(0);
  double* l = m.data_ptr<double>();
  if (n == 0) return m;
  // Row-major a read as column-major is a^T, whose upper triangle holds a's lower one: factor it as U^T U with
  // U = L^T, which read back row-major is L.
  set_blas_threads();
  const lapack_int info =
      LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', static_cast<lapack_int>(n), l, static_cast<lapack_int>(n));
  if (info < 0) lapack_failed("cholesky", "dpotrf", info, n);
  TANGENT_CHECK(info == 0, "cholesky: the matrix ", a.shape(), " is not positive definite (pivot ", info - 1,
                ": its leading ", info, "x", info, " minor is not); a small diagonal regulariser may help");
  for (int64_t i = 0; i < n; ++i) std::fill(l + i * n + i + 1, l + (i + 1) * n, 0.0);
  return m;
}

Tensor cholesky_solve(const Tensor& b, const Tensor& l_factor) {
  Tensor l = host_copy(l_factor, "cholesky_solve", 1);
  const int64_t n = l.size(0);
  TANGENT_CHECK(b.defined() && (b.dim() == 1 || b.dim() == 2) && b.size(0) == n,
                "cholesky_solve: expected a right-hand side [", n, "] or [", n, ", k] for the factor ",
                l_factor.shape(), ", got ", b.defined() ? b.shape() : Shape{});
  const double* lp = l.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    TANGENT_CHECK(lp[i * n + i] != 0.0, "cholesky_solve: the factor has a zero on its diagonal at ", i);
  const int64_t k = b.dim() == 2 ? b.size(1) : 1;
  // The right-hand sides as LAPACK's column-major [n, k]: b^T row-major.
  Tensor x = empty({k, n}, kFloat64);
  {
    NoGradGuard no_grad;
    x.copy_((b.dim() == 2 ? b : b.unsqueeze(1)).detach().t());
  }
  double* xp = x.data_ptr<double>();
  for (int64_t i = 0; i < n * k; ++i)
    TANGENT_CHECK(std::isfinite(xp[i]), "cholesky_solve: the right-hand side has a non-finite entry");
  if (n > 0 && k > 0) {
    // L row-major is U = L^T column-major, and U^T U = L L^T.
    set_blas_threads();
    const lapack_int info =
        LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', static_cast<lapack_int>(n), static_cast<lapack_int>(k), lp,
                       static_cast<lapack_int>(n), xp, static_cast<lapack_int>(n));
    if (info != 0) lapack_failed("cholesky_solve", "dpotrs", info, n);
  }
  return b.dim() == 2 ? x.t().contiguous() : x.reshape({n});
}

EighResult eigh(const Tensor& a, bool compute_eigenvectors) {
  Tensor m = host_copy(a, "eigh", compute_eigenvectors ? 3 : 1);
  const int64_t n = m.size(0);
  double* v = m.data_ptr<double>();
  // The symmetric part, so that the result does not depend on which triangle LAPACK reads.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) v[i * n + j] = v[j * n + i] = 0.5 * (v[i * n + j] + v[j * n + i]);
  EighResult r;
  r.eigenvalues = empty({n}, kFloat64);
  if (n > 0) {
    set_blas_threads();
    const lapack_int info =
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, compute_eigenvectors ? 'V' : 'N', 'L', static_cast<lapack_int>(n), v,
                       static_cast<lapack_int>(n), r.eigenvalues.data_ptr<double>());
    if (info < 0 || info == LAPACK_WORK_MEMORY_ERROR) lapack_failed("eigh", "dsyevd", info, n);
    TANGENT_CHECK(info == 0, "eigh: LAPACK's dsyevd did not converge on the ", n, "x", n, " matrix (LAPACK info ", info,
                  ")");
  }
  if (compute_eigenvectors) {
    transpose_square(v, n);  // LAPACK's eigenvectors are its (column-major) columns
    r.eigenvectors = m;
  }
  return r;
}

Tensor eigvalsh(const Tensor& a) { return eigh(a, false).eigenvalues; }

}  // namespace tangent
