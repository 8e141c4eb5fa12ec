#!/usr/bin/env python3
"""remez.py: derives the polynomial coefficients of compiler/fastmath.h.

Weighted minimax (Remez exchange) in 60-digit arithmetic with mpmath, then
the coefficients are rounded to the target type one at a time, lowest order
first, re-fitting the higher ones after each rounding so they absorb the
rounding of the lower ones. Prints C hex-float literals and the approximation
error (the polynomial's own error, before any rounding of the arithmetic).

    python3 bench/fastmath/remez.py      (needs python3-mpmath)
"""
import struct
import sys
from mpmath import mp, mpf, exp, tanh, sqrt, cos, pi, matrix, lu_solve

mp.dps = 60


def round_to(v, kind):
    if kind == 'f':
        return mpf(struct.unpack('f', struct.pack('f', float(v)))[0])
    return mpf(float(v))


def remez(f, w, n, a, b, grid=4000, iters=30):
    """c[0..n-1] minimising max over [a,b] of |w(x) (f(x) - sum c_i x^i)|."""
    # initial reference: n+1 Chebyshev points, nudged off any zero of w
    # (the grid avoids the ends' and the middle's exact zeros, where some of
    # the re-fitted functions are 0/0)
    pts = [a + (b - a) * (i + mpf('0.5')) / grid for i in range(grid)]
    xs = [pts[int(grid * (1 - cos(pi * (j + mpf('0.5')) / (n + 1))) / 2)] for j in range(n + 1)]
    fw = [(f(x), w(x)) for x in pts]
    best = None
    for _ in range(iters):
        A = matrix(n + 1, n + 1)
        rhs = matrix(n + 1, 1)
        for j, x in enumerate(xs):
            fx, wx = f(x), w(x)
            for i in range(n):
                A[j, i] = wx * x ** i
            A[j, n] = (-1) ** j
            rhs[j] = wx * fx
        sol = lu_solve(A, rhs)
        c = [sol[i] for i in range(n)]
        E = abs(sol[n])
        err = [wx * (fx - sum(ci * x ** i for i, ci in enumerate(c))) for x, (fx, wx) in zip(pts, fw)]
        # one extremum per run of equal sign
        runs = []
        for x, e in zip(pts, err):
            if e == 0:
                continue
            s = e > 0
            if runs and runs[-1][0] == s:
                if abs(e) > abs(runs[-1][2]):
                    runs[-1] = (s, x, e)
            else:
                runs.append((s, x, e))
        while len(runs) > n + 1:  # drop the smaller end
            if abs(runs[0][2]) < abs(runs[-1][2]):
                runs.pop(0)
            else:
                runs.pop()
        maxerr = max(abs(e) for e in err)
        best = (c, maxerr)
        if len(runs) < n + 1:
            break
        xs = [r[1] for r in runs]
        if maxerr - E < mpf('1e-4') * E:
            break
    return best


def fit_rounded(f, w, n, a, b, kind):
    """Round c0, c1, ... in turn, re-fitting the rest each time."""
    fixed = []
    for k in range(n):
        def g(x, fixed=tuple(fixed)):
            r = f(x) - sum(ci * x ** i for i, ci in enumerate(fixed))
            return r / x ** len(fixed)
        def wk(x, nf=len(fixed)):
            return w(x) * x ** nf
        c, _ = remez(g, wk, n - k, a, b)
        fixed.append(round_to(c[0], kind))
    pts = [a + (b - a) * (i + mpf('0.5')) / 20000 for i in range(20000)] + [a, b]
    err = max(abs(w(x) * (f(x) - sum(ci * x ** i for i, ci in enumerate(fixed)))) for x in pts)
    return fixed, err


def hexlit(v, kind):
    m, e = float(v).hex().split('p')
    h = (m.rstrip('0').rstrip('.') if '.' in m else m) + 'p' + e
    return h + ('f' if kind == 'f' else '')


def show(name, cs, err, kind):
    print('%s: max weighted error %.3e' % (name, float(err)))
    for i, c in enumerate(cs):
        print('    c%d = %s  /* %.17g */' % (i, hexlit(c, kind), float(c)))


def exp_q(r):
    """(e^r - 1 - r) / r^2, the part of e^r the polynomial carries"""
    if abs(r) < mpf('1e-20'):
        return mpf(1) / 2 + r / 6
    return (exp(r) - 1 - r) / r ** 2


def exp_w(r):
    """error of the approximated e^r, relative"""
    return r ** 2 / exp(r)


def tanh_q(s):
    """(tanh x - x) / x^3 with s = x^2"""
    if s < mpf('1e-30'):
        return -mpf(1) / 3 + 2 * s / 15
    x = sqrt(s)
    return (tanh(x) - x) / x ** 3


def tanh_w(s):
    if s < mpf('1e-30'):
        return s
    x = sqrt(s)
    return x ** 3 / tanh(x)


if __name__ == '__main__':
    # k = round(x log2 e) in float arithmetic can miss by a little: fit a
    # slightly wider interval than ln2/2
    R = mp.log(2) / 2 * mpf('1.0002')
    # the float reduction leaves k (ln2 - ln2hi) in r as well (up to 2.2e-4)
    RF = mp.log(2) / 2 * mpf('1.001')
    todo = sys.argv[1:] or ['expf', 'exp', 'tanhf', 'tanh']
    cfg = {
        'expf': (exp_q, exp_w, 5, -RF, RF, 'f'),
        'exp': (exp_q, exp_w, 11, -R, R, 'd'),
        'tanhf': (tanh_q, tanh_w, 5, mpf(0), mpf('0.625') ** 2, 'f'),
        'tanh': (tanh_q, tanh_w, 11, mpf(0), mpf('0.625') ** 2, 'd'),
    }
    for name in todo:
        f, w, n, a, b, kind = cfg[name]
        cs, err = fit_rounded(f, w, n, a, b, kind)
        show(name, cs, err, kind)
