// AffineAugmented: random affine transforms per example and epoch.
#include "nn/data/augment.h"

#include <vector>

#include "core/parallel.h"
#include "ops/factory.h"

namespace tangent::data {

AffineAugmented::AffineAugmented(std::shared_ptr<const TensorDataset> base, uint64_t seed, AffineRanges ranges)
    : base_(std::move(base)), seed_(seed), ranges_(ranges) {
  TANGENT_CHECK(base_ != nullptr, "AffineAugmented: no data set");
  const Tensor& x = base_->data();
  TANGENT_CHECK(x.defined() && x.dim() == 4 && x.dtype() == kFloat32, "--augment affine: needs float32 images ",
                "[N, C, H, W], got ", x.defined() ? x.dtype() : kFloat32, " of shape ",
                x.defined() ? x.shape() : Shape{});
}

AffineParams AffineAugmented::params(int64_t index) const {
  const Tensor image = base_->data().select(0, index).select(0, 0).contiguous();
  return draw_affine({image.data_ptr<float>(), image.size(0), image.size(1)}, ranges_, augment_key(seed_),
                     static_cast<uint64_t>(index), static_cast<uint64_t>(epoch_));
}

Tensor AffineAugmented::warp(const Tensor& images, const Tensor& indices) const {
  const Tensor src = images.contiguous();
  const Tensor idx = indices.to(kInt64).contiguous();
  const int64_t n = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
  Tensor out = zeros(src.shape(), kFloat32);
  const float* s = src.data_ptr<float>();
  float* d = out.data_ptr<float>();
  const int64_t* ix = idx.data_ptr<int64_t>();
  parallel_for(n, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* image = s + i * c * h * w;
      const AffineParams p = draw_affine({image, h, w}, ranges_, augment_key(seed_), static_cast<uint64_t>(ix[i]),
                                         static_cast<uint64_t>(epoch_));
      for (int64_t ch = 0; ch < c; ++ch) warp_affine({image + ch * h * w, h, w}, p, d + (i * c + ch) * h * w);
    }
  });
  return out;
}

Example AffineAugmented::get(int64_t index) const {
  Example e = base_->get(index);
  e.data = warp(e.data.unsqueeze(0), tensor(std::vector<int64_t>{index}, {1})).squeeze(0);
  return e;
}

Example AffineAugmented::get_batch(const Tensor& indices) const {
  Example e = base_->get_batch(indices);
  e.data = warp(e.data, indices);
  return e;
}

}  // namespace tangent::data
