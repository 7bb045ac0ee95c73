/* history.c: the history writer: a buffer of events on the loop, written to the store in
 * batches on the thread pool, and reads ordered after the writes before them.
 *
 * Sequence numbers keep reads honest: every event added gets the next number (added); a
 * batch carries the number of its last event, and when it has committed, done becomes that
 * number. A read waits, on the waiters list, until done reaches the number that was current
 * when it was asked, and a waiting read makes the events it waits for go out at once.
 */
#include "uvchat/history.h"

#include <stdlib.h>
#include <string.h>

#include "uvchat/log.h"

typedef enum { W_FETCH, W_TARGETS, W_DELETE } wait_kind_t;

/* A read (or delete) waiting for the events added before it to be committed. */
typedef struct waiter {
  struct waiter* next;
  uint64_t need; /* h->done must reach this */
  wait_kind_t kind;
  uvc_hist_query_t q; /* strings in strs */
  const char** rooms; /* targets: into strs */
  size_t n_rooms;
  int64_t from_ms, to_ms;
  unsigned limit;
  uvc_store_hist_cb fetch_cb;
  uvc_store_targets_cb targets_cb;
  uvc_store_cb cb;
  void* data;
  char* strs;
} waiter_t;

/* One batch on its way to the store. */
typedef struct batch {
  uvc_history_t* h;
  uint64_t last; /* the sequence number of its last event */
  size_t n;
} batch_t;

struct uvc_history {
  uv_loop_t* loop;
  uvc_store_t* store;
  uvc_history_limits_t limits;
  uv_timer_t* timer;         /* flush_ms after the first waiting event; closed by close */
  uvc_hist_batch_t* batch;   /* the waiting events (NULL: none yet) */
  size_t n_buf;              /* how many */
  size_t last_n, last_bytes; /* the size of the last batch: the next one starts that big */
  waiter_t* waiters;         /* oldest first */
  waiter_t** waiters_tail;
  uint64_t added, done;
  unsigned in_flight; /* batches the store has not answered */
  uint8_t closing;
  uint8_t warned; /* the buffer-full warning was logged */
  uvc_history_stats_t stats;
};

static void flush_now(uvc_history_t* h);
static void maybe_free(uvc_history_t* h);

static void on_timer_closed(uv_handle_t* t) {
  free(t);
}

static void on_timer(uv_timer_t* t) {
  uvc_history_t* h = t->data;
  if (h->in_flight == 0) flush_now(h); /* else at once when the batch in flight returns */
}

int uvc_history_open(uvc_history_t** out, uv_loop_t* loop, uvc_store_t* store,
                     const uvc_history_limits_t* limits) {
  uvc_history_t* h = calloc(1, sizeof(*h));
  *out = NULL;
  if (h == NULL) return UVC_STORE_NOMEM;
  h->loop = loop;
  h->store = store;
  h->waiters_tail = &h->waiters;
  if ((h->timer = malloc(sizeof(*h->timer))) == NULL || uv_timer_init(loop, h->timer) != 0) {
    free(h->timer);
    free(h);
    return UVC_STORE_NOMEM;
  }
  h->timer->data = h;
  uvc_history_set_limits(h, limits);
  *out = h;
  return 0;
}

void uvc_history_set_limits(uvc_history_t* h, const uvc_history_limits_t* limits) {
  if (limits != NULL) h->limits = *limits;
  if (h->limits.batch_max == 0) h->limits.batch_max = UVC_HISTORY_BATCH;
  if (h->limits.flush_ms == 0) h->limits.flush_ms = UVC_HISTORY_FLUSH_MS;
}

/* Hands w to the store. Returns 0 (its callback will run) or the store's refusal (it will
 * not). */
static int start_waiter(uvc_history_t* h, const waiter_t* w) {
  if (w->kind == W_FETCH)
    return uvc_store_hist_fetch(h->store, h->loop, &w->q, w->fetch_cb, w->data);
  if (w->kind == W_TARGETS)
    return uvc_store_hist_targets(h->store, h->loop, w->q.owner, w->rooms, w->n_rooms, w->from_ms,
                                  w->to_ms, w->limit, w->targets_cb, w->data);
  return uvc_store_hist_delete_owner(h->store, h->loop, w->q.owner, w->cb, w->data);
}

static void free_waiter(waiter_t* w) {
  free(w->strs);
  free(w->rooms);
  free(w);
}

/* Hands the waiters whose events are committed to the store; one the store refuses at once
 * (Redis down, say) is told through its callback. */
