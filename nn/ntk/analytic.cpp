// Infinite-width NTK/NNGP of fully connected ReLU and erf networks (see nn/ntk/analytic.h).
#include "nn/ntk/analytic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "ops/factory.h"
#include "ops/linalg.h"

namespace tangent::ntk {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool is_relu(const std::string& a) { return a == "relu"; }
bool is_erf(const std::string& a) { return a == "erf"; }

// cos of the angle between u and v under the covariance, clamped against round-off; 1 for a degenerate input.
double cosine(double q11, double q12, double q22, double& s) {
  s = std::sqrt(std::max(q11, 0.0) * std::max(q22, 0.0));
  if (s <= 0) return 1.0;
  return std::clamp(q12 / s, -1.0, 1.0);
}

struct Flat {
  std::vector<double> x;
  int64_t n = 0, d = 0;
};

Flat flatten(const Tensor& x, const char* op) {
  TANGENT_CHECK(x.defined() && x.dim() >= 1 && x.size(0) > 0, op, ": expected inputs [N, ...] with N > 0, got ",
                x.defined() ? x.shape() : Shape{});
  TANGENT_CHECK(is_floating_point(x.dtype()), op, ": expected floating-point inputs, got ", x.dtype());
  Flat f;
  f.n = x.size(0);
  f.d = x.numel() / f.n;
  TANGENT_CHECK(f.d > 0, op, ": inputs ", x.shape(), " have no features");
  f.x = to_vector<double>(x);
  return f;
}

}  // namespace

void check_activation(const std::string& a, const char* op) {
  TANGENT_CHECK(is_relu(a) || is_erf(a), op, ": activation '", a,
                "' has no closed-form kernel here (expected relu or erf)");
}

double expected_product(const std::string& activation, double q11, double q12, double q22) {
  check_activation(activation, "analytic_ntk");
  if (is_relu(activation)) {
    double s = 0;
    const double c = cosine(q11, q12, q22, s);
    const double theta = std::acos(c);
    return s * (std::sqrt(std::max(0.0, 1.0 - c * c)) + (kPi - theta) * c) / (2.0 * kPi);
  }
  const double den = std::sqrt((1.0 + 2.0 * q11) * (1.0 + 2.0 * q22));
  return 2.0 / kPi * std::asin(std::clamp(2.0 * q12 / den, -1.0, 1.0));
}

double expected_derivative_product(const std::string& activation, double q11, double q12, double q22) {
  check_activation(activation, "analytic_ntk");
  if (is_relu(activation)) {
    double s = 0;
    const double c = cosine(q11, q12, q22, s);
    return (kPi - std::acos(c)) / (2.0 * kPi);
  }
  const double det = (1.0 + 2.0 * q11) * (1.0 + 2.0 * q22) - 4.0 * q12 * q12;
  return 4.0 / kPi / std::sqrt(std::max(det, std::numeric_limits<double>::min()));
}

AnalyticKernels analytic_kernels(const Tensor& x1, const Tensor& x2_in, const AnalyticOptions& o) {
  const char* op = "analytic_ntk";
  check_activation(o.activation, op);
  TANGENT_CHECK(o.depth >= 0, op, ": depth (hidden layers) must be >= 0, got ", o.depth);
  TANGENT_CHECK(std::isfinite(o.sigma_w) && std::isfinite(o.sigma_b), op, ": sigma_w and sigma_b must be finite");
  TANGENT_CHECK(o.sigma_b_layers.empty() || static_cast<int64_t>(o.sigma_b_layers.size()) == o.depth + 1, op,
                ": sigma_b_layers needs depth + 1 = ", o.depth + 1, " entries, got ", o.sigma_b_layers.size());
  const bool standard = o.parametrization == nn::Parametrization::Standard;
  TANGENT_CHECK(!standard || static_cast<int64_t>(o.widths.size()) == o.depth, op,
                ": the standard parametrisation needs the ", o.depth, " hidden widths, got ", o.widths.size());
  const bool same = !x2_in.defined();
  const Flat a = flatten(x1, op);
  const Flat b = same ? a : flatten(x2_in, op);
  TANGENT_CHECK(a.d == b.d, op, ": x1 ", x1.shape(), " and x2 ", x2_in.shape(), " have different feature sizes");
  const int64_t n1 = a.n, n2 = b.n, d = a.d;
  const double sw2 = o.sigma_w * o.sigma_w;
  auto sb2 = [&](int64_t layer) {
    const double s = o.sigma_b_layers.empty() ? o.sigma_b : o.sigma_b_layers[layer];
    return s * s;
  };

  // Layer 1: dot products (one float64 GEMM).
  const Tensor t1 = from_data(a.x.data(), {n1, d}, kFloat64);
  const Tensor t2 = same ? t1 : from_data(b.x.data(), {n2, d}, kFloat64);
  std::vector<double> dot = to_vector<double>(matmul(t1, t2.t())), self1(n1), self2(n2);
  auto norms = [&](const Flat& f, std::vector<double>& out) {
    for (int64_t i = 0; i < f.n; ++i) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) s += f.x[i * d + k] * f.x[i * d + k];
      out[i] = s;
    }
  };
  norms(a, self1);
  norms(b, self2);

  const double bias_term = o.bias ? 1.0 : 0.0;
  std::vector<double> sigma(dot.size()), theta(dot.size());
  for (size_t k = 0; k < dot.size(); ++k) {
    sigma[k] = sw2 * dot[k] / d + sb2(0);
    theta[k] = standard ? dot[k] + bias_term : sigma[k];
  }
  for (auto& v : self1) v = sw2 * v / d + sb2(0);
  for (auto& v : self2) v = sw2 * v / d + sb2(0);

  for (int64_t l = 1; l <= o.depth; ++l) {
    const double width = standard ? static_cast<double>(o.widths[l - 1]) : 0.0;
    for (int64_t i = 0; i < n1; ++i) {
      for (int64_t j = 0; j < n2; ++j) {
        const size_t k = static_cast<size_t>(i * n2 + j);
        const double e = expected_product(o.activation, self1[i], sigma[k], self2[j]);
        const double de = expected_derivative_product(o.activation, self1[i], sigma[k], self2[j]);
        sigma[k] = sw2 * e + sb2(l);
        theta[k] = standard ? width * e + bias_term + sw2 * de * theta[k] : sigma[k] + sw2 * de * theta[k];
      }
    }
    auto diag = [&](std::vector<double>& s) {
      for (auto& q : s) q = sw2 * expected_product(o.activation, q, q, q) + sb2(l);
    };
    diag(self1);
    if (!same)
      diag(self2);
    else
      self2 = self1;
  }
  AnalyticKernels r;
  r.ntk = from_data(theta.data(), {n1, n2}, kFloat64);
  r.nngp = from_data(sigma.data(), {n1, n2}, kFloat64);
  return r;
}

Tensor analytic_ntk(const Tensor& x1, const Tensor& x2, const AnalyticOptions& options) {
  return analytic_kernels(x1, x2, options).ntk;
}

Tensor analytic_nngp(const Tensor& x1, const Tensor& x2, const AnalyticOptions& options) {
  return analytic_kernels(x1, x2, options).nngp;
}

}  // namespace tangent::ntk
