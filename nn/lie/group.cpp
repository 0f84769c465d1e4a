#include "nn/lie/group.h"

#include <cmath>

#include "core/error.h"

namespace tangent::lie {

namespace {
const double kSqrt2 = std::sqrt(2.0);
}

Group parse_group(const std::string& name) {
  if (name == "so2") return Group::SO2;
  if (name == "sl2") return Group::SL2;
  if (name == "gl2") return Group::GL2;
  TANGENT_FAIL("lie: unknown group '", name, "' (known: so2, sl2, gl2)");
}

const char* group_name(Group group) {
  switch (group) {
    case Group::SO2:
      return "so2";
    case Group::SL2:
      return "sl2";
    case Group::GL2:
      return "gl2";
  }
  return "?";
}

int64_t algebra_dim(Group group) {
  switch (group) {
    case Group::SO2:
      return 1;
    case Group::SL2:
      return 3;
    case Group::GL2:
      return 4;
  }
  return 0;
}

bool contains(Group group, const Mat2& h, double tol) {
  switch (group) {
    case Group::SO2:
      return max_abs_diff(h * h.transpose(), Mat2::identity()) <= tol && h.det() > 0;
    case Group::SL2:
      return std::fabs(h.det() - 1) <= tol;
    case Group::GL2:
      return h.det() > 0;
  }
  return false;
}

std::vector<double> chart(Group group, const Mat2& h) {
  TANGENT_CHECK(h.det() > 0, "lie::chart(", group_name(group), "): the element ", h.str(),
                " has a non-positive determinant");
  const Polar p = polar(h);
  if (group == Group::SO2) return {p.theta};
  const Mat2 X = logm_spd(p.P);
  if (group == Group::SL2) {
    const double x00 = (X.a - X.d) / 2;  // the traceless part (log det = 0 up to round-off)
    return {kSqrt2 * X.b, p.theta, kSqrt2 * x00};
  }
  return {X.a, kSqrt2 * X.b, X.d, p.theta};
}

Mat2 from_chart(Group group, const std::vector<double>& v) {
  TANGENT_CHECK(static_cast<int64_t>(v.size()) == algebra_dim(group), "lie::from_chart(", group_name(group),
                "): expected ", algebra_dim(group), " coordinates, got ", v.size());
  if (group == Group::SO2) return Mat2::rotation(v[0]);
  if (group == Group::SL2) {
    const double x00 = v[2] / kSqrt2, x01 = v[0] / kSqrt2;
    return expm_symmetric({x00, x01, x01, -x00}) * Mat2::rotation(v[1]);
  }
  const double x01 = v[1] / kSqrt2;
  return expm_symmetric({v[0], x01, x01, v[2]}) * Mat2::rotation(v[3]);
}

Affine Affine::inverse() const {
  Affine r;
  r.A = A.inverse();
  const auto u = r.A.apply(t[0], t[1]);
  r.t = {-u[0], -u[1]};
  return r;
}

std::array<double, 2> Affine::apply(double x, double y) const {
  const auto u = A.apply(x, y);
  return {u[0] + t[0], u[1] + t[1]};
}

Affine operator*(const Affine& p, const Affine& q) {
  Affine r;
  r.A = p.A * q.A;
  const auto u = p.A.apply(q.t[0], q.t[1]);
  r.t = {u[0] + p.t[0], u[1] + p.t[1]};
  return r;
}

}  // namespace tangent::lie
