// Tensor's value and math methods: thin forwards to the functional API, plus item() and printing.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "autograd/forward_ad.h"
#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

Scalar Tensor::item() const {
  detail::check_defined(*this, "item");
  TANGENT_CHECK(numel() == 1, "item: only a tensor with one element can be converted to a Scalar, got shape ", shape());
  if (dtype() == kBool) return Scalar(to_vector<bool>(*this)[0]);
  if (dtype() == kInt64) return Scalar(to_vector<int64_t>(*this)[0]);
  return Scalar(to_vector<double>(*this)[0]);
}

Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }

Tensor Tensor::to(Device device) const {
  detail::check_defined(*this, "to");
  if (device == this->device()) return *this;
  Tensor out = empty(shape(), TensorOptions(dtype()).device(device));
  // The non-CPU side's backend does cross-device copies.
  (device.is_cpu() ? backend_for(*this) : backend(device.type)).copy(*this, out);
  autograd::forward::rule("to", out, {*this}, [device](const std::vector<Tensor>& t) { return t[0].to(device); });
  if (autograd::needs_grad(*this)) {
    const Device from = this->device();
    autograd::record("to", out, {*this}, {},
                     [from](const Tensor& g, autograd::Context&) { return std::vector<Tensor>{g.to(from)}; });
  }
  return out;
}

Tensor Tensor::sum() const { return tangent::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return tangent::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tangent::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return tangent::mean(*this, dims, keepdim); }
Tensor Tensor::pow(const Scalar& e) const { return tangent::pow(*this, e); }
Tensor Tensor::exp() const { return tangent::exp(*this); }
Tensor Tensor::log() const { return tangent::log(*this); }
Tensor Tensor::sqrt() const { return tangent::sqrt(*this); }
Tensor Tensor::abs() const { return tangent::abs(*this); }
Tensor Tensor::neg() const { return tangent::neg(*this); }
Tensor Tensor::relu() const { return tangent::relu(*this); }
Tensor Tensor::sigmoid() const { return tangent::sigmoid(*this); }
Tensor Tensor::tanh() const { return tangent::tanh(*this); }
Tensor Tensor::matmul(const Tensor& o) const { return tangent::matmul(*this, o); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return tangent::argmax(*this, dim, keepdim); }

// ---- printing, in PyTorch's style: tensor([[1.0000, 2.0000], ...], dtype=float64) ----
namespace {

void print_values(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t dim, int64_t offset,
                  int indent, bool integral, int precision, bool sci) {
  const int64_t n = shape[dim];
  int64_t inner = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  constexpr int64_t kEdge = 3;  // summarise long dims as "first 3, ..., last 3"
  const bool summarise = n > 2 * kEdge + 1 && static_cast<int64_t>(v.size()) > 1000;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && i == kEdge) {
      os << "...";
      i = n - kEdge - 1;
      os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      continue;
    }
    if (dim + 1 == shape.size()) {
      const double x = v[static_cast<size_t>(offset + i)];
      if (integral) {
        os << static_cast<int64_t>(x);
      } else if (std::isnan(x) || std::isinf(x)) {
        os << x;
      } else if (sci) {
        os << std::scientific << std::setprecision(precision) << x << std::defaultfloat;
      } else {
        os << std::fixed << std::setprecision(precision) << x << std::defaultfloat;
      }
    } else {
      print_values(os, v, shape, dim + 1, offset + i * inner, indent + 1, integral, precision, sci);
    }
    if (i + 1 < n) {
      if (dim + 1 == shape.size()) {
        os << ", ";
      } else {
        os << ',' << std::string(shape.size() - dim - 1, '\n') << std::string(static_cast<size_t>(indent + 1), ' ');
      }
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::vector<double> v = to_vector<double>(t);
  const bool integral = !t.is_floating_point();
  double maxabs = 0.0;
  for (double x : v)
    if (std::isfinite(x)) maxabs = std::max(maxabs, std::abs(x));
  const bool sci = !integral && (maxabs >= 1e8 || (maxabs > 0 && maxabs < 1e-4));
  os << "tensor(";
  if (t.dim() == 0) {
    std::ostringstream one;
    print_values(one, v, Shape{1}, 0, 0, 7, integral, 4, sci);
    const std::string s = one.str();
    os << s.substr(1, s.size() - 2);  // a scalar prints without brackets: tensor(1.0000)
  } else {
    print_values(os, v, t.shape(), 0, 0, 7, integral, 4, sci);
  }
  if (t.dtype() == kBool) {
    // printed as 0/1 above; bool tensors are rare to print and the dtype tag says what they are
  }
  if (t.dtype() != kFloat32 && t.dtype() != kInt64) os << ", dtype=" << t.dtype();
  if (!t.device().is_cpu()) os << ", device='" << t.device() << "'";
  if (t.grad_fn())
    os << ", grad_fn=<" << t.grad_fn()->name() << ">";
  else if (t.requires_grad())
    os << ", requires_grad=true";
  return os << ')';
}

}  // namespace tangent
