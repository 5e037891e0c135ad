#!/usr/bin/python3
"""Peer baselines for the dln benchmark: what a researcher would write in
NumPy / PyTorch / SciPy to train a deep linear network W_N ... W_1.

Run with Debian's interpreter (it has numpy, scipy and torch):

    /usr/bin/python3 bench/peers.py            # full run (~3-6 min)
    /usr/bin/python3 bench/peers.py --quick    # smoke test (~0.3 s per measurement, no BDF/Radau)

Prints ONE JSON object on stdout; progress/human-readable lines go to stderr.
See bench/README-peers.md for the schema and the rules of the comparison.

Conventions (same as the C library): samples are columns, layer W_j is
d_j x d_{j-1}, the end-to-end matrix is W = W_N ... W_1 (d_N x d_0), float64.
"""

import os

# Single-threaded BLAS everywhere; must happen before numpy is imported.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import json
import multiprocessing as mp
import platform
import queue
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp
import torch

torch.set_num_threads(1)

DTYPE = np.float64


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------

class Problem:
    """Loss ell(W) on the end-to-end matrix, plus layer widths / init / step."""

    def __init__(self, name, widths, sigma, eta, kind, target=None,
                 rows=None, cols=None, b=None):
        self.name = name
        self.widths = list(widths)          # [d_0, d_1, ..., d_N]
        self.sigma = sigma
        self.eta = eta
        self.kind = kind                    # "fact" or "completion"
        self.target = target                # fact: Ybar (d_N x d_0)
        self.rows, self.cols, self.b = rows, cols, b  # completion
        if kind == "completion":
            self.m = len(b)

    @property
    def depth(self):
        return len(self.widths) - 1

    def init(self, sigma=None, seed=1):
        """Layers W_1..W_N, entries iid N(0, sigma^2)."""
        s = self.sigma if sigma is None else sigma
        rng = np.random.default_rng(seed)
        return [s * rng.standard_normal((self.widths[j + 1], self.widths[j]))
                for j in range(self.depth)]

    # --- numpy loss / gradient on the end-to-end matrix -------------------
    def loss(self, W):
        if self.kind == "fact":
            return 0.5 * float(np.sum((W - self.target) ** 2))
        r = W[self.rows, self.cols] - self.b
        return float(r @ r) / (2 * self.m)

    def grad(self, W):
        if self.kind == "fact":
            return W - self.target
        G = np.zeros_like(W)
        G[self.rows, self.cols] = (W[self.rows, self.cols] - self.b) / self.m
        return G

    # --- torch loss -------------------------------------------------------
    def torch_loss_fn(self):
        if self.kind == "fact":
            Y = torch.from_numpy(self.target)
            return lambda W: 0.5 * ((W - Y) ** 2).sum()
        rows = torch.from_numpy(np.asarray(self.rows))
        cols = torch.from_numpy(np.asarray(self.cols))
        b = torch.from_numpy(np.asarray(self.b, dtype=DTYPE))
        m = self.m
        return lambda W: ((W[rows, cols] - b) ** 2).sum() / (2 * m)


def make_problems():
    rngA = np.random.default_rng(0)
    YA = rngA.standard_normal((5, 10))
    rngC = np.random.default_rng(0)
    YC = rngC.standard_normal((50, 100))
    return {
        "fact_5x10_w50": Problem("fact_5x10_w50", [10, 50, 5], 0.1, 1e-3,
                                 "fact", target=YA),
        # Razin & Cohen: A1 = e1 e2^T, A2 = e2 e1^T, A3 = e2 e2^T, b = (1,1,0)
        "completion_2x2_depth3": Problem(
            "completion_2x2_depth3", [2, 2, 2, 2], 0.5, 1e-2, "completion",
            rows=np.array([0, 1, 1]), cols=np.array([1, 0, 1]),
            b=np.array([1.0, 1.0, 0.0])),
        "large_50x100_w500": Problem("large_50x100_w500", [100, 500, 50],
                                     0.05, 1e-4, "fact", target=YC),
    }


