#pragma once
// Structured-NTK rules: how the parameters of one layer type enter the structured method (nn/ntk/structured.cpp).
// The method holds only the generic part (hooks, output cotangents, contractions); each layer registers its rule
// beside its own code, keyed by its exact type (a subclass needs a rule of its own), e.g. at the end of
// nn/linear.cpp:
//
//   [[maybe_unused]] const bool kNtkRule = ntk::register_structured_rule<Linear>(
//       [](Linear& l, ntk::LayerFeatures& f) { f.dense(a, g, l.weight_scale(), l.bias_scale()); });
//
// A rule reads the layer's input and the cotangents of its output for a tile of examples and states its
// parameters' features in one of three forms, which the method contracts per tile pair:
//   dense        y = c_w a W^T + c_b b over D positions sharing W: weight c_w^2 sum_{d,d'} (a_id . a_jd')
//                (g_iod . g_jpd'), bias c_b^2 (sum_d g_iod) . (sum_d' g_jpd') (Linear; Conv2d on im2col patches)
//   scale_shift  y = xhat * gamma + beta per channel: gamma G_io = sum_d g_iod * xhat_id, beta G_io = sum_d g_iod
//                (LayerNorm, RMSNorm, BatchNorm in eval mode)
//   lookup       an embedding table read at ids: sum_{t,t'} [id_it == id_jt'] (g_iot . g_jpt')
// Registration runs when the library loads (a static initialiser in the layer's object file); the registry is a
// function-local static, so initialisation order across object files does not matter.
#include <functional>
#include <optional>
#include <string>
#include <typeindex>
#include <typeinfo>

#include "core/tensor.h"
#include "nn/module.h"

namespace tangent::nn {
struct Conv2dOptions;
}

namespace tangent::ntk {

// What a rule sees of its layer for a tile of n examples, and where it states its parameters' features. Only
// parameters the method covers get a term (a rule may state features for "weight" and "bias" unconditionally).
class LayerFeatures {
 public:
  virtual ~LayerFeatures() = default;
  virtual int64_t examples() const = 0;          // n
  virtual int64_t outputs() const = 0;           // O, the model's outputs per example
  virtual const Tensor& input() const = 0;       // the layer's input for the tile, [n, ...]
  virtual const Tensor& cotangents() const = 0;  // d f_o / d (layer output): [n, O, <output dims but the batch>]
  // Parameters "weight" ([C, K], scaled by c_w in forward) and "bias" ([C], scaled by c_b): a [n, D, K] inputs at
  // D positions sharing the weight, g [n, O, D, C] their output cotangents.
  virtual void dense(const Tensor& a, const Tensor& g, double weight_scale, double bias_scale) = 0;
  // Parameters "weight" (gamma) and "bias" (beta) of a per-channel affine map: xhat [n, 1, D, S] the normalised
  // input at D positions of S channels, g [n, O, D, S] the output cotangents.
  virtual void scale_shift(const Tensor& xhat, const Tensor& g) = 0;
  // Parameter "weight", a table read at int64 ids [n, D]; g [n, O, D, C] the cotangents of the rows read.
  virtual void lookup(const Tensor& ids, const Tensor& g) = 0;
};

struct StructuredRule {
  // States the layer's features for one tile.
  std::function<void(nn::Module& layer, LayerFeatures& features)> features;
  // Optional: why this instance has no rule (e.g. a grouped Conv2d), or "" when the rule applies.
  std::function<std::string(const nn::Module& layer)> refuse;
  // Optional: the layer's backward to its input for all O outputs at once, g [n, O, <output dims but the batch>]
  // -> [n, O, <input dims but the batch>] (Linear: one GEMM with n * O rows). With it the method cuts the autograd
  // graph at the layer and runs the layer's backward itself, batched over the outputs; without it the O backward
  // passes (one per output) run through the layer, each with n rows.
  std::function<Tensor(nn::Module& layer, const Tensor& input, const Tensor& g)> input_cotangents;
};

// Registers the rule of modules of exactly `type` (a later registration replaces an earlier one).
void register_structured_rule(std::type_index type, StructuredRule rule);
// The rule for a module of exactly this type, if any.
std::optional<StructuredRule> find_structured_rule(std::type_index type);

template <typename M, typename F>
bool register_structured_rule(F features, std::function<std::string(const M&)> refuse = {},
                              std::function<Tensor(M&, const Tensor&, const Tensor&)> input_cotangents = {}) {
  StructuredRule rule;
  rule.features = [features](nn::Module& m, LayerFeatures& f) { features(static_cast<M&>(m), f); };
  if (refuse) rule.refuse = [refuse](const nn::Module& m) { return refuse(static_cast<const M&>(m)); };
  if (input_cotangents)
    rule.input_cotangents = [input_cotangents](nn::Module& m, const Tensor& x, const Tensor& g) {
      return input_cotangents(static_cast<M&>(m), x, g);
    };
  register_structured_rule(std::type_index(typeid(M)), std::move(rule));
  return true;
}

}  // namespace tangent::ntk
