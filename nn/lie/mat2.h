#pragma once
// Real 2x2 matrices in float64 and their closed-form maths: the exponential of a general and of a symmetric matrix,
// the logarithm and square root of a symmetric positive-definite (SPD) one, and the polar decomposition
// A = P R(theta) (P SPD, R a rotation) of a matrix with positive determinant. No eigen-solver is needed.
#include <array>
#include <string>

namespace tangent::lie {

// [[a, b], [c, d]]: a = row 0 col 0, b = row 0 col 1, c = row 1 col 0, d = row 1 col 1.
struct Mat2 {
  double a = 1, b = 0, c = 0, d = 1;

  static Mat2 identity() { return {}; }
  static Mat2 rotation(double theta);  // [[cos, -sin], [sin, cos]]
  static Mat2 diagonal(double x, double y) { return {x, 0, 0, y}; }

  double det() const { return a * d - b * c; }
  double trace() const { return a + d; }
  Mat2 transpose() const { return {a, c, b, d}; }
  Mat2 inverse() const;  // raises an Error for a singular matrix
  // The image of the point (x, y).
  std::array<double, 2> apply(double x, double y) const { return {a * x + b * y, c * x + d * y}; }
  std::string str() const;
};

Mat2 operator*(const Mat2& p, const Mat2& q);
Mat2 operator+(const Mat2& p, const Mat2& q);
Mat2 operator-(const Mat2& p, const Mat2& q);
Mat2 operator*(double s, const Mat2& p);
double max_abs_diff(const Mat2& p, const Mat2& q);

// exp A = e^m (C I + S N), with m = tr A / 2, N = A - m I, delta = -det N (N^2 = delta I): C, S = cosh, sinh/x of
// sqrt(delta) for delta > 0, cos, sin/x of sqrt(-delta) for delta < 0 (series near 0).
Mat2 expm(const Mat2& A);
// exp of a symmetric matrix (b == c; the result is exactly symmetric).
Mat2 expm_symmetric(const Mat2& S);
// log and sqrt of an SPD matrix (Errors name the matrix when it is not SPD). Both are exactly symmetric.
Mat2 logm_spd(const Mat2& P);
Mat2 sqrtm_spd(const Mat2& P);

// The left polar decomposition A = P R(theta) of a matrix with det A > 0: theta = atan2(A10 - A01, A00 + A11) in
// (-pi, pi], P = A R(theta)^T symmetrised.
struct Polar {
  Mat2 P;
  double theta = 0;
};
Polar polar(const Mat2& A);

}  // namespace tangent::lie
