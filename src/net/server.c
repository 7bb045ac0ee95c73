/* server.c: listeners, the client list, end-of-phase work, timers, signals and shutdown.
 *
 * End-of-phase work: a fan-out only queues references and marks clients dirty; a client
 * that must go is only marked for leaving. A uv_prepare handle (before the loop blocks) and
 * a uv_check handle (right after I/O callbacks) then announce the leavings and flush every
 * dirty client once, so messages from many senders in one loop iteration reach each
 * recipient in one system call, and no list is changed while it is being walked.
 */
#include "uvchat/server.h"
#include "uvchat/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "uvchat/conn.h"
#include "uvchat/log.h"
#include "uvchat/telnet.h"

#ifndef _WIN32
#include <sys/resource.h>
#endif
#ifdef __APPLE__
#include <sys/sysctl.h>
#include <sys/syslimits.h> /* OPEN_MAX */
#endif
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include "uvchat/irc.h"
#include "uvchat/text.h"
#ifdef UVCHAT_WITH_TLS
#include "uvchat/tls.h"
#include "uvchat/tls_transport.h"
#endif
#ifdef UVCHAT_WITH_WEB
#include "uvchat/web.h"
#endif

#define SWEEP_MS          1000
#define REFUSAL_LOG_MS    60000 /* a refused address is logged at most once a minute */
#define ACCEPT_ERR_LOG_MS 10000

static void client_freed(void* ud, uvc_client_t* c);
static void server_metrics(void* ud, uvc_metrics_buf_t* b);
static int server_healthy(void* ud);

/* Connections from one IPv4 address or IPv6 /64, and refusals not yet logged. */
typedef struct uvc_addr_entry {
  uint8_t key[16];
  uint32_t n;
  uint32_t refused;
  uint64_t logged_at;
  UT_hash_handle hh;
} uvc_addr_entry_t;

/* ------------------------------------------------------------------------------------------
 * Admission: --max-clients and --max-per-addr
 * ---------------------------------------------------------------------------------------- */

static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

/* The address a connection is counted under: IPv4 (also IPv4-mapped) whole, IPv6 by /64. */
static void addr_key(const uvc_peer_t* p, uint8_t key[16]) {
  memset(key, 0, 16);
  memcpy(key, p->ip, memcmp(p->ip, kMapped, 12) == 0 ? 16 : 8);
}

static uvc_addr_entry_t* addr_find(uvc_server_t* srv, const uint8_t key[16]) {
  uvc_addr_entry_t* e = NULL;
  HASH_FIND(hh, srv->addrs, key, 16, e);
  return e;
}

/* Logs a refusal, at most once per interval per address (or for "server full"). */
static void log_refusal(uvc_server_t* srv, uvc_client_t* c, uvc_addr_entry_t* e, const char* why) {
  uint64_t now = uv_now(srv->loop);
  uint64_t* at = e ? &e->logged_at : &srv->full_logged_at;
  uint32_t* n = e ? &e->refused : &srv->full_refused;
  char addr[64];
  (*n)++;
  srv->flow.metrics.refused++; /* the log's count restarts; this one never does */
  if (*at != 0 && now - *at < REFUSAL_LOG_MS) return;
  uvc_format_peer(&c->peer, addr, sizeof(addr));
  UVC_WARN("refused %u connection%s (latest from %s): %s", (unsigned)*n, *n == 1 ? "" : "s", addr,
           why);
  *at = now;
  *n = 0;
}

/* How many clients the process's open-file limit leaves room for, after raising the soft
 * limit as far as --max-clients needs and the hard limit allows (POSIX; Windows sockets
 * have no such limit). FD_RESERVE descriptors stay free for listeners, the loop's own
 * handles and files. Returns 0 for "no limit". */
#define FD_RESERVE 32
#ifndef _WIN32
/* The most descriptors the system lets this process have open, beyond what the hard limit
 * says: macOS reports an unlimited hard limit but refuses a soft limit over
 * kern.maxfilesperproc (and, on older versions, OPEN_MAX). 0 when nothing more is known. */
static rlim_t system_fd_cap(void) {
#ifdef __APPLE__
  int maxf = 0;
  size_t len = sizeof(maxf);
  if (sysctlbyname("kern.maxfilesperproc", &maxf, &len, NULL, 0) == 0 && maxf > 0)
    return (rlim_t)maxf;
  return (rlim_t)OPEN_MAX;
#else
  return 0;
#endif
}
#endif

