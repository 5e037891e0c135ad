#!/usr/bin/python3
"""Merge the parts of bench/scale.sh into bench/results/scale.{json,md,png}.

    scale_report.py TMPDIR OUTDIR [--name NAME]     (NAME: scale, or scale-quick)

TMPDIR holds peak.json (fma_peak), dln_<backend>_T<threads>.json (bench_scale) and
peers_T<threads>.json (scale_peers.py). Effective GFLOP/s = 6 (N - 1) n^3 flops per step
(12 n^3 at depth 3) x median steps/s by wall clock; "% peak" divides by one core's
measured FMA peak (x threads for the 2-thread rows).
"""
import glob
import json
import os
import re
import sys

tmp, outdir = sys.argv[1], sys.argv[2]
name = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--name" else "scale"
peak_j = json.load(open(os.path.join(tmp, "peak.json")))
peak = max(v["best"] for v in peak_j.values() if v)
meta = json.load(open(os.path.join(tmp, "meta.json"))) if os.path.exists(os.path.join(tmp, "meta.json")) else {}

dln = {}  # (backend, threads) -> {(n, depth): row}
dln_meta = {}
for p in sorted(glob.glob(os.path.join(tmp, "dln_*_T*.json"))):
    m = re.match(r"dln_(\w+?)_T(\d+)\.json", os.path.basename(p))
    be, t = m.group(1), int(m.group(2))
    d = json.load(open(p))
    dln_meta[f"{be}_T{t}"] = d["meta"]
    for r in d["rows"]:
        dln.setdefault((be, t), {})[(r["n"], r["depth"])] = r
peers = {}
peers_meta = {}
for p in sorted(glob.glob(os.path.join(tmp, "peers_T*.json"))):
    t = int(re.search(r"T(\d+)", os.path.basename(p)).group(1))
    d = json.load(open(p))
    peers_meta[f"T{t}"] = d["meta"]
    for r in d["rows"]:
        peers.setdefault(t, {})[(r["n"], r["depth"])] = r


def sps(r, key="steps_per_s"):
    return r[key]["median"] if r else None


def gflops(r, flops, key="steps_per_s"):
    return sps(r, key) * flops / 1e9 if r else None


rows = []
base = dln.get(("openblas", 1), {})
for (n, depth) in sorted(base):
    r = base[(n, depth)]
    f = r["flops_per_step"]
    pr = peers.get(1, {}).get((n, depth), {})
    row = {"n": n, "depth": depth, "flops_per_step": f,
           "dln": r["steps_per_s"], "dln_cpu": r["steps_per_s_cpu"],
           "dln_gflops": gflops(r, f), "dln_gflops_cpu": gflops(r, f, "steps_per_s_cpu"),
           "dln_peak_fraction": gflops(r, f) / peak, "dgemm_gflops": r["dgemm_gflops"],
           "numpy": pr.get("numpy", {}).get("steps_per_s"), "torch": pr.get("torch", {}).get("steps_per_s")}
    for (be, t), tab in sorted(dln.items()):
        if (be, t) == ("openblas", 1) or (n, depth) not in tab:
            continue
        o = tab[(n, depth)]
        row[f"dln_{be}_T{t}"] = o["steps_per_s"]
        row[f"dln_{be}_T{t}_gflops"] = gflops(o, f)
        if t == 1:
            row[f"dln_{be}_T{t}_gflops_cpu"] = gflops(o, f, "steps_per_s_cpu")
        if t > 1 and (be, 1) in dln and (n, depth) in dln[(be, 1)]:
            row[f"speedup_{be}_T{t}"] = sps(o) / sps(dln[(be, 1)][(n, depth)])
    p2 = peers.get(2, {}).get((n, depth))
    if p2:
        row["numpy_T2"] = p2.get("numpy", {}).get("steps_per_s")
        row["torch_T2"] = p2.get("torch", {}).get("steps_per_s")
    rows.append(row)

os.makedirs(outdir, exist_ok=True)
doc = {"fma_peak_gflops": peak, "fma_peak": peak_j, "meta": meta, "dln_meta": dln_meta, "peers_meta": peers_meta,
       "rows": rows}
with open(os.path.join(outdir, name + ".json"), "w") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")


def fmt(x, d=3):
    if x is None:
        return "–"
    if isinstance(x, dict):
        x = x["median"]
    if x >= 1e6:
        return f"{x / 1e6:.{d}g} M"
    if x >= 1e4:
        return f"{x / 1e3:.{d}g} k"
    return f"{x:.0f}" if x >= 100 else f"{x:.{d}g}"


def spread(x):
    return "–" if not x else f"{fmt(x['min'])}–{fmt(x['max'])}"


L = ["# Scaling: square n x n factorization GD, dln vs NumPy vs PyTorch (bench/scale.sh)", "",
     f"One core's FMA peak (bench/fma_peak.c): **{peak:.1f} GFLOP/s** "
     f"({', '.join(k + ' best ' + str(v['best']) + ' / median ' + str(v['median']) for k, v in peak_j.items() if v)}; "
     f"avx512: {'yes' if peak_j.get('avx512_fma_gflops') else 'not on this CPU'}).",
     f"CPU: {meta.get('cpu', '?')}. Load average before / after: {meta.get('load_before', '?')} / "
     f"{meta.get('load_after', '?')} (2 cores, shared with other jobs: read the spreads).",
     f"dln backend openblas: {dln_meta.get('openblas_T1', {}).get('backend_describe', '?')}.", "",
     "Effective GFLOP/s = 6 (N−1) n³ per step (12 n³ at depth 3) × steps/s (median of the timed chunks, wall clock);"
     " \"CPU\" uses process CPU time instead (leaves out time spent waiting for a core). One thread unless noted.", ""]
