// The infinite-width NTK (nn/ntk/analytic.h): closed forms against quadrature and known values, the empirical
// kernel of random MLPs converging to it with width; kernel regression (nn/ntk/regression.h) against its oracles
// and a direct gradient-descent iteration; Cholesky and eigh (ops/decomposition.h) and kernel spectra
// (nn/ntk/spectrum.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <vector>

#include <tangent/tangent.h>

#include "core/allocator.h"
#include "models/analytic_ntk.h"
#include "models/mlp.h"
#include "nn/ntk/analytic.h"
#include "nn/ntk/ntk.h"
#include "nn/ntk/regression.h"
#include "nn/ntk/spectrum.h"
#include "ops/decomposition.h"
#include "support/errors.h"

using namespace tangent;
using tangent::testing::error_message;

namespace {

constexpr double kPi = 3.14159265358979323846;

// E[f(u, v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) by a midpoint rule over whitened coordinates.
template <typename F>
double gaussian_expectation(double q11, double q12, double q22, F f) {
  const double a = std::sqrt(q11), b = q12 / a, c = std::sqrt(std::max(q22 - b * b, 0.0));
  const int steps = 1200;  // even: no node on the ReLU kink
  const double lim = 8.0, h = 2 * lim / steps;
  double total = 0;
  for (int i = 0; i < steps; ++i) {
    const double z1 = -lim + (i + 0.5) * h;
    const double w1 = std::exp(-0.5 * z1 * z1);
    for (int j = 0; j < steps; ++j) {
      const double z2 = -lim + (j + 0.5) * h;
      total += w1 * std::exp(-0.5 * z2 * z2) * f(a * z1, b * z1 + c * z2);
    }
  }
  return total * h * h / (2 * kPi);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : to_vector<double>(t)) m = std::max(m, std::fabs(v));
  return m;
}

double relu(double u) { return u > 0 ? u : 0; }
double relu_d(double u) { return u > 0 ? 1 : 0; }
double erf_d(double u) { return 2 / std::sqrt(kPi) * std::exp(-u * u); }

double rel_frobenius(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_vector<double>(a), y = to_vector<double>(b);
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  return std::sqrt(num / den);
}

// The empirical NTK of a one-output model (nn/ntk/ntk.h).
Tensor empirical(nn::Module& model, const Tensor& x) { return ntk::empirical_ntk(model, x).kernel; }

Tensor random_spd(int64_t n, uint64_t seed) {
  manual_seed(seed);
  const Tensor a = randn({n, n}, kFloat64);
  return add(matmul(a, a.t()), mul(eye(n, kFloat64), static_cast<double>(n)));
}

template <typename F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace

// ---- closed forms ----

TEST(AnalyticNtk, ReluExpectationsMatchQuadrature) {
  for (auto [q11, q12, q22] : std::vector<std::tuple<double, double, double>>{
           {1.0, 0.3, 2.0}, {0.5, -0.4, 0.7}, {2.0, 1.9, 2.0}, {1.0, 0.0, 1.0}}) {
    const double e = gaussian_expectation(q11, q12, q22, [](double u, double v) { return relu(u) * relu(v); });
    const double de = gaussian_expectation(q11, q12, q22, [](double u, double v) { return relu_d(u) * relu_d(v); });
    EXPECT_NEAR(ntk::expected_product("relu", q11, q12, q22), e, 1e-4) << q11 << " " << q12 << " " << q22;
    EXPECT_NEAR(ntk::expected_derivative_product("relu", q11, q12, q22), de, 2e-3) << q11 << " " << q12;
  }
  // Equal variances and full correlation: E[relu(u)^2] = q / 2, E[relu'^2] = 1/2; orthogonal: 1/4.
  EXPECT_NEAR(ntk::expected_product("relu", 3.0, 3.0, 3.0), 1.5, 1e-12);
  EXPECT_NEAR(ntk::expected_derivative_product("relu", 3.0, 3.0, 3.0), 0.5, 1e-12);
  EXPECT_NEAR(ntk::expected_derivative_product("relu", 1.0, 0.0, 1.0), 0.25, 1e-12);
  EXPECT_NEAR(ntk::expected_product("relu", 1.0, 0.0, 1.0), 1.0 / (2 * kPi), 1e-12);
  EXPECT_NEAR(ntk::expected_product("relu", 1.0, -1.0, 1.0), 0.0, 1e-12);  // u = -v: never both positive
}

