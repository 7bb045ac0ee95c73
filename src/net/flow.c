/* flow.c: the lists of clients with work waiting (output to flush, leaves to announce,
 * congested readers, held-back and flooded senders), their timers, and the end-of-phase work.
 *
 * End-of-phase work: a fan-out only queues references and marks clients dirty; a client that
 * must go is only marked for leaving. A uv_prepare handle (before the loop blocks) and a
 * uv_check handle (right after I/O callbacks) then announce the leavings and flush every
 * dirty client once, so messages from many senders in one loop iteration reach each
 * recipient in one system call, and no list is changed while it is being walked.
 */
#include "uvchat/flow.h"

#include <stdlib.h>
#include <string.h>

#include "uvchat/conn.h"

#define WRITE_POOL_MAX   1024
#define SOFT_SENDQ_MAX   (64 * 1024)
#define SENDQ_SLOT_BYTES 64

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

uv_write_t* uvc_flow_get_write(uvc_flow_t* flow) {
  uv_write_t* req = flow->write_pool;
  if (req != NULL) {
    flow->write_pool = req->data;
    flow->n_write_pool--;
    return req;
  }
  return malloc(sizeof(*req));
}

void uvc_flow_put_write(uvc_flow_t* flow, uv_write_t* req) {
  if (flow->n_write_pool >= WRITE_POOL_MAX) {
    free(req);
    return;
  }
  req->data = flow->write_pool;
  flow->write_pool = req;
  flow->n_write_pool++;
}

char* uvc_flow_tbuf(uvc_flow_t* flow) {
  if (flow->tbuf == NULL) flow->tbuf = malloc(UVC_READ_BUF);
  return flow->tbuf;
}

/* ------------------------------------------------------------------------------------------
 * End-of-phase work
 * ---------------------------------------------------------------------------------------- */

/* Scheduled work keeps the loop alive until the end of the phase carries it out: a client
 * whose input is paused has no active I/O of its own, and prepare/check are unreferenced. */
static void hold_loop(uvc_flow_t* flow) {
  if (flow->work_ref) return;
  flow->work_ref = 1;
  uv_ref((uv_handle_t*)&flow->prepare);
}

void uvc_flow_mark_dirty(uvc_flow_t* flow, uvc_client_t* c) {
  if (c->flags & UVC_CONN_DIRTY) return;
  hold_loop(flow);
  if (push_client(&flow->dirty, &flow->n_dirty, &flow->cap_dirty, c) != 0) {
    flow->ops->flush(c); /* no room to defer: write now */
    return;
  }
  c->flags |= UVC_CONN_DIRTY;
}

