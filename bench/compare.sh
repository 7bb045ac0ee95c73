#!/usr/bin/env bash
# compare.sh: uvchat against Redis pub/sub and ngIRCd, side by side, on this machine.
#
#   bash bench/compare.sh [--reps N] [--quick] [--no-callgrind] [--no-scale] [--out DIR]
#                         [--only "SCENARIO ..."] [--servers "SERVER ..."]
#
# Starts each server on its own free loopback port (uvchat with flood control and
# connection limits off; redis-server and ngircd from the system's packages), runs the same
# scenarios against each with build/release/uvchat-bench, alternating servers within each
# repetition, and stops every server by its PID. It reports, per scenario and server, the
# median and min-max of: deliveries per second, loss, p50/p99 latency, the server's CPU
# seconds per million deliveries and the bench's own CPU time. Then:
#   - user-space instructions per delivery under valgrind's callgrind (a light fan-out run,
#     measured as the difference between two message counts, so connecting is not counted);
#   - uvchat's cost as the number of receivers grows (N = 10 ... 100,000 where the
#     open-file limit allows), with a gnuplot chart.
# Everything goes to DIR (default bench/results/): results.md, raw.txt, scale.png.
# --only runs some scenarios (fanout100 fanout1000 mesh10 lat100 slow1 slow1-ref idle),
# --servers some servers (uvchat redis ngircd uvchat-irc uvchat-ws; uvchat-ws is uvchat's web
# listener with IRC over WebSocket clients, skipped when the build has no --listen web).
# Callgrind measures the servers chosen. UVCHAT=path and BENCH=path in the environment
# measure another build (for example the one before a change).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
QUICK=0
CALLGRIND=1
SCALE=1
OUT=bench/results
ONLY=""
ONLY_SERVERS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --no-callgrind) CALLGRIND=0; shift ;;
    --no-scale) SCALE=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --servers) ONLY_SERVERS="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

UVCHAT=${UVCHAT:-build/release/uvchat}
BENCH=${BENCH:-build/release/uvchat-bench}
TOOLS="redis-server ngircd"
[ "$SCALE" = 1 ] && TOOLS="$TOOLS gnuplot"
[ "$CALLGRIND" = 1 ] && TOOLS="$TOOLS valgrind"
for tool in $TOOLS; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing (apt-get install redis-server ngircd gnuplot-nox valgrind)" >&2; exit 1; }
done
if [ ! -x "$UVCHAT" ] || [ ! -x "$BENCH" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target uvchat uvchat-bench >/dev/null
fi
mkdir -p "$OUT"
RAW="$OUT/raw.txt"
: >"$RAW"
WORK=$(mktemp -d)
# Every uvchat the bench starts has an account database of its own and no configuration file
# of the machine's.
ISOLATE=(--data-dir "$WORK/data" --config /dev/null)
chmod 777 "$WORK" # a server that drops root's privileges (ngircd) must still write its callgrind file
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# The open-file limit: 10,000 idle connections need both processes above it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- starting and stopping servers (each by its PID) --------------------------------------

SERVER_PID=""
SERVER_PORT=""
SERVER_PROTO=""

start_uvchat() { # [extra flags]
  local out="$WORK/uvchat.out"
  "$UVCHAT" --host 127.0.0.1 --port 0 --irc-port off --web-port off "${ISOLATE[@]}" --quiet \
    --flood-rate 0 --max-per-addr 0 --max-clients 0 "$@" >"$out" 2>"$WORK/uvchat.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 200); do grep -q "(text)" "$out" 2>/dev/null && break; sleep 0.05; done
  SERVER_PORT=$(sed -n 's/.*:\([0-9]*\) (text).*/\1/p' "$out")
  SERVER_PROTO=text
}

start_uvchat_irc() {
  local out="$WORK/uvchat.out"
  "$UVCHAT" --host 127.0.0.1 --port 0 --irc-port 0 --web-port off "${ISOLATE[@]}" --quiet \
    --flood-rate 0 --max-per-addr 0 --max-clients 0 --register-timeout 0 --ping-interval 0 >"$out" 2>"$WORK/uvchat.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 200); do grep -q "(irc)" "$out" 2>/dev/null && break; sleep 0.05; done
  SERVER_PORT=$(sed -n 's/.*:\([0-9]*\) (irc).*/\1/p' "$out")
  SERVER_PROTO=irc
}

# IRC over WebSocket: the web listener alone (with --listen the shortcut ports stay closed).
start_uvchat_ws() {
  local out="$WORK/uvchat.out"
  "$UVCHAT" --host 127.0.0.1 --listen web:127.0.0.1:0 "${ISOLATE[@]}" --quiet --flood-rate 0 \
    --max-per-addr 0 --max-clients 0 --register-timeout 0 --ping-interval 0 >"$out" 2>"$WORK/uvchat.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 200); do grep -q "(web)" "$out" 2>/dev/null && break; sleep 0.05; done
  SERVER_PORT=$(sed -n 's/.*:\([0-9]*\) (web).*/\1/p' "$out")
  SERVER_PROTO=ws
}
# Whether this uvchat build has the web listener (IRC over WebSocket).
# (The help is read whole first: grep -q in a pipe may leave uvchat writing into a closed pipe,
# and pipefail would take its SIGPIPE for "no".)
HAVE_WEB=0
UVCHAT_HELP=$("$UVCHAT" --help 2>/dev/null || true)
grep -q 'listen PROTO.*web' <<<"$UVCHAT_HELP" && HAVE_WEB=1

start_redis() { # [extra redis flags]
  SERVER_PORT=$(free_port)
  redis-server --port "$SERVER_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --protected-mode no --maxclients 50000 --loglevel warning "$@" >"$WORK/redis.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 200); do redis-cli -p "$SERVER_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  SERVER_PROTO=resp
}

