// View ops: results share storage with their input (is_view), and their backward maps the gradient back.
#include "autograd/forward_ad.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  Tensor v = alias_with(x, shape, strides, offset);
  v.impl()->is_view = true;
  return v;
}

// Infers a -1 entry of `shape` from numel; `op` names the caller.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TANGENT_CHECK(infer < 0, op, ": only one dimension can be inferred in shape ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      TANGENT_CHECK(out[i] >= 0, op, ": invalid dimension ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    TANGENT_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape, " is invalid for an input of shape ", from,
                  " (", numel, " elements)");
    out[static_cast<size_t>(infer)] = numel / known;
  }
  TANGENT_CHECK(out.numel() == numel, op, ": shape ", shape, " is invalid for an input of shape ", from, " (", numel,
                " elements)");
  return out;
}

// Strides for viewing (shape, strides) as new_shape without copying, if possible (PyTorch's computeStride).
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape* out) {
  const int64_t numel = shape.numel();
  Shape result(new_shape.size(), 0);
  if (numel == 0 || shape.empty()) {
    *out = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[static_cast<size_t>(d)];
    if (d == 0 || (shape[static_cast<size_t>(d - 1)] != 1 &&
                   strides[static_cast<size_t>(d - 1)] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[static_cast<size_t>(view_d)] == 1)) {
        result[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= new_shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[static_cast<size_t>(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return false;
  *out = result;
  return true;
}

void record_reshape_like(const char* name, const Tensor& x, const Tensor& out) {
  autograd::forward::rule(name, out, {x}, [&](const std::vector<Tensor>& t) { return reshape(t[0], out.shape()); });
  if (!autograd::needs_grad(x)) return;
  const Shape in_shape = x.shape();
  autograd::record(name, out, {x}, {}, [in_shape](const Tensor& g, autograd::Context&) {
    return std::vector<Tensor>{reshape(g, in_shape)};
  });
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "view");
  const Shape s = infer_shape(shape, x.numel(), "view", x.shape());
  Shape st;
  TANGENT_CHECK(view_strides(x.shape(), x.strides(), s, &st), "view: a tensor of shape ", x.shape(), " and strides ",
                x.strides(), " cannot be viewed as ", s, " without a copy; use reshape()");
  Tensor out = make_view(x, s, st, x.storage_offset());
  record_reshape_like("view", x, out);
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "reshape");
  const Shape s = infer_shape(shape, x.numel(), "reshape", x.shape());
  if (s == x.shape()) return x;
  Shape st;
  if (view_strides(x.shape(), x.strides(), s, &st)) {
    Tensor out = make_view(x, s, st, x.storage_offset());
    record_reshape_like("reshape", x, out);
    return out;
  }
  return view(contiguous(x), s);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  detail::check_defined(x, "permute");
  const int64_t n = x.dim();
  TANGENT_CHECK(static_cast<int64_t>(dims.size()) == n, "permute: got ", dims.size(), " dims ", dims,
                " for a tensor of shape ", x.shape());
  Shape shape(dims.size(), 0), strides(dims.size(), 0), inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], n, "permute");
    TANGENT_CHECK(inverse[static_cast<size_t>(d)] < 0, "permute: dim ", d, " repeats in ", dims);
    inverse[static_cast<size_t>(d)] = static_cast<int64_t>(i);
    shape[i] = x.shape()[static_cast<size_t>(d)];
    strides[i] = x.strides()[static_cast<size_t>(d)];
  }
  Tensor out = make_view(x, shape, strides, x.storage_offset());
  autograd::forward::rule("permute", out, {x}, [&](const std::vector<Tensor>& t) { return permute(t[0], dims); });
  if (autograd::needs_grad(x)) {
    autograd::record("permute", out, {x}, {}, [inverse](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{permute(g, inverse)};
    });
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  detail::check_defined(x, "transpose");
  const int64_t n = x.dim();
  if (n == 0) return x;
  const int64_t a = wrap_dim(dim0, n, "transpose"), b = wrap_dim(dim1, n, "transpose");
  Shape dims(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) dims[static_cast<size_t>(i)] = i;
  std::swap(dims[static_cast<size_t>(a)], dims[static_cast<size_t>(b)]);
  return permute(x, dims);
}

Tensor squeeze(const Tensor& x) {
  detail::check_defined(x, "squeeze");
  Shape shape;
  for (int64_t s : x.shape())
    if (s != 1) shape.push_back(s);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  detail::check_defined(x, "squeeze");
  if (x.dim() == 0) return x;
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[static_cast<size_t>(d)] != 1) return x;
  Shape shape = x.shape();
  shape.erase(static_cast<size_t>(d));
  return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  detail::check_defined(x, "unsqueeze");
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(static_cast<size_t>(d), 1);
  return reshape(x, shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "expand");
  TANGENT_CHECK(shape.size() >= x.shape().size(), "expand: cannot expand shape ", x.shape(), " to ", shape,
                " (fewer dims)");
  Shape target = shape;
  const size_t lead = shape.size() - x.shape().size();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TANGENT_CHECK(i >= lead, "expand: -1 is not allowed for the new leading dim ", i, " in ", shape);
      target[i] = x.shape()[i - lead];
    }
    if (i >= lead) {
      const int64_t s = x.shape()[i - lead];
      TANGENT_CHECK(s == target[i] || s == 1, "expand: the size ", s, " of dim ", i - lead, " of shape ", x.shape(),
                    " cannot be expanded to ", target[i], " (target ", shape, ")");
    }
  }
  if (target == x.shape()) return x;
  Tensor out = detail::expand_raw(x, target);
  autograd::forward::rule("expand", out, {x}, [&](const std::vector<Tensor>& t) { return expand(t[0], target); });
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("expand", out, {x}, {}, [in_shape](const Tensor& g, autograd::Context&) {
      return std::vector<Tensor>{sum_to(g, in_shape)};
    });
  }
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  detail::check_defined(x, "slice");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  TANGENT_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  auto clampi = [size](int64_t v) { return std::max<int64_t>(0, std::min(v < 0 ? v + size : v, size)); };
  const int64_t s = clampi(start), e = std::max(clampi(end), clampi(start));
  Shape shape = x.shape(), strides = x.strides();
  shape[static_cast<size_t>(d)] = (e - s + step - 1) / step;
  strides[static_cast<size_t>(d)] *= step;
  Tensor out = make_view(x, shape, strides, x.storage_offset() + s * x.strides()[static_cast<size_t>(d)]);
  autograd::forward::rule("slice", out, {x}, [&](const std::vector<Tensor>& t) { return slice(t[0], d, s, e, step); });
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("slice", out, {x}, {}, [in_shape, d, s, step](const Tensor& g, autograd::Context&) {
      // Scatter g back into zeros. Without a graph to build, a strided copy into the slice of the zeros (the
      // generic index scatter is several times slower, e.g. under rotary embeddings' narrow); with create_graph,
      // index_add along d at positions s, s+step, ... (differentiable).
      if (!autograd::needs_grad(g)) {
        const Tensor gi = zeros(in_shape, g.options());
        gi.slice(d, s, s + g.shape()[static_cast<size_t>(d)] * step, step).copy_(g);
        return std::vector<Tensor>{gi};
      }
      const Tensor idx =
          arange(s, s + g.shape()[static_cast<size_t>(d)] * step, step, TensorOptions(kInt64).device(g.device()));
      return std::vector<Tensor>{index_add(zeros(in_shape, g.options()), d, idx, g)};
    });
  }
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  detail::check_defined(x, "narrow");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  const int64_t s = start < 0 ? start + size : start;
  TANGENT_CHECK(s >= 0 && length >= 0 && s + length <= size, "narrow: start ", start, " and length ", length,
                " are out of range for dim ", d, " of size ", size, " (shape ", x.shape(), ")");
  return slice(x, d, s, s + length);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  detail::check_defined(x, "select");
  TANGENT_CHECK(x.dim() > 0, "select: cannot select from a 0-dim tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  TANGENT_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ", d, " of size ",
                size, " (shape ", x.shape(), ")");
  const int64_t i = index < 0 ? index + size : index;
  return squeeze(narrow(x, d, i, 1), d);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  detail::check_defined(x, "flatten");
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  TANGENT_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= x.shape()[static_cast<size_t>(i)];
  shape.push_back(m);
  for (int64_t i = e + 1; i < x.dim(); ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  return reshape(x, shape);
}