TEST(AnalyticNtk, ErfExpectationsMatchQuadrature) {
  for (auto [q11, q12, q22] : std::vector<std::tuple<double, double, double>>{
           {1.0, 0.3, 2.0}, {0.5, -0.4, 0.7}, {2.0, 1.9, 2.0}, {0.1, 0.05, 3.0}}) {
    const double e = gaussian_expectation(q11, q12, q22, [](double u, double v) { return std::erf(u) * std::erf(v); });
    const double de = gaussian_expectation(q11, q12, q22, [](double u, double v) { return erf_d(u) * erf_d(v); });
    EXPECT_NEAR(ntk::expected_product("erf", q11, q12, q22), e, 1e-7) << q11 << " " << q12 << " " << q22;
    EXPECT_NEAR(ntk::expected_derivative_product("erf", q11, q12, q22), de, 1e-7) << q11 << " " << q12;
  }
}

TEST(AnalyticNtk, LinearModelAndRecursionByHand) {
  manual_seed(3);
  const Tensor x = randn({5, 3}, kFloat64);
  const std::vector<double> xv = to_vector<double>(x);
  auto dot = [&](int i, int j) {
    double s = 0;
    for (int k = 0; k < 3; ++k) s += xv[i * 3 + k] * xv[j * 3 + k];
    return s;
  };
  ntk::AnalyticOptions o;
  o.depth = 0;
  o.sigma_w = 1.3;
  o.sigma_b = 0.4;
  const std::vector<double> k0 = to_vector<double>(ntk::analytic_ntk(x, Tensor(), o));
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_NEAR(k0[i * 5 + j], 1.69 * dot(i, j) / 3 + 0.16, 1e-12);

  // One hidden ReLU layer, by hand.
  o.depth = 1;
  const ntk::AnalyticKernels k1 = ntk::analytic_kernels(x.narrow(0, 0, 2), x.narrow(0, 2, 3), o);
  EXPECT_EQ(k1.ntk.shape(), (Shape{2, 3}));
  const std::vector<double> t1 = to_vector<double>(k1.ntk), s1 = to_vector<double>(k1.nngp);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      auto sig = [&](int a, int b) { return 1.69 * dot(a, b) / 3 + 0.16; };
      const double q11 = sig(i, i), q12 = sig(i, 2 + j), q22 = sig(2 + j, 2 + j);
      const double nngp = 1.69 * ntk::expected_product("relu", q11, q12, q22) + 0.16;
      EXPECT_NEAR(s1[i * 3 + j], nngp, 1e-12);
      EXPECT_NEAR(t1[i * 3 + j], nngp + 1.69 * ntk::expected_derivative_product("relu", q11, q12, q22) * q12, 1e-12);
    }
}

TEST(AnalyticNtk, OptionsFromModelsAndErrors) {
  models::MLPOptions mo;
  mo.input_shape = {2, 3};
  mo.hidden = {16, 8};
  mo.ntk = true;
  mo.sigma_w = 1.5;
  mo.sigma_b = 0.1;
  models::MLP ntk_mlp(mo);
  const ntk::AnalyticOptions a = models::analytic_options_for(ntk_mlp);
  EXPECT_EQ(a.depth, 2);
  EXPECT_EQ(a.parametrization, nn::Parametrization::NTK);
  EXPECT_DOUBLE_EQ(a.sigma_w, 1.5);
  EXPECT_DOUBLE_EQ(a.sigma_b, 0.1);
  mo.ntk = false;
  const ntk::AnalyticOptions s = models::analytic_options_for(models::MLP(mo));
  EXPECT_EQ(s.parametrization, nn::Parametrization::Standard);
  EXPECT_EQ(s.widths, (std::vector<int64_t>{16, 8}));
  ASSERT_EQ(s.sigma_b_layers.size(), 3u);
  EXPECT_NEAR(s.sigma_b_layers[1], std::sqrt(1.0 / 48), 1e-15);
  mo.activation = "tanh";
  expect_error([&] { models::analytic_options_for(models::MLP(mo)); }, "activation 'tanh' has no closed-form");
  nn::Linear lin(3, 2);
  expect_error([&] { models::analytic_options_for(lin); }, "models::MLP");
  expect_error([&] { ntk::analytic_ntk(randn({2, 3}), randn({2, 4})); }, "different feature sizes");
  ntk::AnalyticOptions bad;
  bad.parametrization = nn::Parametrization::Standard;
  expect_error([&] { ntk::analytic_ntk(randn({2, 3}), Tensor(), bad); }, "hidden widths");
}

