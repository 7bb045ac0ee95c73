/* server.c: listeners, the client list, end-of-phase work, timers, signals and shutdown.
 *
 * End-of-phase work: a fan-out only queues references and marks clients dirty; a client
 * that must go is only marked for leaving. A uv_prepare handle (before the loop blocks) and
 * a uv_check handle (right after I/O callbacks) then announce the leavings and flush every
 * dirty client once, so messages from many senders in one loop iteration reach each
 * recipient in one system call, and no list is changed while it is being walked.
 */
#include "uvchat/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#ifdef UVCHAT_WITH_TLS
#include "uvchat/tls.h"
#endif

#define SWEEP_MS          1000
#define WRITE_POOL_MAX    1024
#define REFUSAL_LOG_MS    60000 /* a refused address is logged at most once a minute */
#define ACCEPT_ERR_LOG_MS 10000
#define SOFT_SENDQ_MAX    (64 * 1024)
#define SENDQ_SLOT_BYTES  64

/* Connections from one IPv4 address or IPv6 /64, and refusals not yet logged. */
typedef struct uvc_addr_entry {
  uint8_t key[16];
  uint32_t n;
  uint32_t refused;
  uint64_t logged_at;
  UT_hash_handle hh;
} uvc_addr_entry_t;

/* ------------------------------------------------------------------------------------------
 * Small helpers
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

/* Appends c to a growable array of clients; returns -1 when out of memory. */
static int push_client(uvc_client_t*** v, uint32_t* n, uint32_t* cap, uvc_client_t* c) {
  if (*n == *cap) {
    uint32_t ncap = *cap ? *cap * 2 : 64;
    uvc_client_t** nv = realloc(*v, ncap * sizeof(*nv));
    if (nv == NULL) return -1;
    *v = nv;
    *cap = ncap;
  }
  (*v)[(*n)++] = c;
  return 0;
}

uv_write_t* uvc_server_get_write(uvc_server_t* srv) {
  uv_write_t* req = srv->write_pool;
  if (req != NULL) {
    srv->write_pool = req->data;
    srv->n_write_pool--;
    return req;
  }
  return malloc(sizeof(*req));
}

void uvc_server_put_write(uvc_server_t* srv, uv_write_t* req) {
  if (srv->n_write_pool >= WRITE_POOL_MAX) {
    free(req);
    return;
  }
  req->data = srv->write_pool;
  srv->write_pool = req;
  srv->n_write_pool++;
}

/* ------------------------------------------------------------------------------------------
 * Admission: --max-clients and --max-per-addr
 * ---------------------------------------------------------------------------------------- */

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

