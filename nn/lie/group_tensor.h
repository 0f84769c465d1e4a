#pragma once
// GroupTensor: a feature map on R^2 x| H, carried between Lie layers with the sample set it lives on (as escnn's
// GeometricTensor carries its field type), so that no layer can read it against another layer's samples.
#include <memory>

#include "core/tensor.h"
#include "nn/lie/sampling.h"

namespace tangent::lie {

struct GroupTensor {
  Tensor data;  // [B, C * N, H, W]: channel c on sample i at c * N + i
  std::shared_ptr<const SampleSet> samples;

  GroupTensor() = default;
  // Checks that data is [B, C * N, H, W] for the set's N (Errors name the shapes).
  GroupTensor(Tensor data, std::shared_ptr<const SampleSet> samples);

  int64_t batch() const { return data.size(0); }
  int64_t num_samples() const { return samples->size(); }
  int64_t channels() const { return data.size(1) / num_samples(); }
  // The [B, C, N, H, W] view of data.
  Tensor split() const;
  // The same samples with other data (e.g. after an elementwise op).
  GroupTensor with_data(Tensor other) const { return GroupTensor(std::move(other), samples); }
};

}  // namespace tangent::lie
