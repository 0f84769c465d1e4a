// Tensor metadata helpers, make_tensor and empty (allocation through the caching host allocator on the CPU).
#include "core/tensor.h"

#include "core/allocator.h"
#include "core/backend.h"

namespace tangent {

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

int64_t Tensor::size(int64_t dim) const { return shape()[wrap_dim(dim, this->dim(), "size")]; }
int64_t Tensor::stride(int64_t dim) const { return strides()[wrap_dim(dim, this->dim(), "stride")]; }

namespace {

// TensorImpl built in one pass: its aggregate initialiser copies the shapes straight into place (allocate_shared
// of a plain TensorImpl would value-initialise, i.e. zero all ~300 bytes, before we overwrite them).
// The order of the initialisers follows the fields of TensorImpl (core/tensor.h).
struct FilledImpl final : TensorImpl {
  FilledImpl(Storage s, const Shape& shape_, const Shape& strides_, int64_t offset_, DType dtype_)
      : TensorImpl{std::move(s), shape_, strides_, offset_, shape_.numel(), dtype_,
                   false,        false,  false,    nullptr, nullptr} {}
  // Contiguous: the strides start as a copy of the shape and are overwritten in place.
  FilledImpl(Storage s, const Shape& shape_, DType dtype_)
      : TensorImpl{std::move(s), shape_, shape_, 0, 0, dtype_, false, false, false, nullptr, nullptr} {
    int64_t acc = 1;
    for (size_t i = shape_.size(); i-- > 0;) {
      strides[i] = acc;
      acc *= shape_[i] > 1 ? shape_[i] : 1;
    }
    numel = shape_.numel();
  }
};

}  // namespace

Tensor make_tensor(Storage storage, const Shape& shape, const Shape& strides, int64_t offset, DType dtype) {
  return Tensor(
      std::allocate_shared<FilledImpl>(HostAllocator<FilledImpl>(), std::move(storage), shape, strides, offset, dtype));
}

Tensor alias_with(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  return make_tensor(base.storage(), shape, strides, offset, base.dtype());
}

Tensor empty(const Shape& shape, TensorOptions options) {
  for (size_t i = 0; i < shape.size(); ++i)
    TANGENT_CHECK(shape[i] >= 0, "empty: negative dimension ", shape[i], " in shape ", shape);
  const int64_t bytes = layout_bytes(shape, element_size(options.dtype_));
  TANGENT_CHECK(bytes >= 0, "empty: the shape ", shape, " of dtype ", options.dtype_,
                " is too large (its size in bytes overflows int64)");
  const auto nbytes = static_cast<size_t>(bytes);
  Storage storage = options.device_.is_cpu() ? allocate_cpu_storage(nbytes)
                                             : backend(options.device_.type).allocate(nbytes, options.device_);
  Tensor t(std::allocate_shared<FilledImpl>(HostAllocator<FilledImpl>(), std::move(storage), shape, options.dtype_));
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TANGENT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace tangent
