"""The one wrapper of a dln_job (include/dln/abi.h) that dln.run, dln.sweep, dln.Loss and
dln.train share: options set by name as text (the checks and messages of `dln run
--name=value`), arrays handed in by pointer (in-memory data files), the job's results read
back (layers, trajectory, summary), and the one way of calling C on a worker thread so that
Ctrl-C cancels the job (call_cancellable).

Errors: the exception of the CLI's exit code (run_error): 64, 65, 66 DlnValueError; 73, 75
DlnOSError; 3 DlnDivergedError; 70 DlnRuntimeError; the C message, .status, .phase, .exit_code.
"""
import contextlib
import json
import os
import stat
import tempfile
import threading

import numpy as np

from . import _ffi
from ._ffi import DlnRuntimeError, ffi, lib

_F8 = np.dtype(np.float64)

# Data arrays by short name (each task's `files` table, src/model/tasks/*.c: the file's
# stem) -> the file option they stand for. A short name that is itself an option (target,
# init) means that option when its value is text; any other short name given text takes
# it as the path of its file (X="x.npy" is x_file="x.npy").
ARRAY_NAMES = {"target": "target_file", "X": "x_file", "Y": "y_file", "labels": "y_file", "A": "a_file",
               "b": "b_file", "entries": "entries_file", "truth": "truth_file",
               "init": "init_files"}
# The list options holding one matrix per item (dln_job_set_array's item)
LIST_OPTIONS = ("init_files", "disturbance_files", "imbalance_reg_file")


class DlnDivergedError(DlnRuntimeError):
    """The run diverged (`dln run` exit 3): .result is its Result."""


def option_text(value, name=None):
    """A Python value as the option's text (what --name=value takes); a list (or NumPy
    array) as comma-separated items, an empty one as "" (the empty list)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # shortest text that reads back to the same double
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return ",".join(option_text(v, name) for v in np.asarray(value, dtype=object).ravel())
    raise TypeError("option %s: expected a number, bool, str or list of them, found %s"
                    % (name if name is not None else repr(value), type(value).__name__))


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
    """The exception of a failed call by the CLI's exit code, with the C message
    (dln_last_error: call this in the thread that made the failing call)."""
    code = exit_code(status, phase)
    cls = {65: _ffi.DlnValueError, 66: _ffi.DlnValueError, 73: _ffi.DlnOSError, 75: _ffi.DlnOSError,
           3: DlnDivergedError}.get(code, DlnRuntimeError)
    e = cls(message if message is not None else _ffi.error_for(status, phase).args[0])
    e.status, e.phase, e.exit_code = status, phase, code
    return e


def matrix(a, name):
    """a as a 2-D float64 array (a 1-D array is one column, as a 1-D .npy file reads). Real
    numbers only: booleans, integers and floats convert; complex numbers, strings and
    objects (None) are refused, not cast (NumPy would drop an imaginary part with a
    warning, read "1.5" as 1.5 and None as nan)."""
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise _ffi.DlnValueError("%s: expected a numeric array, found %s (%s)" % (name, type(a).__name__, e)) from None
    if raw.dtype.kind not in "biuf":
        raise _ffi.DlnValueError("%s: expected a numeric array of real numbers, found dtype %s" % (name, raw.dtype))
    m = np.asarray(raw, dtype=_F8)
    if m.ndim == 1:
        m = m.reshape(-1, 1)
    if m.ndim != 2 or m.size == 0:
        raise _ffi.DlnValueError("%s: expected a non-empty 1-D or 2-D array, found shape %s" % (name, m.shape))
    return m


def spec_out(spec):
    """The folder a spec names ("out" of a dict or of a JSON file's object), or None (also for
    a file that does not read as JSON: the C reader reports it)."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        return spec.get("out")
    path = os.fspath(spec)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block: the C reader refuses it
            return None
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data.get("out") if isinstance(data, dict) else None