static uint64_t client_fd_budget(const uvc_config_t* cfg) {
#ifdef _WIN32
  (void)cfg;
  return 0;
#else
  struct rlimit rl;
  rlim_t want, cap = system_fd_cap();
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  want = cfg->max_clients > 0 ? (rlim_t)(cfg->max_clients + FD_RESERVE) : rl.rlim_max;
  if (want > rl.rlim_cur) {
    struct rlimit raised = rl;
    raised.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    } else if (cap > rl.rlim_cur) { /* macOS: not RLIM_INFINITY, but as far as it allows */
      raised.rlim_cur = raised.rlim_cur < cap ? raised.rlim_cur : cap;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
#ifdef __APPLE__
      else if ((raised.rlim_cur = OPEN_MAX) > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
        rl = raised;
#endif
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur > FD_RESERVE ? (uint64_t)(rl.rlim_cur - FD_RESERVE) : 1;
#endif
}

/* Counts a new connection against the limits. Returns NULL when it may stay, or why it is
 * refused (and then it is not counted). */
static const char* admit(uvc_server_t* srv, uvc_client_t* c, char* why, size_t whylen) {
  const uvc_config_t* cfg = &srv->cfg;
  uvc_addr_entry_t* e = NULL;
  uint8_t key[16];
  /* c included; the closed hold no socket (flow counts them) */
  uint32_t open = srv->n_clients - srv->flow.n_closing;
  if (srv->fd_budget > 0 && open > srv->fd_budget) {
    snprintf(why, whylen, "the server is at its open-file limit (%u connections); try again later",
             (unsigned)srv->fd_budget);
    log_refusal(srv, c, NULL, why);
    return why;
  }
  if (cfg->max_clients > 0 && open > cfg->max_clients) {
    snprintf(why, whylen, "the server is full (%u connections); try again later",
             (unsigned)cfg->max_clients);
    log_refusal(srv, c, NULL, why);
    return why;
  }
  if (cfg->max_per_addr == 0) return NULL;
  addr_key(&c->peer, key);
  if ((e = addr_find(srv, key)) == NULL) {
    if ((e = calloc(1, sizeof(*e))) == NULL) return NULL; /* out of memory: do not count */
    memcpy(e->key, key, 16);
    HASH_ADD(hh, srv->addrs, key, 16, e);
  }
  if (e->n >= cfg->max_per_addr) {
    snprintf(why, whylen, "too many connections from your address (the limit is %u)",
             (unsigned)cfg->max_per_addr);
    log_refusal(srv, c, e, why);
    return why;
  }
  e->n++;
  c->flags |= UVC_CONN_COUNTED;
  return NULL;
}

/* The connection is gone: uncount it. */
static void discharge(uvc_server_t* srv, uvc_client_t* c) {
  uint8_t key[16];
  uvc_addr_entry_t* e;
  addr_key(&c->peer, key);
  if ((e = addr_find(srv, key)) != NULL && e->n > 0) e->n--;
  c->flags &= (uint8_t)~UVC_CONN_COUNTED;
}

/* Forgets addresses with no connection and nothing left to log. */
static void prune_addrs(uvc_server_t* srv, uint64_t now) {
  uvc_addr_entry_t *e, *tmp;
  HASH_ITER(hh, srv->addrs, e, tmp) {
    if (e->n == 0 && (e->refused == 0 || now - e->logged_at >= REFUSAL_LOG_MS)) {
      HASH_DEL(srv->addrs, e);
      free(e);
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * Core hooks
 * ---------------------------------------------------------------------------------------- */

/* A ghost (a session of another server of the cluster: its adapter is remote) has no
 * connection here: nothing is sent to it, and it is not closed from here. */
static void hook_deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  (void)ud;
  if (s->adapter->remote) return;
  uvc_conn_send(uvc_conn_of(s), m);
}

static void hook_request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                               size_t len) {
  (void)ud;
  if (s->adapter->remote) return;
  uvc_conn_close(uvc_conn_of(s), why, text, len, 1);
}

static int64_t hook_wallclock(void* ud) {
  uv_timeval64_t tv;
  (void)ud;
  return uv_gettimeofday(&tv) == 0 ? (int64_t)tv.tv_sec : 0;
}

/* The wall clock in milliseconds, cheaply: the loop's cached time plus an offset taken at
 * startup and again every second by the sweep (so a clock step shows within a second). */
static int64_t hook_wallclock_ms(void* ud) {
  uvc_server_t* srv = ud;
  return (int64_t)uv_now(srv->loop) + srv->clock_offset_ms;
}

/* Sets the offset of hook_wallclock_ms from the system's clock. */
static void sync_clock(uvc_server_t* srv) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0) return;
  srv->clock_offset_ms =
      (int64_t)tv.tv_sec * 1000 + (int64_t)(tv.tv_usec / 1000) - (int64_t)uv_now(srv->loop);
}

static void hook_peer_key(void* ud, const uvc_session_t* s, char* out, size_t outlen) {
  const uvc_client_t* c = UVC_CONTAINER_OF(s, uvc_client_t, sess);
  uint8_t key[16];
  (void)ud;
  if (s->adapter->remote) {
    snprintf(out, outlen, "remote");
    return;
  }
  addr_key(&c->peer, key);
  if (memcmp(key, kMapped, 12) == 0)
    snprintf(out, outlen, "%u.%u.%u.%u", key[12], key[13], key[14], key[15]);
  else
    snprintf(out, outlen, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", key[0], key[1], key[2],
             key[3], key[4], key[5], key[6], key[7]);
}

static void hook_auth_done(void* ud, double seconds) {
  uvc_server_t* srv = ud;
  srv->flow.metrics.auth_ops++;
  uvc_hist_observe(&srv->flow.metrics.auth_latency, seconds);
}

static int hook_secure(void* ud, const uvc_session_t* s) {
  (void)ud;
  return !s->adapter->remote && uvc_conn_secure(UVC_CONTAINER_OF(s, uvc_client_t, sess));
}

static void hook_backlog(void* ud, int full) {
  uvc_server_t* srv = ud;
  uvc_flow_set_backlog(&srv->flow, full);
  if (full && srv->flow.current != NULL) uvc_conn_pause(srv->flow.current, UVC_PAUSE_BACKPRESSURE);
}

static void hook_observe(void* ud, const uvc_event_t* ev) {
  (void)ud;
  if (ev->type == UVC_EV_NICK)
    UVC_INFO("nick %.*s is now %s", (int)ev->old_len, ev->old_nick, ev->from.nick);
}

/* ------------------------------------------------------------------------------------------
 * Setup and listening
 * ---------------------------------------------------------------------------------------- */

int uvc_server_init(uvc_server_t* srv, uv_loop_t* loop, const uvc_config_t* cfg) {
  uvc_core_config_t cc;
  uvc_core_hooks_t hooks;
  int r;
  memset(srv, 0, sizeof(*srv));
  srv->loop = loop;
  srv->cfg = *cfg;
  uvc_list_init(&srv->clients);
  memset(&cc, 0, sizeof(cc));
  cc.default_room = cfg->default_room;
  cc.max_line = (uint32_t)cfg->max_line;
  cc.announce_limit = (uint32_t)cfg->announce_limit;
  cc.server_name = cfg->server_name;
  cc.autojoin = cfg->irc_autojoin;
  memset(&hooks, 0, sizeof(hooks));
  hooks.deliver = hook_deliver;
  hooks.request_close = hook_request_close;
  hooks.observe = hook_observe;
  hooks.wallclock = hook_wallclock;
  hooks.wallclock_ms = hook_wallclock_ms;
  sync_clock(srv);
  hooks.peer_key = hook_peer_key;
  hooks.auth_done = hook_auth_done;
  hooks.secure = hook_secure;
  hooks.backlog = hook_backlog;
  if ((r = uvc_core_init(&srv->core, &cc, &hooks, srv)) != 0) return UV_ENOMEM;
  srv->core.history_join = (uint32_t)cfg->history_join; /* used once a history is plugged in */
  srv->core.history_irc = (uint32_t)cfg->history_irc;
  uvc_flow_init(&srv->flow, loop, &uvc_conn_flow_ops, &srv->cfg, &srv->core);
  srv->flow.freed = client_freed;
  srv->flow.ud = srv;
  srv->web.cfg = &srv->cfg;
  srv->web.metrics = server_metrics;
  srv->web.healthy = server_healthy;
  srv->web.ud = srv;
  srv->started_ms = uv_now(loop);
  srv->core.sts_duration = (uint32_t)cfg->irc_sts_duration;
  srv->fd_budget = client_fd_budget(cfg);
  if (srv->fd_budget > 0 && (cfg->max_clients == 0 || srv->fd_budget < cfg->max_clients))
    UVC_WARN(
        "the open-file limit leaves room for %u clients (--max-clients is %u); raise it "
        "with ulimit -n",
        (unsigned)srv->fd_budget, (unsigned)cfg->max_clients);
  uv_timer_init(loop, &srv->sweep);
  uv_timer_init(loop, &srv->stop_timer);
  uv_signal_init(loop, &srv->sig_int);
  uv_signal_init(loop, &srv->sig_term);
  uv_signal_init(loop, &srv->sig_hup);
  srv->sig_hup.data = srv;
  srv->sweep.data = srv->stop_timer.data = srv;
  srv->sig_int.data = srv->sig_term.data = srv;
#ifdef SIGBREAK
  uv_signal_init(loop, &srv->sig_break);
  srv->sig_break.data = srv;
#endif
  return 0;
}

/* Accepts a client, counts it against the limits, and lets it in or turns it away. */
static void accept_client(uvc_server_t* srv, uv_stream_t* server, uvc_listener_t* l) {
  char why[160];
  const char* refusal;
  uvc_client_t* c = uvc_conn_accept(&srv->flow, server, l->adapter, l->chain, l->n_chain);
  if (c == NULL) return;
  srv->flow.metrics.accepted++;
  srv->n_clients++;
  uvc_list_insert_tail(&srv->clients, &c->node);
  if ((refusal = admit(srv, c, why, sizeof(why))) != NULL)
    uvc_conn_refuse(c, refusal);
  else
    uvc_conn_start(c);
}

static void on_connection(uv_stream_t* server, int status) {
  uvc_listener_t* l = server->data;
  uvc_server_t* srv = l->srv;
  if (status < 0) {
    /* Out of descriptors (EMFILE) and the like: libuv has already turned the caller away
     * without spinning; say so now and then, not once per attempt. */
    uint64_t now = uv_now(srv->loop);
    srv->accept_errs++;
    srv->flow.metrics.accept_errors++;
    if (srv->accept_err_at == 0 || now - srv->accept_err_at >= ACCEPT_ERR_LOG_MS) {
      UVC_WARN(
          "cannot accept on %s: %s (%u time%s); refusing new connections until it "
          "clears",
          l->addr, uv_strerror(status), (unsigned)srv->accept_errs,
          srv->accept_errs == 1 ? "" : "s");
      srv->accept_err_at = now;
      srv->accept_errs = 0;
    }
    return;
  }
  accept_client(srv, server, l);
}

static void on_listener_closed(uv_handle_t* h) {
  free(h->data);
}

static int listen_on(uvc_server_t* srv, const struct sockaddr* sa, const uvc_adapter_t* adapter,
                     const uvc_transport_maker_t* chain, int n, char* bound, size_t boundlen) {
  uvc_listener_t* l;
  uvc_sockaddr_t name;
  int len = sizeof(name), r;
  if (srv->n_listeners == UVC_MAX_LISTENERS) return UV_EMFILE;
  l = calloc(1, sizeof(*l));
  if (l == NULL) return UV_ENOMEM;
  l->srv = srv;
  l->adapter = adapter;
  memcpy(l->chain, chain, (size_t)n * sizeof(*chain));
  l->n_chain = n;
  uv_tcp_init(srv->loop, &l->tcp);
  l->tcp.data = l;
  r = uv_tcp_bind(&l->tcp, sa, 0);
  if (r == 0) r = uv_listen((uv_stream_t*)&l->tcp, 4096, on_connection);
  if (r == 0) r = uv_tcp_getsockname(&l->tcp, &name.sa, &len);
  if (r != 0) {
    uv_close((uv_handle_t*)&l->tcp, on_listener_closed);
    return r;
  }
  uvc_format_addr(&name.sa, l->addr, sizeof(l->addr));
  snprintf(bound, boundlen, "%s", l->addr);
  srv->listeners[srv->n_listeners++] = l;
  return 0;
}

int uvc_server_listen(uvc_server_t* srv, const char* host, int port, const uvc_adapter_t* adapter,
                      int tls, char* bound, size_t boundlen, char* err, size_t errlen) {
  uvc_transport_maker_t chain[1];
  int n = 0;
  if (tls) {
#ifdef UVCHAT_WITH_TLS
    chain[n].make = uvc_tls_transport_new;
    chain[n++].arg = srv->tls;
#else
    snprintf(err, errlen, "TLS is not compiled into this build (it needs OpenSSL 3)");
    return UV_ENOTSUP;
#endif
  }
  return uvc_server_listen_chain(srv, host, port, adapter, chain, n, bound, boundlen, err, errlen);
}

int uvc_server_listen_web(uvc_server_t* srv, const char* host, int port, int tls, char* bound,
                          size_t boundlen, char* err, size_t errlen) {
#ifdef UVCHAT_WITH_WEB
  uvc_transport_maker_t chain[2];
  int n = 0, r;
  if (tls) {
    chain[n].make = uvc_tls_transport_new;
    chain[n++].arg = srv->tls;
  }
  chain[n].make = uvc_web_transport_new;
  chain[n++].arg = &srv->web;
  r = uvc_server_listen_chain(srv, host, port, &uvc_irc_ws_text_adapter, chain, n, bound, boundlen,
                              err, errlen);
  if (r == 0) srv->listeners[srv->n_listeners - 1]->web = 1;
  return r;
#else
  (void)srv, (void)host, (void)port, (void)tls, (void)bound, (void)boundlen;
  snprintf(err, errlen,
           "the web listener is not compiled into this build (it needs http-parser, wslay and "
           "OpenSSL 3)");
  return UV_ENOTSUP;
#endif
}

int uvc_server_listen_chain(uvc_server_t* srv, const char* host, int port,
                            const uvc_adapter_t* adapter, const uvc_transport_maker_t* chain, int n,
                            char* bound, size_t boundlen, char* err, size_t errlen) {
  uvc_sockaddr_t sa;
  int r;
  if (n > UVC_MAX_CHAIN) return UV_EINVAL;
  if (host == NULL) {
    uv_ip6_addr("::", port, &sa.in6);
    r = listen_on(srv, &sa.sa, adapter, chain, n, bound, boundlen);
    if (r == UV_EAFNOSUPPORT || r == UV_EADDRNOTAVAIL || r == UV_EINVAL) {
      uv_ip4_addr("0.0.0.0", port, &sa.in4);
      r = listen_on(srv, &sa.sa, adapter, chain, n, bound, boundlen);
    }
    host = "*";
  } else if (uv_ip6_addr(host, port, &sa.in6) == 0 || uv_ip4_addr(host, port, &sa.in4) == 0) {
    r = listen_on(srv, &sa.sa, adapter, chain, n, bound, boundlen);
  } else {
    /* A host name: resolve it synchronously (startup only) and take the first address. */
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    char service[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);
    r = uv_getaddrinfo(srv->loop, &req, NULL, host, service, &hints);
    if (r == 0) {
      r = listen_on(srv, req.addrinfo->ai_addr, adapter, chain, n, bound, boundlen);
      uv_freeaddrinfo(req.addrinfo);
    } else {
      snprintf(err, errlen, "cannot resolve host '%s': %s", host, uv_strerror(r));
      return r;
    }
  }
  if (r != 0) {
    if (r == UV_EADDRINUSE)
      snprintf(err, errlen, "cannot listen on %s port %d: the port is already in use", host, port);
    else if (r == UV_EACCES)
      snprintf(err, errlen, "cannot listen on %s port %d: permission denied", host, port);
    else
      snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, uv_strerror(r));
  }
  return r;
}

