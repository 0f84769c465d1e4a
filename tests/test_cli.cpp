// End-to-end tests of the `tangent` command line (tools/tangent/): train, eval, predict and --resume run the real
// binary on a few hundred Fashion-MNIST examples, and bad invocations exit non-zero with an "error:" message
// instead of crashing. Skipped when the binary ($TANGENT_BINARY_DIR/bin/tangent) or the data set is missing.
#include <gtest/gtest.h>

#include "support/optional.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/cli_runner.h"
#include "support/runs.h"

using namespace tangent;
namespace fs = std::filesystem;

namespace {

using Result = testing_support::CliResult;
std::string slurp(const std::string& p) { return testing_support::slurp_file(p); }

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

using Cli = testing_support::CliTest;

TEST_F(Cli, TrainEvalPredictResume) {
  TANGENT_REQUIRE_OR_SKIP(have_data(), "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
  const std::string out = path("run");
  // A constant schedule, so that one epoch resumed for a second one has the learning rates of a two-epoch run.
  const std::vector<std::string> train_args{"train",        "--model",  "mlp",        "--data",    "fashion-mnist:512",
                                            "--test-limit", "256",      "--epochs",   "1",         "--batch-size",
                                            "64",           "--hidden", "32",         "--threads", "2",
                                            "--out",        out,        "--schedule", "constant"};
  Result r = run(train_args);
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("test accuracy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MLP"), std::string::npos) << r.output;  // the summary
  ASSERT_TRUE(fs::exists(out + "/model.tgt"));
  const std::string csv = slurp(out + "/metrics.csv");
  EXPECT_EQ(csv.rfind("epoch,train_loss,train_accuracy,test_loss,test_accuracy", 0), 0u) << csv;
  EXPECT_EQ(count_lines(csv), 2) << csv;
  EXPECT_EQ(slurp(out + "/curves.svg").rfind("<svg", 0), 0u);
  EXPECT_NE(slurp(out + "/curves.svg").find("</svg>"), std::string::npos);
  for (const auto& e : fs::directory_iterator(out))  // no temporary files left
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // The checkpoint rebuilds the model by itself.
  const nn::Checkpoint c = nn::load_checkpoint(out + "/model.tgt");
  EXPECT_EQ(c.model_kind, "mlp");
  EXPECT_EQ(c.epoch, 1);
  EXPECT_EQ(c.step, 8);
  EXPECT_EQ(c.model_config.get_ints("hidden"), std::vector<int64_t>{32});
  EXPECT_EQ(c.metadata.at("data"), "fashion-mnist:512");

  // eval prints an accuracy.
  r = run({"eval", out + "/model.tgt", "--data", "fashion-mnist:200"});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("accuracy "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(200 examples, test split)"), std::string::npos) << r.output;

  // predict: [N, 1, 28, 28] and flat [N, 784] inputs give [N, 10] outputs; probabilities sum to 1.
  manual_seed(51);
  const Tensor x = rand({6, 1, 28, 28});
  data::write_npy(path("x.npy"), x);
  r = run({"predict", out + "/model.tgt", "--input", path("x.npy"), "--out", path("y.npy")});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  const Tensor y = data::read_npy(path("y.npy"));
  EXPECT_EQ(y.shape(), (Shape{6, 10}));
  data::write_npy(path("flat.npy"), x.reshape({6, 784}));
  r = run({"predict", out + "/model.tgt", "--input", path("flat.npy"), "--out", path("p.npy"), "--probabilities"});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  const Tensor p = data::read_npy(path("p.npy"));
  ASSERT_EQ(p.shape(), (Shape{6, 10}));
  EXPECT_TRUE(allclose(sum(p, {1}), ones({6}), 1e-5, 1e-5));
  EXPECT_TRUE(allclose(softmax(y, 1), p, 1e-5, 1e-6));
  // A wrong input shape is a clean error.
  data::write_npy(path("bad.npy"), rand({6, 27, 28}));
  expect_clean_failure({"predict", out + "/model.tgt", "--input", path("bad.npy"), "--out", path("z.npy")},
                       "input shape");

  // --resume with --epochs 2 continues from epoch 1 (--override: the checkpoint was trained with --epochs 1).
  std::vector<std::string> resume_args = train_args;
  resume_args[8] = "2";  // --epochs
  resume_args.push_back("--resume");
  expect_clean_failure(resume_args, "the checkpoint was trained with --epochs 1, the command line says --epochs 2");
  resume_args.insert(resume_args.end(), {"--override", "epochs"});
  r = run(resume_args);
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch 2:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("epoch 1:"), std::string::npos) << r.output;  // epoch 1 is not trained again
  const std::string csv2 = slurp(out + "/metrics.csv");
  EXPECT_EQ(count_lines(csv2), 3) << csv2;
  EXPECT_EQ(csv2.substr(0, csv.size() - 1), csv.substr(0, csv.size() - 1));  // the first row is kept
  EXPECT_EQ(nn::load_checkpoint(out + "/model.tgt").epoch, 2);
  // The resumed run ends where an uninterrupted two-epoch run does: parameters and optimizer state bit for bit,
  // the same losses and accuracies per epoch.
  std::vector<std::string> full_args = train_args;
  full_args[8] = "2";
  full_args[16] = path("full");  // --out
  r = run(full_args);
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  testing_support::expect_same_run(out, path("full"));
}

TEST_F(Cli, TrainConvNet) {
  TANGENT_REQUIRE_OR_SKIP(have_data(), "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
  const std::string out = path("cnn");
  const Result r = run({"train", "--model", "cnn", "--data", "fashion-mnist:256", "--test-limit", "128", "--epochs",
                        "1", "--batch-size", "64", "--channels", "4,8", "--threads", "2", "--out", out});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("ConvNet"), std::string::npos) << r.output;
  const nn::Checkpoint c = nn::load_checkpoint(out + "/model.tgt");
  EXPECT_EQ(c.model_kind, "cnn");
  EXPECT_EQ(c.model_config.get_ints("channels"), (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(c.model_config.get_int("hidden"), 128);  // ConvNetOptions' default width
  EXPECT_EQ(count_lines(slurp(out + "/metrics.csv")), 2);

  // --hidden sets the dense layer's width (to match another model's parameter count): 28x28 -> 7x7x8 = 392
  // features, then 392 * 7 + 7 weights, and 7 * 10 + 10 in the last layer.
  const Result h = run({"train", "--model", "cnn", "--data", "fashion-mnist:64", "--test-limit", "32", "--epochs", "1",
                        "--channels", "4,8", "--hidden", "7", "--threads", "1", "--out", path("cnn7")});
  ASSERT_TRUE(h.exited && h.code == 0) << h.output;
  EXPECT_NE(h.output.find("Linear(in_features=392, out_features=7, bias=true)  # 2751 params"), std::string::npos)
      << h.output;
  EXPECT_EQ(nn::load_checkpoint(path("cnn7") + "/model.tgt").model_config.get_int("hidden"), 7);
}

// Training on .npy arrays needs no data set installed; without a test set the test metrics are NaN.
TEST_F(Cli, TrainOnNpyArrays) {
  manual_seed(53);
  const Tensor labels = randint(0, 3, {96});
  const Tensor x = add(randn({96, 2, 3}), mul(labels.to(kFloat32).reshape({96, 1, 1}), 3.0));
  data::write_npy(path("x.npy"), x);
  data::write_npy(path("y.npy"), labels);
  const std::string out = path("npy_run");
  const Result r = run({"train",
                        "--model",
                        "mlp",
                        "--hidden",
                        "16",
                        "--data",
                        "npy:" + path("x.npy") + "," + path("y.npy"),
                        "--epochs",
                        "2",
                        "--batch-size",
                        "32",
                        "--optimizer",
                        "sgd",
                        "--lr",
                        "0.1",
                        "--schedule",
                        "constant",
                        "--threads",
                        "1",
                        "--out",
                        out});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  const std::string csv = slurp(out + "/metrics.csv");
  EXPECT_EQ(count_lines(csv), 3) << csv;
  EXPECT_NE(csv.find("nan"), std::string::npos) << csv;
  const nn::Checkpoint c = nn::load_checkpoint(out + "/model.tgt");
  EXPECT_EQ(c.model_config.get_ints("input_shape"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c.model_config.get_int("out_features"), 3);
  EXPECT_EQ(c.step, 6);
  // eval on the same arrays.
  const Result e = run({"eval", out + "/model.tgt", "--data", "npy:" + path("x.npy") + "," + path("y.npy")});
  ASSERT_TRUE(e.exited && e.code == 0) << e.output;
  EXPECT_NE(e.output.find("(96 examples"), std::string::npos) << e.output;
}

TEST_F(Cli, BadInvocations) {
  // Errors caught before any data is read.
  expect_clean_failure({"train", "--model", "mlp"}, "--out");
  expect_clean_failure({"train", "--model", "resnet", "--out", path("x")}, "resnet");
  expect_clean_failure({"train", "--model", "mlp", "--epochs", "two", "--out", path("x")}, "two");
  expect_clean_failure({"eval", path("does_not_exist.tgt")}, "does_not_exist.tgt");
  expect_clean_failure({"frobnicate"}, "unknown command 'frobnicate'");
  // Errors found while running.
  manual_seed(52);
  data::write_npy(path("x.npy"), randn({20, 8}));
  data::write_npy(path("y.npy"), randint(0, 3, {20}));
  const std::string npy = "npy:" + path("x.npy") + "," + path("y.npy");
  expect_clean_failure({"train", "--model", "mlp", "--epochs", "0", "--data", npy, "--out", path("o")}, "epochs");
  expect_clean_failure({"train", "--model", "mlp", "--hidden", "8,-2", "--data", npy, "--out", path("o")}, "--hidden");
  expect_clean_failure({"train", "--model", "mlp", "--data", "npy:" + path("x.npy"), "--out", path("o")}, "labels");
  data::write_npy(path("yf.npy"), randint(0, 3, {20}).to(kFloat32));
  expect_clean_failure(
      {"train", "--model", "mlp", "--data", "npy:" + path("x.npy") + "," + path("yf.npy"), "--out", path("o")},
      "integer class indices");
  data::write_npy(path("x0.npy"), zeros({0, 8}));
  data::write_npy(path("y0.npy"), zeros({0}, kInt64));
  expect_clean_failure(
      {"train", "--model", "mlp", "--data", "npy:" + path("x0.npy") + "," + path("y0.npy"), "--out", path("o")},
      "is empty");
  nn::save_checkpoint(path("tiny.tgt"), [] {
    nn::Checkpoint t;
    models::MLPOptions o;
    o.input_shape = {8};
    o.out_features = 3;
    models::MLP m(o);
    t.model_kind = m.kind();
    t.model_config = m.config();
    t.model_state = m.state_dict();
    return t;
  }());
  expect_clean_failure({"eval", path("tiny.tgt"), "--data", npy, "--batch-size", "0"}, "--batch-size");
  expect_clean_failure(
      {"predict", path("tiny.tgt"), "--input", path("x.npy"), "--out", path("y2.npy"), "--batch-size", "0"},
      "--batch-size");
  { std::ofstream(path("garbage.tgt")) << "this is not a checkpoint"; }
  expect_clean_failure({"eval", path("garbage.tgt")}, "not a Tangent checkpoint");
  expect_clean_failure({"predict", path("garbage.tgt"), "--input", path("x.npy"), "--out", path("y.npy")},
                       "not a Tangent checkpoint");
  // A truncated real checkpoint.
  nn::Checkpoint c;
  c.model_kind = "mlp";
  c.model_state = {{"w", ones({64})}};
  nn::save_checkpoint(path("real.tgt"), c);
  const std::string bytes = slurp(path("real.tgt"));
  std::ofstream(path("cut.tgt"), std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  expect_clean_failure({"eval", path("cut.tgt")}, "truncated");
  // A valid checkpoint whose model config is unusable.
  expect_clean_failure({"eval", path("real.tgt"), "--data", npy}, "config");
  // Bad data specifications.
  expect_clean_failure({"train", "--model", "mlp", "--data", "nosuchdata", "--out", path("o")}, "nosuchdata");
  expect_clean_failure({"train", "--model", "mlp", "--data", "npy:" + path("missing.npy"), "--out", path("o")},
                       "missing.npy");
}

}  // namespace
