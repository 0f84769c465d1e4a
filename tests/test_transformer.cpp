// The character-level language model: rotary embedding, causal key convolution, MultiheadAttention,
// TransformerBlock and GPT (shapes, causality for every attention kind, float64 gradchecks, checkpoint round
// trip, sampling), character-level text data, and the Trainer on token targets.
#include <gtest/gtest.h>

#include "support/optional.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <tangent/tangent.h>

#include "support/gradcheck.h"

using namespace tangent;
using tangent::testing::all_close;
using tangent::testing::gradcheck;
using tangent::testing::max_abs_diff;
namespace fs = std::filesystem;

namespace {

const AttentionKind kKinds[] = {AttentionKind::Softmax, AttentionKind::Sigmoid, AttentionKind::MoBA};

nn::MultiheadAttentionOptions mha_options(AttentionKind kind, int64_t e = 8, int64_t h = 2) {
  nn::MultiheadAttentionOptions o;
  o.embed_dim = e;
  o.num_heads = h;
  o.kind = kind;
  o.causal = true;
  o.rotary = true;
  o.moba_block_size = 2;
  o.moba_top_k = 2;
  o.fused = false;
  return o;
}

models::GPTOptions tiny_gpt(const std::string& attention, int64_t vocab = 7) {
  models::GPTOptions o;
  for (int64_t i = 0; i < vocab; ++i) o.vocab.push_back('a' + i);
  o.context = 8;
  o.layers = 2;
  o.heads = 2;
  o.dim = 8;
  o.attention = attention;
  o.moba_block = 2;
  o.moba_top_k = 2;
  o.fused = false;  // the fused kernels are compared with the reference in FusedMatchesReference
  return o;
}

// Logits at positions <= t must not change when tokens after t change.
void expect_causal(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& x_changed, int64_t t,
                   const std::string& what) {
  const Tensor a = f(x), b = f(x_changed);
  EXPECT_LT(max_abs_diff(a.narrow(1, 0, t + 1), b.narrow(1, 0, t + 1)), 1e-5) << what;
  EXPECT_GT(max_abs_diff(a.narrow(1, t + 1, a.size(1) - t - 1), b.narrow(1, t + 1, b.size(1) - t - 1)), 1e-6)
      << what << ": later positions should see the change";
}

}  // namespace

// ---- rotary ----

TEST(Rotary, Gradcheck) {
  manual_seed(1);
  const Tensor x = randn({2, 3, 5, 4}, kFloat64).requires_grad_();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return nn::functional::rotary_embedding(in[0], 2); }, {x}));
}

TEST(Rotary, RelativePositions) {
  // <RoPE(q) at i, RoPE(k) at j> depends only on i - j; position 0 is unrotated; norms are preserved.
  manual_seed(2);
  const Tensor q = randn({1, 1, 1, 8}, kFloat64), k = randn({1, 1, 1, 8}, kFloat64);
  auto rot = [](const Tensor& v, int64_t pos) { return nn::functional::rotary_embedding(v, pos); };
  auto dot = [](const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item<double>(); };
  EXPECT_NEAR(dot(rot(q, 5), rot(k, 3)), dot(rot(q, 7), rot(k, 5)), 1e-12);
  EXPECT_GT(std::abs(dot(rot(q, 5), rot(k, 3)) - dot(rot(q, 5), rot(k, 4))), 1e-6);
  EXPECT_TRUE(all_close(rot(q, 0), q, 0, 1e-15));
  EXPECT_NEAR(norm(rot(q, 9)).item<double>(), norm(q).item<double>(), 1e-12);
  // A sequence rotates position t by angle t: row 3 of a 4-long sequence equals offset 3 of one row.
  const Tensor seq = randn({1, 2, 4, 8}, kFloat64);
  EXPECT_TRUE(all_close(rot(seq, 0).narrow(2, 3, 1), rot(seq.narrow(2, 3, 1), 3), 0, 1e-12));
}

TEST(Rotary, Errors) {
  try {
    nn::functional::rotary_embedding(zeros({1, 2, 3}), 0);
    FAIL() << "odd head dim accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head dim must be even"), std::string::npos) << e.what();
  }
}

// ---- causal key convolution ----

