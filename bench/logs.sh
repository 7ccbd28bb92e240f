#!/usr/bin/env bash
# Log forensics benchmark: `mxguard logs report` against pflogsumm on the same generated log, side by
# side in one run, plus `logs trace` by queue id and `logs detect`. Prints a Markdown table for
# docs/benchmarks.md.
#
#   bench/logs.sh [LINES] [RUNS]      (default 1000000 lines, 3 runs each; needs `npm run build`)
#
# Wall time and peak RSS come from GNU time (/usr/bin/time -f '%e %M'). The log is written by
# bench/gen-maillog (deterministic) into a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
RUNS=${2:-3}
CLI="node dist/src/cli/main.js"
command -v pflogsumm >/dev/null || { echo "pflogsumm is not installed (apt-get install pflogsumm)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is not installed (apt-get install time)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
log="$dir/maillog"
node dist/bench/gen-maillog.js "$LINES" > "$log"
lines=$(wc -l < "$log")
bytes=$(stat -c %s "$log")
# A queue id that went through the content filter: the trace follows two ids.
qid=$(grep -m1 -oE '[0-9A-F]{10}: client=localhost' "$log" | cut -d: -f1)

# measure NAME CMD...: best wall time and its peak RSS over $RUNS runs (output discarded).
measure() {
  local name=$1; shift
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$dir/t" "$@" > /dev/null 2> "$dir/err" || { cat "$dir/err" >&2; }
    read -r t m < <(tail -1 "$dir/t")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; rss=$m; fi
  done
  printf '%s\t%s\t%s\n' "$name" "$best" "$rss"
}

{
  measure "pflogsumm" pflogsumm "$log"
  measure "mxguard logs report" $CLI logs report --no-progress "$log"
  measure "mxguard logs report --format json" $CLI logs report --no-progress --format json "$log"
  measure "mxguard logs trace $qid" $CLI logs trace --no-progress "$qid" "$log"
  measure "mxguard logs detect" $CLI logs detect --no-progress "$log"
} > "$dir/results"

pf=$(awk -F'\t' '$1=="pflogsumm"{print $2}' "$dir/results")
echo "Log: $lines lines, $((bytes / 1000000)) MB (bench/gen-maillog), best of $RUNS runs"
echo
echo "| Command | Seconds | Lines/s | vs pflogsumm | Peak RSS |"
echo "|---|---|---|---|---|"
while IFS=$'\t' read -r name t m; do
  awk -v n="$name" -v t="$t" -v m="$m" -v l="$lines" -v pf="$pf" 'BEGIN{
    printf "| %s | %.2f | %d | %.2f× | %d MB |\n", n, t, (t > 0 ? l / t : 0), (t > 0 ? pf / t : 0), m / 1024 }'
done < "$dir/results"