# Writes the ngircd configuration for SERVER_PORT: penalties, per-address limits and lookups
# off, so that it is measured at its best.
write_ngircd_conf() {
  cat >"$WORK/ngircd.conf" <<EOF
[Global]
Name = bench.uvchat.test
Info = ngircd for uvchat's comparison
Listen = 127.0.0.1
Ports = $SERVER_PORT
PidFile = $WORK/ngircd.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
[Channel]
Name = #bench
Modes = +n
EOF
}

start_ngircd() {
  SERVER_PORT=$(free_port)
  write_ngircd_conf
  ngircd -n -f "$WORK/ngircd.conf" >"$WORK/ngircd.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT") 2>/dev/null && break; sleep 0.05; done
  SERVER_PROTO=irc
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# Runs the bench against the current server; prints its key=value result line.
bench() {
  "$BENCH" --proto "$SERVER_PROTO" --port "$SERVER_PORT" --server-pid "$SERVER_PID" \
    --timeout 300 "$@" 2>>"$WORK/bench.err" | tail -n 1 || true
}

# The value of key in a result line.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -n 1; }

# ---- scenarios -----------------------------------------------------------------------------
# The issue's shapes; message counts scaled so that the fastest server runs for seconds.
if [ "$QUICK" = 1 ]; then F=1; else F=10; fi
declare -A SCEN=(
  [fanout100]="--receivers 100 --senders 1 --messages $((20000 * F))"
  [fanout1000]="--receivers 1000 --senders 10 --messages $((1000 * F / 5 * 2))"
  [mesh10]="--receivers 10 --senders 10 --messages $((20000 * F / 2))"
  [lat100]="--receivers 100 --senders 1 --rate 2000 --messages $((2000 * (F > 1 ? 5 : 2)))"
  # One reader that never reads among 19 that do, one sender at a steady 5,000 messages/s
  # (2 MB/s: the stuck reader's kernel buffers and 1 MB queue fill within seconds); slow1-ref
  # is the same run without the stuck reader. The others' p50/p99 side by side show what the
  # stuck reader costs them.
  [slow1]="--receivers 19 --slow 1 --senders 1 --rate 5000 --size 400 --messages 25000"
  [slow1-ref]="--receivers 19 --senders 1 --rate 5000 --size 400 --messages 25000"
  [idle]="--receivers 10000 --senders 0 --idle 3 --connect-concurrency 64"
)
ORDER="fanout100 fanout1000 mesh10 lat100 slow1 slow1-ref idle"
SERVERS="uvchat redis ngircd uvchat-irc uvchat-ws"
[ -n "$ONLY" ] && ORDER="$ONLY"
[ -n "$ONLY_SERVERS" ] && SERVERS="$ONLY_SERVERS"
for scen in $ORDER; do
  [ -n "${SCEN[$scen]:-}" ] || { echo "compare.sh: unknown scenario $scen" >&2; exit 2; }
