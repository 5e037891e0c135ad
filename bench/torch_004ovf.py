#!/usr/bin/python3
"""004-ovf written the way per-paper code does it: a sequential PyTorch GD loop per run.

Same experiment as the 004-ovf figure (004 sec. 2.3 Conjecture 1; src/run/figures/fig004_ovf.c):
factorization 1/2||W_N..W_1 - Ybar||_F^2, Ybar 3x3 ~ N(0, 1) (one draw), hidden width 4,
- random starts: Gaussian sigma = 0.5, depth 1..4, 100 seeds per depth (--quick: 10);
- adversarial starts: the balanced factorization of sum_{i in L} s_i p_i q_i^T on each of the 7
  non-global strata L of {1, 2, 3} (004 Lemma 3.2) plus N(0, 1e-3^2) on every weight, depth 2..4,
  10 seeds per stratum (--quick: 2).
dln integrates the gradient flow to t = 200 (ARKODE); per-paper code runs GD: here float64
GD with eta = 0.01 for 20000 steps (t = 200). End points classified as in docs/landscape.md (f)
at acc = 1e-8: global_min when ||W - Ybar||_F <= 1e-4 s_1, saddle when ||grad|| <= 1e-4
max(1, ||Ybar||_F)^2, else not_converged. Draws are NumPy's (default_rng), not dln's streams.
Prints one JSON object: seconds (all runs), runs, steps, and the fraction reaching a global
minimum per part and depth.
"""
import json
import sys
import time

import numpy as np
import torch

D, H, ETA, T_END, SIGMA, PERTURB, TOL = 3, 4, 0.01, 200.0, 0.5, 1e-3, 1e-4
STRATA = [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]


def dims(depth):
    return [D] + [H] * (depth - 1) + [D]


def balanced(P, s, Qt, L, depth):
    """Balanced factorization of sum_{i in L} s_i p_i q_i^T (zero for empty L), widths dims(depth)."""
    r = np.zeros(H)
    r[list(L)] = np.asarray(s)[list(L)] ** (1.0 / depth)
    Ws = []
    for j, (a, b) in enumerate(zip(dims(depth)[:-1], dims(depth)[1:])):
        W = np.zeros((b, a))
        if depth == 1:
            W = (P[:, list(L)] * np.asarray(s)[list(L)]) @ Qt[list(L), :]
        elif j == 0:
            W[:D, :] = r[:D, None] * Qt
        elif j == depth - 1:
            W[:, :D] = P * r[None, :D]
        else:
            W[:, :] = np.diag(r)
        Ws.append(W)
    return Ws


def one_run(Ws, Y, s1, ynorm):
    Ws = [torch.tensor(W, requires_grad=True) for W in Ws]
    steps = int(round(T_END / ETA))
    for _ in range(steps):
        P = Ws[0]
        for W in Ws[1:]:
            P = W @ P
        loss = 0.5 * ((P - Y) ** 2).sum()
        grads = torch.autograd.grad(loss, Ws)
        with torch.no_grad():
            for W, g in zip(Ws, grads):
                W -= ETA * g
    P = Ws[0]
    for W in Ws[1:]:
        P = W @ P
    loss = 0.5 * ((P - Y) ** 2).sum()
    gnorm = torch.sqrt(sum((g ** 2).sum() for g in torch.autograd.grad(loss, Ws))).item()
    if torch.linalg.norm(P.detach() - Y).item() <= TOL * s1:
        return "global_min", steps
    return ("saddle" if gnorm <= TOL * max(1.0, ynorm) ** 2 else "not_converged"), steps


def main():
    quick = "--quick" in sys.argv[1:]
    torch.set_num_threads(1)
    nrand, nsad = (10, 2) if quick else (100, 10)
    Yn = np.random.default_rng(1).standard_normal((D, D))
    P, s, Qt = np.linalg.svd(Yn)
    Y, s1, ynorm = torch.tensor(Yn), s[0], np.linalg.norm(Yn)
    frac, runs, steps = {}, 0, 0
    t0 = time.perf_counter()
    for depth in range(1, 5):
        glob = 0
        for seed in range(1, nrand + 1):
            rng = np.random.default_rng(1000 * depth + seed)
            Ws = [SIGMA * rng.standard_normal((b, a)) for a, b in zip(dims(depth)[:-1], dims(depth)[1:])]
            c, k = one_run(Ws, Y, s1, ynorm)
            glob, runs, steps = glob + (c == "global_min"), runs + 1, steps + k
        frac[f"random_depth{depth}"] = glob / nrand
    for depth in range(2, 5):
        glob, n = 0, 0
        for L in STRATA:
            for seed in range(1, nsad + 1):
                rng = np.random.default_rng(100000 * depth + 1000 * len(L) + 100 * sum(L) + seed)
                Ws = [W + PERTURB * rng.standard_normal(W.shape) for W in balanced(P, s, Qt, L, depth)]
                c, k = one_run(Ws, Y, s1, ynorm)
                glob, n, runs, steps = glob + (c == "global_min"), n + 1, runs + 1, steps + k
        frac[f"saddle_depth{depth}"] = glob / n
    sec = time.perf_counter() - t0
    print(json.dumps({"figure": "004-ovf", "seconds": sec, "runs": runs, "steps": steps,
                      "frac_global": frac, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
