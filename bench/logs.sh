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

# The commands run round-robin, RUNS rounds: each round runs every command once, so a slow spell of
# the machine hits all of them alike. Best wall time per command and the peak RSS of that run, and
# the median wall time (a slow spell shows there, not in the best).
names=("pflogsumm" "mxguard logs report" "mxguard logs report --format json" "mxguard logs trace $qid" "mxguard logs detect")
cmds=("pflogsumm $log"
  "$CLI logs report --no-progress $log"
  "$CLI logs report --no-progress --format json $log"
  "$CLI logs trace --no-progress $qid $log"
  "$CLI logs detect --no-progress $log")
declare -A best rss all
for _ in $(seq "$RUNS"); do
  for k in "${!cmds[@]}"; do
    # shellcheck disable=SC2086  # the command lines are split on purpose
    /usr/bin/time -f '%e %M' -o "$dir/t" ${cmds[$k]} > /dev/null 2> "$dir/err" || true
    read -r t m < <(tail -1 "$dir/t")
    all[$k]="${all[$k]:-} $t"
    if [ -z "${best[$k]:-}" ] || awk -v a="$t" -v b="${best[$k]}" 'BEGIN{exit !(a<b)}'; then best[$k]=$t; rss[$k]=$m; fi
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
for k in "${!cmds[@]}"; do printf '%s\t%s\t%s\t%s\n' "${names[$k]}" "${best[$k]}" "${rss[$k]}" "$(echo "${all[$k]}" | median)"; done > "$dir/results"

pf=$(awk -F'\t' '$1=="pflogsumm"{print $2}' "$dir/results")
pfm=$(awk -F'\t' '$1=="pflogsumm"{print $4}' "$dir/results")
echo "Log: $lines lines, $((bytes / 1000000)) MB (bench/gen-maillog), $RUNS interleaved runs"
echo
echo "| Command | Best (s) | Lines/s | vs pflogsumm | Median (s) | vs pflogsumm's median | Peak RSS |"
echo "|---|---|---|---|---|---|---|"
while IFS=$'\t' read -r name t m med; do
  awk -v n="$name" -v t="$t" -v m="$m" -v l="$lines" -v pf="$pf" -v med="$med" -v pfm="$pfm" 'BEGIN{
    printf "| %s | %.2f | %d | %.2f× | %.2f | %.2f× | %d MB |\n", n, t, (t > 0 ? l / t : 0), (t > 0 ? pf / t : 0), med, (med > 0 ? pfm / med : 0), m / 1024 }'
done < "$dir/results"