// Mean relative Frobenius error between the empirical NTK of `seeds` random NTK-parametrised MLPs (2 hidden
// layers of `width`, sigma_w 1.5, sigma_b 0.1, ReLU or erf) and the infinite-width limit, on 6 random inputs.
double width_error(int64_t width, int seeds, const std::string& activation = "relu") {
  manual_seed(7);
  const Tensor x = randn({6, 4});
  ntk::AnalyticOptions o;
  o.depth = 2;
  o.sigma_w = 1.5;
  o.sigma_b = 0.1;
  o.activation = activation;
  const Tensor limit = ntk::analytic_ntk(x, Tensor(), o);
  double total = 0;
  for (int s = 0; s < seeds; ++s) {
    manual_seed(100 + s);
    models::MLPOptions mo;
    mo.input_shape = {4};
    mo.hidden = {width, width};
    mo.out_features = 1;
    mo.ntk = true;
    mo.sigma_w = 1.5;
    mo.sigma_b = 0.1;
    mo.activation = activation;
    models::MLP mlp(mo);
    EXPECT_EQ(models::analytic_options_for(mlp).depth, 2);
    EXPECT_EQ(models::analytic_options_for(mlp).activation, activation);
    total += rel_frobenius(empirical(mlp, x), limit);
  }
  return total / seeds;
}

// The empirical kernel approaches the limit as 1/sqrt(width) (notes: ~0.34, 0.15, 0.09 at widths 64, 256, 1024).
TEST(AnalyticNtk, EmpiricalKernelConvergesWithWidth) {
  const std::vector<double> errors{width_error(64, 8), width_error(256, 8), width_error(1024, 4)};
  std::printf("relative Frobenius error at widths 64, 256, 1024: %.3f %.3f %.3f\n", errors[0], errors[1], errors[2]);
  EXPECT_GT(errors[0], 0.15);
  EXPECT_LT(errors[0], 0.7);
  EXPECT_LT(errors[1], 0.3);
  EXPECT_LT(errors[2], 0.16);
  EXPECT_GT(errors[0] / errors[2], 2.2);
}

// An erf network (nn::Erf) converges to the arcsine closed form the same way.
TEST(AnalyticNtk, ErfNetworkConvergesWithWidth) {
  const double narrow = width_error(64, 6, "erf"), wide = width_error(1024, 3, "erf");
  std::printf("erf: relative Frobenius error at widths 64, 1024: %.3f %.3f\n", narrow, wide);
  EXPECT_LT(wide, 0.15);
  EXPECT_GT(narrow / wide, 2.0);
}

// The same at width 4096 (slow: run with --gtest_also_run_disabled_tests).
TEST(AnalyticNtk, DISABLED_WidthConvergenceTable) {
  for (int64_t width : {64, 256, 1024, 4096})
    std::printf("width %5lld: relative Frobenius error %.3f\n", static_cast<long long>(width), width_error(width, 8));
}

// A PyTorch-initialised (standard) MLP against the standard-parametrisation formula with its actual widths.
TEST(AnalyticNtk, StandardParametrisationMatchesWideMlp) {
  manual_seed(11);
  const Tensor x = randn({5, 4});
  models::MLPOptions mo;
  mo.input_shape = {4};
  mo.hidden = {1024, 512};
  mo.out_features = 1;
  double err = 0;
  for (int s = 0; s < 2; ++s) {
    manual_seed(200 + s);
    models::MLP mlp(mo);
    err += rel_frobenius(empirical(mlp, x), ntk::analytic_ntk(x, Tensor(), models::analytic_options_for(mlp))) / 2;
  }
  EXPECT_LT(err, 0.15);
}

