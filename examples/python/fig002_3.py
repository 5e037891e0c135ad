#!/usr/bin/env python3
"""002 Fig. 3 (Cohen, Razin, §4.3; from Arora et al. 2019b) from Python with dln.train.

Matrix sensing, ℓ(W) = (1/2m) Σ_i (⟨W, A_i⟩ − b_i)² (002 eq. 9), of a 10 x 10 ground truth
of rank 3 (singular values 3, 2, 1) from m = 80 Gaussian measurements, by gradient descent
(eta = 0.01, t = k eta up to 300) from a small init N(0, 1e-2^2), for the linear model
(depth 1) and 2- and 3-layer networks of width 10: the singular values of W = W_N ... W_1
are learned one after another, more sharply with depth (002 Thm 3: σ̇_r ∝ (σ_r²)^{1−1/N}).
The same setting as `dln figure 002-fig3` (src/run/figures/fig002_3.c), so the learning
times printed here equal that figure's times.csv.

    /usr/bin/python3 examples/python/fig002_3.py [--quick] [--out DIR]

writes DIR/fig002_3.png (needs python3-matplotlib) and DIR/fig002_3_times.csv.
--quick (or DLN_EXAMPLE_QUICK=1) stops at t = 30 with 61 samples (for the tests).
"""
import argparse
import os

import numpy as np

import dln


def learning_times(traj, rank=3):
    """t_i = the first sample time sv_i reaches half its final value (as the C figure)."""
    t = traj["t"]
    out = []
    for i in range(1, rank + 1):
        s = traj["sv_%d" % i]
        hit = np.nonzero(s >= s[-1] / 2)[0]
        out.append(t[hit[0]] if hit.size else np.nan)
    return out


def run(depth, t_end, samples):
    net = {"depth": depth} if depth == 1 else {"depth": depth, "width": 10}
    loss = dln.Loss("sensing", rows=10, cols=10, target="lowrank", rank=3, m=80, sigma=1e-2, **net)
    return dln.train(loss, method="gd", eta=0.01, t_end=t_end, log_samples=True, samples=samples,
                     observe="loss,sv,truth")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("DLN_EXAMPLE_QUICK") == "1")
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    t_end, samples = (30.0, 61) if a.quick else (300.0, 301)
    os.makedirs(a.out, exist_ok=True)
    res = {d: run(d, t_end, samples) for d in (1, 2, 3)}
    rows = []
    for d, r in res.items():
        ti = learning_times(r.trajectory)
        rows.append([d] + ti + [ti[1] - ti[0], ti[2] - ti[1], r.trajectory["dist_true_rel"][-1]])
        print("depth %d: learning times %s, gaps %.4g %.4g, relative error %.3g"
              % (d, " ".join("%.4g" % x for x in ti), rows[-1][4], rows[-1][5], rows[-1][6]))
    np.savetxt(os.path.join(a.out, "fig002_3_times.csv"), np.array(rows), delimiter=",", fmt="%.17g",
               header="depth,t_1,t_2,t_3,gap_12,gap_23,recon_err_rel", comments="")
    grow = all(rows[d + 1][k] > rows[d][k] for d in range(2) for k in (4, 5))
    print("gaps grow strictly with depth (002 Fig. 3):", "yes" if grow else "no")
    try:
        import matplotlib
        matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
        import matplotlib.pyplot as plt
    except ImportError:
        print("python3-matplotlib not found: no figure")
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, (d, r), title in zip(axes, res.items(), ("linear", "2 layer LNN", "3 layer LNN")):
        tr = r.trajectory
        pos = tr["t"] > 0
        for i in range(1, 11):
            ax.semilogx(tr["t"][pos], tr["sv_%d" % i][pos], lw=1.5 if i <= 3 else 0.7)
        for x in rows[d - 1][1:4]:
            ax.axvline(x, color="gray", ls=":", lw=0.8)
        ax.set_title("%s (rel. recon. error %.2g)" % (title, rows[d - 1][6]), fontsize=9)
        ax.set_xlabel("t = k eta")
    axes[0].set_ylabel("singular values of W")
    fig.suptitle("002 Fig. 3: matrix sensing, gradient descent (dln.train)")
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "fig002_3.png"), dpi=110)
    print("wrote", os.path.join(a.out, "fig002_3.png"))


if __name__ == "__main__":
    main()