const char* uvc_server_admit(uvc_server_t* srv, uvc_client_t* c, char* why, size_t whylen) {
  const uvc_config_t* cfg = &srv->cfg;
  uvc_addr_entry_t* e = NULL;
  uint8_t key[16];
  uint32_t open = srv->n_clients - srv->n_closing; /* c included; the closed hold no socket */
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

void uvc_server_discharge(uvc_server_t* srv, uvc_client_t* c) {
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
 * End-of-phase work
 * ---------------------------------------------------------------------------------------- */

/* Scheduled work keeps the loop alive until the end of the phase carries it out: a client
 * whose input is paused has no active I/O of its own, and prepare/check are unreferenced. */
static void hold_loop(uvc_server_t* srv) {
  if (srv->work_ref) return;
  srv->work_ref = 1;
  uv_ref((uv_handle_t*)&srv->prepare);
}

void uvc_server_mark_dirty(uvc_server_t* srv, uvc_client_t* c) {
  if (c->flags & UVC_CONN_DIRTY) return;
  hold_loop(srv);
  if (push_client(&srv->dirty, &srv->n_dirty, &srv->cap_dirty, c) != 0) {
    uvc_conn_flush(c); /* no room to defer: write now */
    return;
  }
  c->flags |= UVC_CONN_DIRTY;
}

void uvc_server_schedule_leave(uvc_server_t* srv, uvc_client_t* c) {
  if (c->flags & UVC_CONN_IN_PENDING) return;
  hold_loop(srv);
  if (push_client(&srv->pending, &srv->n_pending, &srv->cap_pending, c) != 0) {
    /* Out of memory: drop the client without ceremony rather than lose track of it. */
    c->flags &= (uint8_t)~UVC_CONN_GRACEFUL;
    uvc_conn_finish_leave(c);
    return;
  }
  c->flags |= UVC_CONN_IN_PENDING;
}

/* Removes c from an array of clients (order is not kept); 1 if it was there. */
static int remove_client(uvc_client_t** v, uint32_t* n, uvc_client_t* c) {
  uint32_t i;
  for (i = *n; i-- > 0;) {
    if (v[i] == c) {
      v[i] = v[--*n];
      return 1;
    }
  }
  return 0;
}

/* Backpressure, in short: a client over soft_sendq waiting is congested. A congested client
 * holds back whoever sends to it only while it drains: it holds from the moment it becomes
 * congested, and keeps holding while it takes bytes. One that takes nothing for PROBATION_MS
 * (a reader that stopped reading, or was stuck all along) is no reason to wait: it stops
 * holding at once, its senders only yield the rest of the loop turn when they feed it, it
 * fills up to --sendq and is dropped there; any byte it takes makes it hold again. While
 * someone holds, the congestion timer samples progress every HOLD_TICK_MS, else every
 * CONGESTION_TICK_MS (for --stall-timeout, which drops a congested client that took nothing
 * for that long even in a quiet room). */
#define PROBATION_MS       30
#define HOLD_TICK_MS       10
#define CONGESTION_TICK_MS 250

static void on_congestion_timer(uv_timer_t* t);

/* Keeps the congestion timer at the pace the congested clients need (stopped if none). */
static void pace_congestion_timer(uvc_server_t* srv) {
  uint64_t want = srv->n_holding > 0 ? HOLD_TICK_MS : CONGESTION_TICK_MS;
  if (srv->n_congested == 0) {
    uv_timer_stop(&srv->congestion_timer);
  } else if (!uv_is_active((uv_handle_t*)&srv->congestion_timer) ||
             uv_timer_get_repeat(&srv->congestion_timer) != want) {
    uv_timer_start(&srv->congestion_timer, on_congestion_timer, want, want);
  }
}

void uvc_server_congested(uvc_server_t* srv, uvc_client_t* c) {
  if (c->flags & UVC_CONN_CONGESTED) return;
  if (push_client(&srv->congested, &srv->n_congested, &srv->cap_congested, c) != 0) return;
  c->flags |= UVC_CONN_CONGESTED | UVC_CONN_HOLDING; /* on probation */
  srv->n_holding++;
  c->t.stall.since = (uint32_t)uv_now(srv->loop);
  (void)uvc_conn_made_progress(c); /* progress is counted from here */
  pace_congestion_timer(srv);
}

void uvc_server_uncongested(uvc_server_t* srv, uvc_client_t* c) {
  if (!(c->flags & UVC_CONN_CONGESTED)) return;
  remove_client(srv->congested, &srv->n_congested, c);
  if (c->flags & UVC_CONN_HOLDING) srv->n_holding--;
  c->flags &= (uint8_t) ~(UVC_CONN_CONGESTED | UVC_CONN_HOLDING);
  pace_congestion_timer(srv);
}

void uvc_server_progress(uvc_server_t* srv, uvc_client_t* c) {
  c->t.stall.since = (uint32_t)uv_now(srv->loop);
  if ((c->flags & (UVC_CONN_CONGESTED | UVC_CONN_HOLDING)) == UVC_CONN_CONGESTED) {
    c->flags |= UVC_CONN_HOLDING; /* it reads again: wait for it again */
    srv->n_holding++;
    pace_congestion_timer(srv);
  }
}

static void on_congestion_timer(uv_timer_t* t) {
  uvc_server_t* srv = t->data;
  uint32_t now = (uint32_t)uv_now(srv->loop);
  uint32_t i;
  for (i = srv->n_congested; i-- > 0;) { /* backwards: a drop removes entry i */
    uvc_client_t* c = srv->congested[i];
    if (uvc_conn_made_progress(c)) {
      uvc_server_progress(srv, c);
    } else if (now - c->t.stall.since >= srv->cfg.stall_ms) {
      uvc_conn_close(c, UVC_LEAVE_SENDQ, NULL, 0, 0);
    } else if ((c->flags & UVC_CONN_HOLDING) && now - c->t.stall.since >= PROBATION_MS) {
      c->flags &= (uint8_t)~UVC_CONN_HOLDING; /* it takes nothing: hold nobody for it */
      srv->n_holding--;
      hold_loop(srv); /* held-back senders go on at the end of this phase */
    }
  }
  pace_congestion_timer(srv);
}

/* ------------------------------------------------------------------------------------------
 * Flood control: clients waiting for tokens
 * ---------------------------------------------------------------------------------------- */

static void on_flood_timer(uv_timer_t* t);

/* Arms the flood timer for the soonest of the waiting clients. */
static void arm_flood_timer(uvc_server_t* srv) {
  uint32_t i, soonest = UINT32_MAX, now = (uint32_t)uv_now(srv->loop);
  if (srv->n_flooded == 0) {
    uv_timer_stop(&srv->flood_timer);
    return;
  }
  for (i = 0; i < srv->n_flooded; i++) {
    uint32_t w = uvc_conn_token_wait(srv->flooded[i], now);
    if (w < soonest) soonest = w;
  }
  uv_timer_start(&srv->flood_timer, on_flood_timer, soonest > 0 ? soonest : 1, 0);
}

int uvc_server_flooded(uvc_server_t* srv, uvc_client_t* c) {
  if (push_client(&srv->flooded, &srv->n_flooded, &srv->cap_flooded, c) != 0) return -1;
  arm_flood_timer(srv);
  return 0;
}

void uvc_server_unflood(uvc_server_t* srv, uvc_client_t* c) {
  remove_client(srv->flooded, &srv->n_flooded, c);
}

/* Resumes every waiting client that has a token again. */
static void on_flood_timer(uv_timer_t* t) {
  uvc_server_t* srv = t->data;
  uint32_t i;
  for (i = srv->n_flooded; i-- > 0;) {
    uvc_client_t* c = srv->flooded[i];
    if (uvc_conn_token_wait(c, (uint32_t)uv_now(srv->loop)) > 0) continue;
    srv->flooded[i] = srv->flooded[--srv->n_flooded];
    uvc_conn_resume(c, UVC_PAUSE_FLOOD); /* may pause it again */
  }
  arm_flood_timer(srv);
}

int uvc_server_hold(uvc_server_t* srv, uvc_client_t* c) {
  hold_loop(srv); /* the end of the phase decides whether it goes on */
  return push_client(&srv->paused, &srv->n_paused, &srv->cap_paused, c);
}

void uvc_server_unhold(uvc_server_t* srv, uvc_client_t* c) {
  remove_client(srv->paused, &srv->n_paused, c);
}

/* No congested reader is draining: every held-back sender may go on, in the order they were
 * held. Their waiting lines may congest someone again and hold them back anew. */
static void release_held(uvc_server_t* srv) {
  uvc_client_t** held = srv->paused;
  uint32_t i, n = srv->n_paused, cap = srv->cap_paused;
  srv->paused = NULL;
  srv->n_paused = srv->cap_paused = 0;
  for (i = 0; i < n; i++)
    uvc_conn_resume(held[i], UVC_PAUSE_HELD);
  if (srv->paused == NULL) {
    srv->paused = held; /* keep the storage */
    srv->cap_paused = cap;
  } else {
    free(held);
  }
}

/* Announces scheduled leavings, flushes every dirty client, and lets held-back senders go
 * on once no congested reader is draining, until none of these is left to do. */
static void end_of_phase(uvc_server_t* srv) {
  for (;;) {
    uint32_t i;
    for (i = 0; i < srv->n_pending; i++)
      uvc_conn_finish_leave(srv->pending[i]);
    srv->n_pending = 0;
    for (i = 0; i < srv->n_dirty; i++) {
      uvc_client_t* c = srv->dirty[i];
      c->flags &= (uint8_t)~UVC_CONN_DIRTY;
      uvc_conn_flush(c);
    }
    srv->n_dirty = 0;
    if (srv->n_holding == 0 && srv->n_paused > 0) {
      release_held(srv);
      continue;
    }
    if (srv->n_pending == 0 && srv->n_dirty == 0) break;
  }
  if (srv->work_ref) {
    srv->work_ref = 0;
    uv_unref((uv_handle_t*)&srv->prepare);
  }
}

static void on_prepare(uv_prepare_t* h) {
  end_of_phase(h->data);
}
static void on_check(uv_check_t* h) {
  end_of_phase(h->data);
}

/* ------------------------------------------------------------------------------------------
 * Core hooks
 * ---------------------------------------------------------------------------------------- */

static void hook_deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  (void)ud;
  uvc_conn_send(uvc_conn_of(s), m);
}

static void hook_request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                               size_t len) {
  (void)ud;
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
  addr_key(&c->peer, key);
  if (memcmp(key, kMapped, 12) == 0)
    snprintf(out, outlen, "%u.%u.%u.%u", key[12], key[13], key[14], key[15]);
  else
    snprintf(out, outlen, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", key[0], key[1], key[2],
             key[3], key[4], key[5], key[6], key[7]);
}