// ---- decompositions ----

TEST(Decomposition, CholeskyReconstructsAndSolves) {
  const Tensor a = random_spd(40, 1);
  const Tensor l = cholesky(a);
  EXPECT_LT(max_abs(sub(matmul(l, l.t()), a)), 1e-10);
  const std::vector<double> lv = to_vector<double>(l);
  for (int i = 0; i < 40; ++i)
    for (int j = i + 1; j < 40; ++j) ASSERT_EQ(lv[i * 40 + j], 0.0);
  manual_seed(2);
  const Tensor b = randn({40, 3}, kFloat64);
  const Tensor x = cholesky_solve(b, l);
  EXPECT_LT(max_abs(sub(matmul(a, x), b)), 1e-10);
  const Tensor x1 = cholesky_solve(b.select(1, 0).contiguous(), l);
  EXPECT_EQ(x1.shape(), (Shape{40}));
  EXPECT_LT(max_abs(sub(x1, x.select(1, 0))), 1e-12);
}

TEST(Decomposition, EighReconstructsKnownSpectra) {
  for (int64_t n : {1, 2, 7, 60}) {
    manual_seed(n);
    const Tensor s = randn({n, n}, kFloat64);
    const Tensor a = add(s, s.t());
    const EighResult e = eigh(a);
    const Tensor v = e.eigenvectors;
    EXPECT_LT(max_abs(sub(matmul(mul(v, e.eigenvalues.reshape({1, n})), v.t()), a)), 1e-10 * n) << n;
    EXPECT_LT(max_abs(sub(matmul(v.t(), v), eye(n, kFloat64))), 1e-12 * n) << n;
    const std::vector<double> w = to_vector<double>(e.eigenvalues);
    for (int64_t i = 1; i < n; ++i) EXPECT_LE(w[i - 1], w[i]);
    EXPECT_LT(max_abs(sub(eigvalsh(a), e.eigenvalues)), 1e-10);
  }
  // The [-1, 2, -1] tridiagonal matrix: 2 - 2 cos(k pi / (n + 1)).
  const int64_t n = 30;
  std::vector<double> t(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    t[i * n + i] = 2;
    if (i + 1 < n) t[i * n + i + 1] = t[(i + 1) * n + i] = -1;
  }
  const std::vector<double> w = to_vector<double>(eigvalsh(from_data(t.data(), {n, n}, kFloat64)));
  for (int64_t k = 1; k <= n; ++k) EXPECT_NEAR(w[k - 1], 2 - 2 * std::cos(k * kPi / (n + 1)), 1e-12);
  // Repeated and zero eigenvalues (rank 2 of 10).
  manual_seed(9);
  const Tensor u = randn({10, 2}, kFloat64);
  const std::vector<double> r = to_vector<double>(eigvalsh(matmul(u, u.t())));
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(r[i], 0.0, 1e-12);
  EXPECT_GT(r[8], 0.1);
  EXPECT_NEAR(to_vector<double>(eigvalsh(mul(eye(5, kFloat64), 3.0)))[2], 3.0, 1e-15);
}