TEST(CausalConv1d, IdentityAtInitCausalAndGradcheck) {
  manual_seed(3);
  nn::CausalConv1d conv(4, 3);
  const Tensor x = randn({2, 6, 4});
  EXPECT_TRUE(all_close(conv.forward(x), x, 0, 0));
  nn::init::normal_(conv.weight);
  Tensor x2 = x.clone();
  x2.narrow(1, 4, 2).fill_(7.0);
  const Tensor y = conv.forward(x), y2 = conv.forward(x2);
  EXPECT_EQ(max_abs_diff(y.narrow(1, 0, 4), y2.narrow(1, 0, 4)), 0.0);
  EXPECT_GT(max_abs_diff(y.narrow(1, 4, 2), y2.narrow(1, 4, 2)), 1e-3);
  // y[t] = w0 x[t] + w1 x[t-1] + w2 x[t-2]
  const Tensor w = conv.weight;
  const Tensor expect = add(add(mul(x.select(1, 3), w[0]), mul(x.select(1, 2), w[1])), mul(x.select(1, 1), w[2]));
  EXPECT_TRUE(all_close(y.select(1, 3), expect, 1e-5, 1e-6));
  conv.to(kFloat64);
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return conv.forward(in[0]); },
                        {randn({2, 5, 4}, kFloat64).requires_grad_()}));
  // The weight is learnable: it receives a gradient.
  conv.forward(randn({1, 5, 4}, kFloat64)).sum().backward();
  ASSERT_TRUE(conv.weight.grad().defined());
  EXPECT_GT(norm(conv.weight.grad().narrow(0, 1, 2)).item<double>(), 0.0);
}

// ---- MultiheadAttention ----

TEST(MultiheadAttention, ShapesAndParameters) {
  manual_seed(4);
  for (AttentionKind kind : kKinds) {
    auto o = mha_options(kind, 16, 4);
    o.num_kv_heads = 2;
    nn::MultiheadAttention mha(o);
    EXPECT_EQ(mha.forward(randn({3, 6, 16})).shape(), Shape({3, 6, 16})) << attention_kind_name(kind);
    EXPECT_EQ(mha.k_proj->weight.shape(), Shape({8, 16}));  // 2 kv heads of dim 4
    EXPECT_EQ(mha.q_norm != nullptr, kind == AttentionKind::Sigmoid) << "qk_norm auto: on for sigmoid only";
  }
  auto o = mha_options(AttentionKind::MoBA);
  o.moba_key_conv = 3;
  nn::MultiheadAttention conv(o);
  ASSERT_NE(conv.key_conv, nullptr);
  EXPECT_EQ(conv.key_conv->weight.shape(), Shape({3, 8}));
}

TEST(MultiheadAttention, CausalForEveryKind) {
  manual_seed(5);
  const Tensor x = randn({2, 7, 8});
  Tensor x2 = x.clone();
  x2.narrow(1, 4, 3).copy_(randn({2, 3, 8}));
  for (AttentionKind kind : kKinds)
    for (int64_t conv : {0, 3}) {
      auto o = mha_options(kind);
      o.moba_key_conv = conv;
      o.num_kv_heads = 1;
      nn::MultiheadAttention mha(o);
      expect_causal([&](const Tensor& in) { return mha.forward(in); }, x, x2, 3,
                    std::string(attention_kind_name(kind)) + " key_conv=" + std::to_string(conv));
    }
}

TEST(MultiheadAttention, Gradcheck) {
  for (AttentionKind kind : kKinds) {
    manual_seed(6);
    auto o = mha_options(kind);
    o.num_kv_heads = 1;
    o.moba_key_conv = kind == AttentionKind::MoBA ? 3 : 0;
    nn::MultiheadAttention mha(o);
    mha.to(kFloat64);
    const Tensor x = randn({1, 5, 8}, kFloat64).requires_grad_();
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return mha.forward(in[0]); }, {x}, 1e-6, 1e-5, 1e-3,
                          attention_kind_name(kind)));
  }
}

