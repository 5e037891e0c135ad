#!/usr/bin/env python3
"""Paired, interleaved A/B of the non-stiff flow at equal accuracy (issue 14): dln against
SciPy's fastest solve_ivp settings on the sigma = 0.01 case of bench/flow.sh.

Timings on a shared 2-core machine drift with the load, so a single flow.sh run can move a
ratio by 2x. Here each round runs dln (bench_flow --only ... --nsigma 1 --rtols ... --repeats R)
and then SciPy (best of R solve_ivp calls per setting, in this process) back to back; the
ratio SciPy / dln is formed per round and per level, and the report gives its median, min and
max over the rounds next to the load average.

    /usr/bin/python3 bench/flow_ab.py --bench build/bench/bench_flow --data DIR --flow-json bench/results/flow.json \
        [--rounds 5] [--repeats 20] [--out bench/results/flow_ab]

DIR holds target.npy, Z1.npy, Z2.npy as written by bench/flow.sh. The settings compared are
read from flow.json: for each level, dln's cheapest (solver, rtol) among auto, rkc, dop853 and
SciPy's cheapest (method, rtol) among the explicit methods and LSODA.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers_flow import Flow  # noqa: E402

LEVELS = ("1e-04", "1e-06", "1e-09", "1e-10", "1e-12")


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def scipy_best(data, method, rtol, repeats):
    Y, Z1, Z2 = data
    best = float("inf")
    for _ in range(repeats):
        f = Flow(Y, Z1, Z2, 0.01)
        t0 = time.perf_counter()
        solve_ivp(f.rhs, (0.0, 20.0), f.theta0, method=method, rtol=rtol, atol=rtol * 1e-2)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--flow-json", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="bench/results/flow_ab")
    a = ap.parse_args()
    ea = json.load(open(a.flow_json))["equal_accuracy"]["sigma=0.01"]
    cells = []
    for lvl in LEVELS:
        e = ea.get(lvl)
        if not e:
            continue
        dl = {k: v for k, v in e["dln_per_method"].items() if k in ("auto", "rkc", "dop853")}
        sp = {k: v for k, v in e["scipy_per_method"].items() if k in ("RK45", "DOP853", "LSODA")}
        if not dl or not sp:
            continue
        dn, dv = min(dl.items(), key=lambda kv: kv[1]["seconds"])
        sn, sv = min(sp.items(), key=lambda kv: kv[1]["seconds"])
        cells.append({"level": lvl, "dln": dn, "dln_rtol": dv["rtol"], "scipy": sn, "scipy_rtol": sv["rtol"],
                      "err_dln": dv["err"], "err_scipy": sv["err"]})
    data = tuple(np.load(os.path.join(a.data, f)) for f in ("target.npy", "Z1.npy", "Z2.npy"))
    rounds = []
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    only = ",".join(sorted({c["dln"] for c in cells}))
    rt = ",".join(f"{r:.0e}" for r in sorted({c["dln_rtol"] for c in cells}, reverse=True))
    for k in range(a.rounds):
        la0 = loadavg()
        out = subprocess.run([a.bench, "--data", a.data, "--out", a.data, "--only", only, "--nsigma", "1", "--rtols", rt,
                              "--repeats", str(a.repeats)], env=env, capture_output=True, text=True, check=True).stdout
        runs = json.loads(out)["cases"]["sigma=0.01"]["runs"]
        grad_us = json.loads(out)["cases"]["sigma=0.01"]["grad_us"]
        rec = {"loadavg_start": la0, "grad_us": grad_us, "cells": []}
        for c in cells:
            d = [r for r in runs if r["solver"] == c["dln"] and abs(r["rtol"] / c["dln_rtol"] - 1) < 1e-9][0]
            s = scipy_best(data, c["scipy"], c["scipy_rtol"], a.repeats)
            rec["cells"].append({"level": c["level"], "dln_s": d["seconds"], "dln_rhs": d["rhs_evals"],
                                 "dln_err": d["err"], "scipy_s": s, "ratio": s / d["seconds"]})
        rec["loadavg_end"] = loadavg()
        rounds.append(rec)
        print(f"round {k + 1}: load {la0[0]:.2f}, " + ", ".join(f"{x['level']} {x['ratio']:.1f}x" for x in rec["cells"]),
              file=sys.stderr)
    md = ["# Non-stiff flow (sigma = 0.01) at equal accuracy: paired A/B, dln vs SciPy's fastest", "",
          f"{a.rounds} rounds, each: dln best of {a.repeats} dln_train calls per setting, then SciPy best of "
          f"{a.repeats} solve_ivp calls; ratio = SciPy / dln per round. Settings from {a.flow_json}. "
          f"Load average (1 min) over the rounds: {min(r['loadavg_start'][0] for r in rounds):.2f} to "
          f"{max(r['loadavg_end'][0] for r in rounds):.2f}; one gradient: "
          f"{min(r['grad_us'] for r in rounds):.3f} to {max(r['grad_us'] for r in rounds):.3f} µs.", "",
          "| level | dln (setting) | SciPy (setting) | dln time median [min, max] | SciPy time median [min, max] | "
          "ratio median [min, max] | ≥ 25×? |", "|---|---|---|---|---|---|---|"]
    summary = []
    for i, c in enumerate(cells):
        ds = [r["cells"][i]["dln_s"] for r in rounds]
        ss = [r["cells"][i]["scipy_s"] for r in rounds]
        rs = [r["cells"][i]["ratio"] for r in rounds]
        med = statistics.median(rs)
        summary.append({**c, "ratio_median": med, "ratio_min": min(rs), "ratio_max": max(rs),
                        "dln_rhs": rounds[0]["cells"][i]["dln_rhs"]})
        md.append(f"| {c['level']} | {c['dln']} rtol {c['dln_rtol']:.0e} ({rounds[0]['cells'][i]['dln_rhs']} RHS, err "
                  f"{c['err_dln']:.1e}) | {c['scipy']} rtol {c['scipy_rtol']:.0e} (err {c['err_scipy']:.1e}) | "
                  f"{statistics.median(ds) * 1e6:.0f} µs [{min(ds) * 1e6:.0f}, {max(ds) * 1e6:.0f}] | "
                  f"{statistics.median(ss) * 1e3:.2f} ms [{min(ss) * 1e3:.2f}, {max(ss) * 1e3:.2f}] | "
                  f"{med:.1f}× [{min(rs):.1f}, {max(rs):.1f}] | {'yes' if med >= 25 else 'no'} |")
    json.dump({"cells": summary, "rounds": rounds}, open(a.out + ".json", "w"), indent=1)
    open(a.out + ".md", "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
