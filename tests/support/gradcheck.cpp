// Numerical gradient checks: full analytic Jacobians (autograd, one backward per output element) against float64
// central differences, first and second order; plus helpers to compare tensors and make non-contiguous copies.
#include "support/gradcheck.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace tangent::testing {

namespace {

std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t s = std::max<int64_t>(shape[d], 1);
    idx[d] = flat % s;
    flat /= s;
  }
  std::ostringstream os;
  os << '[';
  for (size_t d = 0; d < idx.size(); ++d) os << (d ? ", " : "") << idx[d];
  return os.str() + ']';
}

// Storage offsets (in elements) of t's elements in row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(t.numel()));
  const Shape& shape = t.shape();
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t off = t.storage_offset();
    for (size_t d = 0; d < shape.size(); ++d) off += idx[d] * t.strides()[d];
    out.push_back(off);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// A fresh float64 leaf with t's values: non-contiguous when t is (without overlapping elements), else contiguous.
Tensor fresh_leaf(const Tensor& t) {
  NoGradGuard guard;
  bool overlap = false;
  for (size_t d = 0; d < t.shape().size(); ++d) overlap = overlap || (t.shape()[d] > 1 && t.strides()[d] == 0);
  Tensor c;
  if (!t.is_contiguous() && !overlap) {
    c = make_noncontiguous(t.detach());
  } else {
    c = empty(t.shape(), t.options());
    c.copy_(t.detach());
  }
  c.requires_grad_(true);
  return c;
}

std::vector<double> values_of(const Tensor& t) { return t.defined() ? to_vector<double>(t) : std::vector<double>(); }

bool close(double a, double n, double atol, double rtol) {
  if (std::isnan(a) || std::isnan(n)) return false;
  return std::abs(a - n) <= atol + rtol * std::abs(n);
}

// The shared engine of gradcheck / gradgradcheck. `numeric_with_grad`: evaluate fn with grad mode on during the
// finite differences (needed when fn itself calls autograd::grad).
::testing::AssertionResult check_jacobian(const MultiFn& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                                          double rtol, const std::string& name, bool numeric_with_grad,
                                          const char* what) {
  // 1. Leaves: perturbable float64 copies of the inputs that require grad.
  std::vector<Tensor> leaves = inputs;
  std::vector<size_t> wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    if (x.dtype() != kFloat64)
      return ::testing::AssertionFailure() << what << "(" << name << "): input " << i << " requires grad but has dtype "
                                           << x.dtype() << "; gradcheck needs float64 inputs";
    leaves[i] = fresh_leaf(x);
    wrt.push_back(i);
  }
  if (wrt.empty()) return ::testing::AssertionFailure() << what << "(" << name << "): no input requires grad";

  // 2. The unperturbed outputs (with history, for the analytic Jacobian).
  std::vector<Tensor> outs;
  try {
    outs = fn(leaves);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << what << "(" << name << "): the function threw: " << e.what();
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    if (outs[k].defined() && !outs[k].is_floating_point())
      return ::testing::AssertionFailure()
             << what << "(" << name << "): output " << k << " has non-floating dtype " << outs[k].dtype();
  }

  auto evaluate = [&]() {
    std::vector<std::vector<double>> vals;
    std::vector<Tensor> r;
    if (numeric_with_grad) {
      r = fn(leaves);
    } else {
      NoGradGuard guard;
      r = fn(leaves);
    }
    for (const auto& t : r) vals.push_back(values_of(t));
    return vals;
  };

  try {
    for (size_t i : wrt) {
      const Tensor& leaf = leaves[i];
      const std::vector<int64_t> offsets = element_offsets(leaf);
      double* base = static_cast<double*>(leaf.storage()->data());
      // numeric[k][j * n_in + e]
      const int64_t n_in = leaf.numel();
      std::vector<std::vector<double>> numeric(outs.size());
      for (size_t k = 0; k < outs.size(); ++k)
        numeric[k].assign(static_cast<size_t>((outs[k].defined() ? outs[k].numel() : 0) * n_in), 0.0);
      for (int64_t e = 0; e < n_in; ++e) {
        double& slot = base[offsets[static_cast<size_t>(e)]];
        const double orig = slot;
        slot = orig + eps;
        const auto plus = evaluate();
        slot = orig - eps;
        const auto minus = evaluate();
        slot = orig;
        for (size_t k = 0; k < outs.size(); ++k) {
          const size_t m = numeric[k].size() / static_cast<size_t>(std::max<int64_t>(n_in, 1));
          if (m == 0) continue;
          const bool has_p = plus[k].size() == m, has_m = minus[k].size() == m;
          for (size_t j = 0; j < m; ++j) {
            const double p = has_p ? plus[k][j] : 0.0, q = has_m ? minus[k][j] : 0.0;
            numeric[k][j * static_cast<size_t>(n_in) + static_cast<size_t>(e)] = (p - q) / (2.0 * eps);
          }
        }
      }

      // 3. Analytic Jacobian rows, one backward per output element, compared as they come.
      for (size_t k = 0; k < outs.size(); ++k) {
        const Tensor& out = outs[k];
        if (!out.defined()) continue;
        const int64_t m = out.numel();
        for (int64_t j = 0; j < m; ++j) {
          std::vector<double> row(static_cast<size_t>(n_in), 0.0);
          if (out.requires_grad()) {
            std::vector<double> hot(static_cast<size_t>(m), 0.0);
            hot[static_cast<size_t>(j)] = 1.0;
            const Tensor seed = tensor(hot, Shape{m}, TensorOptions(out.dtype())).reshape(out.shape());
            const std::vector<Tensor> g =
                autograd::grad({out}, {leaf}, {seed}, /*retain_graph=*/true, /*create_graph=*/false,
                               /*allow_unused=*/true);
            if (g[0].defined()) {
              if (g[0].shape() != leaf.shape() || g[0].dtype() != leaf.dtype())
                return ::testing::AssertionFailure()
                       << what << "(" << name << "): the gradient w.r.t. input " << i << " has shape " << g[0].shape()
                       << " and dtype " << g[0].dtype() << ", expected " << leaf.shape() << " and " << leaf.dtype();
              row = to_vector<double>(g[0]);
            }
          }
          for (int64_t e = 0; e < n_in; ++e) {
            const double a = row[static_cast<size_t>(e)];
            const double n = numeric[k][static_cast<size_t>(j * n_in + e)];
            if (!close(a, n, atol, rtol)) {
              auto r = ::testing::AssertionFailure();
              r << what << "(" << name << "): Jacobian mismatch for output " << k << " (shape " << out.shape()
                << ") element " << index_str(j, out.shape()) << " w.r.t. input " << i << " (shape " << leaf.shape()
                << ") element " << index_str(e, leaf.shape()) << ": analytic " << a << ", numerical " << n << " (atol "
                << atol << ", rtol " << rtol << ")";
              if (!out.requires_grad()) r << " [the output does not require grad]";
              return r;
            }
          }
        }
      }
    }
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << what << "(" << name << "): threw: " << e.what();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult gradcheck_multi(const MultiFn& fn, const std::vector<Tensor>& inputs, double eps,
                                           double atol, double rtol, const std::string& name) {
  return check_jacobian(fn, inputs, eps, atol, rtol, name, /*numeric_with_grad=*/false, "gradcheck");
}

::testing::AssertionResult gradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                                     double rtol, const std::string& name) {
  MultiFn multi = [&fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x)}; };
  return check_jacobian(multi, inputs, eps, atol, rtol, name, false, "gradcheck");
}

