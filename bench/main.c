/* main.c: uvchat-bench's entry point: command line (loopback only), fd limit, run, report. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifndef _WIN32
#include <sys/resource.h>
#endif

#define MAX_CONNECTIONS 2000000u
#define MAX_SIZE        65536u
#define IRC_MAX_SIZE    400u /* an IRC line, with the server's prefix, must fit in 512 bytes */

/* Prints the usage text. */
static void usage(FILE* out) {
  fprintf(
      out,
      "usage: uvchat-bench --port N [OPTIONS]\n"
      "A load generator for uvchat and similar servers, on loopback only. Receivers\n"
      "connect and wait until the server has provably put them in the broadcast set;\n"
      "then each sender sends --messages messages, and the bench counts what every\n"
      "receiver gets: deliveries, losses, duplicates, reorders and latency.\n"
      "\n"
      "options:\n"
      "  --proto text|irc|resp|ws   protocol: uvchat's plain text, IRC, Redis pub/sub\n"
      "                             (RESP), or IRC over WebSocket (ws: GET /ws, subprotocol\n"
      "                             text.ircv3.net, one line per frame) (default: text)\n"
      "  --host ADDR                server address: 127.0.0.0/8 or ::1 only (default:\n"
      "                             127.0.0.1)\n"
      "  --port N[,N...]            server port (required); with several (up to %d), the\n"
      "                             room is split across servers that are joined some other\n"
      "                             way (uvchat's --cluster): receivers alternate between\n"
      "                             the ports, and so do senders (see --senders-on); implies\n"
      "                             --probe, and latency is also shown for receivers on their\n"
      "                             sender's server (local) and on another one (remote)\n"
      "  --senders-on all|first     with several ports: senders alternate between them (all)\n"
      "                             or all connect to the first (default: all)\n"
      "  --probe                    once everyone is in, every sender sends a probe line\n"
      "                             (again every 100 ms) until every receiver heard every\n"
      "                             sender; only then does the measured phase start\n"
      "  --receivers N              receivers that count deliveries (default: 10)\n"
      "  --senders S                sender connections (default: 1; 0 with --idle)\n"
      "  --messages M               messages each sender sends (default: 1000)\n"
      "  --rate R                   messages per second per sender; 0 = full speed, keeping\n"
      "                             %d KiB queued per sender (default: 0)\n"
      "  --size BYTES               payload bytes per message, at least its header\n"
      "                             \"B sender seq ts \" (default: 64; irc, ws: at most %u)\n"
      "  --timeout SECONDS          stop after this long whatever happens; the result line\n"
      "                             then says timeout=1 (default: 60)\n"
      "  --quiet SECONDS            after the senders finished, stop waiting once nothing\n"
      "                             arrived for this long (default: 2)\n"
      "  --source-ips K             bind clients to 127.0.0.1 .. 127.0.0.K in turn, to get\n"
      "                             past the ephemeral port range (IPv4 only; K <= 254)\n"
      "  --slow K                   K extra receivers with a %d-byte SO_RCVBUF that stop\n"
      "                             reading once in; reports whether the server dropped each\n"
      "  --idle SECONDS             connect everyone, hold SECONDS, measure, disconnect; no\n"
      "                             messages (with --server-pid: server memory per connection)\n"
      "  --server-pid PID[,PID...]  (Linux) the server's CPU time and RSS from /proc/PID\n"
      "                             before and after the measured phase; with several (up\n"
      "                             to %d), server_cpu_s is their sum (RSS: the first's)\n"
      "  --connect-concurrency C    at most C connections between starting the TCP connect\n"
      "                             and the server's first answer (default: 256)\n"
      "  --channel NAME             channel (irc and ws: #bench, resp: bench; text: unused,\n"
      "                             everyone is in the server's default room)\n"
      "  -v, --verbose              progress and server errors on stderr\n"
      "  -h, --help                 show this help and exit\n"
      "\n"
      "The last line of the output is machine-readable key=value pairs. Exit status: 0 when\n"
      "every receiver got every message exactly once and in order (slow receivers aside),\n"
      "1 on loss, duplicates, reorders, disconnects, errors or timeout, 2 on usage errors.\n",
      BENCH_MAX_PORTS, BENCH_SEND_WINDOW / 1024, IRC_MAX_SIZE, BENCH_SLOW_RCVBUF, BENCH_MAX_PIDS);
}