# ---------------------------------------------------------------------------
# Plain NumPy gradient descent
# ---------------------------------------------------------------------------

def product(Ws):
    W = Ws[0]
    for Wj in Ws[1:]:
        W = Wj @ W
    return W


def layer_grads(Ws, G):
    """dphi/dW_j = W_{N:j+1}^T G W_{j-1:1}^T for all j (simultaneous)."""
    N = len(Ws)
    # prefix[j] = W_j ... W_1 (prefix[0] = None means identity)
    prefix = [None] * (N + 1)
    for j in range(N):
        prefix[j + 1] = Ws[j] if j == 0 else Ws[j] @ prefix[j]
    grads = [None] * N
    left = G  # W_{N:j+1}^T G, built from the top
    for j in range(N - 1, -1, -1):
        grads[j] = left if j == 0 else left @ prefix[j].T
        if j > 0:
            left = Ws[j].T @ left
    return grads, prefix[N]


def numpy_gd_steps(prob, Ws, nsteps):
    eta = prob.eta
    if len(Ws) == 2:
        # the two-layer loop exactly as one would type it
        W1, W2 = Ws
        for _ in range(nsteps):
            W = W2 @ W1
            G = prob.grad(W)
            g2 = G @ W1.T
            g1 = W2.T @ G
            W2 -= eta * g2
            W1 -= eta * g1
    else:
        for _ in range(nsteps):
            W = product(Ws)
            G = prob.grad(W)
            grads, _ = layer_grads(Ws, G)
            for Wj, gj in zip(Ws, grads):
                Wj -= eta * gj
    return Ws


# ---------------------------------------------------------------------------
# PyTorch autograd + SGD
# ---------------------------------------------------------------------------

class TorchGD:
    def __init__(self, prob, Ws):
        self.params = [torch.tensor(W, dtype=torch.float64, requires_grad=True)
                       for W in Ws]
        self.opt = torch.optim.SGD(self.params, lr=prob.eta)
        self.loss_fn = prob.torch_loss_fn()

    def forward(self):
        W = self.params[0]
        for Wj in self.params[1:]:
            W = Wj @ W
        return self.loss_fn(W)

    def steps(self, nsteps):
        for _ in range(nsteps):
            loss = self.forward()
            loss.backward()
            self.opt.step()
            self.opt.zero_grad()

    def loss(self):
        with torch.no_grad():
            return float(self.forward())

    def numpy_layers(self):
        return [p.detach().numpy().copy() for p in self.params]


# ---------------------------------------------------------------------------
# Adaptive timing
# ---------------------------------------------------------------------------

def time_steps(run, target_s, warmup_steps=20):
    """run(n) performs n steps. Warm up, calibrate, then time >= target_s."""
    run(warmup_steps)
    done = warmup_steps
    n = 10
    while True:  # calibration: grow until a chunk takes >= 0.05 s
        t0 = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t0
        done += n
        if dt >= 0.05:
            break
        n *= 4
    nsteps = max(1, int(np.ceil(target_s * n / dt)))
    t0 = time.perf_counter()
    run(nsteps)
    dt = time.perf_counter() - t0
    done += nsteps
    return {"steps_per_s": nsteps / dt, "steps": nsteps, "seconds": dt,
            "total_steps": done}


def bench_numpy(prob, target_s):
    Ws = prob.init()
    init_loss = prob.loss(product(Ws))
    res = time_steps(lambda n: numpy_gd_steps(prob, Ws, n), target_s)
    res["init_loss"] = init_loss
    res["final_loss"] = prob.loss(product(Ws))
    return res


def bench_torch(prob, target_s):
    tg = TorchGD(prob, prob.init())
    init_loss = tg.loss()
    res = time_steps(tg.steps, target_s)
    res["init_loss"] = init_loss
    res["final_loss"] = tg.loss()
    return res