static void run_waiters(uvc_history_t* h) {
  while (h->waiters != NULL && h->waiters->need <= h->done) {
    waiter_t* w = h->waiters;
    int rc;
    h->waiters = w->next;
    if (h->waiters == NULL) h->waiters_tail = &h->waiters;
    if ((rc = start_waiter(h, w)) != 0) {
      if (w->kind == W_FETCH)
        w->fetch_cb(w->data, rc, NULL, 0);
      else if (w->kind == W_TARGETS)
        w->targets_cb(w->data, rc, NULL, 0);
      else if (w->cb != NULL)
        w->cb(w->data, rc);
    }
    free_waiter(w);
  }
}

static void on_batch(void* data, int status) {
  batch_t* b = data;
  uvc_history_t* h = b->h;
  h->in_flight--;
  if (status == 0) {
    h->stats.written += b->n;
    h->stats.batches++;
    UVC_DEBUG("history: a batch of %zu events written (%llu in all)", b->n,
              (unsigned long long)h->stats.written);
  } else {
    h->stats.dropped += b->n;
    UVC_WARN("history: a batch of %zu events was not written: %s", b->n,
             uvc_store_strerror(status));
  }
  if (b->last > h->done) h->done = b->last;
  free(b);
  run_waiters(h);
  /* more waiting: a full batch, a read waiting for it, or its timer already past */
  if (h->n_buf > 0 && (h->closing || h->n_buf >= h->limits.batch_max || h->waiters != NULL ||
                       !uv_is_active((uv_handle_t*)h->timer)))
    flush_now(h);
  maybe_free(h);
}

/* Sends every waiting event to the store as one batch. */
static void flush_now(uvc_history_t* h) {
  batch_t* b;
  size_t n = h->n_buf;
  int rc;
  if (h->timer != NULL) uv_timer_stop(h->timer);
  if (n == 0) return;
  if ((b = malloc(sizeof(*b))) == NULL) {
    if (h->timer != NULL) uv_timer_start(h->timer, on_timer, h->limits.flush_ms, 0);
    return; /* tried again by the timer */
  }
  b->h = h;
  b->n = n;
  b->last = h->added;
  h->last_n = n;
  h->last_bytes = uvc_hist_batch_bytes(h->batch);
  rc = uvc_store_hist_write(h->store, h->loop, h->batch, &h->limits.bounds, on_batch, b);
  h->batch = NULL; /* the store's now */
  h->n_buf = 0;
  if (rc != 0) {
    UVC_WARN("history: %zu events not written: %s", n, uvc_store_strerror(rc));
    h->stats.dropped += n;
    h->done = b->last;
    free(b);
    run_waiters(h);
    return;
  }
  h->in_flight++;
}

int uvc_history_add(uvc_history_t* h, const uvc_hist_rec_t* rec) {
  int rc;
  if (h->closing) return UVC_STORE_CLOSING;
  if (h->n_buf >= UVC_HISTORY_BUFFER) {
    h->stats.dropped++;
    if (!h->warned) UVC_WARN("history: the store is behind; events are being dropped");
    h->warned = 1;
    return UVC_STORE_BUSY;
  }
  if (h->batch == NULL) {
    if ((h->batch = uvc_hist_batch_new()) == NULL) return UVC_STORE_NOMEM;
    (void)uvc_hist_batch_reserve(h->batch, h->last_n, h->last_bytes); /* grows anyway if not */
  }
  if ((rc = uvc_hist_batch_add(h->batch, rec)) != 0) return rc; /* copied, or refused */
  h->n_buf++;
  h->added++;
  h->stats.added++;
  h->warned = 0;
  if (h->in_flight == 0 && h->n_buf >= h->limits.batch_max)
    flush_now(h);
  else if (h->n_buf == 1 && !uv_is_active((uv_handle_t*)h->timer))
    uv_timer_start(h->timer, on_timer, h->limits.flush_ms, 0);
  return 0;
}

void uvc_history_flush(uvc_history_t* h) {
  if (h->in_flight == 0) flush_now(h);
}

/* Copies strings s[0..n) one after another into one block; *out[i] point into it. Returns
 * the block, or NULL. */
static char* pack(const char* const* s, size_t n, const char** out) {
  size_t total = 0, i;
  char *block, *p;
  for (i = 0; i < n; i++)
    total += (s[i] != NULL ? strlen(s[i]) : 0) + 1;
  if ((block = malloc(total)) == NULL) return NULL;
  for (i = 0, p = block; i < n; i++) {
    size_t len = s[i] != NULL ? strlen(s[i]) : 0;
    if (len > 0) memcpy(p, s[i], len);
    p[len] = '\0';
    out[i] = p;
    p += len + 1;
  }
  return block;
}

/* Queues w behind the events added so far, or runs it now when they are all committed and
 * nothing waits before it. Run now, a refusal of the store's is returned (no callback), as
 * the store's own functions do: a caller never sees its callback run inside the call. */
