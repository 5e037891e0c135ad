"""dln.run and dln.load: one run of `dln run` from Python, its folder read back (docs/python.md).

A run goes through the C ABI's job (include/dln/abi.h): options set by name as text (the
command line's --name=value, so the same checks and messages), arrays handed in by pointer
(in-memory data files), then dln_job_run, the CLI's own pipeline: the folder it writes is
the CLI's, bit for bit, and the Result's arrays are the job's in-memory copies of it.

Errors (the C message): DlnValueError for bad options, data or spec (the CLI's exits 64, 65,
66), DlnOSError for an output folder that cannot be written or is locked (73, 75),
DlnRuntimeError for an integrator failure (70) and DlnDivergedError (a DlnRuntimeError) for
a diverged run (3); the last two carry the run's Result as `.result`. Ctrl-C stops the C run
at its next step boundary (dln_job_cancel) and raises KeyboardInterrupt; the folder then
holds the partial outputs with "complete": false, as after an interrupted `dln run`.
"""
import json
import os
import shutil
import tempfile
import weakref

import numpy as np

from . import _ffi
from ._ffi import DlnError, DlnRuntimeError, lib
from ._check import check_folder
from ._job import DlnDivergedError, Job, call_cancellable, run_error, spec_out

class _Owner:
    """A temporary folder removed when its owner is garbage-collected (unless kept)."""

    def __init__(self, owner, path):
        self.path = path
        self._fin = weakref.finalize(owner, shutil.rmtree, path, True)

    def keep(self, dest):
        dest = os.fspath(dest)
        shutil.move(self.path, dest)
        self._fin.detach()
        self.path = dest
        return dest


class Result:
    """One run: .trajectory (column -> 1-D float64 array), .weights / .initial_weights
    (lists of 2-D arrays: W_1..W_N; U alone for a tied net; [W] for an end-to-end method),
    .summary (summary.json as a dict), .folder, .stop_reason, .check()."""

    def __init__(self, folder, trajectory, weights, initial_weights, summary, owned=False):
        self.folder = os.path.abspath(os.fspath(folder))
        self.trajectory = trajectory
        self.weights = weights
        self.initial_weights = initial_weights
        self.summary = summary
        self._owner = _Owner(self, self.folder) if owned else None

    @property
    def stop_reason(self):
        return self.summary.get("stop_reason", "none")

    def keep(self, path):
        """Move a temporary folder to path (kept after the Result is gone); its new path."""
        if self._owner is None:
            raise _ffi.DlnValueError("keep: the folder %s is not temporary (out was given)" % self.folder)
        self.folder = self._owner.keep(path)
        self._owner = None
        return self.folder

    def check(self, *, slack=None, tol=None, strict=False):
        """dln.check(self): the CheckReport of this run's folder (see dln.check; strict=True raises)."""
        return check_folder(self.folder, slack=slack, tol=tol, strict=strict)

    def __repr__(self):
        return "<dln.Result %s: stop %s, %d samples>" % (self.folder, self.stop_reason,
                                                        len(next(iter(self.trajectory.values()), ())))


def _fail(job, status, out):
    """The exception of a failed dln_job_run, built in the thread that made the call."""
    return run_error(status, lib.dln_job_fail_phase(job.ptr))


def _outcome(job, out, owned):
    """The Result of a finished dln_job_run, or the exception of a diverged / failed run."""
    res = Result(out, job.trajectory(), job.layers(1), job.layers(0), job.summary(), owned)
    stop, msg = job.stop_name(), job.message()
    if stop == "diverged":  # `dln run`'s line (tools/cmd_run.c), exit 3
        s = res.summary
        e = DlnDivergedError("%s: diverged (step %s, t = %.6g): %s" % (out, s.get("fail_step"), s.get("fail_t", float("nan")), msg))
    elif stop == "solver":  # exit 70
        e = DlnRuntimeError("%s: integrator failure: %s" % (out, msg))
    else:
        return res, None
    e.status, e.phase, e.result = _ffi.ESOLVER if stop == "solver" else _ffi.EDIVERGED, None, res
    e.exit_code = 70 if stop == "solver" else 3
    return res, e


def run(spec=None, *, out=None, plot=False, **options):
    """One run of `dln run [SPEC] --name=value ...` (docs/python.md). spec: a JSON spec file
    or a dict; options: any option of `dln run --help` by name (Python values: numbers,
    bools, str, lists), data arrays by short name (target=, X=, Y=, A=, b=, entries=,
    labels=, truth=) or option name (target_file=array), init=[W1, ..., WN] (init "file") or a
    scheme's name. out=None: the spec's "out" if it names one, else a temporary folder owned
    by the Result (removed when it is garbage-collected, unless .keep(path)). quiet is true unless given. Always one run
    (the CLI's default job is the figure 001-fig1)."""
    job = Job()
    opts = {"quiet": True}
    opts.update(options)
    if plot is not None:
        opts["plot"] = plot
    owned = out is None and "out" not in options and spec_out(spec) is None
    if out is not None:
        opts["out"] = os.fspath(out)
    elif owned:
        opts["out"] = tempfile.mkdtemp(prefix="dln-run-")
    try:
        job.apply(spec, opts)
    except BaseException:
        if owned:
            shutil.rmtree(opts["out"], True)
        raise
    folder = job.get("out")

    def go():
        st = lib.dln_job_run(job.ptr)
        return _fail(job, st, folder) if st else None
    try:
        err = call_cancellable(go, job.cancel)
    except KeyboardInterrupt:
        if owned:
            shutil.rmtree(folder, True)  # an interrupted temporary run is not kept
        raise
    if err is not None:
        if owned:
            shutil.rmtree(folder, True)
        raise err
    res, err = _outcome(job, folder, owned)
    if job.stop_name() == "cancelled":
        return res  # cancelled from another thread (dln_job_cancel): the partial Result, stop_reason "interrupted"
    if err is not None:
        raise err
    return res


def _layer_files(folder, which):
    """W1_<which>.npy, W2_... (U_<which>.npy tied, W_<which>.npy end-to-end)."""
    out, j = [], 1
    while os.path.exists(os.path.join(folder, "W%d_%s.npy" % (j, which))):
        out.append(np.load(os.path.join(folder, "W%d_%s.npy" % (j, which))))
        j += 1
    for alone in ("U", "W"):
        p = os.path.join(folder, "%s_%s.npy" % (alone, which))
        if not out and os.path.exists(p):
            out.append(np.load(p))
    return out


def read_trajectory(path):
    """trajectory.csv as {column: float64 array} (%.17g cells: exact)."""
    with open(path) as f:
        names = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if data.size == 0:
        data = np.zeros((0, len(names)))
    return {n: data[:, i].copy() for i, n in enumerate(names)}


def load(folder):
    """The Result of a run folder written by `dln run` or dln.run (not owned: never removed)."""
    folder = os.fspath(folder)
    sp = os.path.join(folder, "summary.json")
    if not os.path.isfile(sp):
        raise _ffi.DlnValueError("%s: expected a run folder with summary.json, found none" % folder)
    with open(sp) as f:
        summary = json.load(f)
    tp = os.path.join(folder, "trajectory.csv")
    traj = read_trajectory(tp) if os.path.exists(tp) else {}
    return Result(folder, traj, _layer_files(folder, "final"), _layer_files(folder, "init"), summary)


__all__ = ["run", "load", "Result", "DlnDivergedError", "DlnError"]