/* Prints a usage error and returns the exit status for it. */
static int usage_error(const char* msg, const char* arg) {
  fprintf(stderr, "uvchat-bench: %s%s%s\nTry 'uvchat-bench --help' for the options.\n", msg,
          arg ? ": " : "", arg ? arg : "");
  return 2;
}

/* Parses an unsigned integer in [min, max]; returns 0 on success. */
static int parse_uint(const char* s, unsigned long min, unsigned long max, unsigned long* out) {
  char* end;
  unsigned long v;
  if (s == NULL || *s < '0' || *s > '9') return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* Parses a non-negative number (seconds, rates); returns 0 on success. */
static int parse_num(const char* s, double max, double* out) {
  char* end;
  double v;
  if (s == NULL || ((*s < '0' || *s > '9') && *s != '.')) return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !(v >= 0) || v > max) return -1;
  *out = v;
  return 0;
}

/* Parses a comma-separated list of at most max unsigned integers in [min, max_v] into out;
 * returns how many, or 0 when the list is malformed. */
static uint32_t parse_list(const char* s, unsigned long min, unsigned long max_v, long* out,
                           uint32_t max) {
  char tok[24];
  uint32_t n = 0;
  unsigned long u;
  for (;;) {
    const char* comma = strchr(s, ',');
    size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
    if (len == 0 || len >= sizeof(tok) || n == max) return 0;
    memcpy(tok, s, len);
    tok[len] = '\0';
    if (parse_uint(tok, min, max_v, &u) != 0) return 0;
    out[n++] = (long)u;
    if (comma == NULL) return n;
    s = comma + 1;
  }
}

static int resolve_one(bench_t* b);

/* Resolves --host with every --port into b->dsts (b->dst is the first), accepting only
 * loopback addresses; returns 0, or the exit status after printing why not. */
static int resolve_target(bench_t* b) {
  uint32_t i;
  int r;
  for (i = 0; i < b->o.nports; i++) {
    b->o.port = b->o.ports[i];
    if ((r = resolve_one(b)) != 0) return r;
    memcpy(&b->dsts[i], &b->dst, sizeof(b->dst));
  }
  b->o.port = b->o.ports[0];
  memcpy(&b->dst, &b->dsts[0], sizeof(b->dst));
  return 0;
}

/* Resolves --host and b->o.port into b->dst, accepting only loopback addresses; returns 0, or
 * the exit status after printing why not. */
static int resolve_one(bench_t* b) {
  const char* host = b->o.host;
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  memset(&b->dst, 0, sizeof(b->dst));
  if (uv_ip4_addr(host, b->o.port, &a4) == 0) {
    const unsigned char* ip = (const unsigned char*)&a4.sin_addr;
    if (ip[0] != 127) goto refuse;
    memcpy(&b->dst, &a4, sizeof(a4));
    b->family = AF_INET;
    return 0;
  }
  if (uv_ip6_addr(host, b->o.port, &a6) == 0) {
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (memcmp(&a6.sin6_addr, loop6, 16) != 0) goto refuse;
    memcpy(&b->dst, &a6, sizeof(a6));
    b->family = AF_INET6;
    return 0;
  }
  fprintf(stderr,
          "uvchat-bench: --host %s is not a numeric address; use 127.0.0.1 (or another "
          "127.x.y.z) or ::1\n",
          b->o.host);
  return 2;
refuse:
  fprintf(stderr,
          "uvchat-bench: refusing to connect to %s: only loopback targets (127.0.0.0/8 or ::1) "
          "are allowed\n",
          b->o.host);
  return 2;
}

