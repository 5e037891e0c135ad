#!/usr/bin/python3
"""Merge bench_dln's and peers.py's JSON and print the comparison as Markdown.

    /usr/bin/python3 bench/ratios.py DLN.json PEERS.json OUT.json OUT.md

Called by bench/run.sh. Targets (from the issue): on the small problems dln GD
≥ 5x NumPy and ≥ 30x PyTorch steps/s; on the large problem ≥ NumPy and ≥ 70 % of
the single-thread DGEMM peak; no heap allocation inside the step loop. The
5·10^6-step completion run should take seconds (we count ≤ 10 s as met).
"""

import datetime
import json
import sys

SMALL = ("fact_5x10_w50", "completion_2x2_depth3")
LARGE = "large_50x100_w500"
T_NUMPY, T_TORCH, T_PEAK, T_LONG_S = 5.0, 30.0, 0.70, 10.0


def fmt(x, nd=3):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e5:
        return f"{x:,.0f}".replace(",", " ")
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1e-3:
        return f"{x:.{nd}g}"
    return f"{x:.2e}"


def yes(b):
    return "**yes**" if b else "**NO**"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    dln = json.load(open(sys.argv[1]))
    peers = json.load(open(sys.argv[2]))
    merged = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "dln": dln, "peers": peers}
    md = []
    dm, pm = dln["meta"], peers["meta"]
    md.append(f"Date: {merged['date']}  ")
    md.append(f"CPU: {dm['cpu']} ({pm.get('nproc')} logical CPUs)  ")
    md.append(f"BLAS (dln): {dm['openblas_config']}, {dm['openblas_num_threads']} thread  ")
    md.append(f"Peers: Python {pm['python']}, NumPy {pm['numpy']}, SciPy {pm['scipy']}, "
              f"PyTorch {pm['torch']} ({pm['torch_num_threads']} thread); "
              f"BLAS: {', '.join(l for l in pm.get('blas_libs', []) if 'openblas' in l) or '?'}  ")
    la = lambda v: "/".join(f"{x:.2f}" for x in v) if v else "?"
    md.append(f"Load average (1/5/15 min): dln start {la(dm.get('loadavg_start'))}, "
              f"end {la(dm.get('loadavg_end'))}; peers start {la(pm.get('loadavg_start'))}, "
              f"end {la(pm.get('loadavg_end'))}  ")
    md.append(f"Init data: {dm['data']}; quick = {dm['quick']}; "
              f"steps/s = best of {dm['repeats']} runs of ~{dm['target_seconds_per_measurement']:g} s "
              f"(peers: one run of ~{pm['target_seconds_per_measurement']:g} s)")
    md.append("")

    # --- GD steps/s
    met_all = {}
    rows = []
    for name, dp in dln["problems"].items():
        pp = peers["problems"][name]
        d = dp["dln_gd"]["steps_per_s"]
        n = pp["numpy_gd"]["steps_per_s"]
        t = pp["torch_gd"]["steps_per_s"]
        rn, rt = d / n, d / t
        if name in SMALL:
            target = f"≥ {T_NUMPY:g}× NumPy, ≥ {T_TORCH:g}× PyTorch"
            met = rn >= T_NUMPY and rt >= T_TORCH
        else:
            target = "≥ 1× NumPy"
            met = rn >= 1.0
        met_all[f"gd_{name}"] = met
        rows.append([f"`{name}`", fmt(d), fmt(n), fmt(t), f"{rn:.2f}×", f"{rt:.1f}×", target, yes(met)])
    md.append("### Gradient descent, steps/s (single thread)")
    md.append("")
    md += table(["problem", "dln", "NumPy", "PyTorch", "dln/NumPy", "dln/PyTorch", "target", "met?"], rows)
    md.append("")
    rows = []
    for name, dp in dln["problems"].items():
        pp = peers["problems"][name]
        rows.append([f"`{name}`", fmt(dp["dln_gd"]["init_loss"], 10), fmt(pp["numpy_gd"]["init_loss"], 10),
                     fmt(dp["dln_gd"]["final_loss"]), dp["dln_gd"]["total_steps"],
                     fmt(pp["numpy_gd"]["final_loss"]), pp["numpy_gd"]["total_steps"]])
    md.append("Cross-check (identical init ⇒ identical initial loss; final losses are after different step counts):")
    md.append("")
    md += table(["problem", "init loss dln", "init loss NumPy", "final loss dln", "dln steps",
                 "final loss NumPy", "NumPy steps"], rows)
    md.append("")

    # --- long completion run
    c = dln["problems"]["completion_2x2_depth3"]
    lr = c["long_run"]
    pc = peers["problems"]["completion_2x2_depth3"]
    torch_s = lr["steps"] / pc["torch_gd"]["steps_per_s"]
    numpy_s = lr["steps"] / pc["numpy_gd"]["steps_per_s"]
    met = lr["seconds"] <= T_LONG_S
    met_all["completion_long_run"] = met
    md.append(f"### `completion_2x2_depth3`: {lr['steps']:.3g} GD steps, wall time")
    md.append("")
    md += table(["dln (measured)", "NumPy (extrapolated)", "PyTorch (extrapolated)", "dln speed-up vs PyTorch",
                 "loss dln init → final", "target", "met?"],
                [[f"{lr['seconds']:.2f} s", f"{numpy_s:.1f} s", f"{torch_s:.1f} s ({torch_s / 60:.1f} min)",
                  f"{torch_s / lr['seconds']:.0f}×", f"{fmt(lr['init_loss'])} → {fmt(lr['final_loss'])}",
                  f"seconds (≤ {T_LONG_S:g} s)", yes(met)]])
    md.append("")

    # --- large problem
    L = dln["problems"][LARGE]
    PL = peers["problems"][LARGE]
    frac = L["fraction_of_dgemm_peak"]
    rn = L["dln_gd"]["steps_per_s"] / PL["numpy_gd"]["steps_per_s"]
    numpy_gflops = PL["numpy_gd"]["steps_per_s"] * L["flop_per_step"] / 1e9
    met = frac >= T_PEAK and rn >= 1.0
    met_all["large_peak"] = frac >= T_PEAK
    md.append(f"### `{LARGE}`: fraction of the DGEMM peak (15 MFLOP/step)")
    md.append("")
    md += table(["DGEMM peak (cblas_dgemm 500³)", "dln GD", "fraction of peak", "NumPy GD (vs its own peak)",
                 "dln/NumPy", "target", "met?"],
                [[f"{dln['dgemm_peak_gflops']:.1f} GFLOP/s (NumPy matmul: {peers['dgemm_peak_gflops']:.1f})",
                  f"{L['gflops']:.1f} GFLOP/s", f"{100 * frac:.0f} %",
                  f"{numpy_gflops:.1f} GFLOP/s ({100 * numpy_gflops / peers['dgemm_peak_gflops']:.0f} %)",
                  f"{rn:.2f}×", "≥ 70 % of peak, ≥ 1× NumPy", yes(met)]])
    md.append("")

    # --- flow
    F = dln["problems"]["fact_5x10_w50"]["flow"]
    ivp = peers["problems"]["fact_5x10_w50"].get("solve_ivp")
    md.append(f"### Gradient flow, `fact_5x10_w50`, t ∈ [0, 20], rtol {F['rtol']:g}, atol {F['atol']:g}")
    md.append("")
    md.append("dln: ARKODE ERKStep Dormand–Prince 5(4), best of 3 wall times. solve_ivp: one run each in a "
              "forked process; RHS evals = `rhs_calls` (every call, incl. finite-difference Jacobian columns).")
    md.append("")
    rows = []
    for key in ("sigma=0.01", "sigma=1"):
        f = F[key]
        rows.append([key, "**dln ARKODE DP5(4)**", f"{f['seconds'] * 1e3:.1f} ms", f["grad_evals"],
                     f"{f['steps']} ({f['rejected']} rej.)", fmt(f["final_loss"]), "1×"])
        if ivp and key in ivp:
            for m, r in ivp[key].items():
                st = r.get("status")
                if st == 0:
                    rows.append([key, f"solve_ivp {m}", f"{r['seconds'] * 1e3:.1f} ms", r["rhs_calls"],
                                 r["n_steps"], fmt(r["final_loss"]), f"{r['seconds'] / f['seconds']:.1f}×"])
                else:
                    rows.append([key, f"solve_ivp {m}", str(st), "–", "–", "–", "–"])
    md += table(["σ", "solver", "wall time", "RHS evals", "steps", "final loss", "wall time / dln"], rows)
    md.append("")

    # --- allocations
    A = dln["alloc_check"]
    g, fl = A["gd"], A["flow"]
    md.append("### Heap allocations during `dln_train` (bench_dln, `--wrap` counters on libdln.a)")
    md.append("")
    md += table(["run", "short run", "long run", "allocs short / long", "independent of steps?"],
                [["GD, obs NULL", f"{g['steps_a']} steps", f"{g['steps_b']} steps",
                  f"{g['allocs_a']} / {g['allocs_b']}", yes(g["equal"])],
                 ["flow σ=1, obs NULL", f"t_end {g.get('t_end_a', fl['t_end_a']):g} ({fl['steps_a']} steps, "
                  f"{fl['grad_evals_a']} RHS)", f"t_end {fl['t_end_b']:g} ({fl['steps_b']} steps, "
                  f"{fl['grad_evals_b']} RHS)", f"{fl['allocs_a']} / {fl['allocs_b']}", yes(fl["equal"])]])
    md.append("")
    md.append("The allocations are dln_train's fixed per-call buffers (sample times, observer row, GD state/gradient "
              "or the flow's dense-output vector). `--wrap` does not see calls inside the shared libopenblas / "
              "libsundials; `tests/test_noalloc.c` interposes malloc for the whole process (SUNDIALS included) and "
              "asserts the same independence, plus zero allocations in `dln_net_grad`, `dln_net_hvp` and "
              "`dln_observer_eval`.")
    met_all["no_alloc_in_loop"] = bool(A["independent_of_steps"])
    md.append("")
    md.append("Targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met_all.items()))
    merged["targets_met"] = met_all

    text = "\n".join(md) + "\n"
    with open(sys.argv[3], "w") as fh:
        json.dump(merged, fh, indent=1)
        fh.write("\n")
    with open(sys.argv[4], "w") as fh:
        fh.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
