#!/usr/bin/python3
"""NumPy side of bench/tiny.sh, and its report.

    peers_tiny.py DIR SIZES REPEATS [CHUNK]  # NumPy GD steps/s on DIR's data -> JSON on stdout
    peers_tiny.py --report DIR OUT.json OUT.md

The NumPy loop is bench/peers.py's (numpy_gd_steps: product, gradient on W, layer_grads,
in-place updates), from W_j = sigma * Z_j with DIR's draws; each rate is the best of
REPEATS timed chunks of about CHUNK seconds (default 0.01; as bench_tiny's best of short
calls).
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import json
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def problems(d, sizes):
    from peers import Problem
    out = [("completion_2x2_depth3",
            Problem("completion_2x2_depth3", [2, 2, 2, 2], 0.5, 1e-2, "completion",
                    rows=np.array([0, 1, 1]), cols=np.array([1, 0, 1]), b=np.array([1.0, 1.0, 0.0])))]
    for n in sizes:
        name = f"fact_n{n}_depth3"
        out.append((name, Problem(name, [n] * 4, 1 / np.sqrt(n), 1e-3, "fact",
                                  target=np.load(f"{d}/{name}_target.npy"))))
    return out


def bench(d, sizes, reps, chunk):
    from peers import numpy_gd_steps
    res = {}
    for name, p in problems(d, sizes):
        Ws = [p.sigma * np.load(f"{d}/{name}_Z{j + 1}.npy") for j in range(p.depth)]
        numpy_gd_steps(p, Ws, 20)
        n = 10
        while True:
            t0 = time.perf_counter()
            numpy_gd_steps(p, Ws, n)
            dt = time.perf_counter() - t0
            if dt >= 0.01:
                break
            n *= 4
        steps = max(1, int(np.ceil(chunk * n / dt)))
        rates = []
        for _ in range(reps):
            t0 = time.perf_counter()
            numpy_gd_steps(p, Ws, steps)
            rates.append(steps / (time.perf_counter() - t0))
        res[name] = {"steps_per_s": max(rates), "steps_per_s_median": float(np.median(rates)),
                     "steps": steps, "repeats": reps}
        print(f"{name:24s} {max(rates):12.0f} steps/s (NumPy, best of {reps})", file=sys.stderr)
    return res


def report(d, out_json, out_md):
    dln = {k: json.load(open(f"{d}/dln_{k}.json")) for k in ("tiny", "xsmm", "off")}
    npy = json.load(open(f"{d}/numpy.json"))
    meta = dln["tiny"]["meta"]
    load = [dln[k]["meta"]["load1_start"] for k in dln] + [dln[k]["load1_end"] for k in dln]
    md = [f"CPU: {meta['cpu']}; BLAS: {meta['openblas_config']}; load average (1 min) during the dln runs: "
          f"{min(load):.2f} to {max(load):.2f}", "",
          "GD steps/s, single thread, best of many short timed calls (median in parentheses).", ""]
    hand = dln["tiny"]["gd"]["hand_completion_2x2_depth3"]
    md += ["| problem | dln tiny | dln xsmm | dln off (OpenBLAS) | NumPy | tiny / NumPy | tiny / xsmm |", "|---|---|---|---|---|---|---|"]
    rows = {}
    for name, r in dln["tiny"]["gd"].items():
        if name.startswith("hand_"):
            continue
        x, o, p = dln["xsmm"]["gd"][name], dln["off"]["gd"][name], npy[name]
        rows[name] = {"tiny": r["steps_per_s"], "xsmm": x["steps_per_s"], "off": o["steps_per_s"],
                      "numpy": p["steps_per_s"], "tiny_over_numpy": r["steps_per_s"] / p["steps_per_s"]}
        f = lambda v: f"{v['steps_per_s']:,.0f} ({v['steps_per_s_median']:,.0f})"
        md.append(f"| `{name}` | {f(r)} | {f(x)} | {f(o)} | {f(p)} | {r['steps_per_s'] / p['steps_per_s']:.1f}x "
                  f"| {r['steps_per_s'] / x['steps_per_s']:.2f}x |")
    c = dln["tiny"]["gd"]["completion_2x2_depth3"]["steps_per_s"]
    md += ["", f"Hand-written loop for exactly the 2x2 depth-3 completion (bench_tiny, same process): "
           f"{hand['steps_per_s']:,.0f} steps/s; dln tiny reaches {c / hand['steps_per_s']:.1%} of it."]
    json.dump({"meta": meta, "load1": load, "rows": rows, "hand_completion_2x2_depth3": hand["steps_per_s"],
               "dln": dln, "numpy": npy}, open(out_json, "w"), indent=1)
    open(out_md, "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(*sys.argv[2:5])
    else:
        chunk = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
        json.dump(bench(sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), chunk), sys.stdout)
