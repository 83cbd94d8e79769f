#include "optim/schedule.hpp"

#include <cmath>
#include <numbers>

namespace nalgrad::optim {

LRSchedule::LRSchedule(Optimizer& optimizer) : optimizer_(optimizer) {
    for (Optimizer::Group& group : optimizer.groups_) {
        if (!group.initial_lr) group.initial_lr = group.lr;
        base_lrs_.push_back(*group.initial_lr);
    }
}

double LRSchedule::base_lr(std::size_t group) const {
    if (group >= base_lrs_.size())
        fail("LRSchedule.base_lr", "group {} is out of range, {} has {} group{}", group,
             optimizer_.name(), base_lrs_.size(), base_lrs_.size() == 1 ? "" : "s");
    return base_lrs_[group];
}

void LRSchedule::apply(int64_t t) {
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, lr_at(t, base_lrs_[g]));
}

void LRSchedule::start() {
    apply(0);
}

void LRSchedule::step() {
    ++last_step_;
    apply(last_step_);
}

void LRSchedule::set_last_step(int64_t t) {
    if (t < 0) fail("LRSchedule.set_last_step", "the step must be >= 0, got {}", t);
    last_step_ = t;
    apply(t);
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRSchedule(optimizer), step_size_(step_size), gamma_(gamma) {
    if (step_size < 1) fail("StepLR", "step_size must be >= 1, got {}", step_size);
    if (!(gamma >= 0) || !std::isfinite(gamma))
        fail("StepLR", "gamma must be finite and >= 0, got {}", gamma);
    start();
}

double StepLR::lr_at(int64_t t, double base) const {
    return base * std::pow(gamma_, static_cast<double>(t / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRSchedule(optimizer), T_max_(T_max), eta_min_(eta_min) {
    if (T_max < 1) fail("CosineAnnealingLR", "T_max must be >= 1, got {}", T_max);
    if (!(eta_min >= 0) || !std::isfinite(eta_min))
        fail("CosineAnnealingLR", "eta_min must be finite and >= 0, got {}", eta_min);
    start();
}

double CosineAnnealingLR::lr_at(int64_t t, double base) const {
    const double angle = std::numbers::pi * static_cast<double>(t) / static_cast<double>(T_max_);
    return eta_min_ + (base - eta_min_) * (1 + std::cos(angle)) / 2;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor,
                           std::unique_ptr<LRSchedule> then)
    : LRSchedule(optimizer),
      warmup_steps_(warmup_steps),
      start_factor_(start_factor),
      then_(std::move(then)) {
    if (warmup_steps < 1) fail("LinearWarmup", "warmup_steps must be >= 1, got {}", warmup_steps);
    if (!(start_factor > 0 && start_factor <= 1))
        fail("LinearWarmup", "start_factor must be in (0, 1], got {}", start_factor);
    if (then_ && &then_->optimizer() != &optimizer)
        fail("LinearWarmup", "the wrapped schedule drives a different optimizer ({}, not {})",
             then_->optimizer().name(), optimizer.name());
    start();
}

double LinearWarmup::lr_at(int64_t t, double base) const {
    if (t >= warmup_steps_) return then_ ? then_->lr_at(t - warmup_steps_, base) : base;
    const double progress = static_cast<double>(t) / static_cast<double>(warmup_steps_);
    return base * (start_factor_ + (1 - start_factor_) * progress);
}

}  // namespace nalgrad::optim
