"""dln.check, dln.sweep, dln.figure: `dln check`, `dln sweep` and `dln figure` from Python
over the C ABI (dln_abi_check, dln_job_sweep, dln_job_figure; include/dln/abi.h)."""
import json
import os
import re
import shutil
import tempfile
import warnings

import numpy as np

from . import _ffi
from ._ffi import DlnValueError, ffi, lib
from ._job import Job, _has_array, call_cancellable, spec_out, spec_path
from ._check import check_folder
from ._run import Result, _Owner, run


def check(path_or_result, *, slack=None, tol=None, strict=False, out=None):
    """`dln check`: every applicable theory result on a run folder, a Result, or a spec file
    (run first, like `dln check SPEC.json`; into out or a temporary folder). Writes
    FOLDER/check.json and returns its CheckReport; a folder that cannot be read raises
    DlnValueError. A failing folder is a report with .ok False, or with strict=True a
    DlnCheckError carrying the CLI's message (exit 5 inconsistent / 4 violated)."""
    keep = None
    if isinstance(path_or_result, Result):
        folder = path_or_result.folder
    elif os.path.isfile(os.fspath(path_or_result)):
        keep = run(os.fspath(path_or_result), out=out)
        folder = keep.folder
    else:
        folder = os.fspath(path_or_result)
    return check_folder(folder, slack=slack, tol=tol, strict=strict, keep=keep)


def _table(folder, as_frame):
    """ensemble.csv as a structured array: run int64, seed and stream uint64 (as
    ensemble/<column>.npy), every other column float64; a DataFrame when pandas imports
    (as_frame None) or as_frame is true. The legend of the coded columns (a swept method,
    a list: code k is legend[name][k], from ensemble.json) rides along as
    tab.dtype.metadata["legend"] or DataFrame.attrs["legend"]."""
    path = os.path.join(folder, "ensemble.csv")
    with open(path) as f:
        names = f.readline().strip().split(",")
    try:
        with open(os.path.join(folder, "ensemble.json")) as f:
            legend = json.load(f).get("legend") or {}
    except (OSError, ValueError):
        legend = {}
    types = [np.int64 if n == "run" else np.uint64 if n in ("seed", "stream") else np.float64 for n in names]
    cols = {}
    for i, (n, t) in enumerate(zip(names, types)):
        cols[n] = np.atleast_1d(np.loadtxt(path, delimiter=",", skiprows=1, usecols=(i,), dtype=t))
    tab = np.empty(len(cols[names[0]]), dtype=np.dtype(list(zip(names, types)), metadata={"legend": legend}))
    for n in names:
        tab[n] = cols[n]
    if as_frame is False:
        return tab
    try:
        import pandas
    except ImportError:
        if as_frame:
            raise
        return tab
    frame = pandas.DataFrame({n: tab[n] for n in names})
    frame.attrs["legend"] = legend
    return frame


def sweep(spec, *, out=None, threads=None, wide=False, save_weights=False, plot=False, as_frame=None, **options):
    """`dln sweep SPEC`: the runs of the spec's "sweep" object (a JSON file or a dict) with
    the other keys, then options (as dln.run's, arrays included), as the base run; threads
    None: online CPUs. Returns ensemble.csv as a table (a pandas DataFrame when pandas
    imports, else a NumPy structured array; as_frame=False forces the array). out=None: the
    spec's "out" if it names one, else a temporary folder removed once the table is read. Failed runs (some, not all) give a
    warning naming ensemble.json; all failed: the first failure's exception. Ctrl-C:
    KeyboardInterrupt once the running runs stopped (the finished ones kept in OUT/.partial)."""
    named = out is not None or "out" in options or spec_out(spec) is not None
    tmp_out = None if named else tempfile.mkdtemp(prefix="dln-sweep-")
    try:
        job = Job()
        opts = dict(options)
        opts.setdefault("quiet", True)
        if out is not None or tmp_out:
            opts["out"] = os.fspath(out) if out is not None else tmp_out
        flags = (1 if save_weights else 0) | (2 if wide else 0) | (4 if plot else 0)
        if isinstance(spec, dict):  # its arrays are data of the base run (JSON holds none)
            arrays = {k: v for k, v in spec.items() if _has_array(v)}
            spec = {k: v for k, v in spec.items() if k not in arrays}
            opts = dict(arrays, **opts)
        counts = ffi.new("long[6]")
        with spec_path(spec) as path:  # a dict: a temporary JSON file while the sweep runs
            job.apply(path, opts)

            def go():
                st = lib.dln_job_sweep(job.ptr, _ffi.text(path), threads or 0, flags, counts)
                return _ffi.error_for(st, counts[5]) if st else None
            err = call_cancellable(go, job.cancel)
        if err is not None:
            raise err
        if counts[4]:
            raise KeyboardInterrupt  # cancelled from another thread
        if counts[2]:
            warnings.warn("dln.sweep: %d of %d runs failed (see %s)" % (
                counts[2], counts[0], os.path.join(job.get("out"), "ensemble.json")), RuntimeWarning, stacklevel=2)
        return _table(job.get("out"), as_frame)
    finally:
        if tmp_out:
            shutil.rmtree(tmp_out, True)


