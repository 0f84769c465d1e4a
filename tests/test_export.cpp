// Export suite: ONNX export of every supported layer, MLPs and ConvNets (each checked by the ONNX checker and shape
// inference), errors for layers without a mapping (naming the layer, writing no file), safetensors round trips and
// corrupt files, the `tangent export` CLI, and parity with independent readers: ONNX Runtime for the exported
// graphs (dynamic batch included) and a NumPy-only safetensors parser (tests/support/onnx_run.py). The parity
// tests skip when python3 lacks onnxruntime / numpy.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>
#include "support/optional.h"
#include "support/python.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <tangent/tangent.h>
#include <nlohmann/json.hpp>

#include "nn/onnx_emitter.h"
#include "nn/onnx_export.h"
#include "nn/safetensors.h"
#include "support/errors.h"

using namespace tangent;
using tangent::testing::error_message;
namespace fs = std::filesystem;

namespace {

std::vector<double> values(const Tensor& t) {
  const Tensor h = t.detach().to(kFloat64).contiguous();
  const double* p = h.data_ptr<double>();
  return std::vector<double>(p, p + h.numel());
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  const auto x = values(a), y = values(b);
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::string source_dir() {
  if (const char* s = std::getenv("TANGENT_SOURCE_DIR")) return s;
  return fs::path(__FILE__).parent_path().parent_path().string();
}
std::string script() { return source_dir() + "/tests/support/onnx_run.py"; }

using tangent::testing_support::have_ort;
using tangent::testing_support::have_python_module;
using tangent::testing_support::run_command;

std::string self_dir() { return fs::read_symlink("/proc/self/exe").parent_path().string(); }

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tangent_export_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    manual_seed(1234);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The model's outputs on ONNX Runtime for each input (one Python process for all).
  std::vector<Tensor> ort(const std::string& onnx_path, const std::vector<Tensor>& xs) {
    std::string cmd = "python3 '" + script() + "' run '" + onnx_path + "'";
    for (size_t i = 0; i < xs.size(); ++i) {
      const std::string in = path("ort_in" + std::to_string(i) + ".npy"),
                        out = path("ort_out" + std::to_string(i) + ".npy");
      fs::remove(out);
      data::write_npy(in, xs[i]);
      cmd += " '" + in + "' '" + out + "'";
    }
    std::string log;
    const int rc = run_command(cmd, &log);
    EXPECT_EQ(rc, 0) << log;
    std::vector<Tensor> ys;
    if (rc != 0) return ys;
    for (size_t i = 0; i < xs.size(); ++i) ys.push_back(data::read_npy(path("ort_out" + std::to_string(i) + ".npy")));
    return ys;
  }
  Tensor ort(const std::string& onnx_path, const Tensor& x) {
    auto ys = ort(onnx_path, std::vector<Tensor>{x});
    return ys.empty() ? Tensor() : ys[0];
  }

  // Exports `m`, checks it, and (with ONNX Runtime) compares outputs for each batch size; returns the max diff.
  double parity(nn::Module& m, const nn::OnnxExportOptions& o, const std::function<Tensor(int64_t)>& make_input,
                std::vector<int64_t> batches = {2, 5}, bool softmax_ref = false) {
    const std::string file = path("parity.onnx");
    nn::save_onnx(file, m, o);
    if (!have_ort()) return 0.0;
    m.eval();
    std::vector<Tensor> xs, refs;
    for (int64_t b : batches) {
      xs.push_back(make_input(b));
      NoGradGuard g;
      Tensor ref = m.forward(xs.back());
      refs.push_back(softmax_ref ? softmax(ref, -1) : ref);
    }
    const std::vector<Tensor> got = ort(file, xs);
    if (got.size() != xs.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, max_abs_diff(got[i], refs[i].to(kFloat32)));
    return worst;
  }

  std::string dir_;
};

// Parity max-abs-diffs measured in this run, printed at the end for the report.
std::map<std::string, double>& measured() {
  static std::map<std::string, double> m;
  return m;
}
struct PrintMeasured : ::testing::Environment {
  void TearDown() override {
    for (const auto& [k, v] : measured())
      std::printf("[parity] %-28s max |onnxruntime - tangent| = %.3g\n", k.c_str(), v);
  }
};
const auto* const kPrintMeasured = ::testing::AddGlobalTestEnvironment(new PrintMeasured);

Tensor randn_batch(int64_t b, const Shape& per) {
  Shape s = per;
  s.insert(0, b);
  return randn(s);
}

// ---- every layer type ----

struct LayerCase {
  std::string name;
  std::function<std::shared_ptr<nn::Module>()> make;
  Shape input;                         // one example
  std::map<std::string, int64_t> ops;  // expected operator counts (subset)
  bool int_input = false;
};

std::shared_ptr<nn::Module> seq(std::initializer_list<std::shared_ptr<nn::Module>> ms) {
  return std::make_shared<nn::Sequential>(ms);
}

std::vector<LayerCase> layer_cases() {
  using namespace nn;
  auto ntk_linear = [] {
    LinearOptions o{6, 3};
    o.parametrization = Parametrization::NTK;
    o.sigma_w = 1.5;
    o.sigma_b = 0.5;
    return std::make_shared<Linear>(o);
  };
  auto conv = [](bool ntk) {
    Conv2dOptions o;
    o.in_channels = 4;
    o.out_channels = 6;
    o.kernel_size = {3, 2};
    o.stride = {2, 1};
    o.padding = {1, 1};
    o.dilation = {1, 2};
    o.groups = 2;
    if (ntk) {
      o.parametrization = Parametrization::NTK;
      o.sigma_w = 2.0;
      o.sigma_b = 0.3;
    }
    return std::make_shared<Conv2d>(o);
  };
  auto bn = [](std::shared_ptr<BatchNorm> b) {
    b->running_mean.copy_(randn({b->num_features}));
    b->running_var.copy_(add(rand({b->num_features}), 0.5));
    b->weight.detach().copy_(randn({b->num_features}));
    b->bias.detach().copy_(randn({b->num_features}));
    return b;
  };
  auto ln = [](Shape s) {
    auto l = std::make_shared<LayerNorm>(s);
    l->weight.detach().copy_(randn(s));
    l->bias.detach().copy_(randn(s));
    return l;
  };
  auto rms = [] {
    auto r = std::make_shared<RMSNorm>(Shape{6});
    r->weight.detach().copy_(randn({6}));
    return r;
  };
  return {
      {"Linear", [] { return seq({std::make_shared<Linear>(6, 3)}); }, {6}, {{"Gemm", 1}}},
      {"LinearNoBias", [] { return seq({std::make_shared<Linear>(6, 3, false)}); }, {6}, {{"Gemm", 1}}},
      {"Linear3D", [] { return seq({std::make_shared<Linear>(6, 3)}); }, {4, 6}, {{"MatMul", 1}, {"Add", 1}}},
      {"LinearNTK", [=] { return seq({ntk_linear()}); }, {6}, {{"Gemm", 1}}},
      {"Conv2d", [=] { return seq({conv(false)}); }, {4, 7, 8}, {{"Conv", 1}}},
      {"Conv2dNTK", [=] { return seq({conv(true)}); }, {4, 7, 8}, {{"Conv", 1}}},
      {"MaxPool2d", [] { return seq({std::make_shared<MaxPool2d>(2)}); }, {3, 8, 8}, {{"MaxPool", 1}}},
      {"MaxPool2dPadded",
       [] {
         return seq({std::make_shared<MaxPool2d>(Pair{3, 3}, Pair{2, 2}, Pair{1, 1})});
       },
       {3, 9, 8},
       {{"MaxPool", 1}}},
      {"AvgPool2d",
       [] {
         return seq({std::make_shared<AvgPool2d>(Pair{3, 3}, Pair{2, 2}, Pair{1, 1})});
       },
       {3, 9, 8},
       {{"AveragePool", 1}}},
      {"AdaptiveAvgPool1x1",
       [] {
         return seq({std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1})});
       },
       {3, 6, 4},
       {{"GlobalAveragePool", 1}}},
      {"AdaptiveAvgPool2x2",
       [] {
         return seq({std::make_shared<AdaptiveAvgPool2d>(Pair{2, 2})});
       },
       {3, 6, 4},
       {{"AveragePool", 1}}},
      {"BatchNorm1d", [=] { return seq({bn(std::make_shared<BatchNorm1d>(5))}); }, {5}, {{"BatchNormalization", 1}}},
      {"BatchNorm1d3D",
       [=] { return seq({bn(std::make_shared<BatchNorm1d>(5))}); },
       {5, 7},
       {{"BatchNormalization", 1}}},
      {"BatchNorm2d",
       [=] { return seq({bn(std::make_shared<BatchNorm2d>(3))}); },
       {3, 4, 5},
       {{"BatchNormalization", 1}}},
      {"LayerNorm", [=] { return seq({ln({6})}); }, {3, 6}, {{"LayerNormalization", 1}}},
      {"LayerNorm2D",
       [=] {
         return seq({ln({3, 6})});
       },
       {3, 6},
       {{"LayerNormalization", 1}}},
      {"RMSNorm", [=] { return seq({rms()}); }, {2, 6}, {{"ReduceMean", 1}, {"Sqrt", 1}, {"Div", 1}}},
      {"ReLU", [] { return seq({std::make_shared<ReLU>()}); }, {7}, {{"Relu", 1}}},
      {"GELU", [] { return seq({std::make_shared<GELU>()}); }, {7}, {{"Erf", 1}}},
      {"GELUTanh", [] { return seq({std::make_shared<GELU>("tanh")}); }, {7}, {{"Tanh", 1}, {"Pow", 1}}},
      {"Sigmoid", [] { return seq({std::make_shared<Sigmoid>()}); }, {7}, {{"Sigmoid", 1}}},
      {"Tanh", [] { return seq({std::make_shared<Tanh>()}); }, {7}, {{"Tanh", 1}}},
      {"Erf", [] { return seq({std::make_shared<Erf>()}); }, {7}, {{"Erf", 1}}},
      {"Softplus", [] { return seq({std::make_shared<Softplus>()}); }, {7}, {{"Softplus", 1}}},
      {"SoftplusBeta2", [] { return seq({std::make_shared<Softplus>(2.0)}); }, {7}, {{"Softplus", 1}, {"Div", 1}}},
      {"SiLU", [] { return seq({std::make_shared<SiLU>()}); }, {7}, {{"Sigmoid", 1}, {"Mul", 1}}},
      {"Flatten", [] { return seq({std::make_shared<Flatten>()}); }, {2, 3, 4}, {{"Flatten", 1}}},
      {"FlattenMiddle", [] { return seq({std::make_shared<Flatten>(2, 3)}); }, {2, 3, 4, 5}, {{"Reshape", 1}}},
      {"FlattenAll", [] { return seq({std::make_shared<Flatten>(0)}); }, {2, 3}, {{"Reshape", 1}}},
      {"Dropout",
       [] {
         return seq({std::make_shared<Linear>(4, 4), std::make_shared<Dropout>(0.5)});
       },
       {4},
       {{"Gemm", 1}}},
      {"Embedding", [] { return seq({std::make_shared<Embedding>(11, 4)}); }, {5}, {{"Gather", 1}}, true},
      {"NestedSequential",
       [] {
         return seq({seq({std::make_shared<Linear>(4, 5), std::make_shared<ReLU>()}), std::make_shared<Linear>(5, 2)});
       },
       {4},
       {{"Gemm", 2}, {"Relu", 1}}},
  };
}

