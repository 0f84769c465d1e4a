#pragma once
// The Backend interface: the small set of primitives a device implements. Composite ops, autograd and nn are
// written once above it. A backend registers itself (ops/cpu/ registers the CPU one, cuda/ the CUDA one).
//
// Conventions for every primitive:
// - `out` (and every other output) is allocated by the caller on the backend's device with the right shape and
//   dtype; it is contiguous unless the primitive says otherwise.
// - inputs may have any strides (including 0 from broadcasting); elementwise inputs are already expanded to
//   out's shape and converted to the dtype the primitive documents.
#include <cstdint>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "core/scalar.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace tangent {

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Log1p, Sqrt, Rsqrt, Abs, Sign, Sin, Cos, Tanh, Sigmoid, Relu,
  Gelu,      // exact: x * Phi(x)
  GeluTanh,  // tanh approximation
  Silu,
  Softplus,  // p0 = beta, p1 = threshold (linear above it)
  Erf, Reciprocal, Square,
  PowScalar,  // x ^ p0
  Clamp,      // clamp to [p0, p1] (either may be +-inf)
  LogicalNot,  // out is bool
};
// The number of UnaryOp enumerators (the op table's coverage test iterates them): keep it after the last one.
constexpr int kUnaryOpCount = static_cast<int>(UnaryOp::LogicalNot) + 1;
const char* unary_op_name(UnaryOp op);

enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  Eq, Ne, Lt, Le, Gt, Ge,  // out is bool; inputs share a dtype
  LogicalAnd, LogicalOr,   // inputs and out are bool
};
constexpr int kBinaryOpCount = static_cast<int>(BinaryOp::LogicalOr) + 1;  // keep after the last enumerator
const char* binary_op_name(BinaryOp op);
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min };

enum class RandomKind : uint8_t {
  Uniform,    // [p0, p1)
  Normal,     // mean p0, std p1
  Bernoulli,  // 1 with probability p0
  RandInt,    // integers in [p0, p1)
};

struct Conv2dParams {
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};

enum class PoolKind : uint8_t { Max, Avg };
struct Pool2dParams {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  bool count_include_pad = true;  // average pooling only
};

// Fused attention (ops/attention.h): which weights and how they are scaled.
struct AttentionParams {
  bool causal = false;   // top-left: query i sees keys j <= i
  bool sigmoid = false;  // weights sigmoid(scale * q.k + bias) instead of a softmax over the row
  double scale = 1.0;
  double bias = 0.0;  // sigmoid only
};

