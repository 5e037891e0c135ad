"""The low-level API: networks, losses, gradients, Hessian-vector products and training in
memory with a per-sample callback (include/dln/abi.h, include/dln/net.h).

- ``Net(widths, tied=False)``: a deep linear network W = W_N ... W_1 over a flat parameter
  vector θ (1-D float64, the layout of dln/net.h: layer j column-major at its offset).
  ``.layers(θ)`` are Fortran-order views into θ (no copy); gradients and Hessian-vector
  products are written into NumPy arrays that C fills in place (``out=`` reuses one).
- ``Loss(task=..., **options)``: the loss ℓ(W) of a task, built through a job exactly as
  ``dln run`` with the same options builds it (any CLI option by name; data arrays by the
  short names of dln.run: target=, X=, Y=, labels=, A=, b=, entries=, truth=, or by the option's
  own name). Arrays handed in are copied into the job (C reads them like data files).
- ``train(loss, init, *, method=..., t_end=..., callback=None, **options)``: the run of
  those options trained in memory (dln_job_train; no folder), equal bit for bit to
  ``dln run`` of the same spec. ``callback(t, weights)`` sees read-only views of θ's layers
  at every sample time; they point into the integrator's state and are valid only during
  the call (copy what you keep); a true return value stops the run.

Threads: a Net (and the Loss it is used with) keeps workspaces, so use one per thread;
separate trainings may run on separate threads at once (the GIL is released in C).
"""
import numpy as np

from ._ffi import ffi, lib, error_for
from ._job import Job, call_cancellable, matrix

_F8 = np.dtype(np.float64)
_DARR, _fb = ffi.typeof("double[]"), ffi.from_buffer  # prepared once: a gradient call costs ~1 us less

# The options of the network's shape and of its initialization (`dln run --help`, groups
# Network and Initialization*): left out of a Loss's options when train() gets explicit weights.
_INIT_OPTIONS = frozenset((
    "depth", "width", "widths", "init", "init_files", "sigma", "layer_scales", "det_sign", "det_sign_draws",
    "init_product_widths", "alpha", "ubar", "vbar", "sigma0", "saddle_stratum", "saddle_perturb", "sminus_scale",
    "sminus_perturb"))


# ---- the network ----

