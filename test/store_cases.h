/* store_cases.h: what every backend of the store must do, as cmocka cases: the account
 * operations, names in any case, requests in flight and closing, the watch and the names at
 * startup, and history (every kind of read, bounds, retention, pending, targets, deletion,
 * an event kept once). Included by test_store.c (SQLite) and test_store_redis.c (Redis),
 * each of which defines, before its main, the three functions declared below, and lists
 * STORE_CASES(its setup, its teardown) among its tests. Each case starts with an empty store
 * (the setup's job) and leaves the loop with nothing open. */
#ifndef UVCHAT_TEST_STORE_CASES_H
#define UVCHAT_TEST_STORE_CASES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "unit.h"

#include "uvchat/store.h"

static uv_loop_t g_loop;
static uv_thread_t g_loop_thread;
static char g_tmp[1024]; /* a fresh temporary directory per test (where the backend uses one) */

/* The backend's: a store (dir: where its files go, if it has files; reopening the same dir
 * finds the same data), failing the test when it cannot be opened; how many accounts there
 * are (with that hash, NULL: all) and how many history events, seen from outside the store. */
static uvc_store_t* open_store(const char* dir);
static long long count_accounts(const char* hash);
static long long count_events(void);

typedef struct result {
  int calls;
  int status;
  int off_thread; /* a callback ran on another thread than the loop's */
  char hash[UVC_STORE_HASH_MAX + 1];
} result_t;

static void note_thread(result_t* r) {
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &g_loop_thread)) r->off_thread++;
}

static void on_done(void* data, int status) {
  result_t* r = data;
  note_thread(r);
  r->calls++;
  r->status = status;
}

static void on_get(void* data, int status, const char* hash) {
  result_t* r = data;
  note_thread(r);
  r->calls++;
  r->status = status;
  r->hash[0] = '\0';
  if (status == 0) {
    assert_non_null(hash);
    snprintf(r->hash, sizeof r->hash, "%s", hash);
  } else {
    assert_null(hash);
  }
}

/* Runs the loop until every request has called back; checks that each called back once,
 * on the loop thread, and returns the status. */
static int finish(uvc_store_t* s, result_t* r) {
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvc_store_pending(s), 0);
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->off_thread, 0);
  return r->status;
}

static int do_create(uvc_store_t* s, const char* name, const char* hash) {
  result_t r = {0};
  assert_int_equal(uvc_store_create(s, &g_loop, name, hash, on_done, &r), 0);
  assert_int_equal(uvc_store_pending(s), 1);
  return finish(s, &r);
}
static int do_set(uvc_store_t* s, const char* name, const char* hash) {
  result_t r = {0};
  assert_int_equal(uvc_store_set_hash(s, &g_loop, name, hash, on_done, &r), 0);
  return finish(s, &r);
}
static int do_delete(uvc_store_t* s, const char* name) {
  result_t r = {0};
  assert_int_equal(uvc_store_delete(s, &g_loop, name, on_done, &r), 0);
  return finish(s, &r);
}
/* The account's hash into out (or "" when there is none); returns the status. */
static int do_get(uvc_store_t* s, const char* name, char* out, size_t cap) {
  result_t r = {0};
  int st;
  assert_int_equal(uvc_store_get(s, &g_loop, name, on_get, &r), 0);
  st = finish(s, &r);
  snprintf(out, cap, "%s", r.hash);
  return st;
}

/* Closes s and runs the loop until the store has let go of everything. */
static void close_store(uvc_store_t* s) {
  uvc_store_close(s);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
}

