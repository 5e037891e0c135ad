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
import threading
import weakref

import numpy as np

from . import _ffi
from ._ffi import DlnError, DlnRuntimeError, ffi, lib

# data arrays by short name (each task's `files` table, src/model/tasks/*.c: the file's
# stem) and the list options holding one matrix per item
# (a short name that is also an option, target and init, means that option unless its value
# is an array; the other list options take arrays by their own names: disturbance_files=[D1, ...])
ARRAY_NAMES = {"target": "target_file", "X": "x_file", "Y": "y_file", "labels": "y_file", "A": "a_file",
               "b": "b_file", "entries": "entries_file", "init": "init_files"}
LIST_OPTIONS = ("init_files", "disturbance_files", "imbalance_reg_file")


class DlnDivergedError(DlnRuntimeError):
    """The run diverged (`dln run` exit 3): .result is its Result."""


def option_text(value):
    """A Python value as the option's text (what --name=value takes)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # shortest text that reads back to the same double
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return ",".join(option_text(v) for v in np.asarray(value, dtype=object).ravel())
    raise TypeError("option value %r: expected a number, bool, str or list, found %s" % (value, type(value).__name__))


def _is_array(v):
    return isinstance(v, np.ndarray) or (isinstance(v, (list, tuple)) and v and all(
        isinstance(w, np.ndarray) for w in v))


class Job:
    """A dln_job (include/dln/abi.h) owned by Python: freed with the object."""

    def __init__(self):
        p = ffi.new("dln_job **")
        _ffi.check(lib.dln_job_alloc(p))
        self.ptr = ffi.gc(p[0], lib.dln_job_free)

    def set(self, name, value):
        st = lib.dln_job_set(self.ptr, _ffi.text(name), _ffi.text(value))
        if st and not self.known(name):  # the command line's words (tools/cmd_run.c)
            raise run_error(_ffi.ESPEC, _ffi.FAIL_SPEC, "unknown option '--%s' (see dln run --help)" % name)
        if st:
            e = run_error(st, _ffi.FAIL_SPEC)
            e.exit_code = 64  # a bad --name=value (tools/cmd_run.c)
            raise e

    def known(self, name):
        buf = ffi.new("char[]", 8)
        return lib.dln_job_get(self.ptr, _ffi.text(name), buf, len(buf)) == 0

    def get(self, name):
        buf = ffi.new("char[]", 4096)
        _ffi.check(lib.dln_job_get(self.ptr, _ffi.text(name), buf, len(buf)))
        return ffi.string(buf).decode()

    def read_json(self, path):
        st = lib.dln_job_read_json(self.ptr, _ffi.text(os.fspath(path)))
        if st:
            raise run_error(st, _ffi.FAIL_SPEC)

    def set_array(self, option, item, a):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 1:
            a = a.reshape(-1, 1)  # a vector is one column, as the .npy reader takes it
        if a.ndim != 2:
            raise _ffi.DlnValueError("array for '%s': expected a matrix (2-D), found %d dimensions" % (option, a.ndim))
        fortran = a.flags.f_contiguous and not a.flags.c_contiguous
        a = a if fortran else np.ascontiguousarray(a)
        ptr = ffi.cast("const double *", ffi.from_buffer(a.T if fortran else a))  # a.T: C-contiguous, same memory
        _ffi.check(lib.dln_job_set_array(self.ptr, _ffi.text(option), item, a.shape[0], a.shape[1], ptr,
                                         0 if fortran else 1))

    def apply(self, spec=None, options=None):
        """The spec (a JSON file or a dict) then the options in order, as `dln run SPEC --name=value ...`."""
        tmp = None
        try:
            if isinstance(spec, dict):
                fd, tmp = tempfile.mkstemp(prefix="dln-spec-", suffix=".json")
                with os.fdopen(fd, "w") as f:
                    json.dump(spec, f)
                self.read_json(tmp)
            elif spec is not None:
                self.read_json(spec)
        finally:
            if tmp:
                os.unlink(tmp)
        for name, value in (options or {}).items():
            self.set_option(name, value)

    def set_option(self, name, value):
        if value is None:
            return
        option = ARRAY_NAMES.get(name, name)
        arrays = option.endswith(("_file", "_files")) and (_is_array(value) or (
            option in LIST_OPTIONS and isinstance(value, (list, tuple)) and value
            and not isinstance(value[0], (str, os.PathLike))))
        if not arrays:
            option = name  # a number, text or list: the option's text (widths=np.array([4, 5, 3]) too)
        else:
            if name == "init":
                self.set("init", "file")
            items = value if option in LIST_OPTIONS else [value]
            if option not in LIST_OPTIONS and isinstance(value, (list, tuple)):
                items = [np.asarray(value)]
            for i, a in enumerate(items):
                self.set_array(option, i, a)
            return
        self.set(option, option_text(value))

    def layers(self, which):
        out = []
        r, c, p = ffi.new("int *"), ffi.new("int *"), ffi.new("const double **")
        for j in range(1, lib.dln_job_nlayers(self.ptr, which) + 1):
            _ffi.check(lib.dln_job_layer(self.ptr, which, j, r, c, p))
            flat = np.frombuffer(ffi.buffer(p[0], 8 * r[0] * c[0]), dtype=np.float64)
            out.append(flat.reshape((r[0], c[0]), order="F").copy())
        return out

    def trajectory(self):
        n, m = lib.dln_job_nrows(self.ptr), lib.dln_job_ncols(self.ptr)
        names = [ffi.string(lib.dln_job_col_name(self.ptr, i)).decode() for i in range(m)]
        t = np.frombuffer(ffi.buffer(lib.dln_job_table(self.ptr), 8 * n * m), dtype=np.float64).reshape(n, m) \
            if n * m else np.zeros((n, m))
        return {name: t[:, i].copy() for i, name in enumerate(names)}

    def summary(self):
        s = lib.dln_job_summary(self.ptr)
        return json.loads(ffi.string(s).decode()) if s != ffi.NULL else {}


def call_cancellable(fn, cancel):
    """fn() on a worker thread (the GIL is released in C), the main thread waiting so that
    Ctrl-C is seen: then cancel() and, once fn returned, KeyboardInterrupt. fn builds its own
    exception (dln_last_error is per thread) and returns (value, exception)."""
    box, done = {}, threading.Event()

    def work():
        try:
            box["r"] = fn()
        except BaseException as e:  # noqa: B036 - handed to the caller's thread
            box["e"] = e
        finally:
            done.set()
    if threading.current_thread() is not threading.main_thread():
        work()  # signals reach only the main thread: nothing to wait for here
    else:
        # waiting on an Event, not Thread.join: a join interrupted by Ctrl-C can leave the
        # thread reported dead while it runs (CPython gh-90882, before 3.13)
        threading.Thread(target=work, name="dln-run", daemon=True).start()
        # no timeout until Ctrl-C (a lock's wait is interrupted by signals on POSIX): no
        # wake-ups competing with the run for a core
        interrupted = False
        while not done.is_set():
            try:
                done.wait(0.05 if interrupted else None)
            except KeyboardInterrupt:
                interrupted = True
            if interrupted:
                cancel()  # again while it runs: a run starting clears an earlier request
        if interrupted:
            raise KeyboardInterrupt
    if "e" in box:
        raise box["e"]
    return box["r"]


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

    def check(self, **kw):
        """dln.check(self.folder): the CheckReport (see dln.check; strict=True raises)."""
        from ._tools import check
        return check(self, **kw)

    def __repr__(self):
        return "<dln.Result %s: stop %s, %d samples>" % (self.folder, self.stop_reason,
                                                        len(next(iter(self.trajectory.values()), ())))


def exit_code(status, phase):
    """The exit code `dln` gives a failure (tools/cli.c cli_exit_for)."""
    if phase == _ffi.FAIL_BUSY:
        return 75
    if status == _ffi.EIO:
        return 73 if phase == _ffi.FAIL_OUTPUT else 66
    if status in (_ffi.ESPEC, _ffi.EINVAL, _ffi.EDIM, _ffi.EFORMAT, _ffi.ENONFINITE, _ffi.ENOTAPPLICABLE):
        return 73 if phase == _ffi.FAIL_OUTPUT else 65
    return 3 if status == _ffi.EDIVERGED else 70


def run_error(status, phase, message=None):
    """The exception of a failed run, by the CLI's exit code: 64, 65, 66 DlnValueError, 73, 75
    DlnOSError, 3 DlnDivergedError, 70 DlnRuntimeError; the C message (dln_last_error: call
    this in the thread that made the failing call); .status, .phase, .exit_code."""
    code = exit_code(status, phase)
    cls = {65: _ffi.DlnValueError, 66: _ffi.DlnValueError, 73: _ffi.DlnOSError, 75: _ffi.DlnOSError,
           3: DlnDivergedError}.get(code, DlnRuntimeError)
    e = cls(message if message is not None else _ffi.error_for(status, phase).args[0])
    e.status, e.phase, e.exit_code = status, phase, code
    return e


def _fail(job, status, out):
    """The exception of a failed dln_job_run, built in the thread that made the call."""
    return run_error(status, lib.dln_job_fail_phase(job.ptr))


def _outcome(job, out, owned):
    """The Result of a finished dln_job_run, or the exception of a diverged / failed run."""
    res = Result(out, job.trajectory(), job.layers(1), job.layers(0), job.summary(), owned)
    stop = ffi.string(lib.dln_job_stop_name(job.ptr)).decode()
    msg = ffi.string(lib.dln_job_message(job.ptr)).decode()
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
    labels=) or option name (target_file=array), init=[W1, ..., WN] (init "file") or a
    scheme's name. out=None: a temporary folder owned by the Result (removed when it is
    garbage-collected, unless .keep(path)). quiet is true unless given. Always one run
    (the CLI's default job is the figure 001-fig1)."""
    job = Job()
    opts = {"quiet": True}
    opts.update(options)
    if plot is not None:
        opts["plot"] = plot
    owned = out is None and "out" not in options and not (isinstance(spec, dict) and "out" in spec)
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
        err = call_cancellable(go, lambda: lib.dln_job_cancel(job.ptr))
    except KeyboardInterrupt:
        if owned:
            shutil.rmtree(folder, True)  # an interrupted temporary run is not kept
        raise
    if err is not None:
        if owned:
            shutil.rmtree(folder, True)
        raise err
    res, err = _outcome(job, folder, owned)
    if lib.dln_job_stop_name(job.ptr) != ffi.NULL and ffi.string(lib.dln_job_stop_name(job.ptr)) == b"cancelled":
        return res  # cancelled from another thread (dln_job_cancel): the partial Result, stop_reason "interrupted"
        return res
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
