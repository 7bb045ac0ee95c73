/* server.h: the loop's owner of listeners, connected clients, timers, signals and shutdown.
 *
 * One uvc_server_t per loop. It holds the listeners, the client list and the admission
 * limits, and the loop's flow state (flow.h: end-of-phase lists, backpressure, flood control).
 */
#ifndef UVCHAT_SERVER_H
#define UVCHAT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/config.h"
#include "uvchat/conn.h"
#include "uvchat/core.h"
#include "uvchat/flow.h"
#include "uvchat/list.h"
#include "uvchat/log.h"
#include "uvchat/transport.h"
#include "uvchat/web.h"

#define UVC_MAX_LISTENERS 8

typedef struct uvc_server uvc_server_t;

typedef struct uvc_listener {
  uv_tcp_t tcp;
  uvc_server_t* srv;
  const uvc_adapter_t* adapter;
  uvc_transport_maker_t chain[UVC_MAX_CHAIN]; /* the transports of its clients, socket first */
  int n_chain;
  int web;       /* HTTP: stays open while the server drains, so that /healthz says 503 */
  char addr[64]; /* "[::]:8080" */
} uvc_listener_t;

struct uvc_tls_ctx;

struct uvc_server {
  uvc_flow_t flow; /* first: the loop's data pointer is the flow (see flow.h) */
  uv_loop_t* loop;
  int64_t clock_offset_ms; /* wall clock minus uv_now (see hook_wallclock_ms) */
  uvc_config_t cfg;
  uvc_core_t core;
  uvc_listener_t* listeners[UVC_MAX_LISTENERS];
  int n_listeners;

  uvc_list_t clients; /* every connection not yet being closed */
  uint32_t n_clients; /* connections whose memory is not yet freed */

  struct uvc_addr_entry* addrs; /* uthash: connections per address, for --max-per-addr */
  uint64_t fd_budget;           /* clients the open-file limit leaves room for (0: no limit) */
  uint64_t full_logged_at;      /* when "server full" was last logged */
  uint32_t full_refused;        /* refusals since then */
  uint64_t accept_err_at;       /* when an accept error was last logged */
  uint32_t accept_errs;         /* accept errors since then */

  uv_timer_t sweep; /* once a second: deadlines, idle memory */
  uv_timer_t stop_timer;
  uv_signal_t sig_int;
  uv_signal_t sig_term;
  uv_signal_t sig_hup;                          /* POSIX: reloads the settings (on_reload) */
  void (*on_reload)(void* ud, const char* why); /* reloads the settings, or NULL */
  void* reload_ud;
  struct uvc_tls_ctx* tls; /* for the TLS listeners, or NULL */
#ifdef SIGBREAK
  uv_signal_t sig_break;
#endif

  uvc_web_ctx_t web;           /* what the web listeners' transports need */
  uint64_t started_ms;         /* loop time at start (uptime) */
  struct uvc_cluster* cluster; /* the cluster (--cluster), or NULL; main opens and frees it */
  uint64_t sweep_due;          /* loop time the sweep should run next (event-loop lag) */

  int stopping;
  int finished;
  int exit_code;
};

/* Sets up the server's state and handles on loop. cfg is copied. */
int uvc_server_init(uvc_server_t* srv, uv_loop_t* loop, const uvc_config_t* cfg);

/* Opens a listener for adapter on host:port (host NULL: dual-stack "::", or "0.0.0.0"
 * where IPv6 is missing), in plaintext or over TLS (srv->tls must be set up). On success
 * writes the bound address to bound; on failure returns a libuv error and writes a message
 * to err. */
int uvc_server_listen(uvc_server_t* srv, const char* host, int port, const uvc_adapter_t* adapter,
                      int tls, char* bound, size_t boundlen, char* err, size_t errlen);
/* Opens a web listener (HTTP, the web client, /ws, /healthz, /metrics), over TLS with tls. */
int uvc_server_listen_web(uvc_server_t* srv, const char* host, int port, int tls, char* bound,
                          size_t boundlen, char* err, size_t errlen);
/* The same for a listener whose clients' bytes go through the n transports chain makes. */
int uvc_server_listen_chain(uvc_server_t* srv, const char* host, int port,
                            const uvc_adapter_t* adapter, const uvc_transport_maker_t* chain, int n,
                            char* bound, size_t boundlen, char* err, size_t errlen);

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

#endif
