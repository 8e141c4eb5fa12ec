#!/usr/bin/env python3
"""remez.py: derives the polynomial coefficients of compiler/fastmath.h.

Weighted minimax (Remez exchange) in 60-digit arithmetic with mpmath, then
the coefficients are rounded to the target type one at a time, lowest order
first, re-fitting the higher ones after each rounding so they absorb the
rounding of the lower ones. Prints C hex-float literals and the approximation
error (the polynomial's own error, before any rounding of the arithmetic).

tanhf is a rational function instead, x P(x^2) / Q(x^2) on [0, 9.1] with
P(0) = Q(0) = 1 (rational Remez: the linearised system with the previous
iteration's Q in the error term), rounded in the same way: q1, p1, q2, p2,
... in turn, the rest re-fitted each time.

    python3 bench/fastmath/remez.py [expf exp tanhf tanh]   (needs python3-mpmath)
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


def rat_remez(f, m, n, b, fixed, grid=3000, iters=40):
    """P of degree m and Q of degree n in s = x^2, Q(0) = 1 and the
    coefficients in fixed ({('p', i) or ('q', i): value}) held: minimises
    max over x in [0, b] of |f(x) - P(x^2)/Q(x^2)| / |f(x)|. Returns P, Q and
    that maximum on a grid."""
    fixed = dict(fixed)
    fixed[('q', 0)] = mpf(1)
    free = [('p', i) for i in range(m + 1) if ('p', i) not in fixed] + \
           [('q', i) for i in range(n + 1) if ('q', i) not in fixed]
    nf = len(free)
    pts = [b * (i + mpf('0.5')) / grid for i in range(grid)] + [b]
    fp = [f(x) for x in pts]
    xs = [b * (1 - cos(pi * (j + mpf('0.5')) / (nf + 1))) / 2 for j in range(nf + 1)]

    def ev(c, s):
        r = mpf(0)
        for ci in reversed(c):
            r = r * s + ci
        return r

    def split(sol):
        c = dict(fixed)
        c.update({key: sol[k] for k, key in enumerate(free)})
        return [c[('p', i)] for i in range(m + 1)], [c[('q', i)] for i in range(n + 1)]

    P = Q = None
    best = None
    for _ in range(iters):
        for _ in range(6):
            # P(s) - f Q(s) + (-1)^j E f Q_prev(s) = 0 at the reference points
            A = matrix(nf + 1, nf + 1)
            rhs = matrix(nf + 1, 1)
            for j, x in enumerate(xs):
                s, fx = x * x, f(x)
                const = sum((v if t == 'p' else -fx * v) * s ** i for (t, i), v in fixed.items())
                for k, (t, i) in enumerate(free):
                    A[j, k] = s ** i if t == 'p' else -fx * s ** i
                A[j, nf] = (-1) ** j * fx * (ev(Q, s) if Q else 1)
                rhs[j] = -const
            P, Q = split(lu_solve(A, rhs))
        err = [(fx - ev(P, x * x) / ev(Q, x * x)) / fx for x, fx in zip(pts, fp)]
        maxerr = max(abs(e) for e in err)
        best = (P, Q, maxerr)
        runs = []
        for x, e in zip(pts, err):
            if e == 0:
                continue
            sg = e > 0
            if runs and runs[-1][0] == sg:
                if abs(e) > abs(runs[-1][2]):
                    runs[-1] = (sg, x, e)
            else:
                runs.append((sg, x, e))
        while len(runs) > nf + 1:
            if abs(runs[0][2]) < abs(runs[-1][2]):
                runs.pop(0)
            else:
                runs.pop()
        if len(runs) < nf + 1 or not free:
            break
        xs = [r[1] for r in runs]
    return best


def fit_rational(f, m, n, b, kind):
    """P(0) = 1, then q1, p1, q2, p2, ... rounded in turn, the rest re-fitted."""
    fixed = {('p', 0): mpf(1)}
    for i in range(1, max(m, n) + 1):
        for key in [('q', i)] * (i <= n) + [('p', i)] * (i <= m):
            P, Q, _ = rat_remez(f, m, n, b, fixed)
            fixed[key] = round_to((P if key[0] == 'p' else Q)[key[1]], kind)
    P, Q, err = rat_remez(f, m, n, b, fixed, grid=20000)
    return P, Q, err


def tanh_over_x(x):
    return tanh(x) / x if x != 0 else mpf(1)


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
        'tanh': (tanh_q, tanh_w, 11, mpf(0), mpf('0.625') ** 2, 'd'),
    }
    for name in todo:
        if name == 'tanhf':
            # x P(x^2) / Q(x^2), degrees 4 and 4, on [0, 9.1]: tanh rounds to
            # 1 in float from 9.011, and the code clamps |x| to 9.1
            P, Q, err = fit_rational(tanh_over_x, 4, 4, mpf('9.1'), 'f')
            print('tanhf: max relative error %.3e' % float(err))
            for i, c in enumerate(P):
                print('    p%d = %s  /* %.17g */' % (i, hexlit(c, 'f'), float(c)))
            for i, c in enumerate(Q):
                print('    q%d = %s  /* %.17g */' % (i, hexlit(c, 'f'), float(c)))
            continue
        f, w, n, a, b, kind = cfg[name]
        cs, err = fit_rounded(f, w, n, a, b, kind)
        show(name, cs, err, kind)