/* ------------------------------------------------------------------------------------------
 * Timers, signals, shutdown
 * ---------------------------------------------------------------------------------------- */

/* The timeouts of one open client: registration, an unfinished line, silence (IRC clients
 * are pinged first). Returns 1 when it closed the client. */
static int check_timeouts(uvc_server_t* srv, uvc_client_t* c, uint32_t now) {
  const uvc_config_t* cfg = &srv->cfg;
  uint32_t silent = now - c->last_line;
  char why[64];
  if (c->sess.unseen && c->sess.present && now - c->since >= UVC_REVEAL_MS) {
    uvc_conn_reveal(c); /* a reader who says nothing is a person too, after a moment */
    return 0;
  }
  if (!c->sess.present && cfg->register_ms > 0 && now - c->since >= cfg->register_ms) {
    snprintf(why, sizeof(why), "registration timed out after %u seconds",
             (unsigned)(cfg->register_ms / 1000));
  } else if (c->partial_since != 0 && cfg->line_ms > 0 && now - c->partial_since >= cfg->line_ms) {
    snprintf(
        why, sizeof(why), "a %s was left unfinished for %u seconds",
        uvc_telnet_pending(c->telnet) && (c->framer == NULL || uvc_framer_pending(c->framer) == 0)
            ? "telnet negotiation"
            : "line",
        (unsigned)(cfg->line_ms / 1000));
  } else if (cfg->idle_ms > 0 && silent >= cfg->idle_ms) {
    snprintf(why, sizeof(why), "idle for %u seconds", (unsigned)(cfg->idle_ms / 1000));
  } else if (c->sess.adapter->on_idle != NULL && cfg->ping_ms > 0 && silent >= cfg->ping_ms) {
    /* Pinged once; dropped only when the ping, however late it went out, got no answer
     * within another interval. */
    if (!(c->flags & UVC_CONN_PINGED)) {
      c->flags |= UVC_CONN_PINGED;
      c->since = now; /* a registered client's "since" is when it was pinged */
      c->sess.adapter->on_idle(&srv->core, &c->sess);
      return 0;
    }
    if (now - c->since < cfg->ping_ms) return 0;
    snprintf(why, sizeof(why), "ping timeout: %u seconds", (unsigned)(silent / 1000));
  } else {
    return 0;
  }
  uvc_conn_close(c, UVC_LEAVE_IDLE, why, strlen(why), 1);
  return 1;
}

