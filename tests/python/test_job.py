"""python/dln/_job.py, the one job wrapper of dln.run, dln.sweep, dln.Loss and dln.train: the
cases where the two wrappers it replaced differed, each checked through both APIs against
the CLI's run of the same files (the independent truth). Environment as tests/python/test_run.py."""
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

import dln
from dln import _job

CLI = os.environ.get("DLN_CLI", "dln")


class TestJob(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dln-test-job-")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def cli_traj(self, args):
        """The CLI's trajectory of a run (exact %.17g cells)."""
        r = subprocess.run([CLI, "run", "--quiet", "--plot=false", "--out=cli"] + args, cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return dln.load(os.path.join(self.tmp, "cli")).trajectory

    def test_option_text(self):
        # an empty list is the empty list "" (the CLI refuses "none" for a list of numbers)
        self.assertEqual(_job.option_text([]), "")
        self.assertEqual(_job.option_text(np.array([4, 5, 3])), "4,5,3")
        self.assertEqual(_job.option_text(0.1 + 0.2), "0.30000000000000004")  # repr: the same double
        self.assertEqual(_job.option_text(np.bool_(True)), "true")
        with self.assertRaisesRegex(TypeError, "option sigma: expected a number"):
            _job.option_text({"a": 1}, "sigma")
        r = dln.run(rows=2, cols=2, width=2, t_end=0.5, samples=3, sample_times=[])
        self.assertEqual(len(r.trajectory["t"]), 3)
        loss = dln.Loss("factorization", rows=2, cols=2, width=2, seed=1)
        tr = dln.train(loss, t_end=0.5, samples=3, sample_times=[])
        self.assertEqual(len(tr.trajectory["t"]), 3)

    def test_short_names_and_paths(self):
        """X="x.npy" (text for a short name that is not an option) is x_file's path; nested
        lists are arrays; init=[paths] is init "file" with those files: all equal the CLI."""
        rng = np.random.default_rng(7)
        X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
        W1, W2 = 0.1 * rng.standard_normal((4, 3)), 0.1 * rng.standard_normal((2, 4))
        for name, a in (("X", X), ("Y", Y), ("W1", W1), ("W2", W2)):
            np.save(os.path.join(self.tmp, name + ".npy"), a)
        p = lambda n: os.path.join(self.tmp, n + ".npy")  # noqa: E731
        opts = dict(task="regression", method="gd", eta=0.05, t_end=0.5, samples=4)
        truth = self.cli_traj(["--task=regression", "--x_file=X.npy", "--y_file=Y.npy", "--init=file",
                               "--init_files=W1.npy,W2.npy", "--widths=3,4,2", "--method=gd", "--eta=0.05",
                               "--t_end=0.5", "--samples=4"])
        runs = [dln.run(X=p("X"), Y=p("Y"), init=[p("W1"), p("W2")], widths=[3, 4, 2], **opts),
                dln.run(X=X.tolist(), Y=Y.tolist(), init=[W1, W2], widths=[3, 4, 2], **opts)]
        loss = dln.Loss(X=p("X"), Y=p("Y"), **opts)
        trained = [dln.train(loss, [W1.tolist(), W2], **opts),
                   dln.train(dln.Loss(X=X.tolist(), Y=Y, **opts), [W1, W2], **opts)]
        for r in runs + trained:
            for c in ("t", "loss"):
                np.testing.assert_array_equal(r.trajectory[c], truth[c])
        # target="lowrank" stays the option; init="gaussian" the scheme
        self.assertEqual(_job.ARRAY_NAMES["target"], "target_file")
        r = dln.run(rows=2, cols=2, width=2, t_end=0.2, samples=2, target="lowrank", rank=1, init="gaussian")
        self.assertEqual(r.summary["spec"]["target"], "lowrank")

    def test_list_option_items(self):
        """imbalance_reg_file is a list option: [L1, L2] is two items (one Λ_j each) in both
        APIs, equal to the CLI's run of the two files (depth 3 needs N - 1 = 2 of them)."""
        L1, L2 = 0.7 * np.eye(3), np.diag([0.5, 0.6, 0.8])
        np.save(os.path.join(self.tmp, "L1.npy"), L1)
        np.save(os.path.join(self.tmp, "L2.npy"), L2)
        opts = dict(rows=2, cols=4, widths=[4, 3, 3, 2], init="gaussian", sigma=1, t_end=0.5, samples=5)
        truth = self.cli_traj(["--rows=2", "--cols=4", "--widths=4,3,3,2", "--init=gaussian", "--sigma=1",
                               "--t_end=0.5", "--samples=5", "--imbalance_reg_file=L1.npy,L2.npy"])
        self.assertIn("imbalance_reg", truth)
        r = dln.run(imbalance_reg_file=[L1, L2], **opts)
        tr = dln.train(dln.Loss("factorization", imbalance_reg_file=[L1, L2], **opts))
        for res in (r, tr):
            for c in ("t", "loss", "imbalance_reg"):
                np.testing.assert_array_equal(res.trajectory[c], truth[c])

    def test_array_checks(self):
        """Arrays are 1-D or 2-D, non-empty and numeric, the option named, in both APIs."""
        for bad, msg in ((np.empty((0, 2)), "target_file: expected a non-empty"),
                         (np.ones((2, 2, 2)), "target_file: expected a non-empty 1-D or 2-D"),
                         ([["a", "b"]], "target_file: expected a numeric array"),
                         ([["1.5", "2"]], r"target_file: expected a numeric array of real numbers, found dtype <U3"),
                         (np.ones((2, 2), dtype=complex), "found dtype complex128"),
                         ([[1.0, None], [2.0, 3.0]], "found dtype object")):
            with self.assertRaisesRegex(dln.DlnValueError, msg):
                dln.run(rows=2, cols=2, target=bad)
            with self.assertRaisesRegex(dln.DlnValueError, msg):
                dln.Loss("factorization", target=bad)
        with self.assertRaisesRegex(dln.DlnValueError, r"init_files\[1\]: expected a non-empty"):
            dln.run(rows=2, cols=2, init=[np.ones((2, 2)), np.empty((0, 0))])
        # the CLI's words for an unknown option, from both APIs
        for f in (lambda: dln.run(nosuch=1), lambda: dln.Loss("factorization", nosuch=1)):
            with self.assertRaisesRegex(dln.DlnValueError, r"^unknown option '--nosuch' \(see dln run --help\)$"):
                f()

    def test_layers_fortran(self):
        """Layers read back from a job are Fortran-order copies in both APIs."""
        r = dln.run(rows=3, cols=2, width=4, t_end=0.2, samples=2)
        tr = dln.train(dln.Loss("factorization", rows=3, cols=2, width=4), t_end=0.2, samples=2)
        for w in r.weights + r.initial_weights + tr.weights + tr.initial_weights:
            self.assertTrue(w.flags.f_contiguous and w.flags.owndata and w.flags.writeable)
        np.testing.assert_array_equal(r.weights[0], np.load(os.path.join(r.folder, "W1_final.npy")))


if __name__ == "__main__":
    unittest.main()
