#!/usr/bin/python3
"""Writes a benchmark input folder without deltac, to test the peers on their own.

    fake_inputs.py DIR --sizes 4,16,16,1 [--acts tanh,tanh,identity] [--loss mse]
                   [--opt sgd|adam] [--lr 0.01] [--steps 100] [--batch 1]
                   [--samples 1000] [--seed 1] [--fann-clip]

The folder has the layout of `deltac bench SPEC --save-inputs DIR` (docs in
bench/README.md): meta.json, X.npy, Y.npy, W1.npy b1.npy ... (initial
parameters, xavier-uniform weights, zero biases) and ref/W1.npy ... The
reference parameters here come from a float64 NumPy implementation of the
same steps (rows (s*B + i) mod n, mean gradient, SGD or Adam with PyTorch's
equations), rounded to float32: an independent third implementation, so a
peer that matches it within float32 rounding matches deltac's definition.
"""
import argparse
import json
import os

import numpy as np


def act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise SystemExit("fake_inputs: activation %s not supported" % name)


FANN_CLIP = False


def dact(name, z, a):
    if name == "tanh":
        if FANN_CLIP:  # FANN's fann_activation_derived clips a to +-0.98
            a = np.clip(a, -0.98, 0.98)
        return 1.0 - a * a
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "relu":
        return (z > 0).astype(z.dtype)
    raise SystemExit("fake_inputs: derivative of %s not supported" % name)


def grads(Ws, bs, acts, loss, x, y):
    """Mean gradient over the rows of x (float64)."""
    a = [x]
    zs = []
    for W, b, f in zip(Ws, bs, acts):
        z = a[-1] @ W.T + b
        zs.append(z)
        a.append(act(f, z))
    B = x.shape[0]
    if loss == "cross_entropy":
        d = a[-1] - y
    else:
        d = (a[-1] - y) * dact(acts[-1], zs[-1], a[-1])
    gW = [None] * len(Ws)
    gb = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        gW[l] = d.T @ a[l] / B
        gb[l] = d.sum(axis=0) / B
        if l > 0:
            d = (d @ Ws[l]) * dact(acts[l - 1], zs[l - 1], a[l])
    return gW, gb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--acts")
    ap.add_argument("--loss", default="mse")
    ap.add_argument("--opt", default="sgd")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fann-clip", action="store_true",
                    help="reference with FANN's tanh derivative (a clipped to +-0.98)")
    o = ap.parse_args()
    global FANN_CLIP
    FANN_CLIP = o.fann_clip
    sizes = [int(s) for s in o.sizes.split(",")]
    L = len(sizes) - 1
    acts = o.acts.split(",") if o.acts else ["tanh"] * (L - 1) + ["identity"]
    rng = np.random.default_rng(o.seed)
    n, nin, nout = o.samples, sizes[0], sizes[-1]
    X = rng.uniform(-1, 1, (n, nin)).astype(np.float32)
    if o.loss == "cross_entropy":
        Y = np.eye(nout, dtype=np.float32)[rng.integers(0, nout, n)]
    else:
        Y = rng.uniform(-1, 1, (n, nout)).astype(np.float32)
    Ws, bs = [], []
    for l in range(L):
        r = np.sqrt(6.0 / (sizes[l] + sizes[l + 1]))
        Ws.append(rng.uniform(-r, r, (sizes[l + 1], sizes[l])).astype(np.float32))
        bs.append(np.zeros(sizes[l + 1], np.float32))
    os.makedirs(os.path.join(o.dir, "ref"), exist_ok=True)
    np.save(os.path.join(o.dir, "X.npy"), X)
    np.save(os.path.join(o.dir, "Y.npy"), Y)
    for l in range(L):
        np.save(os.path.join(o.dir, "W%d.npy" % (l + 1)), Ws[l])
        np.save(os.path.join(o.dir, "b%d.npy" % (l + 1)), bs[l])
    opt = {"type": o.opt, "lr": o.lr}
    if o.opt == "sgd":
        opt.update(momentum=0.0, weight_decay=0.0)
    else:
        opt.update(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    meta = {"sizes": sizes, "activations": acts, "loss": o.loss, "optimizer": opt,
            "steps": o.steps, "batch": o.batch, "samples": n, "dtype": "float32"}
    with open(os.path.join(o.dir, "meta.json"), "w") as f:
        json.dump(meta, f)

    P = [w.astype(np.float64) for w in Ws] + [b.astype(np.float64) for b in bs]
    m = [np.zeros_like(p) for p in P]
    v = [np.zeros_like(p) for p in P]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    for s in range(o.steps):
        rows = [(s * o.batch + i) % n for i in range(o.batch)]
        gW, gb = grads(P[:L], P[L:], acts, o.loss, X64[rows], Y64[rows])
        g = gW + gb
        t = s + 1
        for i in range(len(P)):
            if o.opt == "sgd":
                P[i] -= o.lr * g[i]
            else:
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                den = np.sqrt(v[i]) / np.sqrt(1 - 0.999 ** t) + 1e-8
                P[i] -= (o.lr / (1 - 0.9 ** t)) * m[i] / den
    for l in range(L):
        np.save(os.path.join(o.dir, "ref", "W%d.npy" % (l + 1)), P[l].astype(np.float32))
        np.save(os.path.join(o.dir, "ref", "b%d.npy" % (l + 1)), P[L + l].astype(np.float32))


if __name__ == "__main__":
    main()