class Net:
    """A deep linear network W = W_N ... W_1 (dln_net) over a flat θ.

    widths: d_0, ..., d_N (W_j is d_j x d_{j-1}); tied: the symmetric model W = U U^T
    (depth 2, d_2 = d_0; θ holds U alone, 001 §2). θ is a 1-D float64 array of nparams
    values; arrays of another dtype or layout are converted (a copy). A Net keeps workspaces:
    use one per thread.
    """

    def __init__(self, widths, tied=False, *, _ptr=None, _owner=None):
        if _ptr is not None:  # a job's network (Loss.net), kept alive by its owner
            self._ptr, self._owner = _ptr, _owner
            depth = lib.dln_abi_net_depth(_ptr)
        else:
            w = [int(x) for x in widths]
            if len(w) < 2 or any(x < 1 for x in w):
                raise ValueError("widths: expected at least 2 widths d_0..d_N, each >= 1, found %s" % (list(w),))
            p = ffi.new("dln_net **")
            st = lib.dln_net_alloc(p, len(w) - 1, w, 1 if tied else 0)
            if st:
                raise error_for(st)
            self._ptr, self._owner = ffi.gc(p[0], lib.dln_net_free), None
            depth = len(w) - 1
        self.depth = depth
        self.nparams = int(lib.dln_abi_net_nparams(self._ptr))
        r, c, o = ffi.new("int *"), ffi.new("int *"), ffi.new("size_t *")
        shapes = []
        for j in range(1, depth + 1):
            st = lib.dln_abi_net_layer(self._ptr, j, r, c, o)
            if st:
                raise error_for(st)
            shapes.append((r[0], c[0], int(o[0])))
        self._shapes = shapes
        self.widths = tuple([shapes[0][1]] + [s[0] for s in shapes])
        self.tied = depth == 2 and shapes[0][2] == shapes[1][2]
        self._value = ffi.new("double[1]")
        self._nshape = (self.nparams,)

    def __repr__(self):
        return "dln.Net(widths=%s%s)" % (list(self.widths), ", tied=True" if self.tied else "")

    @property
    def rows(self):
        return self.widths[-1]

    @property
    def cols(self):
        return self.widths[0]

    def _vec(self, a, name):
        """a as a 1-D float64 C-contiguous array of nparams values (copied only if needed)."""
        if not (type(a) is np.ndarray and a.dtype == _F8 and a.flags.c_contiguous and a.shape == (self.nparams,)):
            try:
                a = np.ascontiguousarray(a, dtype=_F8)
            except (TypeError, ValueError) as e:
                raise ValueError("%s: expected a 1-D float array of %d values, found %s (%s)"
                                 % (name, self.nparams, type(a).__name__, e)) from None
            if a.shape != (self.nparams,):
                raise ValueError("%s: expected a 1-D array of %d values (the net's nparams), found shape %s"
                                 % (name, self.nparams, a.shape))
        return a

    def _out(self, out, shape, name="out"):
        if out is None:
            return np.empty(shape, dtype=_F8, order="F")
        if not (isinstance(out, np.ndarray) and out.dtype == _F8 and out.shape == tuple(shape)
                and out.flags.f_contiguous and out.flags.writeable):
            raise ValueError("%s: expected a writable contiguous float64 array of shape %s (Fortran order), found %s"
                             % (name, tuple(shape), _describe(out)))
        return out

    def layers(self, theta):
        """Views of the layers W_1..W_N into θ (Fortran order, no copy; writable if θ is).
        A tied net's W_1 is U^T, the transpose view of W_2 = U."""
        th = self._vec(theta, "theta")
        views = [np.ndarray((r, c), dtype=_F8, buffer=th, offset=8 * o, order="F") for r, c, o in self._shapes]
        if self.tied:
            views[0] = views[1].T
        return views

    def pack(self, layers, out=None):
        """θ from the layers W_1..W_N (a tied net: [U] or [U^T, U]); copies."""
        layers = list(layers)
        if self.tied and len(layers) == 1:
            layers = [np.asarray(layers[0]).T, layers[0]]
        if len(layers) != self.depth:
            raise ValueError("layers: expected %d matrices, found %d" % (self.depth, len(layers)))
        th = self._out(out, (self.nparams,))
        for j, (v, a) in enumerate(zip(self.layers(th), layers), 1):
            a = np.asarray(a, dtype=_F8)
            if a.shape != v.shape:
                raise ValueError("layers[%d] (W_%d): expected shape %s, found %s" % (j - 1, j, v.shape, a.shape))
            v[...] = a
        return th

    def product(self, theta, out=None):
        """W = W_N ... W_1 (d_N x d_0, Fortran order)."""
        th = self._vec(theta, "theta")
        W = self._out(out, (self.rows, self.cols))
        _check(lib.dln_net_product(self._ptr, _buf(th), _buf(W)))
        return W

    def grad(self, loss, theta, out=None):
        """(φ(θ), ∇φ(θ)): φ = ℓ(W_N ... W_1), ∂φ/∂W_j = W_{N:j+1}^T ∇ℓ(W) W_{j-1:1}^T (002 Lemma 1
        proof; 004 eq. 6). The gradient (1-D, θ's layout) goes into out when given.
        For a hot loop, bind() prepares the pointers once (~3 us less per call, bench/python_grad.py)."""
        th = theta
        if not (type(th) is np.ndarray and th.dtype is _F8 and th.shape == self._nshape and th.flags.c_contiguous):
            th = self._vec(theta, "theta")
        if out is None:
            g = np.empty(self.nparams)
        else:
            g = out
            if not (type(g) is np.ndarray and g.dtype is _F8 and g.shape == self._nshape and g.flags.c_contiguous
                    and g.flags.writeable):
                g = self._out(out, self._nshape)
        lp = loss._ptr if type(loss) is Loss else _loss_ptr(loss)
        st = lib.dln_net_grad(self._ptr, lp, _fb(_DARR, th), self._value,
                              _fb(_DARR, g), ffi.NULL)
        if st:
            raise error_for(st)
        return self._value[0], g

    def bind(self, loss, theta, out):
        """A function f() -> φ(θ) that writes ∇φ(θ) into out, with the pointers to θ and out
        prepared once: θ is read at each call (change it in place), out rewritten. θ and out
        must be float64, contiguous, of nparams values (no conversion: ValueError otherwise);
        f keeps both arrays alive (and their buffers exported: they cannot be resized)."""
        for a, name in ((theta, "theta"), (out, "out")):
            self._out(a, self._nshape, name)
        np_, lp = self._ptr, _loss_ptr(loss)
        tb, gb, val, null, f = _fb(_DARR, theta), _fb(_DARR, out), \
            ffi.new("double[1]"), ffi.NULL, lib.dln_net_grad

        def grad():
            st = f(np_, lp, tb, val, gb, null)
            if st:
                raise error_for(st)
            return val[0]
        grad.keep = (self, loss, theta, out)  # the net and loss outlive the pointers
        return grad

    def value(self, loss, theta):
        """φ(θ) alone."""
        th = self._vec(theta, "theta")
        _check(lib.dln_net_grad(self._ptr, _loss_ptr(loss), _buf(th), self._value,
                                ffi.NULL, ffi.NULL))
        return self._value[0]

    def hvp(self, loss, theta, v, out=None):
        """∇²φ(θ) v, exact (a directional derivative of the layer gradients), 1-D."""
        th, vv = self._vec(theta, "theta"), self._vec(v, "v")
        o = self._out(out, (self.nparams,))
        _check(lib.dln_net_hvp(self._ptr, _loss_ptr(loss), _buf(th),
                               _buf(vv), _buf(o)))
        return o

    def conserved(self, theta, j, out=None):
        """C_j = W_{j+1}^T W_{j+1} - W_j W_j^T (d_j x d_j), j = 1..N-1 (002 Lemma 1)."""
        th = self._vec(theta, "theta")
        if not (1 <= int(j) < self.depth):
            raise ValueError("j: expected 1 to %d (depth - 1), found %s" % (self.depth - 1, j))
        d = self.widths[int(j)]
        C = self._out(out, (d, d))
        _check(lib.dln_net_conserved(self._ptr, _buf(th), int(j), _buf(C)))
        return C

    def unbalancedness(self, theta):
        """max_j ||C_j||_F (002 Definition 1); 0 for depth 1 and tied nets."""
        th = self._vec(theta, "theta")
        return lib.dln_net_unbalancedness(self._ptr, _buf(th))


