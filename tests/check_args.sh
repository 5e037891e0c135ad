#!/bin/sh
# check_args.sh SOURCE_DIR — tests/test_args.c exercises every public function.
#
# Lists the function names declared in SOURCE_DIR/include/dln/*.h (comments stripped)
# and fails, naming them, when one is neither called in tests/test_args.c ("name(") nor
# listed there in the exemption block as "EXEMPT name: reason" (functions without
# pointer or index arguments). POSIX sh + awk + sed; run by ctest (test "check_args").
set -u
root=${1:-$(dirname "$0")/..}
test_c="$root/tests/test_args.c"
[ -f "$test_c" ] || { echo "check_args: $test_c not found" >&2; exit 2; }
names=$(cat "$root"/include/dln/*.h | awk '
  { s = s $0 "\n" }
  END {
    while ((i = index(s, "/*")) > 0) { j = index(substr(s, i + 2), "*/"); s = substr(s, 1, i - 1) " " substr(s, i + j + 3) }
    n = split(s, lines, "\n")
    for (k = 1; k <= n; ++k) if (lines[k] !~ /^[ \t]*#/ && lines[k] !~ /typedef/) t = t " " lines[k]
    while (match(t, /[A-Za-z_0-9*] *\**dln_[a-z0-9_]+ *\(/)) {
      name = substr(t, RSTART, RLENGTH); t = substr(t, RSTART + RLENGTH)
      sub(/ *\($/, "", name); sub(/^.*[ *]/, "", name)
      if (substr(t, 1, 1) != "*") print name
    }
  }' | sort -u)
missing=0
count=0
for n in $names; do
  count=$((count + 1))
  if grep -q "[^a-z0-9_]$n(" "$test_c" || grep -q "EXEMPT $n:" "$test_c"; then continue; fi
  echo "check_args: $n (include/dln) is not exercised in tests/test_args.c and not exempted" >&2
  missing=$((missing + 1))
done
[ "$count" -gt 200 ] || { echo "check_args: found only $count public functions: the header scan is broken" >&2; exit 1; }
echo "check_args: $count public functions, $missing not exercised"
[ "$missing" -eq 0 ]