TEST(Decomposition, LargeEighHasTheKnownSpectrumAndOrthonormalVectors) {
  // A = Q diag(1..n) Q^T with an orthogonal Q (from an eigh of a random matrix): the spectrum is known exactly.
  const int64_t n = 300;
  manual_seed(21);
  const Tensor s = randn({n, n}, kFloat64);
  const Tensor q = eigh(add(s, s.t())).eigenvectors;
  EXPECT_LT(max_abs(sub(matmul(q.t(), q), eye(n, kFloat64))), 1e-12 * n);
  std::vector<double> want(n);
  for (int64_t i = 0; i < n; ++i) want[i] = static_cast<double>(i + 1);
  const Tensor lambda = from_data(want.data(), {1, n}, kFloat64);
  const Tensor a = matmul(mul(q, lambda), q.t());
  for (int threads : {1, 2}) {
    const int saved = get_num_threads();
    set_num_threads(threads);  // OpenBLAS follows tangent's thread count
    const EighResult e = eigh(a);
    set_num_threads(saved);
    const std::vector<double> w = to_vector<double>(e.eigenvalues);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(w[i], want[i], 1e-10 * n) << "eigenvalue " << i << ", " << threads;
    const Tensor v = e.eigenvectors;
    EXPECT_LT(max_abs(sub(matmul(mul(v, e.eigenvalues.reshape({1, n})), v.t()), a)), 1e-11 * n) << threads;
    EXPECT_LT(max_abs(sub(matmul(v.t(), v), eye(n, kFloat64))), 1e-12 * n) << threads;
    // A v_i = lambda_i v_i column by column, so the order of values and vectors agrees.
    EXPECT_LT(max_abs(sub(matmul(a, v), mul(v, e.eigenvalues.reshape({1, n})))), 1e-10 * n) << threads;
  }
  // Only the symmetric part counts, and float32 input is promoted.
  manual_seed(22);
  const Tensor skew = randn({n, n}, kFloat64);
  const Tensor noisy = add(a, sub(skew, skew.t()));
  EXPECT_LT(max_abs(sub(eigvalsh(noisy), eigvalsh(a))), 1e-10 * n);
  const Tensor w32 = eigvalsh(a.to(kFloat32));
  EXPECT_EQ(w32.dtype(), kFloat64);
  EXPECT_LT(max_abs(sub(w32, lambda.reshape({n}))), 1e-4 * n);
}

TEST(Decomposition, LargeCholeskyAndSolve) {
  const int64_t n = 300;
  const Tensor a = random_spd(n, 23);
  const Tensor l = cholesky(a);
  EXPECT_LT(max_abs(sub(matmul(l, l.t()), a)), 1e-10 * n);
  const std::vector<double> lv = to_vector<double>(l);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GT(lv[i * n + i], 0.0);
    for (int64_t j = i + 1; j < n; ++j) ASSERT_EQ(lv[i * n + j], 0.0);
  }
  // Only the lower triangle of the input is read.
  std::vector<double> junk = to_vector<double>(a);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) junk[i * n + j] += 7.0;
  const Tensor upper_junk = from_data(junk.data(), {n, n}, kFloat64);
  EXPECT_LT(max_abs(sub(cholesky(upper_junk), l)), 1e-12);
  manual_seed(24);
  const Tensor b = randn({n, 5}, kFloat64);
  EXPECT_LT(max_abs(sub(matmul(a, cholesky_solve(b, l)), b)), 1e-8);
  // A transposed (non-contiguous) right-hand side gives the same solution.
  const Tensor bt = randn({5, n}, kFloat64);
  EXPECT_LT(max_abs(sub(matmul(a, cholesky_solve(bt.t(), l)), bt.t())), 1e-8);
}

TEST(Decomposition, CholeskyNamesTheFailingPivot) {
  // Positive definite up to pivot 150 (past LAPACK's first blocks), then a negative diagonal entry.
  const int64_t n = 200;
  std::vector<double> d(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) d[i * n + i] = i == 150 ? -2.0 : 1.0 + static_cast<double>(i);
  const std::string m = error_message([&] { cholesky(from_data(d.data(), {n, n}, kFloat64)); });
  EXPECT_NE(m.find("cholesky: the matrix [200, 200] is not positive definite (pivot 150"), std::string::npos) << m;
  EXPECT_NE(m.find("regulariser"), std::string::npos) << m;
  // A singular positive semi-definite matrix: its second pivot is exactly 4 - 2 * 2 = 0.
  const std::vector<double> singular = {1, 2, 0, 2, 4, 0, 0, 0, 1};
  const std::string s = error_message([&] { cholesky(from_data(singular.data(), {3, 3}, kFloat64)); });
  EXPECT_NE(s.find("not positive definite (pivot 1: its leading 2x2 minor is not)"), std::string::npos) << s;
}