static void create_get_set_delete(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_create(s, "alice", "$argon2id$one"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$one");
  assert_int_equal(do_get(s, "ALICE", hash, sizeof hash), 0); /* any case */
  assert_string_equal(hash, "$argon2id$one");
  assert_int_equal(do_set(s, "Alice", "$argon2id$two"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$two");
  assert_int_equal(do_set(s, "bob", "$argon2id$x"), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "bob"), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "aLiCe"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "alice"), UVC_STORE_NOT_FOUND);
  close_store(s);
}

static void duplicate_name_in_another_case_is_refused(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_create(s, "Carol", "$argon2id$first"), 0);
  assert_int_equal(do_create(s, "carol", "$argon2id$second"), UVC_STORE_EXISTS);
  assert_int_equal(do_create(s, "CAROL", "$argon2id$third"), UVC_STORE_EXISTS);
  assert_int_equal(do_get(s, "carol", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$first");
  uvc_store_close(s);
  assert_int_equal(count_accounts(NULL), 1);
}

static void bad_arguments_fail_at_once(void** state) {
  uvc_store_t* s;
  result_t r = {0};
  char big[UVC_STORE_NAME_MAX + 2];
  (void)state;
  memset(big, 'n', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_create(s, &g_loop, "", "h", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, "x", "", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, "x", NULL, on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, big, "h", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_get(s, &g_loop, NULL, on_get, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_delete(s, NULL, "x", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_pending(s), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 0);
  close_store(s);
}

static void durable_across_close_and_reopen(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_create(s, "dave", "$argon2id$dave"), 0);
  assert_int_equal(do_create(s, "erin", "$argon2id$erin"), 0);
  assert_int_equal(do_delete(s, "erin"), 0);
  uvc_store_close(s);
  s = open_store(g_tmp);
  assert_int_equal(do_get(s, "DAVE", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$dave");
  assert_int_equal(do_get(s, "erin", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  close_store(s);
}

/* Many requests in flight at once, on several pool threads and connections. */
#define MANY 64
static result_t g_many[MANY];
static void many_requests_in_flight(void** state) {
  uvc_store_t* s;
  char name[32], hash[64];
  int i;
  (void)state;
  memset(g_many, 0, sizeof g_many);
  s = open_store(g_tmp);
  for (i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "user%d", i);
    snprintf(hash, sizeof hash, "$argon2id$%d", i);
    assert_int_equal(uvc_store_create(s, &g_loop, name, hash, on_done, &g_many[i]), 0);
  }
  assert_int_equal(uvc_store_pending(s), MANY);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvc_store_pending(s), 0);
  for (i = 0; i < MANY; i++) {
    assert_int_equal(g_many[i].calls, 1);
    assert_int_equal(g_many[i].status, 0);
    assert_int_equal(g_many[i].off_thread, 0);
  }
  memset(g_many, 0, sizeof g_many);
  for (i = 0; i < MANY; i++) { /* reads and writes mixed */
    snprintf(name, sizeof name, "USER%d", i);
    if (i % 2 == 0)
      assert_int_equal(uvc_store_get(s, &g_loop, name, on_get, &g_many[i]), 0);
    else
      assert_int_equal(uvc_store_set_hash(s, &g_loop, name, "$argon2id$new", on_done, &g_many[i]),
                       0);
  }
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < MANY; i++) {
    assert_int_equal(g_many[i].calls, 1);
    assert_int_equal(g_many[i].status, 0);
    assert_int_equal(g_many[i].off_thread, 0);
    if (i % 2 == 0) {
      snprintf(hash, sizeof hash, "$argon2id$%d", i);
      assert_string_equal(g_many[i].hash, hash);
    }
  }
  uvc_store_close(s);
  assert_int_equal(count_accounts("$argon2id$new"), MANY / 2);
}

/* Closing with requests in flight: they complete, new ones are refused, then it closes. */
static void close_while_requests_are_in_flight(void** state) {
  uvc_store_t* s;
  result_t r[4];
  int i;
  (void)state;
  memset(r, 0, sizeof r);
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_create(s, &g_loop, "g1", "$h1", on_done, &r[0]), 0);
  assert_int_equal(uvc_store_create(s, &g_loop, "g2", "$h2", on_done, &r[1]), 0);
  assert_int_equal(uvc_store_get(s, &g_loop, "nobody", on_get, &r[2]), 0);
  uvc_store_close(s); /* deferred: three requests are in flight */
  assert_int_equal(uvc_store_pending(s), 3);
  assert_int_equal(uvc_store_create(s, &g_loop, "g3", "$h3", on_done, &r[3]), UVC_STORE_CLOSING);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].off_thread, 0);
  }
  assert_int_equal(r[0].status, 0);
  assert_int_equal(r[1].status, 0);
  assert_int_equal(r[2].status, UVC_STORE_NOT_FOUND);
  assert_int_equal(r[3].calls, 0);
  assert_int_equal(count_accounts(NULL), 2);
}

/* A callback may close the store, even with another request still pending. */
static uvc_store_t* g_closing;
static int g_callbacks;
static void close_from_inside(void* data, int status) {
  (void)data;
  assert_int_equal(status, 0);
  if (g_callbacks++ == 0) uvc_store_close(g_closing);
}
static void close_from_a_callback(void** state) {
  (void)state;
  g_callbacks = 0;
  g_closing = open_store(g_tmp);
  assert_int_equal(uvc_store_create(g_closing, &g_loop, "f1", "$h", close_from_inside, NULL), 0);
  assert_int_equal(uvc_store_create(g_closing, &g_loop, "f2", "$h", close_from_inside, NULL), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_callbacks, 2);
  assert_int_equal(count_accounts(NULL), 2);
}
/* ---- The watch and the names at startup ---- */

typedef struct wres {
  int calls, status, changed;
  size_t n;
  char names[8][32];
} wres_t;

static void on_watch(void* data, int status, int changed, const char* const* names, size_t n) {
  wres_t* w = data;
  size_t i;
  w->calls++;
  w->status = status;
  w->changed = changed;
  w->n = n;
  for (i = 0; i < n && i < 8; i++)
    snprintf(w->names[i], sizeof w->names[i], "%s", names[i]);
}

/* One watch (a second one while it is in flight is refused); returns whether it reported. */
static int do_watch(uvc_store_t* s, wres_t* w) {
  memset(w, 0, sizeof(*w));
  assert_int_equal(uvc_store_watch(s, &g_loop, on_watch, w), 0);
  assert_int_equal(uvc_store_watch(s, &g_loop, on_watch, w), UVC_STORE_BUSY);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w->calls, 1);
  assert_int_equal(w->status, 0);
  return w->changed;
}

