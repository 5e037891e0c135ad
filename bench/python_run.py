"""A whole run from Python (dln.run) vs the same run by the CLI (`dln run`), issue 13's
target: within 5 % for runs of >= 10 ms. Called by bench/python.sh; prints one JSON object.

Three runs of about 10 ms, 100 ms and 1 s (gradient descent on a factorization, the step
count setting the length); each timed as a whole (wall clock from the call to its return:
for the CLI fork/exec, library loading and the run; for Python the job's options, the run
into a fresh folder and the Result's arrays), REPS times each, the two interleaved, into a
fresh folder every time. Reported: wall medians, min/max, the ratio python/cli of the
medians; CPU seconds (the CLI child's rusage, Python's process_time: under a loaded machine
the steadier figure) and their ratio; the run's own wall time from summary.json.

Environment: PYTHONPATH (the package), DLN_LIBRARY, DLN_CLI (the dln binary);
OPENBLAS_NUM_THREADS is pinned to 1 here for both. Usage: python_run.py [REPS] (default 7).
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402

import dln  # noqa: E402

CLI = os.environ.get("DLN_CLI", "dln")
# three lengths of run (GD steps on a 10 x 10 target, widths 10,40,40,10): ~10 ms, ~100 ms
# and ~1 s of the run's own wall time on an idle core (more under load)
BASE = {"rows": 10, "cols": 10, "widths": "10,40,40,10", "method": "gd", "eta": 1e-3, "samples": 50,
        "sigma": 0.1, "seed": 3}
SIZES = {"10ms": 0.4, "100ms": 4.0, "1s": 40.0}  # t_end: t_end / eta steps


def cli_args(opts, out):
    return [CLI, "run", "--quiet", "--plot=false", "--out=" + out] + ["--%s=%s" % (k, v) for k, v in opts.items()]


def once(kind, opts, out):
    """Wall and CPU seconds of the whole run (CPU: the child's for the CLI, this process's
    for Python, both threads), and the run's own wall time (summary.json)."""
    if kind == "cli":
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cli_args(opts, out), capture_output=True)
        dt = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
        assert r.returncode == 0, r.stderr
    else:
        c0, t0 = time.process_time(), time.perf_counter()
        dln.run(out=out, **opts)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open(os.path.join(out, "summary.json")) as f:
        inner = json.load(f)["wall_seconds"]
    return dt, cpu, inner


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    # on tmpfs when there is one: every output is fsync'ed (src/io/afile.c), and on this
    # machine's shared disk one fsync costs up to 0.1 s, more than the runs being compared
    parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="dln-bench-run-", dir=parent)
    out = {"bench": "python_run", "reps": reps, "folder": parent or tempfile.gettempdir(),
           "load_before": os.getloadavg()[0], "runs": {}}
    try:
        k = 0
        for name, t_end in SIZES.items():
            opts = dict(BASE, t_end=t_end)
            times = {"cli": [], "python": []}
            cpus = {"cli": [], "python": []}
            inner = {"cli": [], "python": []}
            once("python", opts, os.path.join(tmp, "warm%d" % k))  # the library loaded, caches warm
            for i in range(reps):
                for kind in (("cli", "python") if i % 2 == 0 else ("python", "cli")):  # interleaved, alternating
                    k += 1
                    dt, c, w = once(kind, opts, os.path.join(tmp, "r%d" % k))
                    times[kind].append(dt)
                    cpus[kind].append(c)
                    inner[kind].append(w)
            med = {kk: float(np.median(v)) for kk, v in times.items()}
            out["runs"][name] = {
                "options": opts,
                "cli_s": {"median": med["cli"], "min": min(times["cli"]), "max": max(times["cli"])},
                "python_s": {"median": med["python"], "min": min(times["python"]), "max": max(times["python"])},
                "ratio_python_over_cli": med["python"] / med["cli"],
                "cpu_s_median": {kk: float(np.median(v)) for kk, v in cpus.items()},
                "cpu_ratio_python_over_cli": float(np.median(cpus["python"]) / np.median(cpus["cli"])),
                "run_wall_s_median": {kk: float(np.median(v)) for kk, v in inner.items()},
            }
            shutil.rmtree(tmp, True)
            os.makedirs(tmp)
    finally:
        shutil.rmtree(tmp, True)
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