/* Once a second: timeouts, clients whose draining took too long, and the send-queue rings
 * of readers that went quiet. */
static void on_sweep(uv_timer_t* t) {
  uvc_server_t* srv = t->data;
  uint64_t now = uv_now(srv->loop);
  uvc_list_t* n = srv->clients.next;
  size_t given_back = 0;
  if (srv->sweep_due != 0)
    uvc_hist_observe(&srv->flow.metrics.loop_lag,
                     now > srv->sweep_due ? (double)(now - srv->sweep_due) / 1000.0 : 0.0);
  srv->sweep_due = now + SWEEP_MS;
  sync_clock(srv);
  prune_addrs(srv, now);
  while (n != &srv->clients) {
    uvc_client_t* c = UVC_CONTAINER_OF(n, uvc_client_t, node);
    n = n->next; /* c may leave the list below */
    if (c->state == UVC_CONN_OPEN) {
      if (c->flags & UVC_CONN_XPORT) uvc_conn_tick(c, (uint32_t)now);
      if (c->state != UVC_CONN_OPEN || check_timeouts(srv, c, (uint32_t)now)) continue;
      if (c->outq.count == 0 && c->outq.ring != NULL && c->outq.ring != c->outq.small) {
        given_back += c->outq.cap * sizeof(uvc_msg_t*);
        uvc_outq_trim(&c->outq); /* a reader gone quiet */
      }
    } else if ((c->state == UVC_CONN_DRAINING || c->state == UVC_CONN_SHUTDOWN) &&
               now >= c->t.deadline) {
      uvc_conn_hard_close(c);
    }
  }
#ifdef __GLIBC__
  /* After a burst (thousands of arrivals, a flood) the freed rings lie between live clients;
   * hand the whole free pages back to the system instead of keeping them in the heap. */
  if (given_back >= 256 * 1024) malloc_trim(0);
#else
  (void)given_back;
#endif
}