typedef struct names {
  int n;
  char first[32];
} names_t;

static int collect_name(void* ud, const char* name, size_t len) {
  names_t* c = ud;
  assert_int_equal(strlen(name), len);
  if (c->n++ == 0) snprintf(c->first, sizeof c->first, "%s", name);
  return 0;
}

static int stop_at_first(void* ud, const char* name, size_t len) {
  (void)ud;
  (void)name;
  (void)len;
  return 7;
}

static void watch_reports_changes_by_anyone(void** state) {
  uvc_store_t *s, *other;
  wres_t w;
  names_t c = {0};
  char err[256];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_create(s, "Alice", "$argon2id$a"), 0);
  assert_true(do_watch(s, &w)); /* the first always reports */
  assert_int_equal(w.n, 1);
  assert_string_equal(w.names[0], "Alice"); /* as registered */
  assert_false(do_watch(s, &w));            /* nothing since */
  /* another store on the same data (another server, or uvchat-account) registers */
  other = open_store(g_tmp);
  assert_int_equal(do_create(other, "bob", "$argon2id$b"), 0);
  close_store(other);
  assert_true(do_watch(s, &w));
  assert_int_equal(w.n, 2);
  assert_false(do_watch(s, &w));
  uvc_store_watch_again(s); /* a caller that could not use the last report */
  assert_true(do_watch(s, &w));
  assert_int_equal(w.n, 2);
  assert_int_equal(do_delete(s, "ALICE"), 0);
  assert_true(do_watch(s, &w));
  assert_int_equal(w.n, 1);
  assert_string_equal(w.names[0], "bob");
  assert_int_equal(uvc_store_each_name(s, collect_name, &c, err, sizeof err), 0);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.first, "bob");
  assert_int_equal(uvc_store_each_name(s, stop_at_first, NULL, err, sizeof err), 7);
  close_store(s);
}

/* ---- History ---- */

typedef struct hres {
  int calls, status, off_thread;
  size_t n;
  char lines[64][160]; /* "nick:text" of each event, oldest first */
  int64_t seq[64];
  int64_t time_ms[64];
  int pending[64];
} hres_t;

static hres_t g_h;

