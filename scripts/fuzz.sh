#!/bin/sh
# Build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang and run them.
#   scripts/fuzz.sh [TARGET...] [-- LIBFUZZER_OPTIONS...]
# TARGET is spec, csv or npy (default: all). Default options: -runs=100000 -jobs=1.
# Each target starts from tests/fuzz/corpus/TARGET and adds new inputs to
# build-fuzz/corpus/TARGET (merge back with -merge=1 to keep the repo corpus small);
# crashes are written to build-fuzz/crash-*. Examples:
#   scripts/fuzz.sh csv -- -runs=10000000
#   scripts/fuzz.sh -- -max_total_time=600
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="${DLN_FUZZ_BUILD:-$root/build-fuzz}"
targets=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets="$targets $1"; shift; done
[ $# -gt 0 ] && shift
[ -n "$targets" ] || targets="spec csv npy"
[ $# -gt 0 ] || set -- -runs=100000
CC="${CC:-clang}" cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
  -DDLN_FUZZ=ON -DDLN_BUILD_BENCH=OFF >/dev/null
for t in $targets; do cmake --build "$build" --target "fuzz_$t" -j2 >/dev/null; done
export OPENBLAS_NUM_THREADS=1 TMPDIR="${TMPDIR:-/dev/shm}"
for t in $targets; do
  mkdir -p "$build/corpus/$t"
  echo "== fuzz_$t $*"
  (cd "$build" && "./tests/fuzz/fuzz_$t" -artifact_prefix="$build/crash-$t-" "$@" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t")
done
