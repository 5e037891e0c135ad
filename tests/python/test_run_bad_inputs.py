"""Every `dln run` row of tests/bad_inputs/cases.tsv through dln.run (issue 13: "every
bad-input row of the CLI's table raises the right exception with the same message").

Each row's setup actions are replayed in a fresh folder (its working directory), its
`--name=value` arguments become options (values as text), its spec file argument spec=.
Expected: exit 0 runs without exception; 64, 65, 66 (usage, data, no input) raise
DlnValueError (a ValueError); 73 (cannot create) DlnOSError (an OSError); 70 (integrator
failure) DlnRuntimeError; 3 (diverged) DlnDivergedError (a RuntimeError). The message
contains the row's fragment. Skipped rows (printed with their reason and counted): --resume
(dln.run has no resume), and command lines that only the command line can say (--help,
--version, several spec files, -x short options)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

import dln

SRC = os.environ.get("DLN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("DLN_CLI", "dln")
EXPECT = {0: None, 64: dln.DlnValueError, 65: dln.DlnValueError, 66: dln.DlnValueError, 73: dln.DlnOSError,
          70: dln.DlnRuntimeError, 3: dln.DlnDivergedError}


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            c = s[i + 1]
            if c == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(c, c))
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out).encode("latin-1")


def setup(actions, cwd):
    """The row's setup actions (format at the top of cases.tsv)."""
    for act in filter(None, (a.strip() for a in actions.split(";"))):
        kind, _, arg = act.partition(" ")
        if kind == "file":
            name, _, text = arg.partition("=")
            with open(os.path.join(cwd, name), "wb") as f:
                f.write(unescape(text))
        elif kind == "npy":
            name, _, spec = arg.partition("=")
            shape, _, v = spec.partition(":")
            r, c = (int(x) for x in shape.split("x"))
            # entries V*(1 + i mod 7), i in column-major order (as tests/test_bad_inputs.c)
            a = float(v) * (1 + np.arange(r * c) % 7)
            np.save(os.path.join(cwd, name), a.reshape((r, c), order="F"))
        elif kind == "fifo":
            p = os.path.join(cwd, arg)
            if os.path.exists(p):
                os.unlink(p)
            os.mkfifo(p)
        elif kind == "dir":
            os.makedirs(os.path.join(cwd, arg), exist_ok=True)
        elif kind == "link":
            name, _, target = arg.partition("=")
            os.symlink(target, os.path.join(cwd, name))
        elif kind == "dln":
            r = subprocess.run([CLI] + arg.split(" "), cwd=cwd, capture_output=True, timeout=60)
            assert r.returncode == 0, (act, r.stderr)
        else:
            raise AssertionError("unknown setup action " + act)


def _is_bool(name):
    """An option whose default is true or false (a flag: --name alone means true); an
    unknown name counts as one (dln.run then refuses it)."""
    from dln._job import Job
    job = Job()
    return not job.known(name) or job.get(name) in ("true", "false")


def translate(args):
    """`run ...` arguments as (spec, options) or (None, reason to skip)."""
    spec, opts = None, {}
    toks = args.split(" ")[1:]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("--help", "--version") or t.startswith("--resume"):
            return None, "%s (no dln.run counterpart)" % t
        if t.startswith("--"):
            name, eq, value = t[2:].partition("=")
            if not eq and _is_bool(name):
                value = "true"
            elif not eq and i + 1 < len(toks):  # --name value (getopt's required argument)
                i += 1
                value = toks[i]
            elif not eq:
                return None, "--%s without a value (command-line syntax)" % name
            opts[name] = value
        elif t.startswith("-") and len(t) > 1:
            return None, "short option %s (command-line syntax)" % t
        elif spec is None:
            spec = t
        else:
            return None, "several spec files (command-line syntax)"
        i += 1
    return (spec, opts), None


def rows():
    with open(os.path.join(SRC, "tests", "bad_inputs", "cases.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 5 and fields[4].split(" ")[0] == "run":
                yield fields


class BadInputs(unittest.TestCase):
    def test_rows(self):
        tmp = tempfile.mkdtemp(prefix="dln-test-bad-")
        here = os.getcwd()
        ran, skipped, failures = 0, [], []
        try:
            for name, code, msg, acts, args, *_ in rows():
                code = int(code)
                tr, why = translate(args)
                if tr is None:
                    skipped.append((name, why))
                    continue
                if code not in EXPECT:
                    skipped.append((name, "exit %d has no exception class" % code))
                    continue
                cwd = os.path.join(tmp, name)
                os.makedirs(cwd)
                if acts != "-":
                    setup(acts, cwd)
                os.chdir(cwd)
                spec, opts = tr
                plot = opts.pop("plot", "false")
                try:
                    res = dln.run(spec, plot=plot, **opts)
                    got = None
                except Exception as e:  # noqa: BLE001 - compared below
                    got, res = e, None
                finally:
                    os.chdir(here)
                ran += 1
                want = EXPECT[code]
                if want is None:
                    if got is not None:
                        failures.append("%s: expected no exception, found %s: %s" % (name, type(got).__name__, got))
                    continue
                if not isinstance(got, want):
                    failures.append("%s: expected %s (exit %d), found %s: %s" % (
                        name, want.__name__, code, type(got).__name__ if got else "no exception", got))
                elif msg != "-" and msg not in str(got):
                    failures.append("%s: expected the message to contain '%s', found '%s'" % (name, msg, got))
                del res
        finally:
            os.chdir(here)
            shutil.rmtree(tmp, True)
        print("cases.tsv `run` rows: %d run through dln.run, %d skipped" % (ran, len(skipped)))
        for name, why in skipped:
            print("  skipped %s: %s" % (name, why))
        self.assertGreater(ran, 100)
        self.assertEqual(failures, [], "\n".join(failures))


if __name__ == "__main__":
    unittest.main()
