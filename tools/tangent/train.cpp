// tangent train: trains an MLP or CNN classifier, or a character-level transformer language model
// (--model transformer, text data), writing DIR/model.tgt (after every epoch, atomically), DIR/metrics.csv and
// DIR/curves.svg; --resume continues a run from DIR/model.tgt with the flags it was trained with.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "core/allocator.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "models/models.h"
#include "nn/data/data.h"
#include "nn/trainer.h"
#include "ops/reduce.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/distributed_run.h"
#include "tools/tangent/flags.h"
#include "tools/tangent/report.h"
#include "tools/tangent/resume.h"

namespace tangent::cli {

namespace {

struct TrainArgs {
  std::string model = "cnn";
  std::string data = "fashion-mnist";
  std::string test_data;
  int64_t test_limit = -1;
  int64_t train_limit = -1;      // train on the first N examples (-1: all)
  std::string augment = "none";  // none, or affine: a random affine transform per example and epoch
  std::string out;
  std::string hidden = "default";  // mlp: widths; cnn: the dense layer's width (see hidden_widths)
  std::string channels = "32,64";  // cnn (lie: one number, default models::LieNetOptions::channels)
  models::LieNetOptions lie;       // lie: --group, --samples, --kernel-size
  std::string activation = "relu";
  double dropout = -1;  // default per model
  bool ntk = false;
  int threads = 0;
  bool resume = false;
  bool distributed = false;     // --distributed (also on under mpirun with several processes)
  std::string overrides;        // --override: flag names, comma separated
  std::set<std::string> given;  // the flags on the command line, without dashes
  nn::TrainOptions options;
  bool epochs_given = false;
  // transformer (language model)
  models::GPTOptions gpt;
  int64_t tokens = 0;  // token budget: max_steps = ceil(tokens / (batch * context))
  double validation_fraction = 0.05;
};

// ---- the flags a checkpoint records (tools/tangent/resume.h) ----

// Every train flag that shapes the run, with the field it sets: checkpoints store them and --resume compares
// them. Only the flags in kUnrecordedFlags are left out.
template <typename F>
void for_each_run_flag(TrainArgs& a, F&& f) {
  nn::TrainOptions& o = a.options;
  models::GPTOptions& g = a.gpt;
  f("model", a.model), f("data", a.data), f("test-data", a.test_data), f("test-limit", a.test_limit);
  f("train-limit", a.train_limit), f("augment", a.augment);
  f("epochs", MaybeGiven{o.epochs, a.epochs_given}), f("batch-size", o.batch_size), f("lr", o.lr);
  f("optimizer", o.optimizer), f("weight-decay", o.weight_decay), f("schedule", o.schedule);
  f("label-smoothing", o.label_smoothing), f("seed", o.seed), f("max-steps", o.max_steps);
  f("eval-every", o.steps_per_epoch), f("hidden", a.hidden), f("channels", a.channels);
  f("activation", a.activation), f("dropout", a.dropout), f("ntk", a.ntk), f("tokens", a.tokens);
  f("val-fraction", a.validation_fraction), f("attention", g.attention), f("context", g.context);
  f("layers", g.layers), f("heads", g.heads), f("kv-heads", g.kv_heads), f("dim", g.dim), f("norm", g.norm);
  f("positions", g.positions), f("dense-last", g.dense_last), f("qk-norm", g.qk_norm);
  f("layer-scale", g.layer_scale), f("sigmoid-bias", g.sigmoid_bias), f("moba-block", g.moba_block);
  f("moba-topk", g.moba_top_k), f("moba-key-conv", g.moba_key_conv), f("untied", Inverted{g.tie_weights});
  f("reference-attention", Inverted{g.fused});
  f("group", a.lie.group), f("samples", a.lie.samples), f("kernel-size", a.lie.kernel_size);
}
const std::set<std::string> kUnrecordedFlags = {"help", "out", "threads", "resume", "override", "distributed"};

RunFlags run_flags(TrainArgs a) {
  RunFlags flags;
  for_each_run_flag(a, [&](const char* name, auto&& field) { flags[name] = flag_text(field); });
  return flags;
}

void set_run_flags(TrainArgs& a, const RunFlags& flags) {
  for_each_run_flag(a, [&](const char* name, auto&& field) { parse_flag(name, flags.at(name), field); });
}

// With --resume and an existing DIR/model.tgt: the checkpoint, with `a` set to the flags it was trained with
// (checked against the command line's, see resume_flags).
std::optional<nn::Checkpoint> load_for_resume(TrainArgs& a) {
  TANGENT_CHECK(a.overrides.empty() || a.resume, "train: --override only applies with --resume");
  if (!a.resume) return std::nullopt;
  const std::string path = a.out + "/model.tgt";
  std::optional<nn::Checkpoint> c;
  if (std::filesystem::exists(path)) c = nn::load_checkpoint(path);
  // Without a checkpoint (or with one written before flags were recorded) this only checks --override's names.
  set_run_flags(
      a, resume_flags(c ? stored_run_flags(*c) : RunFlags{}, run_flags(a), a.given, parse_flag_names(a.overrides)));
  return c;
}

std::vector<int64_t> parse_list(const std::string& s, const char* what) {
  nn::Config c;
  c.set(what, s);
  return c.get_ints(what);
}

// --channels for --model lie: one number.
int64_t lie_channels(const TrainArgs& a) {
  const std::vector<int64_t> c = parse_list(a.channels, "channels");
  TANGENT_CHECK(c.size() == 1,
                "train: --channels for --model lie is one number (the channels of every Lie layer), got '", a.channels,
                "'");
  return c[0];
}

// --hidden as the model reads it. "default" (the flag not given) is 256,256 for mlp and ConvNetOptions' width for
// cnn; so is 256,256 for cnn, which checkpoints written before cnn read --hidden store.
std::string hidden_widths(const TrainArgs& a) {
  if (a.model == "cnn")
    return a.hidden == "default" || a.hidden == "256,256" ? std::to_string(models::ConvNetOptions{}.hidden) : a.hidden;
  return a.hidden == "default" ? "256,256" : a.hidden;
}

// --hidden for --model cnn: one number.
int64_t cnn_hidden(const TrainArgs& a) {
  const std::vector<int64_t> h = parse_list(hidden_widths(a), "hidden");
  TANGENT_CHECK(h.size() == 1, "train: --hidden for --model cnn is one number (the dense layer's width), got '",
                a.hidden, "'");
  return h[0];
}

std::shared_ptr<models::Model> build_model(const TrainArgs& a, const Shape& input_shape, int64_t num_classes) {
  if (a.model == "mlp") {
    models::MLPOptions o;
    o.input_shape = input_shape;
    o.hidden = parse_list(hidden_widths(a), "hidden");
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
    o.hidden = cnn_hidden(a);
    o.num_classes = num_classes;
    if (a.dropout >= 0) o.dropout = a.dropout;
    return std::make_shared<models::ConvNet>(o);
  }
  if (a.model == "lie") {
    models::LieNetOptions o = a.lie;
    o.input_shape = input_shape;
    o.channels = lie_channels(a);
    o.num_classes = num_classes;
    if (a.dropout >= 0) o.dropout = a.dropout;
    return std::make_shared<models::LieNet>(o);
  }
  TANGENT_FAIL("train: unknown model '", a.model, "' (expected mlp, cnn, lie or transformer)");
}

// ---- language models ----

void write_lm_metrics_csv(const std::string& path, const std::vector<nn::EpochMetrics>& history, int64_t context) {
  std::ostringstream os;
  os.precision(6);
  os << "epoch,step,train_loss,train_bpc,train_accuracy,val_loss,val_bpc,val_accuracy,seconds,tokens_per_second,lr\n";
  for (const auto& m : history)
    os << m.epoch << ',' << m.step << ',' << m.train_loss << ',' << nn::bits_per_char(m.train_loss) << ','
       << m.train_accuracy << ',' << m.test_loss << ',' << nn::bits_per_char(m.test_loss) << ',' << m.test_accuracy
       << ',' << m.seconds << ',' << m.examples_per_second * static_cast<double>(context) << ',' << m.lr << '\n';
  data::write_atomically(path, "train", os.str());
}

void write_lm_curves_svg(const std::string& path, const std::vector<nn::EpochMetrics>& history) {
  Series tb{"train", {}, {}}, vb{"validation", {}, {}}, ta{"train", {}, {}}, va{"validation", {}, {}};
  for (const auto& m : history) {
    const double s = static_cast<double>(m.step);
    tb.x.push_back(s), tb.y.push_back(nn::bits_per_char(m.train_loss));
    vb.x.push_back(s), vb.y.push_back(nn::bits_per_char(m.test_loss));
    ta.x.push_back(s), ta.y.push_back(100.0 * m.train_accuracy);
    va.x.push_back(s), va.y.push_back(100.0 * m.test_accuracy);
  }
  auto strip = [](const std::string& svg) {
    const auto a = svg.find('>') + 1;
    return svg.substr(a, svg.rfind("</svg>") - a);
  };
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='960' height='320'>\n<g>"
     << strip(svg_line_chart("Bits per character", "step", "bits per character", {tb, vb}))
     << "</g>\n<g transform='translate(480,0)'>"
     << strip(svg_line_chart("Next-character accuracy", "step", "accuracy (%)", {ta, va})) << "</g>\n</svg>\n";
  data::write_atomically(path, "train", os.str());
}

int run_train_lm(TrainArgs a, const std::optional<nn::Checkpoint>& resume_from) {
  const RunFlags flags = run_flags(a);
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.options.seed);
  a.options.group = command_group("train", a.distributed);
  const std::string ckpt_path = a.out + "/model.tgt";
  const std::string spec = a.data == "fashion-mnist" ? "fortunes" : a.data;  // the classifier default
  TANGENT_CHECK(data::is_text_spec(spec), "train: a transformer trains on text: --data text:PATH or fortunes, got '",
                spec, "'");
  TANGENT_CHECK(a.test_data.empty(), "train: --test-data is for classifiers; a transformer holds out the last ",
                "--val-fraction of its text");

