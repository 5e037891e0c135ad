#!/bin/sh
# l4 regression (002 Claim 1): dln (bench_lp) against NumPy (and PyTorch when installed;
# skipped with a message otherwise) for gradient descent, and against SciPy solve_ivp with
# a NumPy right-hand side for the gradient flow (bench/peers_lp.py). Ratios in the tables.
#
#   bench/lp.sh            # full run (~1 min) -> bench/results/lp.{json,md}
#   bench/lp.sh --quick    # smoke run         -> bench/results/lp-quick.{json,md}
#
# BUILD_DIR (default build) is the CMake build folder; configured (Release) if it has no
# CMakeCache.txt. Both sides run single-threaded, one after the other, from the same .npy
# files written here with numpy (X, Y = W_true X, init draws Z1, Z2).
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup lp.sh bench_lp "$@"

# Identical data: X 10x100 and W_true 5x10 from default_rng(0) (W_true/sqrt(10)), Y = W_true X;
# init draws from default_rng(1): Z1 50x10, then Z2 5x50; both sides start from 0.1 * Z_j.
"$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((10, 100))
Wt = rng.standard_normal((5, 10)) / np.sqrt(10)
np.save(f"{out}/X.npy", X)
np.save(f"{out}/Y.npy", Wt @ X)
rng = np.random.default_rng(1)
np.save(f"{out}/Z1.npy", rng.standard_normal((50, 10)))
np.save(f"{out}/Z2.npy", rng.standard_normal((5, 50)))
PYEOF

echo "== load average before: $(cat /proc/loadavg)" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BENCH" $QUICK --data "$TMP" --out "$TMP" > "$TMP/dln.json"
"$PY" bench/peers_lp.py run $QUICK --data "$TMP" --refs "$TMP" > "$TMP/peers.json"
echo "== load average after: $(cat /proc/loadavg)" >&2

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=lp-quick; else NAME=lp; fi
"$PY" bench/peers_lp.py merge "$TMP/dln.json" "$TMP/peers.json" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
