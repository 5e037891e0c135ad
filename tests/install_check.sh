#!/bin/sh
# ctest install_check: install the build into a temporary prefix, then build
# examples/minimal.c against it through pkg-config (shared and static) and run it.
set -eu
build=$1 src=$2
prefix=$(mktemp -d /tmp/dln-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name dln.pc | head -n 1)
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir dln)
cc -std=c17 -Wall -Wextra -Wpedantic "$src/examples/minimal.c" -o "$prefix/minimal" \
   $(pkg-config --cflags --libs dln) -Wl,-rpath,"$libdir"
"$prefix/minimal"
cc -std=c17 "$src/examples/minimal.c" -o "$prefix/minimal_static" $(pkg-config --cflags dln) \
   "$libdir/libdln.a" $(pkg-config --static --libs dln | sed 's/-ldln//')
"$prefix/minimal_static"
echo "install_check: 1 passed, 0 failed"
