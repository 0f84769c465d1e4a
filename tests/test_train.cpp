// Tests of the training loop (nn/trainer.h) on small synthetic classification problems: an MLP with dropout on
// Gaussian blobs in 8-D and a small ConvNet (batch norm + dropout) on 8x8 images learn them (loss falls, accuracy
// > 90%); a run resumed from a checkpoint file follows the uninterrupted run bit for bit (parameters, buffers,
// metrics), for SGD and Adam; evaluate() and predict() agree with direct computation.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tangent/tangent.h>

using namespace tangent;
namespace fs = std::filesystem;
namespace F = tangent::nn::functional;

namespace {

// `n` examples of `classes` Gaussian blobs in `dim` dimensions, well separated; labels int64 in [0, classes).
std::shared_ptr<data::TensorDataset> blobs(int64_t n, int64_t classes, int64_t dim, uint64_t seed) {
  Generator gen(seed);
  Generator center_gen(98);  // the same blobs for train and test sets
  const Tensor centers = mul(randn({classes, dim}, {}, &center_gen), 3.0);
  const Tensor labels = randint(0, classes, {n}, kInt64, &gen);
  const Tensor x = add(index_select(centers, 0, labels), randn({n, dim}, {}, &gen));
  return std::make_shared<data::TensorDataset>(x, labels);
}

// 8x8 single-channel images: a fixed random pattern per class plus noise.
std::shared_ptr<data::TensorDataset> images(int64_t n, int64_t classes, uint64_t seed) {
  Generator gen(seed);
  Generator pattern_gen(99);  // the same class patterns for train and test sets
  const Tensor patterns = randn({classes, 64}, {}, &pattern_gen);
  const Tensor labels = randint(0, classes, {n}, kInt64, &gen);
  const Tensor x = add(index_select(patterns, 0, labels), mul(randn({n, 64}, {}, &gen), 0.7));
  return std::make_shared<data::TensorDataset>(x.reshape({n, 1, 8, 8}), labels);
}

std::shared_ptr<models::Model> make_mlp() {
  models::MLPOptions o;
  o.input_shape = {8};
  o.hidden = {16};
  o.out_features = 3;
  o.dropout = 0.3;
  return std::make_shared<models::MLP>(o);
}

std::shared_ptr<models::Model> make_cnn() {
  models::ConvNetOptions o;
  o.input_shape = {1, 8, 8};
  o.channels = {4};
  o.hidden = 16;
  o.num_classes = 3;
  o.dropout = 0.25;
  return std::make_shared<models::ConvNet>(o);
}

nn::TrainOptions train_options(const std::string& optimizer, int64_t epochs) {
  nn::TrainOptions t;
  t.epochs = epochs;
  t.batch_size = 32;
  t.optimizer = optimizer;
  t.lr = optimizer == "sgd" ? 0.05 : 0.01;
  t.seed = 5;
  t.warmup_fraction = 0.1;
  return t;
}

TEST(Train, MLPLearnsBlobs) {
  manual_seed(41);
  auto train = blobs(300, 3, 8, 1), test = blobs(150, 3, 8, 2);
  auto model = make_mlp();
  nn::Trainer trainer(model, model->kind(), model->config(), train, test, train_options("adam", 6));
  std::vector<double> progress_loss;
  int64_t last_index = 0, total = 0;
  while (!trainer.done()) {
    trainer.train_epoch([&](int64_t i, int64_t n, double loss, double) {
      last_index = i;
      total = n;
      progress_loss.push_back(loss);
    });
  }
  EXPECT_EQ(total, 10);  // ceil(300 / 32)
  EXPECT_EQ(last_index, 10);
  EXPECT_EQ(trainer.epoch(), 6);
  EXPECT_EQ(trainer.step(), 60);
  const auto& h = trainer.history();
  ASSERT_EQ(h.size(), 6u);
  for (size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(h[i].epoch, static_cast<int64_t>(i) + 1);
    EXPECT_TRUE(std::isfinite(h[i].train_loss));
    EXPECT_GT(h[i].seconds, 0.0);
  }
  EXPECT_LT(h.back().train_loss, 0.5 * h.front().train_loss);
  EXPECT_LT(h.back().test_loss, h.front().test_loss);
  EXPECT_GT(h.back().test_accuracy, 0.9);
  EXPECT_GT(h.back().train_accuracy, 0.9);
  EXPECT_NEAR(h.back().lr, 0.0, 1e-12);  // the cosine schedule ends at 0
  EXPECT_TRUE(model->is_training());
  // evaluate() agrees with the last epoch's test metrics.
  const nn::EvalResult r = nn::evaluate(*model, *test, 64);
  EXPECT_EQ(r.count, 150);
  EXPECT_NEAR(r.accuracy, h.back().test_accuracy, 1e-12);
  EXPECT_NEAR(r.loss, h.back().test_loss, 1e-6);
}

TEST(Train, ConvNetLearnsImages) {
  manual_seed(42);
  auto train = images(240, 3, 3), test = images(90, 3, 4);
  auto model = make_cnn();
  nn::Trainer trainer(model, model->kind(), model->config(), train, test, train_options("adam", 4));
  while (!trainer.done()) trainer.train_epoch();
  const auto& h = trainer.history();
  EXPECT_LT(h.back().train_loss, h.front().train_loss);
  EXPECT_GT(h.back().test_accuracy, 0.9);
}

TEST(Train, WithoutTestSet) {
  manual_seed(43);
  auto model = make_mlp();
  nn::TrainOptions o = train_options("sgd", 1);
  o.schedule = "constant";
  nn::Trainer trainer(model, "mlp", model->config(), blobs(64, 3, 8, 1), nullptr, o);
  const nn::EpochMetrics m = trainer.train_epoch();
  EXPECT_TRUE(std::isnan(m.test_loss));
  EXPECT_TRUE(std::isnan(m.test_accuracy));
  EXPECT_EQ(m.lr, 0.05);
  EXPECT_TRUE(trainer.done());
  // NaN metrics survive the checkpoint's history encoding.
  auto fresh = make_mlp();
  nn::Trainer other(fresh, "mlp", fresh->config(), blobs(64, 3, 8, 1), nullptr, o);
  other.restore(trainer.checkpoint());
  ASSERT_EQ(other.history().size(), 1u);
  EXPECT_TRUE(std::isnan(other.history()[0].test_loss));
  EXPECT_EQ(other.history()[0].train_loss, m.train_loss);
}

// A restored trainer keeps its own hyper-parameters (a resumed run may change them on purpose): the learning rate
// comes from its options, for a constant schedule and for the cosine schedule's base lr; the state (Adam's moments
// and step counts, the schedule's position) comes from the checkpoint.
TEST(Train, RestoreKeepsTheTrainersHyperParameters) {
  for (const char* schedule : {"constant", "cosine"}) {
    SCOPED_TRACE(schedule);
    manual_seed(44);
    auto model = make_mlp();
    nn::TrainOptions o = train_options("adam", 4);
    o.schedule = schedule;
    o.warmup_fraction = 0.0;
    auto ds = blobs(64, 3, 8, 1);
    nn::Trainer trainer(model, "mlp", model->config(), ds, nullptr, o);
    trainer.train_epoch();
    const nn::Checkpoint c = trainer.checkpoint();
    nn::TrainOptions faster = o;
    faster.lr = 4 * o.lr;
    faster.weight_decay = 0.125;
    auto fresh = make_mlp();
    nn::Trainer resumed(fresh, "mlp", fresh->config(), ds, nullptr, faster);
    resumed.restore(c);
    EXPECT_EQ(resumed.step(), trainer.step());
    EXPECT_DOUBLE_EQ(resumed.optimizer().lr(), 4 * trainer.optimizer().lr());
    EXPECT_EQ(resumed.optimizer().param_groups().front().options.weight_decay, 0.125);
    const optim::OptimizerState mine = resumed.optimizer().state_dict(), saved = trainer.optimizer().state_dict();
    ASSERT_EQ(mine.tensors.size(), saved.tensors.size());
    for (size_t i = 0; i < mine.tensors.size(); ++i)
      EXPECT_TRUE(equal(mine.tensors[i].second, saved.tensors[i].second)) << mine.tensors[i].first;
  }
}

TEST(Train, OptionErrors) {
  auto model = make_mlp();
  auto ds = blobs(32, 3, 8, 1);
  auto make = [&](nn::TrainOptions o) { nn::Trainer t(model, "mlp", model->config(), ds, nullptr, o); };
  nn::TrainOptions o = train_options("lbfgs", 1);
  EXPECT_THROW(make(o), Error);
  o = train_options("adam", 1);
  o.schedule = "linear";
  EXPECT_THROW(make(o), Error);
  o = train_options("adam", 0);
  EXPECT_THROW(make(o), Error);
  o = train_options("adam", 1);
  o.lr = 0;
  EXPECT_THROW(make(o), Error);
  // Restoring a checkpoint of another kind of model.
  nn::Trainer t(model, "mlp", model->config(), ds, nullptr, train_options("adam", 1));
  nn::Checkpoint c = t.checkpoint();
  c.model_kind = "cnn";
  try {
    t.restore(c);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'cnn'"), std::string::npos) << e.what();
  }
}

// ---- resume determinism ----

struct ResumeCase {
  std::string optimizer;
  std::string model;  // "mlp" (dropout) or "cnn" (batch norm + dropout)
};

void PrintTo(const ResumeCase& c, std::ostream* os) { *os << c.optimizer << "/" << c.model; }

class TrainResume : public ::testing::TestWithParam<ResumeCase> {};

std::shared_ptr<models::Model> make(const std::string& kind) { return kind == "mlp" ? make_mlp() : make_cnn(); }

TEST_P(TrainResume, BitIdenticalToUninterrupted) {
  const ResumeCase rc = GetParam();
  auto train = rc.model == "mlp" ? blobs(200, 3, 8, 1) : images(160, 3, 3);
  auto test = rc.model == "mlp" ? blobs(60, 3, 8, 2) : images(60, 3, 4);
  const nn::TrainOptions o = train_options(rc.optimizer, 3);

  // Uninterrupted: 3 epochs.
  manual_seed(7);
  auto a = make(rc.model);
  nn::Trainer ta(a, a->kind(), a->config(), train, test, o);
  while (!ta.done()) ta.train_epoch();

  // Interrupted: 1 epoch, checkpoint to a file, then a fresh process-like start.
  manual_seed(7);
  auto b = make(rc.model);
  {
    nn::Trainer tb(b, b->kind(), b->config(), train, test, o);
    tb.train_epoch();
    // The first epoch matches already.
    EXPECT_EQ(tb.history()[0].train_loss, ta.history()[0].train_loss);
    const std::string path =
        (fs::temp_directory_path() / ("tangent_resume_" + std::to_string(::getpid()) + ".tgt")).string();
    nn::save_checkpoint(path, tb.checkpoint());
    manual_seed(12345);  // a different generator state, and different initial weights below
    randn({100});
    const nn::Checkpoint c = nn::load_checkpoint(path);
    fs::remove(path);
    auto fresh = models::create_model(c.model_kind, c.model_config);
    EXPECT_FALSE(equal(fresh->parameters()[0], b->parameters()[0]));
    nn::Trainer tc(fresh, fresh->kind(), fresh->config(), train, test, o);
    tc.restore(c);
    EXPECT_EQ(tc.epoch(), 1);
    EXPECT_EQ(tc.step(), tb.step());
    while (!tc.done()) tc.train_epoch();
    EXPECT_EQ(tc.step(), ta.step());
    b = fresh;

    const auto& ha = ta.history();
    const auto& hc = tc.history();
    ASSERT_EQ(ha.size(), 3u);
    ASSERT_EQ(hc.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(hc[i].epoch, ha[i].epoch);
      EXPECT_EQ(hc[i].train_loss, ha[i].train_loss) << "epoch " << i + 1;
      EXPECT_EQ(hc[i].train_accuracy, ha[i].train_accuracy) << "epoch " << i + 1;
      EXPECT_EQ(hc[i].test_loss, ha[i].test_loss) << "epoch " << i + 1;
      EXPECT_EQ(hc[i].test_accuracy, ha[i].test_accuracy) << "epoch " << i + 1;
      EXPECT_EQ(hc[i].lr, ha[i].lr) << "epoch " << i + 1;
    }
    // The optimizer state matches too.
    const auto sa = ta.optimizer().state_dict(), sc = tc.optimizer().state_dict();
    EXPECT_EQ(sa.scalars, sc.scalars);
    ASSERT_EQ(sa.tensors.size(), sc.tensors.size());
    for (size_t i = 0; i < sa.tensors.size(); ++i)
      EXPECT_TRUE(equal(sa.tensors[i].second, sc.tensors[i].second)) << sa.tensors[i].first;
  }
  const nn::StateDict sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Trainer, TrainResume,
                         ::testing::Values(ResumeCase{"sgd", "mlp"}, ResumeCase{"adam", "mlp"},
                                           ResumeCase{"sgd", "cnn"}, ResumeCase{"adam", "cnn"}),
                         [](const ::testing::TestParamInfo<ResumeCase>& info) {
                           return info.param.optimizer + "_" + info.param.model;
                         });

// ---- evaluate and predict ----

TEST(Train, EvaluateAndPredict) {
  manual_seed(44);
  auto model = make_cnn();
  auto ds = images(70, 3, 5);
  model->forward(ds->data());  // some running statistics
  model->train();
  const Tensor out = nn::predict(*model, ds->data(), 16);  // 70 = 4 * 16 + 6
  EXPECT_TRUE(model->is_training());                       // the mode is restored
  EXPECT_FALSE(out.requires_grad());
  ASSERT_EQ(out.shape(), (Shape{70, 3}));
  model->eval();
  const Tensor direct = model->forward(ds->data());
  EXPECT_TRUE(allclose(out, direct, 1e-5, 1e-6));
  model->train();
  const nn::EvalResult r = nn::evaluate(*model, *ds, 32);
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(r.count, 70);
  EXPECT_NEAR(r.loss, F::cross_entropy(direct, ds->targets()).item<double>(), 1e-5);
  const double acc = sum(eq(argmax(direct, 1), ds->targets())).item<double>() / 70.0;
  EXPECT_NEAR(r.accuracy, acc, 1e-12);
  // Unlabelled data cannot be evaluated; empty inputs cannot be predicted.
  data::TensorDataset unlabelled(ds->data());
  EXPECT_THROW(nn::evaluate(*model, unlabelled), Error);
  EXPECT_THROW(nn::predict(*model, zeros({0, 1, 8, 8})), Error);
  // A zero batch size is an error, not an endless loop.
  EXPECT_THROW(nn::evaluate(*model, *ds, 0), Error);
  EXPECT_THROW(nn::predict(*model, ds->data(), 0), Error);
}

}  // namespace