def _buf(a):
    """A double[] over a contiguous float64 array (C or Fortran order) without a copy."""
    return _fb(_DARR, a if a.flags.c_contiguous else a.T)


def _describe(a):
    if isinstance(a, np.ndarray):
        return "%s array of shape %s%s" % (a.dtype, a.shape, "" if a.flags.writeable else ", read-only")
    return type(a).__name__


def _check(st):
    if st:
        raise error_for(st)


def _loss_ptr(loss):
    if not isinstance(loss, Loss):
        raise TypeError("loss: expected a dln.Loss, found %s" % type(loss).__name__)
    return loss._ptr


# ---- the loss ----

class Loss:
    """The loss ℓ(W) of a task (002 §2 eq. 1), built through a job as `dln run` builds it.

    Loss(task="regression", X=X, Y=Y) or Loss("factorization", target=Ybar) or
    Loss(task="sensing", rows=10, cols=10, m=80, seed=3) or Loss(spec="spec.json", seed=2)
    (a JSON spec file, or a dict as one, under the keyword arguments; its arrays are data): any option of `dln run` by name
    (numbers, bools, strings, lists), data arrays by short name (target, X, Y, labels, A, b,
    entries, truth) or by option name (x_file=...), paths as strings. Arrays are copied into the job.
    The job also builds the run's network and initial weights: .net (a Net, valid while the
    Loss lives) and .theta0 (a copy). W arrays given to value/grad/hvp are d_N x d_0; arrays
    not in Fortran order are copied first. Use one Loss per thread.
    """

    def __init__(self, task=None, *, spec=None, **options):
        if task is not None:
            options = dict(options, task=task)
        self._options, self._spec = dict(options), spec
        self._job = Job()
        self._job.apply(spec, options)  # a JSON spec file, read as `dln run SPEC.json` reads it
        st = lib.dln_job_build(self._job.ptr)
        if st:
            raise error_for(st, lib.dln_job_fail_phase(self._job.ptr))
        self._ptr = lib.dln_job_loss(self._job.ptr)
        self.rows = lib.dln_abi_loss_rows(self._ptr)
        self.cols = lib.dln_abi_loss_cols(self._ptr)
        self.lstar = lib.dln_abi_loss_lstar(self._ptr)
        self.net = Net(None, _ptr=lib.dln_job_net(self._job.ptr), _owner=self._job)
        self.theta0 = self.net.pack(self._job.layers(0))
        self._value = ffi.new("double[1]")

    def __repr__(self):
        return "dln.Loss(%s, %d x %d)" % (self._options.get("task", "factorization"), self.rows, self.cols)

    def _W(self, W, name="W"):
        a = W
        if not (type(a) is np.ndarray and a.dtype == _F8 and a.flags.f_contiguous):
            try:
                a = np.asfortranarray(a, dtype=_F8)
            except (TypeError, ValueError) as e:
                raise ValueError("%s: expected a float array of shape (%d, %d), found %s (%s)"
                                 % (name, self.rows, self.cols, type(W).__name__, e)) from None
        if a.shape != (self.rows, self.cols):
            raise ValueError("%s: expected shape (%d, %d) (d_N x d_0 of the loss), found %s"
                             % (name, self.rows, self.cols, a.shape))
        return a

    def value(self, W):
        """ℓ(W)."""
        _check(lib.dln_loss_eval(self._ptr, _buf(self._W(W)), self._value, ffi.NULL))
        return self._value[0]

    def grad(self, W, out=None):
        """∇ℓ(W) (d_N x d_0, Fortran order; into out when given)."""
        G = self.net._out(out, (self.rows, self.cols))
        _check(lib.dln_loss_eval(self._ptr, _buf(self._W(W)), self._value,
                                 _buf(G)))
        return G

    def hvp(self, W, D, out=None):
        """∇²ℓ(W)[D] (d_N x d_0, Fortran order)."""
        o = self.net._out(out, (self.rows, self.cols))
        _check(lib.dln_loss_hvp(self._ptr, _buf(self._W(W)),
                                _buf(self._W(D, "D")), _buf(o)))
        return o


