#pragma once
// The CPU backend: every Backend primitive on the host. Each group of primitives lives in its own file:
// memory.cpp (allocate, copy, fill), elementwise.cpp (unary, binary, where), reduce.cpp (reduce, arg_reduce,
// softmax), matmul.cpp (oneDNN GEMM), conv.cpp and pool.cpp (oneDNN), indexing.cpp, random.cpp,
// flash_attention.cpp (fused attention forward and backward), moba_attention.cpp (MoBA routing, forward and
// backward), cross_entropy.cpp, norm.cpp (layer and RMS norm), batch_norm.cpp (training-mode batch norm),
// optimizer_step.cpp (fused optimizer updates and power_sum), unfold.cpp (im2col and col2im). The optional primitives
// (Primitive) are implemented for float32 and float64.
#include "core/backend.h"

namespace tangent::cpu {

// Not final: tests derive from it to restrict supports() and check the composite paths.
class CpuBackend : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CPU; }
  std::string name() const override { return "cpu"; }

  Storage allocate(size_t nbytes, Device device) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, const Scalar& value) override;

  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) override;
  void arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) override;
  void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) override;

  void matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) override;

  void conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
              const Tensor& out) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Conv2dParams& p,
                             const Tensor& grad_in) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dParams& p, const Tensor& grad_weight,
                              const Tensor* grad_bias) override;
  void pool2d(PoolKind kind, const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor* indices) override;
  void avg_pool2d_backward(const Tensor& grad_out, const Pool2dParams& p, const Tensor& grad_in) override;

  void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;

  bool supports(Primitive p, DType dt) const override;

  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* key_padding_mask,
                         const AttentionParams& p, const Tensor& out, const Tensor& lse) override;
  void attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                          const Tensor& lse, const Tensor* key_padding_mask, const AttentionParams& p,
                          const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) override;

  void moba_route(const Tensor& q, const Tensor& k, const MobaRouting& r) override;
  void moba_forward(const Tensor& q, const Tensor& k, const Tensor& v, const MobaRouting& r, double scale,
                    const Tensor& out, const Tensor& lse) override;
  void moba_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                     const Tensor& lse, const MobaRouting& r, double scale, const Tensor& grad_q, const Tensor& grad_k,
                     const Tensor& grad_v) override;

  void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t ignore_index, bool mean, bool reduce,
                             const Tensor& log_probs, const Tensor& weight, const Tensor& loss) override;
  void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                              const Tensor& grad_row, const Tensor& grad_logits) override;

  void norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, bool rms, double eps, const Tensor& out,
                    const Tensor& mean, const Tensor& rstd) override;
  void norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                     const Tensor& rstd, bool rms, const Tensor& grad_x, const Tensor* grad_weight,
                     const Tensor* grad_bias) override;

  void batch_norm_forward(const Tensor& x, const Tensor* weight, const Tensor* bias, double eps, const Tensor& out,
                          const Tensor& mean, const Tensor& var) override;
  void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor* weight, const Tensor& mean,
                           const Tensor& var, double eps, const Tensor* grad_x, const Tensor* grad_weight,
                           const Tensor* grad_bias) override;

  void sgd_step(const Tensor& p, const Tensor& g, const Tensor* momentum_buffer, const SgdStep& s) override;
  void adam_step(const Tensor& p, const Tensor& g, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor* max_exp_avg_sq, const AdamStep& s) override;
  void rmsprop_step(const Tensor& p, const Tensor& g, const Tensor& square_avg, const Tensor* momentum_buffer,
                    const Tensor* grad_avg, const RmspropStep& s) override;
  void power_sum(const Tensor& x, double p, const Tensor& out) override;

  void unfold(const Tensor& x, const UnfoldParams& p, const Tensor& out) override;
  void fold(const Tensor& cols, const UnfoldParams& p, const Tensor& out) override;

  void random(RandomKind kind, const Tensor& out, PhiloxState state, double p0, double p1) override;
};

}  // namespace tangent::cpu
