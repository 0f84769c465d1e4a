#pragma once
// Sample sets: the N elements of H on which a Lie layer's feature maps live, each kept with its inverse.
// An element is g = S^1/2 R(theta): theta on an even grid over [-pi, pi) (no duplicate at +-pi) or uniform; the SPD
// factor S = exp(X) with X = sum v_i B_i over an orthonormal basis B of the symmetric (traceless for SL2)
// matrices, v ~ N(0, spd_std^2 I) (none for SO2). Draws come from Philox counters, so a PhiloxState fixes them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "nn/lie/group.h"

namespace tangent::lie {

struct SampleSet {
  Group group = Group::SL2;
  std::vector<Mat2> g;
  std::vector<Mat2> g_inv;

  int64_t size() const { return static_cast<int64_t>(g.size()); }
  // The set moved by u: (u g_j, g_j^-1 u^-1), so relative elements g_j^-1 h_i of two sets moved by the same u
  // are unchanged (exactly so for a signed permutation u such as a 90-degree rotation).
  SampleSet transported(const Mat2& u) const;
};

bool operator==(const SampleSet& p, const SampleSet& q);

struct SamplerOptions {
  Group group = Group::SL2;
  int64_t n = 4;
  std::string angles = "grid";           // "grid" or "uniform"
  double spd_std = 0.31622776601683794;  // sqrt(0.1): v ~ N(0, 0.1 I), as released
};

// Checks the options (n >= 1, a known angle mode, a finite spd_std >= 0); Errors name `who`.
void check_sampler(const SamplerOptions& options, const std::string& who);
// The number of Philox counters one draw uses (reserve them with Generator::advance).
uint64_t sampler_counters(const SamplerOptions& options);
SampleSet draw_samples(const SamplerOptions& options, PhiloxState state);

}  // namespace tangent::lie