/* Reads the command line into b->o; returns -1 to go on, or an exit status. */
static int parse_args(bench_t* b, int argc, char** argv) {
  bench_opts_t* o = &b->o;
  int i, senders_given = 0, port_given = 0;
  unsigned long u;
  memset(o, 0, sizeof(*o));
  o->proto = PROTO_TEXT;
  o->host = "127.0.0.1";
  o->receivers = 10;
  o->senders = 1;
  o->messages = 1000;
  o->size = 64;
  o->timeout_s = 60;
  o->quiet_s = 2;
  o->idle_s = -1;
  o->connect_concurrency = 256;
  for (i = 1; i < argc; i++) {
    char name[64];
    const char* arg = argv[i];
    const char* val = NULL;
    const char* eq;
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
      o->verbose = 1;
      continue;
    }
    if (strcmp(arg, "--probe") == 0) {
      o->probe = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) return usage_error("unexpected argument", arg);
    eq = strchr(arg, '=');
    if (eq != NULL) {
      size_t n = (size_t)(eq - arg);
      if (n >= sizeof(name)) return usage_error("unknown option", arg);
      memcpy(name, arg, n);
      name[n] = '\0';
      val = eq + 1;
    } else {
      if (strlen(arg) >= sizeof(name)) return usage_error("unknown option", arg);
      strcpy(name, arg);
      if (i + 1 >= argc) return usage_error("this option needs a value", arg);
      val = argv[++i];
    }
    if (strcmp(name, "--proto") == 0) {
      if (strcmp(val, "text") == 0)
        o->proto = PROTO_TEXT;
      else if (strcmp(val, "irc") == 0)
        o->proto = PROTO_IRC;
      else if (strcmp(val, "resp") == 0)
        o->proto = PROTO_RESP;
      else if (strcmp(val, "ws") == 0)
        o->proto = PROTO_WS;
      else
        return usage_error("--proto must be text, irc, resp or ws", val);
    } else if (strcmp(name, "--host") == 0) {
      o->host = val;
    } else if (strcmp(name, "--port") == 0) {
      long ports[BENCH_MAX_PORTS];
      uint32_t k, n = parse_list(val, 1, 65535, ports, BENCH_MAX_PORTS);
      if (n == 0) return usage_error("bad --port", val);
      for (k = 0; k < n; k++)
        o->ports[k] = (int)ports[k];
      o->nports = n;
      o->port = o->ports[0];
      if (n > 1) o->probe = 1;
      port_given = 1;
    } else if (strcmp(name, "--senders-on") == 0) {
      if (strcmp(val, "all") == 0)
        o->senders_first = 0;
      else if (strcmp(val, "first") == 0)
        o->senders_first = 1;
      else
        return usage_error("--senders-on must be all or first", val);
    } else if (strcmp(name, "--receivers") == 0) {
      if (parse_uint(val, 0, MAX_CONNECTIONS, &u) != 0) return usage_error("bad --receivers", val);
      o->receivers = (uint32_t)u;
    } else if (strcmp(name, "--senders") == 0) {
      if (parse_uint(val, 0, MAX_CONNECTIONS, &u) != 0) return usage_error("bad --senders", val);
      o->senders = (uint32_t)u;
      senders_given = 1;
    } else if (strcmp(name, "--slow") == 0) {
      if (parse_uint(val, 0, MAX_CONNECTIONS, &u) != 0) return usage_error("bad --slow", val);
      o->slow = (uint32_t)u;
    } else if (strcmp(name, "--messages") == 0) {
      if (parse_uint(val, 1, 4000000000ul, &u) != 0) return usage_error("bad --messages", val);
      o->messages = (uint32_t)u;
    } else if (strcmp(name, "--rate") == 0) {
      if (parse_num(val, 1e9, &o->rate) != 0) return usage_error("bad --rate", val);
    } else if (strcmp(name, "--size") == 0) {
      if (parse_uint(val, 1, MAX_SIZE, &u) != 0) return usage_error("bad --size", val);
      o->size = (uint32_t)u;
    } else if (strcmp(name, "--timeout") == 0) {
      if (parse_num(val, 1e7, &o->timeout_s) != 0 || o->timeout_s <= 0)
        return usage_error("bad --timeout", val);
    } else if (strcmp(name, "--quiet") == 0) {
      if (parse_num(val, 1e6, &o->quiet_s) != 0) return usage_error("bad --quiet", val);
    } else if (strcmp(name, "--source-ips") == 0) {
      if (parse_uint(val, 1, 254, &u) != 0)
        return usage_error("--source-ips must be 1 to 254", val);
      o->source_ips = (uint32_t)u;
    } else if (strcmp(name, "--idle") == 0) {
      if (parse_num(val, 1e7, &o->idle_s) != 0) return usage_error("bad --idle", val);
    } else if (strcmp(name, "--server-pid") == 0) {
      o->npids = parse_list(val, 1, 0x7fffffff, o->server_pids, BENCH_MAX_PIDS);
      if (o->npids == 0) return usage_error("bad --server-pid", val);
      o->server_pid = o->server_pids[0];
    } else if (strcmp(name, "--connect-concurrency") == 0) {
      if (parse_uint(val, 1, 65536, &u) != 0)
        return usage_error("--connect-concurrency must be 1 to 65536", val);
      o->connect_concurrency = (uint32_t)u;
    } else if (strcmp(name, "--channel") == 0) {
      if (*val == '\0' || strlen(val) > 64 || strpbrk(val, " \r\n,") != NULL)
        return usage_error("bad --channel", val);
      o->channel = val;
    } else {
      return usage_error("unknown option", arg);
    }
  }
  if (!port_given) return usage_error("--port is required", NULL);
  if (o->idle_s >= 0) {
    if (!senders_given) o->senders = 0;
    o->messages = 0;
  } else {
    if (o->receivers == 0) return usage_error("--receivers must be at least 1", NULL);
    if (o->senders == 0) return usage_error("--senders must be at least 1", NULL);
  }
  if (o->probe && o->idle_s >= 0) o->probe = 0; /* nothing is sent in an idle run */
  if ((uint64_t)o->receivers + o->senders + o->slow > MAX_CONNECTIONS)
    return usage_error("too many connections", NULL);
  if ((uint64_t)o->receivers + o->senders + o->slow == 0)
    return usage_error("nothing to connect", NULL);
  if ((o->proto == PROTO_IRC || o->proto == PROTO_WS) && o->size > IRC_MAX_SIZE)
    return usage_error("--size is at most 400 with --proto irc or ws (512-byte lines)", NULL);
  if (o->channel == NULL)
    o->channel = o->proto == PROTO_IRC || o->proto == PROTO_WS ? "#bench" : "bench";
  return -1;
}