_VERDICT = re.compile(r"^- \*\*(.+?)\*\*: verdict: (holds|fails|not checked)\. ?(.*)$")


class FigureResult:
    """A figure of `dln figure NAME`: .name, .folder, .verdicts (list of (claim, verdict,
    text) from report.md: verdict "holds" | "fails" | "not checked"), .holds, .fails,
    .not_checked, .report (report.md's text), .plot ("rendered", "no matplotlib", ...),
    .ok (no verdict fails), .keep(path) for a temporary folder."""

    def __init__(self, name, folder, counts, owned):
        self.name, self.folder = name, folder
        self.holds, self.fails, self.not_checked = counts[0], counts[1], counts[2]
        self.plot = ("off", "rendered", "no matplotlib", "plot.py failed", "script only")[counts[3]] \
            if 0 <= counts[3] < 5 else str(counts[3])
        with open(os.path.join(folder, "report.md")) as f:
            self.report = f.read()
        self.verdicts = [m.groups() for m in map(_VERDICT.match, self.report.splitlines()) if m]
        self.ok = self.fails == 0
        self._owner = _Owner(self, folder) if owned else None

    def keep(self, path):
        if self._owner is None:
            raise DlnValueError("keep: the folder %s is not temporary (out was given)" % self.folder)
        self.folder = self._owner.keep(path)
        self._owner = None
        return self.folder

    def __repr__(self):
        return "<dln.FigureResult %s: %d holds, %d fails, %d not checked>" % (
            self.name, self.holds, self.fails, self.not_checked)


def figures():
    """The names of `dln figure --list`."""
    out, i = [], 0
    while True:
        p = lib.dln_abi_figure_name(i)
        if p == ffi.NULL:
            return out
        out.append(ffi.string(p).decode())
        i += 1


def figure(name, *, out=None, quick=False, force=False, render=True):
    """`dln figure NAME [--quick]`: the figure's data, plot.py, figure.png/.svg (render) and
    report.md in out (None: a temporary folder owned by the result). Returns a FigureResult
    with the verdicts (a failing verdict is not an exception: .ok, .fails). Ctrl-C stops the
    figure's runs at their next step (its sweeps after the runs in progress) and raises
    KeyboardInterrupt: nothing committed (no manifest.json; a temporary folder is removed)."""
    owned = out is None
    folder = tempfile.mkdtemp(prefix="dln-figure-") if owned else os.fspath(out)
    counts = ffi.new("int[6]")
    flags = (1 if quick else 0) | (2 if force else 0) | (0 if render else 4)
    job = Job()  # for its cancel flag only

    def go():
        st = lib.dln_job_figure(job.ptr, _ffi.text(name), _ffi.text(folder), flags, counts)
        return _ffi.error_for(st, counts[4]) if st else None
    try:
        e = call_cancellable(go, job.cancel)
        if e is None and counts[5]:
            e = KeyboardInterrupt()  # cancelled from another thread (Job.cancel)
    except KeyboardInterrupt:
        e = KeyboardInterrupt()
    if e is not None:
        if owned:
            shutil.rmtree(folder, True)
        raise e
    return FigureResult(name, folder, list(counts), owned)
