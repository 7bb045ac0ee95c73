/* run.c: uvchat-bench's event loop: connecting, the phases of a run, sending, stopping. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CHECK_MS    100           /* period of the check timer */
#define PROGRESS_NS 5000000000ull /* progress lines on stderr while connecting */

/* A block of messages in one uv_write; pooled. */
struct bench_chunk {
  uv_write_t req; /* first: the callback gets it back as the chunk */
  bench_chunk_t* next;
  uint32_t sender;
  char data[]; /* b->chunk_cap bytes */
};

/* A one-off write (handshake, PONG), freed when written. */
typedef struct small_write {
  uv_write_t req; /* first */
  char data[];
} small_write_t;

static void finish(bench_t* b);
static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

/* Converts nanoseconds to seconds. */
static double secs(uint64_t ns) {
  return (double)ns / 1e9;
}

/* Records the failure (the first one wins) and ends the run. */
void bench_fail(bench_t* b, const char* fmt, ...) {
  va_list ap;
  if (!b->failed) {
    b->failed = 1;
    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
    va_end(ap);
  }
  finish(b);
}

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */

/* Frees a one-off write; a failed write shows up as an error on the read side. */
static void on_small_written(uv_write_t* req, int status) {
  (void)status;
  free((small_write_t*)req);
}

/* Queues a copy of s[0..n) on c's connection. */
void bench_write_str(bench_t* b, bench_client_t* c, const char* s, size_t n) {
  small_write_t* w;
  uv_buf_t buf;
  int r;
  if (c->state == CS_CLOSED || c->state == CS_NONE) return;
  if ((w = malloc(sizeof(*w) + n)) == NULL) {
    bench_fail(b, "out of memory");
    return;
  }
  memcpy(w->data, s, n);
  buf = uv_buf_init(w->data, (unsigned)n);
  if ((r = uv_write(&w->req, (uv_stream_t*)&c->tcp, &buf, 1, on_small_written)) != 0) {
    free(w);
    bench_client_closed(b, c, r);
  }
}

/* Takes a chunk from the pool, or allocates one. */
static bench_chunk_t* chunk_get(bench_t* b) {
  bench_chunk_t* k = b->free_chunks;
  if (k != NULL) {
    b->free_chunks = k->next;
    return k;
  }
  if ((k = malloc(sizeof(*k) + b->chunk_cap)) == NULL) return NULL;
  b->nchunks++;
  return k;
}

/* Returns a chunk to the pool. */
static void chunk_put(bench_t* b, bench_chunk_t* k) {
  k->next = b->free_chunks;
  b->free_chunks = k;
}

/* Marks sender si done once everything it had to send was written, or its connection failed;
 * when the last sender is done the run starts waiting for the last deliveries. */
static void sender_check_done(bench_t* b, uint32_t si) {
  bench_sender_t* s = &b->senders[si];
  if (s->done) return;
  if (!s->failed && (s->sent < b->o.messages || s->inflight > 0)) return;
  s->done = 1;
  if (s->failed) b->sender_failures++;
  if (++b->senders_done == b->o.senders) {
    b->t_senders_done = uv_hrtime();
    if (b->phase == PH_MEASURE) b->phase = PH_DRAIN;
    if (uv_is_active((uv_handle_t*)&b->t_tick)) uv_timer_stop(&b->t_tick);
  }
}

static void on_chunk_written(uv_write_t* req, int status);

/* Keeps sender si's write window full: at full speed up to BENCH_SEND_WINDOW bytes in
 * uv_write, in a rate run the messages that are due by now. Messages carry the time they were
 * written; in a rate run the worst lateness against the schedule is kept (send_lag_max), so
 * that a sender held back by the server does not go unnoticed. */