// Philox4x32-10 stream position: every random primitive draws from (seed, offset) and the caller advances offset.
struct PhiloxState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;
  virtual std::string name() const = 0;

  // ---- memory ----
  virtual Storage allocate(size_t nbytes, Device device) = 0;
  // dst and src have the same shape; any strides; dtypes may differ (converted). Either may be on the host when
  // the other is on this backend's device.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, const Scalar& value) = 0;  // dst may be strided
  virtual void synchronize() {}

  // ---- elementwise ----
  // x and out have the same floating dtype (or, for Neg/Abs/Sign/Square/Clamp, any numeric dtype; LogicalNot:
  // out bool).
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0 = 0.0, double p1 = 0.0) = 0;
  // a and b share a dtype and out's shape; out has that dtype, or bool for comparisons.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // cond is bool; a, b and out share a dtype; all have out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  // Reduces x over the sorted, unique `dims`; out has x's shape with those dims set to 1 (keepdim layout).
  virtual void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) = 0;
  // Max or Min along one dim: values (x's dtype) and int64 indices, both in keepdim layout.
  virtual void arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values,
                          const Tensor& indices) = 0;
  // Numerically stable (log_)softmax along `dim`; x and out have the same shape and floating dtype.
  virtual void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) = 0;

  // ---- linear algebra ----
  // a [B, M, K] and b [B, K, N] with any strides (a batch stride of 0 broadcasts); out [B, M, N] contiguous;
  // optional bias [N] added to every row. Floating dtypes, all the same.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) = 0;

  // ---- convolution and pooling (NCHW) ----
  // x [N, C, H, W], weight [O, C/groups, kH, kW], optional bias [O] -> out [N, O, Ho, Wo].
  virtual void conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                      const Tensor& out) = 0;
  // grad_in [N, C, H, W] = d(conv2d)/dx applied to grad_out.
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Conv2dParams& p,
                                     const Tensor& grad_in) = 0;
  // grad_weight [O, C/groups, kH, kW] (and optional grad_bias [O]) from grad_out and x.
  virtual void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dParams& p,
                                      const Tensor& grad_weight, const Tensor* grad_bias) = 0;
  // Max pooling also writes int64 indices (flat h*W+w within each input plane) into *indices.
  virtual void pool2d(PoolKind kind, const Tensor& x, const Pool2dParams& p, const Tensor& out,
                      const Tensor* indices) = 0;
  // Average pooling's backward (linear; its own transpose is pool2d Avg).
  virtual void avg_pool2d_backward(const Tensor& grad_out, const Pool2dParams& p, const Tensor& grad_in) = 0;

  // ---- indexing ----
  // out = x.index_select(dim, index): index is int64 1-D, in range (checked by the caller).
  virtual void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out[..., index[i], ...] += src[..., i, ...] along dim (out is modified in place).
  virtual void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) = 0;
  // out = gather(x, dim, index): index int64 with out's shape.
  virtual void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out.scatter_add_(dim, index, src): index and src share a shape; out is modified in place.
  virtual void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) = 0;

  // ---- attention (fused; a backend without it leaves the default, and ops fall back to the reference) ----
  // q [B, H, Lq, D], k and v [B, Hkv, Lk, D] (H a multiple of Hkv), all contiguous with one floating dtype;
  // key_padding_mask null or a contiguous bool [B, Lk], true where the key is ignored. Writes out [B, H, Lq, D]
  // and, for softmax, lse [B, H, Lq] (the row log-sum-exp of the scaled scores, +inf where every key is masked);
  // lse may be undefined for sigmoid.
  virtual void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* key_padding_mask,
                                 const AttentionParams& p, const Tensor& out, const Tensor& lse) {
    (void)q, (void)k, (void)v, (void)key_padding_mask, (void)p, (void)out, (void)lse;
    TANGENT_FAIL("attention_forward: not implemented on ", name());
  }
  // The gradients of attention_forward: grad_out, out and lse as above (contiguous); writes grad_q, grad_k and
  // grad_v (contiguous, the shapes of q, k and v).
  virtual void attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, const Tensor* key_padding_mask,
                                  const AttentionParams& p, const Tensor& grad_q, const Tensor& grad_k,
                                  const Tensor& grad_v) {
    (void)grad_out, (void)q, (void)k, (void)v, (void)out, (void)lse, (void)key_padding_mask, (void)p;
    (void)grad_q, (void)grad_k, (void)grad_v;
    TANGENT_FAIL("attention_backward: not implemented on ", name());
  }

  // ---- random ----
  // Fills contiguous `out` from the Philox stream at `state`; element i uses counter (state.offset + i / 4).
  virtual void random(RandomKind kind, const Tensor& out, PhiloxState state, double p0, double p1) = 0;
};

// The registry: one backend per device type.
void register_backend(DeviceType type, Backend* backend);
Backend& backend(DeviceType type);
inline Backend& backend_for(const Tensor& t) { return backend(t.device().type); }
bool has_backend(DeviceType type);

// Registers a backend at static-initialisation time: static BackendRegistrar reg(DeviceType::CPU, &instance);
struct BackendRegistrar {
  BackendRegistrar(DeviceType type, Backend* b) { register_backend(type, b); }
};

}  // namespace tangent
