#!/usr/bin/env python3
"""Issue 13's gradient benchmark (called by bench/python.sh; prints one JSON object).

1. Per-call overhead of a gradient: dln.Net.grad from Python (with a reused out= array,
   allocating a new one, and the prepared call of Net.bind) against the same dln_net_grad from C (bench/bench_grad_call, linked
   against the same shared libdln), for a 2x2 depth-3 network (widths 2,2,2,2) and the 5x10
   width-50 one (widths 10,50,5), factorization of a Gaussian target.
2. A Python loop of gradient-descent steps θ <- θ - η ∇φ(θ) calling dln's gradient, against
   the same loop written in NumPy (forward prefix products, ∇ℓ = W - Ȳ, per-layer gradients
   W_{N:j+1}^T ∇ℓ W_{j-1:1}^T, 002 Lemma 1 proof), same problem, same steps (the two final θ
   agree to 1e-9 relative, checked); dln.train's own C loop (method gd) for reference.
Repetitions are interleaved (C, Python, NumPy, ... in turn) so that the machine's load
affects each alike; the JSON gives every repetition, medians, ratios and the load average.

    PYTHONPATH=build/python DLN_BUILD_DIR=build /usr/bin/python3 bench/python_grad.py [--quick]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

import dln

CASES = [("2x2 depth 3", [2, 2, 2, 2]), ("5x10 width 50", [10, 50, 5])]


def c_rep(exe, widths, calls):
    p = subprocess.run([exe, ",".join(map(str, widths)), str(calls), "1"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["us_per_call"][0]


def py_rep(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def numpy_gd(layers, Y, eta, steps):
    """GD on ½‖W_N···W_1 − Ȳ‖² in NumPy, in place on the layers (views into θ)."""
    N = len(layers)
    grads = [np.empty_like(w) for w in layers]
    for _ in range(steps):
        pre = [layers[0]]
        for j in range(1, N):
            pre.append(layers[j] @ pre[-1])
        back = pre[-1] - Y  # ∇ℓ(W)
        for j in range(N - 1, -1, -1):  # grad_j = W_{N:j+2}^T ∇ℓ W_{j:1}^T (0-based j)
            grads[j][...] = back @ pre[j - 1].T if j else back
            back = layers[j].T @ back
        for w, g in zip(layers, grads):
            w -= eta * g


def dln_gd(net, loss, th, eta, steps):
    g = np.empty_like(th)
    for _ in range(steps):
        net.grad(loss, th, out=g)
        g *= eta
        th -= g


def stats(v):
    return {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v)), "reps": [float(x) for x in v]}


def main():
    quick = "--quick" in sys.argv[1:]
    reps = 3 if quick else 7
    build = os.environ.get("DLN_BUILD_DIR", "build")
    exe = os.path.join(build, "bench", "bench_grad_call")
    if not os.path.exists(exe):
        sys.exit("bench/python_grad.py: %s: expected the C baseline (DLN_BUILD_BENCH=ON), found no file" % exe)
    out = {"program": "bench/python_grad.py", "quick": quick, "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load_before": list(os.getloadavg()), "calls": {}, "gd_loop": {}}
    for name, widths in CASES:
        rng = np.random.default_rng(1)
        Y = rng.standard_normal((widths[-1], widths[0]))
        loss = dln.Loss("factorization", target=Y, widths=widths, sigma=0.1)
        net, th = loss.net, loss.theta0.copy()
        g = np.empty_like(th)
        calls = (20000 if quick else 100000) if net.nparams < 100 else (4000 if quick else 20000)
        bound = net.bind(loss, th, g)
        r = {"c": [], "python_bind": [], "python_out": [], "python_alloc": []}
        for _ in range(reps):
            r["c"].append(c_rep(exe, widths, calls))
            r["python_bind"].append(py_rep(bound, calls))
            r["python_out"].append(py_rep(lambda: net.grad(loss, th, out=g), calls))
            r["python_alloc"].append(py_rep(lambda: net.grad(loss, th), calls))
        s = {k: stats(v) for k, v in r.items()}
        med = {k: v["median"] for k, v in s.items()}
        out["calls"][name] = {"widths": widths, "nparams": net.nparams, "calls_per_rep": calls, "us_per_call": s,
                              "overhead_us": {k: med[k] - med["c"] for k in med if k != "c"},
                              "ratio_python_over_c": {k: med[k] / med["c"] for k in med if k != "c"}}
        # the GD loops
        eta, steps = 0.01, (2000 if quick else 10000) if net.nparams < 100 else (500 if quick else 2000)
        r = {"python_dln": [], "numpy": [], "dln_train_c": []}
        for _ in range(reps):
            a, b = loss.theta0.copy(), loss.theta0.copy()
            t0 = time.perf_counter()
            dln_gd(net, loss, a, eta, steps)
            r["python_dln"].append((time.perf_counter() - t0) / steps * 1e6)
            t0 = time.perf_counter()
            numpy_gd(net.layers(b), Y, eta, steps)
            r["numpy"].append((time.perf_counter() - t0) / steps * 1e6)
            t0 = time.perf_counter()
            tr = dln.train(loss, method="gd", eta=eta, t_end=eta * steps, samples=2, observe="loss")
            r["dln_train_c"].append((time.perf_counter() - t0) / steps * 1e6)
            dev = np.abs(a - b).max() / np.abs(b).max()
            if dev > 1e-9 or np.abs(tr.theta - a).max() / np.abs(a).max() > 1e-9:
                sys.exit("bench/python_grad.py: %s: the GD loops disagree (%.3g relative)" % (name, dev))
        s = {k: stats(v) for k, v in r.items()}
        med = {k: v["median"] for k, v in s.items()}
        out["gd_loop"][name] = {"steps": steps, "eta": eta, "us_per_step": s, "max_rel_diff_theta": float(dev),
                                "ratio_numpy_over_python_dln": med["numpy"] / med["python_dln"],
                                "ratio_python_dln_over_c_loop": med["python_dln"] / med["dln_train_c"]}
    out["load_after"] = list(os.getloadavg())
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
