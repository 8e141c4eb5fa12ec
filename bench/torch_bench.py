#!/usr/bin/python3
"""The PyTorch peer of the deltac benchmark.

    torch_bench.py DIR [THREADS] [REPEAT]       THREADS: 1, 2 or a list such as 1,2

DIR is what `deltac bench SPEC --save-inputs DIR` writes (meta.json, X.npy,
Y.npy, W1.npy b1.npy ..., ref/W1.npy ...; bench/README.md). Builds the same
network from nn.Linear layers holding the initial parameters (float32, or
float64 when meta says so), takes the same steps on the same rows (step s uses
rows (s*B + i) mod n), with the same loss (mse: 1/2 sum of squares per sample,
mean over the batch; cross_entropy: softmax + negative log-likelihood, mean
over the batch) and torch.optim.SGD / Adam / AdamW with meta's settings;
REPEAT timed runs after one warm-up run, each from the initial parameters and
a fresh optimizer. Prints one JSON line per thread count:

    {"engine":"pytorch-1t", "ns_per_step_min":..., "ns_per_step_median":...,
     "max_abs_diff":..., ...}

The minibatches are prepared before the clock starts (views of X and Y when
the rows do not wrap around), so the time is forward, backward and update.
"""
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def blas_threads(n):
    """Sets OpenBLAS's own thread count (Debian's torch calls libblas.so.3, which
    torch.set_num_threads does not reach); returns the BLAS's name."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_set_num_threads(ctypes.c_int(n))
        return "openblas"
    except (OSError, AttributeError):
        return "other"


def main():
    if len(sys.argv) < 2 or len(sys.argv) > 4:
        sys.exit("usage: torch_bench.py DIR [THREADS] [REPEAT]")
    d = sys.argv[1]
    thread_list = [int(t) for t in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1]
    repeat = max(1, int(sys.argv[3])) if len(sys.argv) > 3 else 5
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    sizes = meta["sizes"]
    acts = meta["activations"]
    L = len(sizes) - 1
    loss_kind = meta["loss"]
    opt = meta["optimizer"]
    steps, B = int(meta["steps"]), int(meta["batch"])
    dtype = torch.float64 if meta.get("dtype") == "float64" else torch.float32
    npdt = np.float64 if dtype == torch.float64 else np.float32

    def load(name):
        return torch.from_numpy(np.load(os.path.join(d, name)).astype(npdt))

    X, Y = load("X.npy"), load("Y.npy")
    n = X.shape[0]
    W0 = [load("W%d.npy" % (l + 1)) for l in range(L)]
    b0 = [load("b%d.npy" % (l + 1)) for l in range(L)]
    have_ref = os.path.exists(os.path.join(d, "ref", "W1.npy"))

    modules = []
    for l in range(L):
        lin = torch.nn.Linear(sizes[l], sizes[l + 1], dtype=dtype)
        modules.append(lin)
        a = acts[l]
        if a == "tanh":
            modules.append(torch.nn.Tanh())
        elif a == "relu":
            modules.append(torch.nn.ReLU())
        elif a == "sigmoid":
            modules.append(torch.nn.Sigmoid())
        elif a == "leaky_relu":
            modules.append(torch.nn.LeakyReLU(0.01))
        elif a == "elu":
            modules.append(torch.nn.ELU())
        elif a == "softplus":
            modules.append(torch.nn.Softplus())
        elif a == "gelu":
            modules.append(torch.nn.GELU(approximate="tanh"))
        elif a == "identity" or (a == "softmax" and l == L - 1):
            pass  # softmax is inside the cross-entropy loss
        else:
            sys.exit("torch_bench: activation %s not supported" % a)
    net = torch.nn.Sequential(*modules)
    lins = [m for m in modules if isinstance(m, torch.nn.Linear)]

    if loss_kind == "mse":
        def loss_fn(out, y):
            return 0.5 * ((out - y) ** 2).sum() / out.shape[0]
    elif loss_kind == "cross_entropy":
        def loss_fn(out, y):  # y: class indices (Y is one-hot)
            return F.cross_entropy(out, y)
    elif loss_kind == "binary_cross_entropy":
        def loss_fn(out, y):
            return F.binary_cross_entropy_with_logits(out, y, reduction="sum") / out.shape[0]
        # the sigmoid is inside the loss
        if isinstance(modules[-1], torch.nn.Sigmoid):
            net = torch.nn.Sequential(*modules[:-1])
    else:
        sys.exit("torch_bench: loss %s not supported" % loss_kind)

    Yt = Y.argmax(dim=1) if loss_kind == "cross_entropy" else Y
    batches = []
    for s in range(steps):
        r0 = (s * B) % n
        if r0 + B <= n:
            batches.append((X[r0:r0 + B], Yt[r0:r0 + B]))
        else:
            idx = torch.tensor([(s * B + i) % n for i in range(B)])
            batches.append((X[idx].contiguous(), Yt[idx].contiguous()))

    lr = float(opt.get("lr", opt.get("learning_rate", 0.01)))
    wd = float(opt.get("weight_decay", 0.0))

    def make_opt():
        t = opt.get("type", "sgd")
        if t == "sgd":
            return torch.optim.SGD(net.parameters(), lr=lr,
                                   momentum=float(opt.get("momentum", 0.0)),
                                   nesterov=bool(opt.get("nesterov", False)), weight_decay=wd)
        betas = (float(opt.get("beta1", 0.9)), float(opt.get("beta2", 0.999)))
        eps = float(opt.get("eps", 1e-8))
        if t == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=betas, eps=eps,
                                    weight_decay=wd)
        if t == "adamw":
            return torch.optim.AdamW(net.parameters(), lr=lr, betas=betas, eps=eps,
                                     weight_decay=wd)
        sys.exit("torch_bench: optimizer %s not supported" % t)

    for threads in thread_list:
        torch.set_num_threads(threads)
        blas = blas_threads(threads)
        run(blas, threads, repeat, d, steps, B, n, net, lins, W0, b0, make_opt, loss_fn, batches,
            have_ref)


def run(blas, threads, repeat, d, steps, B, n, net, lins, W0, b0, make_opt, loss_fn, batches, have_ref):
    times = []
    for r in range(repeat + 1):  # r = 0 is the warm-up
        with torch.no_grad():
            for lin, w, b in zip(lins, W0, b0):
                lin.weight.copy_(w)
                lin.bias.copy_(b)
        o = make_opt()
        t0 = time.perf_counter_ns()
        for xb, yb in batches:
            o.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            o.step()
        t1 = time.perf_counter_ns()
        if r > 0:
            times.append((t1 - t0) / steps)

    res = {"engine": "pytorch-%dt" % threads, "threads": threads, "steps": steps, "batch": B,
           "repeat": repeat, "samples": n, "torch": torch.__version__, "blas": blas,
           "ns_per_step_min": round(min(times), 1),
           "ns_per_step_median": round(statistics.median(times), 1),
           "steps_per_s": round(1e9 / min(times), 1)}
    if have_ref:
        diff, rel = 0.0, 0.0
        with torch.no_grad():
            for l, lin in enumerate(lins):
                for name, p in (("W", lin.weight), ("b", lin.bias)):
                    ref = torch.from_numpy(
                        np.load(os.path.join(d, "ref", "%s%d.npy" % (name, l + 1))).astype(
                            np.float64))
                    dd = (p.detach().double() - ref).abs()
                    diff = max(diff, dd.max().item())
                    big = ref.abs() > 1e-3
                    if big.any():
                        rel = max(rel, (dd[big] / ref.abs()[big]).max().item())
        res["max_abs_diff"] = float("%.3g" % diff)
        res["max_rel_diff"] = float("%.3g" % rel)
    else:
        res["max_abs_diff"] = None
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
