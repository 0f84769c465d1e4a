#pragma once
// Helpers shared by the functional ops (not part of the public API).
#include <vector>

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/backend.h"
#include "core/tensor.h"

namespace tangent::detail {

// Checks that t is defined; `op` and `what` name it in the error.
inline void check_defined(const Tensor& t, const char* op, const char* what = "input") {
  TANGENT_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  TANGENT_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.device(), " (shape ",
                a.shape(), ") and ", b.device(), " (shape ", b.shape(), ")");
}

inline void check_floating(const Tensor& t, const char* op) {
  TANGENT_CHECK(t.is_floating_point(), op, ": expected a floating-point tensor, got dtype ", t.dtype(), " (shape ",
                t.shape(), ")");
}

// The dtype of a binary op's result: wrapped scalars do not upcast tensors of the same category.
DType result_type(const Tensor& a, const Tensor& b);

// A history-free view of t with `shape` (stride 0 on broadcast dims). t's shape must broadcast to it.
Tensor expand_raw(const Tensor& t, const Shape& shape);

// A history-free copy converted to `dtype` (t itself when it already has it).
Tensor cast_raw(const Tensor& t, DType dtype);

// A 0-dim tensor for a scalar operand; marked as a wrapped number for type promotion.
Tensor wrap_scalar(const Scalar& s, Device device);

// Allocates a contiguous tensor like `like` (device) with the given shape and dtype.
inline Tensor new_empty(const Shape& shape, DType dtype, Device device) {
  return empty(shape, TensorOptions(dtype).device(device));
}

// The backward of an op with a fused backward primitive: `fused()` (the primitive) when grad mode is off, else
// `composite()`, the same gradients from differentiable ops, so that create_graph gives higher-order gradients.
// Both return the op's input gradients (std::vector<Tensor>).
template <typename Fused, typename Composite>
std::vector<Tensor> fused_unless_create_graph(const Fused& fused, const Composite& composite) {
  if (GradMode::is_enabled()) return composite();
  return fused();
}

}  // namespace tangent::detail
