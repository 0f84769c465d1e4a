#pragma once
// The Lie-group convolution layers (Mironenco & Forre, ICLR 2024) and the ops between them, on GroupTensors.
//
// Kernel grid: kernel pixel (r, c) of a k x k kernel sits at x_p = ((2c + 1)/k - 1, (2r + 1)/k - 1) (x along
// columns, y along rows), as affine_grid(align_corners=false). Both convolutions are cross-correlations (conv2d).
//
// LiftConv2d: input [B, C_in, H, W] -> output on N freshly drawn samples g_j:
//   K_j[o, c, p] = k(g_j^-1 x_p)[o, c] * mask(g_j^-1 x_p) * (|det g_j^-1| for GL2),
//   applied as ONE conv2d with weight [C_out * N, C_in, k, k].
// GroupConv2d: input on samples h_i -> output on samples g_j (drawn fresh, or the input's own when !resample):
//   K[o, j, c, i, p] = k([g_j^-1 x_p ; chart(g_j^-1 h_i)])[o, c] * mask * (1 / |det h_i| for GL2),
//   applied as ONE conv2d with weight [C_out * N_out, C_in * N_in, k, k] (no 1/N factor).
// Masks: a hard disk |g_j^-1 x_p| <= 1 for SO2 and SL2; sigmoid(2 (1 - |z|)) of the whole kernel-net input z for GL2.
// The kernels are generated once per forward (one kernel-net call on every point); the point coordinates, masks
// and determinant factors are float64 constants (samples are not differentiated).
//
// Sampling: in training mode each forward draws new samples from the global generator; in eval mode they are drawn
// from PhiloxState{eval_seed, 0}, so evaluation is deterministic. `transport` (identity by default) moves every
// drawn set by u (g -> u g): the equivariance tests use it.
#include <memory>

#include "nn/lie/group_tensor.h"
#include "nn/lie/kernel_net.h"
#include "nn/module.h"

namespace tangent::lie {

struct LieConvOptions {
  Group group = Group::SL2;
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t kernel_size = 5;
  int64_t padding = 0;
  int64_t width = 60;  // the kernel net's
  int64_t hidden_layers = 2;
  double omega = 10.0;
};

// The number of parameters of a layer with these options (its kernel net), `lift` or a group convolution.
int64_t lie_conv_parameters(const LieConvOptions& options, bool lift);

// What both layers share: the sampler, the eval seed and the transport.
class SampledLayer : public nn::Module {
 public:
  SampledLayer(const SamplerOptions& sampler, uint64_t eval_seed);
  // The samples this forward uses (drawn as described above, then transported).
  std::shared_ptr<const SampleSet> draw() const;

  SamplerOptions sampler;
  uint64_t eval_seed;
  Mat2 transport;
};

class LiftConv2d : public SampledLayer {
 public:
  LiftConv2d(const LieConvOptions& options, const SamplerOptions& sampler, uint64_t eval_seed = 0);
  // x [B, C_in, H, W] -> [B, C_out * N, H', W'] on freshly drawn samples.
  GroupTensor lift(const Tensor& x);
  // The same on the given samples.
  GroupTensor lift(const Tensor& x, std::shared_ptr<const SampleSet> samples);
  // The conv2d weight for the samples: [C_out * N, C_in, k, k].
  Tensor kernel(const SampleSet& samples);
  std::string type_name() const override { return "LiftConv2d"; }
  std::string extra_repr() const override;

  LieConvOptions options;
  std::shared_ptr<KernelNet> net;
};

class GroupConv2d : public SampledLayer {
 public:
  // resample: draw new output samples each forward; otherwise the output lives on the input's samples.
  GroupConv2d(const LieConvOptions& options, const SamplerOptions& sampler, uint64_t eval_seed = 0,
              bool resample = true);
  GroupTensor apply(const GroupTensor& x);
  GroupTensor apply(const GroupTensor& x, std::shared_ptr<const SampleSet> out_samples);
  // The conv2d weight from input samples `in` to output samples `out`: [C_out * N_out, C_in * N_in, k, k].
  Tensor kernel(const SampleSet& out, const SampleSet& in);
  std::string type_name() const override { return "GroupConv2d"; }
  std::string extra_repr() const override;

  LieConvOptions options;
  bool resample;
  std::shared_ptr<KernelNet> net;
};

// ---- the ops between Lie layers (the samples pass through) ----
// Layer norm over (C, N, H, W) per example, without affine parameters.
GroupTensor layer_norm(const GroupTensor& x, double eps = 1e-5);
GroupTensor gelu(const GroupTensor& x);
// k x k max-pooling with stride k over the plane.
GroupTensor max_pool2d(const GroupTensor& x, int64_t k = 2);
// a + b; both must live on the same samples (an Error says so otherwise).
GroupTensor add(const GroupTensor& a, const GroupTensor& b);
// The invariant features: the max over samples and the plane, [B, C].
Tensor global_max(const GroupTensor& x);

}  // namespace tangent::lie
