#!/bin/sh
# Scaling table of issue 14: square n x n factorization GD, depth 2-4, every width n,
# n = 2 ... 2048 (powers of 2), dln (bench_scale) vs NumPy vs PyTorch (scale_peers.py)
# in one run, with effective GFLOP/s (6 (N-1) n^3 per step) and the ratio to one core's
# measured FMA peak (fma_peak); 1 and 2 threads at n >= 512; the gemm backends
# (--blas_backend: openblas, blis, xsmm) side by side at depth 3.
#
#   bench/scale.sh            # full run (~8-10 min on 2 idle cores) -> bench/results/scale.{json,md,png}
#   bench/scale.sh --quick    # depth 3 only, n up to 1024 (~2 min) -> bench/results/scale-quick.*
#
# Environment: BUILD_DIR (default build), as the other bench/*.sh. Every part pins its
# threads (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, torch.set_num_threads); a step at
# n >= 1024 takes seconds, so those sizes time single steps (one warm-up, then 2).
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup scale.sh bench_scale "$@"
cmake --build "$BUILD_DIR" --target fma_peak -j2 >/dev/null

if [ -n "$QUICK" ]; then
  SMALL=2,4,8,16,32,64,128,256 BIG=512,1024 BIG2=512,1024 DEPTHS=3 NAME=scale-quick XS=64,128,256,512
else
  SMALL=2,4,8,16,32,64,128,256 BIG=512,1024,2048 BIG2=512,1024,2048 DEPTHS=2,3,4 NAME=scale XS=64,128,256,512
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== load average before: $LOAD_BEFORE" >&2

run_dln() { # backend threads ns depths reps out
  OPENBLAS_NUM_THREADS=$2 OMP_NUM_THREADS=$2 "$BENCH" --backend "$1" --threads "$2" --n "$3" --depth "$4" \
    --reps "$5" --target 0.6 > "$6"
}
join_rows() { # a.json b.json -> a.json with b's rows appended
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a["rows"] += b["rows"]
json.dump(a, open(sys.argv[1], "w"), indent=1)
PYEOF
}

echo "== fma_peak" >&2
"$BUILD_DIR/bench/fma_peak" > "$TMP/peak.json"
cat "$TMP/peak.json" >&2

echo "== dln, openblas, 1 thread" >&2
run_dln openblas 1 "$SMALL" "$DEPTHS" 3 "$TMP/dln_openblas_T1.json"
run_dln openblas 1 "$BIG" "$DEPTHS" 2 "$TMP/big.json"
join_rows "$TMP/dln_openblas_T1.json" "$TMP/big.json"
echo "== dln, openblas, 2 threads" >&2
run_dln openblas 2 "$BIG2" "$DEPTHS" 2 "$TMP/dln_openblas_T2.json"
echo "== dln, blis, 1 and 2 threads (depth 3)" >&2
run_dln blis 1 64,128,256 3 3 "$TMP/dln_blis_T1.json"
run_dln blis 1 "$BIG" 3 2 "$TMP/big.json"
join_rows "$TMP/dln_blis_T1.json" "$TMP/big.json"
run_dln blis 2 "$BIG2" 3 2 "$TMP/dln_blis_T2.json"
echo "== dln, xsmm, 1 thread (depth 3; its unpacked kernels make n > 512 slow)" >&2
run_dln xsmm 1 "$XS" 3 2 "$TMP/dln_xsmm_T1.json"

echo "== NumPy and PyTorch, 1 thread" >&2
"$PY" bench/scale_peers.py --threads 1 --n "$SMALL" --depth "$DEPTHS" --reps 3 > "$TMP/peers_T1.json"
"$PY" bench/scale_peers.py --threads 1 --n "$BIG" --depth "$DEPTHS" --reps 2 > "$TMP/big.json"
join_rows "$TMP/peers_T1.json" "$TMP/big.json"
echo "== NumPy and PyTorch, 2 threads" >&2
"$PY" bench/scale_peers.py --threads 2 --n "$BIG2" --depth "$DEPTHS" --reps 2 > "$TMP/peers_T2.json"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== load average after: $LOAD_AFTER" >&2
CPU=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
printf '{"cpu": "%s", "load_before": "%s", "load_after": "%s", "date": "%s"}\n' "$CPU" "$LOAD_BEFORE" "$LOAD_AFTER" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$TMP/meta.json"
mkdir -p bench/results
"$PY" bench/scale_report.py "$TMP" bench/results --name "$NAME"
