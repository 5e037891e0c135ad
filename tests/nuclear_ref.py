#!/usr/bin/python3
"""Independent minimum-nuclear-norm solution for tests/test_nuclear.c (002 eq. 10).

Usage: nuclear_ref.py A.npy b.npy ROWS COLS OUT.npy
A is (rows*cols) x m (column i = vec(A_i), column-major), b has m values. Solves
    min ||W||_*  s.t.  <A_i, W> = b_i
by the Burer-Monteiro reformulation ||W||_* = min { (|L|_F^2 + |R|_F^2)/2 : L R^T = W }
with full-width factors (k = min(rows, cols)) and SciPy's SLSQP from several random
starts, keeping the best feasible one. Writes W to OUT.npy and prints ||W||_*.
Nothing here shares code with src/theory/nuclear.c (ADMM + SVT).
"""
import sys

import numpy as np
from scipy.optimize import minimize


def main():
    A = np.load(sys.argv[1])
    b = np.load(sys.argv[2]).ravel()
    r, c = int(sys.argv[3]), int(sys.argv[4])
    k = min(r, c)
    Ai = [A[:, i].reshape((r, c), order="F") for i in range(A.shape[1])]

    def split(z):
        return z[: r * k].reshape(r, k), z[r * k:].reshape(c, k)

    def f(z):
        return 0.5 * z @ z, z

    def g(z):
        L, R = split(z)
        W = L @ R.T
        return np.array([np.sum(a * W) for a in Ai]) - b

    def gj(z):
        L, R = split(z)
        return np.array([np.concatenate([(a @ R).ravel(), (a.T @ L).ravel()]) for a in Ai])

    rng = np.random.default_rng(1)
    best = None
    for _ in range(6):
        z0 = rng.standard_normal(k * (r + c))
        res = minimize(f, z0, jac=True, method="SLSQP", constraints=[{"type": "eq", "fun": g, "jac": gj}],
                       options={"ftol": 1e-14, "maxiter": 2000})
        if np.max(np.abs(g(res.x))) > 1e-8:
            continue
        if best is None or res.fun < best.fun:
            best = res
    if best is None:
        print("no feasible solution found", file=sys.stderr)
        sys.exit(1)
    L, R = split(best.x)
    W = L @ R.T
    np.save(sys.argv[5], W)
    print("%.17g" % np.linalg.svd(W, compute_uv=False).sum())


main()
