/* store_rate.c: how many history events per second the store persists on this machine,
 * through the history writer exactly as the server uses it (batches of up to 500 events, or
 * every 100 ms; the room bounds applied): the SQLite store (one synced transaction per
 * batch) or, given a redis:// URL instead of a directory, the Redis one (one script per
 * batch; its histories are emptied first, so give it a scratch database).
 *
 *   uvchat-store-rate DIR|redis://[PASSWORD@]HOST:PORT[/DB] [EVENTS] [ROOMS] [KEEP]
 *             (default 200,000 events over 10 rooms, 1,000 kept per room; KEEP 0: all)
 *
 * Adds the events as fast as the writer takes them (never more than 20,000 waiting, so that
 * nothing is dropped), then closes the writer and waits for the last batch: events divided
 * by the time from the first add to the last commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uvchat/history.h"
#include "uvchat/store.h"
#ifdef UVCHAT_WITH_REDIS
#include "uvchat/store_redis.h"
#endif

typedef struct feed {
  uv_loop_t* loop;
  uvc_history_t* h;
  uv_idle_t idle;
  unsigned long next, total, rooms;
} feed_t;

static void on_idle(uv_idle_t* i) {
  feed_t* f = i->data;
  uvc_history_stats_t st;
  int k;
  uvc_history_stats(f->h, &st);
  for (k = 0; k < 1000 && f->next < f->total && st.added - st.written < 20000; k++) {
    char room[32], text[96];
    uvc_hist_rec_t e;
    memset(&e, 0, sizeof(e));
    snprintf(room, sizeof room, "#room%lu", f->next % f->rooms);
    snprintf(text, sizeof text, "message %lu: a line of chat about as long as most lines are",
             f->next);
    e.seq = (int64_t)f->next + 1;
    e.time_ms = 1700000000000 + (int64_t)f->next;
    e.kind = UVC_HIST_SAY;
    e.owner = "";
    e.target = room;
    e.nick = "alice";
    e.user = "~alice";
    e.host = "uvchat";
    e.account = "";
    e.text = text;
    if (uvc_history_add(f->h, &e) != 0) {
      fprintf(stderr, "uvchat-store-rate: an event was refused\n");
      exit(1);
    }
    f->next++;
    st.added++;
  }
  if (f->next == f->total) uv_idle_stop(i);
}

#ifdef UVCHAT_WITH_REDIS
static void on_pruned(void* data, int status) {
  *(int*)data = status == 0 ? 1 : -1;
}
#endif

int main(int argc, char** argv) {
  uv_loop_t loop;
  uvc_store_t* store = NULL;
  uvc_history_limits_t lim;
  uvc_history_stats_t st;
  feed_t f;
  char err[256];
  uint64_t t0, t1;
  if (argc < 2) {
    fprintf(stderr,
            "usage: uvchat-store-rate DIR|redis://[PASSWORD@]HOST:PORT[/DB] [EVENTS]"
            " [ROOMS] [KEEP]\n");
    return 2;
  }
  memset(&f, 0, sizeof(f));
  f.total = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
  f.rooms = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
  if (f.total == 0 || f.rooms == 0) return 2;
  uv_loop_init(&loop);
  if (strncmp(argv[1], "redis://", 8) == 0) {
#ifdef UVCHAT_WITH_REDIS
    uvc_hist_bounds_t all = {0, 0, 1}; /* an age bound of 1 ms: prune empties every history */
    int done = 0;
    if (uvc_store_open_redis_url(&store, &loop, argv[1], err, sizeof err) != 0) {
      fprintf(stderr, "uvchat-store-rate: %s\n", err);
      return 1;
    }
    if (uvc_store_hist_prune(store, &loop, &all, on_pruned, &done) != 0) return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    if (done != 1) return 1;
#else
    fprintf(stderr, "uvchat-store-rate: built without the Redis store (hiredis)\n");
    return 2;
#endif
  } else if (uvc_store_open(&store, argv[1], err, sizeof err) != 0) {
    fprintf(stderr, "uvchat-store-rate: %s\n", err);
    return 1;
  }
  memset(&lim, 0, sizeof(lim));
  lim.bounds.count_room = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000;
  lim.bounds.max_age_ms = 0;
  uvc_history_open(&f.h, &loop, store, &lim);
  f.loop = &loop;
  uv_idle_init(&loop, &f.idle);
  f.idle.data = &f;
  t0 = uv_hrtime();
  uv_idle_start(&f.idle, on_idle);
  while (f.next < f.total)
    uv_run(&loop, UV_RUN_ONCE);
  uvc_history_stats(f.h, &st);
  uvc_history_close(f.h);
  uv_close((uv_handle_t*)&f.idle, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  t1 = uv_hrtime();
  snprintf(err, sizeof err, "%s", uvc_store_path(store));
  uvc_store_close(store);
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("store=%s events=%lu rooms=%lu batches_before_close=%llu secs=%.3f events_per_s=%.0f\n",
         err, f.total, f.rooms, (unsigned long long)st.batches, (double)(t1 - t0) / 1e9,
         (double)f.total / ((double)(t1 - t0) / 1e9));
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}
