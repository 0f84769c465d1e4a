// The structured method (Novak et al. 2022, "Fast finite width neural tangent kernel"). For a tile of examples one
// forward pass records, through forward hooks, the input and the output of every layer with a rule; a backward
// sweep then gives the output cotangents g = d f_o / d y of those layers for all O outputs (all examples at once:
// examples do not interact in eval mode). Parameters are switched to requires_grad=false for the pass, so no
// weight gradient is computed. A layer whose rule has input_cotangents (Linear, Conv2d) is cut out of the graph:
// its output becomes a fresh leaf and its input a root, and the sweep runs its backward itself, once for the O
// outputs stacked (one GEMM of n * O rows instead of O GEMMs of n rows). The sweep visits the layers in reverse
// call order; each layer's output cotangent is one autograd::grad per output from the roots known so far (the
// model output with the standard basis, the inputs of the cut layers after it), which runs only the weight-free
// segments between cut layers (and layers without input_cotangents). Any other hooked layer's output is a leaf
// when nothing before it requires grad, so the sweep stops at the first layer. Tiles go through in chunks whose
// largest layer output stays near 8 MB (fresh allocations of tens of MB cost more in page faults than the
// arithmetic on them), and x1 != x2 in single tiles in one pass (twice the GEMM rows).
//
// The rules live beside the layers (nn/ntk/structured_rule.h: Linear in nn/linear.cpp, Conv2d in nn/conv.cpp, the
// norms in nn/norm.cpp, Embedding in nn/embedding.cpp); each states its parameters' features in one of three forms
// (dense, scale_shift, lookup), and each parameter tensor's term is contracted per tile pair here and in
// nn/ntk/contract.cpp. A weight shared over D > 1 positions (dense) is contracted either in position space (input
// Gram A [n, D, n, D] times cotangent Gram, cost n^2 D^2 (K + Oc C)) or in weight space (per-example weight
// gradients G = g^T a, cost n O D K C to form, n^2 Oc K C to contract), whichever of the two costs is smaller for
// the layer (Oc = O^2 for the full kernel, O for trace and diagonal; n = min(N, 128)); with D = 1 position space
// always wins.
//
// A parameter is covered when its module's exact type has a registered rule (that does not refuse the instance),
// the module is called once per forward through Module::operator() (containers do), no other module shares the
// tensor, and nothing outside the module's forward uses it. The last is checked on the autograd graph of one
// forward on one example, with every covered module's output cut into a fresh leaf: a covered parameter whose
// gradient accumulator the graph from the model output still reaches is used elsewhere too (e.g. a tied LM head
// reading an embedding table directly), and its term (J_a + J_b)(J_a + J_b)^T has cross terms no per-module rule
// gives; it is left to the jacobian method (Method::Auto) or named in an Error (Method::Structured).
#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/error.h"
#include "nn/conv.h"
#include "nn/ntk/ntk_internal.h"
#include "nn/ntk/structured_rule.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::ntk {

namespace {

// The rules by module type. Registrations run from static initialisers in other object files, so the map is a
// function-local static (made on first use) and never destroyed.
struct RuleRegistry {
  std::mutex mutex;
  std::unordered_map<std::type_index, StructuredRule> rules;
};
RuleRegistry& rule_registry() {
  static RuleRegistry* r = new RuleRegistry();
  return *r;
}

}  // namespace

void register_structured_rule(std::type_index type, StructuredRule rule) {
  TANGENT_CHECK(rule.features != nullptr, "register_structured_rule: no features function given for ", type.name());
  RuleRegistry& r = rule_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.rules[type] = std::move(rule);
}

std::optional<StructuredRule> find_structured_rule(std::type_index type) {
  RuleRegistry& r = rule_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.rules.find(type);
  if (it == r.rules.end()) return std::nullopt;
  return it->second;
}