TEST(MultiheadAttention, Errors) {
  auto o = mha_options(AttentionKind::Softmax, 8, 3);
  EXPECT_THROW(nn::MultiheadAttention{o}, Error);  // 8 % 3
  o = mha_options(AttentionKind::Softmax, 8, 2);
  o.num_kv_heads = 3;
  EXPECT_THROW(nn::MultiheadAttention{o}, Error);
  o.num_kv_heads = 0;
  o.moba_key_conv = 4;
  try {
    nn::MultiheadAttention m(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("moba_key_conv must be 0 (off), 3 or 5"), std::string::npos) << e.what();
  }
  nn::MultiheadAttention ok(mha_options(AttentionKind::Softmax));
  try {
    ok.forward(zeros({2, 3, 5}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected input [B, T, 8]"), std::string::npos) << e.what();
  }
}

// ---- TransformerBlock ----

TEST(TransformerBlock, LayerScaleAndGradcheck) {
  manual_seed(7);
  for (AttentionKind kind : kKinds) {
    nn::TransformerBlockOptions o;
    o.attention = mha_options(kind);
    o.norm = kind == AttentionKind::Softmax ? "layernorm" : "rmsnorm";
    nn::TransformerBlock block(o);
    EXPECT_EQ(block.layer_scale.defined(), kind == AttentionKind::Sigmoid) << "layer_scale auto: sigmoid only";
    if (block.layer_scale.defined()) {
      EXPECT_NEAR(block.layer_scale[0].item<double>(), 1e-4, 1e-10);
    }
    block.to(kFloat64);
    const Tensor x = randn({1, 4, 8}, kFloat64).requires_grad_();
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return block.forward(in[0]); }, {x}, 1e-6, 1e-5, 1e-3,
                          attention_kind_name(kind)));
  }
  nn::TransformerBlockOptions o;
  o.attention = mha_options(AttentionKind::Sigmoid);
  o.layer_scale = 0;
  EXPECT_FALSE(nn::TransformerBlock(o).layer_scale.defined());
  o.layer_scale = 0.5;
  EXPECT_EQ(nn::TransformerBlock(o).layer_scale[3].item<float>(), 0.5f);
}

// ---- GPT ----

TEST(GPT, ShapesCausalityAndKinds) {
  for (const char* kind : {"softmax", "sigmoid", "moba"})
    for (const char* positions : {"rotary", "learned"}) {
      manual_seed(8);
      auto o = tiny_gpt(kind);
      o.positions = positions;
      o.moba_key_conv = 3;
      models::GPT gpt(o);
      const Tensor ids = randint(0, 7, {2, 8});
      EXPECT_EQ(gpt.forward(ids).shape(), Shape({2, 8, 7}));
      EXPECT_EQ(gpt.forward(ids.narrow(1, 0, 3)).shape(), Shape({2, 3, 7}));
      Tensor changed = ids.clone();
      changed.narrow(1, 5, 3).copy_(neg(sub(ids.narrow(1, 5, 3), 6)));
      expect_causal([&](const Tensor& in) { return gpt.forward(in); }, ids, changed, 4,
                    std::string(kind) + "/" + positions);
    }
  auto o = tiny_gpt("moba");
  o.layers = 3;
  o.dense_last = 2;
  o.moba_key_conv = 3;
  models::GPT gpt(o);
  auto block = [&](size_t i) { return std::dynamic_pointer_cast<nn::TransformerBlock>((*gpt.blocks)[i]); };
  EXPECT_EQ(block(0)->attention->options.kind, AttentionKind::MoBA);
  EXPECT_NE(block(0)->attention->key_conv, nullptr);
  EXPECT_EQ(block(1)->attention->options.kind, AttentionKind::Softmax);
  EXPECT_EQ(block(2)->attention->key_conv, nullptr);
  EXPECT_EQ(gpt.input_dtype(), kInt64);
  EXPECT_EQ(gpt.input_shape(), Shape({8}));
}

TEST(GPT, Errors) {
  models::GPT gpt(tiny_gpt("softmax"));
  try {
    gpt.forward(zeros({1, 9}, kInt64));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 <= T <= 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gpt.forward(zeros({1, 4})), Error);  // float ids
  auto o = tiny_gpt("nope");
  EXPECT_THROW(models::GPT{o}, Error);
  o = tiny_gpt("softmax");
  o.vocab.clear();
  EXPECT_THROW(models::GPT{o}, Error);
}

