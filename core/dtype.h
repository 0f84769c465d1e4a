#pragma once
// Element types and the NumPy/PyTorch type-promotion lattice.
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "core/half.h"

namespace tangent {

enum class DType : uint8_t { Bool, Int64, Float16, BFloat16, Float32, Float64 };

constexpr DType kFloat32 = DType::Float32;
constexpr DType kFloat64 = DType::Float64;
constexpr DType kFloat16 = DType::Float16;
constexpr DType kBFloat16 = DType::BFloat16;
constexpr DType kInt64 = DType::Int64;
constexpr DType kBool = DType::Bool;

size_t element_size(DType t);
const char* dtype_name(DType t);
inline bool is_floating_point(DType t) { return t != DType::Bool && t != DType::Int64; }
// The result type of a binary op on two tensors (PyTorch's promote_types).
DType promote_types(DType a, DType b);
std::ostream& operator<<(std::ostream& os, DType t);

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::Float64;
};
template <>
struct dtype_of<Half> {
  static constexpr DType value = DType::Float16;
};
template <>
struct dtype_of<BFloat16> {
  static constexpr DType value = DType::BFloat16;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct dtype_of<bool> {
  static constexpr DType value = DType::Bool;
};

// TANGENT_DISPATCH(dtype, "op", [&](auto tag) { using T = decltype(tag); ... }) calls the lambda with a value of
// the C++ type that stores `dtype`.
#define TANGENT_DISPATCH_ALL(DT, NAME, ...)                    \
  [&] {                                                        \
    switch (DT) {                                              \
      case ::tangent::DType::Float32:                          \
        return (__VA_ARGS__)(float{});                         \
      case ::tangent::DType::Float64:                          \
        return (__VA_ARGS__)(double{});                        \
      case ::tangent::DType::Float16:                          \
        return (__VA_ARGS__)(::tangent::Half{});               \
      case ::tangent::DType::BFloat16:                         \
        return (__VA_ARGS__)(::tangent::BFloat16{});           \
      case ::tangent::DType::Int64:                            \
        return (__VA_ARGS__)(int64_t{});                       \
      case ::tangent::DType::Bool:                             \
        return (__VA_ARGS__)(bool{});                          \
    }                                                          \
    ::tangent::detail::fail(NAME, ": unsupported dtype ", DT); \
  }()

#define TANGENT_DISPATCH_FLOATING(DT, NAME, ...)                                  \
  [&] {                                                                           \
    switch (DT) {                                                                 \
      case ::tangent::DType::Float32:                                             \
        return (__VA_ARGS__)(float{});                                            \
      case ::tangent::DType::Float64:                                             \
        return (__VA_ARGS__)(double{});                                           \
      case ::tangent::DType::Float16:                                             \
        return (__VA_ARGS__)(::tangent::Half{});                                  \
      case ::tangent::DType::BFloat16:                                            \
        return (__VA_ARGS__)(::tangent::BFloat16{});                              \
      default:                                                                    \
        break;                                                                    \
    }                                                                             \
    ::tangent::detail::fail(NAME, ": expected a floating-point dtype, got ", DT); \
  }()

// The type arithmetic is done in for a storage type: float for the 16-bit types, itself otherwise.
template <typename T>
struct acc_type {
  using type = T;
};
template <>
struct acc_type<Half> {
  using type = float;
};
template <>
struct acc_type<BFloat16> {
  using type = float;
};
template <typename T>
using acc_t = typename acc_type<T>::type;

}  // namespace tangent
