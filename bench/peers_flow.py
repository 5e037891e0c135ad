#!/usr/bin/python3
"""SciPy solve_ivp on the gradient flow of the two-layer factorization, at a ladder
of tolerances, against the reference solutions written by bench_flow; and the merge
of both sides into the equal-accuracy tables.

    /usr/bin/python3 bench/peers_flow.py run --data DIR --refs DIR [--quick] [--timeout S] > peers.json
    /usr/bin/python3 bench/peers_flow.py merge DLN.json PEERS.json OUT.json OUT.md

Called by bench/flow.sh (see bench/README.md, "Gradient flow at equal accuracy").

Problem: phi = 0.5*||W2 W1 - Ybar||_F^2, Ybar 5x10, widths [10, 50, 5] (750 parameters),
W_j(0) = sigma * Z_j with DIR/target.npy, DIR/Z1.npy, DIR/Z2.npy (the same files bench_flow
reads), t in [0, 20], sigma in {1e-2, 1, 10}.

run: for each sigma, solve_ivp DOP853 at rtol 1e-13, atol 1e-15 (cross-check of the dln
reference); then RK45, DOP853, LSODA, BDF, Radau (Jacobian by SciPy's finite differences,
as a user who supplies none gets) and BDF, Radau, LSODA with the exact dense Jacobian
-Hessian (built in NumPy from the closed form, "+jac") at rtol 1e-2 .. 1e-12,
atol = rtol*1e-2. Each run is in a forked process with a wall-clock limit (--timeout,
default 60 s; recorded as "timeout"); a run under 1 s is repeated up to 3 times in the
same process and the best time kept. After a timeout or failure the tighter tolerances
of that method are skipped. Error: ||theta(20) - theta_ref|| / ||theta_ref|| with theta_ref
the dln reference (REFS/ref_<s>_erk_W{1,2}.npy), also for W = W2 W1; conservation drift
||C1(20) - C1(0)||_F / max(1, ||C1(0)||_F), C1 = W2^T W2 - W1 W1^T.
"""

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import datetime
import json
import multiprocessing as mp
import platform
import queue
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp

SIGMAS = (1e-2, 1.0, 10.0)
TAGS = {1e-2: "s0.01", 1.0: "s1", 10.0: "s10"}
KEYS = {1e-2: "sigma=0.01", 1.0: "sigma=1", 10.0: "sigma=10"}
LEVELS = (1e-4, 1e-6, 1e-9, 1e-10, 1e-12)
SHAPES = [(50, 10), (5, 50)]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# the flow, as one would write it in NumPy
# ---------------------------------------------------------------------------

class Flow:
    def __init__(self, Y, Z1, Z2, sigma):
        self.Y = Y
        self.theta0 = np.concatenate([(sigma * Z1).ravel(), (sigma * Z2).ravel()])
        self.n1 = Z1.size
        self.ncalls = 0
        self.njac = 0

    def unflat(self, th):
        return th[:self.n1].reshape(50, 10), th[self.n1:].reshape(5, 50)

    def rhs(self, t, th):
        self.ncalls += 1
        W1, W2 = self.unflat(th)
        G = W2 @ W1 - self.Y
        return -np.concatenate([(W2.T @ G).ravel(), (G @ W1.T).ravel()])

    def jac(self, t, th):
        """Exact Jacobian -Hessian(phi), dense 750x750, from the closed form of the
        Hessian-vector product applied to all unit vectors at once."""
        self.njac += 1
        W1, W2 = self.unflat(th)
        G = W2 @ W1 - self.Y
        n = th.size
        E = np.eye(n)
        D1 = E[:, :self.n1].reshape(n, 50, 10)
        D2 = E[:, self.n1:].reshape(n, 5, 50)
        dG = D2 @ W1 + W2 @ D1                                   # (n, 5, 10)
        h1 = np.swapaxes(D2, 1, 2) @ G + W2.T @ dG                # (n, 50, 10)
        h2 = dG @ W1.T + G @ np.swapaxes(D1, 1, 2)                # (n, 5, 50)
        H = np.concatenate([h1.reshape(n, -1), h2.reshape(n, -1)], axis=1)
        return -H  # symmetric: rows = columns

    def loss(self, th):
        W1, W2 = self.unflat(th)
        return 0.5 * float(np.sum((W2 @ W1 - self.Y) ** 2))


