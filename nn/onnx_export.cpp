// ONNX export (opset 17) with the official ONNX protobuf classes, checker and shape inference; see nn/onnx_export.h.
// The exporter walks the module tree and calls, for each module, the emitter registered for its type beside the
// layer's own code (nn/onnx_emitter.h; containers such as Sequential, MLP and ConvNet walk their children through
// OnnxContext::emit_child). A sample batch is run through each layer alongside, so every layer sees the real shape
// of its input (Linear on [N, in] vs [N, ..., in], AdaptiveAvgPool2d's divisibility, Flatten).
#include "nn/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <typeindex>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "nn/checkpoint.h"
#include "nn/data/file_io.h"
#include "nn/embedding.h"
#include "nn/model.h"
#include "nn/onnx_emitter.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace tangent::nn {

namespace {

constexpr const char* kProducerName = "tangent";
constexpr const char* kProducerVersion = "0.1.0";

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

struct Emitter {
  std::string name;
  OnnxEmitFn emit;
  bool container = false;
};

// The emitters by module type. Registrations run from static initialisers in other object files, so the map is a
// function-local static (made on first use) and never destroyed.
struct Registry {
  std::mutex mutex;
  std::unordered_map<std::type_index, Emitter> emitters;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

bool find_emitter(const Module& m, Emitter* out) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.emitters.find(std::type_index(typeid(m)));
  if (it == r.emitters.end()) return false;
  *out = it->second;
  return true;
}

std::string known_emitters() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& kv : r.emitters)
    if (!kv.second.name.empty()) names.push_back(kv.second.name);
  std::sort(names.begin(), names.end());
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

std::string label(const std::string& path) { return path.empty() ? "<root>" : path; }

}  // namespace

OnnxAttribute OnnxAttribute::integer(std::string name, int64_t v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Int;
  a.i = v;
  return a;
}
OnnxAttribute OnnxAttribute::integers(std::string name, std::vector<int64_t> v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Ints;
  a.ints = std::move(v);
  return a;
}
OnnxAttribute OnnxAttribute::real(std::string name, double v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Float;
  a.f = v;
  return a;
}

void register_onnx_emitter(std::type_index type, const std::string& name, OnnxEmitFn emit, bool container) {
  TANGENT_CHECK(emit != nullptr, "register_onnx_emitter: no emitter given for ", name);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.emitters[type] = Emitter{name, std::move(emit), container};
}

namespace detail {

// Emits the nodes and initializers of a module tree into a graph: the generic walk over the registered emitters.
class OnnxExporter {
 public:
  OnnxExporter(onnx::GraphProto* graph, const OnnxExportOptions& options) : options(options), g_(graph) {}

  // A graph input or output beyond the main ones (OnnxContext::add_input / add_output).
  struct Io {
    std::string name, value, doc;
    int32_t elem = onnx::TensorProto::FLOAT;
    std::vector<std::string> dims;
  };
  const OnnxExportOptions& options;
  std::vector<Io> inputs, outputs;
  std::vector<std::string> main_input_dims, main_output_dims;  // empty: from the samples

  void reserve(const std::string& name) { used_.insert(name); }
  // Reserves a graph input's or output's name; an Error if a value already has it.
  void claim(const std::string& name) {
    TANGENT_CHECK(!name.empty() && !used_.count(name), "export_onnx: the graph name '", name,
                  "' is empty or already taken");
    used_.insert(name);
  }

  // Emits `m` (at dotted `path`) applied to the value `x`; `sample` holds a batch of the value's shape and is
  // advanced through the module. Returns the name of the output value.
  std::string emit(Module& m, const std::string& path, const std::string& x, Tensor* sample) {
    Emitter e;
    if (!find_emitter(m, &e)) {
      if (auto* model = dynamic_cast<Model*>(&m))
        unsupported(
            m, path,
            "the '" + model->kind() + "' model kind has no ONNX exporter yet (supported: " + known_emitters() + ")");
      unsupported(m, path, "no ONNX mapping for this layer type (supported: " + known_emitters() + ")");
    }
    OnnxContext context(*this, m, path, sample);
    const std::string y = e.emit(m, context, x);
    if (e.container) return y;
    try {
      *sample = m.forward(*sample);
    } catch (const Error& err) {
      TANGENT_FAIL("export_onnx: layer '", label(path), "' (", m.type_name(), ") rejected an input of shape ",
                   sample->shape(), ": ", err.what());
    }
    return y;
  }