  std::shared_ptr<models::Model> model;
  const bool resuming = resume_from.has_value();
  if (resuming) {
    TANGENT_CHECK(resume_from->model_kind == "transformer", "train: --resume: ", ckpt_path, " holds a '",
                  resume_from->model_kind, "' model, not a transformer");
    const models::GPTOptions trained = models::GPTOptions::from_config(resume_from->model_config);
    if (stored_run_flags(*resume_from).empty()) a.gpt = trained;  // written before flags were recorded
    a.gpt.vocab = trained.vocab;
  }
  // The checkpoint's vocabulary when resuming, else the characters of the text.
  const data::Vocabulary resumed_vocab = data::Vocabulary::from_bytes(a.gpt.vocab);
  const data::TextDataset text = for_flag("--data", [&] {
    return data::load_text_dataset(spec, a.gpt.context, a.validation_fraction, resuming ? &resumed_vocab : nullptr);
  });
  a.gpt.vocab = text.vocab.bytes();
  auto train_set =
      std::make_shared<data::TensorDataset>(a.train_limit >= 0 ? text.train.head(a.train_limit) : text.train);
  std::shared_ptr<data::TensorDataset> val_set;
  if (text.validation.size() > 0)
    val_set =
        std::make_shared<data::TensorDataset>(a.test_limit >= 0 ? text.validation.head(a.test_limit) : text.validation);
  model = std::make_shared<models::GPT>(a.gpt);
  const int64_t tokens_per_step = a.options.batch_size * a.gpt.context;
  if (a.tokens > 0) a.options.max_steps = (a.tokens + tokens_per_step - 1) / tokens_per_step;
  if (a.options.max_steps > 0 && !a.epochs_given) a.options.epochs = std::numeric_limits<int32_t>::max();
  std::printf("%s", model->summary().c_str());
  std::printf(
      "data: %s, %lld characters (vocabulary %lld), %lld training windows of %lld, %lld validation%s, "
      "threads %d\n",
      spec.c_str(), static_cast<long long>(text.train_chars + text.validation_chars),
      static_cast<long long>(text.vocab.size()), static_cast<long long>(train_set->size()),
      static_cast<long long>(a.gpt.context), static_cast<long long>(val_set ? val_set->size() : 0),
      a.options.max_steps > 0
          ? (", " + std::to_string(a.options.max_steps) + " steps of " + std::to_string(tokens_per_step) + " tokens")
                .c_str()
          : "",
      get_num_threads());

