#pragma once
// Scalar: a number passed to an op (fill values, clamp bounds, the result of item()).
#include <cstdint>
#include <ostream>

#include "core/dtype.h"

namespace tangent {

class Scalar {
 public:
  Scalar() = default;
  Scalar(double v) : kind_(Kind::Float), d_(v) {}                         // NOLINT: implicit, as numbers are
  Scalar(float v) : kind_(Kind::Float), d_(v) {}                          // NOLINT
  Scalar(int v) : kind_(Kind::Int), i_(v) {}                              // NOLINT
  Scalar(int64_t v) : kind_(Kind::Int), i_(v) {}                          // NOLINT
  Scalar(long long v) : kind_(Kind::Int), i_(static_cast<int64_t>(v)) {}  // NOLINT
  Scalar(bool v) : kind_(Kind::Bool), i_(v) {}                            // NOLINT

  bool is_floating_point() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  double to_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == Kind::Float ? static_cast<int64_t>(d_) : i_; }
  bool to_bool() const { return kind_ == Kind::Float ? d_ != 0.0 : i_ != 0; }
  template <typename T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>)
      return to_bool();
    else if constexpr (std::is_same_v<T, int64_t>)
      return to_int();
    else
      return static_cast<T>(static_cast<acc_t<T>>(to_double()));
  }
  // The dtype a tensor made from this scalar gets: float32, int64 or bool.
  DType default_dtype() const {
    return kind_ == Kind::Float ? DType::Float32 : kind_ == Kind::Int ? DType::Int64 : DType::Bool;
  }
  friend std::ostream& operator<<(std::ostream& os, const Scalar& s) {
    if (s.kind_ == Kind::Float) return os << s.d_;
    if (s.kind_ == Kind::Bool) return os << (s.i_ ? "true" : "false");
    return os << s.i_;
  }

 private:
  enum class Kind : uint8_t { Float, Int, Bool };
  Kind kind_ = Kind::Int;
  double d_ = 0.0;
  int64_t i_ = 0;
};

}  // namespace tangent
