"""dln.run / dln.load / Result.check against the CLI (issue 13: "a run from Python equals the
CLI's run of the same spec bit for bit"). Environment (tests/python, wired by ctest):
PYTHONPATH=<src>/python, DLN_LIBRARY=<build>/libdln.so, DLN_CLI=<build>/dln, DLN_SOURCE_DIR."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import dln

CLI = os.environ.get("DLN_CLI", "dln")

# summary.json keys that differ between two runs of the same spec (any two runs: the run's
# id and wall-clock times), and the paths of data handed in as arrays ("mem:<job>/<option>"
# instead of the CLI's file name) or of the folder
VOLATILE = {"run_id", "wall_seconds", "wall_ms", "train_wall_seconds", "started", "finished", "time"}
PATHS = {"out", "target_file", "x_file", "y_file", "a_file", "b_file", "entries_file", "truth_file", "init_files",
         "disturbance_files", "imbalance_reg_file"}


def cli(args, cwd):
    return subprocess.run([CLI] + args, cwd=cwd, capture_output=True, text=True, timeout=120)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def diff_keys(a, b, path=""):
    """The key paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = set()
        for k in set(a) | set(b):
            out |= diff_keys(a.get(k), b.get(k), path + "/" + k) if k in a and k in b else {path + "/" + k}
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b)):
            out |= diff_keys(x, y, path)
        return out
    return set() if a == b or (a != a and b != b) else {path}


def allowed(key_path):
    leaf = key_path.rsplit("/", 1)[-1]
    if key_path.startswith("/memory/"):  # the process's memory (docs/memory.md): Python's is not the CLI's
        return True
    return leaf in VOLATILE or leaf in PATHS or leaf.endswith("_wall_seconds") or leaf.endswith("sha256")


class RunVsCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dln-test-run-")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def same_folders(self, a, b, arrays_in=False):
        """Every file of folder a is in b with the same bytes, but summary.json (only the
        volatile keys and paths differ), manifest.json (its hashes and run id) and, when
        arrays were handed in, nothing else."""
        fa, fb = sorted(os.listdir(a)), sorted(os.listdir(b))
        self.assertEqual(fa, fb)
        for f in fa:
            if f in ("summary.json", "manifest.json") or os.path.isdir(os.path.join(a, f)):
                continue
            with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
                self.assertEqual(x.read(), y.read(), "%s differs between %s and %s" % (f, a, b))
        sa, sb = (read_json(os.path.join(d, "summary.json")) for d in (a, b))
        keys = diff_keys(sa, sb)
        self.assertTrue(all(allowed(k) for k in keys), "summary.json differs in %s" % sorted(keys))
        self.assertIn("/run_id", keys)
        return keys

    def same_result(self, r, folder):
        """.trajectory / .weights / .initial_weights equal the folder's files exactly."""
        with open(os.path.join(folder, "trajectory.csv")) as f:
            names = f.readline().strip().split(",")
        data = np.loadtxt(os.path.join(folder, "trajectory.csv"), delimiter=",", skiprows=1, ndmin=2)
        self.assertEqual(list(r.trajectory), names)
        for i, n in enumerate(names):
            np.testing.assert_array_equal(r.trajectory[n], data[:, i], err_msg=n)
        for which, ws in (("final", r.weights), ("init", r.initial_weights)):
            self.assertGreater(len(ws), 0)
            for j, w in enumerate(ws, 1):
                np.testing.assert_array_equal(w, np.load(os.path.join(folder, "W%d_%s.npy" % (j, which))))
        self.assertEqual(r.summary, read_json(os.path.join(folder, "summary.json")))

    def pair(self, cli_args, **py):
        c = cli(["run", "--quiet", "--plot=false", "--out=cli"] + cli_args, self.tmp)
        self.assertEqual(c.returncode, 0, c.stderr)
        cwd = os.getcwd()
        os.chdir(self.tmp)  # relative file names as the CLI sees them
        try:
            r = dln.run(out="py", **py)
        finally:
            os.chdir(cwd)
        self.assertEqual(os.path.abspath(os.path.join(self.tmp, "py")), os.path.abspath(os.path.join(self.tmp, r.folder)))
        keys = self.same_folders(os.path.join(self.tmp, "cli"), os.path.join(self.tmp, "py"))
        self.same_result(r, os.path.join(self.tmp, "py"))
        return r, keys

    def test_gd_synthetic(self):
        r, keys = self.pair(["--rows=3", "--cols=4", "--widths=4,5,3", "--method=gd", "--eta=0.05", "--t_end=2",
                             "--sigma=0.3", "--seed=7"],
                            rows=3, cols=4, widths=[4, 5, 3], method="gd", eta=0.05, t_end=2, sigma=0.3, seed=7)
        self.assertEqual(r.stop_reason, "time")
        print("summary.json keys that differ (GD, synthetic):", sorted(keys))

    def test_flow_synthetic(self):
        r, keys = self.pair(["--rows=2", "--cols=3", "--width=4", "--method=flow", "--t_end=3", "--samples=7"],
                            rows=2, cols=3, width=4, method="flow", t_end=3.0, samples=7)
        self.assertEqual(len(r.trajectory["t"]), 7)
        print("summary.json keys that differ (flow, synthetic):", sorted(keys))

    def test_arrays_in(self):
        rng = np.random.default_rng(3)
        T = rng.standard_normal((3, 4))
        W1, W2 = 0.1 * rng.standard_normal((5, 4)), 0.1 * rng.standard_normal((3, 5))
        np.save(os.path.join(self.tmp, "t.npy"), T)
        np.save(os.path.join(self.tmp, "W1.npy"), W1)
        np.save(os.path.join(self.tmp, "W2.npy"), np.asfortranarray(W2))
        for method in ("gd", "flow"):
            shutil.rmtree(os.path.join(self.tmp, "cli"), True)
            shutil.rmtree(os.path.join(self.tmp, "py"), True)
            extra = ["--eta=0.02"] if method == "gd" else []
            r, keys = self.pair(["--target_file=t.npy", "--widths=4,5,3", "--init=file", "--init_files=W1.npy,W2.npy",
                                 "--method=" + method, "--t_end=1.5"] + extra,
                                target=T, widths="4,5,3", init=[W1, np.asfortranarray(W2)], method=method, t_end=1.5,
                                **({"eta": 0.02} if method == "gd" else {}))
            np.testing.assert_array_equal(r.initial_weights[0], W1)
            np.testing.assert_array_equal(r.initial_weights[1], W2)
            print("summary.json keys that differ (%s, arrays handed in):" % method, sorted(keys))

    def test_regression_arrays(self):
        rng = np.random.default_rng(5)
        X, Y = rng.standard_normal((4, 6)), rng.standard_normal((2, 6))
        np.save(os.path.join(self.tmp, "X.npy"), X)
        np.save(os.path.join(self.tmp, "Y.npy"), Y)
        self.pair(["--task=regression", "--x_file=X.npy", "--y_file=Y.npy", "--width=3", "--method=flow", "--t_end=1"],
                  task="regression", X=X, Y=Y, width=3, method="flow", t_end=1)

    def test_completion_truth(self):
        """Observed entries from a file with their true matrix (truth=, truth_file): the CLI and
        Python agree, and dist_true is |W(t) - W_true|_F recomputed from the final weights."""
        rng = np.random.default_rng(8)
        Wt = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 4))
        idx = [(0, 0), (0, 2), (1, 1), (1, 3), (2, 0), (2, 3), (0, 1), (2, 2)]
        E = np.array([[r, c, Wt[r, c]] for r, c in idx])
        np.save(os.path.join(self.tmp, "E.npy"), E)
        np.save(os.path.join(self.tmp, "Wt.npy"), Wt)
        for sub in ("cli", "py"):
            shutil.rmtree(os.path.join(self.tmp, sub), True)
        r, _ = self.pair(["--task=completion", "--rows=3", "--cols=4", "--entries_file=E.npy", "--truth_file=Wt.npy",
                          "--widths=4,4,3", "--method=gd", "--eta=0.2", "--t_end=20"],
                         task="completion", rows=3, cols=4, entries=E, truth=Wt, widths="4,4,3", method="gd", eta=0.2,
                         t_end=20)
        W = r.weights[1] @ r.weights[0]
        self.assertAlmostEqual(r.trajectory["dist_true"][-1], np.linalg.norm(W - Wt), delta=1e-12 * np.linalg.norm(Wt))
        with self.assertRaises(dln.DlnValueError) as cm:  # synthetic data carry their own truth
            dln.run(task="completion", rows=3, cols=4, m=5, truth=Wt, t_end=1)
        self.assertIn("truth_file", str(cm.exception))

    def test_spec_file(self):
        spec = {"rows": 2, "cols": 3, "width": 3, "method": "gd", "eta": 0.1, "t_end": 1.0, "samples": 4,
                "sigma": 0.2, "plot": False, "quiet": True}
        with open(os.path.join(self.tmp, "s.json"), "w") as f:
            json.dump(spec, f)
        c = cli(["run", "s.json", "--out=cli"], self.tmp)
        self.assertEqual(c.returncode, 0, c.stderr)
        r = dln.run(os.path.join(self.tmp, "s.json"), out=os.path.join(self.tmp, "py"))
        self.same_folders(os.path.join(self.tmp, "cli"), os.path.join(self.tmp, "py"))
        self.same_result(r, os.path.join(self.tmp, "py"))
        r2 = dln.run(spec)  # a dict: the same run, a temporary folder
        for n in r.trajectory:
            np.testing.assert_array_equal(r.trajectory[n], r2.trajectory[n])
        folder = r2.folder
        self.assertTrue(os.path.isdir(folder))
        del r2
        import gc
        gc.collect()
        self.assertFalse(os.path.exists(folder), "the temporary folder outlived its Result")
        # a spec file that names its folder: written there, as `dln run s2.json` would, and kept
        spec["out"] = os.path.join(self.tmp, "named")
        with open(os.path.join(self.tmp, "s2.json"), "w") as f:
            json.dump(spec, f)
        r3 = dln.run(os.path.join(self.tmp, "s2.json"))
        self.assertEqual(os.path.realpath(r3.folder), os.path.realpath(spec["out"]))
        del r3
        gc.collect()
        self.assertTrue(os.path.isfile(os.path.join(spec["out"], "manifest.json")))

    def test_option_values(self):
        """Python values as option text: a NumPy list for a list option, floats exactly, bools."""
        r = dln.run(rows=3, cols=4, widths=np.array([4, 5, 3]), sample_times=[0.5, 1.0], t_end=1.0, method="flow",
                    sigma=0.1 + 0.2, blowup=np.float64(1e12), force=False)
        self.assertEqual([w.shape for w in r.weights], [(5, 4), (3, 5)])
        self.assertIn(0.5, list(r.trajectory["t"]))
        self.assertEqual(r.summary["spec"]["sigma"], 0.1 + 0.2)  # repr: the same double
        with self.assertRaises(TypeError):
            dln.run(rows=3, sigma={"a": 1})
        with self.assertRaises(dln.DlnValueError) as cm:
            dln.run(rows=2, cols=2, target=np.ones((2, 2, 2)))
        self.assertIn("target_file: expected a non-empty 1-D or 2-D array", str(cm.exception))

    def test_keep(self):
        r = dln.run(rows=2, cols=2, width=2, t_end=0.5, samples=3)
        dest = r.keep(os.path.join(self.tmp, "kept"))
        del r
        import gc
        gc.collect()
        self.assertTrue(os.path.isfile(os.path.join(dest, "summary.json")))

    def test_load_equals_result(self):
        args = ["--rows=2", "--cols=3", "--width=3", "--method=flow", "--t_end=2", "--samples=5", "--seed=11"]
        c = cli(["run", "--quiet", "--plot=false", "--out=cli"] + args, self.tmp)
        self.assertEqual(c.returncode, 0, c.stderr)
        loaded = dln.load(os.path.join(self.tmp, "cli"))
        r = dln.run(rows=2, cols=3, width=3, method="flow", t_end=2, samples=5, seed=11)
        self.assertEqual(list(loaded.trajectory), list(r.trajectory))
        for n in r.trajectory:
            np.testing.assert_array_equal(loaded.trajectory[n], r.trajectory[n], err_msg=n)
        for a, b in zip(loaded.weights + loaded.initial_weights, r.weights + r.initial_weights):
            np.testing.assert_array_equal(a, b)
        self.assertEqual(len(loaded.weights), 2)
        keys = diff_keys(loaded.summary, r.summary)
        self.assertTrue(all(allowed(k) for k in keys), sorted(keys))
        self.assertEqual(loaded.stop_reason, r.stop_reason)

    def test_check_good_and_tampered(self):
        r = dln.run(rows=2, cols=3, width=3, method="flow", t_end=2, samples=5, out=os.path.join(self.tmp, "o"))
        rep = r.check()
        self.assertTrue(rep.ok, rep.message)
        self.assertTrue(bool(rep))
        self.assertEqual(rep.inconsistent, 0)
        self.assertGreater(len(rep.results), 5)
        self.assertTrue(any(x["verdict"] == "holds" and x.get("integrity") for x in rep.results))
        # tamper: one weight changed in W1_final.npy (same size, new bytes)
        p = os.path.join(self.tmp, "o", "W1_final.npy")
        w = np.load(p)
        w[0, 0] += 1e-3
        np.save(p, w)
        bad = dln.check(os.path.join(self.tmp, "o"))
        self.assertFalse(bad.ok)
        self.assertGreater(bad.inconsistent, 0)
        self.assertIn("W1_final.npy", bad.message)
        with self.assertRaises(dln.DlnCheckError) as cm:
            dln.check(r, strict=True)
        self.assertIsInstance(cm.exception, ValueError)
        c = cli(["check", "--quiet", os.path.join(self.tmp, "o")], self.tmp)
        self.assertEqual(c.returncode, 5)
        self.assertIn(bad.message, c.stderr)  # the CLI's line
        with self.assertRaises(dln.DlnValueError):
            dln.check(os.path.join(self.tmp, "no-such-folder"))

    def test_threads(self):
        """Two runs on two threads (the GIL released in C) equal their sequential runs bit for bit."""
        kws = [dict(rows=4, cols=5, widths=[5, 30, 30, 4], method="flow", t_end=30, samples=50, seed=s, rtol=1e-10)
               for s in (1, 2)]
        t0 = time.perf_counter()
        seq = [dln.run(**k) for k in kws]
        t_seq = time.perf_counter() - t0
        par = [None, None]

        def go(i):
            par[i] = dln.run(**kws[i])
        ths = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        t0 = time.perf_counter()
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t_par = time.perf_counter() - t0
        for a, b in zip(seq, par):
            self.assertIsNotNone(b)
            for n in a.trajectory:
                np.testing.assert_array_equal(a.trajectory[n], b.trajectory[n])
            for x, y in zip(a.weights, b.weights):
                np.testing.assert_array_equal(x, y)
        print("two runs: sequential %.3f s, on two threads %.3f s (load %s)" % (t_seq, t_par, os.getloadavg()[0]))


