#pragma once
// The matrix groups H acting on the plane (SO(2), SL(2,R), GL+(2,R)), their affine extensions R^2 x| H, and the
// global chart of H through the polar decomposition h = P R(theta): coordinates (log P, theta), which (unlike the
// matrix logarithm) reach every element. See docs/ARCHITECTURE.md "Lie-group convolutions".
#include <array>
#include <string>
#include <vector>

#include "nn/lie/mat2.h"

namespace tangent::lie {

enum class Group { SO2, SL2, GL2 };

Group parse_group(const std::string& name);  // "so2", "sl2", "gl2"; anything else raises an Error
const char* group_name(Group group);
// The dimension of H's Lie algebra: the number of chart coordinates (1, 3, 4).
int64_t algebra_dim(Group group);
// Whether h belongs to the group (to within tol: orthogonality, det = 1, det > 0).
bool contains(Group group, const Mat2& h, double tol = 1e-9);

// The chart xi^-1: h = P R(theta) -> coordinates in an orthonormal basis of the algebra, with X = log P and theta
// in (-pi, pi]:
//   SO2: (theta);  SL2: (sqrt2 X01, theta, sqrt2 X00) (X traceless);  GL2: (X00, sqrt2 X01, X11, theta).
std::vector<double> chart(Group group, const Mat2& h);
// The inverse: coordinates -> exp(X) R(theta). Raises an Error for the wrong number of coordinates.
Mat2 from_chart(Group group, const std::vector<double>& coords);

// An element of the affine group R^2 x| H: x -> A x + t.
struct Affine {
  Mat2 A;
  std::array<double, 2> t = {0, 0};

  Affine inverse() const;
  std::array<double, 2> apply(double x, double y) const;
};
Affine operator*(const Affine& p, const Affine& q);  // (p q)(x) = p(q(x))

}  // namespace tangent::lie
