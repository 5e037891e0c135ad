#!/usr/bin/python3
"""bench/mem.py — memory of dln runs (issue 14; docs/memory.md).

1. Square n x n factorization, depth 3, width n, GD (2 steps, observe loss) for each n:
   summary.json's "memory" (need = peak bytes libdln held, baseline RSS, peak RSS, ratio
   (peak - baseline) / need) and the weights' bytes.
2. Growth: `dln run` of 10^6 GD steps on the 5x10 width-50 factorization with every
   observable and 1001 samples; VmRSS of the process polled from /proc/PID/status every
   20 ms. Reports RSS over the run (after the first 10 % of the polls: min, max, growth).

usage: bench/mem.py DLN [--sizes 256,512,1024] [--steps 1000000] [--out bench/results]
Writes OUT/mem.json and OUT/mem.md; prints the Markdown.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def status(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    d[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return d


def size_run(dln, n, tmp):
    out = os.path.join(tmp, f"n{n}")
    w = ",".join([str(n)] * 4)
    cmd = [dln, "run", "--task=factorization", f"--rows={n}", f"--cols={n}", f"--widths={w}", "--init=gaussian",
           "--sigma=0.01", "--method=gd", "--eta=1e-3", "--t_end=2e-3", "--samples=3", "--observe=loss",
           "--plot=false", "--quiet", f"--out={out}", "--force"]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    wall = time.time() - t0
    with open(os.path.join(out, "summary.json")) as f:
        m = json.load(f)["memory"]
    m.update(n=n, depth=3, wall_s=round(wall, 2))
    return m


def growth_run(dln, steps, tmp):
    out = os.path.join(tmp, "growth")
    cmd = [dln, "run", "--task=factorization", "--rows=5", "--cols=10", "--widths=10,50,5", "--init=gaussian",
           "--sigma=0.1", "--method=gd", "--eta=1e-3", f"--t_end={steps * 1e-3:.6g}", "--samples=1001",
           "--observe=all", "--plot=false", "--quiet", f"--out={out}", "--force"]
    t0 = time.time()
    p = subprocess.Popen(cmd)
    polls = []
    while p.poll() is None:
        s = status(p.pid)
        if "VmRSS" in s:
            polls.append((time.time() - t0, s["VmRSS"]))
        time.sleep(0.02)
    if p.returncode != 0:
        sys.exit(f"mem.py: {' '.join(cmd)} exited {p.returncode}")
    with open(os.path.join(out, "summary.json")) as f:
        sm = json.load(f)
    # training is the run but its last few ms (outputs): the polls from 10 % to 90 % of the run
    a, b = len(polls) // 10, max(len(polls) * 9 // 10, len(polls) // 10 + 1)
    steady = [r for _, r in polls[a:b]] or [0]
    return {"steps": steps, "wall_s": round(time.time() - t0, 2), "polls": len(polls),
            "rss_first_bytes": polls[0][1] if polls else None,
            "rss_min_10_90": min(steady), "rss_max_10_90": max(steady),
            "growth_10_90_bytes": max(steady) - steady[0], "rss_last_bytes": polls[-1][1] if polls else None,
            "table_bytes": 1001 * 65 * 8, "memory": sm["memory"]}


def md(res):
    L = [f"# dln memory ({res['date']}, load {res['load_before']} -> {res['load_after']})", "",
         "ratio = (peak RSS - baseline RSS) / need; need = peak bytes libdln held during the run (allocation hook); "
         "baseline = RSS at the run's start, after libxsmm's start-up tables (docs/memory.md).", "",
         "| n | depth | weights MB | need MB | baseline RSS MB | peak RSS MB | peak - baseline MB | ratio | wall s |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    mb = lambda b: f"{b / 2**20:.1f}"
    for m in res["sizes"]:
        L.append(f"| {m['n']} | 3 | {mb(m['weights_bytes'])} | {mb(m['need_bytes'])} | {mb(m['baseline_rss_bytes'])} | "
                 f"{mb(m['peak_rss_bytes'])} | {mb(m['peak_rss_bytes'] - m['baseline_rss_bytes'])} | {m['ratio']:.3f} | {m['wall_s']} |")
    g = res.get("growth")
    if g:
        L += ["", f"Growth: {g['steps']} GD steps (5x10, widths 10,50,5, every observable, 1001 samples) in {g['wall_s']} s; "
              f"VmRSS polled {g['polls']} times; from 10 % to 90 % of the run between {g['rss_min_10_90']} and "
              f"{g['rss_max_10_90']} bytes, growth {g['growth_10_90_bytes']} bytes (the table of 1001 rows x 65 "
              f"columns that fills meanwhile is {g['table_bytes']} bytes); last poll {g['rss_last_bytes']} bytes "
              f"(outputs being written); summary ratio {g['memory']['ratio']:.3f} (need {g['memory']['need_bytes']} bytes: "
              "at this size the process's own overheads dominate)."]
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dln")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--steps", type=int, default=1000000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--name", default="mem")
    a = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="dln-mem.") as tmp:
        res["sizes"] = [size_run(a.dln, int(n), tmp) for n in a.sizes.split(",") if n]
        if a.steps > 0:
            res["growth"] = growth_run(a.dln, a.steps, tmp)
    res["load_after"] = os.getloadavg()[0]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, a.name + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    text = md(res)
    with open(os.path.join(a.out, a.name + ".md"), "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
