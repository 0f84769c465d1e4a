#include "nn/ntk/ntvp.h"

#include <optional>
#include <vector>

#include "autograd/engine.h"
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace tangent::ntk {

namespace {
// Puts a module in eval mode for its scope and restores its mode.
class EvalScope {
 public:
  explicit EvalScope(nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalScope() { m_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  nn::Module& m_;
  bool was_training_;
};
}  // namespace

Tensor ntk_vector_product(nn::Module& model, const Tensor& x1, const Tensor& x2_in, const Tensor& v) {
  TANGENT_CHECK(x1.defined() && x1.dim() >= 1, "ntk_vector_product: x1 must have a batch dim");
  TANGENT_CHECK(v.defined(), "ntk_vector_product: v is undefined");
  const Tensor x2 = x2_in.defined() ? x2_in : x1;
  std::vector<Tensor> params;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);
  TANGENT_CHECK(!params.empty(), "ntk_vector_product: the model has no trainable parameters");
  EvalScope eval(model);
  AutoGradMode grad_mode(true);

  // J(x2)^T v: one reverse pass.
  const Tensor y2 = model(x2);
  TANGENT_CHECK(y2.dim() >= 1 && v.numel() == y2.numel(), "ntk_vector_product: v of shape ", v.shape(),
                " does not match the model's outputs on x2, of shape ", y2.shape());
  const std::vector<Tensor> jtv =
      autograd::grad({y2}, params, {to_dtype(reshape(v, y2.shape()), y2.dtype())}, std::nullopt, false, true);

  // J(x1) (J(x2)^T v): one forward-mode pass along the parameter-sized vector.
  Tensor out;
  {
    autograd::forward::DualLevel level;
    for (size_t i = 0; i < params.size(); ++i)
      if (jtv[i].defined()) autograd::forward::set_tangent(params[i], jtv[i], "ntk_vector_product");
    const Tensor y1 = model(x1);
    const Tensor t = autograd::forward::tangent(y1);
    out = t.defined() ? t.detach() : zeros_like(y1.detach());
  }
  return reshape(out, {x1.size(0), -1});
}

}  // namespace tangent::ntk
