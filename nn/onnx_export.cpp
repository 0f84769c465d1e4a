// ONNX export (opset 17) with the official ONNX protobuf classes, checker and shape inference; see nn/onnx_export.h.
// The exporter walks the module tree (Sequential children in order, MLP and ConvNet by their known structure) and
// emits one or a few ONNX nodes per layer. A sample batch is run through each layer alongside, so every layer sees
// the real shape of its input (Linear on [N, in] vs [N, ..., in], AdaptiveAvgPool2d's divisibility, Flatten).
#include "nn/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "models/convnet.h"
#include "models/mlp.h"
#include "models/model.h"
#include "nn/activation.h"
#include "nn/checkpoint.h"
#include "nn/data/file_io.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace {

constexpr const char* kProducerName = "tangent";
constexpr const char* kProducerVersion = "0.1.0";
constexpr double kPi = 3.14159265358979323846;

// ---- attributes ----
void attr_int(onnx::NodeProto* n, const char* name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_ints(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_float(onnx::NodeProto* n, const char* name, double v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}

std::string shape_str(const Tensor& t) {
  std::ostringstream os;
  os << t.shape();
  return os.str();
}

std::string num_str(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

// A tensor's values as float32 (or int64) on the CPU, contiguous, detached.
Tensor host_values(const Tensor& t, DType dtype) {
  return t.detach().to(Device(DeviceType::CPU)).to(dtype).contiguous();
}

// Weight times a scale (computed in float64 so the folded NTK scale loses nothing), as float32.
Tensor scaled(const Tensor& w, double scale) {
  Tensor h = host_values(w, kFloat64);
  if (scale != 1.0) h = mul(h, scale);
  return h.to(kFloat32).contiguous();
}

// Sets the mode of every module of a tree for the duration of the export, then restores each one's mode.
class ModeGuard {
 public:
  explicit ModeGuard(Module& root) {
    for (auto& [name, m] : root.named_modules()) saved_.emplace_back(m, m->is_training());
    root.eval();
  }
  ~ModeGuard() {
    for (auto& [m, on] : saved_) m->train(on);  // depth-first order: children are restored after parents
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<Module>, bool>> saved_;
};

// Emits the nodes and initializers of a module tree into a graph.
class Exporter {
 public:
  explicit Exporter(onnx::GraphProto* graph) : g_(graph) {}

  void reserve(const std::string& name) { used_.insert(name); }

  // Emits `m` (at dotted `path`) applied to the value `x`; `sample` holds a batch of the value's shape and is
  // advanced through the layer. Returns the name of the output value.
  std::string emit(Module& m, const std::string& path, const std::string& x, Tensor* sample) {
    auto child = [&](const std::string& c) { return path.empty() ? c : path + "." + c; };
    if (auto* mlp = dynamic_cast<models::MLP*>(&m)) {
      const int64_t n = mlp->options.input_shape.numel();
      const std::string shape = int_initializer(child("reshape_shape"), {-1, n}, "MLP: flatten each example");
      onnx::NodeProto* node = nullptr;
      const std::string y = add_node("Reshape", {x, shape}, path, "MLP flattens each example to [batch, " +
                                     std::to_string(n) + "]", &node);
      *sample = sample->reshape({-1, n});
      return emit(*mlp->layers, child("layers"), y, sample);
    }
    if (auto* cnn = dynamic_cast<models::ConvNet*>(&m)) {
      const std::string f = emit(*cnn->features, child("features"), x, sample);
      return emit(*cnn->classifier, child("classifier"), f, sample);
    }
    if (dynamic_cast<Sequential*>(&m)) {
      std::string y = x;
      for (auto& [name, c] : m.named_children()) y = emit(*c, child(name), y, sample);
      return y;
    }
    const std::string y = emit_leaf(m, path, x, *sample);
    try {
      *sample = m.forward(*sample);
    } catch (const Error& e) {
      TANGENT_FAIL("export_onnx: layer '", label(path), "' (", m.type_name(), ") rejected an input of shape ",
                   sample->shape(), ": ", e.what());
    }
    return y;
  }

  // Adds a node with one output; returns the output's name (also the node's name).
  std::string add_node(const std::string& op, const std::vector<std::string>& inputs, const std::string& path,
                       const std::string& doc = "", onnx::NodeProto** out = nullptr) {
    const std::string name = unique((path.empty() ? std::string() : path + "/") + op);
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(name);
    if (!doc.empty()) n->set_doc_string(doc);
    if (out) *out = n;
    return name;
  }

  // Makes `value` the graph output called `name`: renames the producing node's output, or adds an Identity.
  void finish(const std::string& value, const std::string& name) {
    onnx::NodeProto* producer = nullptr;
    bool consumed = false;
    for (auto& n : *g_->mutable_node()) {
      for (const auto& o : n.output())
        if (o == value) producer = &n;
      for (const auto& i : n.input())
        if (i == value) consumed = true;
    }
    if (producer && !consumed) {  // `name` was reserved up front, so no other value has it
      for (auto& o : *producer->mutable_output())
        if (o == value) o = name;
      return;
    }
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type("Identity");
    n->set_name(unique("output/Identity"));
    n->add_input(value);
    n->add_output(name);
  }

 private:
  static std::string label(const std::string& path) { return path.empty() ? "<root>" : path; }

  std::string unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

  // A float32 initializer from a tensor (any dtype/device); returns its name.
  std::string initializer(const std::string& base, const Tensor& t, const std::string& doc) {
    const Tensor h = host_values(t, kFloat32);
    onnx::TensorProto* p = g_->add_initializer();
    const std::string name = unique(base);
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : h.shape()) p->add_dims(d);
    p->set_raw_data(std::string(static_cast<const char*>(h.raw_data()), static_cast<size_t>(h.numel()) * 4));
    if (!doc.empty()) p->set_doc_string(doc);
    return name;
  }

  std::string int_initializer(const std::string& base, const std::vector<int64_t>& values, const std::string& doc) {
    onnx::TensorProto* p = g_->add_initializer();
    const std::string name = unique(base);
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::INT64);
    p->add_dims(static_cast<int64_t>(values.size()));
    std::string raw(values.size() * 8, '\0');
    std::memcpy(raw.data(), values.data(), raw.size());
    p->set_raw_data(raw);
    if (!doc.empty()) p->set_doc_string(doc);
    return name;
  }

  // A float32 scalar constant (shared between layers when the value repeats).
  std::string constant(double v) {
    const std::string key = num_str(v);
    auto it = constants_.find(key);
    if (it != constants_.end()) return it->second;
    const std::string name = initializer("const_" + key, scalar_tensor(v, kFloat32), "constant " + key);
    constants_[key] = name;
    return name;
  }

  [[noreturn]] void unsupported(const Module& m, const std::string& path, const std::string& why) {
    TANGENT_FAIL("export_onnx: cannot export layer '", label(path), "' (", m.type_name(), "): ", why);
  }

  std::string emit_leaf(Module& m, const std::string& path, const std::string& x, const Tensor& s) {
    auto pname = [&](const char* p) { return path.empty() ? std::string(p) : path + "." + p; };
    onnx::NodeProto* n = nullptr;

    if (auto* l = dynamic_cast<Linear*>(&m)) {
      const bool ntk = l->options.parametrization == Parametrization::NTK;
      const double ws = l->weight_scale(), bs = l->bias_scale();
      const std::string fold = ntk ? " (NTK: scaled by " + num_str(ws) + ")" : "";
      if (s.dim() < 2) unsupported(m, path, "expects an input of at least 2 dims, got " + shape_str(s));
      if (s.dim() == 2) {
        std::vector<std::string> in{x, initializer(pname("weight"), scaled(l->weight, ws), "weight [out, in]" + fold)};
        if (l->bias.defined())
          in.push_back(initializer(pname("bias"), scaled(l->bias, bs),
                                   ntk ? "bias (NTK: scaled by " + num_str(bs) + ")" : "bias"));
        const std::string y = add_node("Gemm", in, path, "Linear " + l->extra_repr() + ": y = x W^T + b", &n);
        attr_int(n, "transB", 1);
        return y;
      }
      const std::string wt = initializer(pname("weight_t"), scaled(l->weight, ws).t().contiguous(),
                                         "weight transposed to [in, out]" + fold);
      std::string y = add_node("MatMul", {x, wt}, path, "Linear " + l->extra_repr() + " on " + shape_str(s));
      if (l->bias.defined())
        y = add_node("Add", {y, initializer(pname("bias"), scaled(l->bias, bs), "bias")}, path);
      return y;
    }

    if (auto* c = dynamic_cast<Conv2d*>(&m)) {
      if (s.dim() != 4) unsupported(m, path, "expects an NCHW input, got " + shape_str(s));
      const Conv2dOptions& o = c->options;
      const bool ntk = o.parametrization == Parametrization::NTK;
      std::vector<std::string> in{x, initializer(pname("weight"), scaled(c->weight, c->weight_scale()),
                                                 ntk ? "weight (NTK: scale folded in)" : "weight")};
      if (c->bias.defined()) in.push_back(initializer(pname("bias"), scaled(c->bias, c->bias_scale()), "bias"));
      const std::string y = add_node("Conv", in, path, "Conv2d " + c->extra_repr(), &n);
      attr_ints(n, "kernel_shape", {c->weight.size(2), c->weight.size(3)});
      attr_ints(n, "strides", {o.stride[0], o.stride[1]});
      attr_ints(n, "pads", {o.padding[0], o.padding[1], o.padding[0], o.padding[1]});
      attr_ints(n, "dilations", {o.dilation[0], o.dilation[1]});
      attr_int(n, "group", o.groups);
      return y;
    }

    auto pool = [&](const char* op, Pair k, Pair st, Pair pad, const std::string& doc) {
      if (s.dim() != 4) unsupported(m, path, "expects an NCHW input, got " + shape_str(s));
      if (st[0] == 0 && st[1] == 0) st = k;
      const std::string y = add_node(op, {x}, path, doc, &n);
      attr_ints(n, "kernel_shape", {k[0], k[1]});
      attr_ints(n, "strides", {st[0], st[1]});
      attr_ints(n, "pads", {pad[0], pad[1], pad[0], pad[1]});
      return y;
    };
    if (auto* p = dynamic_cast<MaxPool2d*>(&m))
      return pool("MaxPool", p->kernel, p->stride, p->padding, "MaxPool2d " + p->extra_repr());
    if (auto* p = dynamic_cast<AvgPool2d*>(&m)) {
      const std::string y = pool("AveragePool", p->kernel, p->stride, p->padding, "AvgPool2d " + p->extra_repr());
      attr_int(n, "count_include_pad", 1);  // AvgPool2d averages over the padded window, as PyTorch's default
      return y;
    }
    if (auto* p = dynamic_cast<AdaptiveAvgPool2d*>(&m)) {
      if (s.dim() != 4) unsupported(m, path, "expects an NCHW input, got " + shape_str(s));
      const int64_t h = s.size(2), w = s.size(3), oh = p->output_size[0], ow = p->output_size[1];
      if (oh == 1 && ow == 1) return add_node("GlobalAveragePool", {x}, path, "AdaptiveAvgPool2d to 1x1");
      if (oh <= 0 || ow <= 0 || h % oh != 0 || w % ow != 0)
        unsupported(m, path, "output size " + std::to_string(oh) + "x" + std::to_string(ow) +
                                  " does not divide the input size " + std::to_string(h) + "x" + std::to_string(w) +
                                  " (only 1x1 or evenly dividing sizes map to ONNX pooling)");
      return pool("AveragePool", {h / oh, w / ow}, {h / oh, w / ow}, {0, 0},
                  "AdaptiveAvgPool2d " + p->extra_repr() + " on " + std::to_string(h) + "x" + std::to_string(w));
    }

    if (auto* b = dynamic_cast<BatchNorm*>(&m)) {
      const int64_t c = b->num_features;
      const std::string scale = b->weight.defined() ? initializer(pname("weight"), b->weight, "scale (gamma)")
                                                     : initializer(pname("weight"), ones({c}), "scale (not affine: 1)");
      const std::string bias = b->bias.defined() ? initializer(pname("bias"), b->bias, "shift (beta)")
                                                 : initializer(pname("bias"), zeros({c}), "shift (not affine: 0)");
      const std::string mean = initializer(pname("running_mean"), b->running_mean, "running mean");
      const std::string var = initializer(pname("running_var"), b->running_var, "running variance");
      const std::string y = add_node("BatchNormalization", {x, scale, bias, mean, var}, path,
                                     b->type_name() + " " + b->extra_repr() + " (inference: running statistics)", &n);
      attr_float(n, "epsilon", b->eps);
      attr_float(n, "momentum", 1.0 - b->momentum);  // ONNX weighs the running value, PyTorch the batch value
      return y;
    }
    if (auto* ln = dynamic_cast<LayerNorm*>(&m)) {
      const int64_t k = static_cast<int64_t>(ln->normalized_shape.size());
      const std::string scale = ln->weight.defined() ? initializer(pname("weight"), ln->weight, "scale")
                                                     : initializer(pname("weight"), ones(ln->normalized_shape), "scale 1");
      std::vector<std::string> in{x, scale};
      if (ln->bias.defined()) in.push_back(initializer(pname("bias"), ln->bias, "shift"));
      const std::string y = add_node("LayerNormalization", in, path, "LayerNorm " + ln->extra_repr(), &n);
      attr_int(n, "axis", -k);
      attr_float(n, "epsilon", ln->eps);
      return y;
    }
    if (auto* r = dynamic_cast<RMSNorm*>(&m)) {
      const int64_t k = static_cast<int64_t>(r->normalized_shape.size());
      std::vector<int64_t> axes;
      for (int64_t i = -k; i < 0; ++i) axes.push_back(i);
      const std::string doc = "RMSNorm " + r->extra_repr() + ": x / sqrt(mean(x^2) + eps) * weight";
      const std::string sq = add_node("Mul", {x, x}, path, doc);
      const std::string ms = add_node("ReduceMean", {sq}, path, "", &n);
      attr_ints(n, "axes", axes);
      attr_int(n, "keepdims", 1);
      const std::string rms = add_node("Sqrt", {add_node("Add", {ms, constant(r->eps)}, path)}, path);
      std::string y = add_node("Div", {x, rms}, path);
      if (r->weight.defined()) y = add_node("Mul", {y, initializer(pname("weight"), r->weight, "scale")}, path);
      return y;
    }

    if (dynamic_cast<ReLU*>(&m)) return add_node("Relu", {x}, path);
    if (dynamic_cast<Sigmoid*>(&m)) return add_node("Sigmoid", {x}, path);
    if (dynamic_cast<Tanh*>(&m)) return add_node("Tanh", {x}, path);
    if (dynamic_cast<Erf*>(&m)) return add_node("Erf", {x}, path);
    if (dynamic_cast<SiLU*>(&m)) return add_node("Mul", {x, add_node("Sigmoid", {x}, path)}, path, "SiLU: x * sigmoid(x)");
    if (auto* gl = dynamic_cast<GELU*>(&m)) {
      if (gl->approximate == "tanh") {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        const std::string doc = "GELU (tanh approximation): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))";
        const std::string cube = add_node("Pow", {x, constant(3.0)}, path, doc);
        const std::string inner = add_node("Add", {x, add_node("Mul", {cube, constant(0.044715)}, path)}, path);
        const std::string t = add_node("Tanh", {add_node("Mul", {inner, constant(std::sqrt(2.0 / kPi))}, path)}, path);
        const std::string half_x = add_node("Mul", {x, constant(0.5)}, path);
        return add_node("Mul", {half_x, add_node("Add", {t, constant(1.0)}, path)}, path);
      }
      if (gl->approximate != "none") unsupported(m, path, "unknown approximation '" + gl->approximate + "'");
      const std::string doc = "GELU (exact): 0.5 x (1 + erf(x / sqrt(2)))";
      const std::string e = add_node("Erf", {add_node("Div", {x, constant(std::sqrt(2.0))}, path, doc)}, path);
      const std::string half_x = add_node("Mul", {x, constant(0.5)}, path);
      return add_node("Mul", {half_x, add_node("Add", {e, constant(1.0)}, path)}, path);
    }
    if (auto* sp = dynamic_cast<Softplus*>(&m)) {
      // ONNX Softplus has no threshold; above it log(1 + exp(x)) equals x to float precision anyway.
      if (sp->beta == 1.0) return add_node("Softplus", {x}, path, "Softplus " + sp->extra_repr());
      const std::string bx = add_node("Mul", {x, constant(sp->beta)}, path, "Softplus " + sp->extra_repr() +
                                      ": softplus(beta x) / beta");
      return add_node("Div", {add_node("Softplus", {bx}, path), constant(sp->beta)}, path);
    }
    if (dynamic_cast<Dropout*>(&m)) return x;  // identity at inference

    if (auto* f = dynamic_cast<Flatten*>(&m)) {
      const int64_t r = s.dim();
      const int64_t start = wrap_dim(f->start_dim, r, "Flatten"), end = wrap_dim(f->end_dim, r, "Flatten");
      if (start == 1 && end == r - 1) {
        const std::string y = add_node("Flatten", {x}, path, "Flatten " + f->extra_repr(), &n);
        attr_int(n, "axis", 1);
        return y;
      }
      if (start >= end) return x;  // nothing to merge
      std::vector<int64_t> shape(static_cast<size_t>(start), 0);  // 0: copy the input's dim (the batch, ...)
      shape.push_back(-1);
      for (int64_t d = end + 1; d < r; ++d) shape.push_back(s.size(d));
      return add_node("Reshape", {x, int_initializer(pname("shape"), shape, "Flatten target shape")}, path,
                      "Flatten " + f->extra_repr());
    }
    if (auto* e = dynamic_cast<Embedding*>(&m)) {
      if (s.dtype() != kInt64) unsupported(m, path, "expects int64 indices, got " + std::string(dtype_name(s.dtype())));
      const std::string w = initializer(pname("weight"), e->weight, "embedding table [num, dim]");
      const std::string y = add_node("Gather", {w, x}, path, "Embedding " + e->extra_repr(), &n);
      attr_int(n, "axis", 0);
      return y;
    }

    if (dynamic_cast<ModuleList*>(&m)) unsupported(m, path, "a ModuleList has no forward order to export");
    if (dynamic_cast<models::Model*>(&m))
      unsupported(m, path, "this model kind has no ONNX exporter yet (supported: mlp, cnn, Sequential)");
    unsupported(m, path, "no ONNX mapping for this layer type (supported: Sequential, Linear, Conv2d, MaxPool2d, "
                         "AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d/2d, LayerNorm, RMSNorm, ReLU, GELU, SiLU, Tanh, Erf, "
                         "Sigmoid, Softplus, Dropout, Flatten, Embedding)");
  }

  onnx::GraphProto* g_;
  std::set<std::string> used_;
  std::map<std::string, std::string> constants_;
};

// The first leaf module of a tree (to guess the input dtype of a plain Sequential).
Module* first_leaf(Module& m) {
  auto children = m.named_children();
  if (children.empty()) return &m;
  return first_leaf(*children.front().second);
}

void set_shape(onnx::ValueInfoProto* v, int32_t elem, const Tensor& sample, bool dynamic, int64_t batch) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (int64_t i = 0; i < sample.dim(); ++i) {
    auto* d = shape->add_dim();
    if (i == 0 && dynamic) {
      if (sample.size(0) == batch) d->set_dim_param("batch");  // else it depends on the batch: left unknown
    } else {
      d->set_dim_value(sample.size(i));
    }
  }
}

std::string dims_str(const std::vector<std::string>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + dims[i];
  return s + "]";
}

std::string elem_name(int32_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return "float32";
    case onnx::TensorProto::DOUBLE: return "float64";
    case onnx::TensorProto::FLOAT16: return "float16";
    case onnx::TensorProto::BFLOAT16: return "bfloat16";
    case onnx::TensorProto::INT64: return "int64";
    case onnx::TensorProto::INT32: return "int32";
    case onnx::TensorProto::BOOL: return "bool";
    default: return onnx::TensorProto_DataType_IsValid(t) ? onnx::TensorProto_DataType_Name(t) : "?";
  }
}