# ---- training in memory ----

class TrainResult:
    """What dln.train returns (copies of the job's results): .trajectory (column name ->
    1-D float64 array), .weights / .initial_weights (lists of layers W_1..W_N, a tied net's
    [U]), .theta (final θ, 1-D), .stop_reason, .message, .t, .loss, .summary (dict: stop,
    counters, wall time)."""

    def __repr__(self):
        return "dln.TrainResult(stop_reason=%r, t=%s, loss=%s, %d samples)" % (
            self.stop_reason, self.t, self.loss, len(self.trajectory.get("t", ())))


class _Sampler:
    """The per-sample callback's state: the user's function, the layer layout, the
    exception it raised (re-raised in the caller), the sample count."""

    def __init__(self, fn):
        self.fn, self.net, self.error, self.calls = fn, None, None, 0


@ffi.callback("int(void *, double, long, const double *, const dln_net *)")
def _on_sample(ctx, t, step, x, net):
    s = ffi.from_handle(ctx)
    try:
        s.calls += 1
        if s.net is None:  # the run's network: its layout, read once (valid during the run)
            s.net = Net(None, _ptr=net)
        th = np.frombuffer(ffi.buffer(x, 8 * s.net.nparams), dtype=_F8)
        th.flags.writeable = False
        return 1 if s.fn(t, s.net.layers(th)) else 0
    except BaseException as e:  # noqa: B902 -- KeyboardInterrupt too: stop C, re-raise in the caller
        s.error = e
        return 1


