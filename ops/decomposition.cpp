// Cholesky and the symmetric eigen-decomposition in float64 on the host (see ops/decomposition.h).
#include "ops/decomposition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "ops/factory.h"

namespace tangent {

namespace {

// The elements of a square float64 matrix, row-major, after checking shape and finiteness.
std::vector<double> square_matrix(const Tensor& a, const char* op, int64_t& n) {
  TANGENT_CHECK(a.defined(), op, ": undefined tensor");
  TANGENT_CHECK(a.dim() == 2 && a.size(0) == a.size(1), op, ": expected a square matrix [n, n], got ", a.shape());
  TANGENT_CHECK(is_floating_point(a.dtype()), op, ": expected a floating-point matrix, got ", a.dtype());
  n = a.size(0);
  std::vector<double> m = to_vector<double>(a);
  for (size_t i = 0; i < m.size(); ++i)
    TANGENT_CHECK(std::isfinite(m[i]), op, ": the matrix ", a.shape(), " has a non-finite entry (", m[i], ") at [",
                  static_cast<int64_t>(i) / n, ", ", static_cast<int64_t>(i) % n, "]");
  return m;
}

Tensor from_host(const std::vector<double>& v, const Shape& shape) { return from_data(v.data(), shape, kFloat64); }

// Householder reduction of the symmetric a (n x n, row-major, overwritten; only its lower triangle is read) to
// tridiagonal form T = Q^T a Q:
// diagonal d, off-diagonal e (e[i] couples i and i + 1). With qt non-null, Q^T is accumulated into it (row i of
// qt is column i of Q).
void tridiagonalize(std::vector<double>& a, int64_t n, std::vector<double>& d, std::vector<double>& e,
                    std::vector<double>* qt) {
  d.assign(n, 0.0);
  e.assign(n, 0.0);
  if (qt) {
    qt->assign(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) (*qt)[i * n + i] = 1.0;
  }
  std::vector<double> v(n), p(n), w(n);
  for (int64_t k = 0; k + 2 < n; ++k) {
    // x = a[k+1:, k]; reflect it onto alpha * e_1.
    const int64_t m = n - k - 1;
    double norm2 = 0;
    for (int64_t i = 0; i < m; ++i) norm2 += a[(k + 1 + i) * n + k] * a[(k + 1 + i) * n + k];
    const double x0 = a[(k + 1) * n + k];
    if (norm2 - x0 * x0 <= 0.0) continue;  // already tridiagonal in this column
    const double alpha = x0 >= 0 ? -std::sqrt(norm2) : std::sqrt(norm2);
    for (int64_t i = 0; i < m; ++i) v[i] = a[(k + 1 + i) * n + k];
    v[0] -= alpha;
    double vv = 0;
    for (int64_t i = 0; i < m; ++i) vv += v[i] * v[i];
    const double beta = 2.0 / vv;  // H = I - beta v v^T
    // Trailing block B = a[k+1:, k+1:]: B <- H B H = B - v w^T - w v^T with p = beta B v, w = p - (beta v.p / 2) v.
    // Only B's lower triangle is kept up to date; p = B v reads each stored entry once, row by row.
    std::fill(p.begin(), p.begin() + m, 0.0);
    for (int64_t i = 0; i < m; ++i) {
      const double* row = &a[(k + 1 + i) * n + k + 1];
      double s = 0;
      const double vi = v[i];
      for (int64_t j = 0; j < i; ++j) {
        s += row[j] * v[j];
        p[j] += row[j] * vi;
      }
      p[i] += s + row[i] * vi;
    }
    double vp = 0;
    for (int64_t i = 0; i < m; ++i) vp += v[i] * beta * p[i];
    const double kk = 0.5 * beta * vp;
    for (int64_t i = 0; i < m; ++i) w[i] = beta * p[i] - kk * v[i];
    for (int64_t i = 0; i < m; ++i) {
      double* row = &a[(k + 1 + i) * n + k + 1];
      const double vi = v[i], wi = w[i];
      for (int64_t j = 0; j <= i; ++j) row[j] -= vi * w[j] + wi * v[j];
    }
    a[(k + 1) * n + k] = alpha;
    for (int64_t i = 1; i < m; ++i) a[(k + 1 + i) * n + k] = 0.0;
    if (qt) {
      // Q <- Q H, i.e. rows k+1.. of Q^T: Qt_r -= beta v_r (v^T Qt[k+1:]).
      std::fill(p.begin(), p.end(), 0.0);
      for (int64_t i = 0; i < m; ++i) {
        const double* row = &(*qt)[(k + 1 + i) * n];
        for (int64_t j = 0; j < n; ++j) p[j] += v[i] * row[j];
      }
      for (int64_t i = 0; i < m; ++i) {
        double* row = &(*qt)[(k + 1 + i) * n];
        const double f = beta * v[i];
        for (int64_t j = 0; j < n; ++j) row[j] -= f * p[j];
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) d[i] = a[i * n + i];
  for (int64_t i = 0; i + 1 < n; ++i) e[i] = a[(i + 1) * n + i];
}

// Eigenvalues of the symmetric tridiagonal (d, e) by the implicit QL method: deflate the leading block whenever
// an off-diagonal entry is negligible, otherwise chase a shifted bulge up with Givens rotations. The rotations
// are applied to the rows of zt (eigenvectors stored as rows) when given.
void tridiagonal_ql(std::vector<double>& d, std::vector<double>& e, int64_t n, std::vector<double>* zt) {
  const double eps = std::numeric_limits<double>::epsilon();
  for (int64_t l = 0; l < n; ++l) {
    for (int iter = 0;; ++iter) {
      int64_t m = l;
      for (; m + 1 < n; ++m) {
        const double scale = std::fabs(d[m]) + std::fabs(d[m + 1]);
        if (std::fabs(e[m]) <= eps * scale) break;
      }
      if (m == l) break;
      TANGENT_CHECK(iter < 100, "eigh: the QL iteration did not converge (eigenvalue ", l, " of ", n, ")");
      // Shift from the leading 2x2 block's eigenvalue closest to d[l].
      double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
      double r = std::hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      double s = 1.0, c = 1.0, p = 0.0;
      int64_t i = m - 1;
      bool underflow = false;
      for (; i >= l; --i) {
        const double f = s * e[i];
        const double b = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0.0) {  // the rotation vanished: split the problem and start again
          d[i + 1] -= p;
          e[m] = 0.0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2.0 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt) {
          double* zi = &(*zt)[i * n];
          double* zj = &(*zt)[(i + 1) * n];
          for (int64_t k = 0; k < n; ++k) {
            const double t = zj[k];
            zj[k] = s * zi[k] + c * t;
            zi[k] = c * zi[k] - s * t;
          }
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0.0;
    }
  }
}

}  // namespace

Tensor cholesky(const Tensor& a) {
  int64_t n = 0;
  std::vector<double> m = square_matrix(a, "cholesky", n);
  std::vector<double> l(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    const double* lj = &l[j * n];
    double diag = m[j * n + j];
    for (int64_t k = 0; k < j; ++k) diag -= lj[k] * lj[k];
    TANGENT_CHECK(diag > 0.0 && std::isfinite(diag), "cholesky: the matrix ", a.shape(),
                  " is not positive definite (pivot ", j, " is ", diag, "); a small diagonal regulariser may help");
    const double ljj = std::sqrt(diag);
    l[j * n + j] = ljj;
    for (int64_t i = j + 1; i < n; ++i) {
      const double* li = &l[i * n];
      double s = m[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= li[k] * lj[k];
      l[i * n + j] = s / ljj;
    }
  }
  return from_host(l, {n, n});
}

Tensor cholesky_solve(const Tensor& b, const Tensor& l_factor) {
  int64_t n = 0;
  const std::vector<double> l = square_matrix(l_factor, "cholesky_solve", n);
  TANGENT_CHECK(b.defined() && (b.dim() == 1 || b.dim() == 2) && b.size(0) == n,
                "cholesky_solve: expected a right-hand side [", n, "] or [", n, ", k] for the factor ",
                l_factor.shape(), ", got ", b.defined() ? b.shape() : Shape{});
  for (int64_t i = 0; i < n; ++i)
    TANGENT_CHECK(l[i * n + i] != 0.0, "cholesky_solve: the factor has a zero on its diagonal at ", i);
  const int64_t k = b.dim() == 2 ? b.size(1) : 1;
  std::vector<double> x = to_vector<double>(b);
  for (double v : x) TANGENT_CHECK(std::isfinite(v), "cholesky_solve: the right-hand side has a non-finite entry");
  std::vector<double> acc(k);
  // Forward: L y = b.
  for (int64_t i = 0; i < n; ++i) {
    std::copy(&x[i * k], &x[i * k] + k, acc.begin());
    for (int64_t j = 0; j < i; ++j) {
      const double lij = l[i * n + j];
      if (lij == 0.0) continue;
      for (int64_t c = 0; c < k; ++c) acc[c] -= lij * x[j * k + c];
    }
    for (int64_t c = 0; c < k; ++c) x[i * k + c] = acc[c] / l[i * n + i];
  }
  // Backward: L^T x = y.
  for (int64_t i = n - 1; i >= 0; --i) {
    std::copy(&x[i * k], &x[i * k] + k, acc.begin());
    for (int64_t j = i + 1; j < n; ++j) {
      const double lji = l[j * n + i];
      if (lji == 0.0) continue;
      for (int64_t c = 0; c < k; ++c) acc[c] -= lji * x[j * k + c];
    }
    for (int64_t c = 0; c < k; ++c) x[i * k + c] = acc[c] / l[i * n + i];
  }
  return from_host(x, b.shape());
}

EighResult eigh(const Tensor& a, bool compute_eigenvectors) {
  int64_t n = 0;
  std::vector<double> m = square_matrix(a, "eigh", n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) m[i * n + j] = m[j * n + i] = 0.5 * (m[i * n + j] + m[j * n + i]);
  std::vector<double> d, e, zt;
  tridiagonalize(m, n, d, e, compute_eigenvectors ? &zt : nullptr);
  tridiagonal_ql(d, e, n, compute_eigenvectors ? &zt : nullptr);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return d[i] < d[j]; });
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = d[order[i]];
  EighResult r;
  r.eigenvalues = from_host(values, {n});
  if (compute_eigenvectors) {
    std::vector<double> v(static_cast<size_t>(n * n));
    for (int64_t c = 0; c < n; ++c) {
      const double* col = &zt[order[c] * n];
      for (int64_t i = 0; i < n; ++i) v[i * n + c] = col[i];
    }
    r.eigenvectors = from_host(v, {n, n});
  }
  return r;
}

Tensor eigvalsh(const Tensor& a) { return eigh(a, false).eigenvalues; }

}  // namespace tangent
