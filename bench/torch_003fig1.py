#!/usr/bin/python3
"""003-fig1 written the way per-paper code does it: a sequential PyTorch GD loop per run.

Same experiment as src/run/figures/fig003_1.c (003 sec. 4, Fig. 1): regression
1/2||V U^T X - Y||_F^2 with d_0 = 20, n = 5, m = 2 (X ~ N(0, 1/d_0), Y ~ N(0, 1), one draw),
hidden width h in {500, ..., 10000}, 5 runs per h (--quick: 500, 1000, 2000 and 2 runs),
init N(0, h^-2alpha) with alpha = 1/2 (003 sec. 3.2), float64 GD with eta = 0.1 until the loss
is <= 1e-14 (at most 10000 steps, dln's t_end = 1000), then dist = ||W - Y X^+||_F and the
least-squares slope of log dist on log h (003 Thm 2 eq. 20: -1/2). The draws are NumPy's
(default_rng), not dln's streams: same distributions and work, different numbers.
Prints one JSON object: seconds (all runs, data set-up excluded), runs, steps, slope.
"""
import json
import sys
import time

import numpy as np
import torch

D0, N, M, ETA, TOL, MAX_STEPS, ALPHA = 20, 5, 2, 0.1, 1e-14, 10000, 0.5


def one_run(X, Y, h, rng):
    s = float(h) ** -ALPHA
    W1 = torch.tensor(s * rng.standard_normal((h, D0)), requires_grad=True)
    W2 = torch.tensor(s * rng.standard_normal((M, h)), requires_grad=True)
    for step in range(MAX_STEPS + 1):
        loss = 0.5 * ((W2 @ (W1 @ X) - Y) ** 2).sum()
        if loss.item() <= TOL:
            break
        W1.grad = W2.grad = None
        loss.backward()
        with torch.no_grad():
            W1 -= ETA * W1.grad
            W2 -= ETA * W2.grad
    with torch.no_grad():
        return (W2 @ W1).numpy(), step, loss.item()


def main():
    quick = "--quick" in sys.argv[1:]
    torch.set_num_threads(1)
    widths = [500, 1000, 2000] if quick else [500, 1000, 2000, 3000, 5000, 7000, 10000]
    nruns = 2 if quick else 5
    rng = np.random.default_rng(3)
    Xn = rng.standard_normal((D0, N)) / np.sqrt(D0)
    Yn = rng.standard_normal((M, N))
    theta = Yn @ np.linalg.pinv(Xn)  # min-norm solution Y X^+
    X, Y = torch.tensor(Xn), torch.tensor(Yn)
    hs, dists, steps, worst = [], [], 0, 0.0
    t0 = time.perf_counter()
    for h in widths:
        for run in range(nruns):
            W, k, loss = one_run(X, Y, h, np.random.default_rng(1 + 16 * h + run))
            hs.append(h), dists.append(np.linalg.norm(W - theta))
            steps, worst = steps + k, max(worst, loss)
    sec = time.perf_counter() - t0
    slope = np.polyfit(np.log(hs), np.log(dists), 1)[0]
    print(json.dumps({"figure": "003-fig1", "seconds": sec, "runs": len(hs), "steps": steps,
                      "slope": slope, "worst_final_loss": worst, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