class ExportLayer : public ExportTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(ExportLayer, ExportsChecksAndMatchesOnnxRuntime) {
  const LayerCase c = layer_cases().at(GetParam());
  auto m = c.make();
  nn::OnnxExportOptions o;
  o.input_shape = c.input;
  const std::string file = path(c.name + ".onnx");
  ASSERT_NO_THROW(nn::save_onnx(file, *m, o));
  ASSERT_TRUE(fs::exists(file));
  const nn::OnnxSummary back = nn::inspect_onnx(file);  // checker + shape inference on the written file
  EXPECT_EQ(back.opset, 17);
  EXPECT_EQ(back.producer, "tangent 0.1.0");
  for (const auto& [op, n] : c.ops) EXPECT_EQ(back.op_counts.count(op) ? back.op_counts.at(op) : 0, n) << op;
  EXPECT_EQ(back.op_counts.count("Dropout"), 0u);
  ASSERT_EQ(back.inputs.size(), 1u);
  EXPECT_EQ(back.inputs[0].name, "input");
  EXPECT_EQ(back.inputs[0].elem_type, c.int_input ? "int64" : "float32");
  ASSERT_EQ(back.inputs[0].dims.size(), c.input.size() + 1);
  EXPECT_EQ(back.inputs[0].dims[0], "batch");
  ASSERT_EQ(back.outputs.size(), 1u);
  EXPECT_EQ(back.outputs[0].name, "output");
  // Every trainable tensor lands in an initializer (plus BN statistics and constants).
  EXPECT_GE(back.num_parameters, m->num_parameters());
  TANGENT_REQUIRE_ORT();
  const bool ints = c.int_input;
  const double d = parity(*m, o, [&](int64_t b) {
    Shape s = c.input;
    s.insert(0, b);
    return ints ? randint(0, 11, s) : randn(s);
  });
  measured()["layer " + c.name] = d;
  EXPECT_LE(d, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Export, ExportLayer, ::testing::Range<size_t>(0, layer_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return layer_cases()[info.param].name; });

TEST_F(ExportTest, GraphContents) {
  auto m = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::GELU>(), std::make_shared<nn::Linear>(8, 3)});
  nn::OnnxExportOptions o;
  o.input_shape = {4};
  o.softmax = true;
  o.metadata["note"] = "hello";
  const nn::OnnxSummary s = nn::inspect_onnx_bytes(nn::export_onnx(*m, o));
  EXPECT_EQ(s.op_counts.at("Gemm"), 2);
  EXPECT_EQ(s.op_counts.at("Softmax"), 1);
  EXPECT_EQ(s.nodes.back(), "Softmax");
  EXPECT_EQ(s.num_parameters, 4 * 8 + 8 + 8 * 3 + 3 + 3);  // + the 3 GELU constants
  EXPECT_EQ(s.outputs[0].dims, (std::vector<std::string>{"batch", "3"}));
  std::map<std::string, std::string> meta(s.metadata.begin(), s.metadata.end());
  EXPECT_EQ(meta["producer"], "tangent 0.1.0");
  EXPECT_EQ(meta["softmax"], "true");
  EXPECT_EQ(meta["note"], "hello");
  EXPECT_EQ(meta["batch"], "dynamic");
  // A fixed batch.
  o.batch = 3;
  const nn::OnnxSummary f = nn::inspect_onnx_bytes(nn::export_onnx(*m, o));
  EXPECT_EQ(f.inputs[0].dims, (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(f.outputs[0].dims, (std::vector<std::string>{"3", "3"}));
  const std::string text = f.str();
  EXPECT_NE(text.find("input: float32 [3, 4]"), std::string::npos) << text;
  EXPECT_NE(text.find("Gemm: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("parameters: 70 in "), std::string::npos) << text;
}

TEST_F(ExportTest, MLPVariantsMatchOnnxRuntime) {
  struct Case {
    std::string name, activation;
    bool ntk;
    double dropout;
  };
  const std::vector<Case> cases = {
      {"mlp relu", "relu", false, 0.0},           {"mlp gelu", "gelu", false, 0.0},
      {"mlp gelu_tanh", "gelu_tanh", false, 0.0}, {"mlp silu", "silu", false, 0.0},
      {"mlp tanh", "tanh", false, 0.3},           {"mlp softplus", "softplus", false, 0.0},
      {"mlp ntk relu", "relu", true, 0.0},        {"mlp ntk gelu+dropout", "gelu", true, 0.2}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    models::MLPOptions mo;
    mo.input_shape = {3, 4};
    mo.hidden = {16, 8};
    mo.out_features = 5;
    mo.activation = c.activation;
    mo.dropout = c.dropout;
    mo.ntk = c.ntk;
    mo.sigma_w = 1.4;
    mo.sigma_b = 0.2;
    models::MLP mlp(mo);
    mlp.train();  // export switches to eval and back
    const nn::OnnxSummary s = nn::inspect_onnx_bytes(nn::export_onnx(mlp));
    EXPECT_TRUE(mlp.is_training());
    EXPECT_TRUE(mlp.layers->is_training());
    EXPECT_EQ(s.op_counts.at("Reshape"), 1);
    EXPECT_EQ(s.op_counts.at("Gemm"), 3);
    EXPECT_EQ(s.op_counts.count("Dropout"), 0u);
    std::map<std::string, std::string> meta(s.metadata.begin(), s.metadata.end());
    EXPECT_EQ(meta["model_kind"], "mlp");
    EXPECT_EQ(meta["model_config"], mlp.config().str());
    EXPECT_EQ(s.inputs[0].dims, (std::vector<std::string>{"batch", "3", "4"}));
    if (!have_ort()) continue;
    const double d = parity(mlp, {}, [](int64_t b) { return randn_batch(b, {3, 4}); }, {1, 2, 7});
    measured()[c.name] = d;
    EXPECT_LE(d, 1e-4);
  }
  TANGENT_REQUIRE_ORT();
}

TEST_F(ExportTest, ConvNetWithBatchNormMatchesOnnxRuntime) {
  models::ConvNetOptions co;
  co.input_shape = {2, 12, 10};
  co.channels = {4, 6};
  co.hidden = 16;
  co.num_classes = 5;
  models::ConvNet cnn(co);
  // Non-trivial running statistics: a few training-mode batches.
  for (int i = 0; i < 3; ++i) cnn.forward(randn_batch(8, co.input_shape));
  cnn.eval();
  const nn::OnnxSummary s = nn::inspect_onnx_bytes(nn::export_onnx(cnn));
  EXPECT_EQ(s.op_counts.at("Conv"), 2);
  EXPECT_EQ(s.op_counts.at("BatchNormalization"), 2);
  EXPECT_EQ(s.op_counts.at("MaxPool"), 2);
  EXPECT_EQ(s.op_counts.at("Relu"), 3);
  EXPECT_EQ(s.op_counts.at("Flatten"), 1);
  EXPECT_EQ(s.op_counts.at("Gemm"), 2);
  EXPECT_EQ(s.outputs[0].dims, (std::vector<std::string>{"batch", "5"}));
  std::map<std::string, std::string> meta(s.metadata.begin(), s.metadata.end());
  EXPECT_EQ(meta["model_kind"], "cnn");
  TANGENT_REQUIRE_ORT();
  const double d = parity(cnn, {}, [&](int64_t b) { return randn_batch(b, co.input_shape); }, {2, 5});
  measured()["convnet (bn eval)"] = d;
  EXPECT_LE(d, 1e-4);
  // With softmax appended.
  nn::OnnxExportOptions o;
  o.softmax = true;
  const double p = parity(
      cnn, o, [&](int64_t b) { return randn_batch(b, co.input_shape); }, {3}, true);
  measured()["convnet softmax"] = p;
  EXPECT_LE(p, 1e-5);
}

TEST_F(ExportTest, EmbeddingLayerNormModelMatchesOnnxRuntime) {
  auto emb = std::make_shared<nn::Embedding>(20, 8);
  auto ln = std::make_shared<nn::LayerNorm>(Shape{8});
  ln->weight.detach().copy_(randn({8}));
  ln->bias.detach().copy_(randn({8}));
  nn::Sequential m{emb,
                   ln,
                   std::make_shared<nn::Linear>(8, 16),
                   std::make_shared<nn::GELU>(),
                   std::make_shared<nn::RMSNorm>(Shape{16}),
                   std::make_shared<nn::Linear>(16, 4)};
  nn::OnnxExportOptions o;
  o.input_shape = {6};  // 6 token ids per example
  const nn::OnnxSummary s = nn::inspect_onnx_bytes(nn::export_onnx(m, o));
  EXPECT_EQ(s.inputs[0].elem_type, "int64");
  EXPECT_EQ(s.op_counts.at("Gather"), 1);
  EXPECT_EQ(s.op_counts.at("MatMul"), 2);  // Linear on [N, 6, d]
  EXPECT_EQ(s.outputs[0].dims, (std::vector<std::string>{"batch", "6", "4"}));
  TANGENT_REQUIRE_ORT();
  const double d = parity(m, o, [](int64_t b) { return randint(0, 20, {b, 6}); }, {2, 9});
  measured()["embedding+layernorm"] = d;
  EXPECT_LE(d, 1e-4);
}

// A layer with no ONNX mapping.
class Doubler : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return mul(x, 2.0); }
  std::string type_name() const override { return "Doubler"; }
};

TEST_F(ExportTest, UnsupportedLayerNamesItAndWritesNoFile) {
  models::ConvNetOptions co;
  co.input_shape = {1, 8, 8};
  co.channels = {4};
  co.hidden = 0;
  models::ConvNet cnn(co);
  cnn.features->push_back(std::make_shared<Doubler>());  // features.4
  const std::string file = path("bad.onnx");
  const std::string msg = error_message([&] { nn::save_onnx(file, cnn); });
  EXPECT_NE(msg.find("features.4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Doubler"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temporary left behind either

  // At the root, and inside a nested Sequential.
  Doubler d;
  nn::OnnxExportOptions o;
  o.input_shape = {3};
  EXPECT_NE(error_message([&] { nn::export_onnx(d, o); }).find("<root>"), std::string::npos);
  nn::Sequential s{std::make_shared<nn::Linear>(3, 3),
                   std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                       std::make_shared<nn::ReLU>(), std::make_shared<Doubler>()})};
  EXPECT_NE(error_message([&] { nn::export_onnx(s, o); }).find("'1.1' (Doubler)"), std::string::npos);

  // AdaptiveAvgPool2d to a size that does not divide the input.
  nn::Sequential a{std::make_shared<nn::AdaptiveAvgPool2d>(Pair{3, 3})};
  o.input_shape = {2, 8, 8};
  const std::string am = error_message([&] { nn::save_onnx(path("a.onnx"), a, o); });
  EXPECT_NE(am.find("'0' (AdaptiveAvgPool2d)"), std::string::npos) << am;
  EXPECT_NE(am.find("does not divide"), std::string::npos) << am;
  EXPECT_FALSE(fs::exists(path("a.onnx")));

  // A plain module needs an input shape; a wrong one is reported with the layer.
  EXPECT_NE(error_message([&] { nn::export_onnx(s); }).find("input_shape"), std::string::npos);
  o.input_shape = {5};
  EXPECT_NE(error_message([&] { nn::export_onnx(s, o); }).find("'0' (Linear)"), std::string::npos);
}

// A layer defined outside the library that registers its own emitter: the exporter needs no edit to export it.
class Tripler : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return mul(x, 3.0); }
  std::string type_name() const override { return "Tripler"; }
};

