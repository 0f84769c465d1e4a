#pragma once
// AffineAugmented: a training set whose every example is warped by its own random affine transform (affine.h's
// ranges and drawing), new each epoch and determined by (seed, epoch, example index) alone, so that a resumed
// run sees the same images as an uninterrupted one. The trainer's caller sets the epoch before each one.
#include <cstdint>
#include <memory>

#include "nn/data/affine.h"
#include "nn/data/dataset.h"

namespace tangent::data {

class AffineAugmented : public Dataset {
 public:
  // `base` holds float32 images [N, C, H, W] (each channel warped by the example's transform).
  AffineAugmented(std::shared_ptr<const TensorDataset> base, uint64_t seed, AffineRanges ranges = {});
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;
  // The epoch whose transforms get() and get_batch() apply.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  // The transform of example `index` in the current epoch (drawn on its first channel).
  AffineParams params(int64_t index) const;

 private:
  Tensor warp(const Tensor& images, const Tensor& indices) const;
  std::shared_ptr<const TensorDataset> base_;
  uint64_t seed_;
  AffineRanges ranges_;
  int64_t epoch_ = 0;
};

}  // namespace tangent::data
