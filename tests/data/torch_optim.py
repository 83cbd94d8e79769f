"""Writes tests/data/optim_reference.txt: parameter values after PyTorch's optimizers ran a few
steps on a small quadratic, their state, and learning-rate sequences of PyTorch's schedulers.
Run from the repository root with Debian's /usr/bin/python3 (python3-torch 1.13):
    /usr/bin/python3 tests/data/torch_optim.py

Problem: parameters p0 [2, 3] and p1 [3] with loss_i = 0.5 * sum(a_i * (p_i - c_i)^2), so
grad_i = a_i * (p_i - c_i); p2 [2] never receives a gradient and must stay unchanged.
Names: problem.{p0,a0,c0,...}, <config>.step<k>.p<i>, <config>.state.<i>.<buffer>,
schedule.<name> (lr after construction, then after each step).

Parameter groups: groups.<config>.step<k>.p<i> and groups.<config>.state.<i>.<buffer> (i numbered
over the groups in order, as state_dict numbers them: 0 is p1, 1 is p0, 2 is p2), and
groups.<config>.lr<g> (group g's lr after construction, then after each step), with the groups
[p1] and [p0, p2] under CosineAnnealingLR."""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from reference_io import write_reference  # noqa: E402

torch.set_default_dtype(torch.float64)

problem = {
    "p0": torch.tensor([[1.5, -2.0, 0.25], [3.0, -0.5, 2.0]]),
    "a0": torch.tensor([[1.0, 0.5, 2.0], [0.25, 3.0, 1.5]]),
    "c0": torch.tensor([[-1.0, 0.5, 1.0], [2.0, 0.0, -3.0]]),
    "p1": torch.tensor([0.75, -1.25, 4.0]),
    "a1": torch.tensor([2.5, 1.0, 0.125]),
    "c1": torch.tensor([0.0, 1.0, -2.0]),
    "p2": torch.tensor([0.5, -0.5]),
}

configs = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.1, momentum=0.8, dampening=0.5)),
    "sgd_nesterov_wd": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                              weight_decay=0.01)),
    "adam": (torch.optim.Adam, dict(lr=0.1)),
    "adam_wd": (torch.optim.Adam, dict(lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, dict(lr=0.1, weight_decay=0.1)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_centered_momentum": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-6,
                                                            momentum=0.5, centered=True,
                                                            weight_decay=0.05)),
}
recorded_steps = [1, 2, 3, 10]

out = {"problem." + k: v for k, v in problem.items()}
for name, (cls, options) in configs.items():
    params = [problem[k].clone().requires_grad_() for k in ("p0", "p1", "p2")]
    opt = cls(params, **options)
    for step in range(1, max(recorded_steps) + 1):
        opt.zero_grad()
        for i in range(2):
            a, c = problem["a%d" % i], problem["c%d" % i]
            (0.5 * (a * (params[i] - c) ** 2).sum()).backward()
        opt.step()
        if step in recorded_steps:
            for i, p in enumerate(params):
                out["%s.step%d.p%d" % (name, step, i)] = p.detach().clone()
    for i, p in enumerate(params):
        for buffer, value in opt.state[p].items():
            if value is None:  # SGD without momentum keeps an empty slot
                continue
            value = torch.as_tensor(value).detach().clone()  # RMSprop's step is an int
            out["%s.state.%d.%s" % (name, i, buffer)] = (value.reshape(())
                                                         if buffer == "step" else value)

# Group 0 sets its own lr and weight decay, group 1 takes the options' for what it leaves unset.
grouped_configs = {
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01),
                     [dict(lr=0.05, weight_decay=0.1), dict()]),
    "adamw": (torch.optim.AdamW, dict(lr=0.1, weight_decay=0.1),
              [dict(lr=0.02), dict(weight_decay=0.0)]),
}
grouped_steps = 6  # past T_max = 4, where the cosine rises again

for name, (cls, options, group_options) in grouped_configs.items():
    params = {k: problem[k].clone().requires_grad_() for k in ("p0", "p1", "p2")}
    members = [["p1"], ["p0", "p2"]]
    opt = cls([dict(params=[params[k] for k in keys], **extra)
               for keys, extra in zip(members, group_options)], **options)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    lrs = [[g["lr"]] for g in opt.param_groups]
    prefix = "groups." + name
    for step in range(1, grouped_steps + 1):
        opt.zero_grad()
        for i in range(2):
            a, c = problem["a%d" % i], problem["c%d" % i]
            (0.5 * (a * (params["p%d" % i] - c) ** 2).sum()).backward()
        opt.step()
        sched.step()
        for g, group in enumerate(opt.param_groups):
            lrs[g].append(group["lr"])
        for k, p in params.items():
            out["%s.step%d.%s" % (prefix, step, k)] = p.detach().clone()
    for g, values in enumerate(lrs):
        out["%s.lr%d" % (prefix, g)] = torch.tensor(values)
    for index, entries in opt.state_dict()["state"].items():
        for buffer, value in entries.items():
            if value is None:
                continue
            value = torch.as_tensor(value).detach().clone()
            out["%s.state.%d.%s" % (prefix, index, buffer)] = (value.reshape(())
                                                               if buffer == "step" else value)


def lr_sequence(make, steps=25, base_lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return torch.tensor(lrs)


S = torch.optim.lr_scheduler


def warmup(opt, steps, start, then=None):
    # Inner schedulers must exist before SequentialLR, as PyTorch requires.
    then = then(opt) if then else S.ConstantLR(opt, factor=1.0, total_iters=0)
    first = S.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=steps)
    return S.SequentialLR(opt, [first, then], milestones=[steps])


schedules = {
    "steplr": lambda opt: S.StepLR(opt, step_size=3, gamma=0.5),
    "cosine": lambda opt: S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
    "warmup_constant": lambda opt: warmup(opt, 5, 0.1),
    "warmup_cosine": lambda opt: warmup(
        opt, 4, 0.25, lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.01)),
    "warmup_steplr": lambda opt: warmup(opt, 3, 0.5, lambda o: S.StepLR(o, step_size=4, gamma=0.5)),
}
for name, make in schedules.items():
    out["schedule." + name] = lr_sequence(make)

here = os.path.dirname(os.path.abspath(__file__))
write_reference(os.path.join(here, "optim_reference.txt"), out,
                "Written by tests/data/torch_optim.py with PyTorch %s; do not edit." %
                torch.__version__)
