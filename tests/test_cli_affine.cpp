// End-to-end tests of the affine benchmark on the command line: `tangent data affine-fashion-mnist` on small IDX
// files made here (no data set needed), `tangent train|eval --data DIR`, --train-limit, --augment affine and its
// resume, and the errors of the new flags.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/cli_runner.h"
#include "support/runs.h"

using namespace tangent;
namespace fs = std::filesystem;

namespace {

using Result = testing_support::CliResult;

class CliAffine : public testing_support::CliTest {
 protected:
  void SetUp() override {
    testing_support::CliTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    // 48 training and 12 test images of 12x12: a bright bar whose orientation is the label (3 classes).
    auto images = [](int64_t n, uint64_t seed) {
      manual_seed(seed);
      Tensor x = zeros({n, 12, 12}, kInt64);
      int64_t* d = x.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 2; k < 10; ++k) {
          const int64_t label = i % 3, y = label == 0 ? 6 : k, xx = label == 1 ? 6 : k;
          d[(i * 12 + y) * 12 + xx] = 100 + (i * 7 + k * 13) % 150;
        }
      return x;
    };
    auto labels = [](int64_t n) {
      std::vector<int64_t> v;
      for (int64_t i = 0; i < n; ++i) v.push_back(i % 3);
      return tensor(v, {n});
    };
    data::write_idx(path("train-images"), images(48, 1));
    data::write_idx(path("train-labels"), labels(48));
    data::write_idx(path("test-images"), images(12, 2));
    data::write_idx(path("test-labels"), labels(12));
  }
  std::vector<std::string> data_args(const std::string& out, const std::string& seed = "3") const {
    return {"data",           "affine-fashion-mnist",
            "--out",          out,
            "--seed",         seed,
            "--versions",     "2",
            "--train-images", path("train-images"),
            "--train-labels", path("train-labels"),
            "--test-images",  path("test-images"),
            "--test-labels",  path("test-labels")};
  }
  std::string make_data() const {
    const Result r = run(data_args(path("bench")));
    EXPECT_TRUE(r.exited && r.code == 0) << r.output;
    return path("bench");
  }
};

const char* const kFiles[] = {"train-images-idx3-ubyte",       "train-labels-idx1-ubyte",
                              "test-images-idx3-ubyte",        "test-labels-idx1-ubyte",
                              "test-affine-images-idx3-ubyte", "test-affine-labels-idx1-ubyte",
                              "test-affine-params.npy"};

}  // namespace

TEST_F(CliAffine, DataWritesTheBenchmarkDeterministically) {
  Result r = run(data_args(path("a")));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("48 training and 12 test images centred on 24x24, 24 transformed test images"),
            std::string::npos)
      << r.output;
  for (const char* f : kFiles) EXPECT_TRUE(fs::exists(path("a") + "/" + f)) << f;
  for (const auto& e : fs::directory_iterator(path("a")))  // no temporary files left
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_EQ(data::read_idx(path("a") + "/test-affine-images-idx3-ubyte").shape(), (Shape{24, 24, 24}));
  EXPECT_EQ(data::read_npy(path("a") + "/test-affine-params.npy").shape(), (Shape{24, 6}));
  // The same seed gives the same bytes; another seed other transforms (the centred sets stay the same).
  r = run(data_args(path("b")));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  r = run(data_args(path("c"), "4"));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  for (const char* f : kFiles) {
    const std::string a = testing_support::slurp_file(path("a") + "/" + f);
    EXPECT_EQ(a, testing_support::slurp_file(path("b") + "/" + f)) << f;
    const bool transformed =
        std::string(f).find("test-affine-images") == 0 || std::string(f).find("params") != std::string::npos;
    EXPECT_EQ(a == testing_support::slurp_file(path("c") + "/" + f), !transformed) << f;
  }
}

TEST_F(CliAffine, TrainAndEvalOnTheDirectory) {
  const std::string bench = make_data();
  const std::string out = path("run");
  Result r = run({"train", "--model", "cnn", "--channels", "4", "--data", bench, "--train-limit", "30", "--epochs", "1",
                  "--batch-size", "8", "--threads", "1", "--out", out});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("data: 30 training examples, 12 test"), std::string::npos) << r.output;
  const nn::Checkpoint c = nn::load_checkpoint(out + "/model.tgt");
  EXPECT_EQ(c.model_config.get_ints("input_shape"), (std::vector<int64_t>{1, 24, 24}));  // taken from the data
  EXPECT_EQ(c.step, 4);                                                                  // ceil(30 / 8)
  EXPECT_EQ(c.metadata.at("flag.train-limit"), "30");
  EXPECT_EQ(c.metadata.at("flag.augment"), "none");
  // eval: the centred and the transformed test sets.
  r = run({"eval", out + "/model.tgt", "--data", bench});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("(12 examples, test split)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(24 examples, test-affine split)"), std::string::npos) << r.output;
  r = run({"eval", out + "/model.tgt", "--data", bench, "--train"});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("(48 examples, train split)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("test-affine"), std::string::npos) << r.output;
  // The MLP takes the same data; --train-limit larger than the set keeps it all.
  r = run({"train", "--model", "mlp", "--hidden", "8", "--data", bench, "--train-limit", "1000", "--epochs", "1",
           "--batch-size", "16", "--threads", "1", "--out", path("mlp")});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("data: 48 training examples"), std::string::npos) << r.output;
  EXPECT_EQ(nn::load_checkpoint(path("mlp") + "/model.tgt").step, 3);
  // A model trained on other shapes is a clear error, not a crash.
  data::write_npy(path("x.npy"), rand({6, 1, 8, 8}));
  data::write_npy(path("y.npy"), tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2}, {6}));
  r = run({"train", "--model", "mlp", "--hidden", "4", "--data", "npy:" + path("x.npy") + "," + path("y.npy"),
           "--epochs", "1", "--threads", "1", "--out", path("small")});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  expect_clean_failure({"eval", path("small") + "/model.tgt", "--data", bench}, "have shape [1, 24, 24]");
}