def _train_job(loss, init, options):
    """A job with the loss's options, the initial weights and the training options."""
    base = dict(loss._options)
    if isinstance(init, str):  # a scheme replaces the Loss's init (its scale options stay)
        base.pop("init", None)
        base.pop("init_files", None)
    elif init is not None:
        base = {k: v for k, v in base.items() if k not in _INIT_OPTIONS}
        if isinstance(init, np.ndarray) and init.ndim == 1:  # θ in the layout of loss.net
            init = [w for w in loss.net.layers(init)]
            if loss.net.tied:
                init = init[1:]
        layers = [matrix(w, "init[%d]" % i) for i, w in enumerate(init)]
        if not layers:
            raise ValueError("init: expected the layers W_1..W_N (a tied net: [U]), found an empty list")
        if base.get("tied") or options.get("tied"):
            u = layers[0]
            base["widths"] = [u.shape[0], u.shape[1], u.shape[0]]
        else:
            base["widths"] = [layers[0].shape[1]] + [w.shape[0] for w in layers]
        init = layers
    job = Job()
    job.apply(loss._spec, base)
    job.apply(None, dict(options, init=init) if init is not None else options)
    return job


def train(loss, init=None, *, method=None, t_end=None, callback=None, **options):
    """Train the network of a run in memory from `init` on `loss` (dln_job_train).

    init: a list of layers [W_1, ..., W_N] (a tied net: [U]; widths follow their shapes),
    a 1-D θ in the layout of loss.net, a scheme name ("gaussian", "balanced", ... with its
    options), or None for the Loss's own init (loss.theta0). method, t_end and any other
    option of `dln run` (eta, samples, observe, loss_threshold, ...) as in dln.run. The
    result equals `dln run` of the same options and data bit for bit. The data and weights
    are copied into the job; the results are copied out (TrainResult).

    callback(t, weights), if given, is called at every sample time (t = 0 included) with
    read-only Fortran-order views of the layers of θ(t): views into C's state, valid only
    during the call (copy what you keep). A true return value stops the run (stop reason
    "cancelled"); an exception raised in it stops the run and is re-raised here. Called
    from the main thread, the training (and the callback) runs on a helper thread so that
    Ctrl-C stops the run at its next step (within ~0.1 s) and raises KeyboardInterrupt here.
    """
    if not isinstance(loss, Loss):
        raise TypeError("loss: expected a dln.Loss, found %s" % type(loss).__name__)
    if callback is not None and not callable(callback):
        raise TypeError("callback: expected a callable f(t, weights), found %s" % type(callback).__name__)
    opts = dict(options)
    if method is not None:
        opts["method"] = method
    if t_end is not None:
        opts["t_end"] = t_end
    job = _train_job(loss, init, opts)
    jp = job.ptr
    sampler = _Sampler(callback) if callback is not None else None
    handle = ffi.new_handle(sampler) if sampler else ffi.NULL

    def work():  # on the thread that calls C: its message is thread-local
        st = lib.dln_job_train(jp, _on_sample if sampler else ffi.NULL, handle)
        return error_for(st, lib.dln_job_fail_phase(jp)) if st else None

    err = call_cancellable(work, job.cancel)
    if sampler is not None and sampler.error is not None:
        raise sampler.error
    if err is not None:
        raise err
    return _train_result(jp, job)


def _train_result(jp, job):
    r = TrainResult()
    r.trajectory = job.trajectory()
    r.initial_weights = job.layers(0)
    r.weights = job.layers(1)
    r.summary = job.summary()
    r.stop_reason = job.stop_name()
    r.message = job.message()
    r.t, r.loss = r.summary.get("t"), r.summary.get("loss")
    net = Net(None, _ptr=lib.dln_job_net(jp), _owner=job)
    r.net_widths, r.tied = net.widths, net.tied
    r.theta = net.pack(r.weights)
    return r