CTRL_C = r"""
import signal, sys, time, dln
t_sig = []
def on_int(sig, frame):  # Python's own handler, also when started with SIGINT ignored; notes the time
    t_sig.append(time.perf_counter())
    raise KeyboardInterrupt
signal.signal(signal.SIGINT, on_int)
try:
    dln.run(rows=3, cols=3, width=3, method="gd", eta=1e-7, t_end=1e3, samples=5, out=sys.argv[1])
    print("FINISHED")
except KeyboardInterrupt:
    print("KI %.6f" % (time.perf_counter() - t_sig[0]), flush=True)
"""


class CtrlC(unittest.TestCase):
    @staticmethod
    def interrupt(cmd, out):
        """Start cmd, SIGINT it 1 s after its run folder appeared; seconds to its exit, stdout."""
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 20  # the run has started once its folder (and lock) exists
        while not os.path.exists(out) and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)
        t_kill = time.perf_counter()
        p.send_signal(signal.SIGINT)
        so, _ = p.communicate(timeout=30)
        return time.perf_counter() - t_kill, so, p.returncode

    def test_sigint(self):
        # on tmpfs when there is one: the partial outputs are fsync'ed, up to 0.1 s each on
        # this machine's shared disk; the time measured is then the stop's
        tmp = tempfile.mkdtemp(prefix="dln-test-sigint-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        try:
            out = os.path.join(tmp, "o")
            t_py, so, _ = self.interrupt([sys.executable, "-c", CTRL_C, out], out)
            self.assertTrue(so.startswith("KI"), so)
            t_ki = float(so.split()[1])  # from the signal's handler to the KeyboardInterrupt caught
            self.assertLess(t_py, 1.0, "the process took %.2f s to exit after SIGINT" % t_py)
            s = read_json(os.path.join(out, "summary.json"))
            self.assertIs(s["complete"], False)
            self.assertEqual(s["stop_reason"], "interrupted")  # as an interrupted `dln run`:
            cout = os.path.join(tmp, "c")
            t_cli, _, rc = self.interrupt([CLI, "run", "--quiet", "--plot=false", "--out=" + cout, "--rows=3", "--cols=3",
                                           "--width=3", "--method=gd", "--eta=1e-7", "--t_end=1e3", "--samples=5"], cout)
            self.assertEqual(rc, 130)
            c = read_json(os.path.join(cout, "summary.json"))
            self.assertEqual((c["complete"], c["stop_reason"]), (s["complete"], s["stop_reason"]))
            self.assertEqual(sorted(os.listdir(out)), sorted(os.listdir(cout)))
            print("Ctrl-C: KeyboardInterrupt %.3f s after the signal handler ran, the Python process exited %.3f s "
                  "after SIGINT, the CLI %.3f s (load %.1f)" % (t_ki, t_py, t_cli, os.getloadavg()[0]))
        finally:
            shutil.rmtree(tmp, True)


RESUME_MEM = r"""
import sys, numpy as np, dln
rng = np.random.default_rng(4)
T, W1, W2 = rng.standard_normal((3, 3)), 0.3 * rng.standard_normal((3, 3)), 0.3 * rng.standard_normal((3, 3))
for name, a in (("T", T), ("W1", W1), ("W2", W2)):
    np.save("%s/%s.npy" % (sys.argv[2], name), a)
try:
    dln.run(out=sys.argv[1], target=T, init=[W1, W2], widths=[3, 3, 3], method="gd", eta=1e-7, t_end=4,
            samples=5, checkpoint_every=2000000)
    print("FINISHED")
except KeyboardInterrupt:
    print("KI")
"""


class ResumeMem(unittest.TestCase):
    def test_resume_arrays(self):
        """A Python run with arrays handed in (mem: paths), interrupted, is continued by
        `dln run --resume` in another process from the folder's copies, and ends as the
        same run from files does."""
        tmp = tempfile.mkdtemp(prefix="dln-test-resume-mem-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        try:
            out = os.path.join(tmp, "o")
            _, so, _ = CtrlC.interrupt([sys.executable, "-c", RESUME_MEM, out, tmp], out)
            if not so.startswith("KI"):
                self.skipTest("the run finished before the signal (%s)" % so.strip())
            self.assertTrue(os.path.exists(os.path.join(out, "checkpoint.json")))
            r = cli(["run", "--resume", out, "--quiet"], tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            f = cli(["run", "--quiet", "--plot=false", "--out=files", "--target_file=T.npy", "--widths=3,3,3",
                     "--init=file", "--init_files=W1.npy,W2.npy", "--method=gd", "--eta=1e-7", "--t_end=4",
                     "--samples=5", "--checkpoint_every=2000000"], tmp)
            self.assertEqual(f.returncode, 0, f.stderr)
            for name in ("trajectory.csv", "W1_final.npy", "W2_final.npy"):
                with open(os.path.join(out, name), "rb") as a, open(os.path.join(tmp, "files", name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name)
            self.assertIs(read_json(os.path.join(out, "summary.json"))["complete"], True)
        finally:
            shutil.rmtree(tmp, True)


if __name__ == "__main__":
    unittest.main()
