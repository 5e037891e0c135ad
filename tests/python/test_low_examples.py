"""examples/python/fig002_3.py and fig002_3.ipynb (002 Fig. 3 from Python) in their quick
setting: the script writes its PNG and learning times, which equal those computed here from
the CLI's runs of the same options; the notebook executes (Debian's nbclient, nbformat and
ipykernel; skipped with the reason when they do not import) and prints the same times.
Environment (set by ctest): PYTHONPATH, DLN_CLI, DLN_SOURCE_DIR."""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SRC = os.environ.get("DLN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
EX = os.path.join(SRC, "examples", "python")


def cli_times(d, depth):
    """Learning times t_1..t_3 of `dln run` with the example's quick options (t_i: the first
    sample where sv_i reaches half its final value, as src/run/figures/fig002_3.c)."""
    net = ["--depth=%d" % depth] + (["--width=10"] if depth > 1 else [])
    out = os.path.join(d, "cli%d" % depth)
    p = subprocess.run([os.environ.get("DLN_CLI", "dln"), "run", "--out", out, "--plot=false", "--quiet",
                        "--task=sensing", "--rows=10", "--cols=10", "--target=lowrank", "--rank=3", "--m=80",
                        "--sigma=0.01", "--method=gd", "--eta=0.01", "--t_end=30", "--log_samples=true",
                        "--samples=61", "--observe=loss,sv,truth"] + net, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "trajectory.csv")) as f:
        names = f.readline().strip().split(",")
    m = np.loadtxt(os.path.join(out, "trajectory.csv"), delimiter=",", skiprows=1)
    col = {n: m[:, i] for i, n in enumerate(names)}
    return [col["t"][np.nonzero(col["sv_%d" % i] >= col["sv_%d" % i][-1] / 2)[0][0]] for i in (1, 2, 3)]


def env():
    e = dict(os.environ, DLN_EXAMPLE_QUICK="1", MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    return e


class TestExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.truth = {d: cli_times(cls.tmp.name, d) for d in (1, 2, 3)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_script(self):
        out = os.path.join(self.tmp.name, "py")
        p = subprocess.run([sys.executable, os.path.join(EX, "fig002_3.py"), "--quick", "--out", out],
                           capture_output=True, text=True, env=env(), timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        m = np.loadtxt(os.path.join(out, "fig002_3_times.csv"), delimiter=",", skiprows=1)
        for d in (1, 2, 3):
            np.testing.assert_array_equal(m[d - 1, 1:4], self.truth[d])  # the same runs: equal times
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.skipTest("python3-matplotlib not installed: no PNG to check")
        with open(os.path.join(out, "fig002_3.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_notebook(self):
        try:
            import nbclient
            import nbformat
            import ipykernel  # noqa: F401
        except ImportError as e:
            print("test_notebook skipped: Debian's Jupyter tools do not import (%s)" % e)
            self.skipTest("nbclient/nbformat/ipykernel not importable: %s" % e)
        nb = nbformat.read(os.path.join(EX, "fig002_3.ipynb"), as_version=4)
        nbformat.validate(nb)
        png = os.path.join(self.tmp.name, "nb.png")
        old = dict(os.environ)
        os.environ.update(env(), DLN_EXAMPLE_PNG=png)  # the kernel inherits the environment
        try:
            nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                    resources={"metadata": {"path": self.tmp.name}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        for d in (1, 2, 3):
            self.assertIn("depth %d: t_i = %s," % (d, " ".join("%.4g" % x for x in self.truth[d])), text)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
