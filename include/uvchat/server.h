/* server.h: the loop's owner of listeners, connected clients, timers, signals and shutdown.
 *
 * One uvc_server_t per loop. It holds the only read buffer, the client list, the list of
 * clients with output to flush and the list of clients whose closing is scheduled. Output
 * is flushed and closings are carried out at the end of each loop phase that can produce
 * them (a uv_prepare and a uv_check handle), never from inside a fan-out.
 */
#ifndef UVCHAT_SERVER_H
#define UVCHAT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/config.h"
#include "uvchat/core.h"
#include "uvchat/list.h"
#include "uvchat/log.h"

#define UVC_MAX_LISTENERS 8
#define UVC_READ_BUF      (64 * 1024)
#define UVC_MAX_IOV       1024

typedef struct uvc_server uvc_server_t;
typedef struct uvc_client uvc_client_t;

typedef struct uvc_listener {
  uv_tcp_t tcp;
  uvc_server_t* srv;
  const uvc_adapter_t* adapter;
  int tls;       /* clients speak TLS (srv->tls) */
  char addr[64]; /* "[::]:8080" */
} uvc_listener_t;

struct uvc_tls_ctx;

struct uvc_server {
  uv_loop_t* loop;
  int64_t clock_offset_ms; /* wall clock minus uv_now (see hook_wallclock_ms) */
  uvc_config_t cfg;
  uvc_core_t core;
  uvc_listener_t* listeners[UVC_MAX_LISTENERS];
  int n_listeners;

  uvc_list_t clients; /* every connection not yet being closed */
  uint32_t n_clients; /* connections whose memory is not yet freed */
  uint32_t n_closing; /* of those, the ones closed already (uv_close: their socket is gone) */

  uvc_client_t** dirty; /* clients with output to flush at the end of this phase */
  uint32_t n_dirty, cap_dirty;
  uvc_client_t** pending; /* clients whose leaving is to be carried out */
  uint32_t n_pending, cap_pending;
  uvc_client_t** congested; /* clients over soft_sendq waiting */
  uint32_t n_congested, cap_congested;
  uint32_t n_holding;          /* congested clients that are draining: senders wait for them */
  uv_timer_t congestion_timer; /* while anyone is congested: samples their write progress */
  uvc_client_t** paused;       /* senders held back (UVC_PAUSE_HELD) until nobody is draining */
  uint32_t n_paused, cap_paused;
  uvc_client_t** flooded; /* clients waiting for flood-control tokens */
  uint32_t n_flooded, cap_flooded;
  uv_timer_t flood_timer;       /* fires when the next flooded client has a token again */
  struct uvc_addr_entry* addrs; /* uthash: connections per address, for --max-per-addr */
  uint64_t fd_budget;           /* clients the open-file limit leaves room for (0: no limit) */
  uint64_t soft_sendq;          /* queued bytes that make a reader congested (backpressure) */
  uint32_t sendq_slots;         /* queued messages past which a congested reader is dropped */
  uint64_t full_logged_at;      /* when "server full" was last logged */
  uint32_t full_refused;        /* refusals since then */
  uvc_log_limit_t conn_log;     /* connect, disconnect and probe lines: a storm cannot flood */
  uint64_t accept_err_at;       /* when an accept error was last logged */
  uint32_t accept_errs;         /* accept errors since then */
  uvc_client_t* current;        /* the client whose input is being handled, if any */

  uv_prepare_t prepare; /* the end-of-phase work, before the loop blocks for I/O */
  uv_check_t check;     /* ... and right after the I/O callbacks */
  uv_timer_t sweep;     /* once a second: deadlines, idle memory */
  uv_timer_t stop_timer;
  uv_signal_t sig_int;
  uv_signal_t sig_term;
  uv_signal_t sig_hup;                          /* POSIX: reloads the settings (on_reload) */
  void (*on_reload)(void* ud, const char* why); /* reloads the settings, or NULL */
  void* reload_ud;
  struct uvc_tls_ctx* tls; /* for the TLS listeners, or NULL */
  char* tbuf;              /* plaintext decrypted from one TLS read (TLS only) */
#ifdef SIGBREAK
  uv_signal_t sig_break;
#endif

  uv_write_t* write_pool; /* spare write requests, linked through their data pointer */
  uint32_t n_write_pool;