static void sender_pump(bench_t* b, uint32_t si) {
  bench_sender_t* s = &b->senders[si];
  bench_client_t* c = &b->clients[b->o.receivers + si];
  uint32_t limit = b->o.messages;
  if (s->done || s->failed || c->state == CS_CLOSED) return;
  if (b->phase != PH_MEASURE && b->phase != PH_DRAIN && b->phase != PH_SLOWDRAIN) return;
  if (b->o.rate > 0) {
    double due = secs(uv_hrtime() - b->t_measure) * b->o.rate + 1;
    if (due < (double)limit) limit = (uint32_t)due;
  }
  while (s->inflight < b->max_inflight && s->sent < limit) {
    bench_chunk_t* k = chunk_get(b);
    uint64_t now = uv_hrtime();
    size_t len = 0;
    uv_buf_t buf;
    int r;
    if (k == NULL) {
      bench_fail(b, "out of memory");
      return;
    }
    if (b->o.rate > 0) { /* how late is the most overdue message of this chunk? */
      uint64_t due_at = b->t_measure + (uint64_t)((double)s->sent * 1e9 / b->o.rate);
      if (now > due_at && now - due_at > b->send_lag_max) b->send_lag_max = now - due_at;
    }
    while (s->sent < limit && len + b->msg_max <= b->chunk_cap) {
      len += proto_message(b, k->data + len, si, s->sent, now);
      s->sent++;
    }
    k->sender = si;
    buf = uv_buf_init(k->data, (unsigned)len);
    if ((r = uv_write(&k->req, (uv_stream_t*)&c->tcp, &buf, 1, on_chunk_written)) != 0) {
      chunk_put(b, k);
      bench_client_closed(b, c, r);
      return;
    }
    s->inflight++;
  }
}

/* A chunk went out (or failed, or was cancelled by a close): recycle it and refill. */
static void on_chunk_written(uv_write_t* req, int status) {
  bench_chunk_t* k = (bench_chunk_t*)req;
  bench_t* b = req->handle->loop->data;
  uint32_t si = k->sender;
  bench_sender_t* s = &b->senders[si];
  chunk_put(b, k);
  s->inflight--;
  if (status < 0 && status != UV_ECANCELED) s->failed = 1;
  if (b->phase == PH_DONE) return;
  if (b->o.rate <= 0) sender_pump(b, si);
  sender_check_done(b, si);
}

/* Rate runs: every millisecond, every sender sends what has fallen due. */
static void on_tick(uv_timer_t* t) {
  bench_t* b = t->loop->data;
  uint32_t i;
  for (i = 0; i < b->o.senders && b->phase != PH_DONE; i++)
    sender_pump(b, i);
}

/* ------------------------------------------------------------------------------------------
 * Phases
 * ---------------------------------------------------------------------------------------- */

/* Reads the CPU seconds of every --server-pid into cpu[] (0 for one that cannot be read). */
static void read_pids_cpu(const bench_t* b, double* cpu) {
  uint32_t i;
  for (i = 0; i < b->o.npids; i++) {
    bench_procstat_t st;
    cpu[i] = procstat_read(b->o.server_pids[i], &st) == 0 && st.ok ? st.cpu_s : 0;
  }
}

/* Takes the CPU and server figures that close the measured phase (once). */
static void end_measure(bench_t* b) {
  if (b->t_measure == 0 || b->t_measure_end != 0) return;
  b->t_measure_end = uv_hrtime();
  b->cpu_end = procstat_self_cpu();
  if (b->o.server_pid > 0) procstat_read(b->o.server_pid, &b->srv_after);
  if (b->o.npids > 1) read_pids_cpu(b, b->pid_cpu_after);
}

/* Starts the measured phase: every connection is in; senders start sending. */
static void start_measure(bench_t* b) {
  uint32_t i;
  b->phase = PH_MEASURE;
  if (uv_is_active((uv_handle_t*)&b->t_probe)) uv_timer_stop(&b->t_probe);
  if (b->o.server_pid > 0) procstat_read(b->o.server_pid, &b->srv_before);
  if (b->o.npids > 1) read_pids_cpu(b, b->pid_cpu_before);
  b->cpu_start = procstat_self_cpu();
  b->t_measure = uv_hrtime();
  if (b->o.rate > 0) {
    uv_timer_start(&b->t_tick, on_tick, 0, 1);
  } else {
    for (i = 0; i < b->o.senders && b->phase != PH_DONE; i++)
      sender_pump(b, i);
  }
}

/* Idle runs: the hold is over; take the figures and stop. */
static void on_hold_end(uv_timer_t* t) {
  bench_t* b = t->loop->data;
  end_measure(b);
  finish(b);
}

/* Probe phase: every sender sends a probe "P <sender>" (again each time the probe timer
 * fires, in case a server had not yet learnt of a receiver on another server when the last
 * one passed). */
