#!/usr/bin/env bash
# ipd.sh: uvchat's user-space instructions per delivery under valgrind's callgrind: 100
# receivers, the instructions of a 3,000-message run minus those of a 1,000-message run,
# divided by the 200,000 deliveries in between (so that connecting is not counted).
#
#   bash bench/ipd.sh [--proto text|irc] [--history] [--uvchat PATH] [--bench PATH]
#
# The history is off unless --history is given (all threads are counted, so with history on
# the SQLite writes on the thread pool are in the figure; docs/PERFORMANCE.md, History).
# Builds nothing: by default it uses build/release/uvchat and build/release/uvchat-bench
# (cmake --preset release && cmake --build --preset release -j2 &&
#  cmake --build build/release --target uvchat-bench). Stops its server by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UVCHAT="$ROOT/build/release/uvchat"
BENCH="$ROOT/build/release/uvchat-bench"
PROTO=text
HISTORY=(--history-size 0) # the fan-out alone; --history measures it with history on
while [ $# -gt 0 ]; do
  case "$1" in
    --proto) PROTO="$2"; shift 2 ;;
    --history) HISTORY=(); shift ;;
    --uvchat) UVCHAT="$2"; shift 2 ;;
    --bench) BENCH="$2"; shift 2 ;;
    *) echo "usage: $0 [--proto text|irc] [--history] [--uvchat PATH] [--bench PATH]" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

case "$PROTO" in
  text) LISTEN=(--port 0 --irc-port off --web-port off); LABEL="(text)" ;;
  irc) LISTEN=(--port 0 --irc-port 0 --web-port off); LABEL="(irc)" ;;
  *) echo "unknown --proto $PROTO" >&2; exit 2 ;;
esac

ir() { # messages -> total Ir of the server
  local m="$1" cg="$WORK/cg.out" port
  rm -f "$cg"
  valgrind --tool=callgrind --callgrind-out-file="$cg" "$UVCHAT" --host 127.0.0.1 \
    "${LISTEN[@]}" --data-dir "$WORK/data" --config /dev/null "${HISTORY[@]}" --quiet --flood-rate 0 --max-per-addr 0 >"$WORK/out" 2>/dev/null &
  PID=$!
  for _ in $(seq 400); do grep -q "$LABEL" "$WORK/out" 2>/dev/null && break; sleep 0.05; done
  port=$(grep -F "$LABEL" "$WORK/out" | sed -n 's/.*:\([0-9]*\) (.*/\1/p' | head -n 1)
  "$BENCH" --proto "$PROTO" --port "$port" --receivers 100 --senders 1 --messages "$m" \
    --timeout 600 >"$WORK/bench.$m" 2>&1 || true
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  sed -n 's/^summary: //p; s/^totals: //p' "$cg" | head -n 1
}
a=$(ir 1000)
b=$(ir 3000)
echo "proto=$PROTO ir_1000=$a ir_3000=$b instructions_per_delivery=$(( (b - a) / 200000 ))"
