#!/usr/bin/python3
"""Peer side of the logistic-loss benchmark (bench/logistic.sh, bench_logistic.c).

The same loss as dln's --task=logistic, written as a researcher would in NumPy:
    l(W) = mean(log(1 + exp(-y * (W X)))),  W = W2 W1,  samples are columns of X,
with np.logaddexp (stable), the same data and init (DIR/X.npy, y.npy, Z1.npy, Z2.npy,
W_j(0) = 0.1 Z_j), GD with the same eta and number of steps, and the gradient flow on
t in [0, 10] by scipy solve_ivp (DOP853 and RK45, rtol 1e-10, atol 1e-12), cross-checked
against dln's theta(10) (DIR/flow_W{1,2}.npy). PyTorch: the same GD when torch imports,
otherwise skipped with a message.

    peers_logistic.py run --data DIR [--quick]      -> one JSON object on stdout
    peers_logistic.py merge DLN.json PEERS.json OUT.json OUT.md
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import json
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load(d):
    X = np.load(f"{d}/X.npy")
    y = np.load(f"{d}/y.npy").reshape(-1)
    W1 = 0.1 * np.load(f"{d}/Z1.npy")
    W2 = 0.1 * np.load(f"{d}/Z2.npy")
    return X, y, W1, W2


def loss_grad(W1, W2, X, y):
    """l and the layer gradients dl/dW1 = W2^T G W..., G = (1/n) sum -y_i s(-m_i) x_i^T."""
    z = (W2 @ W1 @ X).reshape(-1)
    m = y * z
    val = np.mean(np.logaddexp(0.0, -m))
    g = -y * np.exp(-np.logaddexp(0.0, m)) / X.shape[1]  # -y sigma(-m) / n, stable
    G = g[None, :] @ X.T  # 1 x d0
    return val, W2.T @ G, G @ W1.T


def gd(W1, W2, X, y, eta, steps):
    W1, W2 = W1.copy(), W2.copy()
    for _ in range(steps):
        _, g1, g2 = loss_grad(W1, W2, X, y)
        W1 -= eta * g1
        W2 -= eta * g2
    return W1, W2


def best_of(k, f):
    best, out = float("inf"), None
    for _ in range(k):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def torch_gd(W1, W2, X, y, eta, steps, reps):
    try:
        import torch
    except ImportError as e:
        log(f"PyTorch not installed ({e}): skipped")
        return {"skipped": f"PyTorch not installed: {e}"}
    torch.set_num_threads(1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run():
        a = torch.from_numpy(W1.copy()).requires_grad_(True)
        b = torch.from_numpy(W2.copy()).requires_grad_(True)
        for _ in range(steps):
            val = torch.nn.functional.softplus(-yt * (b @ a @ Xt).reshape(-1)).mean()
            ga, gb = torch.autograd.grad(val, (a, b))
            with torch.no_grad():
                a -= eta * ga
                b -= eta * gb
        return float(torch.nn.functional.softplus(-yt * (b @ a @ Xt).reshape(-1)).mean())

    s, val = best_of(reps, run)
    return {"seconds": s, "steps_per_s": steps / s, "loss": val}


def run(d, quick):
    X, y, W1, W2 = load(d)
    steps, eta, reps = (2000 if quick else 20000), 0.5, (1 if quick else 3)
    res = {"numpy": np.__version__, "loss_init": loss_grad(W1, W2, X, y)[0]}
    s, (a, b) = best_of(reps, lambda: gd(W1, W2, X, y, eta, steps))
    res["gd_numpy"] = {"seconds": s, "steps_per_s": steps / s, "loss": loss_grad(a, b, X, y)[0]}
    log(f"numpy GD: {steps} steps in {s:.3f} s, loss {res['gd_numpy']['loss']:.10g}")
    res["gd_torch"] = torch_gd(W1, W2, X, y, eta, steps, reps)
    sh1, sh2 = W1.shape, W2.shape
    k = W1.size

    def rhs(_t, th):
        _, g1, g2 = loss_grad(th[:k].reshape(sh1, order="F"), th[k:].reshape(sh2, order="F"), X, y)
        return -np.concatenate([g1.reshape(-1, order="F"), g2.reshape(-1, order="F")])

    th0 = np.concatenate([W1.reshape(-1, order="F"), W2.reshape(-1, order="F")])
    ref = np.concatenate([np.load(f"{d}/flow_W1.npy").reshape(-1, order="F"), np.load(f"{d}/flow_W2.npy").reshape(-1, order="F")])
    for m in ("DOP853", "RK45"):
        s, sol = best_of(reps, lambda: solve_ivp(rhs, (0, 10), th0, method=m, rtol=1e-10, atol=1e-12))
        th = sol.y[:, -1]
        res[f"flow_{m}"] = {"seconds": s, "rhs": int(sol.nfev),
                            "loss": loss_grad(th[:k].reshape(sh1, order="F"), th[k:].reshape(sh2, order="F"), X, y)[0],
                            "rel_diff_dln": float(np.linalg.norm(th - ref) / np.linalg.norm(ref))}
        log(f"solve_ivp {m}: {s:.3f} s, {sol.nfev} RHS, |theta - theta_dln|/|theta_dln| = {res[f'flow_{m}']['rel_diff_dln']:.3g}")
    json.dump(res, sys.stdout, indent=1)
    print()


def merge(dln_path, peers_path, out_json, out_md):
    dln, peers = json.load(open(dln_path)), json.load(open(peers_path))
    gd, fl = dln["gd"], dln["flow"]
    rows = [("GD, numpy", gd["seconds"], peers["gd_numpy"]["seconds"], gd["loss"], peers["gd_numpy"]["loss"])]
    t = peers["gd_torch"]
    if "seconds" in t:
        rows.append(("GD, PyTorch", gd["seconds"], t["seconds"], gd["loss"], t["loss"]))
    for m in ("DOP853", "RK45"):
        p = peers[f"flow_{m}"]
        rows.append((f"flow, solve_ivp {m} (dln ERK)", fl["seconds"], p["seconds"], fl["loss"], p["loss"]))
    for own in ("dop853", "auto"):
        if f"flow_{own}" in dln:
            f8, p = dln[f"flow_{own}"], peers["flow_DOP853"]
            rows.append((f"flow, solve_ivp DOP853 (dln {own})", f8["seconds"], p["seconds"], f8["loss"], p["loss"]))
    lines = ["# Logistic loss: dln against NumPy" + (" / PyTorch" if "seconds" in t else ""), "",
             f"Problem: widths {dln['problem']['widths']}, n = {dln['problem']['n']}, separable labels; "
             f"GD eta = {gd['eta']}, {gd['steps']} steps; flow t in [0, 10], rtol 1e-10, atol 1e-12.", "",
             "| run | dln s | peer s | peer/dln | dln loss | peer loss |", "|---|---|---|---|---|---|"]
    for name, a, b, la, lb in rows:
        lines.append(f"| {name} | {a:.4g} | {b:.4g} | {b / a:.1f} | {la:.10g} | {lb:.10g} |")
    lines += ["", f"dln flow: {fl['rhs']:.0f} RHS; solve_ivp DOP853: {peers['flow_DOP853']['rhs']} RHS, "
              f"|theta - theta_dln|/|theta_dln| = {peers['flow_DOP853']['rel_diff_dln']:.3g}."]
    for own in ("dop853", "auto"):
        if f"flow_{own}" in dln:
            f8 = dln[f"flow_{own}"]
            lines.append(f"dln {own}: {f8['rhs']:.0f} RHS, |theta - theta_dln ERK|/|theta_dln ERK| = {f8['rel_diff_erk']:.3g}.")
    if "skipped" in t:
        lines.append(f"PyTorch: {t['skipped']}.")
    json.dump({"dln": dln, "peers": peers}, open(out_json, "w"), indent=1)
    open(out_md, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        d = sys.argv[sys.argv.index("--data") + 1]
        run(d, "--quick" in sys.argv)
    elif len(sys.argv) == 6 and sys.argv[1] == "merge":
        merge(*sys.argv[2:])
    else:
        sys.exit(__doc__)
