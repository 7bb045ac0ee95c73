/* conn.c: one client connection: reading and framing its lines, queueing and writing its
 * output, and closing it in order.
 *
 * Ownership rules kept here:
 *  - the client is unlinked from the server's list when uv_close is called, and freed only
 *    in on_closed;
 *  - each queued message holds one reference, released when written, or in on_write when
 *    the write fails or is cancelled, or in on_closed for what never went out;
 *  - closing is scheduled, never done from inside a fan-out: uvc_conn_close() only marks
 *    the client, and the server finishes the job at the end of the loop phase.
 */
#include "uvchat/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"
#include "uvchat/flow.h"
#include "uvchat/log.h"
#include "uvchat/telnet.h"
#include "uvchat/transport.h"

#define LEAVE_TEXT_MAX 300

static void on_closed(uv_handle_t* h);
static void on_write(uv_write_t* req, int status);
static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
static void open_session(uvc_client_t* c);
static void write_failed(uvc_client_t* c, int err);
static void begin_shutdown(uvc_client_t* c);
static void handle_input(uvc_client_t* c, char* data, size_t n);

/* A TLS handshake record starts 0x16 0x03: what a TLS client sends to a plaintext port. */
static int looks_like_tls(const char* p, size_t n) {
  return n >= 2 && (unsigned char)p[0] == 0x16 && (unsigned char)p[1] == 0x03;
}

/* An HTTP request line ("GET / HTTP/1.1"): a browser or an HTTP health check pointed at a
 * chat port. Only the first read of a connection is looked at. */
static int looks_like_http(const char* p, size_t n) {
  static const char* const kMethods[] = {"GET ",    "HEAD ",    "POST ",  "PUT ",  "OPTIONS ",
                                         "DELETE ", "CONNECT ", "PATCH ", "TRACE "};
  const char* eol = memchr(p, '\n', n);
  size_t i, k, len = eol != NULL ? (size_t)(eol - p) : n;
  if (len > 0 && p[len - 1] == '\r') len--;
  for (i = 0; i < sizeof(kMethods) / sizeof(kMethods[0]); i++) {
    k = strlen(kMethods[i]);
    if (len > k + 9 && memcmp(p, kMethods[i], k) == 0)
      return memcmp(p + len - 8, "HTTP/1.", 7) == 0 && p[len - 9] == ' ';
  }
  return 0;
}

static const char* peer_str(const uvc_client_t* c, char* buf, size_t len) {
  uvc_format_peer(&c->peer, buf, len);
  return buf;
}

int uvc_conn_secure(const uvc_client_t* c) {
  const uvc_transport_t* t;
  if (!(c->flags & UVC_CONN_XPORT)) return 0;
  for (t = ((const uvc_xclient_t*)c)->bottom; t != NULL; t = t->above)
    if (strcmp(t->ops->name, "TLS") == 0) return 1;
  return 0;
}

/* The transports of c for the log, top first: ", WebSocket, TLS"; "" for plain TCP. */
static const char* via(const uvc_client_t* c, char* buf, size_t len) {
  const uvc_transport_t* t;
  size_t at = 0;
  buf[0] = '\0';
  if (!(c->flags & UVC_CONN_XPORT)) return buf;
  for (t = ((const uvc_xclient_t*)c)->top; t != NULL && at < len; t = t->below) {
    int k = snprintf(buf + at, len - at, ", %s", t->ops->name);
    if (k < 0) break;
    at += (size_t)k;
  }
  return buf;
}

static int may_write(const uvc_client_t* c);

static const char* who(const uvc_client_t* c) {
  return c->sess.nick_len ? c->sess.nick : "-";
}

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */

/* The loop's single read buffer, unless a read is somehow still holding it. */
static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  uvc_client_t* c = h->data;
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  if (!flow->rbuf_busy) {
    flow->rbuf_busy = 1;
    *buf = uv_buf_init(flow->rbuf, sizeof(flow->rbuf));
  } else {
    char* p = malloc(suggested);
    *buf = uv_buf_init(p, p != NULL ? (unsigned)suggested : 0);
  }
}

static void release_read_buffer(uvc_flow_t* flow, const uv_buf_t* buf) {
  if (buf->base == flow->rbuf)
    flow->rbuf_busy = 0;
  else
    free(buf->base);
}

/* Flood control: adds the tokens earned since the last refill (--flood-rate lines a
 * second, up to --flood-burst) and says whether a line may be handled now. A full bucket
 * ends a slowing episode: the next one is told again. */
static int has_token(uvc_client_t* c, uint32_t now) {
  const uvc_config_t* cfg = UVC_CONN_FLOW(c)->cfg;
  uint64_t cap = cfg->flood_burst * 1000u;
  uint64_t t = c->tokens + (uint64_t)(uint32_t)(now - c->last_line) * cfg->flood_rate;
  c->last_line = now; /* tokens are refilled from the last activity */
  if (t >= cap) {
    t = cap;
    c->told_slow = 0;
  }
  c->tokens = (uint32_t)t;
  return c->tokens >= 1000;
}

uint32_t uvc_conn_token_wait(uvc_client_t* c, uint32_t now) {
  uint64_t rate = UVC_CONN_FLOW(c)->cfg->flood_rate;
  if (rate == 0 || has_token(c, now)) return 0;
  return (uint32_t)((1000 - c->tokens + rate - 1) / rate);
}

