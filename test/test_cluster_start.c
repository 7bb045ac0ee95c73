/* test_cluster_start.c: a cluster server (--cluster) started before its Redis: it starts,
 * local chat works, and what needs the shared accounts and history says it is unavailable;
 * once a real redis-server starts on that address, accounts work without a restart and a
 * second server on it sees the first one's users. Also: a server whose Redis never came
 * stops at once and cleanly, and a Redis that comes late and refuses the password is said
 * in the log as an error while the server keeps serving. Skipped where there is no
 * redis-server. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"
#include "redis_server.h"

static tr_redis_t redis; /* reserved (a free port), started by the test when it wants */
static th_server_t one, two;
static char url[96];
static char lease[16]; /* --cluster-lease: 2 s, stretched like every deadline */

/* A free port for Redis, not listened on yet, and the URL of it. */
static int reserve(void** state) {
  (void)state;
  if (tr_redis_reserve(&redis) != 0) {
    redis.port = 0;
    return 0; /* no redis-server: each test skips */
  }
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", redis.port);
  snprintf(lease, sizeof(lease), "%.1f", (double)th_ms(2000) / 1000.0);
  return 0;
}

static int stop_all(void** state) {
  int ok = 1;
  (void)state;
  ok &= th_server_stop_checked(&one);
  th_server_free(&one);
  ok &= th_server_stop_checked(&two);
  th_server_free(&two);
  memset(&one, 0, sizeof(one));
  memset(&two, 0, sizeof(two));
  if (redis.port != 0) tr_redis_stop(&redis);
  memset(&redis, 0, sizeof(redis));
  return ok ? 0 : -1;
}

#define NEED_REDIS()                                 \
  do {                                               \
    if (redis.port == 0) {                           \
      fprintf(stderr, "no redis-server: skipped\n"); \
      skip();                                        \
    }                                                \
  } while (0)

/* Starts srv as the cluster member name, on url. */
static void start_member(th_server_t* srv, const char* name) {
  const char* args[] = {"--cluster", url, "--cluster-name", name, "--cluster-lease", lease, NULL};
  th_server_start(srv, args);
}

/* The first server starts with nothing on Redis's port; Redis comes; accounts then work
 * there, and a second server started on that Redis sees its user. */
static void starts_before_redis_and_catches_up(void** state) {
  th_client_t *a, *b, *c, *d;
  const char* l;
  size_t mark;
  (void)state;
  NEED_REDIS();
  start_member(&one, "early"); /* its port answers: th_server_start read "listening on" */
  assert_true(th_server_logged(&one, "starting without it"));

  /* Local chat works. */
  a = th_text_connect(one.port);
  b = th_text_connect(one.port);
  th_sendf(a, "hello before redis\n");
  assert_non_null(th_skip_containing(b, "> hello before redis"));

  /* What needs the accounts says so, in words. */
  th_sendf(a, "/login nobody correct horse\n");
  th_expect_eventually(a, "! the account database failed; try again later");
  th_sendf(b, "/register correct horse\n");
  th_expect_eventually(b, "! the account database failed; try again later");

  /* Redis starts on that port: the store and the cluster connect, no restart. */
  tr_redis_restart(&redis);
  assert_true(th_server_wait_log(&one, "store: connected to", th_ms(TH_WAIT_MS)));
  assert_true(th_server_wait_log(&one, "cluster: connected to Redis", th_ms(TH_WAIT_MS)));

  /* A user takes a nick, registers, and logs in from a second connection (which takes the
   * account's nick: the first one becomes a guest). */
  th_sendf(a, "/nick carla\n");
  assert_non_null(th_skip_containing(a, "is now known as carla"));
  th_sendf(a, "/register correct horse\n");
  th_expect_eventually(a, "*** Account carla registered; you are logged in.");
  c = th_text_connect(one.port);
  mark = th_server_log_mark(&one);
  th_sendf(c, "/login carla correct horse\n");
  th_expect_eventually(c, "*** You are logged in as carla.");
  assert_true(th_server_wait_log_since(&one, mark, "is now carla", th_ms(TH_WAIT_MS)));

  /* A second server on the same Redis sees carla, and its users reach her. */
  start_member(&two, "late");
  assert_true(th_server_wait_log(&two, "cluster: connected to Redis", th_ms(TH_WAIT_MS)));
  assert_true(th_server_wait_log(&two, "cluster: ghost carla of server early", th_ms(TH_WAIT_MS)));
  d = th_text_connect(two.port);
  th_sendf(d, "/who\n");
  assert_non_null(th_skip_containing(d, "people in #lobby:"));
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_non_null(strstr(l, "carla"));
  th_sendf(d, "/msg carla hello from the late one\n");
  assert_non_null(th_skip_containing(c, "> hello from the late one"));
  assert_non_null(strstr(c->line, "[private] <"));
  th_close(a);
  th_close(b);
  th_close(c);
  th_close(d);
}

/* A server whose Redis never comes stops at once when told, and cleanly (no leak under
 * valgrind): nothing waits on Redis. */
static void stops_at_once_while_redis_never_came(void** state) {
  th_client_t* a;
  uint64_t t0;
  int status;
  (void)state;
  NEED_REDIS();
  start_member(&one, "alone");
  a = th_text_connect(one.port);
  th_sendf(a, "/history\n"); /* a read the store refuses */
  assert_non_null(th_skip_containing(a, "the account database failed"));
  th_close(a);
  t0 = uv_now(th_loop());
  th_server_kill(&one, SIGTERM);
  status = th_server_wait(&one, th_ms(5000));
  assert_int_equal(status, 0);
  assert_true(th_server_logged(&one, "stopped cleanly"));
  assert_true(uv_now(th_loop()) - t0 < th_ms(5000));
}

/* Redis comes late and refuses the server's password: the server says so as an error (a
 * misconfiguration) and keeps trying, serving its local users meanwhile. (What a user is
 * told then depends on the cluster's connection, which counts itself up before its AUTH is
 * answered: not checked here.) */
static void a_late_redis_that_refuses_is_an_error_in_the_log(void** state) {
  th_client_t *a, *b;
  char bad[128];
  const char* args[] = {"--cluster", bad, "--cluster-name", "wrongpw", "--cluster-lease",
                        lease,       NULL};
  (void)state;
  NEED_REDIS();
  snprintf(bad, sizeof(bad), "redis://wrong@127.0.0.1:%d", redis.port);
  th_server_start(&one, args);
  tr_redis_restart(&redis); /* it has no password: AUTH is refused */
  assert_true(th_server_wait_log(&one, "error store: redis://127.0.0.1", th_ms(TH_WAIT_MS)));
  assert_true(th_server_wait_log(&one, "AUTH", th_ms(TH_WAIT_MS)));
  /* the cluster's notices come and go meanwhile: every wait skips what it does not want */
  b = th_connect(one.port, 0, 1);
  assert_non_null(th_skip_containing(b, "Welcome to uvchat"));
  a = th_connect(one.port, 0, 1);
  assert_non_null(th_skip_containing(a, "Welcome to uvchat"));
  th_sendf(a, "still here\n");
  assert_non_null(th_skip_containing(b, "> still here"));
  th_close(a);
  th_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(starts_before_redis_and_catches_up, reserve, stop_all),
      cmocka_unit_test_setup_teardown(stops_at_once_while_redis_never_came, reserve, stop_all),
      cmocka_unit_test_setup_teardown(a_late_redis_that_refuses_is_an_error_in_the_log, reserve,
                                      stop_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
