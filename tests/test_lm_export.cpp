// Language models as deployable files: the GPT exported to ONNX (models/gpt_onnx.cpp) for every attention kind,
// run by ONNX Runtime and compared with Tangent's logits at several lengths (including lengths that are not a
// multiple of the MoBA block); the with-past graph driven by a greedy loop in Python (tests/support/onnx_run.py
// generate) against `tangent generate --temperature 0`, token for token across window slides, and the logits of
// every step against GPT::forward of its window; safetensors of an LM with the documented tensor names. Tiny models
// with weights drawn at a fixed seed (large enough that attention, routing and every branch matter).
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "nn/onnx_export.h"
#include "nn/safetensors.h"
#include "support/errors.h"
#include "support/optional.h"
#include "support/python.h"

using namespace tangent;
using tangent::testing::error_message;
namespace fs = std::filesystem;

namespace {

const std::string kAlphabet = "abcdefghijklmnopqrstuvwxyz ,.";

std::string source_dir() {
  if (const char* s = std::getenv("TANGENT_SOURCE_DIR")) return s;
  return fs::path(__FILE__).parent_path().parent_path().string();
}
std::string binary() {
  const char* b = std::getenv("TANGENT_BINARY_DIR");
  return std::string(b ? b : "") + "/bin/tangent";
}
std::string script() { return source_dir() + "/tests/support/onnx_run.py"; }

using tangent::testing_support::have_ort;
using tangent::testing_support::run_command;

class LmExport : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("tangent_lm_export_" + std::to_string(::getpid()) + "_" + test);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

models::GPTOptions tiny(const std::string& attention) {
  models::GPTOptions o;
  for (char ch : kAlphabet) o.vocab.push_back(static_cast<unsigned char>(ch));
  std::sort(o.vocab.begin(), o.vocab.end());
  o.context = 16;
  o.layers = 2;
  o.heads = 4;
  o.dim = 16;
  o.mlp_ratio = 2;
  o.attention = attention;
  o.moba_block = 4;
  o.moba_top_k = 2;
  return o;
}

// Draws every parameter at `seed`: scales 1 (+- 0.3) for norm weights and LayerScale, else N(0, 0.5).
void randomize(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard no_grad;
  for (auto& [name, p] : m.named_parameters()) {
    const bool norm_weight =
        name.find("norm") != std::string::npos && name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    if (norm_weight || name.find("layer_scale") != std::string::npos)
      nn::init::normal_(p, 1.0, 0.3, &gen);
    else
      nn::init::normal_(p, 0.0, 0.5, &gen);
  }
  m.eval();
}

std::shared_ptr<models::GPT> make_gpt(const models::GPTOptions& o, uint64_t seed) {
  auto gpt = std::make_shared<models::GPT>(o);
  randomize(*gpt, seed);
  return gpt;
}

// The model's configurations under test, by name: every attention kind, both position and norm kinds, GQA, QK-norm
// kinds, LayerScale, a fixed sigmoid bias, the MoBA key convolution and top-k, tied and untied heads, no biases.
std::map<std::string, models::GPTOptions> configurations() {
  std::map<std::string, models::GPTOptions> m;
  m["softmax"] = tiny("softmax");
  auto o = tiny("softmax");
  o.positions = "learned";
  o.norm = "rmsnorm";
  o.kv_heads = 2;
  o.tie_weights = false;
  o.bias = false;
  m["softmax_learned_rmsnorm_gqa_untied"] = o;
  o = tiny("sigmoid");  // QK-norm rmsnorm and LayerScale by default
  o.kv_heads = 2;
  m["sigmoid"] = o;
  o = tiny("sigmoid");
  o.qk_norm = "layernorm";
  o.sigmoid_bias = -1.5;
  o.layer_scale = 0.5;
  o.positions = "learned";
  o.tie_weights = false;
  m["sigmoid_layernorm_qk_learned_untied"] = o;
  o = tiny("moba");
  o.dense_last = 1;
  m["moba"] = o;
  o = tiny("moba");
  o.layers = 3;
  o.moba_top_k = 3;
  o.moba_key_conv = 3;
  o.kv_heads = 2;
  o.norm = "rmsnorm";
  o.positions = "learned";
  o.tie_weights = false;
  m["moba_top3_keyconv3_gqa"] = o;
  o = tiny("moba");
  o.moba_block = 3;
  o.moba_key_conv = 5;
  o.qk_norm = "rmsnorm";
  m["moba_block3_keyconv5_qknorm"] = o;
  o = tiny("moba");
  o.moba_block = 5;
  o.moba_top_k = 1;  // each query sees only its own block
  m["moba_top1_block5"] = o;
  o = tiny("moba");
  o.moba_top_k = 3;
  m["moba_tied_gates"] = o;  // the key projections zeroed (prepare): every gate ties, later blocks win
  return m;
}

// The model of configuration `name` with weights drawn at `seed`.
std::shared_ptr<models::GPT> prepare(const std::string& name, uint64_t seed) {
  auto gpt = make_gpt(configurations()[name], seed);
  NoGradGuard no_grad;
  if (name == "moba_tied_gates")
    for (auto& [n, p] : gpt->named_parameters())
      if (n.find("k_proj") != std::string::npos) p.zero_();
  return gpt;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  return max(sub(a.to(kFloat64), b.to(kFloat64)).abs()).item<double>();
}

}  // namespace

