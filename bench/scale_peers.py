#!/usr/bin/python3
"""NumPy and PyTorch side of bench/scale.sh (issue 14): square n x n factorization GD.

Same problem as bench/bench_scale.c: loss 1/2 |W - Y|^2, Y n x n ~ N(0, 1)
(default_rng(0)), depth N, every width n, W_j ~ N(0, 1/n) (default_rng(1)), eta 1e-4.
NumPy: the plain loop of bench/peers.py (prefix products, backward products, in-place
update); PyTorch: autograd + torch.optim.SGD. Timing as bench_scale: one warm-up step,
a chunk calibrated to >= 0.3 * target / reps seconds, then reps timed chunks (median,
min, max steps/s by wall clock and by process CPU time).

    /usr/bin/python3 bench/scale_peers.py --threads 1 --n 2,4,8 --depth 2,3,4 [--target S] [--reps R]

The thread count goes into OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy is
imported and into torch.set_num_threads. stdout: one JSON object.
"""
import argparse
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--n", required=True)
ap.add_argument("--depth", required=True)
ap.add_argument("--target", type=float, default=0.6)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--only", choices=["numpy", "torch"], default=None)
args = ap.parse_args()
for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[k] = str(args.threads)

import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

if args.only != "numpy":
    import torch

    torch.set_num_threads(args.threads)
ETA = 1e-4


def setup(n, depth):
    Y = np.random.default_rng(0).standard_normal((n, n))
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(depth)]
    return Y, Ws


def numpy_steps(Y, Ws, nsteps):
    N = len(Ws)
    for _ in range(nsteps):
        prefix = [None] * (N + 1)  # prefix[j] = W_j ... W_1
        prefix[1] = Ws[0]
        for j in range(1, N):
            prefix[j + 1] = Ws[j] @ prefix[j]
        left = prefix[N] - Y  # G, then W_{N:j+1}^T G
        grads = [None] * N
        for j in range(N - 1, -1, -1):
            grads[j] = left if j == 0 else left @ prefix[j].T
            if j > 0:
                left = Ws[j].T @ left
        for Wj, gj in zip(Ws, grads):
            Wj -= ETA * gj


class TorchGD:
    def __init__(self, Y, Ws):
        self.Y = torch.tensor(Y)
        self.params = [torch.tensor(W, requires_grad=True) for W in Ws]
        self.opt = torch.optim.SGD(self.params, lr=ETA)

    def loss(self):
        W = self.params[0]
        for Wj in self.params[1:]:
            W = Wj @ W
        return 0.5 * ((W - self.Y) ** 2).sum()

    def steps(self, nsteps):
        for _ in range(nsteps):
            self.loss().backward()
            self.opt.step()
            self.opt.zero_grad()


def timed(run, k):
    w0, c0 = time.perf_counter(), time.process_time()
    run(k)
    return time.perf_counter() - w0, time.process_time() - c0


def measure(run, target, reps):
    run(1)  # warm-up
    want = target / reps
    chunk = 1
    while True:
        dt, _ = timed(run, chunk)
        if dt >= 0.3 * want:
            break
        chunk *= 4
    chunk = max(1, int(np.ceil(want * chunk / dt)))
    wall, cpu = [], []
    for _ in range(reps):
        w, c = timed(run, chunk)
        wall.append(chunk / w)
        cpu.append(chunk / c if c > 0 else float("nan"))
    st = lambda x: {"median": statistics.median(x), "min": min(x), "max": max(x)}  # noqa: E731
    return {"chunk_steps": chunk, "steps_per_s": st(wall), "steps_per_s_cpu": st(cpu)}


def blas_libs():
    libs = set()
    with open("/proc/self/maps") as fh:
        for line in fh:
            path = line.split()[-1]
            if path.startswith("/") and any(k in os.path.basename(path).lower() for k in ("blas", "blis", "mkl", "gomp")):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def main():
    ns = [int(x) for x in args.n.split(",")]
    depths = [int(x) for x in args.depth.split(",")]
    rows = []
    for n in ns:
        for d in depths:
            target = 1e-3 if n >= 1024 else args.target  # one step per chunk at n >= 1024
            Y, Ws = setup(n, d)
            row = {"n": n, "depth": d, "flops_per_step": 6.0 * (d - 1) * n ** 3}
            if args.only in (None, "numpy"):
                row["numpy"] = measure(lambda k: numpy_steps(Y, Ws, k), target, args.reps)
            if args.only in (None, "torch"):
                tg = TorchGD(*setup(n, d))
                row["torch"] = measure(tg.steps, target, args.reps)
            rows.append(row)
            print(f"scale_peers: T={args.threads} n={n} depth={d}: numpy "
                  f"{row.get('numpy', {}).get('steps_per_s', {}).get('median', float('nan')):.4g}, torch "
                  f"{row.get('torch', {}).get('steps_per_s', {}).get('median', float('nan')):.4g} steps/s",
                  file=sys.stderr)
    meta = {"threads": args.threads, "numpy": np.__version__,
            "torch": torch.__version__ if args.only != "numpy" else None,
            "blas_libraries": blas_libs(), "python": sys.version.split()[0]}
    json.dump({"meta": meta, "rows": rows}, sys.stdout, indent=1)
    print()


main()