static void send_probes(bench_t* b) {
  char buf[256];
  uint32_t i;
  b->probe_rounds++;
  for (i = 0; i < b->o.senders && b->phase == PH_PROBE; i++) {
    bench_client_t* c = &b->clients[b->o.receivers + i];
    bench_write_str(b, c, buf, proto_probe(b, buf, i));
  }
}

static void on_probe_timer(uv_timer_t* t) {
  bench_t* b = t->loop->data;
  if (b->phase == PH_PROBE) send_probes(b);
}

/* A probe from sender s reached receiver c; once every receiver heard every sender, every
 * server knows where every receiver is, and the measured phase starts. */
void bench_probe_heard(bench_t* b, bench_client_t* c, uint32_t s) {
  uint64_t pair = (uint64_t)c->id * b->o.senders + s;
  if (b->probe_seen == NULL || b->probe_seen[pair]) return;
  b->probe_seen[pair] = 1;
  if (++b->probes_heard[c->id] == b->o.senders && ++b->probed == b->o.receivers &&
      b->phase == PH_PROBE) {
    if (b->o.verbose)
      fprintf(stderr, "uvchat-bench: every receiver heard every sender after %.3f s, %u rounds\n",
              secs(uv_hrtime() - b->t_probe_start), (unsigned)b->probe_rounds);
    start_measure(b);
  }
}

/* Every connection is in the broadcast set: start measuring (or holding, in an idle run). */
static void all_ready(bench_t* b) {
  b->t_ready = uv_hrtime();
  if (b->o.verbose)
    fprintf(stderr, "uvchat-bench: %u connections in after %.3f s\n", (unsigned)b->nclients,
            secs(b->t_ready - b->t_start));
  if (b->o.idle_s >= 0) {
    b->phase = PH_HOLD;
    if (b->o.server_pid > 0) procstat_read(b->o.server_pid, &b->srv_before);
    b->cpu_start = procstat_self_cpu();
    b->t_measure = uv_hrtime();
    uv_timer_start(&b->t_hold, on_hold_end, (uint64_t)(b->o.idle_s * 1000.0 + 0.5), 0);
    return;
  }
  if (b->o.probe) {
    b->phase = PH_PROBE;
    b->t_probe_start = uv_hrtime();
    uv_timer_start(&b->t_probe, on_probe_timer, 100, 100);
    send_probes(b);
    return;
  }
  start_measure(b);
}

static void start_connects(bench_t* b);

/* Takes c out of the connect window once the server has answered it (or it is in, or gone),
 * and lets the next connection start. */
static void leave_window(bench_t* b, bench_client_t* c) {
  if (c->flags & BF_HEARD) return;
  c->flags |= BF_HEARD;
  b->pending--;
  if (b->phase == PH_CONNECT) start_connects(b);
}

/* Marks c as provably in the broadcast set; a slow receiver stops reading from here on. */
void bench_mark_ready(bench_t* b, bench_client_t* c) {
  if (c->state != CS_OPEN) return;
  leave_window(b, c);
  c->state = CS_READY;
  if (c->role == ROLE_SLOW) uv_read_stop((uv_stream_t*)&c->tcp);
  if (++b->ready == b->nclients && b->phase == PH_CONNECT) all_ready(b);
}

/* Tells whether a slow receiver's fate is known: disconnected, or got everything. */
static int slow_resolved(const bench_t* b, const bench_client_t* c) {
  return c->state == CS_CLOSED || c->got >= (uint64_t)b->o.senders * b->o.messages;
}

/* Ends the slow-receiver drain once every slow receiver's fate is known. */
static void check_slow_done(bench_t* b) {
  uint32_t i, first = b->o.receivers + b->o.senders;
  for (i = first; i < b->nclients; i++)
    if (!slow_resolved(b, &b->clients[i])) return;
  finish(b);
}

/* The measured phase is over (everything arrived, or nothing more came for the quiet
 * period). With slow receivers, let them read again to learn whether the server dropped
 * them; else stop. */
