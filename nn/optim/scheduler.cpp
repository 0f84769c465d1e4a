// Learning-rate schedulers: the shared epoch counter and state, and each schedule's closed form.
#include "nn/optim/scheduler.h"

#include <cmath>

namespace tangent::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const auto& group : optimizer_.param_groups()) base_lrs_.push_back(group.options.lr);
}

void LRScheduler::initialize() { step(); }

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  TANGENT_CHECK(groups.size() == base_lrs_.size(), kind(), ": the optimizer has ", groups.size(),
                " parameter groups but the scheduler was built for ", base_lrs_.size());
  last_lrs_.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    last_lrs_[g] = lr_at(last_epoch_, base_lrs_[g]);
    groups[g].options.lr = last_lrs_[g];
  }
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState s;
  s.kind = kind();
  s.scalars.emplace_back("last_epoch", static_cast<double>(last_epoch_));
  s.scalars.emplace_back("num_groups", static_cast<double>(base_lrs_.size()));
  for (size_t g = 0; g < base_lrs_.size(); ++g) s.scalars.emplace_back("base_lr." + std::to_string(g), base_lrs_[g]);
  return s;
}

void LRScheduler::load_state_dict(const SchedulerState& state) {
  const std::string op = kind() + ": load_state_dict";
  TANGENT_CHECK(state.kind == kind(), op, ": the state was saved by a '", state.kind, "' scheduler, not '", kind(),
                "'");
  auto scalar = [&](const std::string& name) {
    const double* v = find_scalar(state.scalars, name);
    TANGENT_CHECK(v != nullptr, op, ": the state has no scalar '", name, "'");
    return *v;
  };
  TANGENT_CHECK(scalar("num_groups") == static_cast<double>(base_lrs_.size()), op, ": the state has ",
                scalar("num_groups"), " parameter groups but the optimizer has ", base_lrs_.size());
  const double epoch = scalar("last_epoch");
  TANGENT_CHECK(epoch >= 0 && epoch == std::floor(epoch), op, ": invalid last_epoch ", epoch);
  std::vector<double> base(base_lrs_.size());
  for (size_t g = 0; g < base.size(); ++g) base[g] = scalar("base_lr." + std::to_string(g));
  base_lrs_ = base;
  last_epoch_ = static_cast<int64_t>(epoch);
  apply();
}

// ---- StepLR ----
StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  TANGENT_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initialize();
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

// ---- ExponentialLR ----
ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  initialize();
}

double ExponentialLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

// ---- CosineAnnealingWarmup ----
constexpr double kPi = 3.14159265358979323846;

CosineAnnealingWarmup::CosineAnnealingWarmup(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                                             double min_lr, double start_factor)
    : LRScheduler(optimizer),
      warmup_steps_(warmup_steps),
      total_steps_(total_steps),
      min_lr_(min_lr),
      start_factor_(start_factor) {
  TANGENT_CHECK(warmup_steps >= 0 && total_steps >= warmup_steps && total_steps > 0,
                "CosineAnnealingWarmup: need 0 <= warmup_steps <= total_steps and total_steps > 0, got warmup_steps ",
                warmup_steps, " and total_steps ", total_steps);
  TANGENT_CHECK(min_lr >= 0.0, "CosineAnnealingWarmup: min_lr must be >= 0, got ", min_lr);
  TANGENT_CHECK(start_factor >= 0.0 && start_factor <= 1.0,
                "CosineAnnealingWarmup: start_factor must be in [0, 1], got ", start_factor);
  initialize();
}

double CosineAnnealingWarmup::lr_at(int64_t epoch, double base_lr) const {
  if (epoch < warmup_steps_) {
    const double frac = static_cast<double>(epoch) / static_cast<double>(warmup_steps_);
    return base_lr * (start_factor_ + (1.0 - start_factor_) * frac);
  }
  if (epoch >= total_steps_) return min_lr_;
  const double progress =
      static_cast<double>(epoch - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return min_lr_ + (base_lr - min_lr_) * 0.5 * (1.0 + std::cos(kPi * progress));
}

}  // namespace tangent::optim
