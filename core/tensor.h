#pragma once
// Tensor: a cheap handle to a shared TensorImpl (shape, strides, offset, dtype, storage, autograd state).
// Copying a Tensor copies the handle, never the data, as in PyTorch.
//
// The methods below are declared here for convenience; ops are defined in ops/ and autograd methods in
// autograd/ (core itself knows nothing of either).
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/scalar.h"
#include "core/shape.h"
#include "core/storage.h"

namespace tangent {

namespace autograd {
struct AutogradMeta;  // defined in autograd/ ; core only holds the pointer
class Node;
}  // namespace autograd

// Options for creating a tensor; implicitly built from a DType or Device: zeros({2, 3}, kFloat64).
struct TensorOptions {
  DType dtype_ = DType::Float32;
  Device device_ = Device(DeviceType::CPU);
  bool requires_grad_ = false;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype_(d) {}        // NOLINT
  TensorOptions(Device d) : device_(d) {}      // NOLINT
  TensorOptions(DeviceType d) : device_(d) {}  // NOLINT
  TensorOptions dtype(DType d) const {
    auto o = *this;
    o.dtype_ = d;
    return o;
  }
  TensorOptions device(Device d) const {
    auto o = *this;
    o.device_ = d;
    return o;
  }
  TensorOptions requires_grad(bool r = true) const {
    auto o = *this;
    o.requires_grad_ = r;
    return o;
  }
};

struct TensorImpl {
  Storage storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  int64_t numel = 0;
  DType dtype = DType::Float32;
  bool requires_grad = false;               // true on leaves that want .grad, and on outputs of recorded ops
  bool is_wrapped_number = false;           // a Scalar turned into a 0-dim tensor: does not drive type promotion
  bool is_view = false;                     // made by a view op: shares storage with the tensor it was made from
  std::shared_ptr<autograd::Node> grad_fn;  // the node that produced this tensor (non-leaves)
  std::shared_ptr<autograd::AutogradMeta> autograd;  // .grad, hooks, retain_grad; null for most tensors

  Device device() const { return storage->device(); }
  bool is_contiguous() const;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& sizes() const { return impl_->shape; }
  int64_t size(int64_t dim) const;
  const Shape& strides() const { return impl_->strides; }
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t numel() const { return impl_->numel; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->device(); }
  TensorOptions options() const { return TensorOptions(dtype()).device(device()); }
  int64_t storage_offset() const { return impl_->offset; }
  bool is_contiguous() const { return impl_->is_contiguous(); }
  bool is_floating_point() const { return tangent::is_floating_point(dtype()); }
  const Storage& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Pointer to the first element (storage data + offset). data_ptr<T>() checks that T matches the dtype.
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size(dtype()));
  }
  template <typename T>
  T* data_ptr() const {
    TANGENT_CHECK(dtype_of<T>::value == dtype(), "data_ptr: tensor has dtype ", dtype(), " but ",
                  dtype_name(dtype_of<T>::value), " was asked for");
    return static_cast<T*>(raw_data());
  }

  // The version counter shared by all views of the storage; in-place ops bump it.
  uint64_t version() const { return impl_->storage->version(); }
  void bump_version() const { impl_->storage->bump_version(); }

  // ---- autograd (autograd/tensor_autograd.cpp) ----
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& requires_grad_(bool requires_grad = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined when no gradient has been accumulated
  void set_grad(const Tensor& g) const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;  // shares storage, no history
  void retain_grad() const;
  // The hook sees the gradient w.r.t. this tensor and may return a replacement (or an undefined Tensor to keep it).
  void register_hook(std::function<Tensor(const Tensor&)> hook) const;

  // ---- values (ops/) ----
  Scalar item() const;
  template <typename T>
  T item() const {
    return item().to<T>();
  }
  std::string str() const;  // readable printing, as operator<<
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor clone() const;
  Tensor contiguous() const;
  void copy_(const Tensor& src) const;
  Tensor& fill_(const Scalar& value);
  Tensor& zero_();

  // ---- views (ops/views.cpp) ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  // ---- math sugar (ops/) ----
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor pow(const Scalar& exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor neg() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor matmul(const Tensor& other) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(const Scalar& other);

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Uninitialised tensor with contiguous layout (core/tensor.cpp: allocation through the device's backend).
Tensor empty(const Shape& shape, TensorOptions options = {});
// A tensor that views `storage` with the given geometry (no copy).
Tensor make_tensor(Storage storage, const Shape& shape, const Shape& strides, int64_t offset, DType dtype);
// Same storage and metadata, new handle without autograd state (used by views and detach).
Tensor alias_with(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace tangent