/* Raises the soft open-files limit to the hard one and checks that `need` descriptors fit;
 * returns 0, or prints why not and returns -1. */
static int raise_fd_limit(uint64_t need) {
#ifndef _WIN32
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur != rl.rlim_max) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) { /* macOS refuses RLIM_INFINITY */
      want.rlim_cur = (rlim_t)need;
      if (want.rlim_cur > rl.rlim_cur) setrlimit(RLIMIT_NOFILE, &want);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && (uint64_t)rl.rlim_cur < need) {
    fprintf(stderr,
            "uvchat-bench: %llu connections need about %llu file descriptors, but the limit "
            "is %llu (hard limit %llu); raise it (ulimit -n) and try again\n",
            (unsigned long long)(need - 32), (unsigned long long)need,
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    return -1;
  }
#else
  (void)need;
#endif
  return 0;
}

/* Microseconds from nanoseconds, for the report. */
static double us(uint64_t ns) {
  return (double)ns / 1e3;
}

/* Prints the human-readable summary and, last, the key=value line; returns the exit status. */
static int report(const bench_t* b) {
  const bench_opts_t* o = &b->o;
  uint64_t per_recv = (uint64_t)o->senders * o->messages;
  uint64_t lost = b->expected > b->unique ? b->expected - b->unique : 0;
  uint64_t end = b->t_measure_end != 0 ? b->t_measure_end : b->t_measure;
  uint64_t last, p50, p99, p999;
  double dur = 0, connect_s, cpu = 0, dps = 0;
  uint32_t i, short_recv = 0, slow_dropped = 0, first_slow = o->receivers + o->senders;
  int all_in = b->ready == b->nclients && b->nclients > 0;
  int ok;
  char rate[32];

  if (b->t_measure != 0) {
    last = b->t_last_delivery > b->t_measure && o->idle_s < 0 ? b->t_last_delivery : end;
    dur = (double)(last - b->t_measure) / 1e9;
    cpu = b->cpu_end - b->cpu_start;
  }
  if (dur > 0) dps = (double)b->deliveries / dur;
  connect_s = (double)((all_in ? b->t_ready : (end != 0 ? end : b->t_ready)) - b->t_start) / 1e9;
  for (i = 0; i < o->receivers; i++)
    if (b->clients[i].got < per_recv) short_recv++;
  for (i = first_slow; i < b->nclients; i++)
    if ((b->clients[i].flags & BF_EOF) && b->clients[i].got < per_recv) slow_dropped++;
  p50 = hist_quantile(&b->lat, 0.5);
  p99 = hist_quantile(&b->lat, 0.99);
  p999 = hist_quantile(&b->lat, 0.999);
  if (o->rate > 0)
    snprintf(rate, sizeof(rate), "%g msgs/s per sender", o->rate);
  else
    snprintf(rate, sizeof(rate), "full speed");

  if (b->errmsg[0]) fprintf(stderr, "uvchat-bench: error: %s\n", b->errmsg);
  if (o->nports > 1) {
    printf("uvchat-bench: %s on %s ports %d", proto_name(o->proto), o->host, o->ports[0]);
    for (i = 1; i < o->nports; i++)
      printf(",%d", o->ports[i]);
    printf(" (receivers alternating, senders %s)\n",
           o->senders_first ? "on the first" : "alternating");
  } else {
    printf("uvchat-bench: %s on %s port %d\n", proto_name(o->proto), o->host, o->port);
  }
  printf("connect: %u of %u connected, %u in the broadcast set, after %.3f s%s\n",
         (unsigned)b->connected, (unsigned)b->nclients, (unsigned)b->ready, connect_s,
         all_in ? "" : " (not all in)");
  if (o->idle_s >= 0) {
    printf("idle: %u connections held for %g s; %u disconnected by the server\n",
           (unsigned)b->nclients, o->idle_s, (unsigned)b->dropped);
  } else {
    printf("load: %u receivers + %u slow, %u senders x %u messages of %u bytes, %s\n",
           (unsigned)o->receivers, (unsigned)o->slow, (unsigned)o->senders, (unsigned)o->messages,
           (unsigned)o->size, rate);
    printf("delivered: %llu of %llu in %.3f s = %.0f deliveries/s\n", (unsigned long long)b->unique,
           (unsigned long long)b->expected, dur, dps);
    printf(
        "errors: lost %llu, duplicates %llu, reordered %llu, malformed %llu; %u receivers "
        "short, %u disconnected; %u senders failed\n",
        (unsigned long long)lost, (unsigned long long)b->dup, (unsigned long long)b->reordered,
        (unsigned long long)b->bad, (unsigned)short_recv, (unsigned)b->dropped,
        (unsigned)b->sender_failures);
    printf("latency: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", us(p50), us(p99),
           us(p999), us(b->lat.max));
    if (o->nports > 1)
      printf(
          "latency on the sender's server (%llu): p50 %.1f us, p99 %.1f us; on another server "
          "(%llu): p50 %.1f us, p99 %.1f us\n",
          (unsigned long long)b->local_deliveries, us(hist_quantile(&b->lat_local, 0.5)),
          us(hist_quantile(&b->lat_local, 0.99)), (unsigned long long)b->remote_deliveries,
          us(hist_quantile(&b->lat_remote, 0.5)), us(hist_quantile(&b->lat_remote, 0.99)));
    if (o->probe)
      printf("probe: every receiver heard every sender after %.3f s (%u rounds)\n",
             b->t_measure > b->t_probe_start && b->t_probe_start != 0
                 ? (double)(b->t_measure - b->t_probe_start) / 1e9
                 : 0.0,
             (unsigned)b->probe_rounds);
    if (o->rate > 0)
      printf("rate: the most overdue send went out %.1f us behind schedule\n", us(b->send_lag_max));
    for (i = first_slow; i < b->nclients && i < first_slow + 10; i++) {
      const bench_client_t* c = &b->clients[i];
      if ((c->flags & BF_EOF) && c->got < per_recv)
        printf("slow receiver %u: disconnected by the server; got %llu of %llu\n", (unsigned)i,
               (unsigned long long)c->got, (unsigned long long)per_recv);
      else
        printf("slow receiver %u: not disconnected; got %llu of %llu\n", (unsigned)i,
               (unsigned long long)c->got, (unsigned long long)per_recv);
    }
    if (o->slow > 10)
      printf("slow receivers: %u of %u disconnected by the server\n", (unsigned)slow_dropped,
             (unsigned)o->slow);
  }
  printf("cpu: bench %.3f s, peak RSS %llu kB", cpu, (unsigned long long)procstat_self_maxrss_kb());
  if (b->srv_before.ok && b->srv_after.ok)
    printf("; server %.3f s, RSS %llu kB (before %llu kB, peak %llu kB)",
           b->srv_after.cpu_s - b->srv_before.cpu_s, (unsigned long long)b->srv_after.rss_kb,
           (unsigned long long)(o->idle_s >= 0 ? b->srv_base.rss_kb : b->srv_before.rss_kb),
           (unsigned long long)b->srv_after.hwm_kb);
  printf("\n");
  if (b->last_error_line[0]) printf("last server error: %s\n", b->last_error_line);

  ok = !b->failed && !b->timed_out && !b->interrupted && lost == 0 && b->dup == 0 &&
       b->reordered == 0 && b->bad == 0 && b->dropped == 0 && b->sender_failures == 0 && all_in;

  printf(
      "proto=%s n=%u slow=%u senders=%u messages=%u size=%u rate=%g deliveries=%llu "
      "expected=%llu lost=%llu dup=%llu reordered=%llu secs=%.3f deliveries_per_s=%.0f "
      "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f connect_s=%.3f bench_cpu_s=%.3f "
      "timeout=%d slow_dropped=%u dropped=%u bad=%llu connected=%u bench_rss_kb=%llu ok=%d",
      proto_name(o->proto), (unsigned)o->receivers, (unsigned)o->slow, (unsigned)o->senders,
      (unsigned)o->messages, (unsigned)o->size, o->rate, (unsigned long long)b->deliveries,
      (unsigned long long)b->expected, (unsigned long long)lost, (unsigned long long)b->dup,
      (unsigned long long)b->reordered, dur, dps, us(p50), us(p99), us(p999), us(b->lat.max),
      connect_s, cpu, b->timed_out, (unsigned)slow_dropped, (unsigned)b->dropped,
      (unsigned long long)b->bad, (unsigned)b->connected,
      (unsigned long long)procstat_self_maxrss_kb(), ok);
  if (o->server_pid > 0 && procstat_supported()) {
    const bench_procstat_t* before = o->idle_s >= 0 ? &b->srv_base : &b->srv_before;
    double scpu =
        b->srv_after.ok && b->srv_before.ok ? b->srv_after.cpu_s - b->srv_before.cpu_s : 0;
    if (o->npids > 1) {
      scpu = 0;
      for (i = 0; i < o->npids; i++)
        scpu += b->pid_cpu_after[i] - b->pid_cpu_before[i];
    }
    printf(" server_cpu_s=%.3f server_rss_kb=%llu server_hwm_kb=%llu server_rss_before_kb=%llu",
           scpu, (unsigned long long)b->srv_after.rss_kb, (unsigned long long)b->srv_after.hwm_kb,
           (unsigned long long)before->rss_kb);
  }
  if (o->idle_s >= 0) {
    double per_conn = 0;
    if (b->srv_after.ok && b->srv_base.ok && b->nclients > 0)
      per_conn =
          ((double)b->srv_after.rss_kb - (double)b->srv_base.rss_kb) * 1024.0 / (double)b->nclients;
    printf(" idle_rss_per_conn_bytes=%.0f", per_conn);
  }
  if (o->rate > 0) printf(" send_lag_max_us=%.1f", us(b->send_lag_max));
  if (o->npids > 1 && procstat_supported()) {
    printf(" server_cpu_s_each=");
    for (i = 0; i < o->npids; i++)
      printf("%s%.3f", i > 0 ? "," : "", b->pid_cpu_after[i] - b->pid_cpu_before[i]);
  }
  if (o->nports > 1) {
    printf(" ports=%d", o->ports[0]);
    for (i = 1; i < o->nports; i++)
      printf(",%d", o->ports[i]);
    printf(
        " senders_on=%s local_deliveries=%llu local_p50_us=%.1f local_p99_us=%.1f "
        "remote_deliveries=%llu remote_p50_us=%.1f remote_p99_us=%.1f",
        o->senders_first ? "first" : "all", (unsigned long long)b->local_deliveries,
        us(hist_quantile(&b->lat_local, 0.5)), us(hist_quantile(&b->lat_local, 0.99)),
        (unsigned long long)b->remote_deliveries, us(hist_quantile(&b->lat_remote, 0.5)),
        us(hist_quantile(&b->lat_remote, 0.99)));
  }
  if (o->probe)
    printf(" probe_s=%.3f probe_rounds=%u",
           b->t_measure > b->t_probe_start && b->t_probe_start != 0
               ? (double)(b->t_measure - b->t_probe_start) / 1e9
               : 0.0,
           (unsigned)b->probe_rounds);
  printf("\n");
  fflush(stdout);
  return ok ? 0 : 1;
}

