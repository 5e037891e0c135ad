#!/bin/sh
# Run the dln benchmark and the Python peers back to back and print the comparison.
#
#   bench/run.sh            # full run (a few minutes) -> bench/results/latest.{json,md}
#   bench/run.sh --quick    # smoke run (~15 s)        -> bench/results/quick.{json,md}
#
# Environment: BUILD_DIR (default build) is the CMake build folder; it is configured
# (Release) if it has no CMakeCache.txt, and bench_dln is (re)built incrementally.
# Both sides run single-threaded (OPENBLAS_NUM_THREADS=1 etc.), one after the other.
# The targets and the standard-normal init draws are generated once with numpy's
# default_rng exactly as bench/peers.py draws them and passed to bench_dln --data,
# so both sides start from bit-identical weights.
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup run.sh bench_dln "$@"

# Identical data for both sides: peers.py's targets (default_rng(0)) and init draws
# (default_rng(1), layers W_1..W_N in order; the init is sigma * Z_j).
"$PY" - "$TMP" <<'EOF'
import sys
import numpy as np
out = sys.argv[1]
problems = {"fact_5x10_w50": ([10, 50, 5], (5, 10)),
            "completion_2x2_depth3": ([2, 2, 2, 2], None),
            "large_50x100_w500": ([100, 500, 50], (50, 100))}
for name, (w, tshape) in problems.items():
    if tshape:
        np.save(f"{out}/{name}_target.npy", np.random.default_rng(0).standard_normal(tshape))
    rng = np.random.default_rng(1)
    for j in range(len(w) - 1):
        np.save(f"{out}/{name}_Z{j + 1}.npy", rng.standard_normal((w[j + 1], w[j])))
EOF

echo "== load average before: $(cat /proc/loadavg)" >&2
echo "== bench_dln $QUICK" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BENCH" $QUICK --data "$TMP" > "$TMP/dln.json"
echo "== bench/peers.py $QUICK" >&2
"$PY" bench/peers.py $QUICK > "$TMP/peers.json"
echo "== load average after: $(cat /proc/loadavg)" >&2

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=quick; else NAME=latest; fi
"$PY" bench/ratios.py "$TMP/dln.json" "$TMP/peers.json" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
