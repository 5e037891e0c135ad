"""dln.sweep and dln.figure against `dln sweep` and `dln figure` (issue 13). Environment as
tests/python/test_run.py (PYTHONPATH, DLN_LIBRARY, DLN_CLI, DLN_SOURCE_DIR)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

import dln

CLI = os.environ.get("DLN_CLI", "dln")

SWEEP = {"rows": 2, "cols": 3, "width": 3, "method": "flow", "t_end": 0.5, "samples": 3, "quiet": True,
         "sweep": {"sigma": [0.1, 0.5], "seed": {"from": 1, "count": 2}}}


class Sweep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dln-test-sweep-")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def test_table_equals_cli(self):
        path = os.path.join(self.tmp, "s.json")
        with open(path, "w") as f:
            json.dump(SWEEP, f)
        c = subprocess.run([CLI, "sweep", path, "--out", os.path.join(self.tmp, "cli"), "--threads", "1", "--quiet"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(c.returncode, 0, c.stderr)
        csv = os.path.join(self.tmp, "cli", "ensemble.csv")
        with open(csv) as f:
            names = f.readline().strip().split(",")
        ref = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
        for spec in (path, SWEEP):  # a file or a dict; 2 threads: the same table
            tab = dln.sweep(spec, threads=2, as_frame=False)
            self.assertEqual(list(tab.dtype.names), names)
            self.assertEqual(len(tab), ref.shape[0])
            self.assertEqual(len(set(tab["run"])), 4)
            for i, n in enumerate(names):
                np.testing.assert_array_equal(tab[n].astype(np.float64), ref[:, i], err_msg=n)
        self.assertEqual(tab["seed"].dtype, np.uint64)
        # into a folder: ensemble.csv byte for byte
        dln.sweep(path, out=os.path.join(self.tmp, "py"), threads=1)
        with open(csv, "rb") as a, open(os.path.join(self.tmp, "py", "ensemble.csv"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        print("sweep: %d rows x %d columns equal to dln sweep's ensemble.csv" % ref.shape)

    def test_override_and_errors(self):
        tab = dln.sweep(SWEEP, t_end=0.25, as_frame=False)  # an option over the spec's
        self.assertEqual(float(tab["t"].max()), 0.25)
        with self.assertRaises(dln.DlnValueError) as cm:
            dln.sweep({k: v for k, v in SWEEP.items() if k != "sweep"})
        self.assertIn("expected a \"sweep\" object", str(cm.exception))
        with self.assertRaises(dln.DlnValueError) as cm:
            dln.sweep(SWEEP, bogus=1)
        self.assertIn("unknown option '--bogus'", str(cm.exception))
        # an array in the dict: the data of every run (as target= would be)
        T = np.arange(6.0).reshape(2, 3) / 10
        a = dln.sweep(dict(SWEEP, target=T), as_frame=False)
        b = dln.sweep(SWEEP, target=T, as_frame=False)
        for n in a.dtype.names:
            np.testing.assert_array_equal(a[n], b[n], err_msg=n)

    def test_legend(self):
        """A coded column (a swept method) decodes by the legend that rides with the table,
        also when the sweep's temporary folder is gone."""
        spec = dict(SWEEP, eta=0.01, sweep={"method": ["gd", "flow"], "seed": [1, 2]})
        tab = dln.sweep(spec, as_frame=False)
        legend = tab.dtype.metadata["legend"]
        self.assertEqual(legend, {"method": ["gd", "flow"]})
        self.assertEqual(sorted({legend["method"][int(c)] for c in tab["method"]}), ["flow", "gd"])
        try:
            import pandas  # noqa: F401
        except ImportError:
            return
        self.assertEqual(dln.sweep(spec, as_frame=True).attrs["legend"], legend)


CTRL_C_HANDLER = r"""
import signal, sys, time, dln
t_sig = []
def on_int(sig, frame):
    t_sig.append(time.perf_counter())
    raise KeyboardInterrupt
signal.signal(signal.SIGINT, on_int)
"""