namespace {

// The rule for a module of exactly a registered type; returns false otherwise (with the reason).
bool rule_for(const nn::Module& m, StructuredRule* rule, std::string* why) {
  std::optional<StructuredRule> r = find_structured_rule(std::type_index(typeid(m)));
  if (!r) {
    *why = m.type_name() + " has no structured rule";
    return false;
  }
  if (r->refuse) {
    *why = r->refuse(m);
    if (!why->empty()) return false;
  }
  *rule = std::move(*r);
  return true;
}

}  // namespace

namespace detail {

namespace {

struct Layer {
  std::string prefix;  // dotted module name ("" for the root)
  nn::Module* module = nullptr;
  StructuredRule rule;
  std::vector<std::string> params;  // covered parameter names, as in named_parameters()
  bool use_weight_space = false;    // for shared weights (D > 1), see the header comment
  // per forward
  Tensor input, output;
  Tensor input_root;  // the input in the graph, when the layer runs its own backward (rule.input_cotangents)
  int calls = 0;
  int64_t order = 0;       // call order in the forward
  bool unbatched = false;  // discovery: input or output without the probe's batch dim first
};

std::string join(const std::string& prefix, const std::string& local) {
  return prefix.empty() ? local : prefix + "." + local;
}

// One parameter tensor's features for a tile.
struct Term {
  std::string name;
  double scale2 = 1;
  enum Kind { Weight, Position, OneHot } kind = Weight;
  Tensor G;  // Weight: [n, O, K]
  Tensor a;  // Position: [n, D, K]; OneHot: int64 [n, D]
  Tensor g;  // Position, OneHot: [n, O, D, C]
};
using Features = std::vector<Term>;

int64_t bytes_of(const Features& f) {
  std::set<const void*> seen;
  int64_t b = 0;
  for (const auto& t : f)
    for (const Tensor* x : {&t.G, &t.a, &t.g})
      if (x->defined() && seen.insert(x->raw_data()).second)
        b += x->numel() * static_cast<int64_t>(element_size(x->dtype()));
  return b;
}

// Examples [start, start + length) of every term (views).
Features narrow_features(const Features& f, int64_t start, int64_t length) {
  Features out = f;
  for (auto& t : out)
    for (Tensor* x : {&t.G, &t.a, &t.g})
      if (x->defined()) *x = x->narrow(0, start, length);
  return out;
}

// Weight-space features of a shared weight: G[i, o] = g[i, o]^T a[i] flattened ([n, O, C*K]).
Tensor per_example_weight_grad(const Tensor& a, const Tensor& g) {
  const int64_t n = g.size(0), O = g.size(1), D = g.size(2), C = g.size(3), K = a.size(2);
  return bmm(g.permute({0, 1, 3, 2}).reshape({n, O * C, D}), a).reshape({n, O, C * K});
}

// Whether a weight shared over D positions is cheaper to contract in weight space (see the header comment).
bool prefer_weight_space(int64_t n, int64_t O, int64_t D, int64_t K, int64_t C, Mode mode) {
  if (D <= 1) return false;
  const double oc = mode == Mode::Full ? double(O) * O : double(O);
  const double dn = double(n), dd = double(D);
  const double weight = 2 * dn * O * dd * K * C + dn * dn * oc * K * C;
  const double position = dn * dn * dd * dd * K + dn * dn * oc * dd * dd * C;
  return weight < position;
}

// The leaf tensors (TensorImpl*) whose gradient accumulators the backward graph of `f` reaches.
std::set<const void*> reached_leaves(const Tensor& f) {
  std::set<const void*> leaves;
  std::shared_ptr<autograd::Node> root = f.defined() ? autograd::gradient_edge(f) : nullptr;
  if (!root) return leaves;
  std::set<const autograd::Node*> seen{root.get()};
  std::vector<autograd::Node*> stack{root.get()};
  while (!stack.empty()) {
    autograd::Node* node = stack.back();
    stack.pop_back();
    if (auto* acc = dynamic_cast<autograd::AccumulateGrad*>(node))
      if (auto leaf = acc->leaf()) leaves.insert(leaf.get());
    for (const auto& next : node->next)
      if (next && seen.insert(next.get()).second) stack.push_back(next.get());
  }
  return leaves;
}

// Restores requires_grad on the parameters and removes the hooks on destruction.
class PassGuard {
 public:
  ~PassGuard() {
    for (auto& [m, h] : hooks) m->remove_forward_hook(h);
    for (auto& p : params) p.requires_grad_(true);
  }
  std::vector<std::pair<nn::Module*, int64_t>> hooks;
  std::vector<Tensor> params;
};

// The LayerFeatures a rule fills for one layer and one tile: turns its statement into Terms.
class TileFeatures : public LayerFeatures {
 public:
  TileFeatures(const Layer& layer, const Tensor& g_full, int64_t n, int64_t outputs, int64_t plan_n, Mode mode,
               Features* out)
      : layer_(layer), g_full_(g_full), n_(n), outputs_(outputs), plan_n_(plan_n), mode_(mode), out_(out) {}