TEST_F(ExportTest, EmitterRegisteredBesideALayerExportsIt) {
  nn::Sequential s{std::make_shared<nn::Linear>(3, 4), std::make_shared<Tripler>()};
  nn::OnnxExportOptions o;
  o.input_shape = {3};
  nn::register_onnx_emitter<Tripler>("Tripler", [](Tripler&, nn::OnnxContext& c, const std::string& x) {
    EXPECT_EQ(c.path(), "1");
    EXPECT_EQ(c.sample().shape(), (Shape{2, 4}));  // the Linear's output, batch 2
    return c.node("Mul", {x, c.constant(3.0)}, "Tripler: 3 x");
  });
  const std::string file = path("tripler.onnx");
  const nn::OnnxSummary back = nn::save_onnx(file, s, o);
  EXPECT_EQ(back.nodes, (std::vector<std::string>{"Gemm", "Mul"}));
  ASSERT_EQ(back.outputs.size(), 1u);
  EXPECT_EQ(back.outputs[0].dims, (std::vector<std::string>{"batch", "4"}));
  TANGENT_REQUIRE_ORT();
  const double d = parity(s, o, [](int64_t b) { return randn({b, 3}); });
  measured()["registered emitter"] = d;
  EXPECT_LE(d, 1e-4);
}

