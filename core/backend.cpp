#include "core/backend.h"

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

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",     "exp",       "log",  "log1p",   "sqrt",   "rsqrt",  "abs",
                                "sign",    "sin",       "cos",  "tanh",    "sigmoid", "relu",  "gelu",
                                "gelu_tanh", "silu",    "softplus", "erf", "reciprocal", "square", "pow",
                                "clamp",   "logical_not"};
  return names[static_cast<int>(op)];
}

const char* primitive_name(Primitive p) {
  switch (p) {
    case Primitive::Attention: return "attention";
    case Primitive::Moba: return "moba";
    case Primitive::CrossEntropy: return "cross_entropy";
    case Primitive::Norm: return "norm";
    case Primitive::OptimizerStep: return "optimizer_step";
    case Primitive::PowerSum: return "power_sum";
    case Primitive::Unfold: return "unfold";
  }
  return "?";
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq",
                                "ne",  "lt",  "le",  "gt",  "ge",  "logical_and", "logical_or"};
  return names[static_cast<int>(op)];
}

}  // namespace tangent
