#include "nn/lie/sampling.h"

#include <cmath>

#include "core/error.h"
#include "core/generator.h"

namespace tangent::lie {

namespace {
const double kPi = 3.14159265358979323846;
}

SampleSet SampleSet::transported(const Mat2& u) const {
  SampleSet s;
  s.group = group;
  const Mat2 u_inv = u.inverse();
  for (int64_t j = 0; j < size(); ++j) {
    s.g.push_back(u * g[j]);
    s.g_inv.push_back(g_inv[j] * u_inv);
  }
  return s;
}

bool operator==(const SampleSet& p, const SampleSet& q) {
  if (p.group != q.group || p.size() != q.size()) return false;
  for (int64_t j = 0; j < p.size(); ++j)
    if (max_abs_diff(p.g[j], q.g[j]) != 0) return false;
  return true;
}

void check_sampler(const SamplerOptions& o, const std::string& who) {
  TANGENT_CHECK(o.n >= 1, who, ": the number of group samples must be at least 1, got ", o.n);
  TANGENT_CHECK(o.angles == "grid" || o.angles == "uniform", who, ": unknown angle sampling '", o.angles,
                "' (known: grid, uniform)");
  TANGENT_CHECK(std::isfinite(o.spd_std) && o.spd_std >= 0, who, ": spd_std must be finite and >= 0, got ", o.spd_std);
}

uint64_t sampler_counters(const SamplerOptions& o) { return 3 * static_cast<uint64_t>(o.n); }

SampleSet draw_samples(const SamplerOptions& o, PhiloxState state) {
  check_sampler(o, "lie::draw_samples");
  SampleSet s;
  s.group = o.group;
  for (int64_t j = 0; j < o.n; ++j) {
    // Three Philox blocks per sample: two Box-Muller pairs (3 normals used) and the uniform angle.
    const uint64_t counter = state.offset + 3 * static_cast<uint64_t>(j);
    const auto r0 = philox4x32(counter, 0, state.seed);
    const auto r1 = philox4x32(counter + 1, 0, state.seed);
    const auto r2 = philox4x32(counter + 2, 0, state.seed);
    const double u0 = uints_to_unit_double(r0[0], r0[1]), u1 = uints_to_unit_double(r0[2], r0[3]);
    const double u2 = uints_to_unit_double(r1[0], r1[1]), u3 = uints_to_unit_double(r1[2], r1[3]);
    const double rad0 = std::sqrt(-2 * std::log1p(-u0)), rad1 = std::sqrt(-2 * std::log1p(-u2));
    const double v0 = rad0 * std::cos(2 * kPi * u1), v1 = rad0 * std::sin(2 * kPi * u1);
    const double v2 = rad1 * std::cos(2 * kPi * u3);
    const double theta = o.angles == "grid" ? -kPi + 2 * kPi * static_cast<double>(j) / static_cast<double>(o.n)
                                            : -kPi + 2 * kPi * uints_to_unit_double(r2[0], r2[1]);
    Mat2 half_x{0, 0, 0, 0};  // X / 2, with S^1/2 = exp(X / 2)
    const double sd = o.spd_std, sq2 = std::sqrt(2.0);
    if (o.group == Group::SL2) {
      half_x = {sd * v1 / sq2 / 2, sd * v0 / sq2 / 2, sd * v0 / sq2 / 2, -sd * v1 / sq2 / 2};
    } else if (o.group == Group::GL2) {
      half_x = {sd * v0 / 2, sd * v1 / sq2 / 2, sd * v1 / sq2 / 2, sd * v2 / 2};
    }
    const Mat2 R = Mat2::rotation(theta);
    s.g.push_back(expm_symmetric(half_x) * R);
    s.g_inv.push_back(R.transpose() * expm_symmetric(-1.0 * half_x));
  }
  return s;
}

}  // namespace tangent::lie
