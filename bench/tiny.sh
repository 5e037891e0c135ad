#!/bin/sh
# Tiny and middle networks (issue 14): GD steps/s of dln with each small-kernel path, the
# hand-written 2x2 completion loop, and NumPy, side by side from identical data.
#
#   bench/tiny.sh            # -> bench/results/tiny.{json,md}  (~2 min)
#   bench/tiny.sh --quick    # smoke run                         (~20 s)
#
# Problems (bench/bench_tiny.c): completion_2x2_depth3 (bench_dln's) and the square n x n
# factorization, depth 3, width n, for n = 2, 4, 8, 16, 32, 64. Rates are the best of many
# short timed calls (the machine is shared: the best call is the one least disturbed), the
# median is reported next to it, and the load average before and after.
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup tiny.sh bench_tiny "$@"
SIZES=2,4,8,16,32,64
if [ -n "$QUICK" ]; then TARGET=0.002 REPS=50 NPREPS=10; else TARGET=0.002 REPS=400 NPREPS=150; fi

"$PY" - "$TMP" "$SIZES" <<'PYEOF'
import sys
import numpy as np
out, sizes = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
probs = {"completion_2x2_depth3": ([2, 2, 2, 2], None)}
for n in sizes:
    probs[f"fact_n{n}_depth3"] = ([n] * 4, (n, n))
for name, (w, tshape) in probs.items():
    if tshape:
        np.save(f"{out}/{name}_target.npy", np.random.default_rng(0).standard_normal(tshape))
    rng = np.random.default_rng(1)
    for j in range(len(w) - 1):
        np.save(f"{out}/{name}_Z{j + 1}.npy", rng.standard_normal((w[j + 1], w[j])))
PYEOF

echo "== load average before: $(cat /proc/loadavg)" >&2
for k in tiny xsmm off; do
  echo "== bench_tiny --kernels $k" >&2
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BENCH" --data "$TMP" --kernels "$k" --sizes "$SIZES" \
    --target "$TARGET" --repeats "$REPS" > "$TMP/dln_$k.json"
done
echo "== NumPy" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PY" bench/peers_tiny.py "$TMP" "$SIZES" "$NPREPS" > "$TMP/numpy.json"
echo "== load average after: $(cat /proc/loadavg)" >&2
mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=tiny_quick; else NAME=tiny; fi
"$PY" bench/peers_tiny.py --report "$TMP" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