/* Closes the listeners (all, or all but the web ones). */
static void close_listeners(uvc_server_t* srv, int all) {
  int i, k = 0;
  for (i = 0; i < srv->n_listeners; i++) {
    uvc_listener_t* l = srv->listeners[i];
    if (all || !l->web)
      uv_close((uv_handle_t*)&l->tcp, on_listener_closed);
    else
      srv->listeners[k++] = l;
  }
  srv->n_listeners = k;
}

/* Once every client is gone during shutdown: close the server's own handles. */
static void maybe_finish(uvc_server_t* srv) {
  if (!srv->stopping || srv->finished || srv->n_clients > 0) return;
  srv->finished = 1;
  close_listeners(srv, 1);
  uvc_flow_close(&srv->flow);
  uv_close((uv_handle_t*)&srv->sweep, NULL);
  uv_close((uv_handle_t*)&srv->stop_timer, NULL);
  uv_close((uv_handle_t*)&srv->sig_int, NULL);
  uv_close((uv_handle_t*)&srv->sig_term, NULL);
  uv_close((uv_handle_t*)&srv->sig_hup, NULL);
#ifdef SIGBREAK
  uv_close((uv_handle_t*)&srv->sig_break, NULL);
#endif
}

/* A client's memory was freed (the flow module's freed hook). */
static void client_freed(void* ud, uvc_client_t* c) {
  uvc_server_t* srv = ud;
  if (c->flags & UVC_CONN_COUNTED) discharge(srv, c);
  srv->n_clients--;
  srv->flow.n_closing--;
  maybe_finish(srv);
}

