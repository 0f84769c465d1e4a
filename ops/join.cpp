// Joining, splitting and indexing ops: cat, stack, split, split_with_sizes, chunk (views), index_select,
// index_add, gather, scatter_add, one_hot; each with its backward. The data movement is done by the backend
// (copy into narrow() views of the output for cat; the indexing primitives for the rest).
#include <string>

#include "autograd/forward_ad.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

void check_index_dtype(const Tensor& index, const char* op) {
  TANGENT_CHECK(index.dtype() == kInt64, op, ": index must be an int64 tensor, got dtype ", index.dtype(), " (shape ",
                index.shape(), ")");
}

// Raises when an element of `index` is outside [0, size); `dim` and `shape` describe the indexed tensor.
void check_index_bounds(const Tensor& index, int64_t size, const char* op, int64_t dim, const Shape& shape) {
  if (index.numel() == 0) return;
  std::vector<int64_t> host;
  const int64_t* p = nullptr;
  if (index.device().is_cpu() && index.is_contiguous()) {
    p = index.data_ptr<int64_t>();
  } else {
    host = to_vector<int64_t>(index);
    p = host.data();
  }
  for (int64_t i = 0; i < index.numel(); ++i) {
    TANGENT_CHECK(p[i] >= 0 && p[i] < size, op, ": index ", p[i], " is out of bounds for dim ", dim, " with size ",
                  size, " (input shape ", shape, ")");
  }
}

// The common checks of the indexing ops: defined, same device, int64 index, at least 1-D input.
int64_t check_indexing(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
  detail::check_defined(x, op);
  detail::check_defined(index, op, "index");
  detail::check_same_device(x, index, op);
  check_index_dtype(index, op);
  TANGENT_CHECK(x.dim() > 0, op, ": expects an input with at least one dimension, got shape ", x.shape());
  return wrap_dim(dim, x.dim(), op);
}

// A contiguous copy of x in `dtype` that no autograd history points at (the output of an out-of-place update).
Tensor fresh_copy(const Tensor& x, DType dtype) {
  Tensor out = detail::new_empty(x.shape(), dtype, x.device());
  backend_for(x).copy(x, out);
  return out;
}

}  // namespace

// ---- joining ----

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  TANGENT_CHECK(!tensors.empty(), "cat: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    TANGENT_CHECK(tensors[i].defined(), "cat: tensor ", i, " is an undefined tensor");
    detail::check_same_device(tensors[0], tensors[i], "cat");
  }
  const Tensor& first = tensors[0];
  TANGENT_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated (tensor 0 has shape ",
                first.shape(), ")");
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  const size_t du = static_cast<size_t>(d);
  Shape shape = first.shape();
  shape[du] = 0;
  DType dtype = first.dtype();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool ok = t.dim() == first.dim();
    for (size_t k = 0; ok && k < shape.size(); ++k) ok = k == du || t.shape()[k] == first.shape()[k];
    TANGENT_CHECK(ok, "cat: tensor ", i, " has shape ", t.shape(), " but tensor 0 has shape ", first.shape(),
                  "; all sizes must match except in the concatenation dim ", d);
    shape[du] += t.shape()[du];
    dtype = promote_types(dtype, t.dtype());
  }
  Tensor out = detail::new_empty(shape, dtype, first.device());
  std::vector<int64_t> sizes;
  sizes.reserve(tensors.size());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t n = t.shape()[du];
    if (n > 0) backend_for(out).copy(t, narrow(out, d, offset, n));
    sizes.push_back(n);
    offset += n;
  }
  autograd::forward::rule_n("cat", out, tensors, [&](const std::vector<Tensor>& t) {
    std::vector<Tensor> parts(t.size());
    for (size_t i = 0; i < t.size(); ++i) parts[i] = t[i].defined() ? t[i] : zeros_like(tensors[i]);
    return cat(parts, d);
  });
  if (autograd::needs_grad(tensors)) {
    autograd::record_n("cat", out, tensors, [d, sizes](const Tensor& g, autograd::Context& ctx) {
      std::vector<Tensor> grads(sizes.size());
      int64_t off = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (ctx.needs_grad(i)) grads[i] = narrow(g, d, off, sizes[i]);
        off += sizes[i];
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  TANGENT_CHECK(!tensors.empty(), "stack: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    TANGENT_CHECK(tensors[i].defined(), "stack: tensor ", i, " is an undefined tensor");
    TANGENT_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: tensor ", i, " has shape ", tensors[i].shape(),
                  " but tensor 0 has shape ", tensors[0].shape(), "; all tensors must have the same shape");
  }
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, d));
  return cat(parts, d);
}

