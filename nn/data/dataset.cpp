// Dataset, TensorDataset and Subset.
#include "nn/data/dataset.h"

#include <string>

#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::data {

namespace {

int64_t check_index(int64_t index, int64_t size, const char* who) {
  TANGENT_CHECK(index >= -size && index < size, who, ": index ", index, " is out of range for a dataset of ", size,
                " examples");
  return index < 0 ? index + size : index;
}

void check_indices(const Tensor& indices, const char* who) {
  TANGENT_CHECK(indices.defined(), who, ": indices is an undefined tensor");
  TANGENT_CHECK(indices.dtype() == kInt64 && indices.dim() == 1, who,
                ": indices must be a 1-D int64 tensor, got dtype ", indices.dtype(), " and shape ", indices.shape());
}

// stack(parts, 0); 0-d parts (scalar targets) are joined as [1]-shaped views with cat.
Tensor stack_examples(const std::vector<Tensor>& parts) {
  if (parts[0].dim() != 0) return stack(parts, 0);
  std::vector<Tensor> ones;
  ones.reserve(parts.size());
  for (const Tensor& p : parts) {
    TANGENT_CHECK(p.dim() == 0, "Dataset::get_batch: examples have different shapes: [] and ", p.shape());
    ones.push_back(p.expand({1}));
  }
  return cat(ones, 0);
}

}  // namespace

Example Dataset::get_batch(const Tensor& indices) const {
  check_indices(indices, "Dataset::get_batch");
  const std::vector<int64_t> idx = to_vector<int64_t>(indices);
  TANGENT_CHECK(!idx.empty(), "Dataset::get_batch: cannot stack an empty batch (no example fixes the shape)");
  std::vector<Tensor> data, targets;
  data.reserve(idx.size());
  targets.reserve(idx.size());
  for (int64_t i : idx) {
    Example e = get(i);
    data.push_back(e.data);
    if (e.target.defined()) targets.push_back(e.target);
  }
  TANGENT_CHECK(targets.empty() || targets.size() == data.size(),
                "Dataset::get_batch: some examples have a target and others do not");
  Example out;
  out.data = stack_examples(data);
  if (!targets.empty()) out.target = stack_examples(targets);
  return out;
}

// ---- TensorDataset ----

TensorDataset::TensorDataset(Tensor data, Tensor targets) : data_(std::move(data)), targets_(std::move(targets)) {
  TANGENT_CHECK(data_.defined(), "TensorDataset: data is an undefined tensor");
  TANGENT_CHECK(data_.dim() >= 1, "TensorDataset: data must have at least 1 dimension (the examples), got shape ",
                data_.shape());
  if (targets_.defined()) {
    TANGENT_CHECK(targets_.dim() >= 1,
                  "TensorDataset: targets must have at least 1 dimension (the examples), got shape ", targets_.shape());
    TANGENT_CHECK(targets_.size(0) == data_.size(0), "TensorDataset: data has ", data_.size(0), " examples (shape ",
                  data_.shape(), ") but targets has ", targets_.size(0), " (shape ", targets_.shape(),
                  "); their first dims must match");
  }
}

int64_t TensorDataset::size() const { return data_.defined() ? data_.size(0) : 0; }

Example TensorDataset::get(int64_t index) const {
  const int64_t i = check_index(index, size(), "TensorDataset::get");
  Example e;
  e.data = data_.select(0, i);
  if (targets_.defined()) e.target = targets_.select(0, i);
  return e;
}

Example TensorDataset::get_batch(const Tensor& indices) const {
  check_indices(indices, "TensorDataset::get_batch");
  Example e;
  e.data = index_select(data_, 0, indices);
  if (targets_.defined()) e.target = index_select(targets_, 0, indices);
  return e;
}

void TensorDataset::set_data(Tensor data) {
  TANGENT_CHECK(data.defined() && data.dim() >= 1 && data.size(0) == size(),
                "TensorDataset::set_data: the new data must keep the first dim ", size(), ", got shape ",
                data.defined() ? data.shape() : Shape{});
  data_ = std::move(data);
}

TensorDataset TensorDataset::head(int64_t n) const {
  TANGENT_CHECK(n >= 0, "TensorDataset::head: n must be >= 0, got ", n);
  const int64_t k = n < size() ? n : size();
  TensorDataset out;
  out.data_ = data_.narrow(0, 0, k);
  if (targets_.defined()) out.targets_ = targets_.narrow(0, 0, k);
  return out;
}

// ---- Subset ----

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  TANGENT_CHECK(base_ != nullptr, "Subset: the base dataset is null");
  const int64_t n = base_->size();
  for (size_t i = 0; i < indices_.size(); ++i) {
    TANGENT_CHECK(indices_[i] >= 0 && indices_[i] < n, "Subset: index ", indices_[i], " (position ", i,
                  ") is out of range for a dataset of ", n, " examples");
  }
}

Example Subset::get(int64_t index) const {
  const int64_t i = check_index(index, size(), "Subset::get");
  return base_->get(indices_[static_cast<size_t>(i)]);
}

Example Subset::get_batch(const Tensor& indices) const {
  check_indices(indices, "Subset::get_batch");
  std::vector<int64_t> mapped = to_vector<int64_t>(indices);
  for (int64_t& i : mapped) i = indices_[static_cast<size_t>(check_index(i, size(), "Subset::get_batch"))];
  return base_->get_batch(tensor(mapped, {static_cast<int64_t>(mapped.size())}));
}

std::shared_ptr<Subset> take(std::shared_ptr<const Dataset> base, int64_t n) {
  TANGENT_CHECK(base != nullptr, "take: the dataset is null");
  TANGENT_CHECK(n >= 0, "take: n must be >= 0, got ", n);
  const int64_t k = n < base->size() ? n : base->size();
  std::vector<int64_t> idx(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) idx[static_cast<size_t>(i)] = i;
  return std::make_shared<Subset>(std::move(base), std::move(idx));
}

}  // namespace tangent::data
