"""`dln check` of one run folder over the C ABI (dln_abi_check, include/dln/abi.h): the
report shared by dln.check (python/dln/_tools.py) and Result.check (python/dln/_run.py)."""
import json
import os

from . import _ffi
from ._ffi import DlnValueError, ffi, lib


class DlnCheckError(DlnValueError):
    """dln.check(..., strict=True) on a folder that fails: .report is its CheckReport."""


class CheckReport:
    """check.json of `dln check DIR` (docs/check.md): .results (one dict per row: result,
    source, applicable, hypotheses, bound, measured, margin, verdict, message, ...),
    .inconsistent (integrity rows failed: tampered or mixed files), .violated (theory rows
    failed), .ok (neither; also bool(report)), .message (the CLI's line for a failure)."""

    def __init__(self, folder, data, ninconsistent, nviolated):
        self.folder, self.data = folder, data
        self.results = data.get("results", [])
        self.inconsistent, self.violated = ninconsistent, nviolated
        self.ok = not ninconsistent and not nviolated

    def __bool__(self):
        return self.ok

    @property
    def message(self):
        """`dln check`'s stderr line for a failed folder ("" when it passes)."""
        bad = [r for r in self.results if r.get("applicable") and r.get("verdict") not in ("holds", "HOLDS")]
        if self.inconsistent:
            first = next(r for r in bad if r.get("integrity"))
            return "%s/%s: %d integrity check%s failed, first: %s: %s" % (
                self.folder, first.get("file", ""), self.inconsistent, "" if self.inconsistent == 1 else "s",
                first["result"], first["message"])
        if self.violated:
            first = next(r for r in bad if not r.get("integrity"))
            return "%s: %d applicable result%s violated, first: %s (%s): %s; %s" % (
                self.folder, self.violated, "" if self.violated == 1 else "s", first["result"], first["source"],
                first["message"], first.get("likely_cause", ""))
        return ""

    def __repr__(self):
        return "<dln.CheckReport %s: %d rows, %d inconsistent, %d violated>" % (
            self.folder, len(self.results), self.inconsistent, self.violated)


def check_folder(folder, *, slack=None, tol=None, strict=False, keep=None):
    """check.json of `dln check FOLDER` as a CheckReport (.run = keep); strict=True raises
    DlnCheckError for a failing folder."""
    ninc, nvio = ffi.new("int *"), ffi.new("int *")
    _ffi.check(lib.dln_abi_check(_ffi.text(folder), slack or 0.0, tol or 0.0, ninc, nvio), _ffi.FAIL_INPUT)
    with open(os.path.join(folder, "check.json")) as f:
        rep = CheckReport(folder, json.load(f), ninc[0], nvio[0])
    rep.run = keep
    if strict and not rep.ok:
        e = DlnCheckError(rep.message)
        e.report = rep
        raise e
    return rep
