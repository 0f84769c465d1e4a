#include "nn/trainer.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/generator.h"
#include "nn/functional.h"
#include "nn/optim/optim.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tangent::nn {

namespace {

// Restores a module's training flag when it goes out of scope.
class ModeGuard {
 public:
  ModeGuard(Module& m, bool training) : m_(m), prev_(m.is_training()) { m.train(training); }
  ~ModeGuard() { m_.train(prev_); }

 private:
  Module& m_;
  bool prev_;
};

// Logits and targets as [units, C] and [units]: language-model outputs [N, T, V] with targets [N, T] (class dim
// last) are flattened to tokens; anything else ([N, C] with [N], or [N, C, d...] with [N, d...]) is left alone
// for cross_entropy.
std::pair<Tensor, Tensor> flatten_tokens(const Tensor& logits, const Tensor& target) {
  if (target.dtype() == kInt64 && target.dim() >= 2 && logits.dim() == target.dim() + 1 &&
      Shape(logits.shape().begin(), logits.shape().end() - 1) == target.shape())
    return {logits.reshape({-1, logits.size(-1)}), target.reshape({-1})};
  return {logits, target};
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params,
                                                 const TrainOptions& o) {
  if (name == "sgd") {
    optim::SGDOptions s;
    s.lr = o.lr;
    s.momentum = o.momentum;
    s.weight_decay = o.weight_decay;
    return std::make_unique<optim::SGD>(std::move(params), s);
  }
  if (name == "adam" || name == "adamw") {
    optim::AdamOptions a;
    a.lr = o.lr;
    a.weight_decay = name == "adamw" && o.weight_decay == 0.0 ? 1e-2 : o.weight_decay;
    if (name == "adam") return std::make_unique<optim::Adam>(std::move(params), a);
    return std::make_unique<optim::AdamW>(std::move(params), a);
  }
  TANGENT_FAIL("train: unknown optimizer '", name, "' (expected sgd, adam or adamw)");
}

bool distributed_run(const TrainOptions& o) { return o.group && o.group->size() > 1; }

data::DataLoaderOptions loader_options(const TrainOptions& o) {
  data::DataLoaderOptions l{o.batch_size, true, o.seed, false};
  if (distributed_run(o)) {
    l.num_shards = o.group->size();
    l.shard = o.group->rank();
  }
  return l;
}

// Rank r's generator stream in a data-parallel run: rank 0 keeps `s`; the others get a seed mixed from s and r
// (splitmix64), so that dropout masks differ across ranks yet are reproducible.
PhiloxState rank_stream(PhiloxState s, int rank) {
  if (rank == 0) return s;
  uint64_t z = s.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(rank);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return PhiloxState{z ^ (z >> 31), s.offset};
}

std::string encode_history(const std::vector<EpochMetrics>& h) {
  std::ostringstream os;
  os.precision(17);
  for (const auto& m : h)
    os << m.epoch << ',' << m.train_loss << ',' << m.train_accuracy << ',' << m.test_loss << ',' << m.test_accuracy
       << ',' << m.seconds << ',' << m.examples_per_second << ',' << m.lr << ',' << m.step << ';';
  return os.str();
}

std::vector<EpochMetrics> decode_history(const std::string& s) {
  std::vector<EpochMetrics> out;
  std::stringstream rows(s);
  std::string row;
  while (std::getline(rows, row, ';')) {
    if (row.empty()) continue;
    std::stringstream fields(row);
    std::string f;
    std::vector<double> v;
    while (std::getline(fields, f, ',')) {
      try {
        v.push_back(std::stod(f));
      } catch (const std::exception&) {
        TANGENT_FAIL("resume: the checkpoint's metrics history has a malformed value '", f, "'");
      }
    }
    if (v.size() != 8 && v.size() != 9) continue;  // 8: written before `step` was recorded
    EpochMetrics m;
    m.epoch = static_cast<int64_t>(v[0]);
    m.train_loss = v[1];
    m.train_accuracy = v[2];
    m.test_loss = v[3];
    m.test_accuracy = v[4];
    m.seconds = v[5];
    m.examples_per_second = v[6];
    m.lr = v[7];
    if (v.size() == 9) m.step = static_cast<int64_t>(v[8]);
    out.push_back(m);
  }
  return out;
}

}  // namespace

EvalResult evaluate(Module& model, const data::Dataset& dataset, int64_t batch_size) {
  TANGENT_CHECK(batch_size >= 1, "evaluate: batch_size must be >= 1, got ", batch_size);
  ModeGuard mode(model, false);
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0.0;
  int64_t correct = 0, units = 0;
  const int64_t n = dataset.size();
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t len = std::min(batch_size, n - start);
    const data::Example batch = dataset.get_batch(arange(start, start + len));
    TANGENT_CHECK(batch.target.defined(), "evaluate: the data set has no labels");
    const auto [logits, target] = flatten_tokens(model.forward(batch.data), batch.target);
    functional::CrossEntropyOptions ce;
    ce.reduction = functional::Reduction::Sum;
    loss_sum += functional::cross_entropy(logits, target, ce).item<double>();
    correct += sum(eq(argmax(logits, 1), target)).item<int64_t>();
    units += target.size(0);
  }
  r.count = n;
  r.loss = units ? loss_sum / static_cast<double>(units) : NAN;
  r.accuracy = units ? static_cast<double>(correct) / static_cast<double>(units) : NAN;
  return r;
}