static void on_hist(void* data, int status, const uvc_hist_rec_t* recs, size_t n) {
  hres_t* h = data;
  size_t i;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &g_loop_thread)) h->off_thread++;
  h->calls++;
  h->status = status;
  h->n = n;
  for (i = 0; i < n && i < 64; i++) {
    snprintf(h->lines[i], sizeof h->lines[i], "%s:%s", recs[i].nick, recs[i].text);
    h->seq[i] = recs[i].seq;
    h->time_ms[i] = recs[i].time_ms;
    h->pending[i] = recs[i].pending;
  }
}

/* Appends one event to (owner, target) said by nick at t (its seq too). */
static void put(uvc_store_t* s, const char* owner, const char* target, const char* nick, int64_t t,
                const char* text, const uvc_hist_bounds_t* b) {
  uvc_hist_rec_t e = {0};
  result_t r = {0};
  e.seq = t;
  e.time_ms = t;
  e.kind = UVC_HIST_SAY;
  e.owner = owner;
  e.target = target;
  e.nick = nick;
  e.user = "~u";
  e.host = "h";
  e.account = "";
  e.text = text;
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, b, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
}

static int fetch(uvc_store_t* s, uvc_hist_how_t how, const char* owner, const char* target,
                 int64_t at, int64_t seq, int64_t at2, unsigned limit) {
  uvc_hist_query_t q = {0};
  memset(&g_h, 0, sizeof g_h);
  q.how = how;
  q.owner = owner;
  q.target = target;
  q.a.time_ms = at;
  q.a.seq = seq;
  q.b.time_ms = at2;
  q.limit = limit;
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.calls, 1);
  assert_int_equal(g_h.off_thread, 0);
  return g_h.status;
}

static const int64_t T0 = 1700000000000; /* a time well inside any age bound below */

/* Ten events in #dev at T0+1000..T0+10000, each "n<i>". */
static void ten_events(uvc_store_t* s) {
  uvc_hist_rec_t e[10];
  char text[10][8];
  result_t r = {0};
  int i;
  memset(e, 0, sizeof e);
  for (i = 0; i < 10; i++) {
    snprintf(text[i], sizeof text[i], "n%d", i + 1);
    e[i].seq = i + 1;
    e[i].time_ms = T0 + 1000 * (i + 1);
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "";
    e[i].target = "#dev";
    e[i].nick = i % 2 ? "bob" : "alice";
    e[i].text = text[i];
  }
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 10, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
}

static void history_latest_before_after_around_between(void** state) {
  uvc_store_t* s;
  (void)state;
  s = open_store(g_tmp);
  ten_events(s);
  put(s, "", "#other", "carol", T0 + 5500, "elsewhere", NULL);

  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#DEV", 0, 0, 0, 3), 0); /* any case */
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "bob:n8"); /* oldest first */
  assert_string_equal(g_h.lines[1], "alice:n9");
  assert_string_equal(g_h.lines[2], "bob:n10");
  assert_true(g_h.seq[2] == 10);
  assert_true(g_h.time_ms[2] == T0 + 10000);

  /* LATEST after a point: only what is newer */
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 7, 0, 10), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "bob:n8");

  /* BEFORE and AFTER an event exclude it; by time, the time itself is excluded too */
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 5, 0, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[1], "bob:n4");
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", T0 + 2000, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:n1");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#dev", 0, 8, 0, 5), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n9");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#dev", T0 + 8500, 0, 0, 1), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:n9");

  /* AROUND: half before, the event itself and after */
  assert_int_equal(fetch(s, UVC_HIST_AROUND, "", "#dev", 0, 5, 0, 4), 0);
  assert_int_equal(g_h.n, 4);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[2], "alice:n5");
  assert_string_equal(g_h.lines[3], "bob:n6");

  /* BETWEEN, either order: always oldest first; the limit nearest the first point */
  assert_int_equal(fetch(s, UVC_HIST_BETWEEN, "", "#dev", T0 + 2000, 0, T0 + 6000, 10), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[2], "alice:n5");
  assert_int_equal(fetch(s, UVC_HIST_BETWEEN, "", "#dev", T0 + 9000, 0, T0 + 1000, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n7");
  assert_string_equal(g_h.lines[1], "bob:n8");

  /* an unknown event, a room with nothing, a private history that is not the room's */
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 77, 0, 5), UVC_STORE_NOT_FOUND);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#empty", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "alice", "#dev", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 0);
  uvc_store_close(s);

  /* it all survives a reopen */
  s = open_store(g_tmp);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#other", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "carol:elsewhere");
  close_store(s);
}