for depth in sorted({r["depth"] for r in rows}):
    L += [f"## depth {depth}", "",
          "| n | dln steps/s (min–max) | NumPy | PyTorch | dln/NumPy | dln/PyTorch | GFLOP/s (CPU) | % FMA peak |"
          " DGEMM GFLOP/s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["depth"] != depth:
            continue
        npy, tor = sps({"steps_per_s": r["numpy"]} if r["numpy"] else None), \
            sps({"steps_per_s": r["torch"]} if r["torch"] else None)
        d = r["dln"]["median"]
        L.append(f"| {r['n']} | {fmt(d)} ({spread(r['dln'])}) | {fmt(npy)} | {fmt(tor)} | "
                 f"{(d / npy) if npy else float('nan'):.2f}× | {(d / tor) if tor else float('nan'):.2f}× | "
                 f"{r['dln_gflops']:.1f} ({r['dln_gflops_cpu']:.1f}) | {100 * r['dln_peak_fraction']:.0f} % | "
                 f"{r['dgemm_gflops']:.1f} |")
    L.append("")

t2 = [r for r in rows if any(k.startswith("speedup_") for k in r)]
if t2:
    L += ["## Two threads (n ≥ 512)", "",
          "| n | depth | backend | dln steps/s T=1 | T=2 (min–max) | speedup | GFLOP/s T=2 | NumPy T=2 | PyTorch T=2 |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in t2:
        for k in sorted(k for k in r if k.startswith("speedup_")):
            be = k[len("speedup_"):-3]
            one = r["dln"] if be == "openblas" else r.get(f"dln_{be}_T1")
            two = r[f"dln_{be}_T2"]
            L.append(f"| {r['n']} | {r['depth']} | {be} | {fmt(one)} | {fmt(two)} ({spread(two)}) | {r[k]:.2f}× | "
                     f"{r[f'dln_{be}_T2_gflops']:.1f} | {fmt(r.get('numpy_T2'))} | {fmt(r.get('torch_T2'))} |")
    L.append("")

bes = sorted({k[4:-10] for r in rows for k in r if k.startswith("dln_") and k.endswith("_T1_gflops")})
if bes:
    L += ["## Backends (--blas_backend), one thread", "",
          "| n | depth | openblas GFLOP/s (CPU) | " + " | ".join(f"{b} GFLOP/s (CPU)" for b in bes) + " |",
          "|---|---|---|" + "---|" * len(bes)]
    for r in rows:
        if not any(f"dln_{b}_T1_gflops" in r for b in bes):
            continue
        cells = [f"{r[f'dln_{b}_T1_gflops']:.1f} ({r[f'dln_{b}_T1_gflops_cpu']:.1f})" if f"dln_{b}_T1_gflops" in r
                 else "–" for b in bes]
        L.append(f"| {r['n']} | {r['depth']} | {r['dln_gflops']:.1f} ({r['dln_gflops_cpu']:.1f}) | " + " | ".join(cells) + " |")
    L.append("")
with open(os.path.join(outdir, name + ".md"), "w") as fh:
    fh.write("\n".join(L))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(1, 2, figsize=(12, 4.8))
colors = {2: "C0", 3: "C1", 4: "C2"}
for depth in sorted({r["depth"] for r in rows}):
    rr = [r for r in rows if r["depth"] == depth]
    n = [r["n"] for r in rr]
    c = colors.get(depth, "k")
    ax[0].loglog(n, [r["dln"]["median"] for r in rr], "o-", color=c, label=f"dln, depth {depth}")
    ax[0].loglog(n, [r["numpy"]["median"] if r["numpy"] else float("nan") for r in rr], "s--", color=c, alpha=0.6,
                 label=f"NumPy, depth {depth}")
    ax[0].loglog(n, [r["torch"]["median"] if r["torch"] else float("nan") for r in rr], "^:", color=c, alpha=0.6,
                 label=f"PyTorch, depth {depth}")
    ax[1].loglog(n, [r["dln_gflops"] for r in rr], "o-", color=c, label=f"dln, depth {depth}")
    ax[1].loglog(n, [r["numpy"]["median"] * r["flops_per_step"] / 1e9 if r["numpy"] else float("nan") for r in rr],
                 "s--", color=c, alpha=0.6, label=f"NumPy, depth {depth}")
    r2 = [r for r in rr if "dln_openblas_T2_gflops" in r]
    if r2:
        ax[1].loglog([r["n"] for r in r2], [r["dln_openblas_T2_gflops"] for r in r2], "D-", color=c, mfc="none",
                     label=f"dln 2 threads, depth {depth}")
ax[1].axhline(peak, color="k", lw=1)
ax[1].text(2, peak * 1.05, f"FMA peak, 1 core ({peak:.0f})", fontsize=8)
ax[1].axhline(0.7 * peak, color="k", lw=0.8, ls="--")
ax[1].text(2, 0.7 * peak * 0.85, "70 % of peak", fontsize=8)
ax[0].set(xlabel="n (square n × n, every width n)", ylabel="GD steps / s", title="steps per second")
ax[1].set(xlabel="n", ylabel="effective GFLOP/s (6 (N−1) n³ per step)", title="effective GFLOP/s")
for a in ax:
    a.set_xscale("log", base=2)
    a.grid(True, which="both", alpha=0.3)
ax[0].legend(fontsize=7, ncol=1)
ax[1].legend(fontsize=7, loc="lower right")
fig.tight_layout()
fig.savefig(os.path.join(outdir, name + ".png"), dpi=110)
print(f"scale_report: wrote {outdir}/{name}.json, .md, .png", file=sys.stderr)