TEST(GPT, CheckpointRoundTrip) {
  manual_seed(9);
  auto o = tiny_gpt("moba");
  o.kv_heads = 1;
  o.norm = "rmsnorm";
  o.positions = "learned";
  o.dense_last = 1;
  o.qk_norm = "layernorm";
  o.sigmoid_bias = -1.5;
  o.layer_scale = 0.1;
  o.moba_key_conv = 5;
  o.mlp_ratio = 2;
  o.tie_weights = false;
  o.bias = false;
  o.vocab = {10, 32, 200, 65};
  models::GPT gpt(o);
  const fs::path path = fs::temp_directory_path() / ("gpt_ckpt_" + std::to_string(::getpid()) + ".tgt");
  nn::Checkpoint c;
  c.model_kind = gpt.kind();
  c.model_config = gpt.config();
  c.model_state = gpt.state_dict();
  nn::save_checkpoint(path.string(), c);
  const nn::Checkpoint back = nn::load_checkpoint(path.string());
  fs::remove(path);
  auto model = models::create_model(back.model_kind, back.model_config);
  model->load_state_dict(back.model_state);
  auto* g2 = dynamic_cast<models::GPT*>(model.get());
  ASSERT_NE(g2, nullptr);
  EXPECT_EQ(g2->config().values(), gpt.config().values());
  EXPECT_EQ(g2->options.vocab, (std::vector<int64_t>{10, 32, 200, 65}));
  const Tensor ids = randint(0, 4, {2, 8});
  EXPECT_TRUE(all_close(model->forward(ids), gpt.forward(ids), 0, 0));
}

TEST(GPT, GenerateDeterministicAndGreedy) {
  manual_seed(10);
  models::GPT gpt(tiny_gpt("softmax"));
  models::GenerateOptions g;
  g.tokens = 12;  // longer than the context: the window is cropped
  g.seed = 3;
  const std::vector<int64_t> prompt = {1, 2, 3};
  const auto a = gpt.generate(prompt, g), b = gpt.generate(prompt, g);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 12u);
  g.seed = 4;
  g.temperature = 5.0;
  EXPECT_NE(gpt.generate(prompt, g), a) << "another seed (and a high temperature) should differ";
  g.temperature = 0.0;
  const auto greedy = gpt.generate(prompt, g);
  std::vector<int64_t> seq = prompt;
  int64_t start = 0;
  for (int64_t i = 0; i < 12; ++i) {  // argmax by hand, with the same window: it slides to the last 4 when full
    const int64_t len = static_cast<int64_t>(seq.size());
    if (len - start > 8) start = len - 4;
    const int64_t t = len - start;
    NoGradGuard ng;
    gpt.eval();
    const Tensor logits = gpt.forward(tensor(std::vector<int64_t>(seq.begin() + start, seq.end()), {1, t}));
    seq.push_back(argmax(logits.select(1, t - 1).reshape({7})).item<int64_t>());
  }
  EXPECT_EQ(greedy, std::vector<int64_t>(seq.begin() + 3, seq.end()));
  g.temperature = 1.0;
  g.top_k = 1;
  EXPECT_EQ(gpt.generate(prompt, g), greedy) << "top-1 sampling is greedy";
  EXPECT_THROW(gpt.generate({}, g), Error);
  EXPECT_THROW(gpt.generate({7}, g), Error);
}

// The KV cache: a prefill and then one position at a time give the logits of the whole-sequence forward, for every
// attention kind, both position kinds, GQA, the MoBA key convolution, and the fused and reference kernels.
TEST(GPT, CachedForwardMatchesForward) {
  for (const std::string kind : {"softmax", "sigmoid", "moba"})
    for (const std::string positions : {"rotary", "learned"})
      for (bool fused : {false, true}) {
        SCOPED_TRACE(kind + " " + positions + (fused ? " fused" : " reference"));
        manual_seed(21);
        auto o = tiny_gpt(kind);
        o.positions = positions;
        o.kv_heads = 1;
        o.moba_key_conv = 3;
        o.fused = fused;
        models::GPT gpt(o);
        gpt.eval();
        NoGradGuard ng;
        const Tensor ids = randint(0, 7, {2, 8});
        const Tensor full = gpt.forward(ids);
        models::GPTCache cache;
        std::vector<Tensor> parts{gpt.forward_cached(ids.narrow(1, 0, 3), cache)};
        for (int64_t t = 3; t < 8; ++t) parts.push_back(gpt.forward_cached(ids.narrow(1, t, 1), cache));
        EXPECT_EQ(cache.length(), 8);
        const Tensor cached = cat(parts, 1);
        EXPECT_EQ(cached.shape(), full.shape());
        EXPECT_LT(max_abs_diff(cached, full), 1e-5);
        EXPECT_GT(max_abs_diff(full.select(1, 7), full.select(1, 6)), 1e-3) << "the positions differ";
        // Past the context, and more than one position after the prefill, are errors.
        EXPECT_THROW(gpt.forward_cached(ids.narrow(1, 0, 1), cache), Error);
        models::GPTCache other;
        gpt.forward_cached(ids.narrow(1, 0, 2), other);
        EXPECT_THROW(gpt.forward_cached(ids.narrow(1, 2, 2), other), Error);
      }
}