/* Drops a client that sends one endless line: more than --max-input bytes without a
 * newline. What a paused client sent needs no limit of its own: the server reads nothing more
 * from a client while it holds complete lines of it, so it holds at most one read and one
 * unfinished line (see handle_lines); the rest waits in the client's own socket. */
static void check_input_limit(uvc_client_t* c, const uvc_framer_t* f) {
  uint64_t max = UVC_CONN_FLOW(c)->cfg->max_input;
  char why[128];
  if (c->state != UVC_CONN_OPEN) return;
  if (f->skipping && f->skipped > max)
    snprintf(why, sizeof(why), "a line longer than %u bytes", (unsigned)max);
  else if (c->telnet != NULL && c->telnet->held > max)
    snprintf(why, sizeof(why), "a telnet negotiation longer than %u bytes", (unsigned)max);
  else
    return;
  uvc_conn_close(c, UVC_LEAVE_INPUT, why, strlen(why), 1);
}

/* Whether a complete line is waiting: in the framer, or in what is left of this read. */
static int line_waiting(const uvc_framer_t* f, const uvc_framer_src_t* src) {
  return (f->pos < f->len && memchr(f->buf + f->pos, '\n', f->len - f->pos) != NULL) ||
         (src->len > 0 && memchr(src->p, '\n', src->len) != NULL);
}

/* Flood control held back one of c's lines: c is told so, once until its bucket is full
 * again, so that a paste of 200 lines gets one notice and not 190. */
static void tell_slowed(uvc_client_t* c) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  const uvc_adapter_t* a = c->sess.adapter;
  if (c->told_slow) return;
  c->told_slow = 1;
  if (a->on_slowed != NULL) a->on_slowed(flow->core, &c->sess, (unsigned)flow->cfg->flood_rate);
}

/* A client has a framer of its own only while it holds bytes (a partial line, stashed
 * input, an overlong line being skipped): between lines it costs nothing. f is the framer
 * that was used (c->framer, or one on the caller's stack); this keeps or drops it. */
static void keep_framer(uvc_client_t* c, uvc_framer_t* f) {
  if (f->buf == NULL && !f->skipping) {
    free(c->framer);
    c->framer = NULL;
  } else if (f != c->framer) {
    if ((c->framer = malloc(sizeof(*f))) == NULL) {
      uvc_framer_free(f);
      uvc_conn_close(c, UVC_LEAVE_INPUT, NULL, 0, 0); /* out of memory */
      return;
    }
    *c->framer = *f;
  }
}

/* Hands complete lines to the adapter while the client is open and its input is not
 * paused. When it gets paused, the lines not handled yet are copied into its framer: they
 * are handled when it resumes, and the rest of its input waits in its socket. (A client that
 * only yields, UVC_PAUSE_YIELD, handles every line in hand first.) The server reads a
 * client's socket only once this has left no complete line in its framer, so what the framer
 * holds is bounded by one read plus one unfinished line, however much the client sends. */
static void handle_lines(uvc_client_t* c, uvc_framer_src_t* src) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  uvc_core_t* core = flow->core;
  const uvc_adapter_t* a = c->sess.adapter;
  uint32_t max = a->max_line ? a->max_line : (uint32_t)flow->cfg->max_line;
  int flood = flow->cfg->flood_rate > 0;
  uvc_client_t* outer = flow->current;
  uvc_framer_t local;
  uvc_framer_t* f = c->framer;
  const char* line;
  size_t len;
  if (f == NULL) {
    uvc_framer_init(&local);
    f = &local;
  }
  flow->current = c;
  while (c->state == UVC_CONN_OPEN) {
    uvc_frame_t r;
    if (c->pause & UVC_PAUSE_STASH) {
      if (uvc_framer_stash(f, src) != 0) uvc_conn_close(c, UVC_LEAVE_INPUT, NULL, 0, 0);
      break;
    }
    if (flood && !has_token(c, (uint32_t)uv_now(flow->loop))) {
      uvc_conn_pause(c, UVC_PAUSE_FLOOD); /* the rest waits, here and in its socket */
      if (c->pause & UVC_PAUSE_FLOOD) {
        if (line_waiting(f, src)) tell_slowed(c);
        continue;
      }
      /* out of memory to keep track of the pause: the line goes through without a token */
    }
    r = uvc_framer_next(f, src, max, &line, &len);
    if (r == UVC_FRAME_NONE) break;
    if (c->sess.unseen) uvc_conn_reveal(c); /* a line: a person, or a client */
    if (flood && c->tokens >= 1000) c->tokens -= 1000;
    c->last_line = (uint32_t)uv_now(flow->loop);
    c->flags &= (uint8_t)~UVC_CONN_PINGED;
    flow->metrics.lines_in++;
    if (r == UVC_FRAME_LINE)
      a->on_line(core, &c->sess, line, len);
    else
      a->on_toolong(core, &c->sess);
  }
  flow->current = outer;
  /* A line (or telnet sequence) that is started and not finished is on the clock
   * (--line-timeout). */
  if ((uvc_framer_pending(f) == 0 && !uvc_telnet_pending(c->telnet)) || c->pause != 0)
    c->partial_since = 0;
  else if (c->partial_since == 0)
    c->partial_since = (uint32_t)uv_now(flow->loop) | 1u;
  assert(c->state != UVC_CONN_OPEN || uvc_framer_pending(f) <= (size_t)max + 1 + UVC_READ_BUF);
  check_input_limit(c, f);
  keep_framer(c, f);
}

