#!/bin/sh
# Logistic loss: dln (bench_logistic) against NumPy / SciPy (and PyTorch when it imports):
# GD and gradient flow of a two-layer network on separable data (bench/peers_logistic.py).
#
#   bench/logistic.sh            # full run (~1-2 min) -> bench/results/logistic.{json,md}
#   bench/logistic.sh --quick    # smoke run           -> bench/results/logistic-quick.{json,md}
#
# BUILD_DIR (default build): configured (Release) if it has no CMakeCache.txt. Both sides run
# single-threaded, one after the other, from the same .npy files written here with numpy.
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup logistic.sh bench_logistic "$@"

# X 20 x 500 ~ N(0, 1), y = sign(w_true^T X) (separable), init draws Z1 50 x 20, Z2 1 x 50
"$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((20, 500))
w = rng.standard_normal(20)
np.save(f"{out}/X.npy", X)
np.save(f"{out}/y.npy", np.where(w @ X >= 0, 1.0, -1.0).reshape(1, -1))
rng = np.random.default_rng(1)
np.save(f"{out}/Z1.npy", rng.standard_normal((50, 20)))
np.save(f"{out}/Z2.npy", rng.standard_normal((1, 50)))
PYEOF

echo "== load average before: $(cat /proc/loadavg)" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BUILD_DIR/bench/bench_logistic" $QUICK --data "$TMP" --out "$TMP" > "$TMP/dln.json"
"$PY" bench/peers_logistic.py run $QUICK --data "$TMP" > "$TMP/peers.json"
echo "== load average after: $(cat /proc/loadavg)" >&2

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=logistic-quick; else NAME=logistic; fi
"$PY" bench/peers_logistic.py merge "$TMP/dln.json" "$TMP/peers.json" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