Tensor clone(const Tensor& x) {
  detail::check_defined(x, "clone");
  Tensor out = empty(x.shape(), x.options());
  backend_for(x).copy(x, out);
  autograd::forward::rule("clone", out, {x}, [](const std::vector<Tensor>& t) { return clone(t[0]); });
  if (autograd::needs_grad(x)) {
    autograd::record("clone", out, {x}, {}, [](const Tensor& g, autograd::Context&) { return std::vector<Tensor>{g}; });
  }
  return out;
}

Tensor contiguous(const Tensor& x) {
  detail::check_defined(x, "contiguous");
  return x.is_contiguous() ? x : clone(x);
}

// ---- Tensor's view methods ----
Tensor Tensor::view(const Shape& s) const { return tangent::view(*this, s); }
Tensor Tensor::reshape(const Shape& s) const { return tangent::reshape(*this, s); }
Tensor Tensor::permute(const Shape& d) const { return tangent::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return tangent::transpose(*this, a, b); }
Tensor Tensor::t() const {
  TANGENT_CHECK(dim() <= 2, "t: expects a tensor with at most 2 dims, got shape ", shape());
  return dim() < 2 ? *this : tangent::transpose(*this, 0, 1);
}
Tensor Tensor::squeeze() const { return tangent::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return tangent::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return tangent::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return tangent::expand(*this, s); }
Tensor Tensor::expand_as(const Tensor& o) const { return tangent::expand(*this, o.shape()); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return tangent::narrow(*this, d, s, l); }
Tensor Tensor::slice(int64_t d, int64_t s, int64_t e, int64_t st) const { return tangent::slice(*this, d, s, e, st); }
Tensor Tensor::select(int64_t d, int64_t i) const { return tangent::select(*this, d, i); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return tangent::flatten(*this, s, e); }
Tensor Tensor::clone() const { return tangent::clone(*this); }
Tensor Tensor::contiguous() const { return tangent::contiguous(*this); }

}  // namespace tangent
