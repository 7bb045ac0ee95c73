/* history.h: the history writer: events on their way to the store, in batches.
 *
 * The core's fan-out must never wait for a disk, so an event to remember is copied into a
 * buffer on the loop (uvc_history_add: one allocation, no system call) and written with
 * others in one transaction on the thread pool: when batch_max events are waiting, or
 * flush_ms after the first of them arrived, whichever comes first. One batch is in flight
 * at a time; what arrives meanwhile waits for the next.
 *
 * What a crash loses: a clean stop (uvc_history_close) writes everything. A kill -9 loses
 * what was waiting (at most flush_ms of events, or batch_max of them) and the batch in
 * flight, if its transaction had not committed: at most two batches, in practice the last
 * flush_ms (100 ms by default) of chat.
 *
 * Reads go through the writer too, so that a read sees every event added before it: a read
 * made while events wait makes them go out at once and runs when they are committed.
 *
 * Every function runs on the loop thread; callbacks come on it. Only compiled with
 * UVCHAT_WITH_ACCOUNTS (it needs the store).
 */
#ifndef UVCHAT_HISTORY_H
#define UVCHAT_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/store.h"

#define UVC_HISTORY_BATCH    500   /* events waiting that make a batch go at once */
#define UVC_HISTORY_FLUSH_MS 100   /* the longest an event waits for its batch */
#define UVC_HISTORY_BUFFER   50000 /* events waiting at most; past it new events are dropped */

typedef struct uvc_history uvc_history_t;

typedef struct uvc_history_limits {
  unsigned batch_max;       /* 0: UVC_HISTORY_BATCH */
  unsigned flush_ms;        /* 0: UVC_HISTORY_FLUSH_MS */
  uvc_hist_bounds_t bounds; /* applied by the store as batches arrive */
} uvc_history_limits_t;

typedef struct uvc_history_stats {
  uint64_t added;   /* events accepted */
  uint64_t written; /* events committed */
  uint64_t batches; /* transactions committed */
  uint64_t dropped; /* events refused (buffer full) or lost (a batch that failed) */
} uvc_history_stats_t;

/* A writer for store on loop (neither owned). Returns 0 or UVC_STORE_NOMEM. */
int uvc_history_open(uvc_history_t** out, uv_loop_t* loop, uvc_store_t* store,
                     const uvc_history_limits_t* limits);
void uvc_history_set_limits(uvc_history_t* h, const uvc_history_limits_t* limits);

/* Copies rec into the next batch. Returns 0, UVC_STORE_INVALID (a record without seq,
 * owner, target or nick), UVC_STORE_NOMEM, or UVC_STORE_BUSY when the buffer is full (the
 * event is dropped and counted). */
int uvc_history_add(uvc_history_t* h, const uvc_hist_rec_t* rec);

/* Writes what is waiting now, without waiting for the timer. */
void uvc_history_flush(uvc_history_t* h);

/* uvc_store_hist_fetch, uvc_store_hist_targets and uvc_store_hist_delete_owner, run once
 * every event added before the call is committed. Same arguments and answers. */
int uvc_history_fetch(uvc_history_t* h, const uvc_hist_query_t* q, uvc_store_hist_cb cb,
                      void* data);
int uvc_history_targets(uvc_history_t* h, const char* owner, const char* const* rooms,
                        size_t n_rooms, int64_t from_ms, int64_t to_ms, unsigned limit,
                        uvc_store_targets_cb cb, void* data);
int uvc_history_delete_owner(uvc_history_t* h, const char* owner, uvc_store_cb cb, void* data);

/* uvc_store_hist_prune at once (deleting old events needs no order). */
int uvc_history_prune(uvc_history_t* h, const uvc_hist_bounds_t* bounds, uvc_store_cb cb);

void uvc_history_stats(const uvc_history_t* h, uvc_history_stats_t* out);

/* Sends everything waiting (events and reads) to the store and frees the writer once the
 * last of it has called back; run the loop (or let uvc_store_close's own wait do it) until
 * then. Call before closing the store. NULL is ignored. */
void uvc_history_close(uvc_history_t* h);

/* Whether h (not yet closed) has nothing waiting and nothing in flight. */
int uvc_history_idle(const uvc_history_t* h);

#endif
