#!/usr/bin/env bash
# Build dln and run the whole test suite: a release build, an MPI build's MPI tests, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build of the same tests.
#   scripts/test.sh            fast tier (default, a few minutes on 2 cores)
#   DLN_SLOW_TESTS=ON scripts/test.sh   also the long tier
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
slow=${DLN_SLOW_TESTS:-OFF}

echo "== release build =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDLN_SLOW_TESTS="$slow" >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== MPI build: mpirun -n 2 and 3 dln sweep against the serial sweep (docs/mpi.md) =="
cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DDLN_MPI=ON -DDLN_BUILD_BENCH=OFF -DDLN_SLOW_TESTS=OFF >/dev/null
cmake --build build-mpi -j"$jobs" --target dln_cli test_mpi_sweep # only what its tests need
(cd build-mpi && ctest --output-on-failure -R '^test_mpi_')

echo "== sanitizer build (ASan + UBSan) =="
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DDLN_SANITIZE=ON \
      -DDLN_BUILD_BENCH=OFF -DDLN_SLOW_TESTS="$slow" >/dev/null
cmake --build build-san -j"$jobs"
(cd build-san && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs")
