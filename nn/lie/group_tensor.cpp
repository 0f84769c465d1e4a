#include "nn/lie/group_tensor.h"

#include "core/error.h"

namespace tangent::lie {

GroupTensor::GroupTensor(Tensor d, std::shared_ptr<const SampleSet> s) : data(std::move(d)), samples(std::move(s)) {
  TANGENT_CHECK(samples && samples->size() > 0, "lie::GroupTensor: needs a non-empty sample set");
  TANGENT_CHECK(data.defined() && data.dim() == 4 && data.size(1) % samples->size() == 0,
                "lie::GroupTensor: expected data [B, C * N, H, W] with N = ", samples->size(), " samples, got ",
                data.defined() ? data.shape() : Shape{});
}

Tensor GroupTensor::split() const {
  return data.reshape({data.size(0), channels(), num_samples(), data.size(2), data.size(3)});
}

}  // namespace tangent::lie