Tensor predict(Module& model, const Tensor& inputs, int64_t batch_size) {
  TANGENT_CHECK(batch_size >= 1, "predict: batch_size must be >= 1, got ", batch_size);
  TANGENT_CHECK(inputs.dim() >= 1, "predict: expected inputs [N, ...], got a 0-dim tensor");
  ModeGuard mode(model, false);
  NoGradGuard no_grad;
  std::vector<Tensor> outs;
  const int64_t n = inputs.size(0);
  for (int64_t start = 0; start < n; start += batch_size)
    outs.push_back(model.forward(inputs.narrow(0, start, std::min(batch_size, n - start))));
  TANGENT_CHECK(!outs.empty(), "predict: no inputs (shape ", inputs.shape(), ")");
  return cat(outs, 0);
}

Trainer::Trainer(std::shared_ptr<Module> model, std::string model_kind, Config model_config,
                 std::shared_ptr<const data::Dataset> train_set, std::shared_ptr<const data::Dataset> test_set,
                 const TrainOptions& options)
    : model_(std::move(model)),
      kind_(std::move(model_kind)),
      config_(std::move(model_config)),
      train_set_(std::move(train_set)),
      test_set_(std::move(test_set)),
      options_(options),
      loader_(train_set_, loader_options(options)) {
  TANGENT_CHECK(options.epochs >= 1 && options.batch_size >= 1, "train: epochs and batch size must be positive, got ",
                options.epochs, " and ", options.batch_size);
  TANGENT_CHECK(options.lr > 0, "train: the learning rate must be positive, got ", options.lr);
  TANGENT_CHECK(options.max_steps >= 0 && options.steps_per_epoch >= 0, "train: max_steps and steps_per_epoch must ",
                "be >= 0, got ", options.max_steps, " and ", options.steps_per_epoch);
  if (distributed_run(options)) {
    std::vector<std::pair<std::string, Tensor>> params;
    for (auto& kv : model_->named_parameters())
      if (kv.second.requires_grad()) params.push_back(kv);
    ddp_ = std::make_unique<distributed::DistributedDataParallel>(options.group, params, model_->named_buffers());
    default_generator().set_state(rank_stream(default_generator().state(), options.group->rank()));
  }
  optimizer_ = make_optimizer(options.optimizer, model_->parameters(), options);
  const int64_t total = total_steps();
  if (options.schedule == "cosine") {
    const auto warmup = static_cast<int64_t>(std::round(options.warmup_fraction * static_cast<double>(total)));
    scheduler_ = std::make_unique<optim::CosineAnnealingWarmup>(*optimizer_, warmup, total, 0.0);
  } else {
    TANGENT_CHECK(options.schedule == "constant", "train: unknown schedule '", options.schedule,
                  "' (expected cosine or constant)");
  }
}

int64_t Trainer::steps_per_epoch() const {
  const int64_t full = loader_.num_batches();
  return options_.steps_per_epoch > 0 ? std::min(options_.steps_per_epoch, full) : full;
}

int64_t Trainer::total_steps() const {
  const int64_t all = options_.epochs * steps_per_epoch();
  return options_.max_steps > 0 ? std::min(all, options_.max_steps) : all;
}