TEST_F(ExportTest, CheckRejectsInvalidFiles) {
  std::ofstream(path("junk.onnx")) << "this is not an onnx model";
  EXPECT_NE(error_message([&] { nn::inspect_onnx(path("junk.onnx")); }).find("junk.onnx"), std::string::npos);
  std::ofstream(path("empty.onnx")).close();
  EXPECT_NE(error_message([&] { nn::inspect_onnx(path("empty.onnx")); }).find("empty"), std::string::npos);
  EXPECT_NE(error_message([&] { nn::inspect_onnx(path("missing.onnx")); }).find("missing.onnx"), std::string::npos);
  // A truncated valid model.
  nn::Sequential m{std::make_shared<nn::Linear>(4, 3)};
  nn::OnnxExportOptions o;
  o.input_shape = {4};
  const std::string bytes = nn::export_onnx(m, o);
  EXPECT_THROW(nn::inspect_onnx_bytes(bytes.substr(0, bytes.size() / 2), "half"), Error);
}

// ---- safetensors ----

nn::StateDict all_dtypes() {
  nn::StateDict d;
  d.emplace_back("f32", randn({3, 4}));
  d.emplace_back("f64", randn({2, 3}, kFloat64));
  d.emplace_back("f16", randn({5}).to(kFloat16));
  d.emplace_back("bf16", randn({2, 2, 2}).to(kBFloat16));
  d.emplace_back("i64", randint(-1000, 1000, {7}));
  d.emplace_back("bool", tensor(std::vector<bool>{true, false, false, true, true}, {5}));
  d.emplace_back("scalar", tensor(std::vector<float>{3.5f}, {}));
  d.emplace_back("empty", zeros({0, 3}));
  d.emplace_back("transposed", randn({3, 5}).t());  // non-contiguous
  return d;
}