static int enqueue(uvc_history_t* h, waiter_t* w) {
  w->need = h->added;
  if (w->need <= h->done && h->waiters == NULL) {
    int rc = start_waiter(h, w);
    free_waiter(w);
    return rc;
  }
  *h->waiters_tail = w;
  h->waiters_tail = &w->next;
  if (w->need <= h->done) {
    run_waiters(h);
  } else if (h->in_flight == 0) {
    flush_now(h);
  }
  return 0;
}

int uvc_history_fetch(uvc_history_t* h, const uvc_hist_query_t* q, uvc_store_hist_cb cb,
                      void* data) {
  waiter_t* w;
  const char* in[2];
  const char* out[2];
  if (q == NULL || cb == NULL || q->owner == NULL) return UVC_STORE_INVALID;
  if (q->how != UVC_HIST_PENDING && (q->target == NULL || q->target[0] == '\0'))
    return UVC_STORE_INVALID;
  if (h->closing) return UVC_STORE_CLOSING;
  if ((w = calloc(1, sizeof(*w))) == NULL) return UVC_STORE_NOMEM;
  in[0] = q->owner;
  in[1] = q->target;
  if ((w->strs = pack(in, 2, out)) == NULL) {
    free(w);
    return UVC_STORE_NOMEM;
  }
  w->kind = W_FETCH;
  w->q = *q;
  w->q.owner = out[0];
  w->q.target = out[1];
  w->fetch_cb = cb;
  w->data = data;
  return enqueue(h, w);
}

int uvc_history_targets(uvc_history_t* h, const char* owner, const char* const* rooms,
                        size_t n_rooms, int64_t from_ms, int64_t to_ms, unsigned limit,
                        uvc_store_targets_cb cb, void* data) {
  waiter_t* w;
  const char** in;
  const char** out;
  size_t i;
  if (owner == NULL || cb == NULL || (n_rooms > 0 && rooms == NULL)) return UVC_STORE_INVALID;
  if (h->closing) return UVC_STORE_CLOSING;
  w = calloc(1, sizeof(*w));
  in = malloc((n_rooms + 1) * sizeof(*in));
  out = malloc((n_rooms + 1) * sizeof(*out));
  if (w == NULL || in == NULL || out == NULL) {
    free(w);
    free(in);
    free(out);
    return UVC_STORE_NOMEM;
  }
  in[0] = owner;
  for (i = 0; i < n_rooms; i++)
    in[i + 1] = rooms[i];
  w->strs = pack(in, n_rooms + 1, out);
  free(in);
  if (w->strs == NULL) {
    free(out);
    free(w);
    return UVC_STORE_NOMEM;
  }
  memmove(out, out + 1, n_rooms * sizeof(*out)); /* the rooms first, the owner apart */
  w->q.owner = w->strs;
  w->rooms = out;
  w->n_rooms = n_rooms;
  w->kind = W_TARGETS;
  w->from_ms = from_ms;
  w->to_ms = to_ms;
  w->limit = limit;
  w->targets_cb = cb;
  w->data = data;
  return enqueue(h, w);
}

int uvc_history_delete_owner(uvc_history_t* h, const char* owner, uvc_store_cb cb, void* data) {
  waiter_t* w;
  const char* out[1];
  if (owner == NULL || owner[0] == '\0') return UVC_STORE_INVALID;
  if (h->closing) return UVC_STORE_CLOSING;
  if ((w = calloc(1, sizeof(*w))) == NULL) return UVC_STORE_NOMEM;
  if ((w->strs = pack(&owner, 1, out)) == NULL) {
    free(w);
    return UVC_STORE_NOMEM;
  }
  w->kind = W_DELETE;
  w->q.owner = out[0];
  w->cb = cb;
  w->data = data;
  return enqueue(h, w);
}

int uvc_history_prune(uvc_history_t* h, const uvc_hist_bounds_t* bounds, uvc_store_cb cb) {
  if (h->closing) return UVC_STORE_CLOSING;
  return uvc_store_hist_prune(h->store, h->loop, bounds, cb, NULL);
}

void uvc_history_stats(const uvc_history_t* h, uvc_history_stats_t* out) {
  *out = h->stats;
}

int uvc_history_idle(const uvc_history_t* h) {
  return h->n_buf == 0 && h->in_flight == 0 && h->waiters == NULL;
}

static void maybe_free(uvc_history_t* h) {
  if (!h->closing || h->in_flight > 0 || h->n_buf > 0 || h->waiters != NULL) return;
  uvc_hist_batch_free(h->batch);
  free(h);
}

void uvc_history_close(uvc_history_t* h) {
  if (h == NULL || h->closing) return;
  h->closing = 1;
  uv_close((uv_handle_t*)h->timer, on_timer_closed);
  h->timer = NULL;
  flush_now(h);       /* even with a batch in flight: nothing may wait past the close */
  h->done = h->added; /* the waiters go now too, behind the last batch in the store's queue */
  run_waiters(h);
  maybe_free(h);
}
