#pragma once
// Datasets: the Dataset interface (indexed examples, batched access), TensorDataset (examples are the rows of
// a data tensor and a target tensor) and Subset (a view of chosen indices of another dataset).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace tangent::data {

// One example, or a batch of them (then the first dim of both tensors is the batch). `target` may be undefined
// for unlabelled data.
struct Example {
  Tensor data;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()).
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices` (int64, 1-D), stacked along a new first dim. The default calls get() per index;
  // datasets that hold tensors override it with one gather.
  virtual Example get_batch(const Tensor& indices) const;
};

// Examples are data[i] and targets[i]. Both tensors must have the same first dim (targets may be undefined).
class TensorDataset : public Dataset {
 public:
  TensorDataset() = default;
  explicit TensorDataset(Tensor data, Tensor targets = Tensor());
  int64_t size() const override;
  Example get(int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;  // index_select on both tensors

  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }
  // Replaces the data tensor (e.g. after normalising); its first dim must stay size().
  void set_data(Tensor data);
  // The first `n` examples (views, no copy); n larger than size() keeps them all.
  TensorDataset head(int64_t n) const;

 private:
  Tensor data_;
  Tensor targets_;
};

// The examples of `base` at `indices` (each in [0, base->size())), in that order.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;  // maps indices, then base->get_batch
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// A Subset of the first min(n, size) examples of `base`.
std::shared_ptr<Subset> take(std::shared_ptr<const Dataset> base, int64_t n);

}  // namespace tangent::data