// ---- splitting (views) ----

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  detail::check_defined(x, "split");
  TANGENT_CHECK(x.dim() > 0, "split: cannot split a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  TANGENT_CHECK(split_size > 0 || (split_size == 0 && size == 0), "split: split_size must be positive, got ",
                split_size, " for dim ", d, " of shape ", x.shape());
  std::vector<Tensor> pieces;
  if (size == 0) {
    pieces.push_back(narrow(x, d, 0, 0));
    return pieces;
  }
  for (int64_t start = 0; start < size; start += split_size)
    pieces.push_back(narrow(x, d, start, std::min(split_size, size - start)));
  return pieces;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  detail::check_defined(x, "split_with_sizes");
  TANGENT_CHECK(x.dim() > 0, "split_with_sizes: cannot split a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split_with_sizes");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  int64_t total = 0;
  for (int64_t s : sizes) {
    TANGENT_CHECK(s >= 0, "split_with_sizes: sizes ", Shape(sizes), " contain a negative size");
    total += s;
  }
  TANGENT_CHECK(total == size, "split_with_sizes: sizes ", Shape(sizes), " sum to ", total, " but dim ", d,
                " of shape ", x.shape(), " has size ", size);
  std::vector<Tensor> pieces;
  pieces.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(narrow(x, d, start, s));
    start += s;
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  detail::check_defined(x, "chunk");
  TANGENT_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got ", chunks);
  TANGENT_CHECK(x.dim() > 0, "chunk: cannot chunk a zero-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "chunk");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  // As in PyTorch: pieces of ceil(size / chunks), so fewer than `chunks` pieces may come back.
  return split(x, size == 0 ? 0 : (size + chunks - 1) / chunks, d);
}