/* Takes telnet negotiation out of data and sends the client its answers at once: before
 * any reply to its lines, which a client waiting for a TIMING-MARK would throw away. */
static size_t telnet_input(uvc_client_t* c, char* data, size_t n) {
  uvc_telnet_out_t out;
  n = uvc_telnet_filter(&c->telnet, data, n, &out);
  if (out.events & UVC_TELNET_NOMEM) {
    uvc_conn_close(c, UVC_LEAVE_INPUT, NULL, 0, 0); /* out of memory */
    return 0;
  }
  if (out.len > 0) {
    uvc_msg_t* m = uvc_msg_from(out.reply, out.len);
    if (m != NULL) {
      uvc_conn_send(c, m);
      uvc_msg_release(m);
    }
  }
  return n;
}

static void handle_input(uvc_client_t* c, char* data, size_t n) {
  uvc_framer_src_t src;
  if (c->sess.adapter->telnet) {
    if (uvc_telnet_pending(c->telnet) || memchr(data, 0xFF, n) != NULL)
      n = telnet_input(c, data, n);
    else if (c->telnet != NULL)
      uvc_telnet_unseen(c->telnet, data, n);
  }
  src.p = data;
  src.len = n;
  handle_lines(c, &src); /* what it leaves unread is dropped: the client is closing */
}

void uvc_conn_pause(uvc_client_t* c, unsigned reason) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  unsigned was = c->pause;
  int tracked;
  if (c->state != UVC_CONN_OPEN || (was & reason) != 0) return;
  if (reason == UVC_PAUSE_FLOOD) flow->metrics.flood_pauses++;
  if (reason == UVC_PAUSE_FLOOD)
    tracked = uvc_flow_flooded(flow, c) == 0;
  else /* on the held list once, whether held back or yielding */
    tracked = (was & UVC_PAUSE_HELD) != 0 || uvc_flow_hold(flow, c) == 0;
  if (!tracked) return; /* nothing would resume it: it goes on rather than wait for ever */
  c->pause = (uint8_t)(was | reason);
  if (was == 0) uv_read_stop((uv_stream_t*)&c->tcp);
}

void uvc_conn_resume(uvc_client_t* c, unsigned reason) {
  uvc_framer_src_t none = {NULL, 0};
  int r;
  c->pause &= (uint8_t)~reason;
  if (c->pause != 0 || c->state != UVC_CONN_OPEN) return;
  handle_lines(c, &none);
  if (c->flags & UVC_CONN_XPORT) { /* input a transport decoded but held */
    uvc_transport_t* t;
    for (t = uvc_xclient_of(c)->bottom; t != NULL && c->pause == 0; t = t->above)
      if (t->ops->resume != NULL) t->ops->resume(t);
  }
  if (c->pause != 0 || c->state != UVC_CONN_OPEN) return;
  if ((r = uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read)) != 0) {
    c->err = (int16_t)r;
    uvc_conn_close(c, UVC_LEAVE_LOST, NULL, 0, 0);
  }
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  uvc_client_t* c = stream->data;
  if (nread > 0) {
    UVC_CONN_FLOW(c)->metrics.bytes_in += (uint64_t)nread;
    if (c->flags & UVC_CONN_XPORT) {
      uvc_transport_t* t = uvc_xclient_of(c)->bottom;
      t->ops->input(t, buf->base, (size_t)nread);
    } else if (c->last_line == c->since && c->framer == NULL &&
               looks_like_tls(buf->base, (size_t)nread))
      /* A TLS client on a plaintext port cannot read a plaintext line: just close. */
      uvc_conn_close(c, UVC_LEAVE_LOST, "a TLS handshake on a plaintext port", 35, 0);
    else if (c->last_line == c->since && c->framer == NULL && c->sess.unseen &&
             looks_like_http(buf->base, (size_t)nread)) {
      /* A browser or an HTTP health check at a chat port (it got the welcome already, so
       * no HTTP answer can start the response): one line saying why, and nobody hears of
       * it. */
      static char kHttp[] =
          "*** This port speaks uvchat's line-based chat, not HTTP: connect with nc or "
          "telnet, or an IRC client at the IRC port.\r\n";
      uv_buf_t b = uv_buf_init(kHttp, sizeof(kHttp) - 1);
      (void)uv_try_write((uv_stream_t*)&c->tcp, &b, 1);
      uvc_conn_close(c, UVC_LEAVE_LOST, "an HTTP request on a chat port", 30, 0);
    } else
      handle_input(c, buf->base, (size_t)nread);
  } else if (nread == UV_EOF) {
    const uvc_adapter_t* a = c->sess.adapter;
    uint32_t max = a->max_line ? a->max_line : (uint32_t)UVC_CONN_FLOW(c)->cfg->max_line;
    const char* line;
    size_t len;
    if (c->state == UVC_CONN_OPEN && c->framer != NULL && !c->sess.unseen) {
      /* The last line, without its newline. (From a connection that never sent a whole
       * line it is a probe's garbage: nobody sees it.) */
      uvc_frame_t r = uvc_framer_finish(c->framer, max, &line, &len);
      if (r == UVC_FRAME_LINE)
        a->on_line(UVC_CONN_FLOW(c)->core, &c->sess, line, len);
      else if (r == UVC_FRAME_TOOLONG)
        a->on_toolong(UVC_CONN_FLOW(c)->core, &c->sess);
    }
    uvc_conn_close(c, UVC_LEAVE_CLOSED, NULL, 0, 1);
  } else if (nread < 0) {
    c->err = (int16_t)nread;
    uvc_conn_close(c, UVC_LEAVE_LOST, NULL, 0, 0);
  }
  if (buf->base != NULL) {
    if (nread > 0) uvc_wipe(buf->base, (size_t)nread); /* lines may have held passwords */
    release_read_buffer(UVC_CONN_FLOW(c), buf);
  }
}

