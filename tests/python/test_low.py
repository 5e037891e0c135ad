"""dln.Net, dln.Loss, dln.train (python/dln/_low.py) against independent NumPy truths.

Gradients and Hessian-vector products against central finite differences of the loss
written in NumPy (not through dln); conserved quantities against their NumPy formula
(002 Lemma 1); dln.train against the CLI's run of the same options bit for bit; the
callback, stopping, exceptions, Ctrl-C, threads and reference leaks. Environment (set by
ctest): PYTHONPATH (the package), DLN_CLI (the dln binary)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import unittest

import numpy as np

import dln


def product(layers):
    W = layers[0]
    for A in layers[1:]:
        W = A @ W
    return W


# ---- the losses in NumPy (include/dln/loss.h; samples are columns) ----
def ell_factorization(Y):
    return lambda W: 0.5 * np.sum((W - Y) ** 2)


def ell_regression(X, Y):
    return lambda W: 0.5 * np.sum((W @ X - Y) ** 2)


def ell_completion(E):  # rows (r, c, v), 0-based
    r, c, v = E[:, 0].astype(int), E[:, 1].astype(int), E[:, 2]
    return lambda W: np.sum((W[r, c] - v) ** 2) / (2 * len(v))


def ell_lp(X, Y, p):
    return lambda W: np.sum(np.abs(W @ X - Y) ** p) / X.shape[1]


def ell_logistic(X, y):
    return lambda W: np.mean(np.log1p(np.exp(-y * (W @ X)[0])))


def ell_sensing(A, b):  # column i of A = vec(A_i), column-major
    return lambda W: np.sum((A.T @ W.ravel(order="F") - b) ** 2) / (2 * len(b))


def ell_sigmoid(X, Y):
    return lambda W: 0.5 * np.sum((Y - 1 / (1 + np.exp(-(W @ X)))) ** 2)


def ell_softmax(X, c):  # labels 0..K-1
    def f(W):
        Z = W @ X
        Z = Z - Z.max(axis=0)
        return np.mean(np.log(np.exp(Z).sum(axis=0)) - Z[c, np.arange(Z.shape[1])])
    return f


def fd_grad(f, th, h=1e-6):
    g = np.empty_like(th)
    for i in range(th.size):
        e = np.zeros_like(th)
        e[i] = h
        g[i] = (f(th + e) - f(th - e)) / (2 * h)
    return g


class Cases:
    """(name, loss, net, NumPy ℓ) for several tasks and depths."""

    @staticmethod
    def make():
        rng = np.random.default_rng(7)
        out = []
        Y = rng.standard_normal((3, 4))
        out.append(("factorization N=2", dln.Loss("factorization", target=Y, widths=[4, 5, 3]), ell_factorization(Y)))
        out.append(("factorization N=4", dln.Loss("factorization", target=Y, widths=[4, 3, 5, 2, 3]),
                    ell_factorization(Y)))
        X, Yr = rng.standard_normal((4, 7)), rng.standard_normal((2, 7))
        out.append(("regression N=3", dln.Loss("regression", X=X, Y=Yr, widths=[4, 6, 5, 2]), ell_regression(X, Yr)))
        E = np.array([[0, 0, 1.0], [1, 2, -0.5], [2, 1, 0.3], [0, 3, 2.0], [2, 3, -1.2]])
        out.append(("completion N=2", dln.Loss("completion", entries=E, rows=3, cols=4, widths=[4, 4, 3]),
                    ell_completion(E)))
        out.append(("lp p=4 N=3", dln.Loss("lp", X=X, Y=Yr, p=4, widths=[4, 3, 3, 2]), ell_lp(X, Yr, 4)))
        lab = np.sign(rng.standard_normal(7))
        out.append(("logistic N=3", dln.Loss("logistic", X=X, labels=lab.reshape(1, -1), widths=[4, 5, 3, 1]),
                    ell_logistic(X, lab)))
        A, b = rng.standard_normal((12, 9)), rng.standard_normal(9)
        out.append(("sensing N=2", dln.Loss("sensing", A=A, b=b, rows=3, cols=4, widths=[4, 5, 3]),
                    ell_sensing(A, b)))
        out.append(("lp p=3 N=2", dln.Loss("lp", X=X, Y=Yr, p=3, widths=[4, 3, 2]), ell_lp(X, Yr, 3)))
        Ys = 1 / (1 + np.exp(-rng.standard_normal((2, 7))))
        out.append(("sigmoid N=3", dln.Loss("sigmoid", X=X, Y=Ys, widths=[4, 5, 3, 2]), ell_sigmoid(X, Ys)))
        c = rng.integers(0, 3, 7)
        out.append(("softmax N=2", dln.Loss("softmax", X=X, labels=c.reshape(1, -1).astype(float), rows=3,
                                            widths=[4, 5, 3]), ell_softmax(X, c)))
        S = rng.standard_normal((4, 4))
        S = S + S.T
        out.append(("tied", dln.Loss("factorization", target=S, tied=True, widths=[4, 3, 4]), ell_factorization(S)))
        return out


class TestGradients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases = Cases.make()

    def phi(self, net, ell):
        def f(th):
            L = net.layers(th)
            return ell(product(L))
        return f

    def test_grad_matches_fd(self):
        rng = np.random.default_rng(1)
        for name, loss, ell in self.cases:
            with self.subTest(name):
                net = dln.Net(loss.net.widths, tied=loss.net.tied)
                th = 0.5 * rng.standard_normal(net.nparams)
                val, g = net.grad(loss, th)
                f = self.phi(net, ell)
                self.assertAlmostEqual(val, f(th), delta=1e-12 * max(1, abs(val)))
                gfd = fd_grad(f, th)
                # central differences: error O(h^2 phi''') + O(eps phi / h) ~ 1e-8 relative
                np.testing.assert_allclose(g, gfd, rtol=0, atol=1e-6 * max(1, np.abs(gfd).max()))
                self.assertEqual(net.value(loss, th), val)

    def test_hvp_matches_fd_of_grad(self):
        rng = np.random.default_rng(2)
        for name, loss, _ in self.cases:
            with self.subTest(name):
                net = loss.net
                th, v = 0.5 * rng.standard_normal(net.nparams), rng.standard_normal(net.nparams)
                hv = net.hvp(loss, th, v)
                h = 1e-5
                fd = (net.grad(loss, th + h * v)[1] - net.grad(loss, th - h * v)[1]) / (2 * h)
                np.testing.assert_allclose(hv, fd, rtol=0, atol=1e-6 * max(1, np.abs(fd).max()))

    def test_loss_value_grad_hvp(self):
        rng = np.random.default_rng(3)
        for name, loss, ell in self.cases:
            with self.subTest(name):
                W, D = rng.standard_normal((loss.rows, loss.cols)), rng.standard_normal((loss.rows, loss.cols))
                self.assertAlmostEqual(loss.value(W), ell(W), delta=1e-12 * max(1, abs(ell(W))))
                G = loss.grad(W)
                Gfd = fd_grad(lambda w: ell(w.reshape(W.shape)), W.ravel()).reshape(W.shape)
                np.testing.assert_allclose(G, Gfd, atol=1e-6 * max(1, np.abs(Gfd).max()))
                h = 1e-5
                Hfd = (loss.grad(W + h * D) - loss.grad(W - h * D)) / (2 * h)
                np.testing.assert_allclose(loss.hvp(W, D), Hfd, atol=1e-6 * max(1, np.abs(Hfd).max()))

    def test_conserved_and_views(self):
        rng = np.random.default_rng(4)
        net = dln.Net([4, 6, 5, 3])
        th = rng.standard_normal(net.nparams)
        L = net.layers(th)
        self.assertTrue(all(np.shares_memory(w, th) and w.flags.f_contiguous for w in L))
        self.assertEqual([w.shape for w in L], [(6, 4), (5, 6), (3, 5)])
        Cs = []
        for j in (1, 2):
            C = L[j].T @ L[j] - L[j - 1] @ L[j - 1].T  # 002 Lemma 1
            np.testing.assert_allclose(net.conserved(th, j), C, rtol=0, atol=1e-13 * np.abs(C).max())
            Cs.append(np.linalg.norm(C))
        self.assertAlmostEqual(net.unbalancedness(th), max(Cs), delta=1e-13 * max(Cs))
        np.testing.assert_allclose(net.product(th), L[2] @ L[1] @ L[0], rtol=1e-14, atol=1e-14)
        th[0] = 42.0  # a view, not a copy
        self.assertEqual(L[0][0, 0], 42.0)
        np.testing.assert_array_equal(net.pack(L), th)
        tied = dln.Net([3, 2, 3], tied=True)
        self.assertEqual(tied.nparams, 6)
        U = tied.layers(np.arange(6.0))
        np.testing.assert_array_equal(U[0], U[1].T)

    def test_bind(self):
        loss = self.cases[2][1]
        net = loss.net
        th, g = 0.3 * np.ones(net.nparams), np.empty(net.nparams)
        f = net.bind(loss, th, g)
        for k in range(3):
            th[k] = 0.1 * k  # read at each call
            v = f()
            v2, g2 = net.grad(loss, th)
            self.assertEqual(v, v2)
            np.testing.assert_array_equal(g, g2)
        with self.assertRaisesRegex(ValueError, "theta: expected a writable contiguous float64"):
            net.bind(loss, th.astype(np.float32), g)

    def test_data_forms(self):
        """Arrays, array-likes and paths by short name or option name give the same loss."""
        rng = np.random.default_rng(5)
        X, Y = rng.standard_normal((4, 6)), rng.standard_normal((2, 6))
        W = rng.standard_normal((2, 4))
        truth = 0.5 * np.sum((W @ X - Y) ** 2)
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "X.npy"), X)
            for kw in (dict(X=X, Y=Y), dict(x_file=X, y_file=Y), dict(X=os.path.join(d, "X.npy"), Y=Y.tolist()),
                       dict(X=np.asfortranarray(X), Y=np.repeat(Y, 2, axis=1)[:, ::2])):
                loss = dln.Loss("regression", widths=[4, 3, 2], **kw)
                self.assertAlmostEqual(loss.value(W), truth, delta=1e-12 * truth)
        self.assertEqual(dln.Loss("sensing", target="lowrank", rank=2, rows=4, cols=4, m=10).rows, 4)
        with self.assertRaisesRegex(ValueError, "target_file: expected a non-empty"):
            dln.Loss("factorization", target=np.ones((0, 3)))

    def test_bad_arguments(self):
        net = dln.Net([4, 5, 3])
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 5, 3])
        with self.assertRaisesRegex(ValueError, "expected a 1-D array of 35 values.*found shape \\(34,\\)"):
            net.grad(loss, np.zeros(34))
        with self.assertRaisesRegex(ValueError, "out: expected a writable"):
            net.grad(loss, np.zeros(35), out=np.zeros(35, dtype=np.float32))
        with self.assertRaisesRegex(ValueError, "W: expected shape \\(3, 4\\)"):
            loss.value(np.zeros((4, 3)))
        with self.assertRaisesRegex(ValueError, "j: expected 1 to 1"):
            net.conserved(np.zeros(35), 2)
        with self.assertRaisesRegex(ValueError, "widths"):
            dln.Net([4])
        # C's message: the net's and the loss's shapes differ
        with self.assertRaisesRegex(dln.DlnValueError, "expects an end-to-end matrix 3 x 4, network gives 2 x 4"):
            dln.Net([4, 5, 2]).grad(loss, np.zeros(5 * 4 + 2 * 5))
        with self.assertRaisesRegex(dln.DlnValueError, "unknown option '--nosuch'"):
            dln.Loss("factorization", nosuch=1)
        with self.assertRaisesRegex(dln.DlnValueError, "--rows"):
            dln.Loss("factorization", rows=-2)
        # a C-ordered or integer θ is converted (a copy), with the same result
        th = np.linspace(-1, 1, 35)
        self.assertEqual(net.grad(loss, th)[0], net.grad(loss, list(th))[0])


def read_csv(path):
    with open(path) as f:
        names = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return {n: data[:, i] for i, n in enumerate(names)}


class TestTrain(unittest.TestCase):
    def cli(self, out, args):
        cmd = [os.environ.get("DLN_CLI", "dln"), "run", "--out", out, "--plot=false", "--quiet"] + args
        p = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return read_csv(os.path.join(out, "trajectory.csv"))

    def assert_same_run(self, r, traj, folder):
        self.assertEqual(set(r.trajectory), set(traj))
        for c in traj:
            self.assertTrue(np.array_equal(r.trajectory[c], traj[c], equal_nan=True), c)
        for j, W in enumerate(r.weights, 1):
            self.assertTrue(np.array_equal(W, np.load(os.path.join(folder, "W%d_final.npy" % j))), j)

    def test_train_equals_cli_with_arrays(self):
        rng = np.random.default_rng(11)
        Y = rng.standard_normal((3, 5))
        init = [0.3 * rng.standard_normal(s) for s in ((4, 5), (6, 4), (3, 6))]
        loss = dln.Loss("factorization", target=Y)
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "Y.npy"), Y)
            files = []
            for j, W in enumerate(init, 1):
                files.append(os.path.join(d, "I%d.npy" % j))
                np.save(files[-1], W)
            for method, extra in (("gd", ["--eta=0.01"]), ("auto", []), ("gauss", [])):
                with self.subTest(method):
                    kw = {"eta": 0.01} if method == "gd" else {}
                    r = dln.train(loss, init, method=method, t_end=3, samples=31, **kw)
                    out = os.path.join(d, method)
                    traj = self.cli(out, ["--task=factorization", "--target_file=" + os.path.join(d, "Y.npy"),
                                          "--widths=5,4,6,3", "--init=file", "--init_files=" + ",".join(files),
                                          "--method=" + method, "--t_end=3", "--samples=31"] + extra)
                    self.assert_same_run(r, traj, out)
                    for a, b in zip(r.initial_weights, init):
                        self.assertTrue(np.array_equal(a, b))

    def test_train_equals_cli_synthetic(self):
        opts = dict(task="sensing", rows=6, cols=6, target="lowrank", rank=2, m=30, depth=3, width=6,
                    sigma=0.05, seed=5)
        loss = dln.Loss(**opts)
        r = dln.train(loss, method="gd", eta=0.02, t_end=4, samples=21, log_samples=True)
        self.assertTrue(np.array_equal(r.initial_weights[0], loss.net.layers(loss.theta0)[0]))
        with tempfile.TemporaryDirectory() as d:
            args = ["--%s=%s" % (k, dln._job.option_text(v, k)) for k, v in opts.items()]
            traj = self.cli(d, args + ["--method=gd", "--eta=0.02", "--t_end=4", "--samples=21", "--log_samples=true"])
            self.assert_same_run(r, traj, d)

    def test_callback_sees_samples_and_states(self):
        rng = np.random.default_rng(12)
        Y = rng.standard_normal((3, 4))
        loss = dln.Loss("factorization", target=Y, widths=[4, 5, 3], sigma=0.3)
        seen = []

        def cb(t, weights):
            self.assertFalse(any(w.flags.writeable for w in weights))
            seen.append((t, 0.5 * np.sum((product(weights) - Y) ** 2)))

        r = dln.train(loss, method="flow", t_end=2, samples=11, callback=cb)
        t = r.trajectory["t"]
        np.testing.assert_array_equal([s[0] for s in seen], t)
        np.testing.assert_allclose([s[1] for s in seen], r.trajectory["loss"], rtol=1e-12, atol=0)

    def test_callback_stops_and_raises(self):
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 5, 3], sigma=0.3)
        r = dln.train(loss, method="gd", eta=0.01, t_end=2, samples=21, callback=lambda t, w: t >= 0.5)
        self.assertEqual(r.stop_reason, "cancelled")
        self.assertEqual(len(r.trajectory["t"]), 6)
        self.assertAlmostEqual(r.trajectory["t"][-1], 0.5, delta=1e-12)

        class Boom(Exception):
            pass

        calls = []

        def bad(t, w):
            calls.append(t)
            if len(calls) == 3:
                raise Boom("from the callback")

        with self.assertRaisesRegex(Boom, "from the callback"):
            dln.train(loss, method="flow", t_end=2, samples=21, callback=bad)
        self.assertEqual(len(calls), 3)  # stopped at the raising sample

    def test_spec_file_and_dict(self):
        spec = {"task": "factorization", "rows": 3, "cols": 4, "widths": [4, 5, 3], "sigma": 0.2, "seed": 3,
                "method": "gd", "eta": 0.01, "t_end": 1, "samples": 11}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "spec.json")
            with open(path, "w") as f:
                json.dump(spec, f)
            a = dln.Loss(spec=path)
            b = dln.Loss(spec=spec)
            np.testing.assert_array_equal(a.theta0, b.theta0)
            ra, rb = dln.train(a), dln.train(b)
            self.assertTrue(np.array_equal(ra.theta, rb.theta))
            self.assertEqual(len(ra.trajectory["t"]), 11)
            traj = self.cli(os.path.join(d, "cli"), [path])
            self.assert_same_run(ra, traj, os.path.join(d, "cli"))
            self.assertEqual(dln.Loss(spec=path, seed=4).net.widths, (4, 5, 3))  # keywords over the spec
            self.assertFalse(np.array_equal(dln.Loss(spec=path, seed=4).theta0, a.theta0))
            # a dict is a spec file for dln.Loss as for dln.run: its eta ranks below a keyword
            # method (accepted, unused), and beside its own method "flow" it is refused by both
            flow = dict(spec, method="flow")
            flow.pop("eta")
            c = dln.Loss(spec=dict(spec), method="flow")
            np.testing.assert_array_equal(c.theta0, a.theta0)
            r = dln.run(dict(spec), method="flow", out=os.path.join(d, "r1"))
            self.assertEqual(r.stop_reason, "time")
            for make in (lambda: dln.Loss(spec=dict(flow, eta=0.01)), lambda: dln.run(dict(flow, eta=0.01))):
                with self.assertRaises(dln.DlnValueError) as cm:
                    make()
                self.assertIn("eta", str(cm.exception))
            # arrays in a dict: the data of both (JSON holds no arrays)
            T = np.arange(12.0).reshape(3, 4) / 10
            e = dln.Loss(spec={"target": T, "widths": [4, 5, 3], "seed": 3})
            np.testing.assert_array_equal(e.grad(np.zeros((3, 4))), -T)
            r = dln.run({"target": T, "widths": [4, 5, 3], "seed": 3, "method": "gd", "eta": 0.01, "t_end": 0.1},
                        out=os.path.join(d, "r2"))
            np.testing.assert_array_equal(np.load(os.path.join(d, "r2", "target.npy")), T)

    def test_ctrl_c_with_callback(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals reach the main thread only")
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 5, 3])
        calls = [0]

        def cb(t, w):
            calls[0] += 1

        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            dln.train(loss, method="gd", eta=1e-6, t_end=1e3, samples=10 ** 6, callback=cb)
        timer.join()
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertGreater(calls[0], 0)

    def test_train_errors(self):
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 5, 3])
        with self.assertRaisesRegex(dln.DlnValueError, "--eta"):
            dln.train(loss, method="flow", eta=0.1)  # an option without effect, as the CLI refuses it
        with self.assertRaisesRegex(dln.DlnValueError, "layer-wise"):
            dln.train(loss, method="e2e_flow", init="balanced")
        with self.assertRaises(TypeError):
            dln.train(loss, callback=3)

    def test_ctrl_c_cancels(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals reach the main thread only")
        loss = dln.Loss("factorization", rows=5, cols=10, widths=[10, 50, 5])
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            dln.train(loss, method="gd", eta=1e-6, t_end=1e3, samples=3)  # 10^9 steps: far beyond the test
        dt = time.monotonic() - t0
        timer.join()
        self.assertLess(dt, 5.0)  # 0.3 s + the job's ~0.1 s reaction, with slack for a loaded machine

    def test_threads_and_gil(self):
        loss = dln.Loss("factorization", rows=5, cols=10, widths=[10, 30, 5], sigma=0.1)
        kw = dict(method="gd", eta=1e-3, t_end=20, samples=11)
        ref = dln.train(loss, **kw)
        res = [None, None]

        def one(i):
            res[i] = dln.train(loss, **kw)

        ths = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        ticks = 0
        for th in ths:
            th.start()
        while any(th.is_alive() for th in ths):  # Python runs while both train in C
            ticks += 1
            time.sleep(0.001)
        for th in ths:
            th.join()
        for r in res:
            self.assertIsNotNone(r)
            for c in ref.trajectory:
                self.assertTrue(np.array_equal(r.trajectory[c], ref.trajectory[c], equal_nan=True), c)
            self.assertTrue(all(np.array_equal(a, b) for a, b in zip(r.weights, ref.weights)))
        self.assertGreater(ticks, 5)


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class TestLeaks(unittest.TestCase):
    """10^4 calls: Python allocations (tracemalloc), references to the arrays passed
    (sys.getrefcount) and the process's resident size (C allocations) do not grow."""

    def loop(self, fn, n, max_py=64 * 1024, max_rss_kib=8 * 1024):
        for _ in range(50):
            fn()
        tracemalloc.start()
        s0, rss0 = tracemalloc.take_snapshot(), rss_kib()
        for _ in range(n):
            fn()
        s1, rss1 = tracemalloc.take_snapshot(), rss_kib()
        tracemalloc.stop()
        grown = sum(d.size_diff for d in s1.compare_to(s0, "filename"))
        self.assertLess(grown, max_py)
        self.assertLess(rss1 - rss0, max_rss_kib)

    def test_grad_hvp(self):
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 5, 3])
        net = loss.net
        th, v, out = loss.theta0.copy(), np.ones(net.nparams), np.empty(net.nparams)
        refs = [sys.getrefcount(a) for a in (th, v, out)]
        self.loop(lambda: net.grad(loss, th), 10000)
        self.loop(lambda: net.grad(loss, th, out=out), 10000)
        self.loop(lambda: net.hvp(loss, th, v), 10000)
        self.loop(lambda: loss.grad(net.product(th)), 10000)
        self.assertEqual([sys.getrefcount(a) for a in (th, v, out)], refs)

    def test_loss_construction(self):
        Y = np.ones((3, 4))
        r0 = sys.getrefcount(Y)
        self.loop(lambda: dln.Loss("factorization", target=Y, widths=[4, 2, 3]), 10000)
        self.assertEqual(sys.getrefcount(Y), r0)

    def test_train_with_callback(self):
        loss = dln.Loss("factorization", rows=3, cols=4, widths=[4, 2, 3])
        init = [np.ones((2, 4)), np.ones((3, 2))]
        r0 = [sys.getrefcount(a) for a in init]
        calls = [0]

        def cb(t, w):
            calls[0] += 1

        # 200 trainings x 50 samples = 10^4 callback calls
        self.loop(lambda: dln.train(loss, init, method="gd", eta=0.01, t_end=0.49, samples=50, callback=cb), 200)
        self.assertEqual(calls[0], 250 * 50)
        self.assertEqual([sys.getrefcount(a) for a in init], r0)


if __name__ == "__main__":
    unittest.main()