static void history_bounds_by_count_and_age(void** state) {
  uvc_store_t* s;
  uvc_hist_bounds_t b = {3, 2, 0};
  uvc_hist_bounds_t age;
  result_t r = {0};
  int64_t now;
  uv_timeval64_t tv;
  int i;
  (void)state;
  s = open_store(g_tmp);
  for (i = 1; i <= 5; i++) {
    char text[8];
    snprintf(text, sizeof text, "r%d", i);
    put(s, "", "#dev", "alice", T0 + i, text, &b);
    put(s, "", "#ops", "alice", T0 + 100 + i, text, &b);
  }
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 3); /* per room */
  assert_string_equal(g_h.lines[0], "alice:r3");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#ops", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 3);

  /* private: per account over all its conversations */
  put(s, "bob", "alice", "alice", T0 + 201, "p1", &b);
  put(s, "bob", "carol", "carol", T0 + 202, "p2", &b);
  put(s, "bob", "alice", "alice", T0 + 203, "p3", &b);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:p3");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "carol", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);

  /* age: the old events go, a fresh one stays */
  assert_int_equal(uv_gettimeofday(&tv), 0);
  now = tv.tv_sec * 1000 + tv.tv_usec / 1000;
  put(s, "", "#dev", "dave", now, "fresh", NULL);
  age.count_room = 0;
  age.count_private = 0;
  age.max_age_ms = 60000;
  assert_int_equal(uvc_store_hist_prune(s, &g_loop, &age, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "dave:fresh");
  uvc_store_close(s);
  assert_int_equal(count_events(), 1);
}