void uvc_flow_schedule_leave(uvc_flow_t* flow, uvc_client_t* c) {
  if (c->flags & UVC_CONN_IN_PENDING) return;
  hold_loop(flow);
  if (push_client(&flow->pending, &flow->n_pending, &flow->cap_pending, c) != 0) {
    /* Out of memory: drop the client without ceremony rather than lose track of it. */
    c->flags &= (uint8_t)~UVC_CONN_GRACEFUL;
    flow->ops->finish_leave(c);
    return;
  }
  c->flags |= UVC_CONN_IN_PENDING;
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
static void pace_congestion_timer(uvc_flow_t* flow) {
  uint64_t want = flow->n_holding > 0 ? HOLD_TICK_MS : CONGESTION_TICK_MS;
  if (flow->n_congested == 0) {
    uv_timer_stop(&flow->congestion_timer);
  } else if (!uv_is_active((uv_handle_t*)&flow->congestion_timer) ||
             uv_timer_get_repeat(&flow->congestion_timer) != want) {
    uv_timer_start(&flow->congestion_timer, on_congestion_timer, want, want);
  }
}

void uvc_flow_congested(uvc_flow_t* flow, uvc_client_t* c) {
  if (c->flags & UVC_CONN_CONGESTED) return;
  if (push_client(&flow->congested, &flow->n_congested, &flow->cap_congested, c) != 0) return;
  c->flags |= UVC_CONN_CONGESTED | UVC_CONN_HOLDING; /* on probation */
  flow->n_holding++;
  c->t.stall.since = (uint32_t)uv_now(flow->loop);
  (void)flow->ops->made_progress(c); /* progress is counted from here */
  pace_congestion_timer(flow);
}

void uvc_flow_uncongested(uvc_flow_t* flow, uvc_client_t* c) {
  if (!(c->flags & UVC_CONN_CONGESTED)) return;
  remove_client(flow->congested, &flow->n_congested, c);
  if (c->flags & UVC_CONN_HOLDING) flow->n_holding--;
  c->flags &= (uint8_t) ~(UVC_CONN_CONGESTED | UVC_CONN_HOLDING);
  pace_congestion_timer(flow);
}

void uvc_flow_progress(uvc_flow_t* flow, uvc_client_t* c) {
  c->t.stall.since = (uint32_t)uv_now(flow->loop);
  if ((c->flags & (UVC_CONN_CONGESTED | UVC_CONN_HOLDING)) == UVC_CONN_CONGESTED) {
    c->flags |= UVC_CONN_HOLDING; /* it reads again: wait for it again */
    flow->n_holding++;
    pace_congestion_timer(flow);
  }
}

static void on_congestion_timer(uv_timer_t* t) {
  uvc_flow_t* flow = t->data;
  uint32_t now = (uint32_t)uv_now(flow->loop);
  uint32_t i;
  for (i = flow->n_congested; i-- > 0;) { /* backwards: a drop removes entry i */
    uvc_client_t* c = flow->congested[i];
    if (flow->ops->made_progress(c)) {
      uvc_flow_progress(flow, c);
    } else if (now - c->t.stall.since >= flow->cfg->stall_ms) {
      flow->ops->drop(c);
    } else if ((c->flags & UVC_CONN_HOLDING) && now - c->t.stall.since >= PROBATION_MS) {
      c->flags &= (uint8_t)~UVC_CONN_HOLDING; /* it takes nothing: hold nobody for it */
      flow->n_holding--;
      hold_loop(flow); /* held-back senders go on at the end of this phase */
    }
  }
  pace_congestion_timer(flow);
}

/* ------------------------------------------------------------------------------------------
 * Flood control: clients waiting for tokens
 * ---------------------------------------------------------------------------------------- */

static void on_flood_timer(uv_timer_t* t);

/* Arms the flood timer for the soonest of the waiting clients. */
static void arm_flood_timer(uvc_flow_t* flow) {
  uint32_t i, soonest = UINT32_MAX, now = (uint32_t)uv_now(flow->loop);
  if (flow->n_flooded == 0) {
    uv_timer_stop(&flow->flood_timer);
    return;
  }
  for (i = 0; i < flow->n_flooded; i++) {
    uint32_t w = flow->ops->token_wait(flow->flooded[i], now);
    if (w < soonest) soonest = w;
  }
  uv_timer_start(&flow->flood_timer, on_flood_timer, soonest > 0 ? soonest : 1, 0);
}

int uvc_flow_flooded(uvc_flow_t* flow, uvc_client_t* c) {
  if (push_client(&flow->flooded, &flow->n_flooded, &flow->cap_flooded, c) != 0) return -1;
  arm_flood_timer(flow);
  return 0;
}

void uvc_flow_unflood(uvc_flow_t* flow, uvc_client_t* c) {
  remove_client(flow->flooded, &flow->n_flooded, c);
}

/* Resumes every waiting client that has a token again. */
static void on_flood_timer(uv_timer_t* t) {
  uvc_flow_t* flow = t->data;
  uint32_t i;
  for (i = flow->n_flooded; i-- > 0;) {
    uvc_client_t* c = flow->flooded[i];
    if (flow->ops->token_wait(c, (uint32_t)uv_now(flow->loop)) > 0) continue;
    flow->flooded[i] = flow->flooded[--flow->n_flooded];
    flow->ops->resume(c, UVC_PAUSE_FLOOD); /* may pause it again */
  }
  arm_flood_timer(flow);
}

int uvc_flow_hold(uvc_flow_t* flow, uvc_client_t* c) {
  hold_loop(flow); /* the end of the phase decides whether it goes on */
  return push_client(&flow->paused, &flow->n_paused, &flow->cap_paused, c);
}

void uvc_flow_set_backlog(uvc_flow_t* flow, int full) {
  if (flow->backlog == (full != 0)) return;
  flow->backlog = (uint8_t)(full != 0);
  if (!full) hold_loop(flow); /* the held-back senders go on at the end of this phase */
}

void uvc_flow_unhold(uvc_flow_t* flow, uvc_client_t* c) {
  remove_client(flow->paused, &flow->n_paused, c);
}

/* No congested reader is draining: every held-back sender may go on, in the order they were
 * held. Their waiting lines may congest someone again and hold them back anew. */
static void release_held(uvc_flow_t* flow) {
  uvc_client_t** held = flow->paused;
  uint32_t i, n = flow->n_paused, cap = flow->cap_paused;
  flow->paused = NULL;
  flow->n_paused = flow->cap_paused = 0;
  for (i = 0; i < n; i++)
    flow->ops->resume(held[i], UVC_PAUSE_HELD);
  if (flow->paused == NULL) {
    flow->paused = held; /* keep the storage */
    flow->cap_paused = cap;
  } else {
    free(held);
  }
}

/* Announces scheduled leavings, flushes every dirty client, and lets held-back senders go
 * on once no congested reader is draining, until none of these is left to do. */
static void end_of_phase(uvc_flow_t* flow) {
  for (;;) {
    uint32_t i;
    for (i = 0; i < flow->n_pending; i++)
      flow->ops->finish_leave(flow->pending[i]);
    flow->n_pending = 0;
    for (i = 0; i < flow->n_dirty; i++) {
      uvc_client_t* c = flow->dirty[i];
      c->flags &= (uint8_t)~UVC_CONN_DIRTY;
      flow->ops->flush(c);
    }
    flow->n_dirty = 0;
    if (flow->n_holding == 0 && !flow->backlog && flow->n_paused > 0) {
      release_held(flow);
      continue;
    }
    if (flow->n_pending == 0 && flow->n_dirty == 0) break;
  }
  if (flow->work_ref) {
    flow->work_ref = 0;
    uv_unref((uv_handle_t*)&flow->prepare);
  }
}

static void on_prepare(uv_prepare_t* h) {
  end_of_phase(h->data);
}
static void on_check(uv_check_t* h) {
  end_of_phase(h->data);
}

/* ------------------------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------------------------- */

void uvc_flow_apply(uvc_flow_t* flow, const uvc_config_t* cfg) {
  /* Backpressure starts at 64 KiB queued for a reader (or half --sendq, if smaller): enough
   * for big vectored writes, and a fast sender cannot park more than that in each of a
   * thousand live readers. */
  flow->cfg = cfg;
  flow->soft_sendq = cfg->sendq / 2 < SOFT_SENDQ_MAX ? cfg->sendq / 2 : SOFT_SENDQ_MAX;
  /* A queued message costs its ring slot and its header besides its bytes: a stuck reader is
   * dropped at --sendq bytes or at one message per SENDQ_SLOT_BYTES of it, so that a stream
   * of tiny messages cannot make its memory many times --sendq. */
  flow->sendq_slots = (uint32_t)(cfg->sendq / SENDQ_SLOT_BYTES);
  if (flow->sendq_slots < flow->soft_sendq / 4)
    flow->sendq_slots = (uint32_t)(flow->soft_sendq / 4);
}

void uvc_flow_init(uvc_flow_t* flow, uv_loop_t* loop, const uvc_flow_ops_t* ops,
                   const uvc_config_t* cfg, uvc_core_t* core) {
  memset(flow, 0, sizeof(*flow));
  flow->loop = loop;
  loop->data = flow; /* how a client finds its flow (UVC_CONN_FLOW) */
  flow->ops = ops;
  flow->core = core;
  flow->conn_log.what = "connection log lines";
  uvc_flow_apply(flow, cfg);
  uv_prepare_init(loop, &flow->prepare);
  uv_check_init(loop, &flow->check);
  flow->prepare.data = flow->check.data = flow;
  uv_timer_init(loop, &flow->flood_timer);
  flow->flood_timer.data = flow;
  uv_timer_init(loop, &flow->congestion_timer);
  flow->congestion_timer.data = flow;
  uv_unref((uv_handle_t*)&flow->congestion_timer);
  /* End-of-phase work runs while anything else keeps the loop alive, never alone. */
  uv_prepare_start(&flow->prepare, on_prepare);
  uv_check_start(&flow->check, on_check);
  uv_unref((uv_handle_t*)&flow->prepare);
  uv_unref((uv_handle_t*)&flow->check);
}

void uvc_flow_close(uvc_flow_t* flow) {
  uv_close((uv_handle_t*)&flow->prepare, NULL);
  uv_close((uv_handle_t*)&flow->check, NULL);
  uv_close((uv_handle_t*)&flow->flood_timer, NULL);
  uv_close((uv_handle_t*)&flow->congestion_timer, NULL);
}

void uvc_flow_free(uvc_flow_t* flow) {
  while (flow->write_pool != NULL) {
    uv_write_t* req = flow->write_pool;
    flow->write_pool = req->data;
    free(req);
  }
  free(flow->dirty);
  free(flow->pending);
  free(flow->congested);
  free(flow->paused);
  free(flow->flooded);
  free(flow->tbuf);
  flow->dirty = flow->pending = flow->congested = flow->paused = flow->flooded = NULL;
  flow->tbuf = NULL;
}
