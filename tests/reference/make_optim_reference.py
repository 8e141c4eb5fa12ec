#!/usr/bin/env python3
"""Writes the PyTorch optimizer reference cases that tests/test_optim.c checks
deltac against.

One small float64 network (3 -> 5 tanh -> 2 identity, mse), one set of
seeded initial parameters and one data set of 8 rows, shared by every case
(optim/W1.npy ... optim/Y.npy). Each case (optim/CASE/) is a deltac spec with
a train section (optimizer, clipping, schedule) and what PyTorch computes
when it trains the network on the data in order (batches of 4 rows, no
shuffling, 3 epochs: 6 steps) with the same settings:

  lr.npy      [6]             the learning rate of each step
  loss.npy    [6]             the mean loss of each step's batch (before the step)
  params.npy  [6, n_params]   the parameters after each step, in deltac's flat
                              layout W1, b1, W2, b2 (W row-major, nn.Linear's)

The loss of a batch is the mean over its rows of 1/2 sum_k (a_k - y_k)^2,
torch.optim's optimizers step on its gradient, clip_grad_norm_ clips it.
The epoch schedules are torch's own (StepLR, CosineAnnealingLR, stepped once
per epoch on a separate optimizer); the rate of a step is that epoch's rate
times the warm-up factor min(1, t / warmup_steps), t the 1-based step
(docs/training.md).

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/reference/make_optim_reference.py

The output is deterministic: the same files every run.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim")
SIZES = [3, 5, 2]
ACTS = ["tanh", "identity"]
ROWS = 8
BATCH = 4
EPOCHS = 3

# name, optimizer (as in the spec), clip_norm or None, schedule or None.
# tests/test_optim.c lists the same names.
CASES = [
    ("sgd", {"type": "sgd", "learning_rate": 0.1}, None, None),
    ("sgd_momentum", {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}, None, None),
    ("sgd_nesterov", {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
     None, None),
    ("sgd_weight_decay", {"type": "sgd", "learning_rate": 0.1, "weight_decay": 0.05}, None, None),
    ("sgd_momentum_weight_decay",
     {"type": "sgd", "learning_rate": 0.1, "momentum": 0.8, "weight_decay": 0.01}, None, None),
    ("adam", {"type": "adam", "learning_rate": 0.01}, None, None),
    ("adam_weight_decay", {"type": "adam", "learning_rate": 0.01, "weight_decay": 0.1}, None, None),
    ("adamw", {"type": "adamw", "learning_rate": 0.01, "weight_decay": 0.1}, None, None),
    ("sgd_clip", {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}, 0.05, None),
    ("adam_clip", {"type": "adam", "learning_rate": 0.01, "betas": [0.8, 0.99], "eps": 1e-6},
     0.1, None),
    ("constant_warmup", {"type": "sgd", "learning_rate": 0.2}, None,
     {"type": "constant", "warmup_steps": 4}),
    ("step_warmup", {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}, None,
     {"type": "step", "step_epochs": 1, "gamma": 0.5, "warmup_steps": 3}),
    ("cosine_warmup", {"type": "adamw", "learning_rate": 0.02}, None,
     {"type": "cosine", "min_lr": 0.002, "warmup_steps": 2}),
]


def spec_text(name, optimizer, clip, schedule):
    train = {"optimizer": optimizer, "batch_size": BATCH, "epochs": EPOCHS, "shuffle": False}
    if clip is not None:
        train["clip_norm"] = clip
    if schedule is not None:
        train["schedule"] = schedule
    spec = {
        "version": 1,
        "name": name,
        "dtype": "float64",
        "input": SIZES[0],
        "layers": [{"units": u, "activation": a} for u, a in zip(SIZES[1:], ACTS)],
        "loss": "mse",
        "train": train,
    }
    return json.dumps(spec, indent=2) + "\n"


def make_optimizer(params, o):
    lr = o["learning_rate"]
    wd = o.get("weight_decay")
    if o["type"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0.0),
                               nesterov=o.get("nesterov", False), weight_decay=wd or 0.0)
    betas = tuple(o.get("betas", (0.9, 0.999)))
    eps = o.get("eps", 1e-8)
    if o["type"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd or 0.0)
    # AdamW's default weight decay is 0.01, as deltac's
    return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps,
                             weight_decay=0.01 if wd is None else wd)


def epoch_scheduler(base_lr, schedule):
    """An optimizer over a dummy parameter whose rate torch's scheduler sets
    once per epoch, and the scheduler (None for a constant rate)."""
    dummy = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([dummy], lr=base_lr)
    kind = schedule["type"] if schedule else "constant"
    if kind == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=schedule["step_epochs"],
                                                gamma=schedule.get("gamma", 0.1))
    elif kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS,
                                                           eta_min=schedule.get("min_lr", 0.0))
    else:
        sched = None
    return opt, sched


def flat(linears):
    parts = []
    for lin in linears:
        parts.append(lin.weight.detach().numpy().reshape(-1))
        parts.append(lin.bias.detach().numpy().reshape(-1))
    return np.concatenate(parts)


def save(folder, fname, arr):
    np.save(os.path.join(folder, fname), np.ascontiguousarray(arr, dtype="<f8"))


def make_case(name, optimizer, clip, schedule, init, x, y):
    linears = []
    for l in range(1, len(SIZES)):
        lin = torch.nn.Linear(SIZES[l - 1], SIZES[l], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(init[l - 1][0]))
            lin.bias.copy_(torch.from_numpy(init[l - 1][1]))
        linears.append(lin)
    params = [p for lin in linears for p in (lin.weight, lin.bias)]
    opt = make_optimizer(params, optimizer)
    sched_opt, sched = epoch_scheduler(optimizer["learning_rate"], schedule)
    warmup = schedule.get("warmup_steps", 0) if schedule else 0

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lrs, losses, after = [], [], []
    t = 0
    for _ in range(EPOCHS):
        epoch_lr = sched_opt.param_groups[0]["lr"]
        for s in range(0, ROWS, BATCH):
            t += 1
            lr = epoch_lr * (t / warmup) if warmup and t < warmup else epoch_lr
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad()
            a = xt[s:s + BATCH]
            for lin, act in zip(linears, ACTS):
                a = lin(a)
                if act == "tanh":
                    a = torch.tanh(a)
            loss = (0.5 * ((a - yt[s:s + BATCH]) ** 2).sum(dim=1)).mean()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            lrs.append(lr)
            losses.append(loss.item())
            after.append(flat(linears))
        if sched is not None:
            sched_opt.step()  # no gradient: nothing changes but the order torch expects
            sched.step()

    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "spec.json"), "w", newline="\n") as f:
        f.write(spec_text(name, optimizer, clip, schedule))
    save(folder, "lr.npy", np.array(lrs))
    save(folder, "loss.npy", np.array(losses))
    save(folder, "params.npy", np.stack(after))
    print("%s/: spec.json lr.npy loss.npy params.npy%s" % (os.path.relpath(folder), list(np.stack(after).shape)))


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    rng = np.random.default_rng(2024)
    init = []
    for l in range(1, len(SIZES)):
        w = rng.uniform(-1.0, 1.0, (SIZES[l], SIZES[l - 1]))
        b = rng.uniform(-0.5, 0.5, SIZES[l])
        init.append((w, b))
    x = rng.uniform(-1.0, 1.0, (ROWS, SIZES[0]))
    y = rng.uniform(-1.0, 1.0, (ROWS, SIZES[-1]))
    os.makedirs(HERE, exist_ok=True)
    for l, (w, b) in enumerate(init, start=1):
        save(HERE, "W%d.npy" % l, w)
        save(HERE, "b%d.npy" % l, b)
    save(HERE, "X.npy", x)
    save(HERE, "Y.npy", y)
    for case in CASES:
        make_case(*case, init, x, y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
