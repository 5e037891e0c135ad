#!/bin/sh
# check_layers.sh SOURCE_DIR — layers only look down (docs: GUIDE "The shape of the system").
#
#   core(0) < model(1) < dynamics(2) = theory(2) < observe(3) < io(4) < run(5) < abi(6) = tools(6)
#
# Scans every #include "..." in SOURCE_DIR/src/**/*.{c,h} and SOURCE_DIR/include/dln/*.h
# and fails, listing file:line, when a file includes a header of a higher layer. A file's
# layer is its src/ folder, or for include/dln/X.h the module map below; an included
# header's layer is that of "dln/X.h" (map), "folder/name.h" (src folder) or, for a bare
# "name.h", the includer's own folder. dln/dln.h (everything) is for tools, tests and
# examples only. A public header or src folder missing from the maps fails the check:
# add it to PUBLIC or FOLDERS below when you create one.
#
# KNOWN: include edges that break the order today, each with its reason; they are
# reported as notes (and as stale when the edge is gone: then delete the entry).
# POSIX sh + find + awk; run by ctest (tests/CMakeLists.txt, test "check_layers").
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || { echo "check_layers: cannot enter $root" >&2; exit 2; }

FOLDERS='core:0 model:1 dynamics:2 theory:2 observe:3 io:4 run:5 abi:6 tools:6'
PUBLIC='mat:core gemm:core error:core rng:core option:core util:core table:core
net:model loss:model data:model init:model task:model
memory:core
train:dynamics e2e:dynamics integrator:dynamics
theory:theory bias:theory landscape:theory nuclear:theory compress:theory
observe:observe
io:io manifest:io
spec:run run:run ensemble:run check:run fit:run figure:run
robust:run
abi:abi
dln:top'
# generated headers (build tree) and their layer
GENERATED='dln_version.h:core'
# known upward includes, one per line: "file header why" (none today)
KNOWN=''

files=$( (find src -type f \( -name '*.c' -o -name '*.h' \); ls include/dln/*.h) | LC_ALL=C sort)
[ -n "$files" ] || { echo "check_layers: no sources under $root" >&2; exit 2; }

# shellcheck disable=SC2086
awk -v folders="$FOLDERS" -v public="$PUBLIC" -v generated="$GENERATED" -v known="$KNOWN" '
BEGIN {
  n = split(folders, a, " ")
  for (i = 1; i <= n; ++i) { split(a[i], kv, ":"); lev[kv[1]] = kv[2] + 0 }
  lev["top"] = 7
  n = split(public, a, /[ \n]+/)
  for (i = 1; i <= n; ++i) if (a[i] != "") { split(a[i], kv, ":"); pub[kv[1]] = kv[2] }
  n = split(generated, a, " ")
  for (i = 1; i <= n; ++i) { split(a[i], kv, ":"); gen[kv[1]] = kv[2] }
  n = split(known, a, "\n")
  for (i = 1; i <= n; ++i) {
    if (a[i] == "") continue
    split(a[i], kv, " ")
    kfile[i] = kv[1]; khdr[i] = kv[2]; kwhy[i] = substr(a[i], length(kv[1]) + length(kv[2]) + 3)
    kseen[i] = 0; nknown = i
  }
  bad = 0
  for (i = 1; i < ARGC; ++i) {  # every file, even an empty one, must have a layer
    if (file_layer(ARGV[i]) != "") continue
    if (ARGV[i] ~ /^include\//)
      printf "%s: public header not in the layer map: add it to PUBLIC in tests/check_layers.sh\n", ARGV[i]
    else
      printf "%s: src folder not in the layer map: add it to FOLDERS in tests/check_layers.sh\n", ARGV[i]
    bad = 1
  }
}
# the layer (folder name) of a file being scanned; "" with an error if unmapped
function file_layer(f,    p, m) {
  if (f ~ /^include\/dln\/[^\/]+\.h$/) {
    m = f; sub(/^include\/dln\//, "", m); sub(/\.h$/, "", m)
    return (m in pub) ? pub[m] : ""
  }
  if (f ~ /^src\/[^\/]+\//) {
    split(f, p, "/")
    return (p[2] in lev) ? p[2] : ""
  }
  return ""
}
FNR == 1 {
  layer = file_layer(FILENAME)
  dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
  if (layer == "") next
  h = $0; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
  target = ""
  if (h ~ /^dln\/[^\/]+\.h$/) {
    m = h; sub(/^dln\//, "", m); sub(/\.h$/, "", m)
    if (!(m in pub)) {
      printf "%s:%d: #include \"%s\": public header not in the layer map: add it to PUBLIC in tests/check_layers.sh\n", FILENAME, FNR, h
      bad = 1; next
    }
    target = pub[m]
  } else if (h in gen) {
    target = gen[h]
  } else if (h ~ /\//) {
    split(h, p, "/")
    if (!(p[1] in lev) || p[1] == "tools") {
      printf "%s:%d: #include \"%s\": not a src folder of the layer map (FOLDERS in tests/check_layers.sh)\n", FILENAME, FNR, h
      bad = 1; next
    }
    target = p[1]
  } else {
    # a bare name: a header beside the includer
    if ((getline line < (dir "/" h)) < 0) {
      printf "%s:%d: #include \"%s\": no such header beside the file, and not in the layer map\n", FILENAME, FNR, h
      bad = 1; next
    }
    close(dir "/" h)
    target = layer
  }
  if (lev[target] <= lev[layer]) next
  for (i = 1; i <= nknown; ++i)
    if (kfile[i] == FILENAME && khdr[i] == h) { kseen[i] = 1; kline[i] = FNR; next }
  if (target == "top")
    printf "%s:%d: #include \"%s\": the whole interface is for tools, tests and examples only (%s may include its own and lower layers)\n", FILENAME, FNR, h, layer
  else
    printf "%s:%d: #include \"%s\": %s (layer %d) must not include %s (layer %d)\n", FILENAME, FNR, h, layer, lev[layer], target, lev[target]
  bad = 1
}
END {
  for (i = 1; i <= nknown; ++i) {
    if (kseen[i]) printf "note: %s:%d: #include \"%s\": known upward include: %s\n", kfile[i], kline[i], khdr[i], kwhy[i]
    else printf "note: known upward include %s -> %s is gone: delete its KNOWN entry in tests/check_layers.sh\n", kfile[i], khdr[i]
  }
  if (bad) print "check_layers: FAILED (layers: core < model < dynamics = theory < observe < io < run < tools)"
  else print "check_layers: ok"
  exit bad
}' $files