void expect_same(const nn::StateDict& a, const nn::StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.dtype(), b[i].second.dtype());
    EXPECT_EQ(a[i].second.shape(), b[i].second.shape());
    EXPECT_EQ(values(a[i].second), values(b[i].second));
  }
}

TEST_F(ExportTest, SafetensorsRoundTripAllDtypes) {
  const nn::StateDict d = all_dtypes();
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcode \"quoted\""}};
  nn::write_safetensors(path("w.safetensors"), d, meta);
  const nn::SafeTensors back = nn::read_safetensors(path("w.safetensors"));
  expect_same(d, back.tensors);
  EXPECT_EQ(back.metadata, meta);

  // The layout: 8-byte little-endian length, JSON header padded to 8 bytes, contiguous offsets.
  const std::string bytes = nn::read_file(path("w.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["f32"]["dtype"], "F32");
  EXPECT_EQ(header["bf16"]["dtype"], "BF16");
  EXPECT_EQ(header["bool"]["dtype"], "BOOL");
  EXPECT_EQ(header["i64"]["dtype"], "I64");
  EXPECT_EQ(header["f32"]["shape"], nlohmann::json({3, 4}));
  EXPECT_EQ(header["f32"]["data_offsets"], nlohmann::json({0, 48}));
  EXPECT_EQ(header["f64"]["data_offsets"], nlohmann::json({48, 96}));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(bytes.size(), 8 + n + 48 + 48 + 10 + 16 + 56 + 5 + 4 + 0 + 60);

  // A model's state dict.
  models::MLPOptions mo;
  mo.input_shape = {4};
  mo.hidden = {6};
  models::MLP mlp(mo);
  nn::write_safetensors(path("mlp.safetensors"), mlp.state_dict());
  models::MLP other(mo);
  other.load_state_dict(nn::read_safetensors(path("mlp.safetensors")).tensors);
  expect_same(mlp.state_dict(), other.state_dict());

  EXPECT_NE(error_message([&] {
              nn::write_safetensors(path("dup.safetensors"), {{"a", zeros({1})}, {"a", zeros({1})}});
            }).find("duplicate"),
            std::string::npos);
}

TEST_F(ExportTest, SafetensorsCorruptFilesRaise) {
  const std::string good = nn::serialize_safetensors(all_dtypes(), {{"k", "v"}});
  ASSERT_NO_THROW(nn::parse_safetensors(good, "good"));
  auto fails = [&](const std::string& bytes, const std::string& expect) {
    std::ofstream(path("bad.safetensors"), std::ios::binary) << bytes;
    const std::string msg = error_message([&] { nn::read_safetensors(path("bad.safetensors")); });
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << msg;
  };
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(good[i])) << (8 * i);
  fails(good.substr(0, 5), "truncated");
  fails(good.substr(0, 8 + n / 2), "truncated");
  fails(good.substr(0, good.size() - 3), "out of range");
  fails(good + "xyz", "trailing");
  std::string huge = good;
  huge[7] = 0x7f;
  fails(huge, "header length");
  auto with_header = [&](const std::string& json, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((json.size() >> (8 * i)) & 0xff);
    return out + json + data;
  };
  fails(with_header("{\"a\": {\"dtype\": \"F32\"", ""), "not valid JSON");
  fails(with_header("[1, 2]", ""), "not an object");
  fails(with_header(R"({"a": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}})", "x"), "unsupported dtype");
  fails(with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", "xxxx"), "needs 8");
  fails(with_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
                    "xxxxxx"),
        "overlapping");
  fails(with_header(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "xxxx"), "invalid shape");
  fails(
      with_header(R"({"a": {"dtype": "F32", "shape": [0, 1099511627776, 1099511627776], "data_offsets": [0, 0]}})", ""),
      "too large");
  fails(with_header(R"({"a": {"dtype": "F32", "shape": [1]}})", "xxxx"), "data_offsets");
  fails(with_header(R"({"__metadata__": {"k": 3}})", ""), "not a string");
  fails(with_header(R"({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}})", "\x07"), "0 or 1");
  EXPECT_NE(error_message([&] { nn::read_safetensors(path("nope.safetensors")); }).find("nope.safetensors"),
            std::string::npos);
}