static int hook_secure(void* ud, const uvc_session_t* s) {
  const uvc_client_t* c = UVC_CONTAINER_OF(s, uvc_client_t, sess);
  (void)ud;
  return (c->flags & UVC_CONN_TLS) != 0;
}

static void hook_observe(void* ud, const uvc_event_t* ev) {
  (void)ud;
  if (ev->type == UVC_EV_NICK)
    UVC_INFO("nick %.*s is now %s", (int)ev->old_len, ev->old_nick, ev->from->nick);
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
  loop->data = srv; /* how a client finds its server (UVC_CONN_SRV) */
  srv->cfg = *cfg;
  uvc_list_init(&srv->clients);
  srv->conn_log.what = "connection log lines";
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
  hooks.secure = hook_secure;
  if ((r = uvc_core_init(&srv->core, &cc, &hooks, srv)) != 0) return UV_ENOMEM;
  srv->core.sts_duration = (uint32_t)cfg->irc_sts_duration;
  srv->fd_budget = client_fd_budget(cfg);
  /* Backpressure starts at 64 KiB queued for a reader (or half --sendq, if smaller): enough
   * for big vectored writes, and a fast sender cannot park more than that in each of a
   * thousand live readers. */
  srv->soft_sendq = cfg->sendq / 2 < SOFT_SENDQ_MAX ? cfg->sendq / 2 : SOFT_SENDQ_MAX;
  /* A queued message costs its ring slot and its header besides its bytes: a stuck reader is
   * dropped at --sendq bytes or at one message per SENDQ_SLOT_BYTES of it, so that a stream
   * of tiny messages cannot make its memory many times --sendq. */
  srv->sendq_slots = (uint32_t)(cfg->sendq / SENDQ_SLOT_BYTES);
  if (srv->sendq_slots < srv->soft_sendq / 4) srv->sendq_slots = (uint32_t)(srv->soft_sendq / 4);
  if (srv->fd_budget > 0 && (cfg->max_clients == 0 || srv->fd_budget < cfg->max_clients))
    UVC_WARN(
        "the open-file limit leaves room for %u clients (--max-clients is %u); raise it "
        "with ulimit -n",
        (unsigned)srv->fd_budget, (unsigned)cfg->max_clients);
  uv_prepare_init(loop, &srv->prepare);
  uv_check_init(loop, &srv->check);
  uv_timer_init(loop, &srv->sweep);
  uv_timer_init(loop, &srv->stop_timer);
  uv_timer_init(loop, &srv->flood_timer);
  srv->flood_timer.data = srv;
  uv_timer_init(loop, &srv->congestion_timer);
  srv->congestion_timer.data = srv;
  uv_unref((uv_handle_t*)&srv->congestion_timer);
  uv_signal_init(loop, &srv->sig_int);
  uv_signal_init(loop, &srv->sig_term);
  uv_signal_init(loop, &srv->sig_hup);
  srv->sig_hup.data = srv;
  srv->prepare.data = srv->check.data = srv->sweep.data = srv->stop_timer.data = srv;
  srv->sig_int.data = srv->sig_term.data = srv;
#ifdef SIGBREAK
  uv_signal_init(loop, &srv->sig_break);
  srv->sig_break.data = srv;
#endif
  /* End-of-phase work runs while anything else keeps the loop alive, never alone. */
  uv_prepare_start(&srv->prepare, on_prepare);
  uv_check_start(&srv->check, on_check);
  uv_unref((uv_handle_t*)&srv->prepare);
  uv_unref((uv_handle_t*)&srv->check);
  return 0;
}