/* The drain deadline passed, or a second signal came: close every client now. */
static void force_close_all(uvc_server_t* srv) {
  uvc_list_t* n = srv->clients.next;
  close_listeners(srv, 1);
  while (n != &srv->clients) {
    uvc_client_t* c = UVC_CONTAINER_OF(n, uvc_client_t, node);
    n = n->next;
    if (c->state == UVC_CONN_OPEN || c->state == UVC_CONN_PENDING)
      uvc_conn_close(c, UVC_LEAVE_SHUTDOWN, NULL, 0, 0); /* finished at the end of the phase */
    else
      uvc_conn_hard_close(c);
  }
}

static void on_stop_timer(uv_timer_t* t) {
  uvc_server_t* srv = t->data;
  UVC_WARN("shutdown: output still queued after %.1f s; closing the remaining connections",
           (double)srv->cfg.shutdown_ms / 1000.0);
  force_close_all(srv);
}

void uvc_server_stop(uvc_server_t* srv) {
  static const char kBye[] = "The server is shutting down. Goodbye!";
  uvc_list_t* n;
  if (srv->stopping) {
    if (!srv->finished) {
      UVC_WARN("second stop request: closing every connection now");
      srv->exit_code = 1;
      force_close_all(srv);
    }
    return;
  }
  srv->stopping = 1;
  UVC_INFO("shutting down: %u connection%s", (unsigned)srv->n_clients,
           srv->n_clients == 1 ? "" : "s");
  close_listeners(srv, 0); /* the web listeners stay while the rest drains: /healthz says 503 */
  uvc_core_announce(&srv->core, kBye, sizeof(kBye) - 1);
  srv->core.stopping = 1;
  for (n = srv->clients.next; n != &srv->clients;) {
    uvc_client_t* c = UVC_CONTAINER_OF(n, uvc_client_t, node);
    n = n->next;
    uvc_conn_close(c, UVC_LEAVE_SHUTDOWN, "server shutting down", 20, 1);
  }
#ifdef UVCHAT_WITH_CLUSTER
  uvc_cluster_stop(srv->cluster); /* the others are told; its connections close */
#endif
  uv_timer_start(&srv->stop_timer, on_stop_timer, srv->cfg.shutdown_ms, 0);
  uv_unref((uv_handle_t*)&srv->stop_timer);
  /* From now on only the clients keep the loop alive; a second signal still forces. */
  uv_unref((uv_handle_t*)&srv->sig_int);
  uv_unref((uv_handle_t*)&srv->sig_term);
  uv_unref((uv_handle_t*)&srv->sig_hup);
#ifdef SIGBREAK
  uv_unref((uv_handle_t*)&srv->sig_break);
#endif
  uv_unref((uv_handle_t*)&srv->sweep);
  maybe_finish(srv);
}

