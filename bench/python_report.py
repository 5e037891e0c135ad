"""Merge bench/python.sh's two parts into bench/results/python{,-quick}.{json,md}.

usage: python_report.py TMPDIR OUT.json OUT.md
TMPDIR holds grad.json / run.json (the one JSON object bench/python_grad.py and
bench/python_run.py print) and grad.load / run.load (/proc/loadavg before and after each).
The objects are kept verbatim; the Markdown lists their values (a {median, min, max, reps}
summary as "median [min, max]"), every key naming a ratio, and the issue's targets with the verdict a script reports as "targets_met" ({name: bool}).
"""
import datetime
import json
import os
import platform
import sys

PARTS = [("grad", "bench/python_grad.py: gradient call overhead, Python loop vs NumPy"),
         ("run", "bench/python_run.py: whole run, Python vs CLI")]
# Issue 13's targets; only the run has a numeric one, the gradient numbers are reported.
TARGETS = {"run": "a whole run from Python within 5 % of the CLI's for runs of >= 10 ms"}


def leaves(obj, path=""):
    """(path, value) of every number, string or bool in obj, compacted for a table: a list of
    scalars is one cell, a {median, min, max[, reps]} summary one cell, list items by "name"."""
    if isinstance(obj, dict) and {"median", "min", "max"} <= set(obj):
        yield path, "%s [%s, %s]%s" % (fmt(obj["median"]), fmt(obj["min"]), fmt(obj["max"]),
                                       " (%d reps)" % len(obj["reps"]) if isinstance(obj.get("reps"), list) else "")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, path + "." + str(k) if path else str(k))
    elif isinstance(obj, list) and all(not isinstance(v, (dict, list)) for v in obj):
        yield path, ", ".join(fmt(v) for v in obj)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            key = v.get("name", v.get("case", i)) if isinstance(v, dict) else i
            yield from leaves({k: x for k, x in v.items() if k != "name"} if isinstance(v, dict) else v,
                              "%s[%s]" % (path, key))
    else:
        yield path, obj


def run_targets(obj):
    """Issue 13's run target from python_run.py's "runs": {name: {"cli_s": {"median"},
    "ratio_python_over_cli"}}: Python's median within 5 % of the CLI's for runs whose CLI
    median is >= 10 ms (shorter runs are listed, not judged)."""
    met = {}
    for name, r in (obj.get("runs") or {}).items():
        try:
            cli, ratio = r["cli_s"]["median"], r["ratio_python_over_cli"]
        except (KeyError, TypeError):
            continue
        if cli >= 0.010:
            met["%s_within_5pct" % name] = (ratio <= 1.05, "python/cli %.3f, cli median %.3g s" % (ratio, cli))
    return met


def fmt(v):
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return out


def meta():
    m = {"python": platform.python_version(), "machine": platform.machine(), "nproc": os.cpu_count(),
         "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    try:
        import numpy
        m["numpy"] = numpy.__version__
        import cffi
        m["cffi"] = cffi.__version__
        import dln
        m["dln"] = dln.__version__
    except ImportError as e:
        m["import_error"] = str(e)
    with open("/proc/cpuinfo") as f:
        m["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    return m


def main(tmp, out_json, out_md):
    merged = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "meta": meta()}
    md = ["# `import dln`: Python against C and the CLI (bench/python.sh)", "",
          "%s; %s; Python %s, NumPy %s, cffi %s, dln %s; OPENBLAS_NUM_THREADS=%s." % (
              merged["date"], merged["meta"]["cpu"], merged["meta"]["python"], merged["meta"].get("numpy"),
              merged["meta"].get("cffi"), merged["meta"].get("dln"), merged["meta"]["openblas_num_threads"])]
    met, notes = {}, {}
    for key, title in PARTS:
        with open(os.path.join(tmp, key + ".json")) as f:
            try:
                obj = json.load(f)
            except json.JSONDecodeError as e:
                raise SystemExit("python_report.py: the %s script's output: expected one JSON object, found %s" % (key, e))
        if not isinstance(obj, dict):
            raise SystemExit("python_report.py: %s.json: expected one JSON object, found %s" % (key, type(obj).__name__))
        with open(os.path.join(tmp, key + ".load")) as f:
            load = [" ".join(l.split()[:3]) for l in f.read().splitlines()]
        merged[key] = obj
        merged["meta"]["load_" + key] = load
        md += ["", "## " + title, "", "Load average (1, 5, 15 min) before: %s; after: %s." % tuple(load[:2]), ""]
        vals = [(p, v) for p, v in leaves(obj) if p != "targets_met" and not p.startswith("targets_met.")]
        md += table(["key", "value"], vals)
        ratios = [(p, v) for p, v in vals if "ratio" in p.lower() and isinstance(v, (int, float))]
        if ratios:
            md += ["", "Ratios:", ""] + table(["key", "ratio"], ratios)
        reported = {n: (ok, "reported by the script") for n, ok in (obj.get("targets_met") or {}).items()}
        if not reported and key == "run":
            reported = run_targets(obj)
        for name, (ok, note) in reported.items():
            met["%s.%s" % (key, name)] = bool(ok)
            notes["%s.%s" % (key, name)] = note
    merged["targets_met"] = met
    md += ["", "## Targets (issue 13)", ""]
    rows = [(TARGETS[k], "; ".join("%s: %s (%s)" % (n.split(".", 1)[1], "met" if ok else "NOT met", notes[n])
                                   for n, ok in met.items() if n.startswith(k + ".")) or "not reported by the script")
            for k in TARGETS]
    md += table(["target", "verdict"], rows)
    with open(out_json, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    with open(out_md, "w") as f:
        f.write("\n".join(md) + "\n")
    sys.stdout.write("\n".join(md) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python_report.py TMPDIR OUT.json OUT.md")
    main(*sys.argv[1:])
