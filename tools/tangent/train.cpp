// tangent train: trains an MLP or CNN classifier, writing DIR/model.tgt (after every epoch, atomically),
// DIR/metrics.csv and DIR/curves.svg; --resume continues a run from DIR/model.tgt.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/generator.h"
#include "core/parallel.h"
#include "models/models.h"
#include "nn/data/data.h"
#include "nn/trainer.h"
#include "ops/reduce.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/report.h"

namespace tangent::cli {

namespace {

struct TrainArgs {
  std::string model = "cnn";
  std::string data = "fashion-mnist";
  std::string test_data;
  int64_t test_limit = -1;
  std::string out;
  std::string hidden = "256,256";  // mlp
  std::string channels = "32,64";  // cnn
  std::string activation = "relu";
  double dropout = -1;  // default per model
  bool ntk = false;
  int threads = 0;
  bool resume = false;
  nn::TrainOptions options;
};

std::vector<int64_t> parse_list(const std::string& s, const char* what) {
  nn::Config c;
  c.set(what, s);
  return c.get_ints(what);
}

std::shared_ptr<models::Model> build_model(const TrainArgs& a, const Shape& input_shape, int64_t num_classes) {
  if (a.model == "mlp") {
    models::MLPOptions o;
    o.input_shape = input_shape;
    o.hidden = parse_list(a.hidden, "hidden");
    o.out_features = num_classes;
    o.activation = a.activation;
    o.dropout = a.dropout < 0 ? 0.0 : a.dropout;
    o.ntk = a.ntk;
    return std::make_shared<models::MLP>(o);
  }
  if (a.model == "cnn") {
    models::ConvNetOptions o;
    o.input_shape = input_shape;
    o.channels = parse_list(a.channels, "channels");
    o.num_classes = num_classes;
    if (a.dropout >= 0) o.dropout = a.dropout;
    return std::make_shared<models::ConvNet>(o);
  }
  TANGENT_FAIL("train: unknown model '", a.model, "' (expected mlp or cnn)");
}

int run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.options.seed);
  std::filesystem::create_directories(a.out);
  const std::string ckpt_path = a.out + "/model.tgt";

  auto train_set = std::make_shared<data::TensorDataset>(data::load_dataset(a.data, true));
  std::shared_ptr<data::TensorDataset> test_set;
  if (!a.test_data.empty()) {
    test_set = std::make_shared<data::TensorDataset>(data::load_dataset(a.test_data, false));
  } else if (a.data.rfind("fashion-mnist", 0) == 0) {  // its test split, reading only what --test-limit keeps
    const std::string spec = a.test_limit >= 0 ? "fashion-mnist:" + std::to_string(a.test_limit) : "fashion-mnist";
    test_set = std::make_shared<data::TensorDataset>(data::load_dataset(spec, false));
  }
  if (test_set && a.test_limit >= 0) test_set = std::make_shared<data::TensorDataset>(test_set->head(a.test_limit));
  TANGENT_CHECK(train_set->targets().defined(), "train: the data set '", a.data, "' has no labels");
  TANGENT_CHECK(train_set->size() > 0, "train: the data set '", a.data, "' is empty");
  for (const auto* ds : {train_set.get(), test_set.get()})
    if (ds && ds->targets().defined())
      TANGENT_CHECK(ds->targets().dtype() == kInt64 && ds->targets().dim() == 1, "train: labels must be a 1-D array "
                    "of integer class indices, got ", ds->targets().dtype(), " of shape ", ds->targets().shape());
  const Shape input_shape(train_set->data().shape().begin() + 1, train_set->data().shape().end());
  // Classes are 0..max label, over both splits (a small training subset may miss the last class).
  int64_t num_classes = amax(train_set->targets()).item<int64_t>() + 1;
  if (test_set && test_set->targets().defined() && test_set->size() > 0)
    num_classes = std::max(num_classes, amax(test_set->targets()).item<int64_t>() + 1);

