/* bench.h: types and entry points shared by the files of uvchat-bench. */
#ifndef UVCHAT_BENCH_H
#define UVCHAT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hist.h"
#include "procstat.h"

/* How much of an unfinished line (or RESP bulk) a connection keeps between reads. Longer lines
 * are cut to this length: everything the bench parses sits at their start. */
#define BENCH_PART_MAX 512
/* The one read buffer every connection reads into (overridable to test split frames). */
#ifndef BENCH_READ_BUF
#define BENCH_READ_BUF (256 * 1024)
#endif
/* A sender keeps at most this many bytes in uv_write requests at once. */
#define BENCH_SEND_WINDOW (256 * 1024)
/* Senders fill chunks of this size (or one message, if larger). */
#define BENCH_CHUNK 32768
/* Receive buffer of a slow receiver, set before it connects. */
#define BENCH_SLOW_RCVBUF 4096
/* Above this, the per-(receiver, sender) bitmap of seen sequence numbers is not kept and
 * duplicates cannot be told from reorders. */
#define BENCH_BITMAP_MAX ((uint64_t)1 << 30) /* bytes */

/* At most this many servers (--port P1,P2,...) and server processes (--server-pid A,B,...). */
#define BENCH_MAX_PORTS 8
#define BENCH_MAX_PIDS  8

/* PROTO_WS is IRC over WebSocket (the IRCv3 WebSocket specification, subprotocol
 * text.ircv3.net): an HTTP/1.1 upgrade at GET /ws, then one IRC line per text frame, client
 * frames masked. */
typedef enum { PROTO_TEXT, PROTO_IRC, PROTO_RESP, PROTO_WS } bench_proto_t;

typedef struct bench_opts {
  bench_proto_t proto;
  const char* host;
  int port;                   /* the first server's port */
  int ports[BENCH_MAX_PORTS]; /* every server's port; receivers alternate between them */
  uint32_t nports;            /* 1 unless --port had a list */
  int senders_first;          /* --senders-on first: every sender on the first server */
  int probe;                  /* check end to end that every receiver hears every sender */
  uint32_t receivers;
  uint32_t senders;
  uint32_t slow;
  uint32_t messages; /* per sender */
  double rate;       /* messages per second per sender; 0 = full speed */
  uint32_t size;     /* payload bytes */
  double timeout_s;
  double quiet_s;
  uint32_t source_ips; /* 0 = let the kernel pick the source address */
  double idle_s;       /* < 0: not an idle run */
  long server_pid;     /* 0 = none; the first of server_pids */
  long server_pids[BENCH_MAX_PIDS];
  uint32_t npids;
  uint32_t connect_concurrency;
  const char* channel;
  int verbose;
} bench_opts_t;

typedef enum { ROLE_RECV, ROLE_SEND, ROLE_SLOW } bench_role_t;

typedef enum {
  CS_NONE,       /* not started */
  CS_CONNECTING, /* TCP connect in flight */
  CS_OPEN,       /* connected, protocol handshake under way */
  CS_READY,      /* provably in the broadcast set */
  CS_CLOSED      /* closed by the peer, by an error, or at the end */
} bench_cstate_t;

/* Protocol flags of a connection. */
#define BF_INITED  0x01 /* the uv_tcp_t was initialised and must be closed */
#define BF_JOINED  0x02 /* irc: saw its own JOIN */
#define BF_NAMES   0x04 /* irc: saw end of NAMES (366) */
#define BF_EOF     0x08 /* the peer closed or reset the connection */
#define BF_WELCOME 0x10 /* irc: saw 001 */
#define BF_HEARD   0x20 /* left the connect window: the server answered, or it is in */

/* One connection. All of them live in one array; nothing per connection is allocated except
 * the small buffer for an unfinished line, and only when a read ends inside one. */
typedef struct bench_client {
  uv_tcp_t tcp;
  char* part;        /* BENCH_PART_MAX bytes, or NULL */
  uint64_t got;      /* receivers: unique deliveries; slow receivers: deliveries */
  uint32_t id;       /* index in the array: receivers first, then senders, then slow */
  uint16_t part_len; /* bytes in part; > 0 while inside an unfinished line */
  uint8_t role;      /* bench_role_t */
  uint8_t state;     /* bench_cstate_t */
  uint8_t flags;     /* BF_* */
  uint8_t srv;       /* index of the server (--port list) it connects to */
  /* RESP parser state (WebSocket: the frame parser's, see proto.c) */
  uint8_t rstate;      /* 0: expecting a header line; 1: inside a bulk string */
  uint8_t relem;       /* index of the next element of the current top-level array */
  uint8_t rkind;       /* what the current top-level array is (message, subscribe, other) */
  int32_t rpending;    /* elements still to come in the current top-level reply */
  uint32_t rbulk_len;  /* length of the bulk string being read */
  uint32_t rbulk_left; /* its bytes still to come, CRLF included */
} bench_client_t;

/* The sending side of one sender connection. */
typedef struct bench_sender {
  uint32_t sent;     /* messages handed to uv_write */
  uint32_t inflight; /* chunks in uv_write */
  uint8_t done;      /* all sent and written, or its connection failed */
  uint8_t failed;
} bench_sender_t;

typedef struct bench_chunk bench_chunk_t;