static void history_pending_and_delete_by_account(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e[3];
  result_t r = {0};
  uvc_hist_query_t q = {0};
  (void)state;
  memset(e, 0, sizeof e);
  s = open_store(g_tmp);
  /* alice writes to bob, who is offline: bob's copy is pending; alice keeps hers */
  e[0].seq = 1;
  e[0].time_ms = T0 + 1;
  e[0].kind = UVC_HIST_SAY;
  e[0].owner = "bob";
  e[0].target = "alice";
  e[0].nick = "alice";
  e[0].account = "alice";
  e[0].text = "are you there?";
  e[0].pending = 1;
  e[1] = e[0];
  e[1].owner = "alice";
  e[1].target = "bob";
  e[1].pending = 0;
  e[2] = e[0];
  e[2].seq = 2;
  e[2].time_ms = T0 + 2;
  e[2].text = "call me";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 3, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);

  q.how = UVC_HIST_PENDING;
  q.owner = "BOB";
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.status, 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:are you there?");
  assert_string_equal(g_h.lines[1], "alice:call me");
  assert_int_equal(g_h.pending[0], 1);
  /* delivered once: the next login finds nothing pending, the history still has them */
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_int_equal(g_h.pending[0], 0);

  /* bob unregisters: his copies go, alice's stay */
  memset(&r, 0, sizeof r);
  assert_int_equal(uvc_store_hist_delete_owner(s, &g_loop, "Bob", on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "alice", "bob", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  close_store(s);
}

static uvc_hist_target_t g_t[8];
static char g_tnames[8][32];
static size_t g_nt;
static void on_targets(void* data, int status, const uvc_hist_target_t* t, size_t n) {
  size_t i;
  (void)data;
  assert_int_equal(status, 0);
  g_nt = n;
  for (i = 0; i < n && i < 8; i++) {
    snprintf(g_tnames[i], sizeof g_tnames[i], "%s", t[i].name);
    g_t[i].last_ms = t[i].last_ms;
  }
}

static void history_targets_and_room_delete(void** state) {
  uvc_store_t* s;
  const char* rooms[] = {"#dev", "#secret"};
  result_t r = {0};
  (void)state;
  s = open_store(g_tmp);
  put(s, "", "#dev", "alice", T0 + 10, "a", NULL);
  put(s, "", "#secret", "alice", T0 + 30, "b", NULL);
  put(s, "", "#elsewhere", "alice", T0 + 40, "c", NULL); /* not one of the caller's rooms */
  put(s, "bob", "carol", "carol", T0 + 20, "d", NULL);
  put(s, "dave", "carol", "carol", T0 + 50, "e", NULL); /* someone else's */
  assert_int_equal(
      uvc_store_hist_targets(s, &g_loop, "bob", rooms, 2, T0, T0 + 100, 10, on_targets, NULL), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_nt, 3);
  assert_string_equal(g_tnames[0], "#secret"); /* latest first */
  assert_string_equal(g_tnames[1], "carol");
  assert_string_equal(g_tnames[2], "#dev");
  assert_true(g_t[1].last_ms == T0 + 20);
  assert_int_equal(
      uvc_store_hist_targets(s, &g_loop, "bob", rooms, 2, T0 + 25, T0 + 15, 10, on_targets, NULL),
      0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_nt, 1);
  assert_string_equal(g_tnames[0], "carol");
  /* bob and carol talk again, after the window: the window still finds their earlier talk */
  put(s, "bob", "carol", "carol", T0 + 60, "f", NULL);
  assert_int_equal(
      uvc_store_hist_targets(s, &g_loop, "bob", rooms, 2, T0 + 15, T0 + 25, 10, on_targets, NULL),
      0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_nt, 1);
  assert_string_equal(g_tnames[0], "carol");
  assert_true(g_t[0].last_ms == T0 + 20);

  assert_int_equal(uvc_store_hist_delete_room(s, &g_loop, "#DEV", on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 0);
  close_store(s);
  assert_int_equal(count_events(), 5);
}

static void history_bad_records_fail_at_once(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e = {0};
  uvc_hist_query_t q = {0};
  result_t r = {0};
  (void)state;
  s = open_store(g_tmp);
  e.owner = "";
  e.target = "#dev";
  e.nick = "alice";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.seq = 1;
  e.nick = "";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.nick = "alice";
  e.target = NULL;
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.target = "#dev";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 0, NULL, on_done, &r), UVC_STORE_INVALID);
  q.how = UVC_HIST_LATEST;
  q.owner = "";
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), UVC_STORE_INVALID);
  q.how = UVC_HIST_PENDING;
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_pending(s), 0);
  uvc_store_close(s);
  assert_int_equal(r.calls, 0);
}

/* The same event written twice (in two batches, or twice in one) is kept once; the same seq
 * in another history is another event. */
static void history_event_is_kept_once(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e[3];
  result_t r = {0};
  (void)state;
  s = open_store(g_tmp);
  put(s, "", "#dev", "alice", T0 + 1, "first", NULL);
  put(s, "", "#dev", "alice", T0 + 1, "again", NULL);
  put(s, "", "#ops", "alice", T0 + 1, "elsewhere", NULL);
  memset(e, 0, sizeof e);
  e[0].seq = 5;
  e[0].time_ms = T0 + 5;
  e[0].kind = UVC_HIST_SAY;
  e[0].owner = "bob";
  e[0].target = "alice";
  e[0].nick = "alice";
  e[0].text = "once";
  e[1] = e[0];
  e[1].text = "twice";
  e[2] = e[0];
  e[2].seq = 6;
  e[2].time_ms = T0 + 6;
  e[2].text = "next";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 3, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:first");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#ops", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "Bob", "ALICE", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:once");
  assert_string_equal(g_h.lines[1], "alice:next");
  /* and a read from the event on finds it by its seq */
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "bob", "alice", 0, 5, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:next");
  close_store(s);
  assert_int_equal(count_events(), 4);
}

/* A batch bigger than a backend may send at once (Redis: UVC_REDIS_WRITE_CHUNK events a
 * script) is written whole, with the count bound applied per room, and calls back once. */
