// Tensor creation: fills, ranges, random draws and host data.
#include "ops/factory.h"

#include <cmath>
#include <cstring>

#include "ops/internal.h"

namespace tangent {

namespace {
Tensor filled(const Shape& shape, const Scalar& value, TensorOptions options) {
  const bool rg = options.requires_grad_;
  Tensor t = empty(shape, options.requires_grad(false));
  backend(options.device_.type).fill(t, value);
  if (rg) t.requires_grad_(true);
  return t;
}

// Copies a contiguous host tensor to the requested device (no-op on CPU).
Tensor to_device(const Tensor& host, TensorOptions options) {
  if (options.device_.is_cpu()) return host;
  Tensor out = empty(host.shape(), TensorOptions(host.dtype()).device(options.device_));
  backend(options.device_.type).copy(host, out);
  return out;
}
}  // namespace

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor zeros(const Shape& shape, TensorOptions options) { return filled(shape, 0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return filled(shape, 1, options); }
Tensor full(const Shape& shape, const Scalar& value, TensorOptions options) { return filled(shape, value, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, const Scalar& value) { return full(t.shape(), value, t.options()); }
Tensor scalar_tensor(const Scalar& value, TensorOptions options) { return filled({}, value, options); }
Tensor scalar_tensor(const Scalar& value) { return filled({}, value, TensorOptions(value.default_dtype())); }

Tensor arange(const Scalar& end) { return arange(0, end, 1); }

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step) {
  const bool integral = !start.is_floating_point() && !end.is_floating_point() && !step.is_floating_point();
  return arange(start, end, step, TensorOptions(integral ? kInt64 : kFloat32));
}

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options) {
  const double s = start.to_double(), e = end.to_double(), st = step.to_double();
  TANGENT_CHECK(st != 0.0, "arange: step must be non-zero");
  TANGENT_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange: the range [", start, ", ", end,
                ") cannot be walked with step ", step);
  const int64_t n = static_cast<int64_t>(std::ceil((e - s) / st));
  Tensor host = empty({n}, TensorOptions(options.dtype_));
  TANGENT_DISPATCH_ALL(options.dtype_, "arange", [&](auto tag) {
    using T = decltype(tag);
    T* p = host.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, int64_t>) {
        p[i] = start.to_int() + i * step.to_int();
      } else if constexpr (std::is_same_v<T, bool>) {
        p[i] = (s + static_cast<double>(i) * st) != 0.0;
      } else {
        p[i] = T(static_cast<acc_t<T>>(s + static_cast<double>(i) * st));
      }
    }
  });
  Tensor out = to_device(host, options);
  if (options.requires_grad_) out.requires_grad_(true);
  return out;
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  TANGENT_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  Tensor host = empty({steps}, kFloat64);
  double* p = host.data_ptr<double>();
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Fill symmetrically from both ends so the last value is exactly `end`.
  for (int64_t i = 0; i < steps; ++i)
    p[i] =
        i < (steps + 1) / 2 ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
  Tensor out = to_device(detail::cast_raw(host, options.dtype_), options);
  if (options.requires_grad_) out.requires_grad_(true);
  return out;
}

Tensor eye(int64_t n, TensorOptions options) { return eye(n, n, options); }

Tensor eye(int64_t n, int64_t m, TensorOptions options) {
  TANGENT_CHECK(n >= 0 && m >= 0, "eye: sizes must be non-negative, got ", n, " x ", m);
  Tensor host = zeros({n, m}, TensorOptions(kFloat64));
  double* p = host.data_ptr<double>();
  for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = 1.0;
  Tensor out = to_device(detail::cast_raw(host, options.dtype_), options);
  if (options.requires_grad_) out.requires_grad_(true);
  return out;
}