class LmExportKind : public LmExport, public ::testing::WithParamInterface<std::string> {};
std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// ONNX Runtime's logits against GPT::forward for each configuration at lengths 1 .. context, batch 3, in one
// session per model; the graph has dynamic batch and sequence dims and passes the checker and shape inference.
TEST_P(LmExportKind, OnnxRuntimeLogitsMatch) {
  TANGENT_REQUIRE_ORT();
  const std::vector<int64_t> lengths = {1, 4, 5, 7, 11, 13, 16};  // MoBA blocks of 4 (and 3)
  {
    const std::string name = GetParam();
    const models::GPTOptions options = configurations()[name];
    auto gpt = prepare(name, 7);
    const std::string onnx = path(name + ".onnx");
    const nn::OnnxSummary s = nn::save_onnx(onnx, *gpt);
    ASSERT_EQ(s.inputs.size(), 1u);
    EXPECT_EQ(s.inputs[0].elem_type, "int64");
    EXPECT_EQ(s.inputs[0].dims, std::vector<std::string>({"batch", "sequence"}));
    EXPECT_EQ(s.outputs[0].dims, std::vector<std::string>({"batch", "sequence", std::to_string(options.vocab_size())}));
    std::string args;
    std::vector<Tensor> ids;
    for (int64_t t : lengths) {
      Generator gen(100 + static_cast<uint64_t>(t));
      ids.push_back(randint(0, options.vocab_size(), {3, t}, TensorOptions(kInt64), &gen));
      const std::string in = path(name + "_ids" + std::to_string(t) + ".npy");
      data::write_npy(in, ids.back());
      args += " '" + in + "' '" + path(name + "_out" + std::to_string(t) + ".npy") + "'";
    }
    std::string log;
    ASSERT_EQ(run_command("python3 '" + script() + "' run '" + onnx + "'" + args, &log), 0) << log;
    NoGradGuard no_grad;
    for (size_t i = 0; i < lengths.size(); ++i) {
      const Tensor want = gpt->forward(ids[i]);
      const Tensor got = data::read_npy(path(name + "_out" + std::to_string(lengths[i]) + ".npy"));
      EXPECT_LT(max_abs_diff(got, want), 1e-4) << "length " << lengths[i];
      EXPECT_GT(max(want.abs()).item<double>(), 0.5) << "logits too small to compare";
    }
  }
}

