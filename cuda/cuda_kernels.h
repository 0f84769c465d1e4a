#pragma once
// Host-callable launchers for the kernels in cuda_kernels.cu (no CUDA types here, so plain C++ can call them).
// Every launcher queues work on the current device's default stream and raises tangent::Error on launch failure.
#include <cstddef>
#include <cstdint>

#include "core/backend.h"

namespace tangent::cuda::kernels {

constexpr int kMaxDims = 8;

// One operand of an elementwise kernel: its first element and its byte strides over the iteration space.
struct Operand {
  char* data = nullptr;
  int64_t strides[kMaxDims] = {};
};

// The iteration space (the output's shape, size-1 dims dropped). When `contiguous`, every operand is dense in
// row-major order and the strides are not consulted.
struct Geometry {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t numel = 0;
  bool contiguous = false;
};

// dst[i] = the `element_size`-byte pattern at `value` (1, 2, 4 or 8 bytes).
void fill(const Geometry& g, const Operand& dst, const void* value, size_t element_size);
// dst[i] = src[i], both of one dtype of `element_size` bytes, any strides, same device.
void copy(const Geometry& g, const Operand& dst, const Operand& src, size_t element_size);

// float32 elementwise. The *_supported queries say which ops have a float32 kernel.
bool unary_f32_supported(UnaryOp op);
void unary_f32(UnaryOp op, const Geometry& g, const Operand& out, const Operand& x, float p0, float p1);
bool binary_f32_supported(BinaryOp op);
// out is float32, or bool for comparisons.
void binary_f32(BinaryOp op, const Geometry& g, const Operand& out, const Operand& a, const Operand& b);

}  // namespace tangent::cuda::kernels
