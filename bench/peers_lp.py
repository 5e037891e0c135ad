#!/usr/bin/python3
"""NumPy (and PyTorch, when installed) on the l4 regression of bench_lp, and the merge of
both sides into ratios.

    /usr/bin/python3 bench/peers_lp.py run --data DIR --refs DIR [--quick] > peers.json
    /usr/bin/python3 bench/peers_lp.py merge DLN.json PEERS.json OUT.json OUT.md

Called by bench/lp.sh (see bench/README.md, "l4 regression").

Problem: phi = (1/n) sum_i ||W2 W1 x_i - y_i||_4^4 (002 Claim 1), DIR/X.npy (10x100),
DIR/Y.npy (5x100), W_j(0) = 0.1 * Z_j from DIR/Z1.npy (50x10), DIR/Z2.npy (5x50): the
files bench_lp reads. The gradient is written out by hand, as a NumPy user would:
R = W2 W1 X - Y, S = (4/n) R^3 (entrywise), dW2 = S (W1 X)^T, dW1 = W2^T S X^T.

run: GD with eta = 1e-3: 1000 steps from theta(0) (final loss, compared with dln's), then
steps/s over one timed run of about 1.5 s (0.3 s with --quick); the same with PyTorch
(float64, CPU, one thread, autograd-free hand gradient) when `import torch` works, else
a message and "skipped". Flow: solve_ivp RK45 and DOP853 with the NumPy right-hand side
on t in [0, 20] at rtol 1e-4, 1e-6, 1e-9 (atol = rtol*1e-2), error against dln's reference
(REFS/ref_W{1,2}.npy), best of 3 wall times (1 with --quick).
"""

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import json
import sys
import time

import numpy as np

ETA = 1e-3
SIGMA = 0.1
T_END = 20.0
TOLS = (1e-4, 1e-6, 1e-9)
K_CHECK = 1000


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class L4:
    def __init__(self, data):
        self.X = np.load(f"{data}/X.npy")
        self.Y = np.load(f"{data}/Y.npy")
        self.W1 = SIGMA * np.load(f"{data}/Z1.npy")
        self.W2 = SIGMA * np.load(f"{data}/Z2.npy")
        self.n = self.X.shape[1]
        self.n1 = self.W1.size

    def loss(self, W1, W2):
        return float(np.sum((W2 @ W1 @ self.X - self.Y) ** 4) / self.n)

    def grads(self, W1, W2):
        H = W1 @ self.X
        R = W2 @ H - self.Y
        S = (4.0 / self.n) * R * R * R
        return W2.T @ S @ self.X.T, S @ H.T

    def rhs(self, t, th):
        W1 = th[:self.n1].reshape(self.W1.shape)
        W2 = th[self.n1:].reshape(self.W2.shape)
        g1, g2 = self.grads(W1, W2)
        return -np.concatenate([g1.ravel(), g2.ravel()])


def gd_numpy(p, target):
    W1, W2 = p.W1.copy(), p.W2.copy()
    for _ in range(K_CHECK):
        g1, g2 = p.grads(W1, W2)
        W1 -= ETA * g1
        W2 -= ETA * g2
    loss_check = p.loss(W1, W2)
    steps, t0 = 0, time.perf_counter()
    while True:
        for _ in range(100):
            g1, g2 = p.grads(W1, W2)
            W1 -= ETA * g1
            W2 -= ETA * g2
        steps += 100
        dt = time.perf_counter() - t0
        if dt >= target:
            break
    return {"loss0": p.loss(p.W1, p.W2), "loss_check": loss_check, "steps_per_s": steps / dt, "steps": steps,
            "seconds": dt}


def gd_torch(p, target):
    try:
        import torch
    except ImportError as e:
        msg = f"PyTorch not installed ({e}): torch columns skipped"
        log(msg)
        return {"skipped": msg}
    torch.set_num_threads(1)
    X, Y = torch.from_numpy(p.X), torch.from_numpy(p.Y)
    W1, W2 = torch.from_numpy(p.W1.copy()), torch.from_numpy(p.W2.copy())
    n = p.n

    def step():
        H = W1 @ X
        R = W2 @ H - Y
        S = (4.0 / n) * R * R * R
        g1, g2 = W2.T @ S @ X.T, S @ H.T
        W1.sub_(ETA * g1)
        W2.sub_(ETA * g2)

    with torch.no_grad():
        for _ in range(K_CHECK):
            step()
        loss_check = float(((W2 @ W1 @ X - Y) ** 4).sum() / n)
        steps, t0 = 0, time.perf_counter()
        while True:
            for _ in range(100):
                step()
            steps += 100
            dt = time.perf_counter() - t0
            if dt >= target:
                break
    return {"loss_check": loss_check, "steps_per_s": steps / dt, "steps": steps, "seconds": dt,
            "version": torch.__version__}