def c1(th, n1):
    W1, W2 = th[:n1].reshape(50, 10), th[n1:].reshape(5, 50)
    return W2.T @ W2 - W1 @ W1.T


def _worker(data, sigma, method, use_jac, rtol, atol, repeats, q):
    try:
        Y, Z1, Z2 = data
        for r in range(repeats):
            f = Flow(Y, Z1, Z2, sigma)
            kw = {"jac": f.jac} if use_jac else {}
            t0 = time.perf_counter()
            sol = solve_ivp(f.rhs, (0.0, 20.0), f.theta0, method=method, rtol=rtol, atol=atol, **kw)
            dt = time.perf_counter() - t0
            q.put({"status": "ok" if sol.status == 0 else "failed", "message": str(sol.message),
                   "seconds": dt, "nfev": int(sol.nfev), "njev": int(sol.njev), "nlu": int(sol.nlu),
                   "rhs_calls": f.ncalls, "jac_calls": f.njac, "n_steps": int(len(sol.t) - 1),
                   "t_final": float(sol.t[-1]), "theta": sol.y[:, -1].tolist(),
                   "final_loss": f.loss(sol.y[:, -1])})
            if dt > 1.0 or sol.status != 0:
                break
        q.put(None)
    except Exception as e:  # pragma: no cover
        q.put({"status": "error", "message": repr(e)})
        q.put(None)


