#pragma once
// Random numbers: a counter-based Philox4x32-10 generator, so that any element of a random tensor can be computed
// independently (CPU threads and GPU threads agree for a seed).
#include <array>
#include <cstdint>

#include "core/backend.h"

namespace tangent {

// One Philox4x32-10 block: 4 random 32-bit words for a 128-bit counter and 64-bit key.
inline std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += kW0;
    k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

// A uniform float in [0, 1) from 24 random bits, and a double from 53.
inline float uint_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
inline double uints_to_unit_double(uint32_t hi, uint32_t lo) {
  const uint64_t v = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(v & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : state_{seed, 0} {}
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  uint64_t seed() const { return state_.seed; }
  // Reserves `n` Philox counters and returns the state to draw them from.
  PhiloxState advance(uint64_t n) {
    PhiloxState s = state_;
    state_.offset += n;
    return s;
  }
  PhiloxState state() const { return state_; }
  void set_state(PhiloxState s) { state_ = s; }

 private:
  PhiloxState state_;
};

// The process-wide generator that rand/randn/dropout use unless given one.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace tangent