/* Parses the options, runs the benchmark and reports it. */
int main(int argc, char** argv) {
  static bench_t bench; /* large (histogram): not on the stack */
  bench_t* b = &bench;
  int r;
  if ((r = parse_args(b, argc, argv)) >= 0) return r;
  if ((r = resolve_target(b)) != 0) return r;
  if (b->o.source_ips > 0 && b->family != AF_INET)
    return usage_error("--source-ips needs an IPv4 --host", NULL);
  if (b->o.server_pid > 0) {
    bench_procstat_t st;
    if (!procstat_supported()) {
      fprintf(stderr, "uvchat-bench: note: --server-pid works on Linux only; ignored\n");
      b->o.server_pid = 0;
      b->o.npids = 0;
    } else {
      uint32_t k;
      for (k = 0; k < b->o.npids; k++)
        if (procstat_read(b->o.server_pids[k], &st) != 0) {
          fprintf(stderr, "uvchat-bench: cannot read /proc/%ld: no such process?\n",
                  b->o.server_pids[k]);
          return 2;
        }
    }
  }
  if (b->o.idle_s >= 0 && b->o.idle_s >= b->o.timeout_s)
    fprintf(stderr, "uvchat-bench: note: --idle %g is not shorter than --timeout %g\n", b->o.idle_s,
            b->o.timeout_s);
  if (raise_fd_limit((uint64_t)b->o.receivers + b->o.senders + b->o.slow + 32) != 0) return 2;
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a server that went away is EPIPE, not death */
#endif
  if (bench_run(b) != 0) {
    fprintf(stderr, "uvchat-bench: %s\n", b->errmsg);
    bench_free(b);
    return 1;
  }
  r = report(b);
  bench_free(b);
  return r;
}