  int64_t examples() const override { return n_; }
  int64_t outputs() const override { return outputs_; }
  const Tensor& input() const override { return layer_.input; }
  const Tensor& cotangents() const override { return g_full_; }

  void dense(const Tensor& a, const Tensor& g, double cw, double cb) override {  // a [n, D, K], g [n, O, D, C]
    const int64_t n = n_, O = outputs_;
    const int64_t D = a.size(1), K = a.size(2), C = g.size(3);
    const std::string w = covered("weight"), b = covered("bias");
    if (!w.empty()) {
      Term t;
      t.name = w;
      t.scale2 = cw * cw;
      if (prefer_weight_space(plan_n_, O, D, K, C, mode_)) {
        t.kind = Term::Weight;
        t.G = per_example_weight_grad(a, g);
      } else {
        t.kind = Term::Position;
        t.a = a;
        t.g = g;
      }
      out_->push_back(t);
    }
    if (!b.empty()) {
      Term t;
      t.name = b;
      t.scale2 = cb * cb;
      t.G = D == 1 ? g.reshape({n, O, C}) : sum(g, {2});
      out_->push_back(t);
    }
  }

  void scale_shift(const Tensor& xhat, const Tensor& g) override {  // xhat [n, 1, D, S], g [n, O, D, S]
    const std::string w = covered("weight"), b = covered("bias");
    if (!w.empty()) {
      Term t;
      t.name = w;
      t.G = sum(mul(g, xhat), {2});
      out_->push_back(t);
    }
    if (!b.empty()) {
      Term t;
      t.name = b;
      t.G = sum(g, {2});
      out_->push_back(t);
    }
  }

  void lookup(const Tensor& ids, const Tensor& g) override {  // ids int64 [n, D], g [n, O, D, C]
    const std::string w = covered("weight");
    if (w.empty()) return;
    Term t;
    t.name = w;
    t.kind = Term::OneHot;
    t.a = ids;
    t.g = g;
    out_->push_back(t);
  }

 private:
  // The full name of the layer's parameter `local` when the method covers it, else "".
  std::string covered(const std::string& local) const {
    const std::string full = join(layer_.prefix, local);
    return std::find(layer_.params.begin(), layer_.params.end(), full) != layer_.params.end() ? full : std::string();
  }

  const Layer& layer_;
  const Tensor& g_full_;
  int64_t n_, outputs_, plan_n_;
  Mode mode_;
  Features* out_;
};

class Structured : public StructuredNtk {
 public:
  Structured(nn::Module& model, const std::vector<std::pair<std::string, Tensor>>& params, const NtkOptions& options)
      : model_(model), params_(params), options_(options) {}

  int64_t outputs() const override { return outputs_; }
  const std::vector<std::string>& uncovered() const override { return uncovered_; }
  const std::vector<std::string>& reasons() const override { return reasons_; }
  int64_t run(const Tensor& x1, const Tensor& x2, bool symmetric, KernelAccumulator& acc,
              const NtkProgress& progress) override;

