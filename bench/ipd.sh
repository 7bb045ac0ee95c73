#!/usr/bin/env bash
# ipd.sh: user-space instructions per delivery under valgrind's callgrind, the way
# docs/PERFORMANCE.md measures it: 100 receivers, one sender, the server's instructions at
# 3,000 messages minus those at 1,000, divided by the 200,000 deliveries in between (so that
# connecting is not counted).
#
#   bash bench/ipd.sh [text|irc] [runs]      (default: text, 1 run)
#
# UVCHAT=path and BENCH=path measure another build (default build/release/). The server is
# stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO=${1:-text}
RUNS=${2:-1}
UVCHAT=${UVCHAT:-build/release/uvchat}
BENCH=${BENCH:-build/release/uvchat-bench}
if [ ! -x "$UVCHAT" ] || [ ! -x "$BENCH" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j 2 --target uvchat uvchat-bench >/dev/null
fi
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

ir() { # messages -> total Ir of the server
  local cg="$WORK/cg.out" port label
  rm -f "$cg" "$WORK/out"
  if [ "$PROTO" = irc ]; then label="(irc)"; else label="(text)"; fi
  valgrind --tool=callgrind --callgrind-out-file="$cg" "$UVCHAT" --host 127.0.0.1 --port 0 \
    --irc-port 0 --quiet --flood-rate 0 --max-per-addr 0 >"$WORK/out" 2>/dev/null &
  PID=$!
  for _ in $(seq 400); do grep -q "$label" "$WORK/out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n "s/.*:\([0-9]*\) $label.*/\1/p" "$WORK/out" | head -n 1)
  "$BENCH" --proto "$PROTO" --port "$port" --receivers 100 --senders 1 --messages "$1" \
    --timeout 600 >/dev/null 2>&1 || true
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  sed -n 's/^summary: //p; s/^totals: //p' "$cg" | head -n 1
}
for _ in $(seq "$RUNS"); do
  a=$(ir 1000)
  b=$(ir 3000)
  awk -v a="$a" -v b="$b" -v p="$PROTO" \
    'BEGIN { printf "%s: %d and %d instructions: %.1f per delivery\n", p, a, b, (b - a) / 200000 }'
done