void bench_measure_done(bench_t* b) {
  uint32_t i, first = b->o.receivers + b->o.senders;
  if (b->phase != PH_MEASURE && b->phase != PH_DRAIN) return;
  end_measure(b);
  if (uv_is_active((uv_handle_t*)&b->t_tick)) uv_timer_stop(&b->t_tick);
  if (b->o.slow == 0) {
    finish(b);
    return;
  }
  b->phase = PH_SLOWDRAIN;
  b->t_slow_start = b->t_slow_last = uv_hrtime();
  for (i = first; i < b->nclients; i++) {
    bench_client_t* c = &b->clients[i];
    if (c->state == CS_READY) uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
  }
  check_slow_done(b);
}

/* Ends the measured phase as soon as every receiver got everything or is gone. */
void bench_check_complete(bench_t* b) {
  if (b->recv_complete + b->recv_gone_short == b->o.receivers) bench_measure_done(b);
}

/* A connection ended (EOF, reset or write error): close it and account for it. */
void bench_client_closed(bench_t* b, bench_client_t* c, int err) {
  int was_ready = c->state == CS_READY;
  if (c->state == CS_CLOSED) return;
  c->state = CS_CLOSED;
  c->flags |= BF_EOF;
  if (!(c->flags & BF_HEARD)) {
    c->flags |= BF_HEARD;
    b->pending--;
  }
  if (!uv_is_closing((uv_handle_t*)&c->tcp)) uv_close((uv_handle_t*)&c->tcp, NULL);
  if (b->phase == PH_DONE) return;
  if (b->phase == PH_CONNECT || b->phase == PH_PROBE) {
    bench_fail(b, "connection %u (%s) was closed during setup%s: %s%s%s", (unsigned)c->id,
               c->role == ROLE_SEND   ? "sender"
               : c->role == ROLE_SLOW ? "slow receiver"
                                      : "receiver",
               was_ready ? ", after it was in" : "", uv_strerror(err),
               b->last_error_line[0] ? "; the server said: " : "", b->last_error_line);
    return;
  }
  if (b->o.verbose)
    fprintf(stderr, "uvchat-bench: connection %u closed: %s\n", (unsigned)c->id, uv_strerror(err));
  switch ((bench_role_t)c->role) {
    case ROLE_RECV:
      b->dropped++;
      if (c->got < b->per_recv) {
        b->recv_gone_short++;
        bench_check_complete(b);
      }
      break;
    case ROLE_SEND:
      if (b->phase == PH_HOLD) {
        b->dropped++;
      } else {
        uint32_t si = c->id - b->o.receivers;
        b->senders[si].failed = 1;
        sender_check_done(b, si);
      }
      break;
    case ROLE_SLOW:
      if (b->phase == PH_SLOWDRAIN) check_slow_done(b);
      break;
  }
}

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */

/* Every read goes into the one shared buffer: nothing is kept per connection but the
 * unfinished line. */
static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  bench_t* b = h->loop->data;
  (void)suggested;
  *buf = uv_buf_init(b->rbuf, BENCH_READ_BUF);
}

/* Parses what arrived, or handles the end of the connection. */
static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  bench_client_t* c = stream->data;
  bench_t* b = stream->loop->data;
  if (nread > 0) {
    if (!(c->flags & BF_HEARD)) {
      leave_window(b, c);
      if (b->phase == PH_DONE) return; /* starting the next connect failed */
    }
    b->now = uv_hrtime();
    if (c->role == ROLE_SLOW) b->t_slow_last = b->now;
    proto_feed(b, c, buf->base, (size_t)nread);
  } else if (nread < 0) {
    bench_client_closed(b, c, (int)nread);
  }
}

/* ------------------------------------------------------------------------------------------
 * Connecting
 * ---------------------------------------------------------------------------------------- */

static void on_connect(uv_connect_t* req, int status);

/* Starts connections until --connect-concurrency of them wait for the server (for the TCP
 * connect, then for the server's first bytes: a connect completes in the kernel before the
 * server accepts it, so counting only connects would overflow the server's listen backlog) or
 * all are started. Each socket is created first (uv_tcp_init_ex) so that a slow receiver's
 * SO_RCVBUF and the --source-ips bind apply before the connect. */
