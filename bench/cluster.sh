#!/usr/bin/env bash
# cluster.sh: one room split across two uvchat servers joined through Redis (--cluster),
# against the same room on one server, and Redis pub/sub alone, in one run (issue 14).
#
#   bash bench/cluster.sh [--reps N] [--quick] [--out DIR] [--only "SCENARIO ..."]
#                         [--modes "MODE ..."]
#
# Modes, alternating within each repetition, each on fresh processes and free loopback ports:
#   one      one uvchat server alone (no --cluster)
#   one-rds  one uvchat server with --cluster on its own redis-server (the cluster's own cost
#            with nobody on another server)
#   two      two uvchat servers on one redis-server, the room split across them: receivers
#            alternate between the servers (fanout, lat: the sender on the first server, so
#            half the receivers are behind the hop; mesh: senders alternate too)
#   redis    Redis pub/sub alone (uvchat-bench --proto resp against redis-server)
# For each: deliveries/s, latency p50/p99 (in "two" also for receivers on the sender's server
# and on the other one), and CPU seconds per million deliveries summed over every server
# process of the mode, redis-server included (uvchat-bench --server-pid A,B,C reads
# /proc/PID/stat at the start and the end of the measured phase). Scenarios: fanout100,
# mesh10, lat100 (a steady 2,000 messages/s: latency without queueing), mesh10r (mesh10 at
# 1,000 messages/s per sender), fanout1000.
# Everything goes to DIR (default bench/results/cluster): results.md and raw.txt.
# UVCHAT=path and BENCH=path in the environment measure another build; UVCHAT_FLAGS adds flags
# to every uvchat server (UVCHAT_FLAGS="--history-size 0": without the history store).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
QUICK=0
OUT=bench/results/cluster
ONLY=""
MODES="one one-rds two redis"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