typedef enum {
  PH_CONNECT,   /* connecting and handshaking */
  PH_PROBE,     /* several servers: probes until every receiver heard every sender */
  PH_MEASURE,   /* senders sending, receivers counting */
  PH_DRAIN,     /* all senders done; waiting for the last deliveries or a quiet period */
  PH_SLOWDRAIN, /* slow receivers read again, to learn whether the server dropped them */
  PH_HOLD,      /* idle run: everyone connected, holding */
  PH_DONE
} bench_phase_t;

typedef struct bench {
  uv_loop_t loop_mem;
  uv_loop_t* loop;
  bench_opts_t o;
  struct sockaddr_storage dst; /* the first server's */
  struct sockaddr_storage dsts[BENCH_MAX_PORTS];
  int family; /* AF_INET or AF_INET6 */

  bench_client_t* clients;
  uint32_t nclients;
  bench_sender_t* senders;
  char* rbuf; /* BENCH_READ_BUF bytes, shared by every read */

  /* connecting */
  uv_connect_t* creqs;
  uint32_t* creq_free;
  uint32_t creq_nfree;
  uint32_t next_connect;
  uint32_t connecting; /* TCP connects in flight */
  uint32_t pending;    /* connects started whose server has not answered yet (<= C) */
  uint32_t connected;
  uint32_t ready;

  /* timers */
  uv_timer_t t_timeout; /* the run's time bound */
  uv_timer_t t_check;   /* every 100 ms: quiet periods, progress */
  uv_timer_t t_tick;    /* every 1 ms in a rate run */
  uv_timer_t t_hold;    /* idle run: the hold */
  uv_timer_t t_probe;   /* probe phase: resends the probes */
  uv_signal_t sigint;
  int handles_inited;

  bench_phase_t phase;
  uint64_t now; /* uv_hrtime() at the start of the current read callback */

  /* times, uv_hrtime() ns */
  uint64_t t_start, t_ready, t_measure, t_measure_end, t_last_delivery, t_senders_done;
  uint64_t t_last_progress, t_slow_start, t_slow_last, t_probe_start;
  double cpu_start, cpu_end; /* bench's own CPU seconds */

  /* senders */
  uint32_t senders_done;
  uint64_t send_lag_max; /* rate runs: worst lateness of a send against its schedule, ns */
  size_t chunk_cap;      /* bytes of message data per chunk */
  uint32_t max_inflight; /* chunks per sender */
  size_t msg_max;        /* longest message on the wire */
  char prefix[160];      /* protocol bytes before the payload */
  size_t prefix_len;
  bench_chunk_t* free_chunks;
  size_t nchunks;

  /* accounting of the measured phase (normal receivers) */
  uint32_t* next_seq; /* per (receiver, sender): highest sequence seen + 1 */
  uint8_t* seen;      /* per (receiver, sender, seq) bit, or NULL */
  uint64_t expected, deliveries, unique, dup, reordered, bad;
  uint64_t per_recv;        /* deliveries each receiver should get: senders x messages */
  uint32_t recv_complete;   /* receivers that got all of them */
  uint32_t recv_gone_short; /* receivers closed before they got all of them */
  uint64_t slow_deliveries;
  uint32_t dropped;      /* normal receivers closed by the server */
  uint32_t slow_dropped; /* slow receivers closed by the server */
  uint32_t sender_failures;
  bench_hist_t lat; /* ns */
  /* several servers: deliveries to a receiver on its sender's server, and on another one */
  bench_hist_t lat_local, lat_remote;
  uint64_t local_deliveries, remote_deliveries;

  /* the probe phase: per (receiver, sender), whether a probe came through */
  uint8_t* probe_seen;
  uint32_t* probes_heard; /* per receiver: senders heard */
  uint32_t probed;        /* receivers that heard every sender */
  uint32_t probe_rounds;

  /* server statistics (Linux, --server-pid) */
  bench_procstat_t srv_base, srv_before, srv_after;
  double pid_cpu_before[BENCH_MAX_PIDS], pid_cpu_after[BENCH_MAX_PIDS]; /* every --server-pid */

  /* outcome */
  int timed_out;
  int interrupted;
  int failed;
  char errmsg[400];
  char last_error_line[200]; /* the last ERROR/-ERR line a server sent, for the report */
} bench_t;

/* run.c */
int bench_run(bench_t* b);
void bench_free(bench_t* b);
void bench_fail(bench_t* b, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void bench_mark_ready(bench_t* b, bench_client_t* c);
void bench_client_closed(bench_t* b, bench_client_t* c, int err);
void bench_measure_done(bench_t* b);
void bench_check_complete(bench_t* b);
void bench_write_str(bench_t* b, bench_client_t* c, const char* s, size_t n);
void bench_probe_heard(bench_t* b, bench_client_t* c, uint32_t sender);

/* proto.c */
void proto_on_connect(bench_t* b, bench_client_t* c);
void proto_feed(bench_t* b, bench_client_t* c, char* data, size_t n);
size_t proto_prefix(const bench_opts_t* o, char* out, size_t cap);
size_t proto_message(const bench_t* b, char* out, uint32_t sender, uint32_t seq, uint64_t ts);
size_t proto_probe(const bench_t* b, char* out, uint32_t sender);
const char* proto_name(bench_proto_t p);

#endif