  std::shared_ptr<models::Model> model;
  nn::Checkpoint resume_from;
  const bool resuming = a.resume && std::filesystem::exists(ckpt_path);
  if (resuming) {
    resume_from = nn::load_checkpoint(ckpt_path);
    model = models::create_model(resume_from.model_kind, resume_from.model_config);
  } else {
    model = build_model(a, input_shape, num_classes);
  }
  std::printf("%s", model->summary().c_str());
  std::printf("data: %lld training examples%s, %lld classes, threads %d\n",
              static_cast<long long>(train_set->size()),
              test_set ? (", " + std::to_string(test_set->size()) + " test").c_str() : "",
              static_cast<long long>(num_classes), get_num_threads());

  nn::Trainer trainer(model, model->kind(), model->config(), train_set, test_set, a.options);
  if (resuming) {
    trainer.restore(resume_from);
    std::printf("resumed from %s at epoch %lld (step %lld)\n", ckpt_path.c_str(),
                static_cast<long long>(trainer.epoch()), static_cast<long long>(trainer.step()));
  }
  while (!trainer.done()) {
    ProgressBar bar("epoch " + std::to_string(trainer.epoch() + 1) + "/" + std::to_string(a.options.epochs),
                    a.options.batch_size);
    const nn::EpochMetrics m = trainer.train_epoch(
        [&](int64_t i, int64_t n, double loss, double acc) { bar.update(i, n, loss, acc); });
    bar.finish();
    std::printf("epoch %lld: train loss %.4f acc %.2f%%", static_cast<long long>(m.epoch), m.train_loss,
                100.0 * m.train_accuracy);
    if (test_set) std::printf(" | test loss %.4f acc %.2f%%", m.test_loss, 100.0 * m.test_accuracy);
    std::printf(" | %.1f s, %.0f ex/s\n", m.seconds, m.examples_per_second);
    std::fflush(stdout);
    nn::Checkpoint c = trainer.checkpoint();
    c.metadata["data"] = a.data;
    nn::save_checkpoint(ckpt_path, c);
    write_metrics_csv(a.out + "/metrics.csv", trainer.history());
    write_curves_svg(a.out + "/curves.svg", trainer.history());
  }
  const auto& h = trainer.history();
  if (!h.empty() && test_set)
    std::printf("test accuracy: %.2f%% (loss %.4f) after %lld epochs\n", 100.0 * h.back().test_accuracy,
                h.back().test_loss, static_cast<long long>(h.back().epoch));
  std::printf("wrote %s, %s/metrics.csv, %s/curves.svg\n", ckpt_path.c_str(), a.out.c_str(), a.out.c_str());
  return 0;
}

}  // namespace

Run add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  app.add_option("--model", a->model, "mlp or cnn")->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--data", a->data, "fashion-mnist, fashion-mnist:N (first N), a directory of IDX files, or "
                                    "npy:X.npy,Y.npy");
  app.add_option("--test-data", a->test_data, "a labelled test set (default: the Fashion-MNIST test split)");
  app.add_option("--test-limit", a->test_limit, "evaluate on the first N test examples only");
  app.add_option("--epochs", a->options.epochs, "number of epochs");
  app.add_option("--batch-size", a->options.batch_size, "examples per batch");
  app.add_option("--lr", a->options.lr, "peak learning rate");
  app.add_option("--optimizer", a->options.optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--weight-decay", a->options.weight_decay, "weight decay");
  app.add_option("--schedule", a->options.schedule, "cosine (warmup then cosine decay) or constant")
      ->check(CLI::IsMember({"cosine", "constant"}));
  app.add_option("--label-smoothing", a->options.label_smoothing, "label smoothing of the cross-entropy");
  app.add_option("--seed", a->options.seed, "random seed (initialisation, data order, dropout)");
  app.add_option("--out", a->out, "output directory")->required();
  app.add_option("--hidden", a->hidden, "MLP hidden widths, comma separated");
  app.add_option("--channels", a->channels, "CNN conv block channels, comma separated");
  app.add_option("--activation", a->activation, "MLP activation");
  app.add_option("--dropout", a->dropout, "dropout probability");
  app.add_flag("--ntk", a->ntk, "MLP in the NTK parametrisation");
  app.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  app.add_flag("--resume", a->resume, "continue from DIR/model.tgt if it exists");
  return [a] { return run_train(*a); };
}

}  // namespace tangent::cli
