/* test_store_redis.c: the store against a real redis-server (test/redis_server.h, on a free
 * loopback port): every case of store_cases.h, then Redis's own: two stores (two servers)
 * sharing accounts and history, a newer schema refused, the URL form, a password, Redis
 * going away (requests fail promptly, and work again once it is back), and Redis not there
 * yet when the store opens (it opens, and works once Redis answers). Skipped when there is no
 * redis-server. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <uv.h>
#include "redis_util.h"
#include "unit.h"

#include "uvchat/store.h"
#include "uvchat/store_redis.h"

#include "store_cases.h"

static tr_redis_t g_redis;

/* A blocking connection of the test's own to the server. */
static redisContext* peer(void) {
  redisContext* c = redisConnect("127.0.0.1", g_redis.port);
  if (c == NULL || c->err != 0) fail_msg("cannot connect to redis on %d", g_redis.port);
  return c;
}

/* One command on a connection of our own; its integer reply (a string one read as a
 * number), -1 for nil, -2 for an error. */
static long long redis_int(const char* fmt, ...) {
  redisContext* c = peer();
  redisReply* r;
  va_list ap;
  long long v = -2;
  va_start(ap, fmt);
  r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (r != NULL) {
    if (r->type == REDIS_REPLY_INTEGER) v = r->integer;
    if (r->type == REDIS_REPLY_STRING) v = strtoll(r->str, NULL, 10);
    if (r->type == REDIS_REPLY_STATUS) v = 0;
    if (r->type == REDIS_REPLY_NIL) v = -1;
    freeReplyObject(r);
  }
  redisFree(c);
  return v;
}

static uvc_store_t* open_store(const char* dir) {
  uvc_store_t* s = NULL;
  char err[512];
  int r;
  (void)dir; /* the data is the server's */
  r = uvc_store_open_redis(&s, &g_loop, "127.0.0.1", g_redis.port, NULL, 0, err, sizeof err);
  if (r != 0) fail_msg("uvc_store_open_redis(%d): %d %s", g_redis.port, r, err);
  return s;
}

static long long count_accounts(const char* hash) {
  redisContext* c = peer();
  redisReply* names = redisCommand(c, "SMEMBERS uvchat:names");
  long long n = 0;
  size_t i;
  assert_non_null(names);
  for (i = 0; i < names->elements; i++) {
    char key[300];
    size_t k;
    redisReply* h;
    snprintf(key, sizeof key, "uvchat:acct:%s", names->element[i]->str);
    for (k = 12; key[k] != '\0'; k++)
      if (key[k] >= 'A' && key[k] <= 'Z') key[k] = (char)(key[k] + 32);
    h = redisCommand(c, "HGET %s hash", key);
    assert_non_null(h);
    assert_int_equal(h->type, REDIS_REPLY_STRING); /* every name has its account */
    if (hash == NULL || strcmp(h->str, hash) == 0) n++;
    freeReplyObject(h);
  }
  freeReplyObject(names);
  redisFree(c);
  return n;
}

static long long count_events(void) {
  redisContext* c = peer();
  redisReply* keys = redisCommand(c, "ZRANGE uvchat:hist 0 -1");
  long long n = 0;
  size_t i;
  assert_non_null(keys);
  for (i = 0; i < keys->elements; i++) {
    redisReply* l = redisCommand(c, "XLEN %s", keys->element[i]->str);
    assert_non_null(l);
    n += l->integer;
    freeReplyObject(l);
  }
  freeReplyObject(keys);
  redisFree(c);
  return n;
}

static int setup(void** state) {
  (void)state;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  g_loop_thread = uv_thread_self();
  snprintf(g_tmp, sizeof g_tmp, "unused");
  tr_redis_flushall(&g_redis); /* every case starts empty */
  return 0;
}

static int teardown(void** state) {
  (void)state;
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&g_loop), 0);
  return 0;
}

/* Milliseconds on a monotonic clock. */
static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000;
}

/* Runs the loop one turn at a time until *flag is set, failing after ms. The store keeps
 * the loop alive while it has work, so each turn waits for something to happen. */
