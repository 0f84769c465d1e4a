#pragma once
// The CUDA backend (internal header): the Backend interface on NVIDIA GPUs. It registers itself for
// DeviceType::CUDA at load time, and only when a GPU is visible, so has_backend(kCUDA) is the test for "usable".
//
// So far: memory (caching allocator, copies host<->device and device<->device, fill) and float32 elementwise
// unary/binary. Every other primitive raises tangent::Error("<primitive>: not implemented on cuda yet").
#include "core/backend.h"

namespace tangent::cuda {

class CudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }
  std::string name() const override { return "cuda"; }

  Storage allocate(size_t nbytes, Device device) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, const Scalar& value) override;
  void synchronize() override;

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

  void random(RandomKind kind, const Tensor& out, PhiloxState state, double p0, double p1) override;
};

}  // namespace tangent::cuda