static void start_connects(bench_t* b) {
  while (b->phase == PH_CONNECT && b->pending < b->o.connect_concurrency && b->creq_nfree > 0 &&
         b->next_connect < b->nclients) {
    bench_client_t* c = &b->clients[b->next_connect];
    uv_connect_t* req;
    uint32_t slot;
    int r;
    if ((r = uv_tcp_init_ex(b->loop, &c->tcp, (unsigned)b->family)) != 0) {
      bench_fail(b, "cannot create socket %u: %s%s", (unsigned)c->id, uv_strerror(r),
                 r == UV_EMFILE || r == UV_ENFILE ? " (raise the open-files limit)" : "");
      return;
    }
    c->flags |= BF_INITED;
    c->tcp.data = c;
    c->state = CS_CONNECTING;
    b->next_connect++;
    if (c->role == ROLE_SLOW) {
      int v = BENCH_SLOW_RCVBUF;
      if ((r = uv_recv_buffer_size((uv_handle_t*)&c->tcp, &v)) != 0) {
        bench_fail(b, "cannot set SO_RCVBUF of connection %u: %s", (unsigned)c->id, uv_strerror(r));
        return;
      }
    }
    if (b->o.source_ips > 0) {
      struct sockaddr_in src;
      char ip[32];
      snprintf(ip, sizeof(ip), "127.0.0.%u", (unsigned)(1 + c->id % b->o.source_ips));
      if ((r = uv_ip4_addr(ip, 0, &src)) != 0 ||
          (r = uv_tcp_bind(&c->tcp, (const struct sockaddr*)&src, 0)) != 0) {
        bench_fail(b, "cannot bind connection %u to %s: %s", (unsigned)c->id, ip, uv_strerror(r));
        return;
      }
    }
    slot = b->creq_free[--b->creq_nfree];
    req = &b->creqs[slot];
    req->data = c;
    if ((r = uv_tcp_connect(req, &c->tcp, (const struct sockaddr*)&b->dsts[c->srv], on_connect)) !=
        0) {
      b->creq_free[b->creq_nfree++] = slot;
      bench_fail(b, "cannot connect connection %u: %s%s", (unsigned)c->id, uv_strerror(r),
                 r == UV_EADDRNOTAVAIL ? " (out of local ports: use --source-ips)" : "");
      return;
    }
    b->connecting++;
    b->pending++;
  }
}

/* A TCP connect finished: start reading and the protocol handshake, and start the next. */
static void on_connect(uv_connect_t* req, int status) {
  bench_client_t* c = req->data;
  bench_t* b = req->handle->loop->data;
  int r;
  b->creq_free[b->creq_nfree++] = (uint32_t)(req - b->creqs);
  b->connecting--;
  if (status == UV_ECANCELED || b->phase == PH_DONE) return;
  if (status < 0) {
    bench_fail(b, "connection %u: cannot connect to %s port %d: %s%s", (unsigned)c->id, b->o.host,
               b->o.ports[c->srv], uv_strerror(status),
               status == UV_EADDRNOTAVAIL  ? " (out of local ports: use --source-ips)"
               : status == UV_ECONNREFUSED ? " (is the server running?)"
                                           : "");
    return;
  }
  c->state = CS_OPEN;
  b->connected++;
  uv_tcp_nodelay(&c->tcp, 1);
  if ((r = uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read)) != 0) {
    bench_client_closed(b, c, r);
    return;
  }
  proto_on_connect(b, c);
  start_connects(b);
}

/* ------------------------------------------------------------------------------------------
 * Timers, signals, the end
 * ---------------------------------------------------------------------------------------- */

/* The run's time bound: stop wherever it is; the report says timeout=1. */
static void on_timeout(uv_timer_t* t) {
  bench_t* b = t->loop->data;
  static const char* const names[] = {
      "connecting", "probing", "measuring", "draining", "draining slow receivers",
      "holding",    "done"};
  b->timed_out = 1;
  fprintf(stderr, "uvchat-bench: timeout after %g s while %s (%u of %u connected, %u in)\n",
          b->o.timeout_s, names[b->phase], (unsigned)b->connected, (unsigned)b->nclients,
          (unsigned)b->ready);
  end_measure(b);
  finish(b);
}

/* Ctrl-C: stop and report what there is. */
static void on_sigint(uv_signal_t* s, int signum) {
  bench_t* b = s->loop->data;
  (void)signum;
  b->interrupted = 1;
  end_measure(b);
  finish(b);
}