@contextlib.contextmanager
def spec_path(spec):
    """The path of a spec: a file's as it is, a dict written to a temporary JSON file
    (removed on leaving the block)."""
    if not isinstance(spec, dict):
        yield os.fspath(spec)
        return
    fd, tmp = tempfile.mkstemp(prefix="dln-spec-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)
        yield tmp
    finally:
        os.unlink(tmp)


def _has_array(v):
    """A NumPy array, or a list or tuple holding one (init=[W1, W2])."""
    return isinstance(v, np.ndarray) or (isinstance(v, (list, tuple)) and any(isinstance(x, np.ndarray) for x in v))


def _is_text(v):
    return isinstance(v, (str, os.PathLike))


class Job:
    """A dln_job owned by Python: freed with the object (its in-memory arrays with it)."""

    def __init__(self):
        p = ffi.new("dln_job **")
        _ffi.check(lib.dln_job_alloc(p))
        self.ptr = ffi.gc(p[0], lib.dln_job_free)

    def set(self, name, value):
        """Option name to a text value (as --name=value)."""
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
        """Item `item` of a file option from an array (copied by C)."""
        m = matrix(a, option if item == 0 and option not in LIST_OPTIONS else "%s[%d]" % (option, item))
        # Fortran order is read as it is, C order is transposed by C: no copy here either way
        fortran = m.flags.f_contiguous and not m.flags.c_contiguous
        if not (fortran or m.flags.c_contiguous):
            m = np.ascontiguousarray(m)
        ptr = ffi.cast("const double *", ffi.from_buffer(m.T if fortran else m))  # m.T: C-contiguous, same memory
        _ffi.check(lib.dln_job_set_array(self.ptr, _ffi.text(option), item, m.shape[0], m.shape[1], ptr,
                                         0 if fortran else 1))

    def apply(self, spec=None, options=None):
        """The spec (a JSON file or a dict) then the options in order, as `dln run SPEC --name=value ...`.
        A dict is a spec file (its options rank below the keyword options, as a spec file's
        below the command line's), except its arrays, which are set like keyword arrays
        before the options (JSON has no arrays of them)."""
        arrays = {}
        if isinstance(spec, dict):
            arrays = {k: v for k, v in spec.items() if _has_array(v)}
            spec = {k: v for k, v in spec.items() if k not in arrays}
        if spec is not None:
            with spec_path(spec) as path:
                self.read_json(path)
        for name, value in list(arrays.items()) + list((options or {}).items()):
            self.set_option(name, value)

    def set_option(self, name, value):
        """One option by name or short name (ARRAY_NAMES) with a Python value. A file option
        given anything but text takes an array (a list option: a list of arrays, or one);
        init=[W1, ...] is init "file" with those layers. None leaves the option alone."""
        if value is None:
            return
        option, text = ARRAY_NAMES.get(name, name), _is_text(value)
        if text and name in ARRAY_NAMES and self.known(name):
            option = name  # target="lowrank", init="gaussian": the option itself
        if name == "init" and option == "init_files":
            self.set("init", "file")
        listed = option in LIST_OPTIONS
        if not option.endswith(("_file", "_files")) or text or (
                listed and isinstance(value, (list, tuple)) and (not value or _is_text(value[0]))):
            self.set(option, option_text(value, option))  # text, numbers, paths (an empty list: "")
            return
        items = value if listed and isinstance(value, (list, tuple)) else [value]
        for i, a in enumerate(items):
            self.set_array(option, i, a)

    def layers(self, which):
        """Copies (Fortran order) of the job's initial (0) or final (1) layers."""
        out = []
        r, c, p = ffi.new("int *"), ffi.new("int *"), ffi.new("const double **")
        for j in range(1, lib.dln_job_nlayers(self.ptr, which) + 1):
            _ffi.check(lib.dln_job_layer(self.ptr, which, j, r, c, p))
            flat = np.frombuffer(ffi.buffer(p[0], 8 * r[0] * c[0]), dtype=_F8)
            out.append(flat.reshape((r[0], c[0]), order="F").copy(order="F"))
        return out

    def trajectory(self):
        """The trajectory table as {column: 1-D float64 array} (copies)."""
        n, m = lib.dln_job_nrows(self.ptr), lib.dln_job_ncols(self.ptr)
        names = [ffi.string(lib.dln_job_col_name(self.ptr, i)).decode() for i in range(m)]
        if n * m == 0:
            return {name: np.empty(0) for name in names}
        t = np.frombuffer(ffi.buffer(lib.dln_job_table(self.ptr), 8 * n * m), dtype=_F8).reshape(n, m)
        return {name: t[:, i].copy() for i, name in enumerate(names)}

    def summary(self):
        s = lib.dln_job_summary(self.ptr)
        return json.loads(ffi.string(s).decode()) if s != ffi.NULL else {}

    def stop_name(self):
        s = lib.dln_job_stop_name(self.ptr)
        return ffi.string(s).decode() if s != ffi.NULL else ""

    def message(self):
        s = lib.dln_job_message(self.ptr)
        return ffi.string(s).decode() if s != ffi.NULL else ""

    def cancel(self):
        lib.dln_job_cancel(self.ptr)


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
        threading.Thread(target=work, name="dln-job", daemon=True).start()
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