// Generation with and without the cache gives the same tokens (greedy and sampled), through several slides of the
// window and from a prompt longer than the context.
TEST(GPT, GenerateSameTokensWithAndWithoutCache) {
  for (const std::string kind : {"softmax", "sigmoid", "moba"})
    for (const std::string positions : {"rotary", "learned"})
      for (double temperature : {0.0, 1.0}) {
        const bool fused = temperature > 0;  // the reference kernels for greedy, the fused ones for sampling
        SCOPED_TRACE(kind + " " + positions + " temperature " + std::to_string(temperature));
        manual_seed(22);
        auto o = tiny_gpt(kind, 16);
        o.positions = positions;
        o.fused = fused;
        o.moba_key_conv = kind == "moba" ? 3 : 0;
        models::GPT gpt(o);
        // Larger weights than the initialisation so the logits (and the sampled tokens) vary.
        {
          NoGradGuard ng;
          for (auto& p : gpt.parameters()) p.mul_(5.0);
        }
        models::GenerateOptions g;
        g.tokens = 30;
        g.temperature = temperature;
        g.seed = 5;
        for (const std::vector<int64_t>& prompt : {std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>(11, 4)}) {
          g.cache = true;
          const auto with = gpt.generate(prompt, g);
          g.cache = false;
          const auto without = gpt.generate(prompt, g);
          ASSERT_EQ(with.size(), 30u);
          EXPECT_EQ(with, without);
          EXPECT_GT(std::set<int64_t>(with.begin(), with.end()).size(), 1u) << "a constant sequence tests little";
        }
      }
}

// Several prompts at once (of mixed lengths) give each prompt the tokens it gets alone with the same seed.
TEST(GPT, GenerateBatchMatchesEachPromptAlone) {
  manual_seed(23);
  auto o = tiny_gpt("moba");
  models::GPT gpt(o);
  {
    NoGradGuard ng;
    for (auto& p : gpt.parameters()) p.mul_(5.0);
  }
  models::GenerateOptions g;
  g.tokens = 20;
  g.seed = 9;
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {4, 5}, {3, 2, 1}, std::vector<int64_t>(10, 6), {0}};
  for (bool cache : {true, false}) {
    g.cache = cache;
    const auto batch = gpt.generate_batch(prompts, g);
    ASSERT_EQ(batch.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(batch[i], gpt.generate(prompts[i], g)) << "prompt " << i;
    EXPECT_NE(batch[0], batch[2]) << "different prompts of one length should continue differently";
  }
  EXPECT_THROW(gpt.generate_batch({{1}, {}}, g), Error);
  EXPECT_THROW(gpt.generate_batch({}, g), Error);
}

// ---- text data ----

