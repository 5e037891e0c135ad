#!/usr/bin/python3
"""Tables of bench/figures.sh: figures_report.py TMP LOAD0 LOAD1 QUICK OUT.json OUT.md.

TMP/times.txt holds "name mode status seconds" (mode compute: matplotlib hidden; full: as
is), TMP/torch.jsonl one JSON object per PyTorch script, TMP/out-compute-NAME/ the figures'
outputs (003-fig1 fit.csv, 004-ovf ovf.csv give dln's sanity numbers).
"""
import csv
import datetime
import json
import os
import platform
import sys


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def dln_sanity(tmp, name):
    d = os.path.join(tmp, f"out-compute-{name}")
    try:
        if name == "003-fig1":
            return {"slope": float(read_csv(os.path.join(d, "fit.csv"))[0]["slope"])}
        if name == "004-ovf":
            frac = {}
            for part, key in (("0", "random"), ("1", "saddle")):
                for depth in "1234":
                    rows = [r for r in read_csv(os.path.join(d, "ovf.csv"))
                            if r["adversarial"] == part and float(r["depth"]) == float(depth)]
                    n = sum(float(r["runs"]) for r in rows)
                    if n:
                        frac[f"{key}_depth{depth}"] = sum(float(r["global_min"]) for r in rows) / n
            return {"frac_global": frac}
    except (OSError, KeyError, IndexError, ValueError) as e:
        return {"error": str(e)}
    return {}


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    tmp, load0, load1, quick, out_json, out_md = sys.argv[1:7]
    times = {}
    with open(os.path.join(tmp, "times.txt")) as f:
        for line in f:
            name, mode, rc, sec = line.split()
            times.setdefault(name, {})[mode] = {"status": int(rc), "seconds": float(sec)}
    torch = []
    with open(os.path.join(tmp, "torch.jsonl")) as f:
        torch = [json.loads(line) for line in f if line.strip()]
    for t in torch:
        t["dln_compute_seconds"] = times[t["figure"]]["compute"]["seconds"]
        t["dln"] = dln_sanity(tmp, t["figure"])
        t["ratio_torch_over_dln"] = t["seconds"] / t["dln_compute_seconds"]
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "cpu": cpu(), "ncpu": os.cpu_count(), "quick": bool(quick),
           "loadavg_start": load0, "loadavg_end": load1, "figures": times, "torch": torch}
    with open(out_json + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(out_json + ".tmp", out_json)

    L = [f"# `dln figure` timings{' (--quick)' if quick else ''}", "",
         f"Date: {res['date']}; CPU: {res['cpu']} ({res['ncpu']} logical CPUs, shared); "
         f"OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1.  ",
         f"Load average (1/5/15 min): start {' '.join(load0.split()[:3])}, end {' '.join(load1.split()[:3])}.", "",
         "Wall seconds. compute: matplotlib hidden (PYTHONPATH with a refusing `matplotlib`), so dln "
         "writes data, plot.py, report.md and manifest but no figure.png/svg; full: as is; "
         "render = full - compute (importing matplotlib and writing PNG + SVG).", "",
         "| figure | exit | compute s | full s | render s |", "|---|---|---|---|---|"]
    for name, m in times.items():
        c, u = m.get("compute", {}), m.get("full", {})
        st = c.get("status", "?") if c.get("status") == u.get("status") else f"{c.get('status')}/{u.get('status')}"
        L.append(f"| {name} | {st} | {c.get('seconds', float('nan')):.2f} | {u.get('seconds', float('nan')):.2f} "
                 f"| {u.get('seconds', float('nan')) - c.get('seconds', float('nan')):.2f} |")
    L += ["", "## Against the papers' way: sequential PyTorch GD loop per run (float64, one thread)", "",
          "| figure | runs | PyTorch GD steps | PyTorch s | dln compute s | PyTorch / dln | sanity: PyTorch | sanity: dln |",
          "|---|---|---|---|---|---|---|---|"]
    for t in torch:
        if t["figure"] == "003-fig1":
            sp, sd = f"slope {t['slope']:.4f}", f"slope {t['dln'].get('slope', float('nan')):.4f}"
        else:
            fmt = lambda d: ", ".join(f"{k.replace('_depth', ' d')} {v:.2f}" for k, v in d.items())
            sp, sd = fmt(t["frac_global"]), fmt(t["dln"].get("frac_global", {}))
        L.append(f"| {t['figure']} | {t['runs']} | {t['steps']} | {t['seconds']:.2f} | {t['dln_compute_seconds']:.2f} "
                 f"| **{t['ratio_torch_over_dln']:.1f}x** | {sp} | {sd} |")
    with open(out_md + ".tmp", "w") as f:
        f.write("\n".join(L) + "\n")
    os.replace(out_md + ".tmp", out_md)
    print("\n".join(L))


if __name__ == "__main__":
    main()
