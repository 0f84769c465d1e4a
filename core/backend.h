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
#include "core/scalar_math.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace tangent {

// The elementwise primitives and their scalar formulas are listed once, in core/scalar_math.h; the enums, names
// and both backends' dispatch are generated from those lists.
enum class UnaryOp : uint8_t {
#define TANGENT_ENUM_ENTRY(Name) Name,
  TANGENT_UNARY_OPS(TANGENT_ENUM_ENTRY)
};
enum class BinaryOp : uint8_t { TANGENT_BINARY_OPS(TANGENT_ENUM_ENTRY) };
#undef TANGENT_ENUM_ENTRY
#define TANGENT_COUNT_ENTRY(Name) +1
constexpr int kNumUnaryOps = 0 TANGENT_UNARY_OPS(TANGENT_COUNT_ENTRY);
constexpr int kNumBinaryOps = 0 TANGENT_BINARY_OPS(TANGENT_COUNT_ENTRY);
#undef TANGENT_COUNT_ENTRY

const char* unary_op_name(UnaryOp op);  // "exp", as errors and autograd print it
const char* binary_op_name(BinaryOp op);
// Eq, Ne, Lt, Le, Gt, Ge: out is bool, the inputs share a dtype.
inline bool is_comparison(BinaryOp op) {
#define TANGENT_COMPARE_ENTRY(Name) scalar_math::Name::domain == scalar_math::Domain::Compare,
  constexpr bool table[] = {TANGENT_BINARY_OPS(TANGENT_COMPARE_ENTRY)};
#undef TANGENT_COMPARE_ENTRY
  return table[static_cast<int>(op)];
}

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

// MoBA routing (ops/moba.h), as tensors on the backend's device. The caller sets block (at most the sequence
// length L), nblocks = ceil(L / block) and past = max(0, min(top_k - 1, nblocks - 1)), and allocates:
//   selected     int64 [B, H, L, past]: the past blocks query t selects, by descending gate, -1 when fewer;
//   col_offsets  int64 [B, H, nblocks + 1] and rows int64 [B, H, L * past]: the same transposed (a CSC index),
//                the queries selecting key block n as a past block are rows[b, h, col_offsets[b, h, n] ...
//                col_offsets[b, h, n + 1]), ascending.
struct MobaRouting {
  int64_t block = 1, nblocks = 0, past = 0;
  Tensor selected, col_offsets, rows;
};

// One fused optimizer update of a parameter (ops/optimizer_step.h has the formulas; PyTorch's torch.optim).
struct SgdStep {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is uninitialised and becomes the first step's gradient
};
struct AdamStep {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  bool amsgrad = false, decoupled = false;  // decoupled: AdamW
  double step_size = 0;                     // lr / (1 - beta1^t)
  double bc2_sqrt = 0;                      // sqrt(1 - beta2^t)
};
struct RmspropStep {
  double lr = 0, alpha = 0, eps = 0, weight_decay = 0, momentum = 0;
  bool centered = false;
};

// unfold / fold (im2col / col2im), as torch.nn.functional.unfold and fold.
struct UnfoldParams {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
};

