#include "nn/lie/mat2.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace tangent::lie {

Mat2 Mat2::rotation(double theta) {
  const double c = std::cos(theta), s = std::sin(theta);
  return {c, -s, s, c};
}

Mat2 Mat2::inverse() const {
  const double D = det();
  TANGENT_CHECK(D != 0 && std::isfinite(D), "lie::Mat2::inverse: singular matrix ", str());
  return {d / D, -b / D, -c / D, a / D};
}

std::string Mat2::str() const {
  std::ostringstream os;
  os.precision(17);
  os << "[[" << a << ", " << b << "], [" << c << ", " << d << "]]";
  return os.str();
}

Mat2 operator*(const Mat2& p, const Mat2& q) {
  return {p.a * q.a + p.b * q.c, p.a * q.b + p.b * q.d, p.c * q.a + p.d * q.c, p.c * q.b + p.d * q.d};
}
Mat2 operator+(const Mat2& p, const Mat2& q) { return {p.a + q.a, p.b + q.b, p.c + q.c, p.d + q.d}; }
Mat2 operator-(const Mat2& p, const Mat2& q) { return {p.a - q.a, p.b - q.b, p.c - q.c, p.d - q.d}; }
Mat2 operator*(double s, const Mat2& p) { return {s * p.a, s * p.b, s * p.c, s * p.d}; }

double max_abs_diff(const Mat2& p, const Mat2& q) {
  return std::fmax(std::fmax(std::fabs(p.a - q.a), std::fabs(p.b - q.b)),
                   std::fmax(std::fabs(p.c - q.c), std::fabs(p.d - q.d)));
}

Mat2 expm(const Mat2& A) {
  const double m = A.trace() / 2;
  const Mat2 N = {A.a - m, A.b, A.c, A.d - m};
  const double delta = -N.det();
  double C = 1, S = 1;
  if (std::fabs(delta) < 1e-8) {  // series: the next terms are below 1e-18 relative
    C = 1 + delta / 2 + delta * delta / 24;
    S = 1 + delta / 6 + delta * delta / 120;
  } else if (delta > 0) {
    const double r = std::sqrt(delta);
    C = std::cosh(r);
    S = std::sinh(r) / r;
  } else {
    const double r = std::sqrt(-delta);
    C = std::cos(r);
    S = std::sin(r) / r;
  }
  const double e = std::exp(m);
  return {e * (C + S * N.a), e * S * N.b, e * S * N.c, e * (C + S * N.d)};
}

Mat2 expm_symmetric(const Mat2& S) {
  const Mat2 sym = {S.a, (S.b + S.c) / 2, (S.b + S.c) / 2, S.d};
  Mat2 e = expm(sym);
  e.c = e.b;
  return e;
}

namespace {

void check_spd(const Mat2& P, const char* op) {
  TANGENT_CHECK(P.b == P.c && P.a > 0 && P.d > 0 && P.a * P.d > P.b * P.b, "lie::", op,
                ": expected a symmetric positive-definite matrix, got ", P.str());
}

}  // namespace

Mat2 logm_spd(const Mat2& P) {
  check_spd(P, "logm_spd");
  const double m = P.trace() / 2, h = (P.a - P.d) / 2;
  const double r = std::hypot(h, P.b);
  const double l1 = m + r;         // the larger eigenvalue, without cancellation
  const double l2 = P.det() / l1;  // the smaller one
  const double x = r / m;          // in [0, 1)
  // (log l1 - log l2) / (l1 - l2) = atanh(r / m) / r; its series near r = 0 is (1 + x^2/3 + x^4/5) / m.
  const double f = x < 1e-4 ? (1 + x * x / 3 + x * x * x * x / 5) / m : std::atanh(x) / r;
  const double half_log_det = (std::log(l1) + std::log(l2)) / 2;
  return {half_log_det + f * h, f * P.b, f * P.b, half_log_det - f * h};
}

Mat2 sqrtm_spd(const Mat2& P) {
  check_spd(P, "sqrtm_spd");
  const double s = std::sqrt(P.det());
  const double t = std::sqrt(P.trace() + 2 * s);
  return {(P.a + s) / t, P.b / t, P.b / t, (P.d + s) / t};
}

Polar polar(const Mat2& A) {
  TANGENT_CHECK(A.det() > 0, "lie::polar: expected a matrix with positive determinant, got ", A.str());
  Polar p;
  p.theta = std::atan2(A.c - A.b, A.a + A.d);
  const Mat2 P = A * Mat2::rotation(p.theta).transpose();
  const double off = (P.b + P.c) / 2;
  p.P = {P.a, off, off, P.d};
  return p;
}

}  // namespace tangent::lie