done

run_one() { # scenario server rep
  local scen="$1" srv="$2" rep="$3" line
  if [ "$srv" = uvchat-ws ] && [ "$HAVE_WEB" = 0 ]; then
    echo "scenario=$scen server=$srv rep=$rep skipped=1 reason=no_web_listener_in_$(basename "$UVCHAT")" >>"$RAW"
    printf '  %-10s %-11s rep %s: skipped (this uvchat has no web listener)\n' "$scen" "$srv" "$rep"
    return
  fi
  case "$srv" in
    uvchat) start_uvchat ;;
    uvchat-irc) start_uvchat_irc ;;
    uvchat-ws) start_uvchat_ws ;;
    redis)
      case "$scen" in
        slow1*) start_redis --client-output-buffer-limit "pubsub 1mb 1mb 0" ;;
        *) start_redis ;;
      esac ;;
    ngircd) start_ngircd ;;
  esac
  local extra=""
  [ "$srv" = ngircd ] && extra="--connect-concurrency 8"
  if [ "$scen" = idle ] && [ "$NOFILE" -lt 10100 ]; then
    line="skipped=1 reason=ulimit_n_$NOFILE"
  elif [ "$scen" = idle ] && [ "$srv" = ngircd ]; then
    # ngircd's listen backlog is 10: 10,000 connections take minutes; 2,000 show its cost.
    line=$(bench ${SCEN[$scen]/--receivers 10000/--receivers 2000} --connect-concurrency 8)
  else
    # shellcheck disable=SC2086
    line=$(bench ${SCEN[$scen]} $extra)
  fi
  stop_server
  echo "scenario=$scen server=$srv rep=$rep $line" >>"$RAW"
  printf '  %-10s %-11s rep %s: %s\n' "$scen" "$srv" "$rep" \
    "$(echo "$line" | tr ' ' '\n' | grep -E '^(deliveries_per_s|lost|p50_us|server_cpu_s|idle_rss_per_conn_bytes|slow_dropped|skipped)=' | tr '\n' ' ')"
}

echo "== comparison: $REPS repetitions, servers alternating, results in $OUT"
for rep in $(seq "$REPS"); do
  for scen in $ORDER; do
    for srv in $SERVERS; do
      run_one "$scen" "$srv" "$rep"
    done
  done
done

# ---- instructions per delivery under callgrind ----------------------------------------------