/* Every CHECK_MS: end a drain after the quiet period, and show progress while connecting. */
static void on_check(uv_timer_t* t) {
  bench_t* b = t->loop->data;
  uint64_t now = uv_hrtime(), quiet = (uint64_t)(b->o.quiet_s * 1e9), last;
  switch (b->phase) {
    case PH_CONNECT:
      if (now - b->t_last_progress >= PROGRESS_NS) {
        b->t_last_progress = now;
        fprintf(stderr, "uvchat-bench: %.0f s: %u of %u connected, %u in\n", secs(now - b->t_start),
                (unsigned)b->connected, (unsigned)b->nclients, (unsigned)b->ready);
      }
      break;
    case PH_DRAIN:
      last = b->t_last_delivery > b->t_senders_done ? b->t_last_delivery : b->t_senders_done;
      if (now - last >= quiet) bench_measure_done(b);
      break;
    case PH_SLOWDRAIN:
      if (now - b->t_slow_last >= quiet) {
        finish(b);
        break;
      }
      check_slow_done(b);
      break;
    default:
      break;
  }
}

/* Closes a handle unless it is already closing. */
static void close_handle(uv_handle_t* h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Ends the run: closes every handle, so that uv_run returns. */
static void finish(bench_t* b) {
  uint32_t i;
  if (b->phase == PH_DONE) return;
  b->phase = PH_DONE;
  if (b->o.server_pid > 0 && !b->srv_after.ok) /* stopped early: still show its memory */
    procstat_read(b->o.server_pid, &b->srv_after);
  if (b->handles_inited) {
    close_handle((uv_handle_t*)&b->t_timeout);
    close_handle((uv_handle_t*)&b->t_check);
    close_handle((uv_handle_t*)&b->t_tick);
    close_handle((uv_handle_t*)&b->t_hold);
    close_handle((uv_handle_t*)&b->t_probe);
    close_handle((uv_handle_t*)&b->sigint);
  }
  for (i = 0; i < b->nclients; i++) {
    bench_client_t* c = &b->clients[i];
    if (c->flags & BF_INITED) close_handle((uv_handle_t*)&c->tcp);
    if (c->state != CS_NONE) c->state = CS_CLOSED;
  }
}

/* ------------------------------------------------------------------------------------------
 * Setup and teardown
 * ---------------------------------------------------------------------------------------- */

/* Allocates the run's state (b->o and b->dst are filled in); returns 0, or -1 with
 * b->errmsg set. */
static int setup(bench_t* b) {
  const bench_opts_t* o = &b->o;
  uint64_t pairs = (uint64_t)o->receivers * o->senders, bits, i;
  b->nclients = o->receivers + o->senders + o->slow;
  b->clients = calloc(b->nclients > 0 ? b->nclients : 1, sizeof(*b->clients));
  b->senders = calloc(o->senders > 0 ? o->senders : 1, sizeof(*b->senders));
  b->rbuf = malloc(BENCH_READ_BUF);
  b->creqs = calloc(o->connect_concurrency, sizeof(*b->creqs));
  b->creq_free = calloc(o->connect_concurrency, sizeof(*b->creq_free));
  b->next_seq = calloc(pairs > 0 ? pairs : 1, sizeof(*b->next_seq));
  if (!b->clients || !b->senders || !b->rbuf || !b->creqs || !b->creq_free || !b->next_seq) {
    snprintf(b->errmsg, sizeof(b->errmsg), "out of memory for %u connections",
             (unsigned)b->nclients);
    return -1;
  }
  bits = pairs * o->messages;
  if (bits / 8 + 1 <= BENCH_BITMAP_MAX) {
    b->seen = calloc(bits / 8 + 1, 1);
  }
  if (b->seen == NULL && o->idle_s < 0)
    fprintf(stderr,
            "uvchat-bench: note: not enough memory to track every sequence number; duplicates "
            "are counted as reorders\n");
  for (i = 0; i < b->nclients; i++) {
    bench_client_t* c = &b->clients[i];
    c->id = (uint32_t)i;
    c->role = i < o->receivers ? ROLE_RECV : i < o->receivers + o->senders ? ROLE_SEND : ROLE_SLOW;
    /* receivers (and slow ones) alternate between the servers; senders too, or all on the
     * first with --senders-on first */
    if (c->role == ROLE_SEND)
      c->srv = (uint8_t)(o->senders_first ? 0 : (i - o->receivers) % o->nports);
    else
      c->srv = (uint8_t)(i % o->nports);
  }
  if (o->probe) {
    b->probe_seen = calloc(pairs > 0 ? pairs : 1, 1);
    b->probes_heard = calloc(o->receivers > 0 ? o->receivers : 1, sizeof(*b->probes_heard));
    if (b->probe_seen == NULL || b->probes_heard == NULL) {
      snprintf(b->errmsg, sizeof(b->errmsg), "out of memory for the probes");
      return -1;
    }
  }
  for (i = 0; i < o->connect_concurrency; i++)
    b->creq_free[i] = o->connect_concurrency - 1 - (uint32_t)i;
  b->creq_nfree = o->connect_concurrency;
  b->expected = pairs * o->messages;
  b->per_recv = (uint64_t)o->senders * o->messages;
  b->prefix_len = proto_prefix(o, b->prefix, sizeof(b->prefix));
  b->msg_max = b->prefix_len + 24 + (o->size > 48 ? o->size : 48) + 2;
  if (o->proto == PROTO_WS) b->msg_max += 14; /* a masked frame's header, at most */
  b->chunk_cap = b->msg_max > BENCH_CHUNK ? b->msg_max : BENCH_CHUNK;
  b->max_inflight = (uint32_t)(BENCH_SEND_WINDOW / b->chunk_cap);
  if (b->max_inflight == 0) b->max_inflight = 1;
  hist_init(&b->lat);
  hist_init(&b->lat_local);
  hist_init(&b->lat_remote);
  return 0;
}

/* Runs one benchmark to its end; returns 0 when the loop ran (the outcome is in b), -1 when
 * the run could not start (b->errmsg says why). */
int bench_run(bench_t* b) {
  int r;
  if (setup(b) != 0) return -1;
  if ((r = uv_loop_init(&b->loop_mem)) != 0) {
    snprintf(b->errmsg, sizeof(b->errmsg), "cannot start the event loop: %s", uv_strerror(r));
    return -1;
  }
  b->loop = &b->loop_mem;
  b->loop->data = b;
  uv_timer_init(b->loop, &b->t_timeout);
  uv_timer_init(b->loop, &b->t_check);
  uv_timer_init(b->loop, &b->t_tick);
  uv_timer_init(b->loop, &b->t_hold);
  uv_timer_init(b->loop, &b->t_probe);
  uv_signal_init(b->loop, &b->sigint);
  b->handles_inited = 1;
  if (b->o.server_pid > 0) procstat_read(b->o.server_pid, &b->srv_base);
  b->t_start = b->t_last_progress = uv_hrtime();
  b->phase = PH_CONNECT;
  uv_timer_start(&b->t_timeout, on_timeout, (uint64_t)(b->o.timeout_s * 1000.0 + 0.5), 0);
  uv_timer_start(&b->t_check, on_check, CHECK_MS, CHECK_MS);
  uv_signal_start(&b->sigint, on_sigint, SIGINT);
  if (b->nclients == 0)
    all_ready(b);
  else
    start_connects(b);
  uv_run(b->loop, UV_RUN_DEFAULT);
  if (b->t_ready == 0) b->t_ready = uv_hrtime(); /* never all in: connect time is all of it */
  if ((r = uv_loop_close(b->loop)) != 0)
    fprintf(stderr, "uvchat-bench: the event loop did not close cleanly: %s\n", uv_strerror(r));
  return 0;
}

/* Frees everything bench_run allocated. */
void bench_free(bench_t* b) {
  uint32_t i;
  if (b->clients != NULL)
    for (i = 0; i < b->nclients; i++)
      free(b->clients[i].part);
  while (b->free_chunks != NULL) {
    bench_chunk_t* k = b->free_chunks;
    b->free_chunks = k->next;
    free(k);
  }
  free(b->clients);
  free(b->senders);
  free(b->rbuf);
  free(b->creqs);
  free(b->creq_free);
  free(b->next_seq);
  free(b->seen);
  free(b->probe_seen);
  free(b->probes_heard);
  b->clients = NULL;
}