def consistency(prob, nsteps=200):
    """numpy GD vs torch SGD from the identical init: losses must agree."""
    Ws0 = prob.init()
    Wn = numpy_gd_steps(prob, [W.copy() for W in Ws0], nsteps)
    tg = TorchGD(prob, Ws0)
    tg.steps(nsteps)
    ln, lt = prob.loss(product(Wn)), tg.loss()
    maxdiff = max(float(np.max(np.abs(a - b)))
                  for a, b in zip(Wn, tg.numpy_layers()))
    return {"steps": nsteps, "numpy_loss": ln, "torch_loss": lt,
            "rel_loss_diff": abs(ln - lt) / max(abs(ln), 1e-300),
            "max_abs_param_diff": maxdiff}


# ---------------------------------------------------------------------------
# solve_ivp on the gradient flow  dtheta/dt = -grad phi(theta)
# ---------------------------------------------------------------------------

def _ivp_worker(prob, sigma, method, t_end, rtol, atol, q):
    try:
        shapes = [(prob.widths[j + 1], prob.widths[j]) for j in range(prob.depth)]
        sizes = [r * c for r, c in shapes]
        offs = np.cumsum([0] + sizes)

        def unflat(theta):
            return [theta[offs[j]:offs[j + 1]].reshape(shapes[j])
                    for j in range(len(shapes))]

        ncalls = [0]

        def rhs(t, theta):
            ncalls[0] += 1
            Ws = unflat(theta)
            G = prob.grad(product(Ws))
            grads, _ = layer_grads(Ws, G)
            return -np.concatenate([g.ravel() for g in grads])

        theta0 = np.concatenate([W.ravel() for W in prob.init(sigma=sigma)])
        init_loss = prob.loss(product(unflat(theta0)))
        t0 = time.perf_counter()
        sol = solve_ivp(rhs, (0.0, t_end), theta0, method=method,
                        rtol=rtol, atol=atol)
        dt = time.perf_counter() - t0
        q.put({"status": int(sol.status), "message": str(sol.message),
               "seconds": dt, "nfev": int(sol.nfev), "njev": int(sol.njev),
               "nlu": int(sol.nlu), "rhs_calls": ncalls[0],
               "n_steps": int(len(sol.t) - 1),
               "t_final": float(sol.t[-1]), "init_loss": init_loss,
               "final_loss": prob.loss(product(unflat(sol.y[:, -1])))})
    except Exception as e:  # pragma: no cover
        q.put({"status": "error", "message": repr(e)})


def run_ivp(prob, sigma, method, timeout, t_end=20.0, rtol=1e-10, atol=1e-12):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_ivp_worker,
                    args=(prob, sigma, method, t_end, rtol, atol, q))
    t0 = time.perf_counter()
    p.start()
    try:
        res = q.get(timeout=timeout)
    except queue.Empty:
        p.terminate()
        res = {"status": "timeout", "timeout_s": timeout,
               "seconds": time.perf_counter() - t0}
    p.join(5)
    if p.is_alive():
        p.kill()
        p.join()
    return res


# ---------------------------------------------------------------------------
# DGEMM reference
# ---------------------------------------------------------------------------

def dgemm_peak(n=500, reps=20):
    rng = np.random.default_rng(42)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    C = np.empty((n, n))
    np.matmul(A, B, out=C)
    best = min(_timed(lambda: np.matmul(A, B, out=C)) for _ in range(reps))
    return 2.0 * n ** 3 / best / 1e9, best


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------