UVCHAT=${UVCHAT:-build/release/uvchat}
BENCH=${BENCH:-build/release/uvchat-bench}
command -v redis-server >/dev/null || { echo "cluster.sh: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "cluster.sh: redis-cli is missing (apt-get install redis-tools)" >&2; exit 1; }
if [ ! -x "$UVCHAT" ] || [ ! -x "$BENCH" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target uvchat uvchat-bench >/dev/null
fi
UVCHAT_HELP=$("$UVCHAT" --help 2>/dev/null || true)
grep -q -- '--cluster redis://' <<<"$UVCHAT_HELP" || { echo "cluster.sh: $UVCHAT has no --cluster (built without hiredis?)" >&2; exit 1; }
mkdir -p "$OUT"
RAW="$OUT/raw.txt"
: >"$RAW"
WORK=$(mktemp -d)
PIDS=() # every process started, stopped by its PID
cleanup() {
  for p in "${PIDS[@]:-}"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done
  for p in "${PIDS[@]:-}"; do if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- starting and stopping (each process by its PID) ---------------------------------------

RUN_PIDS=() # the processes of the current run
REDIS_PID=""
REDIS_PORT=""
UV_PID=""
UV_PORT=""

start_redis() {
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --protected-mode no --maxclients 50000 --loglevel warning >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  RUN_PIDS+=("$REDIS_PID")
  for _ in $(seq 1200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "cluster.sh: redis-server did not start" >&2
  exit 1
}

# Starts a uvchat server; if it has not said where it listens after 60 s, saves what it was
# doing to $OUT/stall-*.txt, kills it and tries once more.
start_uvchat() { # name [extra flags]
  try_start_uvchat "$@" && return
  echo "cluster.sh: uvchat did not start; trying once more" >&2
  try_start_uvchat "$@" && return
  exit 1
}

try_start_uvchat() { # name [extra flags]
  local name="$1"
  shift
  local out="$WORK/$name.out" data
  data=$(mktemp -d "$WORK/data.XXXXXX")
  "$UVCHAT" --host 127.0.0.1 --port 0 --irc-port off --web-port off --data-dir "$data" \
    --config /dev/null --quiet --flood-rate 0 --max-per-addr 0 --max-clients 0 ${UVCHAT_FLAGS:-} "$@" \
    >"$out" 2>"$WORK/$name.err" &
  UV_PID=$!
  PIDS+=("$UV_PID")
  RUN_PIDS+=("$UV_PID")
  # (bounded: 60 s, for a machine busy with other work)
  for _ in $(seq 1200); do
    grep -q "(text)" "$out" 2>/dev/null && break
    kill -0 "$UV_PID" 2>/dev/null || break
    sleep 0.05
  done
  UV_PORT=$(sed -n 's/.*:\([0-9]*\) (text).*/\1/p' "$out")
  if [ -z "$UV_PORT" ]; then
    local stall
    stall="$OUT/stall-$(date -u +%H%M%S)-$name.txt"
    {
      echo "uvchat $UV_PID ($*) did not print its listening line within 60 s; $(kill -0 "$UV_PID" 2>/dev/null && echo "still running" || echo "exited")"
      echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$WORK/$name.err"
      echo "--- wchan: $(cat "/proc/$UV_PID/wchan" 2>/dev/null)"
      command -v strace >/dev/null && timeout 2 strace -p "$UV_PID" 2>&1 | head -n 20
    } >"$stall" 2>&1
    echo "cluster.sh: uvchat did not start: see $stall" >&2
    kill -KILL "$UV_PID" 2>/dev/null || true
    wait "$UV_PID" 2>/dev/null || true
    return 1
  fi
}

# Waits until n uvchat servers are connected to Redis: each one subscribes to its own channel.
wait_cluster() { # n
  for _ in $(seq 100); do
    local subs
    subs=$(redis-cli -p "$REDIS_PORT" client list 2>/dev/null | grep -cE ' (sub|psub)=[1-9]' || true)
    [ "$subs" -ge "$1" ] && return
    sleep 0.05
  done
}

# Stops a process by its PID: SIGTERM, then SIGKILL if it is still there after 10 s (noted in
# raw.txt: a server that does not stop is a finding).
stop_pid() { # pid what
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$1" 2>/dev/null; then
    echo "note: $2 (pid $1) did not exit within 10 s of SIGTERM; killed" | tee -a "$RAW" >&2
    kill -KILL "$1" 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}

# Stops the run's uvchat servers first, then its redis-server (a uvchat whose Redis is gone
# keeps reconnecting while it shuts down).
stop_run() {
  for p in "${RUN_PIDS[@]:-}"; do
    if [ -n "$p" ] && [ "$p" != "$REDIS_PID" ]; then stop_pid "$p" uvchat; fi
  done
  if [ -n "$REDIS_PID" ]; then stop_pid "$REDIS_PID" redis-server; fi
  RUN_PIDS=()
  REDIS_PID=""
}

# ---- scenarios -----------------------------------------------------------------------------
# Full runs last seconds: /proc counts CPU in 10 ms ticks.
if [ "$QUICK" = 1 ]; then F=1; else F=10; fi
declare -A SCEN=(
  [fanout100]="--receivers 100 --senders 1 --messages $((10000 * F))"
  [mesh10]="--receivers 10 --senders 10 --messages $((5000 * F))"
  [lat100]="--receivers 100 --senders 1 --rate 2000 --messages $((1000 * F))"
  # mesh10 at a rate every mode sustains (at full speed Redis drops the uvchat subscriber at its
  # pub/sub output buffer limit, and the two-server mode loses messages: see PERFORMANCE.md)
  [mesh10r]="--receivers 10 --senders 10 --rate 1000 --messages $((500 * F))"
  [fanout1000]="--receivers 1000 --senders 10 --messages $((200 * F))"
)
# where the senders of the two-server mode connect
declare -A SENDERS_ON=([fanout100]=first [mesh10]=all [lat100]=first [mesh10r]=all [fanout1000]=first)
ORDER="fanout100 mesh10 lat100 mesh10r fanout1000"
[ -n "$ONLY" ] && ORDER="$ONLY"
for scen in $ORDER; do
  [ -n "${SCEN[$scen]:-}" ] || { echo "cluster.sh: unknown scenario $scen" >&2; exit 2; }
done
for mode in $MODES; do
  case "$mode" in one|one-rds|two|redis) ;; *) echo "cluster.sh: unknown mode $mode" >&2; exit 2 ;; esac
done

run_one() { # scenario mode rep
  local scen="$1" mode="$2" rep="$3" line ports pids proto=text
  case "$mode" in
    one)
      start_uvchat u1
      ports=$UV_PORT; pids=$UV_PID ;;
    one-rds)
      start_redis
      start_uvchat u1 --cluster "redis://127.0.0.1:$REDIS_PORT"
      wait_cluster 1
      ports=$UV_PORT; pids="$UV_PID,$REDIS_PID" ;;
    two)
      start_redis
      start_uvchat u1 --cluster "redis://127.0.0.1:$REDIS_PORT"
      local p1=$UV_PORT pid1=$UV_PID
      start_uvchat u2 --cluster "redis://127.0.0.1:$REDIS_PORT"
      wait_cluster 2
      ports="$p1,$UV_PORT"; pids="$pid1,$UV_PID,$REDIS_PID" ;;
    redis)
      start_redis
      proto=resp; ports=$REDIS_PORT; pids=$REDIS_PID ;;
  esac
  # shellcheck disable=SC2086
  line=$("$BENCH" --proto "$proto" --port "$ports" --senders-on "${SENDERS_ON[$scen]}" --probe \
    --server-pid "$pids" --timeout 300 ${SCEN[$scen]} 2>>"$WORK/bench.err" | tail -n 1 || true)
  stop_run
  echo "scenario=$scen mode=$mode rep=$rep $line" >>"$RAW"
  printf '  %-10s %-7s rep %s: %s\n' "$scen" "$mode" "$rep" \
    "$(tr ' ' '\n' <<<"$line" | grep -E '^(deliveries_per_s|lost|p50_us|p99_us|remote_p50_us|server_cpu_s|ok)=' | tr '\n' ' ')"
}

