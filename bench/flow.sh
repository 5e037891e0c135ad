#!/bin/sh
# Gradient flow at equal accuracy: dln (bench_flow) against SciPy solve_ivp (bench/peers_flow.py)
# on the two-layer 5x10, width-50 factorization flow, sigma in {1e-2, 1, 10}, t in [0, 20].
#
#   bench/flow.sh            # full run (~10-15 min) -> bench/results/flow.{json,md}
#   bench/flow.sh --quick    # smoke run (~2 min)     -> bench/results/flow-quick.{json,md}
#
# Environment: BUILD_DIR (default build) is the CMake build folder; it is configured
# (Release) if it has no CMakeCache.txt, and bench_flow is (re)built incrementally.
# CAP (default 60) is the per-run wall-clock limit in seconds on both sides.
# Both sides run single-threaded, one after the other, from the same .npy files
# (target and standard-normal init draws written here with numpy); bench_flow writes the
# reference solutions, which peers_flow.py reads (and cross-checks with DOP853 at 1e-13).
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup flow.sh bench_flow "$@"
CAP=${CAP:-60}

# Identical data: the fact_5x10_w50 target of peers.py (default_rng(0)) and its init draws
# (default_rng(1): Z1 50x10, then Z2 5x50); the init is sigma * Z_j on both sides.
"$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
out = sys.argv[1]
np.save(f"{out}/target.npy", np.random.default_rng(0).standard_normal((5, 10)))
rng = np.random.default_rng(1)
np.save(f"{out}/Z1.npy", rng.standard_normal((50, 10)))
np.save(f"{out}/Z2.npy", rng.standard_normal((5, 50)))
PYEOF

echo "== load average before: $(cat /proc/loadavg)" >&2
echo "== bench_flow $QUICK" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BENCH" $QUICK --cap "$CAP" --data "$TMP" --out "$TMP" > "$TMP/dln.json"
echo "== bench/peers_flow.py run $QUICK" >&2
"$PY" bench/peers_flow.py run $QUICK --timeout "$CAP" --data "$TMP" --refs "$TMP" > "$TMP/peers.json"
echo "== load average after: $(cat /proc/loadavg)" >&2

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=flow-quick; else NAME=flow; fi
"$PY" bench/peers_flow.py merge "$TMP/dln.json" "$TMP/peers.json" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