IPD_FILE="$OUT/ipd.txt"
: >"$IPD_FILE"
callgrind_ir() { # server-start-fn messages -> total Ir of the server
  local fn="$1" m="$2" cg="$WORK/cg.out"
  rm -f "$cg"
  case "$fn" in
    uvchat|uvchat-irc|uvchat-ws)
            # the same server and flags; only the listener the clients use differs
            case "$fn" in
              uvchat) listen=(--port 0 --irc-port off --web-port off); label=text ;;
              uvchat-irc) listen=(--port 0 --irc-port 0 --web-port off); label=irc ;;
              uvchat-ws) listen=(--listen web:127.0.0.1:0); label=web ;;
            esac
            valgrind --tool=callgrind --callgrind-out-file="$cg" "$UVCHAT" --host 127.0.0.1 "${listen[@]}" \
              "${ISOLATE[@]}" --quiet --flood-rate 0 --max-per-addr 0 >"$WORK/cg.stdout" 2>/dev/null &
            SERVER_PID=$!; PIDS+=("$SERVER_PID")
            for _ in $(seq 400); do grep -q "($label)" "$WORK/cg.stdout" 2>/dev/null && break; sleep 0.05; done
            SERVER_PORT=$(sed -n "s/.*:\\([0-9]*\\) ($label).*/\\1/p" "$WORK/cg.stdout")
            case "$label" in text) SERVER_PROTO=text ;; irc) SERVER_PROTO=irc ;; web) SERVER_PROTO=ws ;; esac ;;
    redis)  SERVER_PORT=$(free_port)
            valgrind --tool=callgrind --callgrind-out-file="$cg" redis-server --port "$SERVER_PORT" \
              --bind 127.0.0.1 --save '' --appendonly no --loglevel warning >/dev/null 2>&1 &
            SERVER_PID=$!; PIDS+=("$SERVER_PID")
            for _ in $(seq 400); do redis-cli -p "$SERVER_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
            SERVER_PROTO=resp ;;
    ngircd) SERVER_PORT=$(free_port); write_ngircd_conf
            # ngircd started as root drops to nobody and then cannot write the profile that
            # valgrind opened as root: start it as nobody in the first place.
            asuser=""
            [ "$(id -u)" = 0 ] && asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
            $asuser valgrind --tool=callgrind --callgrind-out-file="$cg" ngircd -n -f "$WORK/ngircd.conf" >/dev/null 2>&1 &
            SERVER_PID=$!; PIDS+=("$SERVER_PID")
            for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT") 2>/dev/null && break; sleep 0.05; done
            SERVER_PROTO=irc ;;
  esac
  local extra=""
  [ "$fn" = ngircd ] && extra="--connect-concurrency 8"
  # shellcheck disable=SC2086
  "$BENCH" --proto "$SERVER_PROTO" --port "$SERVER_PORT" --receivers 100 --senders 1 \
    --messages "$m" --timeout 600 $extra >/dev/null 2>&1 || true
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  sed -n 's/^summary: //p; s/^totals: //p' "$cg" | head -n 1
}
if [ "$CALLGRIND" = 1 ]; then
  echo "== user-space instructions per delivery (callgrind; 100 receivers, 1000 vs 3000 messages)"
  for srv in $SERVERS; do
    if [ "$srv" = uvchat-ws ] && [ "$HAVE_WEB" = 0 ]; then
      echo "server=$srv skipped (this uvchat has no web listener)" | tee -a "$IPD_FILE"
      continue
    fi
    a=$(callgrind_ir "$srv" 1000)
    b=$(callgrind_ir "$srv" 3000)
    if [ -n "$a" ] && [ -n "$b" ]; then
      ipd=$(( (b - a) / (2000 * 100) ))
    else
      ipd="n/a"
    fi
    echo "server=$srv ir_1000=$a ir_3000=$b instructions_per_delivery=$ipd" | tee -a "$IPD_FILE"
  done
fi

# ---- how uvchat's cost grows with N -----------------------------------------------------------