::testing::AssertionResult gradgradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                                         double rtol, const std::string& name) {
  // The output's shape and dtype fix v (drawn from a private generator: the global stream is left alone).
  Tensor probe;
  try {
    NoGradGuard guard;
    probe = fn(inputs);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "gradgradcheck(" << name << "): the function threw: " << e.what();
  }
  Generator gen(20240607);
  const Tensor v = randn(probe.shape(), TensorOptions(kFloat64), &gen).to(probe.dtype());
  MultiFn first_order = [&fn, v](const std::vector<Tensor>& x) {
    std::vector<Tensor> wrt;
    for (const auto& t : x)
      if (t.defined() && t.requires_grad()) wrt.push_back(t);
    const Tensor out = fn(x);
    if (!out.requires_grad()) return std::vector<Tensor>(wrt.size());
    return autograd::grad({out}, wrt, {v}, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true);
  };
  return check_jacobian(first_order, inputs, eps, atol, rtol, name, /*numeric_with_grad=*/true, "gradgradcheck");
}

Tensor make_noncontiguous(const Tensor& t) {
  NoGradGuard guard;
  const Tensor src = t.detach();
  if (t.numel() <= 1) {
    Tensor c = empty(t.shape(), t.options());
    c.copy_(src);
    if (t.is_floating_point() && t.requires_grad()) c.requires_grad_(true);
    return c;
  }
  Tensor buffer = empty({2 * t.numel() + 1}, t.options());
  if (t.is_floating_point()) {
    buffer.fill_(std::numeric_limits<double>::quiet_NaN());
  } else if (t.dtype() == kInt64) {
    buffer.fill_(static_cast<int64_t>(-777777));
  } else {
    buffer.fill_(true);
  }
  Shape strides = contiguous_strides(t.shape());
  for (auto& s : strides) s *= 2;
  Tensor out = make_tensor(buffer.storage(), t.shape(), strides, 1, t.dtype());
  out.copy_(src);
  if (t.is_floating_point() && t.requires_grad()) out.requires_grad_(true);
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  TANGENT_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes ", a.shape(), " and ", b.shape(), " differ");
  const std::vector<double> x = to_vector<double>(a), y = to_vector<double>(b);
  double m = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (std::isnan(x[i]) || std::isnan(y[i])) return std::numeric_limits<double>::infinity();
    if (x[i] == y[i]) continue;  // also equal infinities
    m = std::max(m, std::abs(x[i] - y[i]));
  }
  return m;
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (!actual.defined() || !expected.defined()) return ::testing::AssertionFailure() << "all_close: undefined tensor";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "all_close: shapes differ: " << actual.shape() << " vs "
                                         << expected.shape();
  const std::vector<double> x = to_vector<double>(actual), y = to_vector<double>(expected);
  for (size_t i = 0; i < x.size(); ++i) {
    const bool both_nan = std::isnan(x[i]) && std::isnan(y[i]);
    const bool ok = both_nan || x[i] == y[i] || std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]);
    if (!ok)
      return ::testing::AssertionFailure()
             << "all_close: element " << index_str(static_cast<int64_t>(i), actual.shape()) << " is " << x[i]
             << ", expected " << y[i] << " (diff " << std::abs(x[i] - y[i]) << ", atol " << atol << ", rtol " << rtol
             << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tangent::testing