  // Finds the layers with a rule and the parameters they cover (the rest go to uncovered() with a reason) and the
  // model's outputs per example. `probe` is a batch of two examples.
  void discover(const Tensor& probe) {
    std::vector<std::string>* uncovered = &uncovered_;
    std::vector<std::string>* reasons = &reasons_;
    std::map<const void*, int> uses;
    for (auto& [name, p] : model_.named_parameters()) ++uses[p.impl()];
    std::map<std::string, std::string> owner_reason;  // parameter -> why not covered
    std::map<std::string, size_t> owner;              // parameter -> candidate layer
    std::vector<Layer> candidates;
    for (auto& [prefix, m] : model_.named_modules()) {
      const auto local = m->named_parameters(false);
      if (local.empty()) continue;
      Layer layer;
      std::string why;
      const bool ok = rule_for(*m, &layer.rule, &why);
      layer.prefix = prefix;
      layer.module = m.get();
      for (auto& [lname, p] : local) {
        const std::string full = join(prefix, lname);
        if (!ok)
          owner_reason[full] = why;
        else if (uses[p.impl()] > 1)
          owner_reason[full] = m->type_name() + " shares this tensor with another module";
        else
          layer.params.push_back(full);
      }
      if (ok && !layer.params.empty()) candidates.push_back(layer);
    }
    // One forward on one example with the parameters requiring grad: count the calls of each candidate, and cut
    // the graph at each candidate's output (a fresh leaf), so the graph from the model output reaches a covered
    // parameter only through a use outside its module's forward (e.g. a tied LM head reading an embedding table).
    std::set<const void*> used_outside;
    {
      PassGuard guard;
      for (auto& layer : candidates) {
        Layer* l = &layer;
        guard.hooks.emplace_back(layer.module, layer.module->register_forward_hook([l](nn::Module&, const Tensor& in,
                                                                                       const Tensor& out) {
          ++l->calls;
          // Rules read the batch dim first on the input and output.
          if (!in.defined() || !out.defined() || in.dim() < 1 || out.dim() < 1 || in.size(0) != 2 || out.size(0) != 2)
            l->unbatched = true;
          if (!out.defined()) return Tensor();
          Tensor y = out.detach();
          if (y.is_floating_point()) y.requires_grad_(true);
          l->input = in.detach();  // for probe_features()
          l->output = y;
          return y;
        }));
      }
      AutoGradMode grad_on(true);
      const Tensor f = model_(probe);
      outputs_ = outputs_per_example(f, 2);
      used_outside = reached_leaves(f);
    }
    for (auto& layer : candidates) {
      if (layer.calls == 1 && layer.unbatched) {
        for (const auto& p : layer.params)
          owner_reason[p] = layer.module->type_name() + " is not called on the batch (no batch dim first)";
        continue;
      }
      if (layer.calls == 1) {
        std::vector<std::string> inside;
        for (const auto& name : layer.params) {
          if (used_outside.count(param_impl(name)))
            owner_reason[name] = "also used outside the forward of its " + layer.module->type_name() +
                                 " (a tied or shared weight: its term has cross terms no per-module rule gives)";
          else
            inside.push_back(name);
        }
        layer.params = inside;
        if (!layer.params.empty()) layers_.push_back(layer);
        continue;
      }
      const std::string why = layer.calls == 0 ? layer.module->type_name() + " is not called through Module::operator()"
                                               : layer.module->type_name() + " is called " +
                                                     std::to_string(layer.calls) + " times per forward";
      for (const auto& p : layer.params) owner_reason[p] = why;
    }
    std::set<std::string> covered;
    for (const auto& layer : layers_) covered.insert(layer.params.begin(), layer.params.end());
    uncovered->clear();
    reasons->clear();
    for (const auto& [name, p] : params_) {
      if (covered.count(name)) continue;
      uncovered->push_back(name);
      auto it = owner_reason.find(name);
      reasons->push_back(it != owner_reason.end() ? it->second : "not owned by a module with a structured rule");
    }
  }