static void on_signal(uv_signal_t* h, int signum) {
  uvc_server_t* srv = h->data;
  UVC_INFO("received signal %d", signum);
  uvc_server_stop(srv);
}

int uvc_server_reload_tls(uvc_server_t* srv, const char* cert, const char* key, char* err,
                          size_t errlen) {
#ifdef UVCHAT_WITH_TLS
  if (srv->tls == NULL) {
    snprintf(err, errlen, "TLS was not set up at start");
    return -1;
  }
  return uvc_tls_ctx_reload(srv->tls, cert, key, err, errlen) == 0 ? 0 : -1;
#else
  (void)srv, (void)cert, (void)key;
  snprintf(err, errlen, "TLS is not compiled into this build (it needs OpenSSL 3)");
  return -1;
#endif
}

/* SIGHUP (POSIX): reload the settings through the hook main set; with none, the TLS
 * certificate alone. Never a reason to stop. */
static void on_hup(uv_signal_t* h, int signum) {
  uvc_server_t* srv = h->data;
  char err[256];
  (void)signum;
  if (srv->stopping) return;
  if (srv->on_reload != NULL) {
    srv->on_reload(srv->reload_ud, "SIGHUP");
  } else if (srv->tls != NULL) {
    if (uvc_server_reload_tls(srv, srv->cfg.tls_cert, srv->cfg.tls_key, err, sizeof(err)) == 0)
      UVC_INFO("SIGHUP: reloaded the TLS certificate %s", srv->cfg.tls_cert);
    else
      UVC_ERROR("SIGHUP: cannot reload the TLS certificate (the old one stays): %s", err);
  } else {
    UVC_INFO("SIGHUP: nothing to reload");
  }
}

void uvc_server_apply(uvc_server_t* srv, const uvc_config_t* cfg) {
  srv->cfg = *cfg;
  srv->core.password = cfg->password;
  srv->core.oper_lines = cfg->opers;
  srv->core.announce_limit = (uint32_t)cfg->announce_limit;
  srv->core.autojoin = cfg->irc_autojoin;
  srv->core.history_join = (uint32_t)cfg->history_join;
  srv->core.history_irc = (uint32_t)cfg->history_irc;
  uvc_flow_apply(&srv->flow, &srv->cfg);
  srv->core.sts_duration = (uint32_t)cfg->irc_sts_duration;
  srv->fd_budget = client_fd_budget(cfg);
  uvc_log_set_level(cfg->log_level);
}

int uvc_server_tls_init(uvc_server_t* srv, char* err, size_t errlen) {
#ifdef UVCHAT_WITH_TLS
  srv->tls = uvc_tls_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key, err, errlen);
  return srv->tls == NULL ? -1 : 0;
#else
  (void)srv;
  snprintf(err, errlen, "TLS is not compiled into this build (it needs OpenSSL 3)");
  return -1;
#endif
}

int uvc_server_start(uvc_server_t* srv) {
  int r;
  if ((r = uv_signal_start(&srv->sig_int, on_signal, SIGINT)) != 0) return r;
  /* Windows has no SIGTERM delivery; Ctrl+C arrives as SIGINT and Ctrl+Break as SIGBREAK. */
  (void)uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
#ifndef _WIN32
  /* SIGHUP reloads (on Windows it would mean the console closed: left to its default). */
  if ((r = uv_signal_start(&srv->sig_hup, on_hup, SIGHUP)) != 0) return r;
#endif
#ifdef SIGBREAK
  (void)uv_signal_start(&srv->sig_break, on_signal, SIGBREAK);
#endif
  uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  return 0;
}

void uvc_server_free(uvc_server_t* srv) {
  uvc_flow_free(&srv->flow);
#ifdef UVCHAT_WITH_TLS
  uvc_tls_ctx_free(srv->tls);
  srv->tls = NULL;
#endif
  {
    uvc_addr_entry_t *e, *tmp;
    HASH_ITER(hh, srv->addrs, e, tmp) {
      HASH_DEL(srv->addrs, e);
      free(e);
    }
  }
  uvc_core_free(&srv->core);
}

/* ------------------------------------------------------------------------------------------
 * /healthz and /metrics
 * ---------------------------------------------------------------------------------------- */

static int server_healthy(void* ud) {
  const uvc_server_t* srv = ud;
  return !srv->stopping;
}

/* The label of a client's protocol and transports: "irc", "websocket+tls". */
static void client_labels(const uvc_client_t* c, const char** proto, char* xport, size_t len) {
  const uvc_transport_t* t;
  size_t at = 0;
  *proto = c->sess.adapter->name;
  if (!(c->flags & UVC_CONN_XPORT)) {
    snprintf(xport, len, "tcp");
    return;
  }
  xport[0] = '\0';
  for (t = ((const uvc_xclient_t*)c)->top; t != NULL && at + 1 < len; t = t->below) {
    const char* n = t->ops->name;
    if (at > 0) xport[at++] = '+';
    for (; *n != '\0' && at + 1 < len; n++)
      xport[at++] = (char)((*n >= 'A' && *n <= 'Z') ? *n - 'A' + 'a' : *n);
    xport[at] = '\0';
  }
}

