#pragma once
// Trainer: the training loop behind `tangent train` (and usable from C++): mini-batch cross-entropy training with
// an optimizer and LR schedule, evaluation per epoch, and checkpoints from which a resumed run follows exactly the
// trajectory of an uninterrupted one (model, optimizer, scheduler, data order, random generator, epoch and step
// are all saved).
// Two kinds of targets:
//   classification   logits [N, C], targets [N] int64: loss and accuracy per example;
//   language model   logits [N, T, V], targets [N, T] int64: token-level cross-entropy (both flattened to
//                    [N*T, V] and [N*T]), loss and accuracy per token; bits per character = loss / ln 2.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/data/dataloader.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/process_group.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"

namespace tangent::nn {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";  // sgd (momentum 0.9), adam, adamw
  double weight_decay = 0.0;
  double momentum = 0.9;            // sgd
  std::string schedule = "cosine";  // cosine (linear warmup, then cosine to 0) or constant
  double warmup_fraction = 0.02;    // of all steps
  double label_smoothing = 0.0;
  uint64_t seed = 0;
  // Stop after this many optimisation steps in all (0: no limit); the LR schedule then spans them.
  int64_t max_steps = 0;
  // An "epoch" (one evaluation and metrics row) ends after this many steps (0: a full pass over the data); each
  // epoch still draws from its own shuffled order of the data set.
  int64_t steps_per_epoch = 0;
  // Data-parallel training over this group when it has more than one rank (distributed::ProcessGroup::world()
  // under mpirun): every rank trains on its shard of each epoch (DataLoaderOptions::num_shards; the last
  // n mod K examples of an epoch's order are dropped) with batch_size examples per rank, gradients are averaged
  // by distributed::DistributedDataParallel, rank 0's parameters and buffers are broadcast at the start and its
  // buffers before each step, the epoch metrics are over all ranks, and checkpoints hold every rank's generator
  // (resume with the same number of ranks). checkpoint() and train_epoch() are collective: call them on every rank.
  // Rank r > 0 draws its random numbers (dropout) from its own stream, seeded from rank 0's state and r.
  std::shared_ptr<distributed::ProcessGroup> group;
};

// The loss per unit (example, or token for language models) that bits per character is computed from.
inline double bits_per_char(double loss) { return loss / 0.69314718055994530942; }

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;  // NaN without a test set
  double seconds = 0;
  double examples_per_second = 0;
  double lr = 0;     // at the end of the epoch
  int64_t step = 0;  // optimisation steps completed by the end of the epoch
};

struct EvalResult {
  double loss = 0;      // per example, or per token for language models
  double accuracy = 0;  // likewise
  int64_t count = 0;    // examples
};

// Mean cross-entropy and accuracy of `model` (put in eval mode, restored after) on a labelled data set
// (classification or language model, see above).
EvalResult evaluate(Module& model, const data::Dataset& dataset, int64_t batch_size = 256);
// The model's outputs for `inputs` (first dim = examples), in eval mode, batch by batch.
Tensor predict(Module& model, const Tensor& inputs, int64_t batch_size = 256);

// Called during an epoch after every batch: (batch index, number of batches, running loss, running accuracy).
using ProgressFn = std::function<void(int64_t, int64_t, double, double)>;

class Trainer {
 public:
  Trainer(std::shared_ptr<Module> model, std::string model_kind, Config model_config,
          std::shared_ptr<const data::Dataset> train_set, std::shared_ptr<const data::Dataset> test_set,
          const TrainOptions& options);

  // Runs one epoch (then evaluates on the test set, if any) and records its metrics.
  EpochMetrics train_epoch(const ProgressFn& progress = nullptr);
  bool done() const { return epoch_ >= options_.epochs || (options_.max_steps > 0 && step_ >= options_.max_steps); }
  // Steps in one epoch, and in the whole run (what the LR schedule spans).
  int64_t steps_per_epoch() const;
  int64_t total_steps() const;
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  const std::vector<EpochMetrics>& history() const { return history_; }

  // Everything needed to resume; metrics history goes into the metadata.
  Checkpoint checkpoint() const;
  // Restores a checkpoint written by checkpoint() for the same model kind and configuration. The optimizer's
  // hyper-parameters (lr, weight decay, momentum, ...) and the schedule's base lr stay this trainer's options.
  void restore(const Checkpoint& checkpoint);

  Module& model() { return *model_; }
  optim::Optimizer& optimizer() { return *optimizer_; }

 private:
  std::shared_ptr<Module> model_;
  std::string kind_;
  Config config_;
  std::shared_ptr<const data::Dataset> train_set_, test_set_;
  TrainOptions options_;
  data::DataLoader loader_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LRScheduler> scheduler_;
  std::unique_ptr<distributed::DistributedDataParallel> ddp_;  // when options_.group has several ranks
  int64_t epoch_ = 0;
  int64_t step_ = 0;
  std::vector<EpochMetrics> history_;
};

}  // namespace tangent::nn