  Features features(const Tensor& x) {
    const int64_t n = x.size(0), O = outputs_;
    for (auto& layer : layers_) {
      layer.input = layer.input_root = layer.output = Tensor();
      layer.calls = 0;
    }
    std::vector<Tensor> cotangents(layers_.size());  // per layer [n, O, ...]
    {
      PassGuard guard;
      for (const auto& kv : params_)
        if (Tensor p = kv.second; p.requires_grad()) {
          p.requires_grad_(false);
          guard.params.push_back(p);
        }
      int64_t calls = 0;
      for (auto& layer : layers_) {
        Layer* l = &layer;
        auto hook = [l, &calls](nn::Module&, const Tensor& in, const Tensor& out) {
          return record(*l, calls++, in, out);
        };
        guard.hooks.emplace_back(layer.module, layer.module->register_forward_hook(hook));
      }
      AutoGradMode grad_on(true);
      const Tensor f = model_(x);
      TANGENT_CHECK(f.defined() && f.numel() == n * O, "empirical_ntk: the model gave ", f.shape(), " for ", n,
                    " examples but ", O, " outputs per example for one");
      for (size_t l = 0; l < layers_.size(); ++l)
        TANGENT_CHECK(layers_[l].calls == 1, "empirical_ntk: ", layers_[l].module->type_name(), " '", layers_[l].prefix,
                      "' was called ", layers_[l].calls, " times in a forward (once expected)");
      if (f.requires_grad()) backward(f, n, &cotangents);
      int64_t transient = 0;
      for (const auto& g : cotangents)
        if (g.defined()) transient += 2 * g.numel() * static_cast<int64_t>(element_size(g.dtype()));
      transient_bytes_ = std::max(transient_bytes_, transient);  // the O seeds' cotangents, stacked
    }
    Features out;
    NoGradGuard no_grad;
    for (size_t l = 0; l < layers_.size(); ++l)
      if (cotangents[l].defined()) layer_terms(layers_[l], cotangents[l], n, &out);
    for (auto& layer : layers_) layer.input = layer.input_root = layer.output = Tensor();
    return out;
  }

  // The forward hook of features(): records the layer's call, input and output. A layer that runs its own backward
  // (batched over the outputs) is cut out of the graph: its output becomes a fresh leaf and its input a root of the
  // graph before it. A layer whose output needs no grad (nothing before it does) starts the graph with a leaf too.
  static Tensor record(Layer& l, int64_t order, const Tensor& in, const Tensor& out) {
    ++l.calls;
    l.order = order;
    l.input = in.detach();
    const bool cut = static_cast<bool>(l.rule.input_cotangents);
    if (cut && in.requires_grad()) l.input_root = in;
    Tensor y = out;
    if (cut || !y.requires_grad()) {
      y = out.detach();
      y.requires_grad_(true);
    }
    l.output = y;
    return y;
  }