static void server_metrics(void* ud, uvc_metrics_buf_t* b) {
  static const char* const kLeave[8] = {"quit",  "closed", "lost",     "sendq",
                                        "input", "idle",   "shutdown", "refused"};
  uvc_server_t* srv = ud;
  const uvc_metrics_t* m = &srv->flow.metrics;
  struct {
    const char* proto;
    char xport[32];
    uint32_t n;
  } kinds[16];
  int n_kinds = 0, i;
  uint64_t queued = 0;
  uvc_list_t* node;
  for (node = srv->clients.next; node != &srv->clients; node = node->next) {
    const uvc_client_t* c = UVC_CONTAINER_OF(node, uvc_client_t, node);
    const char* proto;
    char xport[32];
    queued += c->outq.bytes;
    client_labels(c, &proto, xport, sizeof(xport));
    for (i = 0; i < n_kinds; i++)
      if (strcmp(kinds[i].proto, proto) == 0 && strcmp(kinds[i].xport, xport) == 0) break;
    if (i == n_kinds) {
      if (n_kinds == 16) continue;
      kinds[i].proto = proto;
      memcpy(kinds[i].xport, xport, sizeof(xport));
      kinds[i].n = 0;
      n_kinds++;
    }
    kinds[i].n++;
  }
  uvc_metrics_head(b, "uvchat_connections", "gauge", "Open connections by protocol and transport.");
  for (i = 0; i < n_kinds; i++)
    uvc_metrics_printf(b, "uvchat_connections{protocol=\"%s\",transport=\"%s\"} %u\n",
                       kinds[i].proto, kinds[i].xport, (unsigned)kinds[i].n);
#define COUNTER(name, help, v)                \
  uvc_metrics_head(b, name, "counter", help); \
  uvc_metrics_printf(b, name " %llu\n", (unsigned long long)(v))
  COUNTER("uvchat_connections_accepted_total", "Connections accepted.", m->accepted);
  COUNTER("uvchat_connections_refused_total", "Connections turned away by the limits.", m->refused);
  COUNTER("uvchat_accept_errors_total", "Failed accepts (out of descriptors).", m->accept_errors);
  COUNTER("uvchat_messages_received_total", "Lines received from clients.", m->lines_in);
  COUNTER("uvchat_messages_delivered_total", "Messages handed to recipients.", srv->core.delivered);
  COUNTER("uvchat_received_bytes_total", "Bytes read from clients.", m->bytes_in);
  COUNTER("uvchat_sent_bytes_total", "Bytes written to clients.", m->bytes_out);
  COUNTER("uvchat_flood_pauses_total", "Times a client was slowed by flood control.",
          m->flood_pauses);
  COUNTER("uvchat_http_requests_total", "HTTP requests answered.", m->http_requests);
  COUNTER("uvchat_websocket_upgrades_total", "WebSocket connections opened.", m->ws_upgrades);
  COUNTER("uvchat_account_operations_total", "Account operations answered.", m->auth_ops);
#undef COUNTER
  uvc_metrics_head(b, "uvchat_disconnects_total", "counter",
                   "Connections ended, by reason (sendq and input are drops).");
  for (i = 0; i < 8; i++)
    uvc_metrics_printf(b, "uvchat_disconnects_total{reason=\"%s\"} %llu\n", kLeave[i],
                       (unsigned long long)m->leaves[i]);
  uvc_metrics_head(b, "uvchat_queued_bytes", "gauge", "Output bytes waiting in send queues.");
  uvc_metrics_printf(b, "uvchat_queued_bytes %llu\n", (unsigned long long)queued);
  uvc_metrics_head(b, "uvchat_rooms", "gauge", "Rooms.");
  uvc_metrics_printf(b, "uvchat_rooms %u\n", uvc_core_room_count(&srv->core));
  uvc_metrics_head(b, "uvchat_users", "gauge", "People present (with a nick).");
  uvc_metrics_printf(b, "uvchat_users %u\n", (unsigned)srv->core.n_present);
  uvc_metrics_head(b, "uvchat_uptime_seconds", "gauge", "Seconds since the server started.");
  uvc_metrics_printf(b, "uvchat_uptime_seconds %.3f\n",
                     (double)(uv_now(srv->loop) - srv->started_ms) / 1000.0);
  uvc_metrics_hist(b, "uvchat_account_operation_seconds",
                   "Time from an account operation's start to its answer.", &m->auth_latency);
  uvc_metrics_hist(b, "uvchat_event_loop_lag_seconds",
                   "How late the once-a-second timer ran (event-loop lag).", &m->loop_lag);
#ifdef UVCHAT_WITH_CLUSTER
  if (srv->cluster != NULL) uvc_cluster_metrics(srv->cluster, b);
#endif
}