/* ------------------------------------------------------------------------------------------
 * Accepting
 * ---------------------------------------------------------------------------------------- */

static void free_handle(uv_handle_t* h) {
  free(h);
}

/* Greets a client (at accept, or for TLS once the handshake is done). It is logged and
 * announced once it shows it is more than a probe (uvc_conn_reveal). */
static void open_session(uvc_client_t* c) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  c->since = (uint32_t)uv_now(flow->loop); /* the registration clock starts now */
  c->sess.adapter->on_open(flow->core, &c->sess);
}

void uvc_conn_reveal(uvc_client_t* c) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  char addr[64], layers[64];
  if (!c->sess.unseen) return;
  uvc_core_reveal(flow->core, &c->sess);
  uvc_log_limited(&flow->conn_log, uv_now(flow->loop), UVC_LOG_INFO, "connect %s from %s (%s%s)",
                  who(c), peer_str(c, addr, sizeof(addr)), c->sess.adapter->name,
                  via(c, layers, sizeof(layers)));
}

static void on_closed_unaccepted(uv_handle_t* h) {
  free(h->data);
}

uvc_client_t* uvc_conn_accept(uvc_flow_t* flow, uv_stream_t* listener, const uvc_adapter_t* adapter,
                              const uvc_transport_maker_t* chain, int n_chain) {
  uvc_client_t* c = calloc(1, n_chain > 0 ? sizeof(uvc_xclient_t) : sizeof(uvc_client_t));
  uvc_sockaddr_t peer;
  int len = sizeof(peer), r, i;
  if (c == NULL) {
    /* Accept into a bare handle and close it, so the listener does not stall. */
    uv_tcp_t* t = malloc(sizeof(*t));
    UVC_ERROR("out of memory: refusing a connection");
    if (t == NULL) return NULL;
    uv_tcp_init(flow->loop, t);
    uv_accept(listener, (uv_stream_t*)t);
    uv_close((uv_handle_t*)t, free_handle);
    return NULL;
  }
  uv_tcp_init(flow->loop, &c->tcp);
  c->tcp.data = c;
  if ((r = uv_accept(listener, (uv_stream_t*)&c->tcp)) != 0) {
    UVC_WARN("accept failed: %s", uv_strerror(r));
    uv_close((uv_handle_t*)&c->tcp, on_closed_unaccepted);
    return NULL;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 60);
  if (uv_tcp_getpeername(&c->tcp, &peer.sa, &len) == 0) uvc_peer_from(&c->peer, &peer.sa);
  uvc_session_init(&c->sess, adapter);
  c->sess.unseen = 1; /* until it shows it is a person (uvc_conn_reveal) */
  c->state = UVC_CONN_OPEN;
  c->since = c->last_line = (uint32_t)uv_now(flow->loop);
  c->tokens = (uint32_t)(flow->cfg->flood_burst * 1000u);
  if (n_chain > 0) {
    uvc_xclient_t* x = uvc_xclient_of(c);
    c->flags |= UVC_CONN_XPORT;
    for (i = 0; i < n_chain; i++) {
      uvc_transport_t* t = chain[i].make(chain[i].arg, c);
      if (t == NULL) { /* the ones made are freed with the client */
        x->top = NULL; /* the mark uvc_conn_start looks for */
        break;
      }
      t->below = x->top;
      if (x->top != NULL)
        x->top->above = t;
      else
        x->bottom = t;
      x->top = t;
    }
  }
  return c;
}

void uvc_conn_refuse(uvc_client_t* c, const char* refusal) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  const uvc_adapter_t* adapter = c->sess.adapter;
  /* One clear line, then the door closes at once; nothing it sends is read. (A client behind
   * a transport cannot read a plain line: it is just closed.) Its descriptor is given back
   * now, not after a drain: in a storm at the open-file limit, refused connections waiting
   * to drain would use up the descriptors, and the newcomers after them would be closed by
   * libuv without a word. */
  if (adapter->on_farewell != NULL && !(c->flags & UVC_CONN_XPORT)) {
    size_t bytes, n;
    adapter->on_farewell(flow->core, &c->sess, UVC_LEAVE_REFUSED, refusal);
    n = uvc_outq_fill(&c->outq, flow->iov, UVC_MAX_IOV, &bytes);
    if (n > 0) (void)uv_try_write((uv_stream_t*)&c->tcp, flow->iov, (unsigned)n); /* fits: a */
  } /* fresh socket's buffer is empty */
  c->leave_why = UVC_LEAVE_REFUSED;
  uvc_conn_hard_close(c);
}