  // The output cotangents d f_o / d y of every layer for all O outputs ([n, O, ...] in `cotangents`), layers in
  // reverse call order. The graph holds only the segments between cut layers (and through layers without a
  // batched backward); each segment runs once per output, each cut layer's backward once for all outputs.
  void backward(const Tensor& f, int64_t n, std::vector<Tensor>* cotangents) {
    const int64_t O = outputs_;
    // Roots of the graph with their cotangents [n, O, <the root's dims but the batch>]: the model output with the
    // standard basis, then the inputs of cut layers as their cotangents become known.
    std::vector<Tensor> roots{f}, root_cotangents;
    {
      Tensor seeds = zeros({n, O, O}, f.dtype());
      for (int64_t o = 0; o < O; ++o) seeds.select(1, o).select(1, o).fill_(1.0);
      root_cotangents.push_back(seeds);
    }
    std::vector<size_t> order;
    for (size_t l = 0; l < layers_.size(); ++l)
      if (layers_[l].output.requires_grad()) order.push_back(l);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return layers_[a].order > layers_[b].order; });
    for (size_t l : order) {
      Layer& layer = layers_[l];
      std::vector<Tensor> per;
      for (int64_t o = 0; o < O; ++o) {
        std::vector<Tensor> seeds;
        for (size_t r = 0; r < roots.size(); ++r)
          seeds.push_back(root_cotangents[r].select(1, o).reshape(roots[r].shape()));
        const Tensor g = autograd::grad(roots, {layer.output}, seeds, true, false, true)[0];
        per.push_back(g.defined() ? g : zeros_like(layer.output));
      }
      (*cotangents)[l] = stack(per, 1);
      if (layer.input_root.defined()) {
        NoGradGuard no_grad;
        roots.push_back(layer.input_root);
        root_cotangents.push_back(layer.rule.input_cotangents(*layer.module, layer.input, (*cotangents)[l]));
      }
    }
  }

  // The features of the two examples of discover()'s forward, from the inputs and outputs it recorded: the rules
  // run on zero cotangents, so only the sizes mean anything (to plan tiles without a backward pass).
  Features probe_features() {
    Features out;
    NoGradGuard no_grad;
    for (auto& layer : layers_) {
      if (!layer.output.defined() || layer.unbatched) continue;
      const Shape& y = layer.output.shape();
      Shape shape{y[0], outputs_};
      for (size_t d = 1; d < y.size(); ++d) shape.push_back(y[d]);
      layer_terms(layer, zeros(shape, layer.output.dtype()), layer.output.size(0), &out);
      const int64_t bytes = layer.output.numel() / y[0] * static_cast<int64_t>(element_size(layer.output.dtype()));
      chunk_ = std::min(chunk_, std::max<int64_t>(16, kChunkBytes / std::max<int64_t>(1, bytes)));
    }
    for (auto& layer : layers_) layer.input = layer.output = Tensor();
    return out;
  }

  // features() on chunks of at most chunk_ examples, concatenated: the backward passes then allocate tensors of a
  // few MB (fresh allocations of tens of MB cost more in page faults than the arithmetic on them).
  Features features_chunked(const Tensor& x) {
    const int64_t n = x.size(0);
    if (n <= chunk_) return features(x);
    std::vector<Features> parts;
    for (int64_t s = 0; s < n; s += chunk_) parts.push_back(features(rows(x, s, std::min(chunk_, n - s))));
    Features out = parts[0];
    for (size_t t = 0; t < out.size(); ++t) {
      Term& term = out[t];
      for (Tensor Term::*m : {&Term::G, &Term::a, &Term::g}) {
        if (!(term.*m).defined()) continue;
        std::vector<Tensor> pieces;
        for (const auto& p : parts) pieces.push_back(p[t].*m);
        term.*m = cat(pieces, 0);
      }
    }
    return out;
  }

  // Chooses weight or position space per shared layer for tiles of about n examples (call before features()).
  void plan(int64_t n) { plan_n_ = std::max<int64_t>(1, std::min<int64_t>(n, 128)); }