def run_ivp(data, sigma, method, use_jac, rtol, atol, timeout, repeats=3):
    """Best of up to `repeats` runs in a forked process; timeout applies to each run."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(data, sigma, method, use_jac, rtol, atol, repeats, q))
    p.start()
    runs = []
    res = None
    while True:
        try:
            item = q.get(timeout=timeout)
        except queue.Empty:
            if not runs:
                res = {"status": "timeout", "timeout_s": timeout, "message": f"no result within {timeout:g} s"}
            break
        if item is None:
            break
        runs.append(item)
        if item["status"] == "error":
            break
    p.join(5)
    if p.is_alive():
        p.terminate()
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    if res is None:
        best = min(runs, key=lambda r: r.get("seconds", float("inf")))
        res = dict(best)
        res["seconds_runs"] = [r.get("seconds") for r in runs]
    return res


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def load_ref(refs, sigma, which):
    W1 = np.load(f"{refs}/ref_{TAGS[sigma]}_{which}_W1.npy")
    W2 = np.load(f"{refs}/ref_{TAGS[sigma]}_{which}_W2.npy")
    return np.concatenate([W1.ravel(), W2.ravel()]), W2 @ W1


def finish(res, th_ref, W_ref, C0, n1):
    """Replace the final state by its errors against the reference."""
    th = res.pop("theta", None)
    if res.get("status") == "ok" and th is not None:
        th = np.asarray(th)
        W = th[n1:].reshape(5, 50) @ th[:n1].reshape(50, 10)
        res["err"] = rel(th, th_ref)
        res["err_W"] = rel(W, W_ref)
        res["drift_C1"] = float(np.linalg.norm(c1(th, n1) - C0) / max(1.0, np.linalg.norm(C0)))
    return res


def cmd_run(args):
    T0 = time.perf_counter()
    Y = np.load(f"{args.data}/target.npy")
    Z1 = np.load(f"{args.data}/Z1.npy")
    Z2 = np.load(f"{args.data}/Z2.npy")
    data = (Y, Z1, Z2)
    n1 = Z1.size
    ks = [3, 5, 7, 9] if args.quick else list(range(2, 13))
    methods = [("RK45", False), ("DOP853", False), ("LSODA", False), ("BDF", False), ("Radau", False),
               ("BDF", True), ("Radau", True), ("LSODA", True)]
    out = {"meta": {"program": "peers_flow.py", "python": platform.python_version(), "numpy": np.__version__,
                    "scipy": scipy.__version__, "nproc": os.cpu_count(), "loadavg_start": list(os.getloadavg()),
                    "timeout_s": args.timeout, "quick": args.quick,
                    "timing": "best of up to 3 runs (1 if a run takes > 1 s) in one forked process per "
                              "(method, rtol); set-up included",
                    "jacobian": "plain: none supplied (finite differences for BDF/Radau, LSODA's internal "
                                "difference quotients); +jac: exact dense -Hessian from NumPy",
                    "counts": "rhs_calls counts every call of the right-hand side (incl. finite-difference "
                              "Jacobian columns); jac_calls the exact-Jacobian evaluations"},
           "cases": {}}
    for sigma in SIGMAS:
        key = KEYS[sigma]
        th_ref, W_ref = load_ref(args.refs, sigma, "erk")
        th_g, W_g = load_ref(args.refs, sigma, "gauss2")
        f0 = Flow(Y, Z1, Z2, sigma)
        C0 = c1(f0.theta0, n1)
        case = {"sigma": sigma, "runs": []}
        # cross-check of the reference
        if args.quick:
            rr = {"status": "skipped (--quick)"}
        else:
            rr = run_ivp(data, sigma, "DOP853", False, 1e-13, 1e-15, args.ref_timeout, repeats=1)
            if rr.get("status") == "ok":
                th = np.asarray(rr["theta"])
                rr["dop853_vs_erk"] = rel(th, th_ref)
                rr["dop853_vs_gauss2"] = rel(th, th_g)
                rr["gauss2_vs_erk"] = rel(th_g, th_ref)
                W = th[n1:].reshape(5, 50) @ th[:n1].reshape(50, 10)
                rr["dop853_vs_erk_W"] = rel(W, W_ref)
            rr = finish(rr, th_ref, W_ref, C0, n1)
            log(f"{key:10s} reference DOP853 rtol 1e-13: {rr.get('status')} {rr.get('seconds', float('nan')):.2f} s, "
                f"vs dln ERK {rr.get('dop853_vs_erk', float('nan')):.2e}, "
                f"vs dln Gauss2 {rr.get('dop853_vs_gauss2', float('nan')):.2e}")
        case["reference_check"] = rr
        for m, jac in methods:
            name = m + ("+jac" if jac else "")
            skip = None
            for k in ks:
                rtol = 10.0 ** (-k)
                atol = rtol * 1e-2
                if skip:
                    case["runs"].append({"solver": name, "rtol": rtol, "atol": atol, "status": "skipped",
                                         "message": skip})
                    continue
                res = run_ivp(data, sigma, m, jac, rtol, atol, args.timeout)
                res = finish(res, th_ref, W_ref, C0, n1)
                res.update({"solver": name, "rtol": rtol, "atol": atol})
                case["runs"].append(res)
                if res["status"] == "ok":
                    log(f"{key:10s} {name:10s} rtol {rtol:.0e} err {res['err']:.2e} errW {res['err_W']:.2e} "
                        f"drift {res['drift_C1']:.2e} {res['seconds']:9.4f} s rhs {res['rhs_calls']:8d} "
                        f"jac {res['jac_calls']:4d} nlu {res['nlu']:5d} steps {res['n_steps']:7d}")
                else:
                    log(f"{key:10s} {name:10s} rtol {rtol:.0e} {res['status'].upper()}: {res.get('message')}")
                    skip = f"skipped: rtol {rtol:.0e} gave {res['status']}"
        out["cases"][key] = case
    out["meta"]["loadavg_end"] = list(os.getloadavg())
    out["meta"]["total_seconds"] = time.perf_counter() - T0
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


# ---------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------

def fs(x):
    """seconds, human"""
    if x is None:
        return "–"
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.3g} ms"
    return f"{x:.3g} s"


def fe(x):
    return "–" if x is None else f"{x:.1e}"


DLN_NAMES = {"erk": "dln ERK (DP5)", "cvode": "dln CVODE (BDF+GMRES, exact Hv)",
             "auto": "dln AUTO (RK5/DOP853→RKC or CVODE)", "rkc": "dln RKC (own RK5/DOP853→Chebyshev)",
             "dop853": "dln DOP853 (own 8(5,3) loop)", "auto5": "dln AUTO, RK phase DP5 (auto_dop853_rtol 0)",
             "auto8": "dln AUTO, RK phase DOP853 (auto_dop853_rtol 1)",
             "gauss2": "dln Gauss s=2", "gd": "dln GD"}
DLN_SOLVERS = ("erk", "cvode", "auto", "rkc", "dop853", "auto5", "auto8", "gauss2", "gd")


def target_ratio(sigma):
    """Issue 14: non-stiff (sigma = 0.01) >= 25x SciPy's fastest, stiff (sigma = 1, 10) >= 100x."""
    return 25.0 if sigma < 0.1 else 100.0


