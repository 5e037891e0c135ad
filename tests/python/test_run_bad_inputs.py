"""Every `dln run`, `dln sweep`, `dln check` and `dln figure` row of tests/bad_inputs/cases.tsv
through dln.run, dln.sweep, dln.check (strict) and dln.figure (issue 13: "every bad-input row
of the CLI's table raises the right exception with the same message"). The other commands
(robust, compress, merge, fit-lambda0) have no Python counterpart.

Each row's setup actions are replayed in a fresh folder (its working directory), its
`--name=value` arguments become options (values as text), its spec file argument spec=.
Expected: exit 0 runs without exception; 64, 65, 66 (usage, data, no input) raise
DlnValueError (a ValueError); 73 (cannot create) DlnOSError (an OSError); 70 (integrator
failure) DlnRuntimeError; 3 (diverged) DlnDivergedError (a RuntimeError); 4 and 5 (check:
violated, inconsistent) DlnCheckError. The message contains the row's fragment. Skipped rows
(printed with their reason and counted): --resume, sweep's --shard/--dry-run, check's
--critical (no Python counterpart), and command lines that only the command line can say
(--help, --version, --list, a missing or second positional argument, -x short options)."""
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
          70: dln.DlnRuntimeError, 3: dln.DlnDivergedError, 4: dln.DlnCheckError, 5: dln.DlnCheckError}
COMMANDS = ("run", "sweep", "check", "figure")
FIGURE_OPTIONS = ("quick", "force", "out")
NO_COUNTERPART = ("--resume", "--shard", "--dry-run", "--critical", "--list", "--merge")


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
    """`CMD ...` arguments as (positional, options) or (None, reason to skip)."""
    spec, opts = None, {}
    toks = args.split(" ")[1:]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("--help", "--version") or t.split("=")[0] in NO_COUNTERPART:
            return None, "%s (no Python counterpart)" % t
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
            return None, "several positional arguments (command-line syntax)"
        i += 1
    cmd = args.split(" ")[0]
    if spec is None and cmd != "run":
        return None, "no positional argument (command-line syntax)"
    odd = [k for k in opts if k not in FIGURE_OPTIONS] if cmd == "figure" else []
    if odd:
        return None, "--%s (not an option of dln figure; a keyword error in Python)" % odd[0]
    return (spec, opts), None


def call(cmd, spec, opts):
    """The Python counterpart of `dln CMD SPEC OPTS`."""
    if cmd == "run":
        plot = opts.pop("plot", "false")
        return dln.run(spec, plot=plot, **opts)
    if cmd == "sweep":
        kw = {k: opts.pop(k) for k in ("out", "plot", "wide") if k in opts}
        if "threads" in opts:
            kw["threads"] = int(opts.pop("threads"))
        return dln.sweep(spec, **kw, **opts)
    if cmd == "check":
        kw = {k: float(opts.pop(k)) for k in ("slack", "tol") if k in opts}
        if opts:
            raise AssertionError("check: unexpected options %s" % opts)
        return dln.check(spec, strict=True, **kw)
    kw = {"quick": opts.pop("quick", "false") == "true", "force": opts.pop("force", "false") == "true"}
    if "out" in opts:
        kw["out"] = opts.pop("out")
    if opts:
        raise AssertionError("figure: unexpected options %s" % opts)
    return dln.figure(spec, render=False, **kw)


def rows():
    with open(os.path.join(SRC, "tests", "bad_inputs", "cases.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 5 and fields[4].split(" ")[0] in COMMANDS:
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
                try:
                    res = call(args.split(" ")[0], spec, opts)
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
        print("cases.tsv rows of %s: %d run through Python, %d skipped" % ("/".join(COMMANDS), ran, len(skipped)))
        for name, why in skipped:
            print("  skipped %s: %s" % (name, why))
        self.assertGreater(ran, 100)
        self.assertEqual(failures, [], "\n".join(failures))


if __name__ == "__main__":
    unittest.main()
