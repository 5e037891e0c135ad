#!/bin/sh
# Issue 13's benchmark of `import dln`, side by side in one run: bench/python_grad.py (per-call
# overhead of a gradient from Python vs from C; a Python GD loop on dln's gradient vs the
# same loop in NumPy) and bench/python_run.py (a whole run from Python vs the CLI; target:
# within 5 % for runs of >= 10 ms). Each prints one JSON object on stdout; this script
# records the load around each and bench/python_report.py merges them with the targets.
#
#   bench/python.sh            # -> bench/results/python.{json,md}
#   bench/python.sh --quick    # -> bench/results/python-quick.{json,md} (--quick passed on
#                              #    to a script that takes it)
#
# BUILD_DIR (default build): CMake build folder (configured Release if it has no
# CMakeCache.txt); the scripts get PYTHONPATH=$BUILD_DIR/python (the build's package and
# its libdln), DLN_CLI, DLN_BUILD_DIR, DLN_SOURCE_DIR, OPENBLAS_NUM_THREADS=1.
# GRAD_SCRIPT / RUN_SCRIPT replace the two scripts (to test this driver).
set -eu

cd "$(dirname "$0")/.."
GRAD_SCRIPT=${GRAD_SCRIPT:-bench/python_grad.py}
RUN_SCRIPT=${RUN_SCRIPT:-bench/python_run.py}
for s in "$GRAD_SCRIPT" "$RUN_SCRIPT"; do
  [ -f "$s" ] || { echo "bench/python.sh: $s: expected the benchmark script, found no file" >&2; exit 66; }
done
. bench/common.sh
bench_setup python.sh all "$@" # the library, the CLI, the package copy and the bench programs
[ -f "$BUILD_DIR/python/dln/_config.py" ] || { echo "bench/python.sh: $BUILD_DIR/python/dln: expected the package (DLN_PYTHON=ON), found none" >&2; exit 69; }

BUILD_ABS=$(cd "$BUILD_DIR" && pwd)
export PYTHONPATH="$BUILD_ABS/python" DLN_CLI="$BUILD_ABS/dln" DLN_BUILD_DIR="$BUILD_ABS" DLN_SOURCE_DIR="$(pwd)"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
unset DLN_LIBRARY || true

# one NAME SCRIPT: its JSON into $TMP/NAME.json, the load before/after into $TMP/NAME.load
one() {
  cat /proc/loadavg > "$TMP/$1.load"
  echo "== $1: $2 $QUICK (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  q=$QUICK
  if [ -n "$q" ] && ! grep -q -e "--quick" "$2"; then
    q=""; echo "== $1: $2 has no --quick: its full setting" >&2
  fi
  rc=0
  "$PY" "$2" $q > "$TMP/$1.json" || rc=$?
  [ $rc -eq 0 ] || { echo "bench/python.sh: $2: expected exit 0, found $rc" >&2; exit 70; }
  cat /proc/loadavg >> "$TMP/$1.load"
}
one grad "$GRAD_SCRIPT"
one run "$RUN_SCRIPT"

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=python-quick; else NAME=python; fi
"$PY" bench/python_report.py "$TMP" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
