"""The package itself: import, version, the ABI check, and `cmake --install` (docs/python.md).

Run by ctest (tests/CMakeLists.txt) with PYTHONPATH=<build>/python, DLN_CLI, DLN_SOURCE_DIR
and DLN_LIBRARY unset, so the build tree's generated _config.py is what finds libdln.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import dln

SRC = os.environ.get("DLN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("DLN_CLI", "")
BUILD = os.path.dirname(CLI) if CLI else ""
PKG = os.path.dirname(os.path.abspath(dln.__file__))

# Run in a child: the libdln files mapped into the process (/proc/self/maps), as JSON.
PROBE = r"""
import json, dln, dln._ffi
maps = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libdln.so' in l})
print(json.dumps({'file': dln.__file__, 'version': dln.__version__, 'maps': maps,
                  'library': dln._ffi._library_path()}))
"""


def child_env(pythonpath):
    env = {k: v for k, v in os.environ.items() if k not in ("DLN_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = pythonpath
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def probe(pythonpath, cwd):
    """import dln in a fresh /usr/bin/python3 started in cwd; its report (dict)."""
    import json
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=child_env(pythonpath),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("import dln failed in %s: %s" % (cwd, p.stderr.strip()))
    return json.loads(p.stdout)


def py_files(top):
    """The .py files under top, relative, sorted (subpackages included)."""
    return sorted(os.path.relpath(os.path.join(r, f), top) for r, _, files in os.walk(top)
                  for f in files if f.endswith(".py") and "__pycache__" not in r)


def cache_value(name):
    """A variable of the build's CMakeCache.txt (None if absent)."""
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"%s:[A-Z]+=(.*)$" % re.escape(name), line.rstrip("\n"))
            if m:
                return m.group(1)
    return None


class TestImport(unittest.TestCase):
    def test_loads_the_build_library(self):
        """import dln finds libdln through the build's _config.py (DLN_LIBRARY is unset)."""
        self.assertNotIn("DLN_LIBRARY", os.environ)
        from dln import _config
        self.assertTrue(os.path.isabs(_config.LIBRARY))
        self.assertEqual(os.path.dirname(_config.LIBRARY), os.path.realpath(BUILD))
        with open("/proc/self/maps") as f:
            mapped = {l.split()[-1] for l in f if "libdln.so" in l}
        self.assertEqual(mapped, {os.path.realpath(_config.LIBRARY)})

    def test_build_copy_is_the_source(self):
        """<build>/python/dln holds python/dln's files byte for byte, plus _config.py."""
        src = os.path.join(SRC, "python", "dln")
        self.assertEqual(py_files(PKG), sorted(py_files(src) + ["_config.py"]))
        for rel in py_files(src):
            with open(os.path.join(src, rel), "rb") as a, open(os.path.join(PKG, rel), "rb") as b:
                self.assertEqual(a.read(), b.read(), rel)

    def test_version_matches(self):
        """__version__ = CMakeLists.txt's project VERSION = `dln --version`; ABI = abi.h's."""
        with open(os.path.join(SRC, "CMakeLists.txt")) as f:
            project = re.search(r"project\(dln VERSION ([0-9.]+)", f.read()).group(1)
        self.assertEqual(dln.__version__, project)
        out = subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "dln " + project)
        with open(os.path.join(SRC, "include", "dln", "abi.h")) as f:
            abi = int(re.search(r"#define DLN_ABI_VERSION (\d+)", f.read()).group(1))
        self.assertEqual(dln.abi_version, abi)
        self.assertEqual(dln._ffi.ABI_VERSION, abi)

    def test_abi_mismatch_refused(self):
        """A package written for another ABI version refuses the library at import."""
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(PKG, os.path.join(tmp, "dln"), ignore=shutil.ignore_patterns("__pycache__"))
            path = os.path.join(tmp, "dln", "_ffi.py")
            with open(path) as f:
                text, n = re.subn(r"^ABI_VERSION = \d+", "ABI_VERSION = 999", f.read(), flags=re.M)
            self.assertEqual(n, 1, "_ffi.py has one ABI_VERSION line")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([sys.executable, "-c", "import dln"], cwd=tmp, env=child_env(tmp),
                               capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError: dln: libdln's ABI version is %d, this package expects 999"
                      % dln.abi_version, p.stderr)

    def test_dln_library_overrides(self):
        """$DLN_LIBRARY comes first: a missing file is an error naming it, not a fallback."""
        env = child_env(os.path.dirname(PKG))
        env["DLN_LIBRARY"] = "/nonexistent/libdln.so"
        p = subprocess.run([sys.executable, "-c", "import dln"], env=env, cwd=tempfile.gettempdir(),
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/libdln.so", p.stderr)


class TestInstall(unittest.TestCase):
    def test_install_into_prefix(self):
        """cmake --install into a temporary prefix; import dln from another folder with only
        that prefix's dist-packages on PYTHONPATH loads the installed library."""
        if os.path.isabs(cache_value("DLN_PYTHON_INSTALL_DIR")):
            self.skipTest("DLN_PYTHON_INSTALL_DIR is absolute: the package would not go to the prefix")
        with tempfile.TemporaryDirectory() as prefix, tempfile.TemporaryDirectory() as elsewhere:
            subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                           capture_output=True, timeout=120)
            found = [r for r, _, files in os.walk(prefix) if r.endswith("/dln") and "__init__.py" in files]
            self.assertEqual(len(found), 1, found)
            site = os.path.dirname(found[0])
            # the place /usr/bin/python3 itself uses for a prefix (its sysconfig scheme)
            self.assertEqual(os.path.relpath(site, prefix), cache_value("DLN_PYTHON_INSTALL_DIR"))
            self.assertEqual(py_files(found[0]), py_files(PKG))
            r = probe(site, elsewhere)
            libdir = os.path.join(prefix, cache_value("CMAKE_INSTALL_LIBDIR"))
            self.assertEqual(r["file"], os.path.join(site, "dln", "__init__.py"))
            self.assertEqual(r["library"], os.path.join(libdir, "libdln.so.0"))
            self.assertEqual(r["version"], dln.__version__)
            self.assertEqual(len(r["maps"]), 1, r["maps"])
            self.assertTrue(r["maps"][0].startswith(os.path.realpath(libdir) + "/"), r["maps"])

    def test_default_prefix_is_on_sys_path(self):
        """With the configured prefix (/usr/local by default) the package lands on a folder of
        /usr/bin/python3's sys.path, so `import dln` works from any folder after install."""
        prefix, rel = cache_value("CMAKE_INSTALL_PREFIX"), cache_value("DLN_PYTHON_INSTALL_DIR")
        if prefix != "/usr/local":
            self.skipTest("prefix %s is not the default /usr/local" % prefix)
        p = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path))"],
                           env=child_env(""), cwd=tempfile.gettempdir(), capture_output=True,
                           text=True, check=True)
        self.assertIn(os.path.normpath(os.path.join(prefix, rel)), p.stdout.split("\n"))


if __name__ == "__main__":
    unittest.main()
