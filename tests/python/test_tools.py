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
