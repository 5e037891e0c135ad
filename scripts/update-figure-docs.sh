#!/usr/bin/env bash
# Runs every figure at the papers' settings and refreshes the gallery of docs/figures.md:
# docs/figures/<name>.png and docs/figures/gallery.md (the verdict lines of each report.md).
#   scripts/update-figure-docs.sh [BUILD_DIR]     (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
DLN=${1:-build}/dln
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
rc=0
OPENBLAS_NUM_THREADS=1 "$DLN" figure all --out "$out" --quiet || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || { echo "dln figure all failed (exit $rc)" >&2; exit "$rc"; }
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
g=docs/figures/gallery.md
{
  echo "# Gallery: every figure of \`dln figure all\` with its verdicts"
  echo
  echo "Made by \`scripts/update-figure-docs.sh\` ($("$DLN" --version | head -1), $(date -u +%Y-%m-%d),"
  printf '%.1f s wall for all figures, exit %s). What each figure runs and claims: docs/figures.md.\n' "$secs" "$rc"
  for d in $("$DLN" figure --list | awk '{print $1}'); do
    [ -f "$out/$d/figure.png" ] || continue
    cp "$out/$d/figure.png" "docs/figures/$d.png"
    echo
    echo "## $d"
    echo
    echo "![$d]($d.png)"
    echo
    # the verdict lines of report.md: "- **claim**: verdict: ..." (first 400 characters each)
    grep -E '^- \*\*.*verdict' "$out/$d/report.md" | cut -c1-400 || true
  done
} > "$g.tmp"
mv "$g.tmp" "$g"
echo "wrote $g and docs/figures/*.png ($(printf '%.1f' "$secs") s, exit $rc)"