def flow_scipy(p, refs, repeats):
    from scipy.integrate import solve_ivp
    ref = np.concatenate([np.load(f"{refs}/ref_W1.npy").ravel(), np.load(f"{refs}/ref_W2.npy").ravel()])
    th0 = np.concatenate([p.W1.ravel(), p.W2.ravel()])
    runs = []
    for method in ("RK45", "DOP853"):
        for tol in TOLS:
            best, sol = float("inf"), None
            for _ in range(repeats):
                t0 = time.perf_counter()
                sol = solve_ivp(p.rhs, (0.0, T_END), th0, method=method, rtol=tol, atol=tol * 1e-2)
                best = min(best, time.perf_counter() - t0)
            err = float(np.linalg.norm(sol.y[:, -1] - ref) / np.linalg.norm(ref))
            log(f"solve_ivp {method:6s} rtol {tol:.0e} err {err:.2e}  rhs {sol.nfev:6d}  {best:.4f} s")
            runs.append({"method": method, "rtol": tol, "err": err, "rhs": int(sol.nfev), "seconds": best,
                         "status": int(sol.status)})
    return runs


def run(args):
    p = L4(args.data)
    target = 0.3 if args.quick else 1.5
    out = {"numpy": np.__version__, "gd_numpy": gd_numpy(p, target), "gd_torch": gd_torch(p, target)}
    log(f"numpy GD: {out['gd_numpy']['steps_per_s']:.0f} steps/s, loss after {K_CHECK} steps "
        f"{out['gd_numpy']['loss_check']:.6g}")
    try:
        import scipy
        out["scipy"] = scipy.__version__
        out["flow"] = flow_scipy(p, args.refs, 1 if args.quick else 3)
    except ImportError as e:
        out["flow"] = []
        log(f"SciPy not installed ({e}): flow comparison skipped")
    json.dump(out, sys.stdout, indent=1)
    print()


def fmt(x, f="{:.3g}"):
    return "—" if x is None else f.format(x)


def merge(args):
    dln = json.load(open(args.dln))
    peers = json.load(open(args.peers))
    g, gn, gt = dln["gd"], peers["gd_numpy"], peers["gd_torch"]
    res = {"meta": dln["meta"], "problem": dln["problem"], "dln": dln, "peers": peers, "ratios": {}}
    r = res["ratios"]
    r["gd_steps_per_s_dln_over_numpy"] = g["steps_per_s"] / gn["steps_per_s"]
    r["gd_loss_check_rel_diff_numpy"] = abs(g["loss_check"] - gn["loss_check"]) / abs(gn["loss_check"])
    if "steps_per_s" in gt:
        r["gd_steps_per_s_dln_over_torch"] = g["steps_per_s"] / gt["steps_per_s"]
    lines = ["# l4 regression: dln against NumPy" + ("" if "steps_per_s" in gt else " (PyTorch: skipped, not installed)"),
             "", f"Problem: {dln['problem']['loss']}, widths {dln['problem']['widths']}, n = {dln['problem']['n']}, "
             f"sigma = {dln['problem']['sigma']}; CPU {dln['meta'].get('cpu', '?')}, one thread.", "",
             "## Gradient descent (eta = 1e-3)", "",
             "| | steps/s | loss after 1000 steps | dln / peer |", "|---|---|---|---|",
             f"| dln | {g['steps_per_s']:.0f} | {g['loss_check']:.10g} | |",
             f"| NumPy | {gn['steps_per_s']:.0f} | {gn['loss_check']:.10g} | **{r['gd_steps_per_s_dln_over_numpy']:.1f}x** |"]
    if "steps_per_s" in gt:
        lines.append(f"| PyTorch | {gt['steps_per_s']:.0f} | {gt['loss_check']:.10g} | **{r['gd_steps_per_s_dln_over_torch']:.1f}x** |")
    else:
        lines.append(f"| PyTorch | skipped | {gt.get('skipped', '')} | |")
    lines += ["", f"## Gradient flow, t in [0, {dln['flow']['t_end']:g}] (reference: dln ERK at rtol 1e-13; Gauss s=2 at 1e-12 "
              f"agrees to {dln['flow']['ref_agreement_erk_gauss2']:.1e})", "",
              "| rtol | solver | error | RHS evals | seconds | peer seconds / dln `flow` seconds |", "|---|---|---|---|---|---|"]
    flow_dln = {(x["method"], x["rtol"]): x for x in dln["flow"]["runs"]}
    r["flow_time_peer_over_dln_flow"] = {}
    for tol in TOLS:
        base = flow_dln.get(("flow", tol))
        for x in [v for (m, t), v in flow_dln.items() if t == tol]:
            lines.append(f"| {tol:.0e} | dln `{x['method']}` ({x['integrator']}) | {x['err']:.2e} | {x['rhs']} | {x['seconds']:.4f} | |")
        for x in [v for v in peers.get("flow", []) if v["rtol"] == tol]:
            q = x["seconds"] / base["seconds"] if base else None
            r["flow_time_peer_over_dln_flow"][f"{x['method']}@{tol:g}"] = q
            lines.append(f"| {tol:.0e} | solve_ivp {x['method']} (NumPy RHS) | {x['err']:.2e} | {x['rhs']} | {x['seconds']:.4f} | "
                         f"**{fmt(q, '{:.1f}x')}** |")
    json.dump(res, open(args.out_json, "w"), indent=1)
    open(args.out_md, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("run")
    a.add_argument("--data", required=True)
    a.add_argument("--refs", required=True)
    a.add_argument("--quick", action="store_true")
    m = sub.add_parser("merge")
    for k in ("dln", "peers", "out_json", "out_md"):
        m.add_argument(k)
    args = ap.parse_args()
    (run if args.cmd == "run" else merge)(args)


if __name__ == "__main__":
    main()