static void on_connection(uv_stream_t* server, int status) {
  uvc_listener_t* l = server->data;
  uvc_server_t* srv = l->srv;
  if (status < 0) {
    /* Out of descriptors (EMFILE) and the like: libuv has already turned the caller away
     * without spinning; say so now and then, not once per attempt. */
    uint64_t now = uv_now(srv->loop);
    srv->accept_errs++;
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
  uvc_conn_accept(server, l->adapter, l->tls);
}

static void on_listener_closed(uv_handle_t* h) {
  free(h->data);
}

static int listen_on(uvc_server_t* srv, const struct sockaddr* sa, const uvc_adapter_t* adapter,
                     int tls, char* bound, size_t boundlen) {
  uvc_listener_t* l;
  uvc_sockaddr_t name;
  int len = sizeof(name), r;
  if (srv->n_listeners == UVC_MAX_LISTENERS) return UV_EMFILE;
  l = calloc(1, sizeof(*l));
  if (l == NULL) return UV_ENOMEM;
  l->srv = srv;
  l->adapter = adapter;
  l->tls = tls;
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
  uvc_sockaddr_t sa;
  int r;
  if (host == NULL) {
    uv_ip6_addr("::", port, &sa.in6);
    r = listen_on(srv, &sa.sa, adapter, tls, bound, boundlen);
    if (r == UV_EAFNOSUPPORT || r == UV_EADDRNOTAVAIL || r == UV_EINVAL) {
      uv_ip4_addr("0.0.0.0", port, &sa.in4);
      r = listen_on(srv, &sa.sa, adapter, tls, bound, boundlen);
    }
    host = "*";
  } else if (uv_ip6_addr(host, port, &sa.in6) == 0 || uv_ip4_addr(host, port, &sa.in4) == 0) {
    r = listen_on(srv, &sa.sa, adapter, tls, bound, boundlen);
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
      r = listen_on(srv, req.addrinfo->ai_addr, adapter, tls, bound, boundlen);
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
  sync_clock(srv);
  prune_addrs(srv, now);
  while (n != &srv->clients) {
    uvc_client_t* c = UVC_CONTAINER_OF(n, uvc_client_t, node);
    n = n->next; /* c may leave the list below */
    if (c->state == UVC_CONN_OPEN) {
      if (check_timeouts(srv, c, (uint32_t)now)) continue;
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

/* Once every client is gone during shutdown: close the server's own handles. */
static void maybe_finish(uvc_server_t* srv) {
  if (!srv->stopping || srv->finished || srv->n_clients > 0) return;
  srv->finished = 1;
  uv_close((uv_handle_t*)&srv->prepare, NULL);
  uv_close((uv_handle_t*)&srv->check, NULL);
  uv_close((uv_handle_t*)&srv->sweep, NULL);
  uv_close((uv_handle_t*)&srv->stop_timer, NULL);
  uv_close((uv_handle_t*)&srv->flood_timer, NULL);
  uv_close((uv_handle_t*)&srv->congestion_timer, NULL);
  uv_close((uv_handle_t*)&srv->sig_int, NULL);
  uv_close((uv_handle_t*)&srv->sig_term, NULL);
  uv_close((uv_handle_t*)&srv->sig_hup, NULL);
#ifdef SIGBREAK
  uv_close((uv_handle_t*)&srv->sig_break, NULL);
#endif
}

void uvc_server_client_freed(uvc_server_t* srv) {
  srv->n_clients--;
  srv->n_closing--;
  maybe_finish(srv);
}

/* The drain deadline passed, or a second signal came: close every client now. */
static void force_close_all(uvc_server_t* srv) {
  uvc_list_t* n = srv->clients.next;
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
  int i;
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
  for (i = 0; i < srv->n_listeners; i++)
    uv_close((uv_handle_t*)&srv->listeners[i]->tcp, on_listener_closed);
  srv->n_listeners = 0;
  uvc_core_announce(&srv->core, kBye, sizeof(kBye) - 1);
  srv->core.stopping = 1;
  for (n = srv->clients.next; n != &srv->clients;) {
    uvc_client_t* c = UVC_CONTAINER_OF(n, uvc_client_t, node);
    n = n->next;
    uvc_conn_close(c, UVC_LEAVE_SHUTDOWN, "server shutting down", 20, 1);
  }
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
  srv->core.sts_duration = (uint32_t)cfg->irc_sts_duration;
  srv->soft_sendq = cfg->sendq / 2 < SOFT_SENDQ_MAX ? cfg->sendq / 2 : SOFT_SENDQ_MAX;
  srv->fd_budget = client_fd_budget(cfg);
  uvc_log_set_level(cfg->log_level);
}

int uvc_server_tls_init(uvc_server_t* srv, char* err, size_t errlen) {
#ifdef UVCHAT_WITH_TLS
  srv->tls = uvc_tls_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key, err, errlen);
  if (srv->tls == NULL) return -1;
  if ((srv->tbuf = malloc(UVC_READ_BUF)) == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
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
  while (srv->write_pool != NULL) {
    uv_write_t* req = srv->write_pool;
    srv->write_pool = req->data;
    free(req);
  }
  free(srv->dirty);
  free(srv->pending);
  free(srv->congested);
  free(srv->paused);
  free(srv->flooded);
  srv->flooded = NULL;
#ifdef UVCHAT_WITH_TLS
  uvc_tls_ctx_free(srv->tls);
  srv->tls = NULL;
#endif
  free(srv->tbuf);
  srv->tbuf = NULL;
  {
    uvc_addr_entry_t *e, *tmp;
    HASH_ITER(hh, srv->addrs, e, tmp) {
      HASH_DEL(srv->addrs, e);
      free(e);
    }
  }
  srv->dirty = srv->pending = srv->congested = srv->paused = NULL;
  uvc_core_free(&srv->core);
}