  void contract(const Features& fi, const Features& fj, int64_t i0, int64_t j0, Mode mode, KernelAccumulator& acc,
                int64_t* work_bytes) {
    // An unshared Linear's cotangent Gram (g_io . g_jp) is also its bias term: computed once per tile pair.
    std::map<std::pair<const void*, const void*>, Tensor> cotangent_grams;
    TANGENT_CHECK(fi.size() == fj.size(), "empirical_ntk: internal error, tiles have ", fi.size(), " and ", fj.size(),
                  " structured terms");
    for (size_t t = 0; t < fi.size(); ++t) {
      const Term& a = fi[t];
      const Term& b = fj[t];
      TANGENT_CHECK(a.name == b.name && a.kind == b.kind, "empirical_ntk: internal error, structured terms ", a.name,
                    " and ", b.name, " do not line up");
      Tensor tile;
      switch (a.kind) {
        case Term::Weight: {
          auto it = cotangent_grams.find({a.G.raw_data(), b.G.raw_data()});
          const bool reuse =
              it != cotangent_grams.end() && it->second.size(0) == a.G.size(0) && it->second.size(1) == b.G.size(0);
          tile = reuse ? it->second : contract_weight(a.G, b.G, mode);
          break;
        }
        case Term::Position: {
          const int64_t n1 = a.a.size(0), n2 = b.a.size(0), D = a.a.size(1), K = a.a.size(2);
          const Tensor A = mm(a.a.reshape({n1 * D, K}), b.a.reshape({n2 * D, K}).t()).reshape({n1, D, n2, D});
          if (D == 1) {
            const int64_t O = a.g.size(1), C = a.g.size(3);
            const Tensor B = contract_weight(a.g.reshape({n1, O, C}), b.g.reshape({n2, O, C}), mode);
            cotangent_grams[{a.g.raw_data(), b.g.raw_data()}] = B;
            const Shape s = mode == Mode::Full       ? Shape{n1, n2, 1, 1}
                            : mode == Mode::Diagonal ? Shape{n1, n2, 1}
                                                     : Shape{n1, n2};
            tile = mul(B, A.reshape(s).to(kFloat64));
            break;
          }
          tile = contract_position(A, a.g, b.g, mode);
          *work_bytes = std::max(*work_bytes, pair_bytes(a, b, mode));
          break;
        }
        case Term::OneHot: {
          const int64_t n1 = a.a.size(0), n2 = b.a.size(0), D = a.a.size(1);
          const Tensor A = eq(a.a.reshape({n1, D, 1, 1}), b.a.reshape({1, 1, n2, D})).to(a.g.dtype());
          tile = contract_position(A, a.g, b.g, mode);
          *work_bytes = std::max(*work_bytes, pair_bytes(a, b, mode));
          break;
        }
      }
      acc.add(a.name, i0, j0, tile, a.scale2);
    }
  }

  // Working bytes of one position-space contraction (the Grams of one output row block).
  static int64_t pair_bytes(const Term& a, const Term& b, Mode mode) {
    const int64_t n1 = a.g.size(0), n2 = b.g.size(0), O = a.g.size(1), D = a.g.size(2);
    const int64_t es = static_cast<int64_t>(element_size(a.g.dtype()));
    return n1 * D * n2 * D * es * (mode == Mode::Full ? 2 * O + 1 : 3);
  }

  // Bytes of the position-space Grams per example pair (to size tiles).
  int64_t pair_bytes_per_example2(const Features& f, Mode mode) const {
    int64_t b = 0;
    for (const auto& t : f)
      if (t.kind != Term::Weight)
        b = std::max(b, pair_bytes(t, t, mode) / std::max<int64_t>(1, t.g.size(0) * t.g.size(0)));
    return b;
  }

  bool empty() const { return layers_.empty(); }
  int64_t transient_bytes() const { return transient_bytes_; }

 private:
  void layer_terms(Layer& layer, const Tensor& g_full, int64_t n, Features* out) {
    TileFeatures f(layer, g_full, n, outputs_, plan_n_, options_.mode, out);
    layer.rule.features(*layer.module, f);
  }

  // The tensor behind a parameter name (null when it is not among params_).
  const void* param_impl(const std::string& name) const {
    for (const auto& kv : params_)
      if (kv.first == name) return kv.second.impl();
    return nullptr;
  }

  nn::Module& model_;
  const std::vector<std::pair<std::string, Tensor>>& params_;
  int64_t outputs_ = 0;
  std::vector<std::string> uncovered_, reasons_;
  const NtkOptions& options_;
  std::vector<Layer> layers_;
  int64_t plan_n_ = 128;
  // Examples per backward pass, from the largest layer output per example (probe_features()).
  static constexpr int64_t kChunkBytes = int64_t{8} << 20;
  int64_t chunk_ = std::numeric_limits<int64_t>::max();
  int64_t transient_bytes_ = 0;
};

}  // namespace