TEST(Decomposition, EmptyMatrices) {
  const Tensor a = zeros({0, 0}, kFloat64);
  const EighResult e = eigh(a);
  EXPECT_EQ(e.eigenvalues.shape(), (Shape{0}));
  EXPECT_EQ(e.eigenvectors.shape(), (Shape{0, 0}));
  EXPECT_EQ(eigvalsh(a).shape(), (Shape{0}));
  EXPECT_EQ(cholesky(a).shape(), (Shape{0, 0}));
  EXPECT_EQ(cholesky_solve(zeros({0, 3}, kFloat64), a).shape(), (Shape{0, 3}));
}

TEST(Decomposition, SizeLimitsAreMemoryAndLapackIndexing) {
  // The old fixed cap of 8000 is gone: a 10000 x 10000 problem fits in any machine that runs these tests.
  EXPECT_EQ(dense_size_problem(10000, 1), "");
  // Past LAPACK's 32-bit indexing: refused before anything is copied (the stride-0 input would be 12.8 GB).
  const Tensor huge = zeros({1, 1}, kFloat64).expand({40000, 40000});
  for (const auto& m : {error_message([&] { eigh(huge); }), error_message([&] { cholesky(huge); })}) {
    EXPECT_NE(m.find("a 40000x40000 matrix is too large for LAPACK's 32-bit indexing (n at most 32766)"),
              std::string::npos)
        << m;
  }
  // More buffers than memory: the message names the size, the bytes and the machine's limit.
  const int64_t n = 1000;
  const int matrices = static_cast<int>(host_memory_limit() / (8 * n * n)) + 1;
  const std::string p = dense_size_problem(n, matrices);
  EXPECT_NE(p.find("a 1000x1000 float64 decomposition needs about"), std::string::npos) << p;
  EXPECT_NE(p.find("of memory (host_memory_limit)"), std::string::npos) << p;
  EXPECT_NE(error_message([&] { check_dense_size("eigh", n, matrices); }).find("eigh: a 1000x1000"), std::string::npos);
}

TEST(Decomposition, Errors) {
  expect_error([] { cholesky(randn({3, 4}, kFloat64)); }, "square matrix");
  expect_error([] { eigh(randn({3}, kFloat64)); }, "square matrix");
  expect_error([] { eigh(randint(0, 3, {3, 3})); }, "floating-point");
  Tensor a = eye(3, kFloat64);
  std::vector<double> nan_v = to_vector<double>(a);
  nan_v[4] = std::nan("");
  expect_error([&] { cholesky(from_data(nan_v.data(), {3, 3}, kFloat64)); }, "non-finite entry");
  expect_error([&] { eigh(from_data(nan_v.data(), {3, 3}, kFloat64)); }, "non-finite entry");
  expect_error([] { cholesky(mul(eye(3, kFloat64), -1.0)); }, "not positive definite (pivot 0");
  expect_error([] { cholesky_solve(randn({4}, kFloat64), eye(3, kFloat64)); }, "right-hand side");
}

// ---- spectra ----

