"""The C ABI of libdln (include/dln/abi.h) through cffi in ABI mode.

cffi (Debian's python3-cffi) rather than ctypes: measured on this machine, a gradient call
with NumPy arrays costs 2.1-2.7 us through cffi (ffi.from_buffer) and 3.4-5.1 us through
ctypes (ndarray.ctypes.data), 11 us with ctypes' ndpointer; with pointers prepared once
both cost ~1.0 us (docs/python.md, bench/python.sh). Both release the GIL during a call.

The library is found, in order, at $DLN_LIBRARY, at the path recorded when the package
was built or installed (_config.py), or by the system's loader ("libdln.so.0").
"""
import os

import cffi

ffi = cffi.FFI()
ffi.cdef("""
const char *dln_last_error(void);
const char *dln_strerror(int status);
int dln_abi_version(void);
const char *dln_abi_library_version(void);

typedef struct dln_job dln_job;
typedef struct dln_net dln_net;
typedef struct dln_loss dln_loss;
int dln_job_alloc(dln_job **out);
void dln_job_free(dln_job *job);
int dln_job_set(dln_job *job, const char *name, const char *value);
int dln_job_get(const dln_job *job, const char *name, char *buf, size_t len);
int dln_job_read_json(dln_job *job, const char *path);
int dln_job_set_array(dln_job *job, const char *option, int item, int rows, int cols, const double *data, int row_major);
int dln_job_run(dln_job *job);
int dln_job_cancel(dln_job *job);
int dln_job_fail_phase(const dln_job *job);
int dln_job_stop_reason(const dln_job *job);
const char *dln_job_stop_name(const dln_job *job);
const char *dln_job_message(const dln_job *job);
size_t dln_job_nrows(const dln_job *job);
int dln_job_ncols(const dln_job *job);
const char *dln_job_col_name(const dln_job *job, int i);
const double *dln_job_table(const dln_job *job);
const char *dln_job_summary(const dln_job *job);
int dln_job_nlayers(const dln_job *job, int which);
int dln_job_layer(const dln_job *job, int which, int j, int *rows, int *cols, const double **data);
int dln_job_build(dln_job *job);
dln_loss *dln_job_loss(const dln_job *job);
dln_net *dln_job_net(const dln_job *job);
typedef int (*dln_sample_fn)(void *ctx, double t, long step, const double *x, const dln_net *net);
int dln_job_train(dln_job *job, dln_sample_fn on_sample, void *ctx);

int dln_abi_net_depth(const dln_net *net);
size_t dln_abi_net_nparams(const dln_net *net);
int dln_abi_net_layer(const dln_net *net, int j, int *rows, int *cols, size_t *offset);
int dln_abi_loss_rows(const dln_loss *loss);
int dln_abi_loss_cols(const dln_loss *loss);
double dln_abi_loss_lstar(const dln_loss *loss);

int dln_net_alloc(dln_net **out, int depth, const int *widths, int tied);
void dln_net_free(dln_net *net);
int dln_net_product(dln_net *net, const double *theta, double *W);
int dln_net_grad(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad, double *W_out);
int dln_net_hvp(dln_net *net, dln_loss *loss, const double *theta, const double *v, double *out);
int dln_net_conserved(const dln_net *net, const double *theta, int j, double *C);
double dln_net_unbalancedness(dln_net *net, const double *theta);
int dln_loss_eval(dln_loss *loss, const double *W, double *value, double *G);
int dln_loss_hvp(dln_loss *loss, const double *W, const double *D, double *out);

/* py-run: the commands beside a run (src/abi/tools.c) */
int dln_abi_check(const char *dir, double slack, double tol, int *ninconsistent, int *nviolated);
int dln_job_sweep(dln_job *job, const char *path, int threads, int flags, long *counts);
const char *dln_abi_figure_name(int i);
int dln_abi_figure(const char *name, const char *dir, int flags, int *counts);
int dln_job_figure(dln_job *job, const char *name, const char *dir, int flags, int *counts);
""")

ABI_VERSION = 1  # the version of include/dln/abi.h this module was written for

# DLN_* status codes (include/dln/error.h) and DLN_RUN_FAIL_* phases (include/dln/run.h)
EINVAL, EDIM, ENOMEM, EIO, EFORMAT, ENONFINITE, EDIVERGED, ESOLVER, ELAPACK, ESPEC, ENOTAPPLICABLE, EUNSUPPORTED = range(1, 13)
FAIL_NONE, FAIL_SPEC, FAIL_INPUT, FAIL_OUTPUT, FAIL_INTERNAL, FAIL_BUSY = range(6)


def _library_path():
    env = os.environ.get("DLN_LIBRARY")
    if env:
        return env
    try:
        from . import _config  # written by CMake into the build tree and the install
        if os.path.exists(_config.LIBRARY):
            return _config.LIBRARY
    except ImportError:
        pass
    return "libdln.so.0"


lib = ffi.dlopen(_library_path())
if lib.dln_abi_version() != ABI_VERSION:
    raise ImportError("dln: libdln's ABI version is %d, this package expects %d (%s)"
                      % (lib.dln_abi_version(), ABI_VERSION, _library_path()))


class DlnError(Exception):
    """Base of dln's errors: .status (DLN_* code), .phase (DLN_RUN_FAIL_* for runs)."""


class DlnValueError(DlnError, ValueError):
    """Bad input: an option, a data file, an array (DLN_EINVAL, DLN_ESPEC, ...)."""


class DlnRuntimeError(DlnError, RuntimeError):
    """A failure while computing: integrator, LAPACK, out of memory."""


class DlnOSError(DlnError, OSError):
    """An output folder that cannot be written or is busy."""


def last_error():
    return ffi.string(lib.dln_last_error()).decode("utf-8", "replace")


def error_for(status, phase=None):
    """The exception for a DLN_* status (and a run's failing phase), with the C message."""
    msg = last_error() or ffi.string(lib.dln_strerror(status)).decode()
    if phase in (FAIL_OUTPUT, FAIL_BUSY):
        cls = DlnOSError
    elif phase == FAIL_INTERNAL or status in (ENOMEM, ESOLVER, ELAPACK, EDIVERGED):
        cls = DlnRuntimeError
    else:
        cls = DlnValueError
    e = cls(msg)
    e.status, e.phase = status, phase
    return e


def check(status, phase=None):
    """Raise the exception of a nonzero DLN status."""
    if status:
        raise error_for(status, phase)


def text(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)