echo "== cluster: $REPS repetitions, modes alternating ($MODES), results in $OUT"
for rep in $(seq "$REPS"); do
  for scen in $ORDER; do
    for mode in $MODES; do
      run_one "$scen" "$mode" "$rep"
    done
  done
done

# ---- the table -----------------------------------------------------------------------------
# Per scenario and mode: median [min-max] over the repetitions. The ratios are taken within
# each repetition (two and one ran side by side) and then their median.
{
  echo "# uvchat cluster: one room on two servers vs one server vs Redis alone ($(date -u +%Y-%m-%d), $(nproc) cores, $REPS repetitions; median [min-max])"
  echo
  echo "| scenario | mode | deliveries/s | lost | p50 ms | p99 ms | local p50 / p99 ms | remote p50 / p99 ms | server CPU s / 1M deliveries (all processes) | CPU s of each process, rep 1 (uvchat A, uvchat B, redis) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for scen in $ORDER; do
    for mode in $MODES; do
      grep "scenario=$scen mode=$mode " "$RAW" | awk -v scen="$scen" -v mode="$mode" '
        function kv(k,   i, n, p) { n = split($0, p, " "); for (i = 1; i <= n; i++) if (index(p[i], k "=") == 1) return substr(p[i], length(k) + 2); return "" }
        function med(arr, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] + 0 < arr[i] + 0) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }; return arr[int((n + 1) / 2)] }
        function stat(arr, n, fmt,   m) { if (n == 0) return "-"; m = med(arr, n); return sprintf(fmt, m) " [" sprintf(fmt, arr[1]) "-" sprintf(fmt, arr[n]) "]" }
        {
          n++;
          dps[n] = kv("deliveries_per_s"); lost[n] = kv("lost"); p50[n] = kv("p50_us") / 1000; p99[n] = kv("p99_us") / 1000;
          d = kv("deliveries"); c = kv("server_cpu_s"); cpm[n] = (d > 0) ? c * 1e6 / d : 0;
          lp50[n] = kv("local_p50_us") / 1000; lp99[n] = kv("local_p99_us") / 1000;
          rp50[n] = kv("remote_p50_us") / 1000; rp99[n] = kv("remote_p99_us") / 1000;
          each[n] = kv("server_cpu_s_each"); if (each[n] == "") each[n] = c; if (kv("ok") != "1") bad++
        }
        END {
          if (n == 0) exit;
          loc = "-"; rem = "-";
          if (mode == "two") { loc = sprintf("%.2f / %.2f", med(lp50, n), med(lp99, n)); rem = sprintf("%.2f / %.2f", med(rp50, n), med(rp99, n)) }
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, mode (bad ? " (" bad " runs not ok)" : ""),
            stat(dps, n, "%.0f"), stat(lost, n, "%.0f"), stat(p50, n, "%.2f"), stat(p99, n, "%.2f"), loc, rem, stat(cpm, n, "%.3f"), each[1]
        }'
    done
  done
  echo
  echo "Ratios within each repetition (median [min-max]): two servers against one alone (two/one) and"
  echo "against one with --cluster (two/one-rds): CPU per delivery (all processes) and deliveries/s;"
  echo "the hop: remote p50 minus local p50 in two, and two's p50 minus one's p50."
  echo
  echo "| scenario | CPU/delivery two/one | CPU/delivery two/one-rds | deliveries/s two/one | hop: remote - local p50 ms (two) | p50 two - one ms |"
  echo "|---|---|---|---|---|---|"
  for scen in $ORDER; do
    awk -v scen="$scen" '
      function kv(k,   i, n, p) { n = split($0, p, " "); for (i = 1; i <= n; i++) if (index(p[i], k "=") == 1) return substr(p[i], length(k) + 2); return "" }
      function sortn(arr, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] + 0 < arr[i] + 0) { t = arr[i]; arr[i] = arr[j]; arr[j] = t } }
      function stat(arr, n, fmt) { if (n == 0) return "-"; sortn(arr, n); return sprintf(fmt, arr[int((n + 1) / 2)]) " [" sprintf(fmt, arr[1]) "-" sprintf(fmt, arr[n]) "]" }
      index($0, "scenario=" scen " ") == 1 {
        m = kv("mode"); r = kv("rep"); d = kv("deliveries");
        cpm[m, r] = d > 0 ? kv("server_cpu_s") / d : 0; dps[m, r] = kv("deliveries_per_s"); p50[m, r] = kv("p50_us") / 1000;
        if (m == "two") hop[r] = (kv("remote_p50_us") - kv("local_p50_us")) / 1000;
        if (r + 0 > reps) reps = r + 0
      }
      END {
        for (r = 1; r <= reps; r++) {
          if (cpm["one", r] > 0 && cpm["two", r] > 0) { a[++na] = cpm["two", r] / cpm["one", r]; c[++nc] = dps["two", r] / dps["one", r]; e[++ne] = p50["two", r] - p50["one", r] }
          if (cpm["one-rds", r] > 0 && cpm["two", r] > 0) b[++nb] = cpm["two", r] / cpm["one-rds", r];
          if ((r in hop)) h[++nh] = hop[r]
        }
        printf "| %s | %s | %s | %s | %s | %s |\n", scen, stat(a, na, "%.2f"), stat(b, nb, "%.2f"), stat(c, nc, "%.2f"), stat(h, nh, "%.3f"), stat(e, ne, "%.3f")
      }' "$RAW"
  done
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