OnnxValueInfo describe(const onnx::ValueInfoProto& v) {
  OnnxValueInfo info;
  info.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    info.elem_type = elem_name(tt.elem_type());
    if (tt.has_shape())
      for (const auto& d : tt.shape().dim())
        info.dims.push_back(d.has_dim_value() ? std::to_string(d.dim_value())
                                              : d.has_dim_param() ? d.dim_param() : std::string("?"));
  } else {
    info.elem_type = "non-tensor";
  }
  return info;
}

// Runs the ONNX checker and strict shape inference; failures become tangent::Error.
void check_and_infer(onnx::ModelProto* model, const std::string& what) {
  try {
    onnx::checker::check_model(*model);
  } catch (const std::exception& e) {
    TANGENT_FAIL(what, ": the ONNX checker rejected the model: ", e.what());
  }
  try {
    onnx::shape_inference::InferShapes(*model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
  } catch (const std::exception& e) {
    TANGENT_FAIL(what, ": ONNX shape inference failed: ", e.what());
  }
}

OnnxSummary summarize(const onnx::ModelProto& model, const std::string& what) {
  OnnxSummary s;
  s.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  s.ir_version = model.ir_version();
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") s.opset = o.version();
  const auto& g = model.graph();
  std::set<std::string> init_names;
  for (const auto& t : g.initializer()) {
    init_names.insert(t.name());
    int64_t n = 1;
    for (int64_t d : t.dims())
      TANGENT_CHECK(d >= 0 && !__builtin_mul_overflow(n, d, &n), what, ": initializer '", t.name(),
                    "' has a negative dim or dims whose product overflows int64");
    TANGENT_CHECK(!__builtin_add_overflow(s.num_parameters, n, &s.num_parameters), what,
                  ": the initializers hold more elements than int64 can count");
    ++s.num_initializers;
  }
  for (const auto& v : g.input())
    if (!init_names.count(v.name())) s.inputs.push_back(describe(v));  // initializers may also be listed as inputs
  for (const auto& v : g.output()) s.outputs.push_back(describe(v));
  for (const auto& n : g.node()) {
    const std::string op = n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type();
    s.nodes.push_back(op);
    ++s.op_counts[op];
  }
  for (const auto& p : model.metadata_props()) s.metadata.emplace_back(p.key(), p.value());
  return s;
}

}  // namespace