  nn::Trainer trainer(model, model->kind(), model->config(), train_set, val_set, a.options);
  std::filesystem::create_directories(a.out);  // only once everything has been checked and loaded
  if (resuming) {
    trainer.restore(*resume_from);
    std::printf("resumed from %s at step %lld\n", ckpt_path.c_str(), static_cast<long long>(trainer.step()));
  }
  auto write_reports = [&] {
    write_lm_metrics_csv(a.out + "/metrics.csv", trainer.history(), a.gpt.context);
    write_lm_curves_svg(a.out + "/curves.svg", trainer.history());
  };
  // A run killed after its last checkpoint was written may have missed its reports: write them again.
  if (trainer.done() && !trainer.history().empty() && is_root(a.options.group.get())) write_reports();
  while (!trainer.done()) {
    ProgressBar bar("step " + std::to_string(trainer.step()) + "/" + std::to_string(trainer.total_steps()),
                    a.options.batch_size);
    const nn::EpochMetrics m =
        trainer.train_epoch([&](int64_t i, int64_t n, double loss, double acc) { bar.update(i, n, loss, acc); });
    bar.finish();
    std::printf("step %lld: train loss %.4f (%.3f bpc) acc %.2f%%", static_cast<long long>(m.step), m.train_loss,
                nn::bits_per_char(m.train_loss), 100.0 * m.train_accuracy);
    if (val_set)
      std::printf(" | val loss %.4f (%.3f bpc) acc %.2f%%", m.test_loss, nn::bits_per_char(m.test_loss),
                  100.0 * m.test_accuracy);
    std::printf(" | %.1f s, %.0f tok/s\n", m.seconds, m.examples_per_second * static_cast<double>(a.gpt.context));
    std::fflush(stdout);
    nn::Checkpoint c = trainer.checkpoint();
    c.metadata["data"] = spec;
    store_run_flags(c, flags);
    if (is_root(a.options.group.get())) {  // data-parallel: rank 0 writes, the others wait for it
      nn::save_checkpoint(ckpt_path, c);
      write_reports();
    }
    if (a.options.group) a.options.group->barrier();
  }
  const auto& h = trainer.history();
  if (!h.empty() && val_set)
    std::printf("validation: %.4f bits per character (loss %.4f, accuracy %.2f%%) after %lld steps\n",
                nn::bits_per_char(h.back().test_loss), h.back().test_loss, 100.0 * h.back().test_accuracy,
                static_cast<long long>(h.back().step));
  std::printf("wrote %s, %s/metrics.csv, %s/curves.svg\n", ckpt_path.c_str(), a.out.c_str(), a.out.c_str());
  return 0;
}

void check_train_args(const TrainArgs& a);

// Refuses a model whose training state (weights, gradients and two optimizer moments, float32) cannot fit in this
// machine's memory, naming the flags that size it, before anything is allocated.
void check_model_fits(double parameters, const std::string& flags) {
  const double bytes = parameters * 4 * 4, limit = static_cast<double>(host_memory_limit());
  TANGENT_CHECK(bytes <= limit, "train: ", flags, " gives a model of ", parameters, " parameters, about ", bytes / 1e9,
                " GB to train (weights, gradients and optimizer state in float32), more than this "
                "machine's ",
                limit / 1e9, " GB of memory");
}

// The classifier's parameter count from its flags and the data's shape (as models::MLP and models::ConvNet build it).
double classifier_parameters(const TrainArgs& a, const Shape& input_shape, int64_t num_classes) {
  double in = 1, n = 0;
  for (int64_t d : input_shape) in *= static_cast<double>(d);
  if (a.model == "mlp") {
    for (int64_t h : parse_list(hidden_widths(a), "hidden"))
      n += (in + 1) * static_cast<double>(h), in = static_cast<double>(h);
    return n + (in + 1) * static_cast<double>(num_classes);
  }
  if (a.model == "lie") {
    models::LieNetOptions o = a.lie;
    o.input_shape = input_shape;
    o.channels = lie_channels(a);
    o.num_classes = num_classes;
    return static_cast<double>(o.parameter_count());
  }
  const models::ConvNetOptions defaults;
  double c = input_shape.empty() ? 1 : static_cast<double>(input_shape[0]), hw = in / c;
  const double k = static_cast<double>(defaults.kernel_size), hidden = static_cast<double>(cnn_hidden(a));
  for (int64_t out : parse_list(a.channels, "channels")) {
    n += c * static_cast<double>(out) * k * k + 2 * static_cast<double>(out);  // conv and batch norm
    c = static_cast<double>(out), hw /= 4;
  }
  return n + (c * std::max(hw, 1.0) + 1) * hidden + (hidden + 1) * static_cast<double>(num_classes);
}

// The language model's parameter count, bounded above (at most 256 characters in the vocabulary).
double lm_parameters(const models::GPTOptions& g) {
  const double d = static_cast<double>(g.dim), vocab = 256;
  const double block =
      (4 + 2 * static_cast<double>(g.mlp_ratio)) * d * d + (8 + 2 * static_cast<double>(g.mlp_ratio)) * d;
  return 2 * vocab * d + static_cast<double>(g.context) * d + static_cast<double>(g.layers) * block;
}

int run_train(TrainArgs a) {
  const std::optional<nn::Checkpoint> resume_from = load_for_resume(a);
  check_train_args(a);
  if (a.model == "transformer") return run_train_lm(a, resume_from);
  const RunFlags flags = run_flags(a);
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.options.seed);
  a.options.group = command_group("train", a.distributed);
  const std::string ckpt_path = a.out + "/model.tgt";

