/* test_history.c: the history writer over a real SQLite store: batches by count and by
 * time, reads that see every event added before them, a close that writes everything, and
 * what a kill -9 loses. Built a second time with UVCHAT_TEST_REDIS (test_history_redis): the
 * same cases over the Redis store, against a real redis-server emptied before each case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "tmpdir.h"
#include "unit.h"

#ifndef _WIN32
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "uvchat/history.h"
#include "uvchat/store.h"
#ifdef UVCHAT_TEST_REDIS
#include "redis_util.h"
#include "uvchat/store_redis.h"
static tr_redis_t g_redis;
#endif

static uv_loop_t g_loop;
static char g_tmp[1024];

/* The store of the test (SQLite in g_tmp, or Redis) on loop. */
static int open_on(uv_loop_t* loop, uvc_store_t** s, char* err, size_t errlen) {
#ifdef UVCHAT_TEST_REDIS
  return uvc_store_open_redis(s, loop, "127.0.0.1", g_redis.port, NULL, 0, err, errlen);
#else
  (void)loop;
  return uvc_store_open(s, g_tmp, err, errlen);
#endif
}

static int setup(void** state) {
  (void)state;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  tt_mkdtemp("uvchat-history", g_tmp, sizeof g_tmp);
#ifdef UVCHAT_TEST_REDIS
  tr_redis_flushall(&g_redis);
#endif
  return 0;
}

static int teardown(void** state) {
  (void)state;
  tt_rmdir(g_tmp);
  assert_int_equal(uv_loop_close(&g_loop), 0);
  return 0;
}

static uvc_store_t* open_store(void) {
  uvc_store_t* s = NULL;
  char err[512];
  int r = open_on(&g_loop, &s, err, sizeof err);
  if (r != 0) fail_msg("uvc_store_open: %d %s", r, err);
  return s;
}

/* Adds event i to #dev ("line <i>", seq i). */
static void add(uvc_history_t* h, int i) {
  char text[32];
  uvc_hist_rec_t e = {0};
  snprintf(text, sizeof text, "line %d", i);
  e.seq = i;
  e.time_ms = 1700000000000 + i;
  e.kind = UVC_HIST_SAY;
  e.owner = "";
  e.target = "#dev";
  e.nick = "alice";
  e.user = "~a";
  e.host = "h";
  e.account = "";
  e.text = text;
  assert_int_equal(uvc_history_add(h, &e), 0);
}

typedef struct got {
  int calls, status;
  size_t n;
  char last[64];
} got_t;

static void on_fetch(void* data, int status, const uvc_hist_rec_t* recs, size_t n) {
  got_t* g = data;
  g->calls++;
  g->status = status;
  g->n = n;
  g->last[0] = '\0';
  if (n > 0) snprintf(g->last, sizeof g->last, "%s", recs[n - 1].text);
}

static const uvc_hist_query_t kLatest = {UVC_HIST_LATEST, "", "#dev", {0, 0}, {0, 0}, 1000, 0};

/* How many events #dev has in the store (read without the writer); the last one's text. */
static size_t in_store(uvc_store_t* s, char* last, size_t cap) {
  got_t g = {0};
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &kLatest, on_fetch, &g), 0);
  while (g.calls == 0)
    uv_run(&g_loop, UV_RUN_ONCE);
  assert_int_equal(g.status, 0);
  if (last != NULL) snprintf(last, cap, "%s", g.last);
  return g.n;
}

/* Runs the loop one turn at a time until h has committed `batches` batches. */
static void until_batches(uvc_history_t* h, uint64_t batches) {
  uvc_history_stats_t st;
  for (;;) {
    uvc_history_stats(h, &st);
    if (st.batches >= batches) return;
    uv_run(&g_loop, UV_RUN_ONCE);
  }
}

