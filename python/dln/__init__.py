"""dln — deep linear networks from Python, over the C library libdln (docs/python.md).

High level: dln.run, dln.load, dln.check, dln.sweep, dln.figure. Low level: dln.Net,
dln.Loss, dln.train. Errors raise DlnValueError (a ValueError) for bad input,
DlnRuntimeError (a RuntimeError) for failures while computing, with the C message.
"""
from ._ffi import DlnError, DlnOSError, DlnRuntimeError, DlnValueError, ffi as _ffi_mod, lib as _lib

__version__ = _ffi_mod.string(_lib.dln_abi_library_version()).decode()
abi_version = _lib.dln_abi_version()

from ._low import Loss, Net, TrainResult, train  # low level (python/dln/_low.py)
from ._run import DlnDivergedError, Result, load, run  # noqa: E402 (py-run)
from ._check import CheckReport, DlnCheckError  # noqa: E402
from ._tools import FigureResult, check, figure, figures, sweep  # noqa: E402 (py-run)

__all__ = ["DlnError", "DlnValueError", "DlnRuntimeError", "DlnOSError", "DlnDivergedError", "DlnCheckError",
           "run", "load", "Result", "check", "CheckReport", "sweep", "figure", "figures", "FigureResult",
           "Net", "Loss", "train", "TrainResult", "abi_version", "__version__"]