  auto train_set = std::make_shared<data::TensorDataset>(for_flag("--data", [&] {
    // An affine benchmark directory is read only as far as --train-limit keeps.
    return data::is_data_directory(a.data) ? data::load_affine_benchmark(a.data, "train", a.train_limit)
                                           : data::load_dataset(a.data, true);
  }));
  if (a.train_limit >= 0) train_set = std::make_shared<data::TensorDataset>(train_set->head(a.train_limit));
  std::shared_ptr<data::TensorDataset> test_set;
  if (!a.test_data.empty()) {
    test_set = std::make_shared<data::TensorDataset>(
        for_flag("--test-data", [&] { return data::load_dataset(a.test_data, false); }));
  } else if (data::is_data_directory(a.data)) {  // an affine benchmark directory: its centred test split
    test_set = std::make_shared<data::TensorDataset>(
        for_flag("--data", [&] { return data::load_affine_benchmark(a.data, "test", a.test_limit); }));
  } else if (a.data.rfind("fashion-mnist", 0) == 0) {  // its test split, reading only what --test-limit keeps
    const std::string spec = a.test_limit >= 0 ? "fashion-mnist:" + std::to_string(a.test_limit) : "fashion-mnist";
    test_set = std::make_shared<data::TensorDataset>(data::load_dataset(spec, false));
  }
  if (test_set && a.test_limit >= 0) test_set = std::make_shared<data::TensorDataset>(test_set->head(a.test_limit));
  TANGENT_CHECK(train_set->targets().defined(), "train: the data set '", a.data, "' has no labels");
  TANGENT_CHECK(train_set->size() > 0, "train: the data set '", a.data, "' is empty");
  for (const auto* ds : {train_set.get(), test_set.get()})
    if (ds && ds->targets().defined())
      TANGENT_CHECK(ds->targets().dtype() == kInt64 && ds->targets().dim() == 1,
                    "train: labels must be a 1-D array "
                    "of integer class indices, got ",
                    ds->targets().dtype(), " of shape ", ds->targets().shape());
  const Shape input_shape(train_set->data().shape().begin() + 1, train_set->data().shape().end());
  if (test_set) {
    const Shape test_shape(test_set->data().shape().begin() + 1, test_set->data().shape().end());
    TANGENT_CHECK(test_shape == input_shape, "train: --test-data examples have shape ", test_shape,
                  " but the training examples (--data '", a.data, "') have shape ", input_shape);
  }
  // Classes are 0..max label, over both splits (a small training subset may miss the last class).
  int64_t num_classes = amax(train_set->targets()).item<int64_t>() + 1;
  if (test_set && test_set->targets().defined() && test_set->size() > 0)
    num_classes = std::max(num_classes, amax(test_set->targets()).item<int64_t>() + 1);