TEST_F(ExportTest, SafetensorsReadByNumPy) {
  TANGENT_REQUIRE_OR_SKIP(have_python_module("numpy"), "numpy for python3 (pip install numpy)");
  const nn::StateDict d = all_dtypes();
  nn::write_safetensors(path("w.safetensors"), d, {{"format", "pt"}, {"answer", "42"}});
  const std::string out = path("np");
  fs::create_directory(out);
  std::string log;
  ASSERT_EQ(run_command("python3 '" + script() + "' safetensors '" + path("w.safetensors") + "' '" + out + "'", &log),
            0)
      << log;
  std::ifstream f(out + "/index.json");
  const auto index = nlohmann::json::parse(f);
  ASSERT_EQ(index["names"].size(), d.size());
  EXPECT_EQ(index["metadata"]["answer"], "42");
  for (size_t i = 0; i < d.size(); ++i) {
    SCOPED_TRACE(d[i].first);
    EXPECT_EQ(index["names"][i], d[i].first);
    const Tensor t = data::read_npy(out + "/" + std::to_string(i) + ".npy");
    EXPECT_EQ(t.shape(), d[i].second.shape());
    EXPECT_EQ(values(t), values(d[i].second));  // exact, bf16 widened exactly to float32
  }
}

// ---- the CLI ----