TEST(Text, VocabularyWindowsAndSplit) {
  const std::string text = "hello world, hello there!\n";  // 26 characters
  const data::TextDataset d = data::make_text_dataset(text, 4, 0.25);
  EXPECT_EQ(d.vocab.decode(d.vocab.encode(text)), text);
  EXPECT_EQ(d.vocab.size(), 12);  // \n space ! , d e h l o r t w
  EXPECT_EQ(d.vocab.bytes().front(), '\n');
  EXPECT_EQ(d.train_chars, 20);
  EXPECT_EQ(d.validation_chars, 6);
  // Training windows every 4 characters: (20 - 1) / 4 = 4 of them.
  ASSERT_EQ(d.train.size(), 4);
  ASSERT_EQ(d.validation.size(), 1);
  auto str = [&](const Tensor& row) { return d.vocab.decode(to_vector<int64_t>(row)); };
  EXPECT_EQ(str(d.train.data()[0]), "hell");
  EXPECT_EQ(str(d.train.targets()[0]), "ello");
  EXPECT_EQ(str(d.train.data()[1]), "o wo");
  EXPECT_EQ(str(d.train.data()[3]), " hel");  // characters 12..15
  EXPECT_EQ(str(d.train.targets()[3]), "hell");
  EXPECT_EQ(str(d.validation.data()[0]), "here");  // the last 6: "here!\n"
  EXPECT_EQ(str(d.validation.targets()[0]), "ere!");
  EXPECT_EQ(d.train.data().dtype(), kInt64);
  // A given vocabulary is used as is; unknown characters are errors naming them.
  const data::Vocabulary v = data::Vocabulary::from_bytes({'a', 'b'});
  EXPECT_EQ(data::make_text_dataset("abababab", 2, 0.0, &v).train.size(), 3);
  EXPECT_EQ(data::Vocabulary::from_bytes({'b', 'a'}).encode("ab"), (std::vector<int64_t>{1, 0}));  // order kept
  try {
    v.encode("abc", "generate");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("generate: the character 'c' at position 2 is not in the model's "
                                         "vocabulary"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(data::make_text_dataset("abc", 4), Error);  // too short for the context
}

TEST(Text, FilesDirectoriesAndErrors) {
  const fs::path dir = fs::temp_directory_path() / ("tangent_text_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "d");
  std::ofstream(dir / "d" / "b.txt") << "world";
  std::ofstream(dir / "d" / "a.txt") << "hello ";
  std::ofstream(dir / "d" / ".hidden") << "XX";
  std::ofstream(dir / "empty.txt").flush();
  EXPECT_EQ(data::read_text("text:" + (dir / "d").string()), "hello world");
  EXPECT_EQ(data::read_text("text:" + (dir / "d" / "b.txt").string()), "world");
  auto expect_error = [](const std::string& spec, const std::string& msg) {
    try {
      data::read_text(spec);
      FAIL() << spec;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << e.what();
    }
  };
  expect_error("text:" + (dir / "missing").string(), "no such file or directory");
  expect_error("text:" + (dir / "empty.txt").string(), "is empty");
  expect_error("shakespeare", "expected 'text:PATH' or 'fortunes'");
  fs::remove_all(dir);
  EXPECT_TRUE(data::is_text_spec("fortunes"));
  EXPECT_FALSE(data::is_text_spec("fashion-mnist"));
}

TEST(Text, Fortunes) {
  TANGENT_REQUIRE_OR_SKIP(fs::is_directory("/usr/share/games/fortunes"),
                          "the fortunes package (apt-get install fortunes)");
  const std::string text = data::read_text("fortunes");
  EXPECT_GT(text.size(), 100000u);
  EXPECT_NE(text.find("\n%\n"), std::string::npos);  // fortune separators
}

// ---- training ----

TEST(Trainer, LanguageModelLearnsAString) {
  set_num_threads(1);  // tiny tensors: threads only add contention
  manual_seed(11);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the cat sat on the mat. ";
  const data::TextDataset d = data::make_text_dataset(text, 16, 0.1);
  auto o = tiny_gpt("softmax");
  o.vocab = d.vocab.bytes();
  o.context = 16;
  o.dim = 16;
  auto gpt = std::make_shared<models::GPT>(o);
  nn::TrainOptions t;
  t.batch_size = 8;
  t.lr = 1e-2;
  t.max_steps = 40;
  t.steps_per_epoch = 4;  // of 7 batches in a pass
  t.epochs = 100;
  t.schedule = "constant";
  auto train = std::make_shared<data::TensorDataset>(d.train),
       val = std::make_shared<data::TensorDataset>(d.validation);
  const nn::EvalResult before = nn::evaluate(*gpt, *val);
  EXPECT_NEAR(before.loss, std::log(static_cast<double>(d.vocab.size())), 0.5);  // near uniform at init
  nn::Trainer trainer(gpt, gpt->kind(), gpt->config(), train, val, t);
  EXPECT_EQ(trainer.total_steps(), 40);
  while (!trainer.done()) trainer.train_epoch();
  ASSERT_EQ(trainer.history().size(), 10u);
  EXPECT_EQ(trainer.step(), 40);
  EXPECT_EQ(trainer.history()[1].step, 8);
  const nn::EpochMetrics& m = trainer.history().back();
  EXPECT_LT(m.test_loss, 0.5 * before.loss) << "validation loss " << before.loss << " -> " << m.test_loss;
  EXPECT_GT(m.test_accuracy, 0.5);
  EXPECT_NEAR(nn::bits_per_char(std::log(2.0)), 1.0, 1e-12);
  // The checkpoint's history keeps the step count.
  nn::Trainer again(gpt, gpt->kind(), gpt->config(), train, val, t);
  again.restore(trainer.checkpoint());
  EXPECT_EQ(again.history().back().step, 40);
  EXPECT_TRUE(again.done());
}

// ---- fused kernels inside the module ----

TEST(MultiheadAttention, FusedMatchesReference) {
  for (AttentionKind kind : kKinds) try {
      manual_seed(12);
      auto o = mha_options(kind, 16, 4);
      o.num_kv_heads = 2;
      o.fused = true;
      o.moba_block_size = 4;
      nn::MultiheadAttention mha(o);
      const Tensor x = randn({2, 11, 16}).requires_grad_();
      const Tensor y = mha.forward(x);
      const Tensor w = randn_like(y);
      sum(mul(y, w)).backward();
      const Tensor gx = x.grad(), gq = mha.q_proj->weight.grad();
      x.set_grad(Tensor());
      mha.zero_grad();
      mha.options.fused = false;
      const Tensor y_ref = mha.forward(x);
      sum(mul(y_ref, w)).backward();
      EXPECT_TRUE(all_close(y, y_ref, 1e-4, 1e-5)) << attention_kind_name(kind);
      EXPECT_TRUE(all_close(gx, x.grad(), 1e-4, 1e-5)) << attention_kind_name(kind);
      EXPECT_TRUE(all_close(gq, mha.q_proj->weight.grad(), 1e-4, 1e-5)) << attention_kind_name(kind);
    } catch (const Error& e) {  // report every kind, not only the first that fails
      ADD_FAILURE() << attention_kind_name(kind) << ": " << e.what();
    }
}

// ---- the command line: train, eval, generate ----

namespace {

struct CliRun {
  int code = -1;
  std::string output;
};

CliRun run_cli(const std::string& args, const fs::path& dir) {
  const char* bin = std::getenv("TANGENT_BINARY_DIR");
  const std::string binary = std::string(bin ? bin : "") + "/bin/tangent";
  const fs::path log = dir / "log.txt";
  const int status = std::system((binary + " " + args + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  CliRun r;
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST(Cli, TrainEvalGenerate) {
  const char* bin = std::getenv("TANGENT_BINARY_DIR");
  TANGENT_REQUIRE_OR_SKIP(bin != nullptr && fs::exists(std::string(bin) + "/bin/tangent"),
                          "the tangent binary ($TANGENT_BINARY_DIR/bin/tangent)");
  const fs::path dir = fs::temp_directory_path() / ("tangent_lm_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "text.txt");
    for (int i = 0; i < 60; ++i) f << "to be or not to be, that is the question.\n";
  }
  const std::string out = (dir / "run").string(), ckpt = out + "/model.tgt";
  CliRun r = run_cli("train --model transformer --attention sigmoid --data text:" + (dir / "text.txt").string() +
                         " --context 16 --layers 1 --heads 2 --dim 16 --batch-size 8 --tokens 1280 --eval-every 5 "
                         "--reference-attention --threads 1 --out " +
                         out,
                     dir);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("validation:"), std::string::npos) << r.output;
  std::ifstream csv(out + "/metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header,
            "epoch,step,train_loss,train_bpc,train_accuracy,val_loss,val_bpc,val_accuracy,seconds,"
            "tokens_per_second,lr");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 2);  // 1280 tokens = 10 steps of 8 x 16, evaluated every 5
  EXPECT_TRUE(fs::exists(out + "/curves.svg"));

  r = run_cli("eval " + ckpt + " --data text:" + (dir / "text.txt").string(), dir);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("bits per character"), std::string::npos) << r.output;

  const std::string gen = "generate " + ckpt + " --prompt 'to be' --tokens 30 --seed 7 --threads 1";
  // The text on stdout, then one line on stderr with the rate: split them.
  const auto text_of = [](const std::string& out) { return out.substr(0, out.rfind("generate: ")); };
  const CliRun a = run_cli(gen, dir), b = run_cli(gen, dir);
  ASSERT_EQ(a.code, 0) << a.output;
  const std::string text = text_of(a.output);
  EXPECT_EQ(text, text_of(b.output));
  EXPECT_EQ(text.rfind("to be", 0), 0u) << a.output;
  EXPECT_EQ(text.size(), 5u + 30u + 1u) << a.output;
  EXPECT_NE(a.output.find("generate: 30 tokens in "), std::string::npos) << a.output;
  EXPECT_NE(a.output.find(" tokens/s (KV cache)\n"), std::string::npos) << a.output;
  r = run_cli(gen + " --no-cache", dir);  // the same text without the cache
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(text_of(r.output), text);
  EXPECT_NE(r.output.find(" tokens/s (no cache)\n"), std::string::npos) << r.output;
  // Several prompts at once: each gets the text it gets alone with the same seed.
  {
    std::ofstream f(dir / "prompts.txt");
    f << "to be\nthat is the\nto be\n";
  }
  const CliRun alone = run_cli("generate " + ckpt + " --prompt 'that is the' --tokens 30 --seed 7 --threads 1", dir);
  r = run_cli("generate " + ckpt + " --prompts " + (dir / "prompts.txt").string() + " --tokens 30 --seed 7", dir);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(text_of(r.output), "=== prompt 1 of 3 ===\n" + text + "=== prompt 2 of 3 ===\n" + text_of(alone.output) +
                                   "=== prompt 3 of 3 ===\n" + text);
  EXPECT_NE(r.output.find("generate: 90 tokens in "), std::string::npos) << r.output;

  // predict on token ids [B, T] and on --text: the logits [B, T, V] of the model's forward.
  {
    const nn::Checkpoint c = nn::load_checkpoint(ckpt);
    auto model = models::create_model(c.model_kind, c.model_config);
    model->load_state_dict(c.model_state);
    model->eval();
    const auto* gpt = dynamic_cast<const models::GPT*>(model.get());
    ASSERT_NE(gpt, nullptr);
    const int64_t v = gpt->options.vocab_size();
    const Tensor ids = randint(0, v, {3, 16});
    data::write_npy((dir / "ids.npy").string(), ids);
    r = run_cli(
        "predict " + ckpt + " --input " + (dir / "ids.npy").string() + " --out " + (dir / "logits.npy").string(), dir);
    ASSERT_EQ(r.code, 0) << r.output;
    NoGradGuard ng;
    const Tensor logits = data::read_npy((dir / "logits.npy").string());
    EXPECT_EQ(logits.shape(), Shape({3, 16, v}));
    EXPECT_LT(max_abs_diff(logits, model->forward(ids)), 1e-5);
    r = run_cli("predict " + ckpt + " --text 'to be' --out " + (dir / "text.npy").string(), dir);
    ASSERT_EQ(r.code, 0) << r.output;
    const data::Vocabulary vocab = data::Vocabulary::from_bytes(gpt->options.vocab);
    const Tensor from_text = data::read_npy((dir / "text.npy").string());
    EXPECT_EQ(from_text.shape(), Shape({1, 5, v}));
    EXPECT_LT(max_abs_diff(from_text, model->forward(tensor(vocab.encode("to be"), {1, 5}))), 1e-5);
  }
  r = run_cli("generate " + ckpt + " --prompt 'to bZ' --tokens 3", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("the character 'Z' at position 4 is not in the model's vocabulary"), std::string::npos)
      << r.output;
  r = run_cli("train --model transformer --data text:" + (dir / "missing.txt").string() + " --out " + out, dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--data: cannot read '" + (dir / "missing.txt").string() + "': No such file or directory"),
            std::string::npos)
      << r.output;
  fs::remove_all(dir);
}

TEST(Trainer, LanguageModelResumeIsExact) {
  set_num_threads(1);
  std::string text;
  for (int i = 0; i < 30; ++i) text += "abcabd abdabc ";
  const data::TextDataset d = data::make_text_dataset(text, 8, 0.1);
  auto train = std::make_shared<data::TensorDataset>(d.train),
       val = std::make_shared<data::TensorDataset>(d.validation);
  auto o = tiny_gpt("sigmoid");
  o.vocab = d.vocab.bytes();
  nn::TrainOptions t;
  t.batch_size = 4;
  t.max_steps = 12;
  t.steps_per_epoch = 4;
  t.epochs = 100;
  auto make = [&] {
    manual_seed(13);
    return std::make_shared<models::GPT>(o);
  };
  auto full_model = make();
  nn::Trainer full(full_model, "transformer", full_model->config(), train, val, t);
  while (!full.done()) full.train_epoch();
  auto part_model = make();
  nn::Checkpoint mid;
  {
    nn::Trainer part(part_model, "transformer", part_model->config(), train, val, t);
    part.train_epoch();
    mid = part.checkpoint();
  }
  auto resumed_model = make();
  nn::Trainer resumed(resumed_model, "transformer", resumed_model->config(), train, val, t);
  resumed.restore(mid);
  while (!resumed.done()) resumed.train_epoch();
  ASSERT_EQ(resumed.step(), 12);
  EXPECT_EQ(resumed.history().back().test_loss, full.history().back().test_loss);
  const nn::StateDict a = full_model->state_dict(), b = resumed_model->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(all_close(a[i].second, b[i].second, 0, 0)) << a[i].first;
}