EpochMetrics Trainer::train_epoch(const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  model_->train(true);
  loader_.set_epoch(epoch_);
  double loss_sum = 0.0;
  int64_t correct = 0, seen = 0, examples = 0;
  int64_t batches = steps_per_epoch();
  if (options_.max_steps > 0) batches = std::max<int64_t>(0, std::min(batches, options_.max_steps - step_));
  functional::CrossEntropyOptions ce;
  ce.label_smoothing = options_.label_smoothing;
  int64_t index = 0;
  if (batches > 0)
    for (const data::Example& batch : loader_) {
      if (ddp_) ddp_->broadcast_buffers();
      const auto [logits, target] = flatten_tokens(model_->forward(batch.data), batch.target);
      const Tensor loss = functional::cross_entropy(logits, target, ce);
      optimizer_->zero_grad();
      loss.backward();
      if (ddp_) ddp_->synchronize();
      optimizer_->step();
      if (scheduler_) scheduler_->step();
      ++step_;
      const int64_t units = target.size(0);  // examples, or tokens
      {
        NoGradGuard no_grad;
        loss_sum += loss.item<double>() * static_cast<double>(units);
        correct += sum(eq(argmax(logits, 1), target)).item<int64_t>();
      }
      seen += units;
      examples += batch.data.size(0);
      ++index;
      if (progress)
        progress(index, batches, loss_sum / static_cast<double>(seen),
                 static_cast<double>(correct) / static_cast<double>(seen));
      if (index >= batches) break;
    }
  if (ddp_) {  // the metrics of all ranks together
    const Tensor totals = tensor(std::vector<double>{loss_sum, static_cast<double>(correct), static_cast<double>(seen),
                                                     static_cast<double>(examples)},
                                 {4});
    ddp_->group().all_reduce(totals);
    const double* t = totals.data_ptr<double>();
    loss_sum = t[0];
    correct = static_cast<int64_t>(t[1]);
    seen = static_cast<int64_t>(t[2]);
    examples = static_cast<int64_t>(t[3]);
  }
  ++epoch_;
  EpochMetrics m;
  m.epoch = epoch_;
  m.train_loss = seen ? loss_sum / static_cast<double>(seen) : NAN;
  m.train_accuracy = seen ? static_cast<double>(correct) / static_cast<double>(seen) : NAN;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.examples_per_second = m.seconds > 0 ? static_cast<double>(examples) / m.seconds : 0.0;
  m.lr = optimizer_->lr();
  m.step = step_;
  m.test_loss = m.test_accuracy = NAN;
  if (test_set_) {
    const EvalResult r = evaluate(*model_, *test_set_);
    m.test_loss = r.loss;
    m.test_accuracy = r.accuracy;
  }
  history_.push_back(m);
  return m;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.model_kind = kind_;
  c.model_config = config_;
  c.model_state = model_->state_dict();
  const optim::OptimizerState os = optimizer_->state_dict();
  c.optimizer_kind = os.kind;
  c.optimizer_scalars = os.scalars;
  c.optimizer_tensors = os.tensors;
  if (scheduler_) {
    const optim::SchedulerState ss = scheduler_->state_dict();
    c.scheduler = ss.scalars;
    c.metadata["scheduler"] = ss.kind;
  }
  c.epoch = epoch_;
  c.step = step_;
  c.rng = default_generator().state();
  if (ddp_) {
    const PhiloxState mine = default_generator().state();
    const Tensor all = ddp_->group().all_gather(
        tensor(std::vector<int64_t>{static_cast<int64_t>(mine.seed), static_cast<int64_t>(mine.offset)}, {2}));
    const int64_t* v = all.data_ptr<int64_t>();
    for (int64_t r = 0; r < all.size(0); ++r)
      c.rank_rngs.push_back(PhiloxState{static_cast<uint64_t>(v[2 * r]), static_cast<uint64_t>(v[2 * r + 1])});
    c.rng = c.rank_rngs[0];
  }
  c.metadata["history"] = encode_history(history_);
  c.metadata["optimizer"] = options_.optimizer;
  return c;
}

void Trainer::restore(const Checkpoint& c) {
  TANGENT_CHECK(c.model_kind == kind_, "resume: the checkpoint holds a '", c.model_kind, "' model, not '", kind_, "'");
  model_->load_state_dict(c.model_state);
  // The hyper-parameters (learning rate, weight decay, ...) are this trainer's options, which a resumed run may
  // change on purpose; the checkpoint supplies the state: moments, step counts, the schedule's position.
  auto keep_mine = [](std::vector<std::pair<std::string, double>> saved,
                      const std::vector<std::pair<std::string, double>>& mine, const std::string& prefix) {
    for (auto& [name, value] : saved)
      if (name.compare(0, prefix.size(), prefix) == 0)
        for (const auto& [my_name, my_value] : mine)
          if (my_name == name && name.find(".num_params") == std::string::npos) value = my_value;
    return saved;
  };
  optimizer_->load_state_dict(optim::OptimizerState{
      c.optimizer_kind, keep_mine(c.optimizer_scalars, optimizer_->state_dict().scalars, "group."),
      c.optimizer_tensors});
  if (scheduler_) {
    auto it = c.metadata.find("scheduler");
    TANGENT_CHECK(it != c.metadata.end(), "resume: the checkpoint has no LR scheduler state");
    scheduler_->load_state_dict(
        optim::SchedulerState{it->second, keep_mine(c.scheduler, scheduler_->state_dict().scalars, "base_lr.")});
  }
  epoch_ = c.epoch;
  step_ = c.step;
  const size_t ranks = ddp_ ? static_cast<size_t>(ddp_->group().size()) : 1;
  TANGENT_CHECK(c.rank_rngs.empty() ? ranks == 1 : c.rank_rngs.size() == ranks,
                "resume: the checkpoint was written by ", c.rank_rngs.empty() ? size_t{1} : c.rank_rngs.size(),
                " process(es) but this run has ", ranks, "; resume with the same number of ranks (mpirun -np ",
                c.rank_rngs.empty() ? size_t{1} : c.rank_rngs.size(), ")");
  default_generator().set_state(ddp_ ? c.rank_rngs[static_cast<size_t>(ddp_->group().rank())] : c.rng);
  auto h = c.metadata.find("history");
  history_ = h == c.metadata.end() ? std::vector<EpochMetrics>{} : decode_history(h->second);
}

}  // namespace tangent::nn
