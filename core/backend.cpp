#include "core/backend.h"

#include <iterator>

namespace tangent {

namespace {
Backend*& slot(DeviceType type) {
  static Backend* backends[kNumDeviceTypes] = {};
  return backends[static_cast<int>(type)];
}
}  // namespace

void register_backend(DeviceType type, Backend* b) { slot(type) = b; }

bool has_backend(DeviceType type) { return slot(type) != nullptr; }

Backend& backend(DeviceType type) {
  Backend* b = slot(type);
  TANGENT_CHECK(b != nullptr, "no backend is registered for device ", Device(type),
                type == DeviceType::CUDA ? " (Tangent was built without CUDA, or no GPU is present)" : "");
  return *b;
}

namespace {

constexpr bool same_name(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// Every name is non-empty and distinct from those of the same list.
template <size_t N>
constexpr bool names_are_distinct(const char* const (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i][0] == '\0') return false;
    for (size_t j = 0; j < i; ++j)
      if (same_name(names[i], names[j])) return false;
  }
  return true;
}

#define TANGENT_NAME_ENTRY(Name) scalar_math::Name::name,
constexpr const char* kUnaryNames[] = {TANGENT_UNARY_OPS(TANGENT_NAME_ENTRY)};
constexpr const char* kBinaryNames[] = {TANGENT_BINARY_OPS(TANGENT_NAME_ENTRY)};
#undef TANGENT_NAME_ENTRY
static_assert(std::size(kUnaryNames) == kNumUnaryOps, "one name per UnaryOp");
static_assert(std::size(kBinaryNames) == kNumBinaryOps, "one name per BinaryOp");
static_assert(names_are_distinct(kUnaryNames), "unary op names must be distinct");
static_assert(names_are_distinct(kBinaryNames), "binary op names must be distinct");

}  // namespace

const char* unary_op_name(UnaryOp op) { return kUnaryNames[static_cast<int>(op)]; }
const char* binary_op_name(BinaryOp op) { return kBinaryNames[static_cast<int>(op)]; }

const char* primitive_name(Primitive p) {
  switch (p) {
    case Primitive::Attention:
      return "attention";
    case Primitive::Moba:
      return "moba";
    case Primitive::CrossEntropy:
      return "cross_entropy";
    case Primitive::Norm:
      return "norm";
    case Primitive::BatchNorm:
      return "batch_norm";
    case Primitive::OptimizerStep:
      return "optimizer_step";
    case Primitive::PowerSum:
      return "power_sum";
    case Primitive::Unfold:
      return "unfold";
  }
  return "?";
}

}  // namespace tangent
