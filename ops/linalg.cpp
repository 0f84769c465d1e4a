// Matrix products (matmul, mm, bmm, linear, addmm) with their backward. Every product ends in the backend's
// batched GEMM primitive [B,M,K] @ [B,K,N] (+ bias): operands are handed over as strided views (a transpose or a
// broadcast batch is never copied), leading dims are folded into M when the right operand is a plain matrix, and
// linear's bias is fused into the GEMM. Backward formulas are products themselves, so double backward works.
#include "ops/linalg.h"

#include "autograd/forward_ad.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/internal.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent {

namespace {

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  detail::check_defined(a, op);
  detail::check_defined(b, op);
  detail::check_same_device(a, b, op);
  TANGENT_CHECK(a.is_floating_point() && a.dtype() == b.dtype(), op,
                ": expected floating-point operands of the same dtype, got ", a.dtype(), " (shape ", a.shape(),
                ") and ", b.dtype(), " (shape ", b.shape(), ")");
}

// A history-free view of t with another geometry.
Tensor raw_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  Tensor v = alias_with(t, shape, strides, offset);
  v.impl()->is_view = true;
  return v;
}

// The row stride when dims [0, last) of t (all but the last) can be folded into one dim without a copy, or -1.
int64_t folded_row_stride(const Tensor& t) {
  const int64_t n = t.dim();
  int64_t stride = t.stride(n - 2), size = t.size(n - 2);
  for (int64_t d = n - 3; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (size != 1 && t.stride(d) != stride * size) return -1;
    if (size == 1) stride = t.stride(d);
    size *= t.size(d);
  }
  return size == 1 ? t.size(n - 1) : stride;
}

