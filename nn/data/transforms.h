#pragma once
// Transforms on data tensors: Normalize ((x - mean) / std per channel) and compute_mean_std, which gives the
// statistics to normalise with.
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/data/dataset.h"

namespace tangent::data {

// (x - mean[c]) / std[c] for each channel c along `channel_dim` (default -3: the C of [..., C, H, W], as in
// torchvision; use -1 for [N, features] tables). One mean/std value applies to every channel.
class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std, int64_t channel_dim = -3);
  // From tensors such as compute_mean_std returns (1-D, one value per channel, or 0-D).
  Normalize(const Tensor& mean, const Tensor& std, int64_t channel_dim = -3);
  Tensor operator()(const Tensor& x) const;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }
  int64_t channel_dim() const { return channel_dim_; }

 private:
  std::vector<double> mean_, std_;
  int64_t channel_dim_;
};

// The mean and standard deviation of `x` over `dims` (every dim when empty), the other dims kept: for images
// [N, C, H, W], dims {0, 2, 3} gives per-channel statistics of shape [C]. Accumulates in float64; returns
// float64 for float64 input, float32 otherwise. correction = 1 is the unbiased estimate (as ops' std).
std::pair<Tensor, Tensor> compute_mean_std(const Tensor& x, const Shape& dims = {}, int64_t correction = 1);

// Normalises the data tensor of `dataset` in place of the old one (the dataset then holds the new tensor).
void normalize_(TensorDataset& dataset, const Normalize& normalize);

}  // namespace tangent::data