SCALE_FILE="$OUT/scale.dat"
: >"$SCALE_FILE"
if [ "$SCALE" = 1 ]; then
  echo "== uvchat scaling: 1 sender, N receivers, about 10 million deliveries each"
  SIZES="10 100 1000 10000 100000"
  if [ "$NOFILE" -lt 100200 ]; then
    # The largest N the open-file limit allows (server and bench each need N descriptors).
    SIZES="10 100 1000 10000 $(( (NOFILE - 500) / 500 * 500 ))"
    echo "  N=100000 skipped: the open-file limit here is $NOFILE (ulimit -Hn); the largest N is $(( (NOFILE - 500) / 500 * 500 ))" | tee -a "$RAW"
  fi
  for n in $SIZES; do
    m=$((10000000 / n)); [ "$m" -lt 200 ] && m=200
    [ "$QUICK" = 1 ] && m=$((m / 10))
    # Past the ephemeral port range (28,000 ports per source address) spread the clients over
    # 127.0.0.x; below it do not bind at all (bind-before-connect makes the kernel search for a
    # port the slow way).
    src=""
    [ "$n" -gt 20000 ] && src="--source-ips $(( (n + 19999) / 20000 ))"
    best=""
    for rep in $(seq "$REPS"); do
      start_uvchat
      # shellcheck disable=SC2086
      line=$(bench --receivers "$n" --senders 1 --messages "$m" $src)
      stop_server
      echo "scenario=scale n=$n rep=$rep $line" >>"$RAW"
      best="$best $(kv deliveries_per_s "$line"):$(kv server_cpu_s "$line"):$(kv deliveries "$line"):$(kv connect_s "$line"):$(kv server_rss_kb "$line")"
    done
    # median by deliveries per second
    med=$(tr ' ' '\n' <<<"$best" | grep : | sort -t: -k1,1g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
    IFS=: read -r dps cpu del con rss <<<"$med"
    us=$(awk -v c="$cpu" -v d="$del" 'BEGIN { if (d > 0) printf "%.4f", c * 1e6 / d; else print "nan" }')
    echo "$n $dps $us $con $rss" >>"$SCALE_FILE"
    printf '  N=%-6s deliveries/s %-12s server CPU per delivery %s us  connect %s s  server RSS %s KiB\n' "$n" "$dps" "$us" "$con" "$rss"
  done
  if [ -s "$SCALE_FILE" ]; then
    gnuplot <<EOF
set terminal pngcairo size 900,420 font ",10"
set output "$OUT/scale.png"
set multiplot layout 1,2 title "uvchat: 1 sender, N receivers, loopback, $(nproc) cores"
set logscale x
set xlabel "receivers (N)"
set grid
set ylabel "deliveries per second (millions)"
plot "$SCALE_FILE" using 1:(\$2/1e6) with linespoints lw 2 title "deliveries/s"
set ylabel "server CPU per delivery (ns)"
plot "$SCALE_FILE" using 1:(\$3*1000) with linespoints lw 2 lc rgb "#c0392b" title "CPU ns/delivery"
unset multiplot
EOF
  fi
fi

# ---- the table -------------------------------------------------------------------------------

{
  echo "# uvchat vs Redis pub/sub vs ngIRCd ($(date -u +%Y-%m-%d), $(nproc) cores, $REPS repetitions; median [min-max])"
  echo
  echo "| scenario | server | deliveries/s | lost | p50 ms | p99 ms | server CPU s / 1M deliveries | bench CPU s | other |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for scen in $ORDER; do
    for srv in $SERVERS; do
      grep "scenario=$scen server=$srv " "$RAW" | awk -v scen="$scen" -v srv="$srv" '
        function kv(k,   i, n, p) { n = split($0, p, " "); for (i = 1; i <= n; i++) if (index(p[i], k "=") == 1) return substr(p[i], length(k) + 2); return "" }
        function stat(arr, n,   i, j, t, lo, hi, med) {
          if (n == 0) return "-";
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] + 0 < arr[i] + 0) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
          med = arr[int((n + 1) / 2)]; lo = arr[1]; hi = arr[n];
          return sprintf(fmt, med) " [" sprintf(fmt, lo) "-" sprintf(fmt, hi) "]"
        }
        {
          if (kv("skipped") != "") { skipped = kv("reason"); next }
          n++;
          dps[n] = kv("deliveries_per_s"); lost[n] = kv("lost"); p50[n] = kv("p50_us") / 1000; p99[n] = kv("p99_us") / 1000;
          d = kv("deliveries"); c = kv("server_cpu_s"); cpm[n] = (d > 0) ? c * 1e6 / d : 0; bc[n] = kv("bench_cpu_s");
          mem[n] = kv("idle_rss_per_conn_bytes"); sd[n] = kv("slow_dropped"); hwm[n] = kv("server_hwm_kb"); conn[n] = kv("connected")
        }
        END {
          if (n == 0) { printf "| %s | %s | skipped (%s) | | | | | | |\n", scen, srv, skipped; exit }
          other = "";
          if (scen == "idle") { fmt = "%.0f"; other = "RSS/conn " stat(mem, n) " B, " conn[1] " connected" }
          if (scen == "slow1") { other = "stuck receiver dropped: " sd[1] ", server peak RSS " hwm[1] " KiB" }
          if (scen == "fanout1000" || scen == "slow1-ref") { fmt = "%.0f"; other = "server peak RSS " stat(hwm, n) " KiB" }
          fmt = "%.0f"; a = stat(dps, n); fmt = "%.0f"; b = stat(lost, n); fmt = "%.2f"; c1 = stat(p50, n); c2 = stat(p99, n);
          fmt = "%.3f"; e = stat(cpm, n); fmt = "%.2f"; f = stat(bc, n);
          if (scen == "idle") { a = "-"; c1 = "-"; c2 = "-"; e = "-" }
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, srv, a, b, c1, c2, e, f, other
        }'
    done
  done
  echo
  if [ -s "$IPD_FILE" ]; then
    echo "User-space instructions per delivery (callgrind, 100 receivers, (Ir at 3000 messages - Ir at 1000) / 200,000):"
    echo
    sed 's/^/    /' "$IPD_FILE"
    echo
  fi
  if [ -s "$SCALE_FILE" ]; then
    echo "uvchat scaling (N, deliveries/s, server CPU us/delivery, connect s, server RSS KiB):"
    echo
    sed 's/^/    /' "$SCALE_FILE"
  fi
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
