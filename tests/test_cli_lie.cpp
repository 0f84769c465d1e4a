// End-to-end tests of `tangent` with --model lie: train (options in the checkpoint), resume, eval, predict
// (deterministic in eval mode), ntk with the jacobian and auto methods, the export error, and flag errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <tangent/tangent.h>
#include "support/cli_runner.h"
#include "support/optional.h"

using namespace tangent;
using testing_support::CliResult;

namespace {

class CliLie : public testing_support::CliTest {
 protected:
  CliResult run_ok(const std::vector<std::string>& args) const {
    const CliResult r = run(args);
    EXPECT_TRUE(r.exited && r.code == 0) << r.output;
    return r;
  }
};

}  // namespace

TEST_F(CliLie, TrainResumeEvalPredictNtkAndExportError) {
  TANGENT_REQUIRE_OR_SKIP(have_data(), "the Fashion-MNIST data set");
  const std::string dir = path("run");
  const std::vector<std::string> train = {"train",
                                          "--model",
                                          "lie",
                                          "--group",
                                          "gl2",
                                          "--samples",
                                          "2",
                                          "--channels",
                                          "3",
                                          "--kernel-size",
                                          "3",
                                          "--data",
                                          "fashion-mnist:48",
                                          "--test-limit",
                                          "16",
                                          "--batch-size",
                                          "16",
                                          "--threads",
                                          "1",
                                          "--out",
                                          dir};
  std::vector<std::string> one = train;
  one.insert(one.end(), {"--epochs", "1"});
  run_ok(one);
  const nn::Checkpoint c = nn::load_checkpoint(dir + "/model.tgt");
  EXPECT_EQ(c.model_kind, "lie");
  EXPECT_EQ(c.model_config.get_string("group"), "gl2");
  EXPECT_EQ(c.model_config.get_int("samples"), 2);
  EXPECT_EQ(c.model_config.get_int("channels"), 3);
  EXPECT_EQ(c.model_config.get_int("kernel_size"), 3);
  EXPECT_EQ(c.model_config.get_ints("input_shape"), std::vector<int64_t>({1, 28, 28}));

  const CliResult resumed = run_ok({"train", "--resume", "--out", dir, "--epochs", "2", "--override", "epochs"});
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
  EXPECT_EQ(nn::load_checkpoint(dir + "/model.tgt").epoch, 2);

  const CliResult ev = run_ok({"eval", dir + "/model.tgt", "--data", "fashion-mnist-test:16"});
  EXPECT_NE(ev.output.find("(16 examples"), std::string::npos) << ev.output;

  data::write_npy(path("x.npy"), rand({3, 1, 28, 28}));
  run_ok({"predict", dir + "/model.tgt", "--input", path("x.npy"), "--out", path("y1.npy")});
  run_ok({"predict", dir + "/model.tgt", "--input", path("x.npy"), "--out", path("y2.npy")});
  const Tensor y1 = data::read_npy(path("y1.npy"));
  EXPECT_EQ(y1.shape(), Shape({3, 10}));
  EXPECT_TRUE(equal(y1, data::read_npy(path("y2.npy"))));  // eval-mode samples are fixed

  run_ok({"ntk", dir + "/model.tgt", "--data", "fashion-mnist:2", "--method", "jacobian", "--out", path("kj.npy")});
  const CliResult a =
      run_ok({"ntk", dir + "/model.tgt", "--data", "fashion-mnist:2", "--method", "auto", "--out", path("ka.npy")});
  EXPECT_NE(a.output.find("jacobian for lift.net.weight0"), std::string::npos) << a.output;
  const Tensor kj = data::read_npy(path("kj.npy")), ka = data::read_npy(path("ka.npy"));
  EXPECT_TRUE(allclose(ka, kj, 1e-6, 0)) << ka << kj;

  expect_clean_failure({"export", dir + "/model.tgt", "--onnx", path("m.onnx")},
                       "'lie' model kind has no ONNX exporter");
  EXPECT_FALSE(std::filesystem::exists(path("m.onnx")));
}

TEST_F(CliLie, FlagErrors) {
  expect_clean_failure({"train", "--model", "cnn", "--group", "gl2", "--out", path("a")}, "--group is for --model lie");
  expect_clean_failure({"train", "--model", "mlp", "--samples", "4", "--out", path("a")},
                       "--samples is for --model lie");
  expect_clean_failure({"train", "--model", "lie", "--group", "se2", "--out", path("a")}, "--group");
  TANGENT_REQUIRE_OR_SKIP(have_data(), "the Fashion-MNIST data set");
  expect_clean_failure(
      {"train", "--model", "lie", "--channels", "4,8", "--data", "fashion-mnist:8", "--out", path("a")},
      "--channels for --model lie is one number");
  EXPECT_FALSE(std::filesystem::exists(path("a")));
}