  int work_ref; /* the prepare handle is referenced: end-of-phase work is waiting */
  int stopping;
  int finished;
  int exit_code;
  int rbuf_busy;
  char rbuf[UVC_READ_BUF];
  uv_buf_t iov[UVC_MAX_IOV];
};

/* Sets up the server's state and handles on loop. cfg is copied. */
int uvc_server_init(uvc_server_t* srv, uv_loop_t* loop, const uvc_config_t* cfg);

/* Opens a listener for adapter on host:port (host NULL: dual-stack "::", or "0.0.0.0"
 * where IPv6 is missing), in plaintext or over TLS (srv->tls must be set up). On success
 * writes the bound address to bound; on failure returns a libuv error and writes a message
 * to err. */
int uvc_server_listen(uvc_server_t* srv, const char* host, int port, const uvc_adapter_t* adapter,
                      int tls, char* bound, size_t boundlen, char* err, size_t errlen);

/* Loads cfg.tls_cert and cfg.tls_key for the TLS listeners. Returns 0, or -1 with a message
 * in err (also when TLS is not compiled in). */
int uvc_server_tls_init(uvc_server_t* srv, char* err, size_t errlen);
/* Loads a new certificate and key for the TLS listeners: new connections use them, open
 * ones keep theirs. Returns 0, or -1 with a message in err (the old ones stay). */
int uvc_server_reload_tls(uvc_server_t* srv, const char* cert, const char* key, char* err,
                          size_t errlen);
/* Runs with cfg from now on (copied; its strings must outlive the server or the next call):
 * the limits, the server password, the announce limit and the log level take effect at
 * once, for everyone connected. Listeners, the data directory, the default room and
 * --max-line stay as they were at start. */
void uvc_server_apply(uvc_server_t* srv, const uvc_config_t* cfg);

/* Starts signals (SIGINT, SIGTERM, Ctrl+C; SIGHUP calls on_reload on POSIX) and timers. */
int uvc_server_start(uvc_server_t* srv);

/* Stops accepting, tells everyone, lets output drain (up to cfg.shutdown_ms), closes all
 * handles so that uv_run returns. A second call closes everything at once. */
void uvc_server_stop(uvc_server_t* srv);

/* Frees what the server allocated; call after uv_run has returned. */
void uvc_server_free(uvc_server_t* srv);

/* For conn.c: queue c for an end-of-phase flush / leave. */
void uvc_server_mark_dirty(uvc_server_t* srv, uvc_client_t* c);
void uvc_server_schedule_leave(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: c passed soft_sendq waiting / fell back under half of it, or left. A newly
 * congested client holds its senders back while it shows progress (and for a short
 * probation before the first). */
void uvc_server_congested(uvc_server_t* srv, uvc_client_t* c);
void uvc_server_uncongested(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: a congested client took bytes: it is draining, and holds its senders back. */
void uvc_server_progress(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: c's input is held back (UVC_PAUSE_HELD) until no congested client is
 * draining. Returns 0, or -1 when out of memory (then c must not be paused). */
int uvc_server_hold(uvc_server_t* srv, uvc_client_t* c);
void uvc_server_unhold(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: c stopped reading for flood control / was closed while waiting. flooded
 * returns 0, or -1 when out of memory (then c must not be paused). */
int uvc_server_flooded(uvc_server_t* srv, uvc_client_t* c);
void uvc_server_unflood(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: counts a new connection against the limits. Returns NULL when it may stay,
 * or why it is refused (and then it is not counted). */
const char* uvc_server_admit(uvc_server_t* srv, uvc_client_t* c, char* why, size_t whylen);
/* For conn.c: the connection is gone: uncount it. */
void uvc_server_discharge(uvc_server_t* srv, uvc_client_t* c);
/* For conn.c: a client's memory was freed. */
void uvc_server_client_freed(uvc_server_t* srv);
/* For conn.c: write requests from the pool. */
uv_write_t* uvc_server_get_write(uvc_server_t* srv);
void uvc_server_put_write(uvc_server_t* srv, uv_write_t* req);

/* Formats a socket address as "1.2.3.4:5" or "[::1]:5" (IPv4-mapped IPv6 as IPv4). */
void uvc_format_addr(const struct sockaddr* sa, char* out, size_t outlen);
/* A client's compact address, from a socket address / formatted like uvc_format_addr. */
struct uvc_peer;
void uvc_peer_from(struct uvc_peer* p, const struct sockaddr* sa);
void uvc_format_peer(const struct uvc_peer* p, char* out, size_t outlen);

#endif