SWEEP_CTRL_C = CTRL_C_HANDLER + r"""
spec = {"rows": 3, "cols": 3, "width": 3, "method": "gd", "eta": 1e-6, "samples": 3,
        "sweep": {"t_end": [0.001, 1000]}}  # run 0 finishes, run 1 is stopped
try:
    dln.sweep(spec, out=sys.argv[1], threads=1)
    print("FINISHED")
except KeyboardInterrupt:
    print("KI %.6f" % (time.perf_counter() - t_sig[0]), flush=True)
"""


def ctrl_c(script, out, ready, wait):
    """Run script (argv[1] = out) in a new Python, SIGINT it `wait` s after out/ready appeared:
    its stdout and the seconds from the signal to its exit."""
    import signal
    import subprocess as sp
    import sys
    import time
    p = sp.Popen([sys.executable, "-c", script, out], stdout=sp.PIPE, text=True)
    deadline = time.time() + 20
    while not os.path.isdir(os.path.join(out, ready)) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(wait)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    so, _ = p.communicate(timeout=60)
    return so, time.perf_counter() - t0


def sigint_case(test, what, script, marker, wait, limit, final, check=None):
    """script (SWEEP_CTRL_C, FIGURE_CTRL_C) interrupted by ctrl_c into a fresh folder: a
    KeyboardInterrupt, exit within limit s, final (its last output) not written; check(out)."""
    tmp = tempfile.mkdtemp(prefix="dln-test-%s-sigint-" % what, dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    try:
        out = os.path.join(tmp, "o")
        so, t_exit = ctrl_c(script, out, marker, wait)
        test.assertTrue(so.startswith("KI"), so)
        test.assertLess(t_exit, limit)
        test.assertFalse(os.path.exists(os.path.join(out, final)))  # nothing committed
        if check:
            check(out)
        print("%s Ctrl-C: KeyboardInterrupt %.3f s after the handler, exit %.3f s after SIGINT" % (what, float(so.split()[1]), t_exit))
    finally:
        shutil.rmtree(tmp, True)


class SweepCtrlC(unittest.TestCase):
    def test_sigint(self):
        def kept_one(out):  # the finished run, for --resume
            with open(os.path.join(out, ".partial", "runs.jsonl")) as f:
                self.assertEqual(len(f.read().splitlines()), 1)
        sigint_case(self, "sweep", SWEEP_CTRL_C, ".partial", 1.0, 1.0, "ensemble.csv", kept_one)


FIGURE_CTRL_C = CTRL_C_HANDLER + r"""
try:
    dln.figure("002-fig2", out=sys.argv[1], render=False)  # about 14 s
    print("FINISHED")
except KeyboardInterrupt:
    print("KI %.6f" % (time.perf_counter() - t_sig[0]), flush=True)
"""


class FigureCtrlC(unittest.TestCase):
    def test_sigint(self):
        sigint_case(self, "figure", FIGURE_CTRL_C, "sweep", 0.5, 5.0, "manifest.json")


class Figure(unittest.TestCase):
    def test_quick_figure(self):
        names = dln.figures()
        self.assertIn("003-fig2", names)
        f = dln.figure("003-fig2", quick=True, render=False)
        self.assertEqual((f.holds, f.fails), (2, 0))
        self.assertEqual(len(f.verdicts), f.holds + f.fails + f.not_checked)
        self.assertTrue(all(v in ("holds", "fails", "not checked") for _, v, _ in f.verdicts))
        self.assertTrue(f.ok)
        self.assertIn("003 Thm 1", f.verdicts[0][0])
        self.assertTrue(os.path.isfile(os.path.join(f.folder, "plot.py")))
        print("figure 003-fig2 --quick:", [(c, v) for c, v, _ in f.verdicts])
        with self.assertRaises(dln.DlnValueError) as cm:
            dln.figure("no-such-figure")
        self.assertIn("found 'no-such-figure'", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