TEST(Spectrum, TopEigenConditionAndPsd) {
  const Tensor a = random_spd(12, 4);
  const ntk::TopEigen top = ntk::top_eigen(a, 3);
  const std::vector<double> all = to_vector<double>(eigvalsh(a));
  const std::vector<double> t = to_vector<double>(top.eigenvalues);
  ASSERT_EQ(t.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(t[i], all[11 - i], 1e-10);
  // A v = lambda v for the returned columns.
  EXPECT_LT(max_abs(sub(matmul(a, top.eigenvectors), mul(top.eigenvectors, top.eigenvalues.reshape({1, 3})))), 1e-9);
  EXPECT_NEAR(ntk::condition_number(a), all[11] / all[0], 1e-9 * all[11] / all[0]);
  EXPECT_NEAR(ntk::condition_number(tensor(std::vector<double>{1, 0, 0, 10}, {2, 2})), 10.0, 1e-12);
  EXPECT_GT(ntk::condition_number(tensor(std::vector<double>{1, 1, 1, 1}, {2, 2})), 1e12);  // singular
  // [N, N, O, O] kernels are flattened with rows (n, o).
  const Tensor full = tensor(std::vector<double>{1, 0, 0, 2, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0.5, 1, 0, 0, 2}, {2, 2, 2, 2});
  EXPECT_TRUE(allclose(ntk::kernel_matrix(full),
                       tensor(std::vector<double>{1, 0, 0.5, 0, 0, 2, 0, 0.5, 0.5, 0, 1, 0, 0, 0.5, 0, 2}, {4, 4})));
  // PSD: round-off is tolerated, a real negative eigenvalue warns.
  const ntk::PsdCheck ok = ntk::check_psd(tensor(std::vector<double>{-1e-14, 1.0, 5.0}));
  EXPECT_TRUE(ok.psd) << ok.message;
  const ntk::PsdCheck bad = ntk::check_psd(tensor(std::vector<double>{-0.2, 1.0, 5.0}));
  EXPECT_FALSE(bad.psd);
  EXPECT_DOUBLE_EQ(bad.lambda_min, -0.2);
  EXPECT_NE(bad.message.find("not PSD"), std::string::npos) << bad.message;
}

// ---- kernel regression ----

namespace {

struct Problem {
  Tensor k_tt, k_st, y, f0, fs0;
};

Problem make_problem(int64_t n, int64_t m, int64_t out, uint64_t seed) {
  manual_seed(seed);
  const Tensor x = randn({n + m, 3}, kFloat64);
  ntk::AnalyticOptions o;
  o.depth = 2;
  o.sigma_b = 0.2;
  const Tensor k = ntk::analytic_ntk(x, Tensor(), o);
  Problem p;
  p.k_tt = k.narrow(0, 0, n).narrow(1, 0, n).contiguous();
  p.k_st = k.narrow(0, n, m).narrow(1, 0, n).contiguous();
  p.y = randn({n, out}, kFloat64);
  p.f0 = mul(randn({n, out}, kFloat64), 0.1);
  p.fs0 = mul(randn({m, out}, kFloat64), 0.1);
  return p;
}

// [N, N] kernel (x) I_O as a full [N, N, O, O] kernel.
Tensor kron_identity(const Tensor& k, int64_t out) {
  return mul(k.reshape({k.size(0), k.size(1), 1, 1}), eye(out, kFloat64).reshape({1, 1, out, out}));
}

}  // namespace

TEST(KernelRegression, InfiniteTimeInterpolatesAndZeroTimeIsInit) {
  const Problem p = make_problem(8, 5, 3, 21);
  const ntk::RegressionResult inf = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0);
  EXPECT_LT(max_abs(sub(inf.train, p.y)), 1e-8);
  EXPECT_EQ(inf.test.shape(), (Shape{5, 3}));
  // The test prediction at t = inf: fs0 + K_st K^-1 (y - f0).
  const Tensor expected = add(p.fs0, matmul(p.k_st, cholesky_solve(sub(p.y, p.f0), cholesky(p.k_tt))));
  EXPECT_LT(max_abs(sub(inf.test, expected)), 1e-10);
  ntk::RegressionOptions o;
  o.t = 0;
  const ntk::RegressionResult zero = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o);
  EXPECT_LT(max_abs(sub(zero.train, p.f0)), 1e-14);
  EXPECT_LT(max_abs(sub(zero.test, p.fs0)), 1e-14);
  // A very long finite time converges to the t = inf solution.
  o.t = 1e9;
  const ntk::RegressionResult late = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o);
  EXPECT_LT(max_abs(sub(late.test, inf.test)), 1e-6);
  // The full kernel K (x) I gives the same predictions as [N, N].
  o.t = 7.0;
  const ntk::RegressionResult a = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o);
  const ntk::RegressionResult b =
      ntk::gradient_descent_mse(kron_identity(p.k_tt, 3), p.y, kron_identity(p.k_st, 3), p.f0, p.fs0, o);
  EXPECT_LT(max_abs(sub(a.train, b.train)), 1e-10);
  EXPECT_LT(max_abs(sub(a.test, b.test)), 1e-10);
}