def blas_libs():
    """Shared BLAS/LAPACK libraries actually mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1]
                base = os.path.basename(path).lower()
                if path.startswith("/") and any(
                        k in base for k in ("blas", "lapack", "mkl", "blis", "gomp")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def meta_info(args):
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "env_threads": {v: os.environ.get(v) for v in
                        ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                         "MKL_NUM_THREADS")},
        "blas_libs": blas_libs(),
        "dtype": "float64",
        "seeds": {"target": "numpy default_rng(0).standard_normal",
                  "init": "numpy default_rng(1), layers W_1..W_N in order"},
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": list(os.getloadavg()),
        "quick": args.quick,
        "target_seconds_per_measurement": args.target,
        "ivp_timeout_s": args.ivp_timeout,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="~0.3 s per measurement, skip BDF/Radau (smoke test)")
    ap.add_argument("--target", type=float, default=None,
                    help="seconds per steps/s measurement (default 1.5, quick 0.3)")
    ap.add_argument("--ivp-timeout", type=float, default=None,
                    help="wall-clock limit per solve_ivp run (default 60, quick 20)")
    ap.add_argument("--no-ivp", action="store_true", help="skip solve_ivp")
    args = ap.parse_args()
    if args.target is None:
        args.target = 0.3 if args.quick else 1.5
    if args.ivp_timeout is None:
        args.ivp_timeout = 20.0 if args.quick else 60.0

    T0 = time.perf_counter()
    out = {"meta": meta_info(args), "problems": {}}

    gf, gt = dgemm_peak()
    out["dgemm_peak_gflops"] = gf
    out["meta"]["dgemm_peak_detail"] = {"n": 500, "best_seconds": gt}
    log(f"dgemm 500x500x500 single-thread: {gf:.2f} GFLOP/s")

    for name, prob in make_problems().items():
        r = {"widths": prob.widths, "sigma": prob.sigma, "eta": prob.eta,
             "n_params": int(sum(prob.widths[j] * prob.widths[j + 1]
                                 for j in range(prob.depth)))}
        r["numpy_gd"] = bench_numpy(prob, args.target)
        log(f"{name:24s} numpy_gd {r['numpy_gd']['steps_per_s']:12.0f} steps/s"
            f"  (loss {r['numpy_gd']['final_loss']:.6g} after "
            f"{r['numpy_gd']['total_steps']} steps)")
        r["torch_gd"] = bench_torch(prob, args.target)
        log(f"{name:24s} torch_gd {r['torch_gd']['steps_per_s']:12.0f} steps/s"
            f"  (loss {r['torch_gd']['final_loss']:.6g} after "
            f"{r['torch_gd']['total_steps']} steps)")
        r["consistency_numpy_vs_torch"] = consistency(prob)
        out["problems"][name] = r

    if not args.no_ivp:
        prob = make_problems()["fact_5x10_w50"]
        methods = ["RK45", "DOP853", "LSODA"]
        if not args.quick:
            methods += ["BDF", "Radau"]
        ivp = {"t_span": [0.0, 20.0], "rtol": 1e-10, "atol": 1e-12,
               "n_params": 750,
               "jacobian": "none supplied (finite differences for implicit methods)",
               "note": "nfev is scipy's count; for BDF/Radau it excludes the "
                       "finite-difference Jacobian columns, for LSODA it "
                       "includes them. rhs_calls counts every RHS call."}
        for sigma in (1e-2, 1.0):
            key = f"sigma={sigma:g}"
            ivp[key] = {}
            for m in methods:
                res = run_ivp(prob, sigma, m, args.ivp_timeout)
                ivp[key][m] = res
                if res["status"] == "timeout":
                    log(f"solve_ivp {key:10s} {m:7s} TIMEOUT after {args.ivp_timeout:g} s")
                elif res["status"] == "error":
                    log(f"solve_ivp {key:10s} {m:7s} ERROR {res['message']}")
                else:
                    log(f"solve_ivp {key:10s} {m:7s} {res['seconds']:8.3f} s "
                        f"nfev {res['nfev']:7d} rhs_calls {res['rhs_calls']:7d} "
                        f"njev {res['njev']:3d} "
                        f"status {res['status']} loss {res['final_loss']:.6g}")
            if args.quick:
                for m in ("BDF", "Radau"):
                    ivp[key][m] = {"status": "skipped (--quick)"}
        out["problems"]["fact_5x10_w50"]["solve_ivp"] = ivp

    out["meta"]["loadavg_end"] = list(os.getloadavg())
    out["meta"]["total_seconds"] = time.perf_counter() - T0
    log(f"total {out['meta']['total_seconds']:.1f} s")
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