TEST_F(ExportTest, CommandLine) {
  const std::string exe = self_dir() + "/tangent";
  TANGENT_REQUIRE_OR_SKIP(fs::exists(exe), "the tangent CLI beside this test (" << exe << ")");
  models::MLPOptions mo;
  mo.input_shape = {2, 3};
  mo.hidden = {8};
  mo.out_features = 4;
  mo.activation = "gelu";
  auto mlp = std::make_shared<models::MLP>(mo);
  nn::Checkpoint c;
  c.model_kind = mlp->kind();
  c.model_config = mlp->config();
  c.model_state = mlp->state_dict();
  c.metadata["data"] = "unit-test";
  nn::save_checkpoint(path("model.tgt"), c);

  std::string out;
  ASSERT_EQ(run_command(exe + " export " + path("model.tgt") + " --onnx " + path("m.onnx") + " --softmax", &out), 0)
      << out;
  EXPECT_NE(out.find("input: float32 [batch, 2, 3]"), std::string::npos) << out;
  EXPECT_NE(out.find("output: float32 [batch, 4]"), std::string::npos) << out;
  EXPECT_NE(out.find("Softmax: 1"), std::string::npos) << out;
  EXPECT_NE(out.find("parameters: "), std::string::npos) << out;

  ASSERT_EQ(run_command(exe + " export --check " + path("m.onnx"), &out), 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  EXPECT_NE(out.find("Gemm: 2"), std::string::npos) << out;
  EXPECT_NE(out.find("Erf: 1"), std::string::npos) << out;
  EXPECT_NE(out.find("model_kind: mlp"), std::string::npos) << out;
  EXPECT_NE(out.find("checkpoint.data: unit-test"), std::string::npos) << out;
  // Parameters: weights and biases, the Reshape target (2 values) and the GELU constants (3).
  EXPECT_NE(out.find("parameters: " + std::to_string(mlp->num_parameters() + 2 + 3) + " in"), std::string::npos) << out;

  ASSERT_EQ(run_command(exe + " export " + path("model.tgt") + " --onnx " + path("b.onnx") + " --batch 3", &out), 0)
      << out;
  EXPECT_NE(out.find("input: float32 [3, 2, 3]"), std::string::npos) << out;

  ASSERT_EQ(run_command(exe + " export " + path("model.tgt") + " --safetensors " + path("w.safetensors"), &out), 0)
      << out;
  const nn::SafeTensors st = nn::read_safetensors(path("w.safetensors"));
  expect_same(st.tensors, mlp->state_dict());
  EXPECT_EQ(st.metadata.at("model_kind"), "mlp");

  if (have_ort()) {
    mlp->eval();
    const double d = parity(*mlp, {}, [&](int64_t b) { return randn_batch(b, mo.input_shape); }, {2});
    EXPECT_LE(d, 1e-4);
    const Tensor x = randn_batch(3, mo.input_shape);
    Tensor ref;
    {
      NoGradGuard g;
      ref = softmax(mlp->forward(x), -1);
    }
    const double p = max_abs_diff(ort(path("m.onnx"), x), ref);
    measured()["cli mlp --softmax"] = p;
    EXPECT_LE(p, 1e-5);
  }

  // Errors: "error: ..." and exit status 1, and no file.
  std::ofstream(path("junk.onnx")) << "junk";
  EXPECT_EQ(run_command(exe + " export --check " + path("junk.onnx"), &out), 1);
  EXPECT_NE(out.find("error: "), std::string::npos) << out;
  EXPECT_EQ(run_command(exe + " export " + path("model.tgt"), &out), 1);
  EXPECT_NE(out.find("nothing to do"), std::string::npos) << out;
  EXPECT_EQ(run_command(exe + " export " + path("missing.tgt") + " --onnx " + path("x.onnx"), &out), 1);
  EXPECT_FALSE(fs::exists(path("x.onnx")));
}

}  // namespace