// a [..., M, K] @ b [..., K, N] (+ bias [N]) with NumPy batch broadcasting, both at least 2-D; no history.
Tensor matmul_raw(const Tensor& a, const Tensor& b, const Tensor* bias, const char* op) {
  const int64_t na = a.dim(), nb = b.dim();
  const int64_t M = a.size(na - 2), K = a.size(na - 1), N = b.size(nb - 1);
  TANGENT_CHECK(b.size(nb - 2) == K, op, ": shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", K,
                " != ", b.size(nb - 2), ")");
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = batch_a == batch_b ? batch_a : broadcast_shapes(batch_a, batch_b, op);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = detail::new_empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  Backend& be = backend_for(a);

  // b is one matrix for every batch: fold a's leading dims into the rows of a single GEMM.
  const int64_t rows = out.numel() / N;
  const bool b_plain = batch_b.numel() == 1;
  const int64_t rs = b_plain ? (batch_a == batch ? folded_row_stride(a) : -1) : -1;
  if (b_plain && (rs >= 0 || na == 2)) {
    const int64_t row_stride = na == 2 ? a.stride(0) : rs;
    be.matmul(raw_view(a, {1, rows, K}, {0, row_stride, a.stride(na - 1)}, a.storage_offset()),
              raw_view(b, {1, K, N}, {0, b.stride(nb - 2), b.stride(nb - 1)}, b.storage_offset()), bias,
              raw_view(out, {1, rows, N}, {rows * N, N, 1}, 0));
    return out;
  }

  // General case: broadcast both to the batch (stride 0), merge batch dims whose strides chain for both operands,
  // and loop over the rest (usually nothing is left to loop over).
  Shape full_a = batch, full_b = batch;
  full_a.push_back(M), full_a.push_back(K);
  full_b.push_back(K), full_b.push_back(N);
  const Tensor ea = detail::expand_raw(a, full_a), eb = detail::expand_raw(b, full_b);
  Shape sizes, sa, sb;  // the non-trivial batch dims
  for (size_t d = 0; d < batch.size(); ++d) {
    if (batch[d] == 1) continue;
    sizes.push_back(batch[d]);
    sa.push_back(ea.strides()[d]);
    sb.push_back(eb.strides()[d]);
  }
  int64_t inner = 1, ia = 0, ib = 0;  // the merged inner group: size, strides
  size_t outer_dims = sizes.size();
  if (!sizes.empty()) {
    inner = sizes.back(), ia = sa.back(), ib = sb.back();
    outer_dims = sizes.size() - 1;
    while (outer_dims > 0 && sa[outer_dims - 1] == ia * inner && sb[outer_dims - 1] == ib * inner) {
      inner *= sizes[outer_dims - 1];
      --outer_dims;
    }
  }
  const int64_t outer = out.numel() / (inner * M * N);
  Shape idx(outer_dims, 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off_a = ea.storage_offset(), off_b = eb.storage_offset();
    for (size_t d = 0; d < outer_dims; ++d) off_a += idx[d] * sa[d], off_b += idx[d] * sb[d];
    be.matmul(raw_view(ea, {inner, M, K}, {ia, ea.stride(-2), ea.stride(-1)}, off_a),
              raw_view(eb, {inner, K, N}, {ib, eb.stride(-2), eb.stride(-1)}, off_b), bias,
              raw_view(out, {inner, M, N}, {M * N, N, 1}, o * inner * M * N));
    for (size_t d = outer_dims; d-- > 0;) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

Tensor mT(const Tensor& t) { return transpose(t, -2, -1); }

// The differentiable product of two operands that are at least 2-D.
Tensor matmul_nd(const Tensor& a, const Tensor& b, const char* op) {
  Tensor out = matmul_raw(a, b, nullptr, op);
  autograd::forward::rule(op, out, {a, b}, [&](const std::vector<Tensor>& t) {
    return autograd::forward::sum(t[0].defined() ? matmul_nd(t[0], b, op) : Tensor(),
                                  t[1].defined() ? matmul_nd(a, t[1], op) : Tensor());
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record(op, out, {a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor a = ctx.saved(0), b = ctx.saved(1);
      Tensor ga, gb;
      if (ctx.needs_grad(0)) ga = matmul_nd(g, mT(b), "matmul_backward");  // reduced to a's shape by the engine
      if (ctx.needs_grad(1)) {
        if (b.dim() == 2 && a.dim() > 2) {  // one GEMM over all rows instead of a batch then a sum
          gb = matmul_nd(mT(reshape(a, {-1, a.size(-1)})), reshape(g, {-1, g.size(-1)}), "matmul_backward");
        } else {
          gb = matmul_nd(mT(a), g, "matmul_backward");
        }
      }
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  TANGENT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands must be at least 1-D, got shapes ", a.shape(),
                " and ", b.shape());
  if (a.dim() >= 2 && b.dim() >= 2) return matmul_nd(a, b, "matmul");
  TANGENT_CHECK(a.size(-1) == b.size(b.dim() == 1 ? 0 : -2), "matmul: shapes ", a.shape(), " and ", b.shape(),
                " cannot be multiplied (", a.size(-1), " != ", b.size(b.dim() == 1 ? 0 : -2), ")");
  // The dot product's [1, 1] result is summed to 0-dim (sum's backward expands; no reshape of a 0-dim gradient).
  if (a.dim() == 1 && b.dim() == 1) return sum(matmul_nd(unsqueeze(a, 0), unsqueeze(b, 1), "matmul"));
  if (a.dim() == 1) return squeeze(matmul_nd(unsqueeze(a, 0), b, "matmul"), -2);
  return squeeze(matmul_nd(a, unsqueeze(b, 1), "matmul"), -1);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "mm");
  TANGENT_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D operands, got shapes ", a.shape(), " and ", b.shape());
  return matmul_nd(a, b, "mm");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "bmm");
  TANGENT_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0), "bmm: expected 3-D operands with the same ",
                "batch size, got shapes ", a.shape(), " and ", b.shape());
  return matmul_nd(a, b, "bmm");
}

namespace {

// x [rows, K] @ b [K, N] + bias [N] as one GEMM with the bias fused; no history.
Tensor mm_bias_raw(const Tensor& x2, const Tensor& b, const Tensor& bias, const char* op) {
  if (bias.defined()) {
    detail::check_same_device(x2, bias, op);
    TANGENT_CHECK(bias.dtype() == x2.dtype() && bias.dim() == 1 && bias.size(0) == b.size(1), op, ": bias of shape ",
                  bias.shape(), " and dtype ", bias.dtype(), " does not match ", b.size(1), " outputs of dtype ",
                  x2.dtype());
  }
  return matmul_raw(x2, b, bias.defined() ? &bias : nullptr, op);
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_operands(x, weight, "linear");
  TANGENT_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1), "linear: input of shape ", x.shape(),
                " does not match weight of shape ", weight.shape(), " (expected [out, ", x.size(-1), "])");
  const int64_t in = weight.size(1), out_features = weight.size(0);
  // x as [rows, in] (a view when its leading dims fold, else a copy); weight^T as a strided view.
  Tensor x2;
  if (x.dim() == 2) {
    x2 = x;
  } else {
    const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
    const int64_t rs = x.dim() == 1 ? in : folded_row_stride(x);
    if (rs >= 0) {
      x2 = raw_view(x, {rows, in}, {rs, x.stride(-1)}, x.storage_offset());
    } else {
      Tensor c = detail::new_empty(x.shape(), x.dtype(), x.device());
      backend_for(x).copy(x, c);
      x2 = raw_view(c, {rows, in}, {in, 1}, 0);
    }
  }
  const Tensor wt = raw_view(weight, {in, out_features}, {weight.stride(1), weight.stride(0)}, weight.storage_offset());
  Tensor out2 = mm_bias_raw(x2, wt, bias, "linear");
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(out_features);
  Tensor out = out_shape == out2.shape() ? out2 : alias_with(out2, out_shape, contiguous_strides(out_shape), 0);
  autograd::forward::rule("linear", out, {x, weight, bias}, [&](const std::vector<Tensor>& t) {
    Tensor r = t[0].defined() ? linear(t[0], weight, Tensor()) : Tensor();
    if (t[1].defined()) r = autograd::forward::sum(r, linear(x, t[1], Tensor()));
    return autograd::forward::sum(r, t[2]);
  });
  if (autograd::needs_grad(x, weight) || (bias.defined() && autograd::needs_grad(bias))) {
    autograd::record("linear", out, {x, weight, bias}, {x, weight}, [](const Tensor& g, autograd::Context& ctx) {
      const Tensor x = ctx.saved(0), w = ctx.saved(1);
      const Tensor g2 = reshape(g, {-1, g.size(-1)});
      Tensor gx, gw, gb;
      if (ctx.needs_grad(0)) gx = matmul(g, w);
      if (ctx.needs_grad(1)) gw = mm(mT(g2), reshape(x, {-1, x.size(-1)}));
      if (ctx.needs_grad(2)) gb = sum(g2, {0});
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return out;
}

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, const Scalar& beta, const Scalar& alpha) {
  check_operands(a, b, "addmm");
  detail::check_defined(input, "addmm", "input");
  TANGENT_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "addmm: expected 2-D operands that can be ",
                "multiplied, got shapes ", a.shape(), " and ", b.shape());
  const Shape out_shape{a.size(0), b.size(1)};
  TANGENT_CHECK(broadcast_shapes(input.shape(), out_shape, "addmm") == out_shape, "addmm: input of shape ",
                input.shape(), " does not broadcast to the product's shape ", out_shape);
  const bool unit = beta.to_double() == 1.0 && alpha.to_double() == 1.0;
  if (unit && input.dim() == 1 && input.size(0) == b.size(1) && input.dtype() == a.dtype()) {
    // The bias is fused into the GEMM.
    Tensor out = mm_bias_raw(a, b, input, "addmm");
    autograd::forward::rule("addmm", out, {input, a, b}, [&](const std::vector<Tensor>& t) {
      const Tensor r =
          autograd::forward::sum(t[1].defined() ? mm(t[1], b) : Tensor(), t[2].defined() ? mm(a, t[2]) : Tensor());
      return autograd::forward::sum(r, t[0]);
    });
    if (autograd::needs_grad(input, a, b)) {
      autograd::record("addmm", out, {input, a, b}, {a, b}, [](const Tensor& g, autograd::Context& ctx) {
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        return std::vector<Tensor>{ctx.needs_grad(0) ? sum(g, {0}) : Tensor(),
                                   ctx.needs_grad(1) ? mm(g, mT(b)) : Tensor(),
                                   ctx.needs_grad(2) ? mm(mT(a), g) : Tensor()};
      });
    }
    return out;
  }
  Tensor prod = mm(a, b);
  if (alpha.to_double() != 1.0) prod = mul(prod, alpha);
  if (beta.to_double() == 0.0) return prod;  // input is ignored (NaNs in it do not propagate), as in PyTorch
  return add(beta.to_double() == 1.0 ? input : mul(input, beta), prod);
}

}  // namespace tangent