  // Adds a node with one output; returns the output's name (also the node's name).
  std::string add_node(const std::string& op, const std::vector<std::string>& inputs, const std::string& path,
                       const std::string& doc = "", const std::vector<OnnxAttribute>& attributes = {}) {
    const std::string name = unique((path.empty() ? std::string() : path + "/") + op);
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(name);
    if (!doc.empty()) n->set_doc_string(doc);
    for (const OnnxAttribute& attr : attributes) {
      onnx::AttributeProto* a = n->add_attribute();
      a->set_name(attr.name);
      switch (attr.kind) {
        case OnnxAttribute::Kind::Int:
          a->set_type(onnx::AttributeProto::INT);
          a->set_i(attr.i);
          break;
        case OnnxAttribute::Kind::Ints:
          a->set_type(onnx::AttributeProto::INTS);
          for (int64_t v : attr.ints) a->add_ints(v);
          break;
        case OnnxAttribute::Kind::Float:
          a->set_type(onnx::AttributeProto::FLOAT);
          a->set_f(static_cast<float>(attr.f));
          break;
      }
    }
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

  std::string int_initializer(const std::string& base, const std::vector<int64_t>& values, const std::string& doc,
                              bool scalar = false) {
    onnx::TensorProto* p = g_->add_initializer();
    const std::string name = unique(base);
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) p->add_dims(static_cast<int64_t>(values.size()));
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

  [[noreturn]] static void unsupported(const Module& m, const std::string& path, const std::string& why) {
    TANGENT_FAIL("export_onnx: cannot export layer '", label(path), "' (", m.type_name(), "): ", why);
  }

 private:
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

  onnx::GraphProto* g_;
  std::set<std::string> used_;
  std::map<std::string, std::string> constants_;
};

}  // namespace detail

std::string OnnxContext::node(const std::string& op, const std::vector<std::string>& inputs, const std::string& doc,
                              const std::vector<OnnxAttribute>& attributes) {
  return exporter_.add_node(op, inputs, path_, doc, attributes);
}
std::string OnnxContext::initializer(const std::string& local, const Tensor& t, const std::string& doc, double scale) {
  if (scale == 1.0) return exporter_.initializer(name(local), t, doc);
  // Scaled in float64, so a folded NTK scale loses nothing before the float32 rounding.
  return exporter_.initializer(name(local), mul(host_values(t, kFloat64), scale).to(kFloat32).contiguous(), doc);
}
std::string OnnxContext::number(double v) { return num_str(v); }
std::string OnnxContext::sample_shape() const {
  std::ostringstream os;
  os << sample_->shape();
  return os.str();
}
std::string OnnxContext::int_initializer(const std::string& local, const std::vector<int64_t>& values,
                                         const std::string& doc) {
  return exporter_.int_initializer(name(local), values, doc);
}
std::string OnnxContext::int_scalar(const std::string& local, int64_t value, const std::string& doc) {
  return exporter_.int_initializer(name(local), {value}, doc, /*scalar=*/true);
}
std::string OnnxContext::constant(double v) { return exporter_.constant(v); }
const OnnxExportOptions& OnnxContext::options() const { return exporter_.options; }
std::string OnnxContext::batch_dim() const {
  return exporter_.options.batch > 0 ? std::to_string(exporter_.options.batch) : std::string("batch");
}
std::string OnnxContext::add_input(const std::string& name, DType dtype, const std::vector<std::string>& dims,
                                   const std::string& doc) {
  TANGENT_CHECK(dtype == kFloat32 || dtype == kInt64, "export_onnx: graph input '", name,
                "' must be float32 or int64, got ", dtype);
  exporter_.claim(name);
  detail::OnnxExporter::Io io;
  io.name = name;
  io.elem = dtype == kInt64 ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT;
  io.dims = dims;
  io.doc = doc;
  exporter_.inputs.push_back(io);
  return name;
}
void OnnxContext::add_output(const std::string& value, const std::string& name, const std::vector<std::string>& dims,
                             const std::string& doc) {
  exporter_.claim(name);
  detail::OnnxExporter::Io io;
  io.name = name;
  io.value = value;
  io.dims = dims;
  io.doc = doc;
  exporter_.outputs.push_back(io);
}
void OnnxContext::set_main_dims(const std::vector<std::string>& input, const std::vector<std::string>& output) {
  exporter_.main_input_dims = input;
  exporter_.main_output_dims = output;
}
void OnnxContext::unsupported(const std::string& why) const { detail::OnnxExporter::unsupported(module_, path_, why); }
std::string OnnxContext::emit_child(Module& child, const std::string& local, const std::string& x) {
  return exporter_.emit(child, name(local), x, sample_);
}

namespace {

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

// Dims given as numbers ("64") or names of dynamic dims ("sequence").
void set_dims(onnx::ValueInfoProto* v, int32_t elem, const std::vector<std::string>& dims) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const std::string& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos)
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

std::string dims_str(const std::vector<std::string>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + dims[i];
  return s + "]";
}

std::string elem_name(int32_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return "float32";
    case onnx::TensorProto::DOUBLE:
      return "float64";
    case onnx::TensorProto::FLOAT16:
      return "float16";
    case onnx::TensorProto::BFLOAT16:
      return "bfloat16";
    case onnx::TensorProto::INT64:
      return "int64";
    case onnx::TensorProto::INT32:
      return "int32";
    case onnx::TensorProto::BOOL:
      return "bool";
    default:
      return onnx::TensorProto_DataType_IsValid(t) ? onnx::TensorProto_DataType_Name(t) : "?";
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
        info.dims.push_back(d.has_dim_value()   ? std::to_string(d.dim_value())
                            : d.has_dim_param() ? d.dim_param()
                                                : std::string("?"));
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
  os << "ONNX model: producer " << (producer.empty() ? "?" : producer) << ", IR version " << ir_version << ", opset "
     << opset << "\n";
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
  auto* as_model = dynamic_cast<Model*>(&module);
  const Shape per = !options.input_shape.empty() ? options.input_shape : as_model ? as_model->input_shape() : Shape();
  TANGENT_CHECK(!per.empty(),
                "export_onnx: an input_shape (one example, without the batch dim) is required to "
                "export a ",
                module.type_name(), ", which is not an nn::Model (a ready-made model)");
  DType in_dtype = options.input_dtype;
  if (in_dtype == DType::Bool)
    in_dtype = as_model ? as_model->input_dtype() : dynamic_cast<Embedding*>(first_leaf(module)) ? kInt64 : kFloat32;
  TANGENT_CHECK(
      !options.input_name.empty() && !options.output_name.empty() && options.input_name != options.output_name,
      "export_onnx: the input and output names must be distinct and non-empty, got '", options.input_name, "' and '",
      options.output_name, "'");
  TANGENT_CHECK(in_dtype == kFloat32 || in_dtype == kInt64,
                "export_onnx: the input dtype must be float32 or int64, "
                "got ",
                in_dtype);

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
  detail::OnnxExporter ex(graph, options);
  ex.reserve(options.input_name);
  ex.reserve(options.output_name);
  std::string y;
  {
    ModeGuard mode(module);
    NoGradGuard no_grad;
    y = ex.emit(module, "", options.input_name, &sample);
    if (options.softmax) {
      y = ex.add_node("Softmax", {y}, "softmax", "probabilities over the last axis",
                      {OnnxAttribute::integer("axis", -1)});
    }
  }
  TANGENT_CHECK(!options.with_past || !ex.inputs.empty(), "export_onnx: a with-past graph (past keys and values) is ",
                "only made for language models, not for a ", module.type_name(),
                as_model ? " (kind " + as_model->kind() + ")" : std::string());
  ex.finish(y, options.output_name);
  for (const auto& o : ex.outputs) ex.finish(o.value, o.name);

  onnx::ValueInfoProto* in = graph->add_input();
  in->set_name(options.input_name);
  if (ex.main_input_dims.empty())
    set_shape(in, in_elem, input_sample, dynamic, batch);
  else
    set_dims(in, in_elem, ex.main_input_dims);
  for (const auto& i : ex.inputs) {
    onnx::ValueInfoProto* v = graph->add_input();
    v->set_name(i.name);
    set_dims(v, i.elem, i.dims);
    v->set_doc_string(i.doc);
  }
  onnx::ValueInfoProto* out = graph->add_output();
  out->set_name(options.output_name);
  if (ex.main_output_dims.empty())
    set_shape(out, onnx::TensorProto::FLOAT, sample, dynamic, batch);
  else
    set_dims(out, onnx::TensorProto::FLOAT, ex.main_output_dims);
  for (const auto& o : ex.outputs) {
    onnx::ValueInfoProto* v = graph->add_output();
    v->set_name(o.name);
    set_dims(v, onnx::TensorProto::FLOAT, o.dims);
    v->set_doc_string(o.doc);
  }

  const std::string in_desc = dims_str(describe(*in).dims), out_desc = dims_str(describe(*out).dims);
  in->set_doc_string(std::string(dtype_name(in_dtype)) + " " + in_desc +
                     (in_dtype == kInt64 ? " (token / index ids)" : ""));
  out->set_doc_string(std::string("float32 ") + out_desc + (options.softmax ? " probabilities" : " outputs"));
  std::string more;
  if (!ex.inputs.empty() || !ex.outputs.empty())
    more = " (and " + std::to_string(ex.inputs.size()) + " more inputs, " + std::to_string(ex.outputs.size()) +
           " more outputs: see their doc strings)";
  graph->set_doc_string(module.type_name() + " exported by Tangent (eval mode): input '" + options.input_name + "' " +
                        in->doc_string() + " -> output '" + options.output_name + "' " + out->doc_string() + more +
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
  if (options.with_past) meta("with_past", "true");
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