void uvc_conn_start(uvc_client_t* c) {
  int r;
  if ((c->flags & UVC_CONN_XPORT) && uvc_xclient_of(c)->top == NULL) {
    uvc_conn_close(c, UVC_LEAVE_LOST, "out of memory for its transport", 31, 0);
    return;
  }
  if ((r = uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read)) != 0) {
    c->err = (int16_t)r;
    uvc_conn_close(c, UVC_LEAVE_LOST, NULL, 0, 0);
    return;
  }
  if (!(c->flags & UVC_CONN_XPORT)) open_session(c); /* else once its transports are ready */
}

/* ------------------------------------------------------------------------------------------
 * What transports call
 * ---------------------------------------------------------------------------------------- */

void uvc_transport_up(uvc_transport_t* t, char* data, size_t n) {
  if (t->above != NULL)
    t->above->ops->input(t->above, data, n);
  else
    handle_input(t->c, data, n);
}

void uvc_transport_ready(uvc_transport_t* t) {
  if (t->above == NULL)
    open_session(t->c);
  else if (t->above->ops->ready != NULL)
    t->above->ops->ready(t->above);
}

void uvc_transport_replace(uvc_transport_t* t, uvc_transport_t* n) {
  uvc_xclient_t* x = uvc_xclient_of(t->c);
  n->below = t->below;
  n->above = t->above;
  if (t->below != NULL)
    t->below->above = n;
  else
    x->bottom = n;
  if (t->above != NULL)
    t->above->below = n;
  else
    x->top = n;
  t->ops->free(t);
}

void uvc_conn_tick(uvc_client_t* c, uint32_t now) {
  uvc_transport_t* t;
  if (!(c->flags & UVC_CONN_XPORT)) return;
  for (t = uvc_xclient_of(c)->bottom; t != NULL && c->state == UVC_CONN_OPEN; t = t->above)
    if (t->ops->tick != NULL) t->ops->tick(t, now);
}

void uvc_conn_input(uvc_client_t* c, char* data, size_t n) {
  handle_input(c, data, n);
}

void uvc_conn_write_failed(uvc_client_t* c, int err) {
  write_failed(c, err);
}

/* Whether every transport of c has written what it holds. */
static int transports_drained(uvc_client_t* c) {
  uvc_transport_t* t;
  if (!(c->flags & UVC_CONN_XPORT)) return 1;
  for (t = uvc_xclient_of(c)->bottom; t != NULL; t = t->above)
    if (t->ops->drained != NULL && !t->ops->drained(t)) return 0;
  return 1;
}

void uvc_conn_drained(uvc_client_t* c) {
  if (c->state == UVC_CONN_DRAINING && c->outq.count == 0 && c->wreq == NULL &&
      transports_drained(c))
    begin_shutdown(c);
}

void uvc_conn_queue(uvc_client_t* c, uvc_msg_t* m) {
  if (!may_write(c) || c->state == UVC_CONN_CLOSING) return;
  if (uvc_outq_push(&c->outq, m) != 0) {
    write_failed(c, UV_ENOMEM);
    return;
  }
  uvc_flow_mark_dirty(UVC_CONN_FLOW(c), c);
}

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */

/* The slow path of uvc_conn_send: c has more than soft_sendq waiting. A reader that drains
 * (or became congested a moment ago) holds whoever is sending now until it catches up:
 * backpressure. One that takes nothing holds nobody: the sender only yields the rest of the
 * loop turn, so that c's writes get their chance to show progress before it is fed more, and
 * a stuck c fills up to its limits and is dropped there. Kept out of line: inlined, it would
 * make every call of uvc_conn_send save registers that only this path needs. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static void
send_congested(uvc_flow_t* flow, uvc_client_t* c) {
  if (c->outq.count > flow->sendq_slots) {
    uvc_conn_close(c, UVC_LEAVE_SENDQ, NULL, 0, 0);
    return;
  }
  if (!(c->flags & UVC_CONN_CONGESTED))
    uvc_flow_congested(flow, c);
  else if (!(c->flags & UVC_CONN_HOLDING) && uvc_conn_made_progress(c))
    uvc_flow_progress(flow, c);
  if (flow->current != NULL)
    uvc_conn_pause(flow->current,
                   (c->flags & UVC_CONN_HOLDING) ? UVC_PAUSE_BACKPRESSURE : UVC_PAUSE_YIELD);
}

/* The hot path of every fan-out: one reference queued, two limits checked. */
void uvc_conn_send(uvc_client_t* c, uvc_msg_t* m) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  if (c->state != UVC_CONN_OPEN) return;
  if (uvc_outq_push(&c->outq, m) != 0 || c->outq.bytes > flow->cfg->sendq) {
    uvc_conn_close(c, UVC_LEAVE_SENDQ, NULL, 0, 0);
    return;
  }
  if ((c->flags & UVC_CONN_CONGESTED) || c->outq.bytes > flow->soft_sendq) {
    send_congested(flow, c);
    if (c->state != UVC_CONN_OPEN) return;
  }
  uvc_flow_mark_dirty(flow, c);
}

