# Shared start of the bench/*.sh scripts (sourced, POSIX sh):
#   . bench/common.sh; bench_setup SCRIPT TARGET "$@"
# parses [--quick] into QUICK, sets BUILD_DIR (default build; configured Release when it has
# no CMakeCache.txt), PY (/usr/bin/python3: Debian's NumPy/SciPy/PyTorch), builds TARGET,
# sets BENCH to its binary and TMP to a fresh folder removed on exit. Exit 64 for a bad flag.
bench_setup() {
  script=$1 target=$2
  shift 2
  QUICK=""
  for a in "$@"; do
    case "$a" in
      --quick) QUICK="--quick" ;;
      *) echo "usage: bench/$script [--quick]" >&2; exit 64 ;;
    esac
  done
  BUILD_DIR=${BUILD_DIR:-build}
  PY=/usr/bin/python3
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$BUILD_DIR" --target "$target" -j2
  BENCH="$BUILD_DIR/bench/$target"
  TMP=$(mktemp -d "/tmp/dln-$target.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT INT TERM
}