// ---- indexing ----

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = check_indexing(x, dim, index, "index_select");
  TANGENT_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got shape ", index.shape());
  check_index_bounds(index, x.shape()[static_cast<size_t>(d)], "index_select", d, x.shape());
  Shape shape = x.shape();
  shape[static_cast<size_t>(d)] = index.numel();
  Tensor out = detail::new_empty(shape, x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x).index_select(x, d, index, out);
  autograd::forward::rule("index_select", out, {x},
                          [&](const std::vector<Tensor>& t) { return index_select(t[0], d, index); });
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("index_select", out, {x}, {index}, [d, in_shape](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{index_add(zeros(in_shape, g.options()), d, ctx.saved(0), g)};
    });
  }
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source) {
  const int64_t d = check_indexing(x, dim, index, "index_add");
  detail::check_defined(source, "index_add", "source");
  detail::check_same_device(x, source, "index_add");
  TANGENT_CHECK(index.dim() <= 1, "index_add: index must be 0-D or 1-D, got shape ", index.shape());
  const size_t du = static_cast<size_t>(d);
  bool ok = source.dim() == x.dim() && source.shape()[du] == index.numel();
  for (size_t k = 0; ok && k < x.shape().size(); ++k) ok = k == du || source.shape()[k] == x.shape()[k];
  TANGENT_CHECK(ok, "index_add: source of shape ", source.shape(), " does not match input of shape ", x.shape(),
                " with ", index.numel(), " indices along dim ", d);
  check_index_bounds(index, x.shape()[du], "index_add", d, x.shape());
  const DType dtype = promote_types(x.dtype(), source.dtype());
  Tensor out = fresh_copy(x, dtype);
  if (source.numel() > 0) backend_for(x).index_add(out, d, index, detail::cast_raw(source, dtype));
  autograd::forward::rule("index_add", out, {x, source}, [&](const std::vector<Tensor>& t) {
    return index_add(t[0].defined() ? t[0] : zeros_like(out), d, index, t[1].defined() ? t[1] : zeros_like(source));
  });
  if (autograd::needs_grad(x, source)) {
    autograd::record("index_add", out, {x, source}, {index}, [d](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{ctx.needs_grad(0) ? g : Tensor(),
                                 ctx.needs_grad(1) ? index_select(g, d, ctx.saved(0)) : Tensor()};
    });
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = check_indexing(x, dim, index, "gather");
  const size_t du = static_cast<size_t>(d);
  bool ok = index.dim() == x.dim();
  for (size_t k = 0; ok && k < x.shape().size(); ++k) ok = k == du || index.shape()[k] <= x.shape()[k];
  TANGENT_CHECK(ok, "gather: index of shape ", index.shape(), " does not fit input of shape ", x.shape(),
                " along dims other than ", d, " (it must have the same number of dims and no larger sizes)");
  check_index_bounds(index, x.shape()[du], "gather", d, x.shape());
  Tensor out = detail::new_empty(index.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x).gather(x, d, index, out);
  autograd::forward::rule("gather", out, {x}, [&](const std::vector<Tensor>& t) { return gather(t[0], d, index); });
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("gather", out, {x}, {index}, [d, in_shape](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{scatter_add(zeros(in_shape, g.options()), d, ctx.saved(0), g)};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t d = check_indexing(x, dim, index, "scatter_add");
  detail::check_defined(src, "scatter_add", "src");
  detail::check_same_device(x, src, "scatter_add");
  const size_t du = static_cast<size_t>(d);
  bool ok = index.dim() == x.dim() && src.dim() == x.dim();
  for (size_t k = 0; ok && k < x.shape().size(); ++k)
    ok = index.shape()[k] <= src.shape()[k] && (k == du || index.shape()[k] <= x.shape()[k]);
  TANGENT_CHECK(ok, "scatter_add: index of shape ", index.shape(), " does not fit src of shape ", src.shape(),
                " and input of shape ", x.shape(), " (dim ", d, ")");
  check_index_bounds(index, x.shape()[du], "scatter_add", d, x.shape());
  // As in PyTorch, only the leading index-shaped block of src is used (a differentiable view of it).
  Tensor used = src;
  for (size_t k = 0; k < index.shape().size(); ++k)
    if (used.shape()[k] != index.shape()[k]) used = narrow(used, static_cast<int64_t>(k), 0, index.shape()[k]);
  const DType dtype = promote_types(x.dtype(), src.dtype());
  Tensor out = fresh_copy(x, dtype);
  if (index.numel() > 0) backend_for(x).scatter_add(out, d, index, detail::cast_raw(used, dtype));
  autograd::forward::rule("scatter_add", out, {x, used}, [&](const std::vector<Tensor>& t) {
    return scatter_add(t[0].defined() ? t[0] : zeros_like(out), d, index, t[1].defined() ? t[1] : zeros_like(used));
  });
  if (autograd::needs_grad(x, used)) {
    autograd::record("scatter_add", out, {x, used}, {index}, [d](const Tensor& g, autograd::Context& ctx) {
      return std::vector<Tensor>{ctx.needs_grad(0) ? g : Tensor(),
                                 ctx.needs_grad(1) ? gather(g, d, ctx.saved(0)) : Tensor()};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  detail::check_defined(indices, "one_hot");
  check_index_dtype(indices, "one_hot");
  TANGENT_CHECK(num_classes > 0 || num_classes == -1, "one_hot: num_classes must be positive or -1, got ", num_classes);
  const std::vector<int64_t> host = to_vector<int64_t>(indices);
  int64_t classes = num_classes;
  if (classes == -1) {  // one more than the largest class, as in PyTorch
    TANGENT_CHECK(!host.empty(), "one_hot: cannot infer num_classes from an empty tensor of shape ", indices.shape());
    classes = 0;
    for (int64_t v : host) classes = std::max(classes, v + 1);
  }
  for (int64_t v : host)
    TANGENT_CHECK(v >= 0 && v < classes, "one_hot: class ", v, " is out of range for num_classes ", classes,
                  " (indices of shape ", indices.shape(), ")");
  Shape shape = indices.shape();
  shape.push_back(classes);
  Tensor out = zeros(shape, TensorOptions(kInt64).device(indices.device()));
  if (indices.numel() == 0) return out;
  const Tensor index = unsqueeze(indices, -1);
  backend_for(out).scatter_add(out, out.dim() - 1, index, ones(index.shape(), out.options()));
  return out;
}

}  // namespace tangent