static void history_big_batch(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t* e;
  uvc_hist_bounds_t b = {300, 0, 0};
  result_t r = {0};
  char(*text)[16];
  int i;
  (void)state;
  e = calloc(700, sizeof(*e));
  text = calloc(700, sizeof(*text));
  assert_non_null(e);
  assert_non_null(text);
  for (i = 0; i < 700; i++) {
    snprintf(text[i], sizeof text[i], "b%d", i + 1);
    e[i].seq = i + 1;
    e[i].time_ms = T0 + i + 1;
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "";
    e[i].target = i % 2 ? "#odd" : "#even";
    e[i].nick = "alice";
    e[i].text = text[i];
  }
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 700, &b, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  free(e);
  free(text);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#even", 0, 0, 0, 1), 0);
  assert_string_equal(g_h.lines[0], "alice:b699");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#odd", T0, 0, 0, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:b102"); /* 350 odd ones, the oldest 50 gone */
  close_store(s);
  assert_int_equal(count_events(), 600);
}

/* One account's conversations side by side, more of them than one read of a backend takes
 * at once (Redis: 200 entries a step): each conversation reads whole and in order. */
static void history_private_conversations_side_by_side(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e[500];
  char text[500][16];
  result_t r = {0};
  int i;
  (void)state;
  memset(e, 0, sizeof e);
  for (i = 0; i < 500; i++) {
    snprintf(text[i], sizeof text[i], "m%d", i + 1);
    e[i].seq = i + 1;
    e[i].time_ms = T0 + i + 1;
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "bob";
    e[i].target = i % 5 == 0 ? "alice" : "carol"; /* 100 with alice, 400 with carol */
    e[i].nick = e[i].target;
    e[i].text = text[i];
  }
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 500, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 64), 0);
  assert_int_equal(g_h.n, 64);
  assert_string_equal(g_h.lines[0], "alice:m181"); /* the 37th of alice's: 5 * 36 + 1 */
  assert_string_equal(g_h.lines[63], "alice:m496");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "bob", "alice", 0, 1, 0, 3), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "alice:m6");
  assert_string_equal(g_h.lines[2], "alice:m16");
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "bob", "carol", 0, 500, 0, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "carol:m498");
  assert_string_equal(g_h.lines[1], "carol:m499");
  close_store(s);
}

/* A room's events written twice and out of order are kept once each, in order, and the
 * count bound still holds exactly across chunks. */
static void history_rooms_out_of_order_and_bounds_across_batches(void** state) {
  uvc_store_t* s;
  uvc_hist_bounds_t b = {5, 0, 0};
  uvc_hist_rec_t e[4];
  char text[4][8];
  result_t r = {0};
  int i, batch;
  (void)state;
  s = open_store(g_tmp);
  for (batch = 0; batch < 3; batch++) { /* three batches of four: 1-4, 5-8, 9-12 */
    memset(e, 0, sizeof e);
    for (i = 0; i < 4; i++) {
      int n = batch * 4 + i + 1;
      snprintf(text[i], sizeof text[i], "m%d", n);
      e[i].seq = n;
      e[i].time_ms = T0 + n;
      e[i].kind = UVC_HIST_SAY;
      e[i].owner = "";
      e[i].target = "#dev";
      e[i].nick = "alice";
      e[i].text = text[i];
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 4, &b, on_done, &r), 0);
    assert_int_equal(finish(s, &r), 0);
  }
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 100), 0);
  assert_int_equal(g_h.n, 5); /* exactly the bound: 8..12, the floor inside a chunk */
  assert_string_equal(g_h.lines[0], "alice:m8");
  assert_string_equal(g_h.lines[4], "alice:m12");
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 7, 0, 10), UVC_STORE_NOT_FOUND);
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 10, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:m8");

  /* m11 and m12 again (kept once) around a new m13, out of order: merged in order */
  memset(e, 0, sizeof e);
  for (i = 0; i < 3; i++) {
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "";
    e[i].target = "#DEV";
    e[i].nick = "bob";
  }
  e[0].seq = 11, e[0].time_ms = T0 + 11, e[0].text = "again";
  e[1].seq = 13, e[1].time_ms = T0 + 13, e[1].text = "m13";
  e[2].seq = 12, e[2].time_ms = T0 + 12, e[2].text = "again";
  memset(&r, 0, sizeof r);
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 3, &b, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 100), 0);
  assert_int_equal(g_h.n, 5);
  assert_string_equal(g_h.lines[0], "alice:m9");
  assert_string_equal(g_h.lines[2], "alice:m11"); /* the first copy stays */
  assert_string_equal(g_h.lines[3], "alice:m12");
  assert_string_equal(g_h.lines[4], "bob:m13");
  close_store(s);
  assert_int_equal(count_events(), 5);
}

