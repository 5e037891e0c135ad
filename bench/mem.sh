#!/bin/sh
# Memory of dln runs (issue 14; docs/memory.md): summary.json's "memory" for square n x n
# depth-3 networks and the resident set polled along a 10^6-step run (bench/mem.py).
#
#   bench/mem.sh                 # n = 256, 512, 1024 and the 10^6-step run -> bench/results/mem.{json,md}
#   bench/mem.sh --sizes 2048 --steps 0 --name mem-2048   # one large size alone
#
# BUILD_DIR (default build) holds the dln binary (built if missing). OPENBLAS_NUM_THREADS=1.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --target dln_cli -j2 >/dev/null
OPENBLAS_NUM_THREADS=1 exec /usr/bin/python3 bench/mem.py "$BUILD_DIR/dln" "$@"
