#!/bin/sh
# Time of `dln figure` (issue 12): every figure `dln figure --list` prints, and `dln figure
# all`, each twice: as is (computation + matplotlib render) and compute-only (PYTHONPATH with a
# `matplotlib` package that refuses the import, as tests/test_figure.c does: dln then writes
# everything but figure.png/svg), render = the difference. Then 003-fig1 and 004-ovf written
# the way the papers' public code would (sequential PyTorch float64 GD loop per run:
# bench/torch_003fig1.py, bench/torch_004ovf.py) against dln's compute-only time.
#
#   bench/figures.sh            # papers' settings (~5 min) -> bench/results/figures.{json,md}
#   bench/figures.sh --quick    # every figure --quick      -> bench/results/figures-quick.{json,md}
#
# BUILD_DIR (default build): CMake build folder, configured (Release) if it has no
# CMakeCache.txt; DLN (default $BUILD_DIR/dln) the binary timed. OPENBLAS_NUM_THREADS=1 and
# OMP_NUM_THREADS=1 for everything (figures that run ensembles still use their own threads).
# A figure that exits 4 (a verdict fails) is timed as any other; other non-zero exits are
# recorded as the status in the table.
set -eu

cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup figures.sh dln_cli "$@"
DLN=${DLN:-$BUILD_DIR/dln}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

mkdir -p "$TMP/hide/matplotlib"
echo "raise ImportError('hidden by bench/figures.sh')" > "$TMP/hide/matplotlib/__init__.py"

now() { date +%s.%N; }
# timed MODE NAME: runs `dln figure NAME` into a fresh folder; appends "name mode status seconds".
timed() {
  mode=$1 name=$2 out="$TMP/out-$1-$2"
  t0=$(now)
  rc=0
  if [ "$mode" = compute ]; then
    PYTHONPATH="$TMP/hide" "$DLN" figure "$name" --out "$out" $QUICK --quiet > /dev/null 2>&1 || rc=$?
  else
    "$DLN" figure "$name" --out "$out" $QUICK --quiet > /dev/null 2>&1 || rc=$?
  fi
  t1=$(now)
  sec=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  echo "$name $mode $rc $sec" >> "$TMP/times.txt"
  echo "== $name ($mode): exit $rc, $sec s" >&2
}

LOAD0=$(cat /proc/loadavg)
echo "== load average before: $LOAD0" >&2
: > "$TMP/times.txt"
NAMES=$("$DLN" figure --list | awk '{print $1}')
for n in $NAMES; do
  timed compute "$n"
  timed full "$n"
done
timed compute all
timed full all

# The papers' way, sequential PyTorch (only for the figures this dln has).
: > "$TMP/torch.jsonl"
for n in 003-fig1 004-ovf; do
  case " $(echo $NAMES) " in *" $n "*) ;; *) echo "== $n: not in this dln, no PyTorch run" >&2; continue ;; esac
  s=bench/torch_$(echo "$n" | tr -d -).py
  echo "== $s $QUICK" >&2
  "$PY" "$s" $QUICK >> "$TMP/torch.jsonl"
done
LOAD1=$(cat /proc/loadavg)
echo "== load average after: $LOAD1" >&2

mkdir -p bench/results
if [ -n "$QUICK" ]; then NAME=figures-quick; else NAME=figures; fi
"$PY" bench/figures_report.py "$TMP" "$LOAD0" "$LOAD1" "$QUICK" "bench/results/$NAME.json" "bench/results/$NAME.md"
echo "== wrote bench/results/$NAME.json and bench/results/$NAME.md" >&2