/* A room's events flagged UVC_HIST_CLOSED (said while it was closed) below closed_before are
 * left out, as points too; its other events, and all of them without closed_before, show. */
static void history_closed_events_stay_with_their_room(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e[4];
  const char* text[] = {"open", "closed one", "closed two", "later"};
  uvc_hist_query_t q;
  result_t r = {0};
  int i;
  (void)state;
  s = open_store(g_tmp);
  memset(e, 0, sizeof e);
  for (i = 0; i < 4; i++) {
    e[i].seq = 100000000000000000LL + i + 1; /* past 2^53, as real ids are */
    e[i].time_ms = T0 + i;
    e[i].kind = UVC_HIST_SAY;
    e[i].flags = i == 1 || i == 2 ? UVC_HIST_CLOSED : 0;
    e[i].owner = "";
    e[i].target = "#den";
    e[i].nick = "alice";
    e[i].text = text[i];
  }
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 4, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#den", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 4); /* no closed_before: everything */

  memset(&q, 0, sizeof q);
  q.how = UVC_HIST_LATEST;
  q.owner = "";
  q.target = "#den";
  q.limit = 10;
  q.closed_before = e[2].seq; /* a later room began between the two closed events */
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.status, 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "alice:open");
  assert_string_equal(g_h.lines[1], "alice:closed two"); /* the later room's own */
  assert_string_equal(g_h.lines[2], "alice:later");
  q.how = UVC_HIST_AFTER; /* a hidden event is no point to read from */
  q.a.seq = e[1].seq;
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.status, UVC_STORE_NOT_FOUND);
  close_store(s);
}

#define STORE_CASES(setup, teardown)                                                               \
  cmocka_unit_test_setup_teardown(create_get_set_delete, setup, teardown),                         \
      cmocka_unit_test_setup_teardown(duplicate_name_in_another_case_is_refused, setup, teardown), \
      cmocka_unit_test_setup_teardown(bad_arguments_fail_at_once, setup, teardown),                \
      cmocka_unit_test_setup_teardown(durable_across_close_and_reopen, setup, teardown),           \
      cmocka_unit_test_setup_teardown(many_requests_in_flight, setup, teardown),                   \
      cmocka_unit_test_setup_teardown(close_while_requests_are_in_flight, setup, teardown),        \
      cmocka_unit_test_setup_teardown(close_from_a_callback, setup, teardown),                     \
      cmocka_unit_test_setup_teardown(watch_reports_changes_by_anyone, setup, teardown),           \
      cmocka_unit_test_setup_teardown(history_latest_before_after_around_between, setup,           \
                                      teardown),                                                   \
      cmocka_unit_test_setup_teardown(history_bounds_by_count_and_age, setup, teardown),           \
      cmocka_unit_test_setup_teardown(history_pending_and_delete_by_account, setup, teardown),     \
      cmocka_unit_test_setup_teardown(history_targets_and_room_delete, setup, teardown),           \
      cmocka_unit_test_setup_teardown(history_event_is_kept_once, setup, teardown),                \
      cmocka_unit_test_setup_teardown(history_big_batch, setup, teardown),                         \
      cmocka_unit_test_setup_teardown(history_private_conversations_side_by_side, setup,           \
                                      teardown),                                                   \
      cmocka_unit_test_setup_teardown(history_rooms_out_of_order_and_bounds_across_batches, setup, \
                                      teardown),                                                   \
      cmocka_unit_test_setup_teardown(history_closed_events_stay_with_their_room, setup,           \
                                      teardown),                                                   \
      cmocka_unit_test_setup_teardown(history_bad_records_fail_at_once, setup, teardown)

#endif