// The optional primitives: a backend implements them for some dtypes (or none) and says so in supports(). The
// ops test supports() and take a composite path (ordinary primitives) when it is false; they never test a device
// type. An optional primitive a backend does not override raises "<primitive>: not implemented on <backend>".
enum class Primitive : uint8_t {
  Attention,      // attention_forward, attention_backward
  Moba,           // moba_route, moba_forward, moba_backward
  CrossEntropy,   // cross_entropy_forward, cross_entropy_backward
  Norm,           // norm_forward, norm_backward (layer norm and RMS norm)
  BatchNorm,      // batch_norm_forward, batch_norm_backward (training mode: batch statistics)
  OptimizerStep,  // sgd_step, adam_step, rmsprop_step
  PowerSum,       // power_sum (clip_grad_norm_)
  Unfold,         // unfold, fold
};
const char* primitive_name(Primitive p);

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
  // x and out have one dtype, in the op's domain (core/scalar_math.h); out is bool for LogicalNot. p0 and p1 are
  // the op's parameters (Softplus: beta, threshold; PowScalar: the exponent; Clamp: the bounds, maybe infinite).
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0 = 0.0, double p1 = 0.0) = 0;
  // a and b share a dtype (in the op's domain) and out's shape; out has that dtype, or bool for comparisons and
  // logical ops.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // cond is bool; a, b and out share a dtype; all have out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  // Reduces x over the sorted, unique `dims`; out has x's shape with those dims set to 1 (keepdim layout).
  virtual void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) = 0;
  // Max or Min along one dim: values (x's dtype) and int64 indices, both in keepdim layout.
  virtual void arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) = 0;
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

  // ---- optional primitives (see Primitive) ----
  // Whether this backend implements the primitives of group `p` for inputs of dtype `dt`.
  virtual bool supports(Primitive p, DType dt) const {
    (void)p, (void)dt;
    return false;
  }

  // ---- attention (Primitive::Attention) ----
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

  // ---- MoBA (Primitive::Moba; ops/moba.h) ----
  // q [B, H, L, D], k [B, Hkv, L, D] contiguous, one floating dtype: fills r's tensors (allocated by the caller,
  // see MobaRouting). The gate of block n for query t is q_t . mean(keys of n), per head (kv head h / (H / Hkv));
  // of the blocks ending at or before t's own, the past highest are kept (ties go to the later block).
  virtual void moba_route(const Tensor& q, const Tensor& k, const MobaRouting& r) {
    (void)q, (void)k, (void)r;
    TANGENT_FAIL("moba_route: not implemented on ", name());
  }
  // Causal softmax attention of each query over its own block and its selected past blocks: q, k as above, v
  // [B, Hkv, L, Dv], all contiguous; writes out [B, H, L, Dv] and lse [B, H, L].
  virtual void moba_forward(const Tensor& q, const Tensor& k, const Tensor& v, const MobaRouting& r, double scale,
                            const Tensor& out, const Tensor& lse) {
    (void)q, (void)k, (void)v, (void)r, (void)scale, (void)out, (void)lse;
    TANGENT_FAIL("moba_forward: not implemented on ", name());
  }
  // Its gradients: everything contiguous; writes grad_q, grad_k, grad_v (the shapes of q, k and v).
  virtual void moba_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, const Tensor& lse, const MobaRouting& r, double scale,
                             const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
    (void)grad_out, (void)q, (void)k, (void)v, (void)out, (void)lse, (void)r, (void)scale;
    (void)grad_q, (void)grad_k, (void)grad_v;
    TANGENT_FAIL("moba_backward: not implemented on ", name());
  }

  // ---- cross-entropy over class indices (Primitive::CrossEntropy; ops/loss.h) ----
  // logits [N, C] contiguous floating; target int64 [N] contiguous, each equal to ignore_index or in [0, C)
  // (otherwise an Error naming cross_entropy). Writes log_probs [N, C], weight [N] (0 on ignored rows, else
  // 1 / max(1, kept rows) when `mean`, else 1) and loss: [N] (-log_probs[i, target[i]], 0 when ignored) when
  // !reduce, else 0-dim (the sum of -log_probs[i, target[i]] over kept rows, in double, times the weight).
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t ignore_index, bool mean,
                                     bool reduce, const Tensor& log_probs, const Tensor& weight, const Tensor& loss) {
    (void)logits, (void)target, (void)ignore_index, (void)mean, (void)reduce, (void)log_probs, (void)weight;
    (void)loss;
    TANGENT_FAIL("cross_entropy_forward: not implemented on ", name());
  }
  // grad_logits [N, C] = (exp(log_probs) - onehot(target)) * grad_row[:, None]; rows whose target is
  // ignore_index get no one-hot term (their grad_row is 0). grad_row [N] has log_probs' dtype; all contiguous.
  virtual void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                                      const Tensor& grad_row, const Tensor& grad_logits) {
    (void)log_probs, (void)target, (void)ignore_index, (void)grad_row, (void)grad_logits;
    TANGENT_FAIL("cross_entropy_backward: not implemented on ", name());
  }

  // ---- layer norm and RMS norm over the last dim (Primitive::Norm; ops/norm.h) ----
  // x [R, N] contiguous floating; weight and bias [N] or null (rms: no bias). Layer norm: y = (x - mean) * rstd,
  // rstd = 1 / sqrt(mean((x - mean)^2) + eps); RMS norm: y = x * rstd, rstd = 1 / sqrt(mean(x^2) + eps); then
  // y * weight + bias. Writes out [R, N], rstd [R] and, for layer norm, mean [R] (undefined for RMS).
  virtual void norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, bool rms, double eps,
                            const Tensor& out, const Tensor& mean, const Tensor& rstd) {
    (void)x, (void)weight, (void)bias, (void)rms, (void)eps, (void)out, (void)mean, (void)rstd;
    TANGENT_FAIL("norm_forward: not implemented on ", name());
  }
  // The gradients from grad_out [R, N] and the forward's x, mean, rstd: grad_x [R, N], and grad_weight /
  // grad_bias [N] when non-null (summed over rows in a fixed order). All contiguous.
  virtual void norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                             const Tensor& rstd, bool rms, const Tensor& grad_x, const Tensor* grad_weight,
                             const Tensor* grad_bias) {
    (void)grad_out, (void)x, (void)weight, (void)mean, (void)rstd, (void)rms, (void)grad_x, (void)grad_weight;
    (void)grad_bias;
    TANGENT_FAIL("norm_backward: not implemented on ", name());
  }

  // ---- batch normalisation in training mode (Primitive::BatchNorm; ops/norm.h) ----
  // x [N, C, S] contiguous floating; weight and bias [C] or null. Per channel c, over N and S: mean, biased var,
  // y = (x - mean) / sqrt(var + eps) * weight + bias. Writes out [N, C, S], mean [C] and var [C]; each channel's
  // statistics are summed in a fixed order (independent of the thread count).
  virtual void batch_norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, double eps,
                                  const Tensor& out, const Tensor& mean, const Tensor& var) {
    (void)x, (void)weight, (void)bias, (void)eps, (void)out, (void)mean, (void)var;
    TANGENT_FAIL("batch_norm_forward: not implemented on ", name());
  }
  // The gradients from grad_out [N, C, S] and the forward's x, mean, var: grad_x [N, C, S], grad_weight and
  // grad_bias [C], each written when non-null. All contiguous.
  virtual void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                                   const Tensor& var, double eps, const Tensor* grad_x, const Tensor* grad_weight,
                                   const Tensor* grad_bias) {
    (void)grad_out, (void)x, (void)weight, (void)mean, (void)var, (void)eps, (void)grad_x, (void)grad_weight;
    (void)grad_bias;
    TANGENT_FAIL("batch_norm_backward: not implemented on ", name());
  }

  // ---- optimizer updates (Primitive::OptimizerStep; ops/optimizer_step.h) ----
  // In place on p; g and every state buffer have p's shape and dtype; all contiguous. Null buffers are unused.
  virtual void sgd_step(const Tensor& p, const Tensor& g, const Tensor* momentum_buffer, const SgdStep& s) {
    (void)p, (void)g, (void)momentum_buffer, (void)s;
    TANGENT_FAIL("sgd_step: not implemented on ", name());
  }
  virtual void adam_step(const Tensor& p, const Tensor& g, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                         const Tensor* max_exp_avg_sq, const AdamStep& s) {
    (void)p, (void)g, (void)exp_avg, (void)exp_avg_sq, (void)max_exp_avg_sq, (void)s;
    TANGENT_FAIL("adam_step: not implemented on ", name());
  }
  virtual void rmsprop_step(const Tensor& p, const Tensor& g, const Tensor& square_avg, const Tensor* momentum_buffer,
                            const Tensor* grad_avg, const RmspropStep& s) {
    (void)p, (void)g, (void)square_avg, (void)momentum_buffer, (void)grad_avg, (void)s;
    TANGENT_FAIL("rmsprop_step: not implemented on ", name());
  }
  // ---- norms of gradients (Primitive::PowerSum) ----
  // out (float64, 0-dim) = sum |x|^p (0 < p < inf) or max |x| (p = inf; NaN wins), accumulated in double in an
  // order that does not depend on the thread count; x contiguous.
  virtual void power_sum(const Tensor& x, double p, const Tensor& out) {
    (void)x, (void)p, (void)out;
    TANGENT_FAIL("power_sum: not implemented on ", name());
  }

  // ---- unfold / fold (Primitive::Unfold; ops/unfold.h) ----
  // x [N, C, H, W] contiguous -> out [N, C*kH*kW, Ho*Wo] (zero padding), rows ordered (c, ky, kx).
  virtual void unfold(const Tensor& x, const UnfoldParams& p, const Tensor& out) {
    (void)x, (void)p, (void)out;
    TANGENT_FAIL("unfold: not implemented on ", name());
  }
  // The adjoint: cols [N, C*kH*kW, Ho*Wo] contiguous -> out [N, C, H, W] (overwritten), overlaps summed.
  virtual void fold(const Tensor& cols, const UnfoldParams& p, const Tensor& out) {
    (void)cols, (void)p, (void)out;
    TANGENT_FAIL("fold: not implemented on ", name());
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