int uvc_conn_made_progress(uvc_client_t* c) {
  size_t waiting = uv_stream_get_write_queue_size((uv_stream_t*)&c->tcp);
  uint32_t mark =
      c->outq.sent + (uint32_t)(c->inflight - (waiting < c->inflight ? waiting : c->inflight));
  if (mark == c->t.stall.progress) return 0;
  c->t.stall.progress = mark;
  return 1;
}

/* Bytes left: a congested client that fell under half of soft_sendq is congested no more;
 * one that is still over it is draining, not stuck. */
static void written(uvc_client_t* c) {
  if (!(c->flags & UVC_CONN_CONGESTED)) return;
  if (c->outq.bytes <= UVC_CONN_FLOW(c)->soft_sendq / 2)
    uvc_flow_uncongested(UVC_CONN_FLOW(c), c);
  else
    uvc_flow_progress(UVC_CONN_FLOW(c), c);
}

/* The peer is gone: an open client leaves at the end of the phase; one already on its way
 * out is closed now (nothing else would: it may not even be reading). */
static void write_failed(uvc_client_t* c, int err) {
  c->err = (int16_t)err;
  if (c->state == UVC_CONN_DRAINING || c->state == UVC_CONN_SHUTDOWN)
    uvc_conn_hard_close(c);
  else
    uvc_conn_close(c, UVC_LEAVE_LOST, NULL, 0, 0);
}

/* Whether queued output should still go out in c's state. */
static int may_write(const uvc_client_t* c) {
  switch (c->state) {
    case UVC_CONN_OPEN:
    case UVC_CONN_DRAINING:
      return 1;
    case UVC_CONN_PENDING:
      return (c->flags & UVC_CONN_GRACEFUL) != 0;
    default:
      return 0;
  }
}

void uvc_conn_flush(uvc_client_t* c) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  uv_stream_t* stream = (uv_stream_t*)&c->tcp;
  size_t n, bytes;
  uv_write_t* req;
  int r;
  if (c->wreq != NULL || !may_write(c)) return;
  if ((c->flags & UVC_CONN_XPORT) && uvc_xclient_of(c)->bottom->ops->flush != NULL) {
    uvc_transport_t* t = uvc_xclient_of(c)->bottom;
    t->ops->flush(t);
    return;
  }
  while (c->outq.count > 0) {
    n = uvc_outq_fill(&c->outq, flow->iov, UVC_MAX_IOV, &bytes);
    r = uv_try_write(stream, flow->iov, (unsigned)n);
    if (r > 0) flow->metrics.bytes_out += (uint64_t)r;
    if (r == UV_EAGAIN || r == UV_ENOSYS) break;
    if (r < 0) {
      write_failed(c, r);
      return;
    }
    uvc_outq_consume(&c->outq, (size_t)r);
    written(c);
    if ((size_t)r < bytes) break; /* the socket is full: queue the rest */
  }
  if (c->outq.count == 0) {
    uvc_outq_trim_small(&c->outq); /* the heap stays dense; busy readers keep their ring */
    if (c->state == UVC_CONN_DRAINING) begin_shutdown(c);
    return;
  }
  n = uvc_outq_fill(&c->outq, flow->iov, UVC_MAX_IOV, &bytes);
  req = uvc_flow_get_write(flow);
  if (req == NULL) {
    write_failed(c, UV_ENOMEM);
    return;
  }
  req->data = c;
  if ((r = uv_write(req, stream, flow->iov, (unsigned)n, on_write)) != 0) {
    uvc_flow_put_write(flow, req);
    write_failed(c, r);
    return;
  }
  c->wreq = req;
  c->inflight = bytes;
}

static void on_write(uv_write_t* req, int status) {
  uvc_client_t* c = req->data;
  uvc_flow_put_write(UVC_CONN_FLOW(c), req);
  c->wreq = NULL;
  if (status == 0) UVC_CONN_FLOW(c)->metrics.bytes_out += c->inflight;
  uvc_outq_consume(&c->outq, c->inflight); /* written, failed or cancelled: released once */
  c->inflight = 0;
  if (c->state == UVC_CONN_CLOSING) return; /* runs inside the close: touch nothing else */
  if (status < 0) {
    write_failed(c, status);
    return;
  }
  written(c);
  if (c->outq.count > 0) {
    uvc_flow_mark_dirty(UVC_CONN_FLOW(c), c);
  } else {
    uvc_outq_trim_small(&c->outq);
    if (c->state == UVC_CONN_DRAINING) begin_shutdown(c);
  }
}

/* ------------------------------------------------------------------------------------------
 * Closing
 * ---------------------------------------------------------------------------------------- */