  if (a.model == "mlp")
    check_model_fits(classifier_parameters(a, input_shape, num_classes), "--hidden " + hidden_widths(a));
  else
    check_model_fits(classifier_parameters(a, input_shape, num_classes), "--channels " + a.channels);
  // A checkpoint written before flags were recorded rebuilds its own model.
  const bool resuming = resume_from.has_value();
  const std::shared_ptr<models::Model> model =
      resuming && stored_run_flags(*resume_from).empty()
          ? models::create_model(resume_from->model_kind, resume_from->model_config)
          : build_model(a, input_shape, num_classes);
  std::printf("%s", model->summary().c_str());
  std::printf("data: %lld training examples%s, %lld classes, threads %d\n", static_cast<long long>(train_set->size()),
              test_set ? (", " + std::to_string(test_set->size()) + " test").c_str() : "",
              static_cast<long long>(num_classes), get_num_threads());

  // --augment affine: each epoch's examples warped by transforms keyed by (seed, epoch, index), so resuming at
  // an epoch boundary sees the same images.
  std::shared_ptr<data::AffineAugmented> augmented;
  if (a.augment == "affine")
    augmented =
        for_flag("--augment", [&] { return std::make_shared<data::AffineAugmented>(train_set, a.options.seed); });
  std::shared_ptr<const data::Dataset> train_source = train_set;
  if (augmented) train_source = augmented;
  nn::Trainer trainer(model, model->kind(), model->config(), train_source, test_set, a.options);
  std::filesystem::create_directories(a.out);  // only once everything has been checked and loaded
  if (resuming) {
    trainer.restore(*resume_from);
    std::printf("resumed from %s at epoch %lld (step %lld)\n", ckpt_path.c_str(),
                static_cast<long long>(trainer.epoch()), static_cast<long long>(trainer.step()));
  }
  auto write_reports = [&] {
    write_metrics_csv(a.out + "/metrics.csv", trainer.history());
    write_curves_svg(a.out + "/curves.svg", trainer.history());
  };
  // A run killed after its last checkpoint was written may have missed its reports: write them again.
  if (trainer.done() && !trainer.history().empty() && is_root(a.options.group.get())) write_reports();
  while (!trainer.done()) {
    if (augmented) augmented->set_epoch(trainer.epoch());
    ProgressBar bar("epoch " + std::to_string(trainer.epoch() + 1) + "/" + std::to_string(a.options.epochs),
                    a.options.batch_size);
    const nn::EpochMetrics m =
        trainer.train_epoch([&](int64_t i, int64_t n, double loss, double acc) { bar.update(i, n, loss, acc); });
    bar.finish();
    std::printf("epoch %lld: train loss %.4f acc %.2f%%", static_cast<long long>(m.epoch), m.train_loss,
                100.0 * m.train_accuracy);
    if (test_set) std::printf(" | test loss %.4f acc %.2f%%", m.test_loss, 100.0 * m.test_accuracy);
    std::printf(" | %.1f s, %.0f ex/s\n", m.seconds, m.examples_per_second);
    std::fflush(stdout);
    nn::Checkpoint c = trainer.checkpoint();
    c.metadata["data"] = a.data;
    store_run_flags(c, flags);
    if (is_root(a.options.group.get())) {  // data-parallel: rank 0 writes, the others wait for it
      nn::save_checkpoint(ckpt_path, c);
      write_reports();
    }
    if (a.options.group) a.options.group->barrier();
  }
  const auto& h = trainer.history();
  if (!h.empty() && test_set)
    std::printf("test accuracy: %.2f%% (loss %.4f) after %lld epochs\n", 100.0 * h.back().test_accuracy,
                h.back().test_loss, static_cast<long long>(h.back().epoch));
  std::printf("wrote %s, %s/metrics.csv, %s/curves.svg\n", ckpt_path.c_str(), a.out.c_str(), a.out.c_str());
  return 0;
}

