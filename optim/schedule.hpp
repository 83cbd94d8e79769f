// Learning-rate schedules: each holds a reference to an optimizer and sets its learning rates on
// step(), giving the values of PyTorch 1.13's schedulers of the same names. Every parameter group
// follows the schedule from a base of its own: the group's learning rate when the optimizer's
// first schedule was attached (PyTorch's initial_lr, kept per group). With t the number of step()
// calls so far (PyTorch's last_epoch), each group's learning rate is lr_at(t, base):
//   StepLR:            lr(t) = base * gamma^floor(t / step_size)
//   CosineAnnealingLR: lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
//                      (PyTorch's closed form; past T_max it rises again, as PyTorch's does)
//   LinearWarmup:      lr(t) = base * (start_factor + (1 - start_factor) * t / warmup_steps)
//                      for t < warmup_steps, then the wrapped schedule restarted at 0,
//                      then_lr(t - warmup_steps), or base without one. PyTorch:
//                      SequentialLR([LinearLR(start_factor, total_iters = warmup_steps), then],
//                      milestones = [warmup_steps]).
// Constructing a schedule sets lr(0), as PyTorch's do. Usage, once per epoch or per batch:
//   optim::CosineAnnealingLR schedule(opt, 100);  ...  opt.step(); schedule.step();
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "optim/optimizer.hpp"

namespace nalgrad::optim {

class LRSchedule {
  public:
    virtual ~LRSchedule() = default;
    LRSchedule(const LRSchedule&) = delete;
    LRSchedule& operator=(const LRSchedule&) = delete;

    void step();  // t += 1; sets each group's lr to lr_at(t, its base)
    int64_t last_step() const { return last_step_; }
    void set_last_step(int64_t t);  // resuming from a checkpoint; sets lr_at(t, base) likewise
    // A group's base and its learning rate now (group 0's when not given).
    double base_lr(std::size_t group = 0) const;
    double lr(std::size_t group = 0) const { return lr_at(last_step_, base_lr(group)); }
    // The learning rate at step t of a group whose base is `base`; lr_at(t) is group 0's.
    virtual double lr_at(int64_t t, double base) const = 0;
    double lr_at(int64_t t) const { return lr_at(t, base_lr()); }
    Optimizer& optimizer() const { return optimizer_; }

  protected:
    explicit LRSchedule(Optimizer& optimizer);
    void start();  // each constructor's last act: applies lr_at(0, base)

  private:
    void apply(int64_t t);

    Optimizer& optimizer_;
    std::vector<double> base_lrs_;  // per group
    int64_t last_step_ = 0;
};

class StepLR : public LRSchedule {
  public:
    StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
    using LRSchedule::lr_at;
    double lr_at(int64_t t, double base) const override;

  private:
    int64_t step_size_;
    double gamma_;
};

class CosineAnnealingLR : public LRSchedule {
  public:
    CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);
    using LRSchedule::lr_at;
    double lr_at(int64_t t, double base) const override;

  private:
    int64_t T_max_;
    double eta_min_;
};

class LinearWarmup : public LRSchedule {
  public:
    // `then` (optional) must drive the same optimizer; its own step() is never called.
    LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor,
                 std::unique_ptr<LRSchedule> then = nullptr);
    using LRSchedule::lr_at;
    double lr_at(int64_t t, double base) const override;

  private:
    int64_t warmup_steps_;
    double start_factor_;
    std::unique_ptr<LRSchedule> then_;
};

}  // namespace nalgrad::optim
