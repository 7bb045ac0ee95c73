#!/usr/bin/env bash
# history.sh: what keeping history costs per delivery, under valgrind's callgrind, with the
# history off (--history-size 0) and on (the default) in the same run, for fanout1000 (1,000
# receivers, 10 senders) and mesh10 (10 receivers, 10 senders). Each figure is the server's
# instructions of a long run minus those of a short one, divided by the deliveries in
# between (so that connecting is not counted), for the loop thread alone and for all
# threads (the history's SQLite writes run on libuv's thread pool). Then the store's write
# rate: events per second it persists (uvchat-store-rate), without valgrind.
#
#   bash bench/history.sh [--uvchat PATH] [--bench PATH] [--quick]
#
# Builds nothing: by default build/release/uvchat, uvchat-bench and uvchat-store-rate
# (cmake --preset release && cmake --build --preset release -j2 --target uvchat
# uvchat-bench uvchat-store-rate). Each server gets a fresh --data-dir and is stopped by its
# PID. --quick: a third of the messages (about 5 minutes instead of 15).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UVCHAT="$ROOT/build/release/uvchat"
BENCH="$ROOT/build/release/uvchat-bench"
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --uvchat) UVCHAT="$2"; shift 2 ;;
    --bench) BENCH="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "usage: $0 [--uvchat PATH] [--bench PATH] [--quick]" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Starts the server (extra flags in "$@") on a fresh data directory; sets PID and PORT.
start() {
  local wrap=("$@")
  rm -rf "$WORK/data" "$WORK/out"
  "${WRAP[@]}" "$UVCHAT" --host 127.0.0.1 --port 0 --irc-port off --web-port off --quiet --flood-rate 0 \
    --max-per-addr 0 --max-clients 0 --data-dir "$WORK/data" "${wrap[@]}" >"$WORK/out" 2>/dev/null &
  PID=$!
  for _ in $(seq 600); do grep -q "(text)" "$WORK/out" 2>/dev/null && break; sleep 0.05; done
  PORT=$(sed -n 's/.*:\([0-9]*\) (text).*/\1/p' "$WORK/out" | head -n 1)
}
stop() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

# receivers senders messages flags... -> "loop_ir all_ir deliveries"
ir() {
  local n="$1" s="$2" m="$3" line d loop all
  shift 3
  rm -f "$WORK"/cg.out*
  WRAP=(valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/cg.out")
  start "$@"
  line=$("$BENCH" --proto text --port "$PORT" --receivers "$n" --senders "$s" --messages "$m" \
    --timeout 900 2>/dev/null | tail -n 1)
  stop
  d=$(tr ' ' '\n' <<<"$line" | sed -n 's/^deliveries=//p')
  loop=$(sed -n 's/^summary: //p; s/^totals: //p' "$WORK/cg.out-01" | head -n 1)
  all=0
  for f in "$WORK"/cg.out-*; do
    all=$((all + $(sed -n 's/^summary: //p; s/^totals: //p' "$f" | head -n 1)))
  done
  echo "$loop $all $d"
}

per() { # scenario n s m1 m2 label flags...
  local scen="$1" n="$2" s="$3" m1="$4" m2="$5" label="$6" a b
  shift 6
  read -r la aa da <<<"$(ir "$n" "$s" "$m1" "$@")"
  read -r lb ab db <<<"$(ir "$n" "$s" "$m2" "$@")"
  awk -v sc="$scen" -v lab="$label" -v la="$la" -v lb="$lb" -v aa="$aa" -v ab="$ab" \
    -v da="$da" -v db="$db" 'BEGIN {
      printf "%-10s history %-3s  loop thread %7.1f  all threads %7.1f instructions per delivery (%d deliveries)\n",
        sc, lab, (lb - la) / (db - da), (ab - aa) / (db - da), db - da }'
}

if [ "$QUICK" = 1 ]; then F=1; else F=3; fi
for h in off on; do
  if [ "$h" = off ]; then FL=(--history-size 0); else FL=(); fi
  per fanout1000 1000 10 $((200 * F)) $((600 * F)) "$h" "${FL[@]}"
  per mesh10 10 10 $((5000 * F)) $((15000 * F)) "$h" "${FL[@]}"
done

# The store's write rate: uvchat-store-rate feeds the history writer as fast as it takes
# events (batches of 500 or every 100 ms, one synced transaction each, 1,000 kept per room),
# into 10 rooms and into 1,000.
RATE="${RATE:-$(dirname "$UVCHAT")/uvchat-store-rate}"
for rooms in 10 1000; do
  rm -rf "$WORK/rate"
  echo "write rate ($rooms rooms): $("$RATE" "$WORK/rate" $((100000 * F)) "$rooms")"
done