// --augment affine: a resumed run ends bit for bit where an uninterrupted one does, and it does change training.
TEST_F(CliAffine, AugmentResumesBitIdentically) {
  const std::string bench = make_data();
  auto args = [&](const std::string& out, const std::string& epochs, const std::string& augment) {
    return std::vector<std::string>{"train", "--model",    "cnn",      "--channels",   "4",     "--data",
                                    bench,   "--epochs",   epochs,     "--batch-size", "16",    "--threads",
                                    "1",     "--schedule", "constant", "--augment",    augment, "--seed",
                                    "5",     "--out",      out};
  };
  Result r = run(args(path("full"), "2", "affine"));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  r = run(args(path("half"), "1", "affine"));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  std::vector<std::string> resume = args(path("half"), "2", "affine");
  resume.insert(resume.end(), {"--resume", "--override", "epochs"});
  r = run(resume);
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  testing_support::expect_same_run(path("half"), path("full"));
  EXPECT_EQ(nn::load_checkpoint(path("full") + "/model.tgt").metadata.at("flag.augment"), "affine");
  // Without augmentation the same run trains on other images, so it ends elsewhere.
  r = run(args(path("plain"), "2", "none"));
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  const nn::Checkpoint plain = nn::load_checkpoint(path("plain") + "/model.tgt");
  const nn::Checkpoint full = nn::load_checkpoint(path("full") + "/model.tgt");
  ASSERT_EQ(plain.model_state.size(), full.model_state.size());
  EXPECT_FALSE(equal(plain.model_state[0].second, full.model_state[0].second));
  // Resuming with another --augment is refused.
  std::vector<std::string> other = args(path("half"), "2", "none");
  other.push_back("--resume");
  expect_clean_failure(other, "--augment");
}

TEST_F(CliAffine, BadFlagsAreErrors) {
  const std::vector<std::string> base = data_args(path("o"));
  auto with = [&](const std::string& flag, const std::string& value) {
    std::vector<std::string> a = base;
    a.insert(a.end(), {flag, value});
    return a;
  };
  expect_clean_failure(with("--versions", "0"), "--versions");
  expect_clean_failure(with("--padding", "-1"), "--padding");
  expect_clean_failure(with("--rotation", "200"), "--rotation");
  expect_clean_failure(with("--scale-min", "0"), "--scale-min");
  expect_clean_failure(with("--scale-max", "0.5"), "--scale-min 0.8 is more than --scale-max 0.5");
  expect_clean_failure({"data", "affine-fashion-mnist", "--out", path("o"), "--train-images", path("train-images")},
                       "give all four of --train-images");
  expect_clean_failure(
      {"data", "affine-fashion-mnist", "--out", path("o"), "--train-images", path("nope"), "--train-labels",
       path("train-labels"), "--test-images", path("test-images"), "--test-labels", path("test-labels")},
      "nope");
  std::vector<std::string> swapped = base;
  swapped[15] = path("train-labels");  // --test-labels: 48 labels for 12 test images
  expect_clean_failure(swapped, "12 images but");
  expect_clean_failure({"data", "affine-fashion-mnist"}, "--out");
  expect_clean_failure({"data"}, "name the data set to write: affine-fashion-mnist");
  expect_clean_failure({"data", "affnist", "--out", path("o")}, "affnist");
  EXPECT_FALSE(fs::exists(path("o")));  // nothing written by a failed command
  // Fashion-MNIST missing where the environment says it is.
  const char* old = std::getenv("TANGENT_FASHION_MNIST");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("TANGENT_FASHION_MNIST", path("no-such-dir").c_str(), 1);
  expect_clean_failure({"data", "affine-fashion-mnist", "--out", path("o")}, "no-such-dir");
  if (old != nullptr)
    ::setenv("TANGENT_FASHION_MNIST", saved.c_str(), 1);
  else
    ::unsetenv("TANGENT_FASHION_MNIST");

  // train: the new flags.
  const std::string bench = make_data();
  const std::vector<std::string> train = {"train", "--model", "cnn", "--data", bench, "--out", path("t")};
  auto train_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = train;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_clean_failure(train_with({"--train-limit", "0"}), "--train-limit");
  expect_clean_failure(train_with({"--train-limit", "many"}), "--train-limit");
  expect_clean_failure(train_with({"--augment", "rotate"}), "rotate");
  expect_clean_failure({"train", "--model", "transformer", "--augment", "affine", "--out", path("t")},
                       "--augment is for image classifiers");
  data::write_npy(path("x.npy"), randn({8, 5}));
  data::write_npy(path("y.npy"), tensor(std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1}, {8}));
  expect_clean_failure({"train", "--model", "mlp", "--augment", "affine", "--data",
                        "npy:" + path("x.npy") + "," + path("y.npy"), "--out", path("t")},
                       "needs float32 images");
  fs::create_directories(path("empty"));
  expect_clean_failure({"train", "--model", "cnn", "--data", path("empty"), "--out", path("t")},
                       "has no train-images-idx3-ubyte");
  expect_clean_failure({"eval", path("nope.tgt"), "--data", bench}, "nope.tgt");
  EXPECT_FALSE(fs::exists(path("t")));
}