static void run_until(volatile int* flag, uint64_t ms) {
  uint64_t end = now_ms() + ms;
  while (!*flag) {
    if (now_ms() > end) fail_msg("nothing happened in %llu ms", (unsigned long long)ms);
    uv_run(&g_loop, UV_RUN_ONCE);
  }
}

static void on_keepalive(uv_timer_t* t) {
  (void)t;
}

static void on_keepalive_closed(uv_handle_t* h) {
  (void)h;
}

/* Runs the loop until the store's connection is up (under a deadline). A store that is down
 * with nothing in flight does not keep the loop alive (a server stops at once): a timer of
 * the test's own does meanwhile, as a server's listeners would. */
static void run_until_connected(uvc_store_t* s, uint64_t ms) {
  uint64_t end = now_ms() + ms;
  uv_timer_t alive;
  assert_int_equal(uv_timer_init(&g_loop, &alive), 0);
  assert_int_equal(uv_timer_start(&alive, on_keepalive, 20, 20), 0);
  while (!uvc_store_redis_connected(s)) {
    if (now_ms() > end) fail_msg("not connected in %llu ms", (unsigned long long)ms);
    uv_run(&g_loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t*)&alive, on_keepalive_closed);
  uv_run(&g_loop, UV_RUN_NOWAIT);
}

/* Runs the loop for ms (the store's timers with it), kept alive as above. */
static void run_for(uint64_t ms) {
  uint64_t end = now_ms() + ms;
  uv_timer_t alive;
  assert_int_equal(uv_timer_init(&g_loop, &alive), 0);
  assert_int_equal(uv_timer_start(&alive, on_keepalive, 20, 20), 0);
  while (now_ms() < end)
    uv_run(&g_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t*)&alive, on_keepalive_closed);
  uv_run(&g_loop, UV_RUN_NOWAIT);
}

/* ---- Redis's own cases ---- */

static void schema_and_path(void** state) {
  uvc_store_t* s;
  char want[64];
  (void)state;
  s = open_store(NULL);
  assert_int_equal(uvc_store_schema_version(s), UVC_REDIS_SCHEMA);
  snprintf(want, sizeof want, "redis://127.0.0.1:%d/0", g_redis.port);
  assert_string_equal(uvc_store_path(s), want);
  assert_int_equal(redis_int("GET uvchat:schema"), UVC_REDIS_SCHEMA);
  run_until_connected(s, 5000);
  close_store(s);
}

static void newer_schema_is_refused(void** state) {
  uvc_store_t* s = (uvc_store_t*)1;
  char err[512];
  (void)state;
  assert_int_equal(redis_int("SET uvchat:schema 99"), 0);
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "127.0.0.1", g_redis.port, NULL, 0, err, sizeof err),
      UVC_STORE_NEWER);
  assert_null(s);
  assert_non_null(strstr(err, "schema version 99 is newer"));
}

