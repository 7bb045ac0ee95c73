/* flow.h: the one owner of flow state: which clients have output to flush, which are leaving,
 * which readers are congested, which senders are held back or wait for flood-control tokens,
 * the timers that go with them, and the end-of-phase work that carries them out.
 *
 * One uvc_flow_t per loop; it is the loop's data pointer, so a client finds it from its handle
 * (UVC_CONN_FLOW). It also holds what every connection of the loop shares: the settings, the
 * core, the one read buffer, the iovec array and the write-request pool.
 *
 * The flow module knows clients only through their flags and a few fields; what it does to a
 * client (flush it, carry out its leave, resume it, sample its progress) it does through the
 * table of operations the connection layer gives it (uvc_flow_ops_t), so that it calls
 * nobody by name and nobody calls in a circle: server -> conn -> flow, server -> flow.
 */
#ifndef UVCHAT_FLOW_H
#define UVCHAT_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/config.h"
#include "uvchat/core.h"
#include "uvchat/log.h"
#include "uvchat/metrics.h"

#define UVC_READ_BUF (64 * 1024)
#define UVC_MAX_IOV  1024

typedef struct uvc_client uvc_client_t;

/* What the flow module asks of a client (given by the connection layer). */
typedef struct uvc_flow_ops {
  void (*flush)(uvc_client_t* c);        /* write what is queued */
  void (*finish_leave)(uvc_client_t* c); /* carry out a scheduled close */
  void (*resume)(uvc_client_t* c, unsigned reason);
  int (*made_progress)(uvc_client_t* c);                 /* took bytes since the last call */
  uint32_t (*token_wait)(uvc_client_t* c, uint32_t now); /* ms until a flood token */
  void (*drop)(uvc_client_t* c);                         /* dropped: its send queue stalled */
} uvc_flow_ops_t;

typedef struct uvc_flow {
  uv_loop_t* loop;
  const uvc_flow_ops_t* ops;
  const uvc_config_t* cfg; /* the server's settings (the server owns them) */
  uvc_core_t* core;
  uvc_client_t* current;    /* the client whose input is being handled, if any */
  uvc_log_limit_t conn_log; /* connect, disconnect and probe lines: a storm cannot flood */
  uvc_metrics_t metrics;    /* the counters (metrics.h) */
  /* A client's memory was freed (the server uncounts it). */
  void (*freed)(void* ud, uvc_client_t* c);
  uint32_t n_closing; /* clients closed already (uv_close: their socket is gone), not yet freed */
  void* ud;

  uvc_client_t** dirty; /* clients with output to flush at the end of this phase */
  uint32_t n_dirty, cap_dirty;
  uvc_client_t** pending; /* clients whose leaving is to be carried out */
  uint32_t n_pending, cap_pending;
  uvc_client_t** congested; /* clients over soft_sendq waiting */
  uint32_t n_congested, cap_congested;
  uint32_t n_holding;          /* congested clients that are draining: senders wait for them */
  uint8_t backlog;             /* something past the readers (the cluster) cannot take more:
                                  held-back senders wait for it too (uvc_flow_set_backlog) */
  uv_timer_t congestion_timer; /* while anyone is congested: samples their write progress */
  uvc_client_t** paused;       /* senders held back (UVC_PAUSE_HELD) until nobody is draining */
  uint32_t n_paused, cap_paused;
  uvc_client_t** flooded; /* clients waiting for flood-control tokens */
  uint32_t n_flooded, cap_flooded;
  uv_timer_t flood_timer; /* fires when the next flooded client has a token again */
  uint64_t soft_sendq;    /* queued bytes that make a reader congested (backpressure) */
  uint32_t sendq_slots;   /* queued messages past which a congested reader is dropped */

  uv_prepare_t prepare; /* the end-of-phase work, before the loop blocks for I/O */
  uv_check_t check;     /* ... and right after the I/O callbacks */
  int work_ref;         /* the prepare handle is referenced: end-of-phase work is waiting */

  uv_write_t* write_pool; /* spare write requests, linked through their data pointer */
  uint32_t n_write_pool;

  char* tbuf; /* plaintext decoded from one read by a transport (allocated on first need) */
  int rbuf_busy;
  char rbuf[UVC_READ_BUF];
  uv_buf_t iov[UVC_MAX_IOV];
} uvc_flow_t;

/* Sets up flow on loop (and makes it the loop's data). cfg and core must outlive it. */
void uvc_flow_init(uvc_flow_t* flow, uv_loop_t* loop, const uvc_flow_ops_t* ops,
                   const uvc_config_t* cfg, uvc_core_t* core);
/* The limits derived from cfg->sendq (again after a reload). */
void uvc_flow_apply(uvc_flow_t* flow, const uvc_config_t* cfg);
/* Closes the flow's handles (at the very end of a shutdown). */
void uvc_flow_close(uvc_flow_t* flow);
/* Frees what the flow allocated; after uv_run returned. */
void uvc_flow_free(uvc_flow_t* flow);

/* Queue c for an end-of-phase flush / leave. */
void uvc_flow_mark_dirty(uvc_flow_t* flow, uvc_client_t* c);
void uvc_flow_schedule_leave(uvc_flow_t* flow, uvc_client_t* c);
/* c passed soft_sendq waiting / fell back under half of it, or left. A newly congested client
 * holds its senders back while it shows progress (and for a short probation before the
 * first). */
void uvc_flow_congested(uvc_flow_t* flow, uvc_client_t* c);
void uvc_flow_uncongested(uvc_flow_t* flow, uvc_client_t* c);
/* A congested client took bytes: it is draining, and holds its senders back. */
void uvc_flow_progress(uvc_flow_t* flow, uvc_client_t* c);
/* c's input is held back (UVC_PAUSE_HELD) until no congested client is draining. Returns 0,
 * or -1 when out of memory (then c must not be paused). */
int uvc_flow_hold(uvc_flow_t* flow, uvc_client_t* c);
/* What lies past the local readers (the cluster's Redis) cannot take more (full), or can
 * again: while full, held-back senders stay held as if a reader were draining. */
void uvc_flow_set_backlog(uvc_flow_t* flow, int full);
void uvc_flow_unhold(uvc_flow_t* flow, uvc_client_t* c);
/* c stopped reading for flood control / was closed while waiting. flooded returns 0, or -1
 * when out of memory (then c must not be paused). */
int uvc_flow_flooded(uvc_flow_t* flow, uvc_client_t* c);
void uvc_flow_unflood(uvc_flow_t* flow, uvc_client_t* c);
/* Write requests from the pool. */
uv_write_t* uvc_flow_get_write(uvc_flow_t* flow);
void uvc_flow_put_write(uvc_flow_t* flow, uv_write_t* req);
/* The scratch buffer for decoded input (UVC_READ_BUF bytes), or NULL when out of memory. */
char* uvc_flow_tbuf(uvc_flow_t* flow);

#endif