// The with-past graph in a greedy Python loop (prefill, one token per step, restarts when the window slides) gives
// the tokens `tangent generate --temperature 0` gives, for each attention kind. 100 tokens in a context of 16: the
// window slides many times, and the cache holds up to 16 positions.
TEST_P(LmExportKind, WithPastGreedyGenerationMatchesTangentGenerate) {
  TANGENT_REQUIRE_ORT();
  TANGENT_REQUIRE_OR_SKIP(fs::exists(binary()), "the tangent binary ($TANGENT_BINARY_DIR/bin/tangent)");
  {
    const std::string name = GetParam();
    const models::GPTOptions options = configurations()[name];
    auto gpt = prepare(name, 11);
    nn::Checkpoint c;
    c.model_kind = "transformer";
    c.model_config = gpt->config();
    c.model_state = gpt->state_dict();
    const std::string ckpt = path(name + ".tgt"), onnx = path(name + "_past.onnx");
    nn::save_checkpoint(ckpt, c);
    std::string log;
    ASSERT_EQ(run_command("'" + binary() + "' export '" + ckpt + "' --onnx '" + onnx + "' --with-past", &log), 0)
        << log;
    EXPECT_NE(log.find("past_key.0: float32 [batch, " + std::to_string(options.kv_heads ? options.kv_heads : 4) +
                       ", past_sequence, 4]"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("present_value.1: float32 [batch, "), std::string::npos) << log;
    const std::string prompt = "the cat";
    ASSERT_EQ(run_command("'" + binary() + "' generate '" + ckpt + "' --prompt '" + prompt +
                              "' --tokens 100 --temperature 0 --threads 1",
                          &log),
              0)
        << log;
    log = log.substr(0, log.rfind("generate: "));  // the text on stdout, then the rate on stderr
    ASSERT_EQ(log.rfind(prompt, 0), 0u) << log;
    ASSERT_EQ(log.size(), prompt.size() + 100 + 1) << log;  // the text, then a newline
    const data::Vocabulary vocab = data::Vocabulary::from_bytes(options.vocab);
    const std::vector<int64_t> want = vocab.encode(log.substr(prompt.size(), 100), "test");
    std::string ids;
    for (int64_t id : vocab.encode(prompt, "test")) ids += " " + std::to_string(id);
    const std::string logits = path(name + "_steps.npy");
    ASSERT_EQ(run_command("python3 '" + script() + "' generate '" + onnx + "' 16 100 '" + logits + "'" + ids, &log), 0)
        << log;
    std::istringstream in(log);
    std::vector<int64_t> got;
    for (int64_t id; in >> id;) got.push_back(id);
    EXPECT_EQ(got, want) << log;
    // Each step's logits (cache lengths 0 .. 15, prefills after every slide) against the forward of its window.
    const Tensor steps = data::read_npy(logits);
    ASSERT_EQ(steps.shape(), Shape({100, options.vocab_size()}));
    std::vector<int64_t> seq = vocab.encode(prompt, "test");
    int64_t start = 0;
    double worst = 0;
    NoGradGuard no_grad;
    for (int64_t s = 0; s < 100; ++s) {
      const int64_t len = static_cast<int64_t>(seq.size());
      if (len - start > options.context) start = len - (options.context + 1) / 2;
      const std::vector<int64_t> window(seq.begin() + start, seq.end());
      const Tensor row = gpt->forward(tensor(window, {1, len - start})).select(1, len - start - 1).select(0, 0);
      worst = std::max(worst, max_abs_diff(steps.select(0, s), row));
      seq.push_back(want[static_cast<size_t>(s)]);
    }
    EXPECT_LT(worst, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Configurations, LmExportKind,
                         ::testing::Values("softmax", "softmax_learned_rmsnorm_gqa_untied", "sigmoid",
                                           "sigmoid_layernorm_qk_learned_untied", "moba", "moba_top3_keyconv3_gqa",
                                           "moba_block3_keyconv5_qknorm", "moba_top1_block5", "moba_tied_gates"),
                         param_name);

// Blocks exported on their own (in a Sequential, fixed sequence length): the registered emitters of
// TransformerBlock and MultiheadAttention run the same nodes without a cache.
TEST_F(LmExport, BlocksInASequential) {
  TANGENT_REQUIRE_ORT();
  auto sigmoid = configurations()["sigmoid"], moba = configurations()["moba_top3_keyconv3_gqa"];
  nn::Sequential seq;
  seq.push_back(std::make_shared<nn::TransformerBlock>(sigmoid.block_options(0)));
  seq.push_back(std::make_shared<nn::TransformerBlock>(moba.block_options(0)));
  seq.push_back(std::make_shared<nn::MultiheadAttention>(configurations()["softmax"].block_options(0).attention));
  randomize(seq, 5);
  nn::OnnxExportOptions e;
  e.input_shape = Shape{10, 16};
  nn::save_onnx(path("blocks.onnx"), seq, e);
  Generator gen(6);
  const Tensor x = randn({3, 10, 16}, {}, &gen);
  data::write_npy(path("x.npy"), x);
  std::string log;
  ASSERT_EQ(run_command("python3 '" + script() + "' run '" + path("blocks.onnx") + "' '" + path("x.npy") + "' '" +
                            path("y.npy") + "'",
                        &log),
            0)
      << log;
  NoGradGuard no_grad;
  const Tensor want = seq.forward(x);
  const double scale = max(want.abs()).item<double>();  // no final norm: the residual stream grows to ~100
  EXPECT_LT(max_abs_diff(data::read_npy(path("y.npy")), want), 1e-5 * scale) << scale;
  EXPECT_GT(scale, 0.5);
}

TEST_F(LmExport, WithPastIsForLanguageModelsOnly) {
  models::MLPOptions o;
  o.input_shape = Shape{4};
  o.hidden = {3};
  o.out_features = 2;
  models::MLP mlp(o);
  nn::OnnxExportOptions e;
  e.with_past = true;
  const std::string msg = error_message([&] { nn::save_onnx(path("mlp.onnx"), mlp, e); });
  EXPECT_NE(msg.find("with-past graph (past keys and values) is only made for language models, not for a MLP"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(fs::exists(path("mlp.onnx")));

  TANGENT_REQUIRE_OR_SKIP(fs::exists(binary()), "the tangent binary ($TANGENT_BINARY_DIR/bin/tangent)");
  nn::Checkpoint c;
  c.model_kind = "mlp";
  c.model_config = mlp.config();
  c.model_state = mlp.state_dict();
  nn::save_checkpoint(path("mlp.tgt"), c);
  std::string log;
  EXPECT_EQ(
      run_command("'" + binary() + "' export '" + path("mlp.tgt") + "' --onnx '" + path("m.onnx") + "' --with-past",
                  &log),
      1);
  EXPECT_NE(log.find("error: export_onnx: a with-past graph (past keys and values) is only made for language models, "
                     "not for a MLP (kind mlp)"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(path("m.onnx")));
  EXPECT_EQ(
      run_command(
          "'" + binary() + "' export '" + path("mlp.tgt") + "' --safetensors '" + path("m.st") + "' --with-past", &log),
      1);
  EXPECT_NE(log.find("error: export: --with-past applies to the ONNX graph: pass --onnx FILE"), std::string::npos)
      << log;
}

// safetensors of a language model: the state_dict names (README "Language models": the table), shapes as
// documented, values as the model's; NumPy reads the file.
TEST_F(LmExport, SafetensorsNamesAndShapes) {
  auto o = configurations()["moba_top3_keyconv3_gqa"];
  auto gpt = make_gpt(o, 3);
  nn::Checkpoint c;
  c.model_kind = "transformer";
  c.model_config = gpt->config();
  c.model_state = gpt->state_dict();
  nn::save_checkpoint(path("m.tgt"), c);
  std::string log;
  ASSERT_EQ(
      run_command("'" + binary() + "' export '" + path("m.tgt") + "' --safetensors '" + path("m.safetensors") + "'",
                  &log),
      0)
      << log;
  const nn::SafeTensors st = nn::read_safetensors(path("m.safetensors"));
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : st.tensors) shapes[name] = t.shape();
  const int64_t v = o.vocab_size(), e = 16, d = 4;
  const std::map<std::string, Shape> want_some = {
      {"token_embedding.weight", {v, e}},
      {"position_embedding.weight", {o.context, e}},
      {"blocks.0.norm1.weight", {e}},
      {"blocks.0.attention.q_proj.weight", {4 * d, e}},
      {"blocks.0.attention.q_proj.bias", {4 * d}},
      {"blocks.0.attention.k_proj.weight", {2 * d, e}},
      {"blocks.0.attention.v_proj.weight", {2 * d, e}},
      {"blocks.0.attention.out_proj.weight", {e, 4 * d}},
      {"blocks.0.attention.key_conv.weight", {3, 2 * d}},
      {"blocks.2.fc1.weight", {2 * e, e}},
      {"blocks.2.fc2.weight", {e, 2 * e}},
      {"final_norm.weight", {e}},
      {"lm_head.weight", {v, e}},
  };
  for (const auto& [name, shape] : want_some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name;
  }
  EXPECT_EQ(st.tensors.size(), gpt->state_dict().size());
  for (const auto& [name, t] : gpt->state_dict())
    for (const auto& [n2, t2] : st.tensors)
      if (n2 == name) {
        EXPECT_EQ(max_abs_diff(t, t2), 0.0) << name;
      }
  EXPECT_EQ(st.metadata.at("model_kind"), "transformer");
  EXPECT_EQ(st.metadata.at("config.moba_key_conv"), "3");
}