// Checks between flags, before any file is read (each flag's own limits are in its validator, in add_train).
// Checks across flags, on the flags a run will use (with --resume, the checkpoint's where the command line is
// silent), before any data is read.
void check_train_args(const TrainArgs& a) {
  auto given = [&](const char* flag) { return a.given.count(std::string(flag + 2)) > 0; };
  const bool lm = a.model == "transformer";
  for (const char* f :
       {"--tokens", "--val-fraction", "--attention", "--context", "--layers", "--heads", "--kv-heads", "--dim",
        "--norm", "--positions", "--dense-last", "--qk-norm", "--layer-scale", "--sigmoid-bias", "--moba-block",
        "--moba-topk", "--moba-key-conv", "--untied", "--reference-attention"})
    TANGENT_CHECK(lm || !given(f), "train: ", f, " is for --model transformer, not ", a.model);
  TANGENT_CHECK(a.model == "mlp" || a.model == "cnn" || !given("--hidden"),
                "train: --hidden is for --model mlp or cnn, not ", a.model);
  for (const char* f : {"--activation", "--ntk"})
    TANGENT_CHECK(a.model == "mlp" || !given(f), "train: ", f, " is for --model mlp, not ", a.model);
  TANGENT_CHECK(a.model == "cnn" || a.model == "lie" || !given("--channels"),
                "train: --channels is for --model cnn or lie, not ", a.model);
  for (const char* f : {"--group", "--samples", "--kernel-size"})
    TANGENT_CHECK(a.model == "lie" || !given(f), "train: ", f, " is for --model lie, not ", a.model);
  TANGENT_CHECK(!lm || a.augment == "none", "train: --augment is for image classifiers, not transformer");
  TANGENT_CHECK(!lm || !given("--dropout"), "train: --dropout is for --model mlp, cnn or lie, not transformer");
  TANGENT_CHECK(!lm || !given("--test-data"), "train: --test-data is for classifiers; a transformer holds out the ",
                "last --val-fraction of its text");
  if (!lm) return;
  const models::GPTOptions& g = a.gpt;
  TANGENT_CHECK(g.dim % g.heads == 0, "train: --dim ", g.dim, " is not a multiple of --heads ", g.heads);
  TANGENT_CHECK(g.kv_heads == 0 || g.heads % g.kv_heads == 0, "train: --heads ", g.heads,
                " is not a multiple of --kv-heads ", g.kv_heads);
  check_model_fits(lm_parameters(g), "--dim " + std::to_string(g.dim) + " --layers " + std::to_string(g.layers) +
                                         " --context " + std::to_string(g.context));
  TANGENT_CHECK(g.positions != "rotary" || (g.dim / g.heads) % 2 == 0, "train: rotary positions need an even head ",
                "width, but --dim ", g.dim, " / --heads ", g.heads, " is ", g.dim / g.heads,
                " (or use --positions learned)");
  TANGENT_CHECK(g.dense_last <= g.layers, "train: --dense-last ", g.dense_last, " is more than --layers ", g.layers);
}

}  // namespace