// Gradient flow matches many small gradient-descent steps on the linearised model's MSE loss:
// f <- f - eta / (N O) Theta (f - y), f_test <- f_test - eta / (N O) Theta_st (f - y).
TEST(KernelRegression, MatchesDirectGradientDescent) {
  const Problem p = make_problem(6, 4, 2, 22);
  const int64_t n = 6, out = 2;
  const double eta = 0.05, steps = 4000;
  Tensor f = p.f0, fs = p.fs0;
  for (int s = 0; s < steps; ++s) {
    const Tensor r = sub(f, p.y);
    fs = sub(fs, mul(matmul(p.k_st, r), eta / (n * out)));
    f = sub(f, mul(matmul(p.k_tt, r), eta / (n * out)));
  }
  ntk::RegressionOptions o;
  o.t = steps;
  o.learning_rate = eta;
  const ntk::RegressionResult flow = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o);
  // Euler steps differ from the flow by O(eta * lambda / (N O)) relative.
  EXPECT_LT(max_abs(sub(flow.train, f)), 2e-3) << max_abs(sub(flow.train, f));
  EXPECT_LT(max_abs(sub(flow.test, fs)), 2e-3);
  EXPECT_GT(max_abs(sub(flow.train, p.y)), 1e-3);  // not converged yet: the test checks the dynamics
}

TEST(KernelRegression, Regulariser) {
  const Problem p = make_problem(8, 5, 2, 23);
  ntk::RegressionOptions o;
  o.diag_reg = 0.1;
  const ntk::RegressionResult rel = ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o);
  double trace = 0;
  const std::vector<double> kv = to_vector<double>(p.k_tt);
  for (int i = 0; i < 8; ++i) trace += kv[i * 8 + i];
  EXPECT_NEAR(rel.regularizer, 0.1 * trace / 8, 1e-12);
  EXPECT_GT(max_abs(sub(rel.train, p.y)), 1e-2);  // ridge no longer interpolates
  // Kernel ridge regression: f0 + K (K + r I)^-1 (y - f0).
  const Tensor kr = add(p.k_tt, mul(eye(8, kFloat64), rel.regularizer));
  EXPECT_LT(max_abs(sub(rel.test, add(p.fs0, matmul(p.k_st, cholesky_solve(sub(p.y, p.f0), cholesky(kr)))))), 1e-10);
  o.diag_reg = rel.regularizer;
  o.diag_reg_absolute = true;
  EXPECT_LT(max_abs(sub(ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o).test, rel.test)), 1e-12);
  // A huge regulariser keeps the initial function.
  o.diag_reg = 1e12;
  EXPECT_LT(max_abs(sub(ntk::gradient_descent_mse(p.k_tt, p.y, p.k_st, p.f0, p.fs0, o).test, p.fs0)), 1e-8);
  // A singular kernel: t = inf needs the regulariser, finite t does not.
  const Tensor ones_k = ones({4, 4}, kFloat64);
  const Tensor y = randn({4, 1}, kFloat64);
  expect_error([&] { ntk::gradient_descent_mse(ones_k, y); }, "not positive definite");
  ntk::RegressionOptions fin;
  fin.t = 3;
  EXPECT_TRUE(std::isfinite(max_abs(ntk::gradient_descent_mse(ones_k, y, Tensor(), Tensor(), Tensor(), fin).train)));
  o = {};
  o.diag_reg = 1e-3;
  EXPECT_TRUE(std::isfinite(max_abs(ntk::gradient_descent_mse(ones_k, y, Tensor(), Tensor(), Tensor(), o).train)));
  // Bad shapes.
  expect_error([&] { ntk::gradient_descent_mse(p.k_tt, randn({7, 2}, kFloat64)); }, "train kernel must be");
  expect_error([&] { ntk::gradient_descent_mse(p.k_tt, p.y, randn({5, 7}, kFloat64)); }, "test kernel must be");
  fin.t = -1;
  expect_error([&] { ntk::gradient_descent_mse(p.k_tt, p.y, Tensor(), Tensor(), Tensor(), fin); }, "t must be >= 0");
}

TEST(KernelRegression, Accuracy) {
  const Tensor pred = tensor(std::vector<double>{0.1, 0.9, 0.8, 0.2, 0.3, 0.7}, {3, 2});
  EXPECT_NEAR(ntk::accuracy(pred, tensor(std::vector<int64_t>{1, 0, 0})), 2.0 / 3, 1e-15);
}