std::string OnnxSummary::str() const {
  std::ostringstream os;
  os << "ONNX model: producer " << (producer.empty() ? "?" : producer) << ", IR version " << ir_version
     << ", opset " << opset << "\n";
  os << "inputs:\n";
  for (const auto& v : inputs) os << "  " << v.name << ": " << v.elem_type << " " << dims_str(v.dims) << "\n";
  os << "outputs:\n";
  for (const auto& v : outputs) os << "  " << v.name << ": " << v.elem_type << " " << dims_str(v.dims) << "\n";
  os << "operators (" << nodes.size() << " nodes):\n";
  for (const auto& [op, n] : op_counts) os << "  " << op << ": " << n << "\n";
  os << "parameters: " << num_parameters << " in " << num_initializers << " initializers\n";
  if (!metadata.empty()) {
    os << "metadata:\n";
    for (const auto& [k, v] : metadata) os << "  " << k << ": " << v << "\n";
  }
  os << "checker: ok, shape inference: ok\n";
  return os.str();
}

void build_onnx_model(Module& module, const OnnxExportOptions& options, onnx::ModelProto* model) {
  TANGENT_CHECK(model != nullptr, "export_onnx: null ModelProto");
  TANGENT_CHECK(options.batch >= 0, "export_onnx: batch must be 0 (dynamic) or positive, got ", options.batch);
  auto* as_model = dynamic_cast<models::Model*>(&module);
  const Shape per = !options.input_shape.empty() ? options.input_shape
                    : as_model                   ? as_model->input_shape()
                                                 : Shape();
  TANGENT_CHECK(!per.empty(), "export_onnx: an input_shape (one example, without the batch dim) is required to "
                "export a ", module.type_name(), ", which is not a models::Model");
  DType in_dtype = options.input_dtype;
  if (in_dtype == DType::Bool)
    in_dtype = as_model ? as_model->input_dtype() : dynamic_cast<Embedding*>(first_leaf(module)) ? kInt64 : kFloat32;
  TANGENT_CHECK(!options.input_name.empty() && !options.output_name.empty() &&
                options.input_name != options.output_name,
                "export_onnx: the input and output names must be distinct and non-empty, got '", options.input_name,
                "' and '", options.output_name, "'");
  TANGENT_CHECK(in_dtype == kFloat32 || in_dtype == kInt64, "export_onnx: the input dtype must be float32 or int64, "
                "got ", in_dtype);

  // The sample batch: float inputs in the parameters' dtype and device (computation only, the graph is float32).
  DType sample_dtype = in_dtype;
  Device device(DeviceType::CPU);
  for (const Tensor& p : module.parameters()) {
    device = p.device();
    if (in_dtype != kInt64 && p.is_floating_point()) sample_dtype = p.dtype();
    break;
  }
  const bool dynamic = options.batch == 0;
  const int64_t batch = dynamic ? 2 : options.batch;
  Shape sample_shape = per;
  sample_shape.insert(0, batch);
  Tensor sample = zeros(sample_shape, TensorOptions(sample_dtype).device(device));
  const Tensor input_sample = sample;

  model->Clear();
  model->set_ir_version(onnx::IR_VERSION);
  model->set_producer_name(kProducerName);
  model->set_producer_version(kProducerVersion);
  model->set_model_version(1);
  onnx::OperatorSetIdProto* opset = model->add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* graph = model->mutable_graph();
  graph->set_name(options.graph_name.empty() ? module.type_name() : options.graph_name);

  const int32_t in_elem = in_dtype == kInt64 ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT;
  Exporter ex(graph);
  ex.reserve(options.input_name);
  ex.reserve(options.output_name);
  std::string y;
  {
    ModeGuard mode(module);
    NoGradGuard no_grad;
    y = ex.emit(module, "", options.input_name, &sample);
    if (options.softmax) {
      onnx::NodeProto* n = nullptr;
      y = ex.add_node("Softmax", {y}, "softmax", "probabilities over the last axis", &n);
      attr_int(n, "axis", -1);
    }
  }
  ex.finish(y, options.output_name);

  onnx::ValueInfoProto* in = graph->add_input();
  in->set_name(options.input_name);
  set_shape(in, in_elem, input_sample, dynamic, batch);
  onnx::ValueInfoProto* out = graph->add_output();
  out->set_name(options.output_name);
  set_shape(out, onnx::TensorProto::FLOAT, sample, dynamic, batch);

  std::ostringstream in_desc, out_desc;
  in_desc << (dynamic ? "[batch" : "[" + std::to_string(batch));
  for (int64_t d : per) in_desc << ", " << d;
  in_desc << "]";
  out_desc << (dynamic ? "[batch" : "[" + std::to_string(batch));
  for (int64_t i = 1; i < sample.dim(); ++i) out_desc << ", " << sample.size(i);
  out_desc << "]";
  in->set_doc_string(std::string(dtype_name(in_dtype)) + " " + in_desc.str() +
                     (in_dtype == kInt64 ? " (token / index ids)" : ""));
  out->set_doc_string(std::string("float32 ") + out_desc.str() + (options.softmax ? " probabilities" : " outputs"));
  graph->set_doc_string(module.type_name() + " exported by Tangent (eval mode): input '" + options.input_name +
                        "' " + in->doc_string() + " -> output '" + options.output_name + "' " + out->doc_string() +
                        ". Initializers hold the trained weights (float32).");
  model->set_doc_string("Tangent " + module.type_name() + (as_model ? " (kind " + as_model->kind() + ")" : "") +
                        ", ONNX opset " + std::to_string(kOnnxOpset));

  auto meta = [&](const std::string& k, const std::string& v) {
    onnx::StringStringEntryProto* p = model->add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  meta("producer", std::string(kProducerName) + " " + kProducerVersion);
  meta("module", module.type_name());
  if (as_model) {
    meta("model_kind", as_model->kind());
    meta("model_config", as_model->config().str());
  }
  std::ostringstream ps;
  ps << per;
  meta("input_shape", ps.str());
  meta("batch", dynamic ? "dynamic" : std::to_string(batch));
  meta("softmax", options.softmax ? "true" : "false");
  for (const auto& [k, v] : options.metadata) meta(k, v);

  check_and_infer(model, "export_onnx (" + module.type_name() + ")");
}

std::string export_onnx(Module& module, const OnnxExportOptions& options) {
  onnx::ModelProto model;
  build_onnx_model(module, options, &model);
  TANGENT_CHECK(model.ByteSizeLong() < (size_t{1} << 31), "export_onnx: the model is ", model.ByteSizeLong(),
                " bytes, above protobuf's 2 GiB limit (external data is not supported)");
  std::string bytes;
  TANGENT_CHECK(model.SerializeToString(&bytes), "export_onnx: serialising the ONNX model failed");
  return bytes;
}

OnnxSummary save_onnx(const std::string& path, Module& module, const OnnxExportOptions& options) {
  const std::string bytes = export_onnx(module, options);
  OnnxSummary s = inspect_onnx_bytes(bytes, "export_onnx: '" + path + "'");  // checked before writing
  data::write_atomically(path, "save_onnx", bytes);
  return s;
}

OnnxSummary inspect_onnx_bytes(const std::string& bytes, const std::string& what) {
  onnx::ModelProto model;
  TANGENT_CHECK(!bytes.empty(), what, ": the file is empty, not an ONNX model");
  TANGENT_CHECK(model.ParseFromString(bytes), what, ": not a valid ONNX model (protobuf parsing failed on ",
                bytes.size(), " bytes)");
  TANGENT_CHECK(model.has_graph(), what, ": not an ONNX model (no graph)");
  check_and_infer(&model, what);
  return summarize(model, what);
}

OnnxSummary inspect_onnx(const std::string& path) { return inspect_onnx_bytes(read_file(path), "'" + path + "'"); }

}  // namespace tangent::nn
