#pragma once
// Learning-rate schedulers. Each computes the lr of every parameter group from its base lr (the group's lr when
// the scheduler was built) and the epoch counter in closed form, so a schedule resumed from its state (last_epoch
// and base lrs) continues exactly. As in PyTorch, building a scheduler sets epoch 0's lr; call step() after each
// optimizer.step() (or each epoch) to advance.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim/optimizer.h"

namespace tangent::optim {

// What a checkpoint stores for a scheduler: kind, "last_epoch", "num_groups", "base_lr.<g>".
struct SchedulerState {
  std::string kind;
  std::vector<std::pair<std::string, double>> scalars;
};

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and writes the new lrs into the optimizer's groups.
  void step();
  // The lr set by the last step (of the first group), and of every group.
  double get_last_lr() const { return last_lrs_.empty() ? 0.0 : last_lrs_.front(); }
  const std::vector<double>& get_last_lrs() const { return last_lrs_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  virtual std::string kind() const = 0;
  // The closed form: the lr at `epoch` of a group whose base lr is `base_lr`.
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;

  SchedulerState state_dict() const;
  // Restores last_epoch and the base lrs (kind and number of groups must match) and sets the optimizer's lrs.
  void load_state_dict(const SchedulerState& state);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Subclass constructors call this once their parameters are set: applies epoch 0.
  void initialize();

 private:
  void apply();
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lrs_;
  int64_t last_epoch_ = -1;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  std::string kind() const override { return "StepLR"; }
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  std::string kind() const override { return "ExponentialLR"; }
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  double gamma_;
};

// Linear warmup, then cosine decay. With W = warmup_steps, T = total_steps, f = start_factor, t = epoch:
//   t <  W:       lr = base_lr * (f + (1 - f) * t / W)                       (from f * base_lr up to base_lr)
//   W <= t <  T:  lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2
//   t >= T:       lr = min_lr
// So epoch 0 has lr f * base_lr (0 by default), epoch W has base_lr, and epoch T reaches min_lr.
class CosineAnnealingWarmup : public LRScheduler {
 public:
  CosineAnnealingWarmup(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0,
                        double start_factor = 0.0);
  std::string kind() const override { return "CosineAnnealingWarmup"; }
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t warmup_steps_;
  int64_t total_steps_;
  double min_lr_;
  double start_factor_;
};

}  // namespace tangent::optim
