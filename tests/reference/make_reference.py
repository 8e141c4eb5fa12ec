#!/usr/bin/env python3
"""Writes the PyTorch reference cases that tests/test_torch_reference.c checks
deltac against.

For each case below: a deltac spec (CASE/spec.json, float64), seeded
parameters, a batch of inputs and targets, and what PyTorch (float64,
torch.nn.Linear layers, autograd) computes from them: the network outputs,
the per-sample losses and the gradient of the summed loss w.r.t. every
parameter. Everything is a .npy file; see README.md.

Run from the repository root with Debian's python3-torch:

    python3 tests/reference/make_reference.py

The output is deterministic: the same files every run.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 5

# name, inputs, [(units, activation), ...], loss, seed. Together they cover
# every hidden activation (identity, sigmoid, tanh, relu), mse with an
# identity, sigmoid and tanh output, and cross_entropy with softmax.
# tests/test_torch_reference.c lists the same names.
CASES = [
    ("mse_sigmoid_identity", 3, [(5, "sigmoid"), (2, "identity")], "mse", 101),
    ("mse_tanh_relu_sigmoid", 4, [(6, "tanh"), (5, "relu"), (3, "sigmoid")], "mse", 202),
    ("mse_identity_tanh", 2, [(8, "identity"), (4, "tanh")], "mse", 303),
    ("ce_relu_sigmoid_softmax", 6, [(7, "relu"), (4, "sigmoid"), (3, "softmax")],
     "cross_entropy", 404),
    ("ce_tanh_softmax2", 8, [(3, "tanh"), (2, "softmax")], "cross_entropy", 505),
]

ACT = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def spec_text(name, n_in, layers, loss):
    spec = {
        "version": 1,
        "name": name,
        "dtype": "float64",
        "input": n_in,
        "layers": [{"units": u, "activation": a} for u, a in layers],
        "loss": loss,
    }
    return json.dumps(spec, indent=2) + "\n"


def targets(rng, loss, out_act, n_out):
    if loss == "cross_entropy":
        y = np.zeros((BATCH, n_out))
        y[np.arange(BATCH), rng.integers(0, n_out, BATCH)] = 1.0
        return y
    lo, hi = {"identity": (-2.0, 2.0), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}[out_act]
    return rng.uniform(lo, hi, (BATCH, n_out))


def make_case(name, n_in, layers, loss, seed):
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [u for u, _ in layers]
    params = []  # (W [out, in], b [out]) per layer
    for l in range(1, len(sizes)):
        w = rng.uniform(-1.0, 1.0, (sizes[l], sizes[l - 1]))
        b = rng.uniform(-0.5, 0.5, sizes[l])
        params.append((w, b))
    x = rng.uniform(-1.0, 1.0, (BATCH, n_in))
    y = targets(rng, loss, layers[-1][1], sizes[-1])

    linears = []
    for w, b in params:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        linears.append(lin)

    a = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    for lin, (_, act) in zip(linears, layers):
        z = lin(a)
        a = ACT[act](z)
    if loss == "mse":
        per_sample = 0.5 * ((a - yt) ** 2).sum(dim=1)
    else:
        # z is the last layer's pre-activation; a = softmax(z)
        per_sample = -(yt * torch.log_softmax(z, dim=1)).sum(dim=1)
    per_sample.sum().backward()

    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    written = []

    def save(fname, arr):
        arr = np.ascontiguousarray(arr, dtype="<f8")
        np.save(os.path.join(folder, fname), arr)
        written.append("%s%s" % (fname, list(arr.shape)))

    with open(os.path.join(folder, "spec.json"), "w", newline="\n") as f:
        f.write(spec_text(name, n_in, layers, loss))
    written.append("spec.json")
    for l, ((w, b), lin) in enumerate(zip(params, linears), start=1):
        save("W%d.npy" % l, w)
        save("b%d.npy" % l, b)
    save("X.npy", x)
    save("Y.npy", y)
    save("out.npy", a.detach().numpy())
    save("loss.npy", per_sample.detach().numpy())
    for l, lin in enumerate(linears, start=1):
        save("gW%d.npy" % l, lin.weight.grad.numpy())
        save("gb%d.npy" % l, lin.bias.grad.numpy())
    print("%s/: %s" % (os.path.relpath(folder), " ".join(written)))


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    for case in CASES:
        make_case(*case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