def cheapest(runs, level):
    ok = [r for r in runs if r.get("ok", r.get("status") == "ok") and r.get("err") is not None
          and r["err"] <= level]
    return min(ok, key=lambda r: r["seconds"]) if ok else None


def cmd_merge(args):
    dln = json.load(open(args.dln))
    peers = json.load(open(args.peers))
    merged = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "dln": dln,
              "peers": peers, "equal_accuracy": {}}
    md = []
    dm, pm = dln["meta"], peers["meta"]
    la = lambda v: "/".join(f"{x:.2f}" for x in v) if v else "?"
    md.append(f"Date: {merged['date']}  ")
    md.append(f"CPU: {dm['cpu']} ({pm['nproc']} logical CPUs); dln: {dm['openblas_config']}, "
              f"{dm['openblas_num_threads']} thread; peers: Python {pm['python']}, NumPy {pm['numpy']}, "
              f"SciPy {pm['scipy']} (1 BLAS thread)  ")
    md.append(f"Load average (1/5/15 min): dln start {la(dm['loadavg_start'])}, end {la(dln.get('loadavg_end'))}; "
              f"SciPy start {la(pm['loadavg_start'])}, end {la(pm.get('loadavg_end'))}  ")
    md.append(f"Wall: dln {dln.get('total_seconds', 0):.0f} s, SciPy {pm.get('total_seconds', 0):.0f} s; "
              f"per-run cap {dm['cap_seconds']:g} s (dln) / timeout {pm['timeout_s']:g} s (SciPy); quick = {dm['quick']}")
    md.append("")

    # reference table
    md.append("#### Reference solutions θ_ref(20) (rtol 1e-13, atol 1e-15)")
    md.append("")
    md.append("| σ | ρ(∇²φ) at t=0 / t=20 | loss(0) → loss(20) | dln ERK (θ_ref) | dln Gauss s=2 vs θ_ref | "
              "SciPy DOP853 vs θ_ref | DOP853 vs Gauss s=2 | drift C₁: ERK / Gauss / DOP853 |")
    md.append("|---|---|---|---|---|---|---|---|")
    for key, c in dln["cases"].items():
        rc = peers["cases"][key].get("reference_check", {})
        ref = c["reference"]
        dop = (f"{rc['dop853_vs_erk']:.1e} ({fs(rc['seconds'])})" if rc.get("status") == "ok"
               else rc.get("status", "–"))
        md.append(f"| {c['sigma']:g} | {c['rho_hessian_0']:.3g} / {c['rho_hessian_20']:.3g} | "
                  f"{c['init_loss']:.3g} → {c['loss_at_20']:.1e} | {fs(ref['erk']['seconds'])}, "
                  f"{ref['erk']['steps']} steps | {ref['gauss2_vs_erk']:.1e} ({fs(ref['gauss2']['seconds'])}) | {dop} | "
                  f"{fe(rc.get('dop853_vs_gauss2'))} | {fe(ref['erk']['drift_C1'])} / {fe(ref['gauss2']['drift_C1'])} / "
                  f"{fe(rc.get('drift_C1'))} |")
    md.append("")

    # equal-accuracy table
    met_all = True
    md.append("#### Wall time at equal accuracy: cheapest setting reaching ‖θ(20) − θ_ref‖/‖θ_ref‖ ≤ level")
    md.append("")
    md.append("| σ | level | fastest dln (setting, time) | fastest SciPy (setting, time) | SciPy / dln | target (25× / 100×) met? | "
              "dln GD (η, time) |")
    md.append("|---|---|---|---|---|---|---|")
    for key, c in dln["cases"].items():
        druns = [r for r in c["runs"]]
        pruns = peers["cases"][key]["runs"]
        merged["equal_accuracy"][key] = {}
        for lvl in LEVELS:
            d_by = {}
            for name in DLN_SOLVERS:
                b = cheapest([r for r in druns if r["solver"] == name], lvl)
                if b:
                    d_by[name] = b
            p_by = {}
            for name in dict.fromkeys(r["solver"] for r in pruns):
                b = cheapest([r for r in pruns if r["solver"] == name], lvl)
                if b:
                    p_by[name] = b
            dbest = min(d_by.values(), key=lambda r: r["seconds"]) if d_by else None
            pbest = min(p_by.values(), key=lambda r: r["seconds"]) if p_by else None
            ratio = pbest["seconds"] / dbest["seconds"] if (dbest and pbest) else None
            met = (ratio is not None and ratio >= target_ratio(c["sigma"])) or (dbest is not None and pbest is None)
            met_all = met_all and met
            gdl = [g for g in c.get("gd_levels", []) if g["level"] == lvl]
            gds = "–"
            if gdl:
                g = gdl[0]
                if g["reached_within_cap"]:
                    gds = f"η {g['eta']:.2g}, {fs(g['seconds'])}"
                elif g["seconds"] is not None:
                    gds = f"η {g['eta']:.2g}, ≈ {fs(g['seconds'])} (est., over cap)"
            def desc(r, dl):
                if r is None:
                    return "none reached"
                nm = DLN_NAMES.get(r["solver"], r["solver"]) if dl else r["solver"]
                st = f"η {r['eta']:.2g}" if r["solver"] == "gd" else f"rtol {r['rtol']:.0e}"
                return f"{nm} {st}, {fs(r['seconds'])} (err {r['err']:.1e})"
            md.append(f"| {c['sigma']:g} | {lvl:.0e} | {desc(dbest, True)} | {desc(pbest, False)} | "
                      f"{'–' if ratio is None else f'{ratio:.1f}×'} | {'**yes**' if met else '**no**'} | {gds} |")
            merged["equal_accuracy"][key][f"{lvl:.0e}"] = {
                "dln_best": {k: dbest.get(k) for k in ("solver", "rtol", "eta", "seconds", "err")} if dbest else None,
                "scipy_best": {k: pbest.get(k) for k in ("solver", "rtol", "seconds", "err")} if pbest else None,
                "ratio": ratio, "target_met": met,
                "dln_per_method": {k: {"rtol": v.get("rtol"), "eta": v.get("eta"), "seconds": v["seconds"],
                                       "err": v["err"]} for k, v in d_by.items()},
                "scipy_per_method": {k: {"rtol": v["rtol"], "seconds": v["seconds"], "err": v["err"]}
                                     for k, v in p_by.items()}}
    merged["target_met_everywhere"] = met_all
    md.append("")
    md.append(f"Target (issue 14: ≥ 25× less wall time than SciPy's fastest method at equal accuracy for the non-stiff "
              f"σ = 0.01, ≥ 100× for the stiff σ = 1, 10, every level): "
              f"{'**met**' if met_all else '**not met**'}")
    md.append("")

    # per-method cheapest per level
    md.append("#### Per solver: cheapest wall time reaching each level (setting in parentheses)")
    md.append("")
    for key, c in dln["cases"].items():
        ea = merged["equal_accuracy"][key]
        md.append(f"σ = {c['sigma']:g}:")
        md.append("")
        md.append("| solver | " + " | ".join(f"≤ {l:.0e}" for l in LEVELS) + " |")
        md.append("|---|" + "---|" * len(LEVELS))
        names = [("dln", n) for n in DLN_SOLVERS] + \
                [("scipy", n) for n in dict.fromkeys(r["solver"] for r in peers["cases"][key]["runs"])]
        for side, n in names:
            cells = []
            for lvl in LEVELS:
                e = ea[f"{lvl:.0e}"][("dln" if side == "dln" else "scipy") + "_per_method"].get(n)
                if e is None:
                    cells.append("–")
                elif n == "gd":
                    cells.append(f"{fs(e['seconds'])} (η {e['eta']:.1g})")
                else:
                    cells.append(f"{fs(e['seconds'])} ({e['rtol']:.0e})")
            md.append(f"| {DLN_NAMES.get(n, n) if side == 'dln' else 'SciPy ' + n} | " + " | ".join(cells) + " |")
        md.append("")

    # full ladders
    md.append("#### Full tolerance ladders (err = ‖θ(20) − θ_ref‖/‖θ_ref‖, err_W for W = W₂W₁, drift = "
              "‖C₁(20) − C₁(0)‖/max(1, ‖C₁(0)‖))")
    md.append("")
    for key, c in dln["cases"].items():
        md.append(f"σ = {c['sigma']:g}:")
        md.append("")
        md.append("| solver | rtol / η | status | err | err_W | drift C₁ | RHS evals | Hv / Jac | steps | wall |")
        md.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in c["runs"]:
            st = f"η {r['eta']:.3g}" if r["solver"] == "gd" else f"{r['rtol']:.0e}"
            md.append(f"| {DLN_NAMES.get(r['solver'], r['solver'])} | {st} | {r['status']} | {fe(r.get('err'))} | "
                      f"{fe(r.get('err_W'))} | {fe(r.get('drift_C1'))} | {r['rhs_evals']} | {r['hv_evals']} | "
                      f"{r['steps']} | {fs(r.get('seconds'))} |")
        for r in peers["cases"][key]["runs"]:
            if r["status"] == "ok":
                md.append(f"| SciPy {r['solver']} | {r['rtol']:.0e} | ok | {fe(r.get('err'))} | {fe(r.get('err_W'))} | "
                          f"{fe(r.get('drift_C1'))} | {r['rhs_calls']} | {r['jac_calls'] or r['njev']} (nlu {r['nlu']}) | "
                          f"{r['n_steps']} | {fs(r['seconds'])} |")
            else:
                md.append(f"| SciPy {r['solver']} | {r['rtol']:.0e} | {r['status']} | – | – | – | – | – | – | "
                          f"{r.get('message', '')[:60]} |")
        md.append("")

    text = "\n".join(md) + "\n"
    with open(args.out_json, "w") as fh:
        json.dump(merged, fh, indent=1)
    with open(args.out_md, "w") as fh:
        fh.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True)
    r.add_argument("--refs", required=True)
    r.add_argument("--quick", action="store_true", help="rtol 1e-3, 1e-5, 1e-7, 1e-9; no DOP853 reference")
    r.add_argument("--timeout", type=float, default=60.0, help="wall-clock limit per solve_ivp run (s)")
    r.add_argument("--ref-timeout", type=float, default=300.0, help="limit for the DOP853 reference run (s)")
    m = sub.add_parser("merge")
    m.add_argument("dln")
    m.add_argument("peers")
    m.add_argument("out_json")
    m.add_argument("out_md")
    args = ap.parse_args()
    cmd_run(args) if args.cmd == "run" else cmd_merge(args)


if __name__ == "__main__":
    main()