/* Two stores on one Redis are two servers of a cluster: each sees what the other wrote. */
static void two_servers_share_accounts_and_history(void** state) {
  uvc_store_t *a, *b;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  a = open_store(NULL);
  b = open_store(NULL);
  assert_int_equal(do_create(a, "Erin", "$argon2id$erin"), 0);
  assert_int_equal(do_create(b, "ERIN", "$argon2id$other"), UVC_STORE_EXISTS);
  assert_int_equal(do_get(b, "erin", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$erin");
  put(a, "", "#dev", "alice", T0 + 1, "from a", NULL);
  put(b, "", "#dev", "bob", T0 + 2, "from b", NULL);
  /* a late write from a (an older event, after b's newer one) still lands, after it */
  put(a, "", "#dev", "alice", T0 - 5, "late", NULL);
  assert_int_equal(fetch(b, UVC_HIST_LATEST, "", "#Dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "alice:from a");
  assert_string_equal(g_h.lines[1], "bob:from b");
  assert_string_equal(g_h.lines[2], "alice:late");
  assert_true(g_h.time_ms[2] == T0 - 5); /* its own time, kept */
  assert_int_equal(fetch(a, UVC_HIST_BEFORE, "", "#dev", 0, T0 - 5, 0, 10), 0); /* by its seq */
  assert_int_equal(g_h.n, 2);
  close_store(a);
  close_store(b);
}

static void url_form_and_database(void** state) {
  uvc_store_t *s = NULL, *d0;
  char url[128], err[512], hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/3", g_redis.port);
  assert_int_equal(uvc_store_open_redis_url(&s, &g_loop, url, err, sizeof err), 0);
  assert_int_equal(do_create(s, "dora", "$argon2id$d"), 0);
  d0 = open_store(NULL); /* database 0 is another store */
  assert_int_equal(do_get(d0, "dora", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  close_store(d0);
  close_store(s);
  assert_int_equal(uvc_store_open_redis_url(&s, &g_loop, "http://x:1", err, sizeof err),
                   UVC_STORE_INVALID);
  assert_int_equal(uvc_store_open_redis_url(&s, &g_loop, "redis://hostonly", err, sizeof err),
                   UVC_STORE_INVALID);
  assert_int_equal(uvc_store_open_redis_url(&s, &g_loop, "redis://h:99999", err, sizeof err),
                   UVC_STORE_INVALID);
  assert_non_null(strstr(err, "redis://h:99999")); /* the URL named in the reason */
  assert_null(s);
}

static void password_is_needed_and_used(void** state) {
  uvc_store_t* s = NULL;
  char url[160], err[512];
  (void)state;
  assert_int_equal(redis_int("CONFIG SET requirepass s3cret"), 0);
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "127.0.0.1", g_redis.port, NULL, 0, err, sizeof err),
      UVC_STORE_DB);
  assert_null(s);
  assert_non_null(strstr(err, "NOAUTH"));
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "127.0.0.1", g_redis.port, "wrong", 0, err, sizeof err),
      UVC_STORE_DB);
  snprintf(url, sizeof url, "redis://s3cret@127.0.0.1:%d", g_redis.port);
  assert_int_equal(uvc_store_open_redis_url(&s, &g_loop, url, err, sizeof err), 0);
  assert_int_equal(do_create(s, "pat", "$argon2id$p"), 0);
  close_store(s);
  {
    redisContext* c = peer();
    redisReply* r = redisCommand(c, "AUTH s3cret");
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG SET requirepass %s", "");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
  }
}

typedef struct flagged {
  int done;
  result_t r;
} flagged_t;

static void on_flag_done(void* data, int status) {
  flagged_t* f = data;
  on_done(&f->r, status);
  f->done = 1;
}

static void on_flag_get(void* data, int status, const char* hash) {
  flagged_t* f = data;
  on_get(&f->r, status, hash);
  f->done = 1;
}

/* Redis goes away: what was in flight fails promptly with UVC_STORE_DB, new requests fail at
 * once, closing does not hang; once it is back (empty) the store reconnects by itself. */
static void redis_down_fails_promptly_then_recovers(void** state) {
  uvc_store_t* s;
  flagged_t f;
  uint64_t t0;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(NULL);
  assert_int_equal(do_create(s, "vera", "$argon2id$v"), 0);
  tr_redis_kill(&g_redis);
  memset(&f, 0, sizeof f);
  t0 = now_ms();
  /* the store may not know yet: then the request goes out and fails when the link drops */
  if (uvc_store_get(s, &g_loop, "vera", on_flag_get, &f) == 0) {
    run_until(&f.done, 3000);
    assert_int_equal(f.r.status, UVC_STORE_DB);
    assert_int_equal(f.r.calls, 1);
    assert_int_equal(f.r.off_thread, 0);
  }
  assert_true(now_ms() - t0 < 3000);
  assert_false(uvc_store_redis_connected(s));
  /* down now: refused at once, no callback */
  memset(&f, 0, sizeof f);
  assert_int_equal(uvc_store_create(s, &g_loop, "walt", "$h", on_flag_done, &f), UVC_STORE_DB);
  {
    uvc_hist_rec_t e = {0};
    e.seq = 1;
    e.owner = "";
    e.target = "#dev";
    e.nick = "x";
    assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_flag_done, &f),
                     UVC_STORE_DB);
  }
  assert_int_equal(f.r.calls, 0);
  tr_redis_restart(&g_redis); /* empty, on the same port */
  run_until_connected(s, 10000);
  assert_int_equal(do_get(s, "vera", hash, sizeof hash), UVC_STORE_NOT_FOUND); /* it is empty */
  assert_int_equal(do_create(s, "vera", "$argon2id$again"), 0);
  put(s, "", "#dev", "vera", T0 + 1, "back", NULL);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_int_equal(redis_int("GET uvchat:schema"), UVC_REDIS_SCHEMA); /* written again */
  /* closing while Redis is down frees everything: the loop closes */
  tr_redis_kill(&g_redis);
  close_store(s);
  tr_redis_restart(&g_redis);
}

