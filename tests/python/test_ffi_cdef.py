"""python/dln/_ffi.py declares the C functions it calls as cdef text (cffi's ABI mode reads no
headers): every one of those declarations must be the header's, return type, parameter types
and names, so a change of include/dln/*.h that the binding does not follow fails here instead
of corrupting calls at run time. Also: every function of include/dln/abi.h is declared."""
import os
import re
import unittest

SRC = os.environ.get("DLN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def _read(*path):
    with open(os.path.join(*path)) as f:
        return f.read()


def _norm(text):
    text = re.sub(r"\s*([(),*])\s*", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _decls(text):
    """{name: normalized declaration} of the function prototypes (not typedefs) in C text."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    out = {}
    for m in re.finditer(r"([\w \t*]*?)\b(dln_\w+)\s*\(([^;{}]*?)\)\s*;", text):
        ret = m.group(1).strip()
        if not ret or "typedef" in ret or ret.endswith("return"):
            continue
        out[m.group(2)] = _norm(f"{ret} {m.group(2)}({m.group(3)})")
    return out


class TestCdef(unittest.TestCase):
    def setUp(self):
        src = _read(SRC, "python", "dln", "_ffi.py")
        self.cdef = _decls(src[src.index('ffi.cdef("""') + 11:src.index('""")')])
        inc = os.path.join(SRC, "include", "dln")
        self.headers = {}
        for f in sorted(os.listdir(inc)):
            if f.endswith(".h"):
                self.headers.update(_decls(_read(inc, f)))
        self.abi = _decls(_read(inc, "abi.h"))

    def test_every_cdef_declaration_is_the_headers(self):
        self.assertGreaterEqual(len(self.cdef), 40)
        diff = {n: (d, self.headers.get(n)) for n, d in self.cdef.items() if self.headers.get(n) != d}
        self.assertEqual(diff, {})

    def test_every_abi_function_is_declared(self):
        self.assertGreaterEqual(len(self.abi), 30)
        self.assertEqual(sorted(set(self.abi) - set(self.cdef)), [])

    def test_a_changed_declaration_is_caught(self):
        """the comparison is not vacuous: one parameter type changed is a difference"""
        name, decl = next(iter(self.cdef.items()))
        changed = _decls(decl.replace("(", "(long x, ", 1) + ";")
        self.assertNotEqual(changed.get(name), self.headers[name])


if __name__ == "__main__":
    unittest.main()