std::unique_ptr<StructuredNtk> discover_structured(nn::Module& model,
                                                   const std::vector<std::pair<std::string, Tensor>>& params,
                                                   const NtkOptions& options, const Tensor& x1) {
  auto s = std::make_unique<Structured>(model, params, options);
  s->discover(cat({rows(x1, 0, 1), rows(x1, 0, 1)}, 0));
  return s;
}

int64_t Structured::run(const Tensor& x1, const Tensor& x2, bool symmetric, KernelAccumulator& acc,
                        const NtkProgress& progress) {
  if (layers_.empty()) return 0;
  Structured& s = *this;
  const NtkOptions& options = options_;
  const int64_t outputs = outputs_;
  const int64_t N1 = x1.size(0), N2 = symmetric ? N1 : x2.size(0);
  s.plan(std::max(N1, N2));

  // Tile size: features of the row and column tiles plus the pair's working Grams within the budget.
  const int64_t budget = options.max_memory_mb * (int64_t{1} << 20);
  const Features probe = s.probe_features();  // two examples
  const int64_t per_example = std::max<int64_t>(1, bytes_of(probe) / 2);
  const int64_t inner = options.mode == Mode::Full ? outputs * outputs : options.mode == Mode::Diagonal ? outputs : 1;
  const int64_t per_pair = s.pair_bytes_per_example2(probe, options.mode) + inner * 8 * 3;
  int64_t tile = options.tile;
  if (tile <= 0) {
    tile = std::max(N1, N2);
    while (tile > 1 && 2 * tile * per_example + tile * tile * per_pair > budget) tile = (tile + 1) / 2;
  }
  const auto tiles1 = make_tiles(N1, tile);
  const auto tiles2 = symmetric ? tiles1 : make_tiles(N2, tile);
  const auto pairs = tile_pairs(tiles1, tiles2, symmetric, options);
  const bool cache_all = (N1 + (symmetric ? 0 : N2)) * per_example + tile * tile * per_pair <= budget;

  std::vector<Features> cache1(tiles1.size()), cache2(tiles2.size());
  auto get = [&](bool second, size_t t) -> Features {
    const auto& tiles = second ? tiles2 : tiles1;
    auto& cache = second ? cache2 : cache1;
    if (!cache[t].empty()) return cache[t];
    Features f = s.features_chunked(rows(second ? x2 : x1, tiles[t].first, tiles[t].second));
    if (cache_all) cache[t] = f;
    return f;
  };
  // Two single tiles (x2 != x1): one pass on both, so the forward and the batched backwards run on twice the rows.
  if (!symmetric && tiles1.size() == 1 && tiles2.size() == 1) {
    const Features both = s.features_chunked(cat({x1, x2}, 0));
    cache1[0] = narrow_features(both, 0, N1);
    cache2[0] = narrow_features(both, N1, N2);
  }
  int64_t peak = 0;
  Features row;
  size_t row_index = static_cast<size_t>(-1);
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto [a, b] = pairs[k];
    if (a != row_index) {
      row = get(false, a);
      row_index = a;
    }
    const Features col = get(symmetric ? false : true, b);
    int64_t work = 0;
    s.contract(row, col, tiles1[a].first, tiles2[b].first, options.mode, acc, &work);
    peak = std::max(peak, bytes_of(row) + bytes_of(col) + work + tiles1[a].second * tiles2[b].second * inner * 8 * 3);
    if (progress) progress(static_cast<int64_t>(k + 1), static_cast<int64_t>(pairs.size()));
  }
  if (cache_all) peak = std::max(peak, (N1 + (symmetric ? 0 : N2)) * per_example);
  return peak + s.transient_bytes();
}

}  // namespace detail

}  // namespace tangent::ntk