/* Redis emptied (or restarted without its data) and the counter back where it was: the
 * watch still reports, with the names there are now. */
static void watch_sees_a_counter_that_started_again(void** state) {
  uvc_store_t* s;
  wres_t w;
  (void)state;
  s = open_store(NULL);
  assert_int_equal(do_create(s, "ann", "$argon2id$a"), 0);
  assert_true(do_watch(s, &w));
  assert_false(do_watch(s, &w));
  tr_redis_flushall(&g_redis);
  assert_int_equal(do_create(s, "ben", "$argon2id$b"), 0); /* the counter is 1 again */
  assert_int_equal(redis_int("GET uvchat:accounts:version"), 1);
  assert_true(do_watch(s, &w));
  assert_int_equal(w.n, 1);
  assert_string_equal(w.names[0], "ben");
  close_store(s);
}

/* A server that has lost the scripts (SCRIPT FLUSH) fails the request that finds out, and
 * the store reconnects and loads them again. */
static void flushed_scripts_are_loaded_again(void** state) {
  uvc_store_t* s;
  flagged_t f;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(NULL);
  assert_int_equal(do_create(s, "sam", "$argon2id$s"), 0);
  assert_int_equal(redis_int("SCRIPT FLUSH"), 0);
  memset(&f, 0, sizeof f);
  assert_int_equal(uvc_store_set_hash(s, &g_loop, "sam", "$argon2id$t", on_flag_done, &f), 0);
  run_until(&f.done, 3000);
  assert_int_equal(f.r.status, UVC_STORE_DB);
  run_until_connected(s, 5000);
  assert_int_equal(do_set(s, "sam", "$argon2id$t"), 0);
  assert_int_equal(do_get(s, "sam", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$t");
  close_store(s);
}

/* A server that stops answering (SIGSTOP) fails what is in flight after
 * UVC_REDIS_TIMEOUT_MS rather than hang. */
static void stalled_redis_times_out(void** state) {
  uvc_store_t* s;
  flagged_t f;
  uint64_t t0;
  (void)state;
  s = open_store(NULL);
  run_until_connected(s, 5000);
  assert_int_equal(kill((pid_t)g_redis.pid, SIGSTOP), 0);
  memset(&f, 0, sizeof f);
  t0 = now_ms();
  assert_int_equal(uvc_store_get(s, &g_loop, "anyone", on_flag_get, &f), 0);
  run_until(&f.done, UVC_REDIS_TIMEOUT_MS + 3000);
  assert_int_equal(kill((pid_t)g_redis.pid, SIGCONT), 0);
  assert_int_equal(f.r.status, UVC_STORE_DB);
  assert_true(now_ms() - t0 >= UVC_REDIS_TIMEOUT_MS - 200);
  run_until_connected(s, 10000); /* and it comes back */
  close_store(s);
}

/* Redis is not there when the store opens (a cluster server started before its Redis): the
 * store opens at once anyway, its requests fail at once with UVC_STORE_DB (no callback), and
 * once a Redis answers on that address the store connects by itself and works. */
static void opened_while_redis_is_down_works_once_it_starts(void** state) {
  tr_redis_t late;
  uvc_store_t* s = NULL;
  flagged_t f;
  char err[512], hash[UVC_STORE_HASH_MAX + 1];
  uint64_t t0;
  (void)state;
  if (tr_redis_reserve(&late) != 0) skip();
  t0 = now_ms();
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "127.0.0.1", late.port, NULL, 0, err, sizeof err), 0);
  assert_non_null(s);
  assert_true(now_ms() - t0 < 1000);
  assert_false(uvc_store_redis_connected(s));
  run_for(300); /* a few reconnects, refused */
  memset(&f, 0, sizeof f);
  assert_int_equal(uvc_store_get(s, &g_loop, "nobody", on_flag_get, &f), UVC_STORE_DB);
  assert_int_equal(uvc_store_create(s, &g_loop, "walt", "$h", on_flag_done, &f), UVC_STORE_DB);
  assert_int_equal(f.r.calls, 0);
  tr_redis_restart(&late); /* Redis comes up on that port */
  run_until_connected(s, 10000);
  assert_int_equal(do_create(s, "lena", "$argon2id$l"), 0);
  assert_int_equal(do_get(s, "LENA", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$l");
  put(s, "", "#dev", "lena", T0 + 1, "late but there", NULL);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "lena:late but there");
  close_store(s);
  tr_redis_stop(&late);
}

/* Opened while Redis is down, by its name: the name is looked up off the loop, then the
 * store connects once Redis is there. And closing a store that never reached Redis is
 * immediate and frees everything. */
static void a_named_host_is_looked_up_and_closing_while_down_is_quick(void** state) {
  tr_redis_t late;
  uvc_store_t* s = NULL;
  char err[512], hash[UVC_STORE_HASH_MAX + 1];
  uint64_t t0;
  (void)state;
  if (tr_redis_reserve(&late) != 0) skip();
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "localhost", late.port, NULL, 0, err, sizeof err), 0);
  run_for(200);
  t0 = now_ms();
  close_store(s); /* the loop closes at once: nothing was waiting on Redis */
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "localhost", late.port, NULL, 0, err, sizeof err), 0);
  tr_redis_restart(&late);
  run_until_connected(s, 10000);
  assert_int_equal(do_get(s, "nobody", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  close_store(s);
  tr_redis_stop(&late);
}

/* A Redis that answers only after the start, and refuses the store (here: a password it
 * does not have): the store stays unavailable and keeps trying (the log says why, as an
 * error), rather than run on a connection it cannot use. */
static void a_late_redis_that_refuses_keeps_it_unavailable(void** state) {
  tr_redis_t late;
  uvc_store_t* s = NULL;
  flagged_t f;
  char err[512];
  (void)state;
  if (tr_redis_reserve(&late) != 0) skip();
  assert_int_equal(
      uvc_store_open_redis(&s, &g_loop, "127.0.0.1", late.port, "wrong", 0, err, sizeof err), 0);
  tr_redis_restart(&late); /* no password set: AUTH is refused */
  run_for(1000);
  assert_false(uvc_store_redis_connected(s));
  memset(&f, 0, sizeof f);
  assert_int_equal(uvc_store_get(s, &g_loop, "nobody", on_flag_get, &f), UVC_STORE_DB);
  close_store(s);
  tr_redis_stop(&late);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      STORE_CASES(setup, teardown),
      cmocka_unit_test_setup_teardown(schema_and_path, setup, teardown),
      cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(two_servers_share_accounts_and_history, setup, teardown),
      cmocka_unit_test_setup_teardown(url_form_and_database, setup, teardown),
      cmocka_unit_test_setup_teardown(password_is_needed_and_used, setup, teardown),
      cmocka_unit_test_setup_teardown(opened_while_redis_is_down_works_once_it_starts, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_named_host_is_looked_up_and_closing_while_down_is_quick,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(a_late_redis_that_refuses_keeps_it_unavailable, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(redis_down_fails_promptly_then_recovers, setup, teardown),
      cmocka_unit_test_setup_teardown(watch_sees_a_counter_that_started_again, setup, teardown),
      cmocka_unit_test_setup_teardown(flushed_scripts_are_loaded_again, setup, teardown),
      cmocka_unit_test_setup_teardown(stalled_redis_times_out, setup, teardown),
  };
  TR_REDIS_RUN_GROUP(&g_redis, tests);
}