void uvc_conn_close(uvc_client_t* c, uvc_leave_t why, const char* text, size_t len, int graceful) {
  if (c->state != UVC_CONN_OPEN) {
    /* Already on its way out; a hard close may still overtake a graceful one. */
    if (!graceful && c->state == UVC_CONN_PENDING) c->flags &= (uint8_t)~UVC_CONN_GRACEFUL;
    return;
  }
  if (graceful &&
      (why == UVC_LEAVE_IDLE || why == UVC_LEAVE_INPUT || why == UVC_LEAVE_SHUTDOWN ||
       why == UVC_LEAVE_KILLED) &&
      c->sess.adapter->on_farewell != NULL) {
    char reason[LEAVE_TEXT_MAX + 1];
    snprintf(reason, sizeof(reason), "%.*s", (int)len, text ? text : "");
    c->sess.adapter->on_farewell(UVC_CONN_FLOW(c)->core, &c->sess, why, reason);
  }
  c->state = UVC_CONN_PENDING;
  c->leave_why = (uint8_t)why;
  if (graceful) c->flags |= UVC_CONN_GRACEFUL;
  if (text != NULL && len > 0) {
    len = uvc_utf8_cut(text, len, LEAVE_TEXT_MAX); /* never half a character */
    c->leave_text = malloc(len);
    if (c->leave_text != NULL) {
      memcpy(c->leave_text, text, len);
      c->leave_len = (uint16_t)len;
    }
  }
  uv_read_stop((uv_stream_t*)&c->tcp);
  uvc_flow_uncongested(UVC_CONN_FLOW(c), c); /* it receives nothing more: it holds nobody back */
  uvc_flow_schedule_leave(UVC_CONN_FLOW(c), c);
}

static const char* leave_word(uvc_leave_t why) {
  switch (why) {
    case UVC_LEAVE_QUIT:
      return "quit";
    case UVC_LEAVE_CLOSED:
      return "closed by client";
    case UVC_LEAVE_LOST:
      return "connection lost";
    case UVC_LEAVE_SENDQ:
      return "send queue over its limit (not reading)";
    case UVC_LEAVE_INPUT:
      return "too much input";
    case UVC_LEAVE_IDLE:
      return "idle timeout";
    case UVC_LEAVE_SHUTDOWN:
      return "server shutdown";
    case UVC_LEAVE_REFUSED:
      return "refused";
    case UVC_LEAVE_KILLED:
      return "killed by a server operator";
    case UVC_LEAVE_SERVER: /* a ghost's only: never a connection here */
      return "its server left the cluster";
  }
  return "closed";
}

void uvc_conn_finish_leave(uvc_client_t* c) {
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  char addr[64], layers[64];
  int level;
  c->flags &= (uint8_t)~UVC_CONN_IN_PENDING;
  if (c->state != UVC_CONN_PENDING) return;
  level = (c->leave_why == UVC_LEAVE_SENDQ || c->leave_why == UVC_LEAVE_INPUT) ? UVC_LOG_WARN
                                                                               : UVC_LOG_INFO;
  if (c->sess.unseen) /* never announced: a port probe, a health check, a failed handshake */
    uvc_log_limited(&flow->conn_log, uv_now(flow->loop), UVC_LOG_INFO,
                    "probe from %s (%s%s): gone before its first line: %s%s%s%s%s%.*s",
                    peer_str(c, addr, sizeof(addr)), c->sess.adapter->name,
                    via(c, layers, sizeof(layers)), leave_word((uvc_leave_t)c->leave_why),
                    c->err ? " (" : "", c->err ? uv_strerror(c->err) : "", c->err ? ")" : "",
                    c->leave_len ? ": " : "", (int)c->leave_len,
                    c->leave_text ? c->leave_text : "");
  else if (c->leave_why == UVC_LEAVE_QUIT || c->leave_text == NULL)
    uvc_log_limited(
        &flow->conn_log, uv_now(flow->loop), level, "disconnect %s from %s: %s%s%s%s%s%.*s", who(c),
        peer_str(c, addr, sizeof(addr)), leave_word((uvc_leave_t)c->leave_why), c->err ? " (" : "",
        c->err ? uv_strerror(c->err) : "", c->err ? ")" : "", c->leave_len ? ": " : "",
        (int)c->leave_len, c->leave_text ? c->leave_text : "");
  else
    uvc_log_limited(&flow->conn_log, uv_now(flow->loop), level, "disconnect %s from %s: %.*s",
                    who(c), peer_str(c, addr, sizeof(addr)), (int)c->leave_len, c->leave_text);
  flow->metrics.leaves[c->leave_why & 7]++;
  uvc_core_leave(flow->core, &c->sess, (uvc_leave_t)c->leave_why, c->leave_text, c->leave_len);
  if ((c->flags & (UVC_CONN_GRACEFUL | UVC_CONN_XPORT)) == (UVC_CONN_GRACEFUL | UVC_CONN_XPORT)) {
    uvc_transport_t* t; /* the last word in each layer's terms (a WebSocket close frame) */
    for (t = uvc_xclient_of(c)->top; t != NULL; t = t->below)
      if (t->ops->leaving != NULL)
        t->ops->leaving(t, (uvc_leave_t)c->leave_why, c->leave_text, c->leave_len);
  }
  free(c->leave_text);
  c->leave_text = NULL;
  c->leave_len = 0;
  if (c->flags & UVC_CONN_GRACEFUL) {
    c->state = UVC_CONN_DRAINING;
    c->t.deadline = uv_now(flow->loop) + flow->cfg->shutdown_ms;
    if (c->wreq == NULL) {
      if (c->outq.count == 0)
        begin_shutdown(c);
      else
        uvc_flow_mark_dirty(flow, c);
    }
  } else {
    uvc_conn_hard_close(c);
  }
}

