// NTK kernel regression: gradient flow on the MSE loss in closed form (see nn/ntk/regression.h).
#include "nn/ntk/regression.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "nn/ntk/spectrum.h"
#include "ops/decomposition.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

namespace tangent::ntk {

namespace {

Tensor as_2d(const Tensor& y, const char* what) {
  TANGENT_CHECK(y.dim() == 1 || y.dim() == 2, "gradient_descent_mse: ", what, " must be [N, O] or [N], got ",
                y.shape());
  const Tensor y64 = y.to(kFloat64).contiguous();
  return y.dim() == 1 ? y64.reshape({y.size(0), 1}) : y64;
}

}  // namespace

RegressionResult gradient_descent_mse(const Tensor& k_tt, const Tensor& y_train, const Tensor& k_st,
                                      const Tensor& fx_train_0, const Tensor& fx_test_0, const RegressionOptions& o) {
  const char* op = "gradient_descent_mse";
  TANGENT_CHECK(k_tt.defined() && y_train.defined(), op, ": the train kernel and targets are required");
  TANGENT_CHECK(!std::isnan(o.t) && o.t >= 0, op, ": t must be >= 0 (or inf), got ", o.t);
  TANGENT_CHECK(std::isfinite(o.learning_rate) && o.learning_rate > 0, op, ": learning_rate must be positive, got ",
                o.learning_rate);
  TANGENT_CHECK(std::isfinite(o.diag_reg) && o.diag_reg >= 0, op, ": diag_reg must be >= 0, got ", o.diag_reg);
  const Tensor y = as_2d(y_train, "y_train");
  const int64_t n = y.size(0), out = y.size(1);
  const bool full = k_tt.dim() == 4;
  TANGENT_CHECK(
      (k_tt.dim() == 2 && k_tt.size(0) == n && k_tt.size(1) == n) || (full && k_tt.shape() == Shape({n, n, out, out})),
      op, ": the train kernel must be [N, N] or [N, N, O, O] for targets ", y.shape(), ", got ", k_tt.shape());
  const Tensor f0 = fx_train_0.defined() ? as_2d(fx_train_0, "fx_train_0") : zeros({n, out}, kFloat64);
  TANGENT_CHECK(f0.shape() == y.shape(), op, ": fx_train_0 ", fx_train_0.shape(), " must match y_train ", y.shape());
  int64_t m = 0;
  Tensor fs0;
  if (k_st.defined()) {
    TANGENT_CHECK(
        k_st.dim() == k_tt.dim() && k_st.size(1) == n && (!full || (k_st.size(2) == out && k_st.size(3) == out)), op,
        ": the test kernel must be [M, N", full ? ", O, O" : "", "] with N = ", n, ", got ", k_st.shape());
    m = k_st.size(0);
    fs0 = fx_test_0.defined() ? as_2d(fx_test_0, "fx_test_0") : zeros({m, out}, kFloat64);
    TANGENT_CHECK(fs0.shape() == Shape({m, out}), op, ": fx_test_0 must be [", m, ", ", out, "], got ", fs0.shape());
  }

  // Work on K [n', n'] and residuals R [n', c]: the kernel's own matrix, with c = O columns for [N, N] kernels or
  // one column over (n, o) pairs for full ones.
  const Tensor k = kernel_matrix(k_tt);
  const int64_t dim = k.size(0);
  const Tensor r = full ? sub(y, f0).reshape({n * out, 1}) : sub(y, f0);
  const Tensor kst = k_st.defined() ? kernel_matrix(k_st) : Tensor();
  double reg = o.diag_reg;
  if (!o.diag_reg_absolute && reg > 0) {
    const std::vector<double> kv = to_vector<double>(k);
    double trace = 0;
    for (int64_t i = 0; i < dim; ++i) trace += kv[i * dim + i];
    reg *= trace / static_cast<double>(dim);
  }
  const Tensor kr = reg > 0 ? add(k, mul(eye(dim, kFloat64), reg)) : k;

  Tensor alpha;  // the coefficients: f = f0 + K alpha
  if (std::isinf(o.t)) {
    alpha = cholesky_solve(r, cholesky(kr));
  } else {
    const EighResult e = eigh(kr);
    const double c = o.learning_rate * o.t / static_cast<double>(n * out);
    std::vector<double> g = to_vector<double>(e.eigenvalues);
    for (double& l : g) {
      l = std::max(l, 0.0);
      l = l * c > 1e-300 ? -std::expm1(-l * c) / l : c;  // (1 - exp(-c l)) / l, and its limit c at l = 0
    }
    const Tensor v = e.eigenvectors;
    const Tensor gv = from_data(g.data(), {1, dim}, kFloat64);
    alpha = matmul(mul(v, gv), matmul(v.t(), r));
  }
  RegressionResult res;
  res.regularizer = reg;
  res.train = add(f0, matmul(k, alpha).reshape({n, out}));
  if (kst.defined()) res.test = add(fs0, matmul(kst, alpha).reshape({m, out}));
  return res;
}

double accuracy(const Tensor& predictions, const Tensor& labels) {
  TANGENT_CHECK(predictions.dim() == 2 && labels.dim() == 1 && labels.size(0) == predictions.size(0),
                "accuracy: expected predictions [N, O] and labels [N], got ", predictions.shape(), " and ",
                labels.shape());
  const std::vector<int64_t> pred = to_vector<int64_t>(argmax(predictions, 1));
  const std::vector<int64_t> lab = to_vector<int64_t>(labels);
  if (pred.empty()) return 0.0;
  int64_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == lab[i];
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

}  // namespace tangent::ntk