Run add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  app.add_option("--model", a->model,
                 "mlp, cnn, lie (Lie-group convolutions, affine-equivariant) or transformer (a character-level "
                 "language model)")
      ->check(CLI::IsMember({"mlp", "cnn", "lie", "transformer"}));
  app.add_option("--data", a->data,
                 "fashion-mnist, fashion-mnist:N (first N), fashion-mnist-test[:N], "
                 "npy:X.npy,Y.npy or a directory from `tangent data affine-fashion-mnist`; for transformers text:PATH "
                 "(a file or directory) or fortunes "
                 "(the default); $TANGENT_FASHION_MNIST names another Fashion-MNIST directory")
      ->check(data_spec());
  app.add_option("--test-data", a->test_data, "a labelled test set (default: the Fashion-MNIST test split)")
      ->check(data_spec());
  app.add_option("--test-limit", a->test_limit, "evaluate on the first N test examples only")
      ->check(integer(0, kMaxCount));
  app.add_option("--train-limit", a->train_limit, "train on the first N training examples only")
      ->check(integer(1, kMaxCount));
  app.add_option("--augment", a->augment,
                 "none, or affine: each training image warped by a random affine transform per epoch (the ranges "
                 "of `tangent data affine-fashion-mnist`), keyed by (seed, epoch, example)")
      ->check(CLI::IsMember({"none", "affine"}));
  auto* epochs = app.add_option("--epochs", a->options.epochs, "number of epochs")->check(integer(1, kMaxCount));
  app.add_option("--batch-size", a->options.batch_size, "examples per batch")->check(integer(1, kMaxSize));
  app.add_option("--lr", a->options.lr, "peak learning rate")->check(number(0, kMaxReal, true));
  app.add_option("--optimizer", a->options.optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--weight-decay", a->options.weight_decay, "weight decay")->check(number(0, kMaxReal));
  app.add_option("--schedule", a->options.schedule, "cosine (warmup then cosine decay) or constant")
      ->check(CLI::IsMember({"cosine", "constant"}));
  app.add_option("--label-smoothing", a->options.label_smoothing, "label smoothing of the cross-entropy")
      ->check(number(0, 1, false, true));
  app.add_option("--seed", a->options.seed, "random seed (initialisation, data order, dropout)")
      ->check(integer(0, std::numeric_limits<int64_t>::max()));
  app.add_option("--out", a->out, "output directory")->required()->check(output_dir());
  app.add_option("--hidden", a->hidden,
                 "mlp: hidden widths, comma separated (empty: no hidden layer; default 256,256); cnn: the dense "
                 "layer's width (default 128)")
      ->check(integer_list(1, kMaxSize, true));
  app.add_option("--group", a->lie.group, "lie: the group, sl2 or gl2")->check(CLI::IsMember({"sl2", "gl2"}));
  app.add_option("--samples", a->lie.samples, "lie: group samples per layer (N)")->check(integer(1, 1024));
  app.add_option("--kernel-size", a->lie.kernel_size, "lie: kernel size (odd)")
      ->check(CLI::IsMember({1, 3, 5, 7, 9, 11}));
  app.add_option("--channels", a->channels, "cnn: conv block channels, comma separated; lie: the channels C")
      ->check(integer_list(1, kMaxSize, true));
  app.add_option("--activation", a->activation, "mlp: activation")
      ->check(CLI::IsMember({"relu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid", "softplus", "erf"}));
  app.add_option("--dropout", a->dropout, "mlp, cnn: dropout probability")->check(number(0, 1, false, true));
  app.add_flag("--ntk", a->ntk, "mlp: the NTK parametrisation");
  app.add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(integer(1, kMaxThreads));
  app.add_flag("--resume", a->resume,
               "continue from DIR/model.tgt if it exists, with the flags it was trained with "
               "(a flag given with another value is an error, unless --override names it)");
  app.add_flag("--distributed", a->distributed,
               "data-parallel training over the processes of mpirun (on by itself under mpirun -np K > 1): "
               "--batch-size examples per process, rank 0 prints and writes");
  app.add_option("--override", a->overrides,
                 "with --resume: flags (comma separated, e.g. lr,epochs) whose command "
                 "line values replace the checkpoint's");
  app.add_option("--max-steps", a->options.max_steps, "stop after N optimisation steps in all (0: no limit)")
      ->check(integer(0, kMaxCount));
  // transformer
  models::GPTOptions& g = a->gpt;
  app.add_option("--tokens", a->tokens, "transformer: token budget (sets --max-steps to tokens / (batch * context))")
      ->check(integer(1, kMaxCount));
  app.add_option("--eval-every", a->options.steps_per_epoch,
                 "evaluate and write metrics every N steps (default, 0: once per pass over the data)")
      ->check(integer(0, kMaxCount));
  app.add_option("--val-fraction", a->validation_fraction, "transformer: the last fraction of the text held out")
      ->check(number(0, 1, false, true));
  app.add_option("--attention", g.attention, "transformer: softmax, sigmoid or moba")
      ->check(CLI::IsMember({"softmax", "sigmoid", "moba"}));
  app.add_option("--context", g.context, "transformer: context length in characters")->check(integer(1, kMaxSize));
  app.add_option("--layers", g.layers, "transformer: number of blocks")->check(integer(1, kMaxLayers));
  app.add_option("--heads", g.heads, "transformer: attention heads")->check(integer(1, kMaxSize));
  app.add_option("--kv-heads", g.kv_heads, "transformer: key/value heads (grouped-query attention; 0 = heads)")
      ->check(integer(0, kMaxSize));
  app.add_option("--dim", g.dim, "transformer: model width")->check(integer(1, kMaxSize));
  app.add_option("--norm", g.norm, "transformer: layernorm or rmsnorm")->check(CLI::IsMember({"layernorm", "rmsnorm"}));
  app.add_option("--positions", g.positions, "transformer: rotary or learned")
      ->check(CLI::IsMember({"rotary", "learned"}));
  app.add_option("--dense-last", g.dense_last, "transformer: the last N layers use softmax attention")
      ->check(integer(0, kMaxLayers));
  app.add_option("--qk-norm", g.qk_norm, "transformer: auto (on for sigmoid), none, rmsnorm or layernorm")
      ->check(CLI::IsMember({"auto", "none", "rmsnorm", "layernorm"}));
  app.add_option("--layer-scale", g.layer_scale,
                 "transformer: LayerScale init on the attention branch (0 = off; "
                 "default 1e-4 for sigmoid layers, off otherwise)")
      ->check(number(0, kMaxReal));
  app.add_option("--sigmoid-bias", g.sigmoid_bias, "transformer: sigmoid attention bias (default -ln context)")
      ->check(number(-kMaxReal, kMaxReal));
  app.add_option("--moba-block", g.moba_block, "transformer: MoBA block size")->check(integer(1, kMaxSize));
  app.add_option("--moba-topk", g.moba_top_k, "transformer: MoBA blocks per query (including its own)")
      ->check(integer(1, kMaxSize));
  app.add_option("--moba-key-conv", g.moba_key_conv,
                 "transformer: causal key convolution width in MoBA layers "
                 "(0 = off, 3 or 5)")
      ->check(CLI::IsMember({0, 3, 5}));
  app.add_flag_callback(
      "--untied", [g = &a->gpt] { g->tie_weights = false; },
      "transformer: a separate LM head instead of the tied token embedding");
  app.add_flag_callback(
      "--reference-attention", [g = &a->gpt] { g->fused = false; },
      "transformer: the unfused reference attention kernels (slow; for checking)");
  return [a, epochs, &app] {
    a->epochs_given = epochs->count() > 0;
    const RunFlags recorded = run_flags(*a);
    for (const CLI::Option* o : app.get_options()) {
      const std::string name = o->get_name().substr(o->get_name().find_first_not_of('-'));
      TANGENT_CHECK(recorded.count(name) > 0 || kUnrecordedFlags.count(name) > 0, "train: internal error: --", name,
                    " is neither recorded in checkpoints nor listed in kUnrecordedFlags");
      if (o->count() > 0) a->given.insert(name);
    }
    if (a->model == "lie" && a->given.count("channels") == 0)
      a->channels = std::to_string(models::LieNetOptions{}.channels);
    return run_train(*a);
  };
}

}  // namespace tangent::cli
