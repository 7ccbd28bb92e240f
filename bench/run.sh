#!/usr/bin/env bash
# Durable-acceptance benchmark: mxguard side by side with Postfix, Haraka and smtp-sink.
#   [MXG_WORKERS=2] bench/run.sh [MSGS]   (needs: ../shared/bench/anchors.sh setup && ... start)
# Every message is a new connection, 2 KB, one recipient (smtp-source), at 1 and 20 sessions.
# Then the idle-connection footprint: 10,000 connections held open, server RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
msgs=${1:-5000}
export MXG_BENCH_DIR=${MXG_BENCH_DIR:-/tmp/mxg-bench}
rm -rf "$MXG_BENCH_DIR"; mkdir -p "$MXG_BENCH_DIR"
sed "s#\${MXG_BENCH_DIR}#$MXG_BENCH_DIR#g" "$here/gateway/main.cf" >"$MXG_BENCH_DIR/main.cf"
cp "$here/gateway/master.cf" "$MXG_BENCH_DIR/master.cf"
printf 'spammer.test REJECT\n' >"$MXG_BENCH_DIR/sender_access"
printf '192.0.2.0/24 REJECT\n' >"$MXG_BENCH_DIR/client.cidr"
[ -n "${MXG_WORKERS:-}" ] && echo "mxguard_workers = $MXG_WORKERS" >>"$MXG_BENCH_DIR/main.cf"
node "$here/../dist/src/cli/main.js" serve --config "$MXG_BENCH_DIR" 2>"$MXG_BENCH_DIR/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/12530) 2>/dev/null && break; sleep 0.1; done
# Warm-up: the peers are long-running processes; let V8 compile mxguard's hot paths first.
smtp-source -s 20 -m 5000 -l 2000 -f sender@example.org -t user@example.test -M client.example.org 127.0.0.1:12530 >/dev/null 2>&1 || true
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, $(uname -r); node $(node --version); $(date -u +%F)"
bash "$here/../../shared/bench/anchors.sh" compare 12530 "$msgs"
echo "mxguard_workers = ${MXG_WORKERS:-1}; acknowledged by mxguard: $(grep -c ': client=' "$MXG_BENCH_DIR/maillog" || true), delivered: $(grep -c 'status=sent' "$MXG_BENCH_DIR/maillog" || true)"
# Idle connections on a fresh server (a server that just took the load keeps a larger heap).
kill $pid; wait $pid 2>/dev/null || true
node "$here/../dist/src/cli/main.js" serve --config "$MXG_BENCH_DIR" 2>>"$MXG_BENCH_DIR/stderr" &
pid=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/12530) 2>/dev/null && break; sleep 0.1; done
sleep 1
node "$here/../dist/bench/idle-connections.js" 12530 "$pid" 10000