static void on_shutdown(uv_shutdown_t* req, int status) {
  uvc_client_t* c = req->handle->data;
  (void)status;
  free(req);
  uvc_conn_hard_close(c);
}

/* All output went out: send FIN, then close. */
static void begin_shutdown(uvc_client_t* c) {
  uv_shutdown_t* req;
  if (c->flags & UVC_CONN_XPORT) { /* a polite end in each layer's terms, top first */
    uvc_transport_t* t;
    for (t = uvc_xclient_of(c)->top; t != NULL; t = t->below) {
      if (t->ops->goodbye != NULL) t->ops->goodbye(t);
      if (c->state == UVC_CONN_CLOSING) return; /* the send failed: already closed */
    }
  }
  req = malloc(sizeof(*req));
  c->state = UVC_CONN_SHUTDOWN;
  if (req == NULL || uv_shutdown(req, (uv_stream_t*)&c->tcp, on_shutdown) != 0) {
    free(req);
    uvc_conn_hard_close(c);
  }
}

void uvc_conn_hard_close(uvc_client_t* c) {
  if (c->state == UVC_CONN_CLOSING) return;
  if (c->sess.present) uvc_core_leave(UVC_CONN_FLOW(c)->core, &c->sess, UVC_LEAVE_LOST, NULL, 0);
  c->state = UVC_CONN_CLOSING;
  uvc_flow_uncongested(UVC_CONN_FLOW(c), c);
  if (c->pause & UVC_PAUSE_HELD) uvc_flow_unhold(UVC_CONN_FLOW(c), c);
  if (c->pause & UVC_PAUSE_FLOOD) uvc_flow_unflood(UVC_CONN_FLOW(c), c);
  if (uvc_list_is_linked(&c->node)) uvc_list_remove(&c->node);
  UVC_CONN_FLOW(c)->n_closing++; /* its descriptor is given back now */
  uv_close((uv_handle_t*)&c->tcp, on_closed);
}

static void on_closed(uv_handle_t* h) {
  uvc_client_t* c = h->data;
  uvc_flow_t* flow = UVC_CONN_FLOW(c);
  assert((c->flags &
          (UVC_CONN_DIRTY | UVC_CONN_IN_PENDING | UVC_CONN_CONGESTED | UVC_CONN_HOLDING)) == 0);
  assert(c->wreq == NULL);
  uvc_outq_clear(&c->outq);
  if (c->framer != NULL) {
    uvc_framer_free(c->framer);
    free(c->framer);
  }
  uvc_telnet_free(c->telnet);
  uvc_core_forget(flow->core, &c->sess);
  if (c->sess.adapter->on_free != NULL) c->sess.adapter->on_free(flow->core, &c->sess);
  free(c->leave_text);
  if (c->flags & UVC_CONN_XPORT) {
    uvc_transport_t* t = uvc_xclient_of(c)->bottom;
    while (t != NULL) {
      uvc_transport_t* above = t->above;
      t->ops->free(t);
      t = above;
    }
  }
  flow->freed(flow->ud, c); /* the server uncounts it */
  free(c);
}

/* ------------------------------------------------------------------------------------------
 * Addresses, and what the flow module may ask of a client
 * ---------------------------------------------------------------------------------------- */

void uvc_format_addr(const struct sockaddr* sa, char* out, size_t outlen) {
  char ip[48]; /* INET6_ADDRSTRLEN is 46 */
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)sa;
    static const unsigned char kV4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (memcmp(&a->sin6_addr, kV4, sizeof(kV4)) == 0) {
      const unsigned char* b = (const unsigned char*)&a->sin6_addr;
      snprintf(out, outlen, "%u.%u.%u.%u:%u", b[12], b[13], b[14], b[15],
               (unsigned)ntohs(a->sin6_port));
      return;
    }
    if (uv_ip6_name(a, ip, sizeof(ip)) != 0) snprintf(ip, sizeof(ip), "?");
    snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)sa;
    if (uv_ip4_name(a, ip, sizeof(ip)) != 0) snprintf(ip, sizeof(ip), "?");
    snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else {
    snprintf(out, outlen, "(unknown)");
  }
}

static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

void uvc_peer_from(uvc_peer_t* p, const struct sockaddr* sa) {
  memset(p, 0, sizeof(*p));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)sa;
    memcpy(p->ip, kMapped, 12);
    memcpy(p->ip + 12, &a->sin_addr, 4);
    p->port = ntohs(a->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)sa;
    memcpy(p->ip, &a->sin6_addr, 16);
    p->port = ntohs(a->sin6_port);
  }
}

void uvc_format_peer(const uvc_peer_t* p, char* out, size_t outlen) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof(a));
  a.sin6_family = AF_INET6;
  memcpy(&a.sin6_addr, p->ip, 16);
  a.sin6_port = htons(p->port);
  uvc_format_addr((const struct sockaddr*)&a, out, outlen);
}

static void drop_stalled(uvc_client_t* c) {
  uvc_conn_close(c, UVC_LEAVE_SENDQ, NULL, 0, 0);
}

const uvc_flow_ops_t uvc_conn_flow_ops = {uvc_conn_flush,      uvc_conn_finish_leave,
                                          uvc_conn_resume,     uvc_conn_made_progress,
                                          uvc_conn_token_wait, drop_stalled};