namespace {
Tensor random_tensor(RandomKind kind, const Shape& shape, TensorOptions options, Generator* gen, double p0, double p1) {
  Generator& g = gen ? *gen : default_generator();
  const bool rg = options.requires_grad_;
  Tensor t = empty(shape, options.requires_grad(false));
  // One Philox counter per element (its 4 words give two 53-bit uniforms).
  const uint64_t counters = static_cast<uint64_t>(t.numel());
  backend(options.device_.type).random(kind, t, g.advance(counters), p0, p1);
  if (rg) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  return random_tensor(RandomKind::Uniform, shape, options, gen, 0.0, 1.0);
}
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  return random_tensor(RandomKind::Normal, shape, options, gen, 0.0, 1.0);
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  TANGENT_CHECK(low < high, "randint: expected low < high, got [", low, ", ", high, ")");
  return random_tensor(RandomKind::RandInt, shape, options, gen, static_cast<double>(low), static_cast<double>(high));
}
Tensor bernoulli(const Shape& shape, double p, TensorOptions options, Generator* gen) {
  TANGENT_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability must be in [0, 1], got ", p);
  return random_tensor(RandomKind::Bernoulli, shape, options, gen, p, 0.0);
}
Tensor bernoulli(const Tensor& probs, Generator* gen) {
  detail::check_defined(probs, "bernoulli");
  detail::check_floating(probs, "bernoulli");
  Tensor u = rand(probs.shape(), probs.options(), gen);
  Tensor mask = detail::new_empty(probs.shape(), kBool, probs.device());
  backend_for(probs).binary(BinaryOp::Lt, u, probs, mask);
  Tensor out = empty(probs.shape(), probs.options());
  backend_for(probs).copy(mask, out);
  return out;
}
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), t.options(), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), t.options(), gen); }

Tensor from_data(const void* data, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.numel() > 0) std::memcpy(t.raw_data(), data, static_cast<size_t>(t.numel()) * element_size(dtype));
  return t;
}

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  TANGENT_CHECK(s.numel() == static_cast<int64_t>(values.size()), "tensor: ", values.size(),
                " values do not fill shape ", s);
  Tensor host = empty(s, TensorOptions(dtype_of<T>::value));
  T* p = host.data_ptr<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  Tensor out = to_device(detail::cast_raw(host, options.dtype_), options);
  if (options.requires_grad_) out.requires_grad_(true);
  return out;
}
template Tensor tensor<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor tensor<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);

Tensor tensor(const std::vector<float>& v, const Shape& s, TensorOptions o) { return tensor<float>(v, s, o); }
Tensor tensor(const std::vector<double>& v, const Shape& s, TensorOptions o) { return tensor<double>(v, s, o); }
Tensor tensor(const std::vector<int64_t>& v, const Shape& s, TensorOptions o) { return tensor<int64_t>(v, s, o); }
Tensor tensor(const std::vector<bool>& values, const Shape& shape, TensorOptions options) {
  std::vector<int64_t> ints(values.begin(), values.end());
  return tensor<int64_t>(ints, shape, options);
}

Tensor from_blob(void* data, const Shape& shape, DType dtype) {
  return from_blob(data, shape, contiguous_strides(shape), dtype);
}

Tensor from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype) {
  TANGENT_CHECK(shape.size() == strides.size(), "from_blob: shape ", shape, " and strides ", strides,
                " differ in length");
  auto storage = std::make_shared<StorageImpl>(data, 0, Device(kCPU), nullptr, nullptr);
  return make_tensor(std::move(storage), shape, strides, 0, dtype);
}

template <typename T>
std::vector<T> to_vector(const Tensor& t) {
  detail::check_defined(t, "to_vector");
  Tensor host = empty(t.shape(), TensorOptions(dtype_of<T>::value));
  backend_for(t).copy(t, host);
  const T* p = host.data_ptr<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> to_vector<float>(const Tensor&);
template std::vector<double> to_vector<double>(const Tensor&);
template std::vector<int64_t> to_vector<int64_t>(const Tensor&);
template <>
std::vector<bool> to_vector<bool>(const Tensor& t) {
  std::vector<int64_t> v = to_vector<int64_t>(t);
  return std::vector<bool>(v.begin(), v.end());
}

}  // namespace tangent
