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

# name, inputs, [(units, activation[, alpha]), ...], loss, seed. Together they
# cover every hidden activation (identity, sigmoid, tanh, relu, leaky_relu,
# elu, softplus, gelu), mse with every other output activation,
# cross_entropy with softmax and binary_cross_entropy with sigmoid (one
# output and several). leaky_relu and elu appear with their default alpha
# (no "alpha" key) and with a given one. tests/test_torch_reference.c lists
# the same names.
CASES = [
    ("mse_sigmoid_identity", 3, [(5, "sigmoid"), (2, "identity")], "mse", 101),
    ("mse_tanh_relu_sigmoid", 4, [(6, "tanh"), (5, "relu"), (3, "sigmoid")], "mse", 202),
    ("mse_identity_tanh", 2, [(8, "identity"), (4, "tanh")], "mse", 303),
    ("ce_relu_sigmoid_softmax", 6, [(7, "relu"), (4, "sigmoid"), (3, "softmax")],
     "cross_entropy", 404),
    ("ce_tanh_softmax2", 8, [(3, "tanh"), (2, "softmax")], "cross_entropy", 505),
    ("mse_leaky_elu_softplus", 4, [(6, "leaky_relu", 0.05), (5, "elu", 0.7), (3, "softplus")],
     "mse", 606),
    ("mse_gelu_gelu", 3, [(7, "gelu"), (2, "gelu")], "mse", 707),
    ("mse_softplus_elu", 2, [(4, "softplus"), (3, "elu", 1.3)], "mse", 808),
    ("mse_gelu_leaky", 3, [(4, "gelu"), (2, "leaky_relu", 0.1)], "mse", 909),
    ("ce_leaky_softmax", 6, [(5, "leaky_relu"), (3, "softmax")], "cross_entropy", 1010),
    ("bce_gelu_softplus_sigmoid", 5, [(6, "gelu"), (4, "softplus"), (3, "sigmoid")],
     "binary_cross_entropy", 1111),
    ("bce_elu_sigmoid1", 3, [(5, "elu"), (1, "sigmoid")], "binary_cross_entropy", 1212),
]

# PyTorch's defaults, which deltac's match
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}

F = torch.nn.functional

# activation name -> f(z, alpha)
ACT = {
    "identity": lambda z, al: z,
    "sigmoid": lambda z, al: torch.sigmoid(z),
    "tanh": lambda z, al: torch.tanh(z),
    "relu": lambda z, al: torch.relu(z),
    "softmax": lambda z, al: torch.softmax(z, dim=1),
    "leaky_relu": lambda z, al: F.leaky_relu(z, negative_slope=al),
    "elu": lambda z, al: F.elu(z, alpha=al),
    "softplus": lambda z, al: F.softplus(z),
    "gelu": lambda z, al: F.gelu(z, approximate="tanh"),
}


def layer_parts(layer):
    """(units, activation, alpha or None as given in the spec)"""
    return (layer[0], layer[1], layer[2] if len(layer) > 2 else None)


def layer_json(layer):
    units, act, alpha = layer_parts(layer)
    d = {"units": units, "activation": act}
    if alpha is not None:
        d["alpha"] = alpha
    return d


def spec_text(name, n_in, layers, loss):
    spec = {
        "version": 1,
        "name": name,
        "dtype": "float64",
        "input": n_in,
        "layers": [layer_json(layer) for layer in layers],
        "loss": loss,
    }
    return json.dumps(spec, indent=2) + "\n"


def targets(rng, loss, out_act, n_out):
    if loss == "cross_entropy":
        y = np.zeros((BATCH, n_out))
        y[np.arange(BATCH), rng.integers(0, n_out, BATCH)] = 1.0
        return y
    if loss == "binary_cross_entropy":
        # 0/1 labels for a single output, probabilities for several
        if n_out == 1:
            return rng.integers(0, 2, (BATCH, n_out)).astype(np.float64)
        return rng.uniform(0.0, 1.0, (BATCH, n_out))
    lo, hi = {"identity": (-2.0, 2.0), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0),
              "leaky_relu": (-1.0, 2.0), "elu": (-0.7, 2.0), "softplus": (0.0, 2.0),
              "gelu": (-0.2, 2.0)}[out_act]
    return rng.uniform(lo, hi, (BATCH, n_out))


def make_case(name, n_in, layers, loss, seed):
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [layer[0] for layer in layers]
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
    for lin, layer in zip(linears, layers):
        _, act, alpha = layer_parts(layer)
        z = lin(a)
        a = ACT[act](z, alpha if alpha is not None else DEFAULT_ALPHA.get(act))
    if loss == "mse":
        per_sample = 0.5 * ((a - yt) ** 2).sum(dim=1)
    elif loss == "binary_cross_entropy":
        # z is the last layer's pre-activation; a = sigmoid(z)
        per_sample = F.binary_cross_entropy_with_logits(z, yt, reduction="none").sum(dim=1)
        total = F.binary_cross_entropy_with_logits(z, yt, reduction="sum")
        assert abs(per_sample.sum().item() - total.item()) <= 1e-12 * abs(total.item())
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