static void a_full_batch_goes_at_once(void** state) {
  uvc_store_t* s = open_store();
  uvc_history_t* h;
  uvc_history_limits_t lim = {5, 600000, {0, 0, 0}}; /* a timer that never fires here */
  uvc_history_stats_t st;
  int i;
  (void)state;
  assert_int_equal(uvc_history_open(&h, &g_loop, s, &lim), 0);
  for (i = 1; i <= 4; i++)
    add(h, i);
  assert_false(uvc_history_idle(h));
  for (i = 5; i <= 12; i++) /* the 5th sends a batch; 6..12 wait for it */
    add(h, i);
  until_batches(h, 1);
  until_batches(h, 2); /* the 7 that waited were 5 or more: they go when the first returns */
  uvc_history_stats(h, &st);
  assert_int_equal(st.added, 12);
  assert_int_equal(st.written, 12);
  assert_int_equal(st.batches, 2);
  assert_int_equal(st.dropped, 0);
  assert_true(uvc_history_idle(h));
  assert_int_equal(in_store(s, NULL, 0), 12);
  uvc_history_close(h);
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

static void a_partial_batch_waits_for_its_timer(void** state) {
  uvc_store_t* s = open_store();
  uvc_history_t* h;
  uvc_history_limits_t lim = {500, 30, {0, 0, 0}};
  uvc_history_stats_t st;
  uint64_t t0;
  (void)state;
  assert_int_equal(uvc_history_open(&h, &g_loop, s, &lim), 0);
  uv_update_time(&g_loop);
  t0 = uv_now(&g_loop);
  add(h, 1);
  add(h, 2);
  add(h, 3);
  uv_run(&g_loop, UV_RUN_NOWAIT);
  uvc_history_stats(h, &st);
  assert_int_equal(st.batches, 0); /* not yet: under batch_max, before the timer */
  until_batches(h, 1);
  assert_true(uv_now(&g_loop) - t0 >= 30);
  uvc_history_stats(h, &st);
  assert_int_equal(st.written, 3);
  assert_int_equal(in_store(s, NULL, 0), 3);
  uvc_history_close(h);
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

static void a_read_sees_every_event_added_before_it(void** state) {
  uvc_store_t* s = open_store();
  uvc_history_t* h;
  uvc_history_limits_t lim = {500, 600000, {0, 0, 0}};
  got_t g = {0};
  int i;
  (void)state;
  assert_int_equal(uvc_history_open(&h, &g_loop, s, &lim), 0);
  for (i = 1; i <= 3; i++)
    add(h, i);
  assert_int_equal(uvc_history_fetch(h, &kLatest, on_fetch, &g), 0);
  add(h, 4); /* after the read: it may or may not see this one */
  while (g.calls == 0)
    uv_run(&g_loop, UV_RUN_ONCE);
  assert_int_equal(g.status, 0);
  assert_true(g.n >= 3);
  /* a read while a batch is in flight waits for it */
  for (i = 5; i <= 9; i++)
    add(h, i);
  uvc_history_flush(h);
  memset(&g, 0, sizeof g);
  add(h, 10);
  assert_int_equal(uvc_history_fetch(h, &kLatest, on_fetch, &g), 0);
  while (g.calls == 0)
    uv_run(&g_loop, UV_RUN_ONCE);
  assert_int_equal(g.n, 10);
  assert_string_equal(g.last, "line 10");
  uvc_history_close(h);
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

static void close_writes_everything(void** state) {
  uvc_store_t* s = open_store();
  uvc_history_t* h;
  uvc_history_limits_t lim = {3, 600000, {0, 0, 0}};
  char last[64];
  int i;
  (void)state;
  assert_int_equal(uvc_history_open(&h, &g_loop, s, &lim), 0);
  for (i = 1; i <= 8; i++) /* one batch in flight, five waiting */
    add(h, i);
  uvc_history_close(h);
  uvc_store_close(s); /* waits for what the writer handed it */
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  s = open_store();
  assert_int_equal(in_store(s, last, sizeof last), 8);
  assert_string_equal(last, "line 8");
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

static void bounds_apply_as_batches_arrive(void** state) {
  uvc_store_t* s = open_store();
  uvc_history_t* h;
  uvc_history_limits_t lim = {4, 600000, {6, 0, 0}};
  char last[64];
  int i;
  (void)state;
  assert_int_equal(uvc_history_open(&h, &g_loop, s, &lim), 0);
  for (i = 1; i <= 20; i++)
    add(h, i);
  uvc_history_close(h);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0); /* until its last batch is in */
  assert_int_equal(in_store(s, last, sizeof last), 6);
  assert_string_equal(last, "line 20");
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

#ifndef _WIN32
/* A child commits one batch, tells the parent, adds three more events that wait for their
 * timer, tells the parent again and is killed: the committed batch is there, the waiting
 * events are the documented loss. */
static void kill_9_loses_only_what_waited(void** state) {
  int fds[2];
  pid_t pid;
  char c[2] = {0, 0};
  int wstatus;
  uvc_store_t* s;
  char last[64];
  (void)state;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uv_loop_t loop;
    uvc_store_t* cs = NULL;
    uvc_history_t* h = NULL;
    uvc_history_limits_t lim = {5, 600000, {0, 0, 0}};
    uvc_history_stats_t st;
    char err[256];
    int i;
    close(fds[0]);
    if (uv_loop_init(&loop) != 0 || open_on(&loop, &cs, err, sizeof err) != 0) _exit(3);
    if (uvc_history_open(&h, &loop, cs, &lim) != 0) _exit(4);
    for (i = 1; i <= 5; i++) {
      char text[32];
      uvc_hist_rec_t e = {0};
      snprintf(text, sizeof text, "line %d", i);
      e.seq = i;
      e.time_ms = 1700000000000 + i;
      e.kind = UVC_HIST_SAY;
      e.owner = "";
      e.target = "#dev";
      e.nick = "alice";
      e.text = text;
      if (uvc_history_add(h, &e) != 0) _exit(5);
    }
    do {
      uv_run(&loop, UV_RUN_ONCE);
      uvc_history_stats(h, &st);
    } while (st.batches == 0);
    if (write(fds[1], "B", 1) != 1) _exit(6);
    for (i = 6; i <= 8; i++) {
      uvc_hist_rec_t e = {0};
      e.seq = i;
      e.time_ms = 1700000000000 + i;
      e.kind = UVC_HIST_SAY;
      e.owner = "";
      e.target = "#dev";
      e.nick = "alice";
      e.text = "waiting";
      if (uvc_history_add(h, &e) != 0) _exit(7);
    }
    if (write(fds[1], "W", 1) != 1) _exit(8);
    for (;;)
      pause();
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], c, 1), 1);
  assert_int_equal(read(fds[0], c + 1, 1), 1);
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  close(fds[0]);
  assert_int_equal(c[0], 'B');
  assert_int_equal(c[1], 'W');
  assert_true(WIFSIGNALED(wstatus));
  s = open_store();
  assert_int_equal(in_store(s, last, sizeof last), 5);
  assert_string_equal(last, "line 5");
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
#ifndef _WIN32
      cmocka_unit_test_setup_teardown(kill_9_loses_only_what_waited, setup, teardown),
#endif
      cmocka_unit_test_setup_teardown(a_full_batch_goes_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(a_partial_batch_waits_for_its_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(a_read_sees_every_event_added_before_it, setup, teardown),
      cmocka_unit_test_setup_teardown(close_writes_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(bounds_apply_as_batches_arrive, setup, teardown),
  };
#ifdef UVCHAT_TEST_REDIS
  TR_REDIS_RUN_GROUP(&g_redis, tests);
#else
  return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
