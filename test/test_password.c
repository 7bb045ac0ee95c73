/* test_password.c: password rules, and Argon2id hashing and checking on the thread pool:
 * results, the hash format, the wipe of the password copy, and cancellation. */
#include <string.h>
#include <uv.h>
#include "unit.h"

#include "uvchat/password.h"

static uv_loop_t g_loop;
static uv_thread_t g_loop_thread;

typedef struct result {
  int calls;
  int status;
  int on_loop_thread;
  char hash[UVC_PASSWORD_HASH_MAX + 1];
} result_t;

static void on_hash(void* data, int status, const char* hash) {
  result_t* r = data;
  uv_thread_t self = uv_thread_self();
  r->calls++;
  r->status = status;
  r->on_loop_thread = uv_thread_equal(&self, &g_loop_thread);
  if (hash != NULL) {
    assert_true(strlen(hash) < sizeof r->hash);
    strcpy(r->hash, hash);
  }
}

static void on_verify(void* data, int ok) {
  result_t* r = data;
  uv_thread_t self = uv_thread_self();
  r->calls++;
  r->status = ok;
  r->on_loop_thread = uv_thread_equal(&self, &g_loop_thread);
}

/* Hashes pw with the current limits; the hash string goes to out. */
static void hash_now(const char* pw, result_t* out) {
  memset(out, 0, sizeof(*out));
  assert_int_equal(uvc_password_hash(&g_loop, pw, strlen(pw), on_hash, out), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(out->calls, 1);
  assert_int_equal(out->status, 0);
}

/* Checks pw against hash; returns the callback's ok. */
static int verify_now(const char* hash, const char* pw, size_t len) {
  result_t r;
  memset(&r, 0, sizeof r);
  assert_int_equal(uvc_password_verify(&g_loop, hash, pw, len, on_verify, &r), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 1);
  assert_true(r.on_loop_thread);
  return r.status;
}

static int setup(void** state) {
  (void)state;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  g_loop_thread = uv_thread_self();
  assert_int_equal(uvc_password_init(), 0);
  uvc_password_use_min_limits(); /* a millisecond per hash */
  return 0;
}

static int teardown(void** state) {
  (void)state;
  uvc_password_set_wipe_hook(NULL);
  assert_int_equal(uv_loop_close(&g_loop), 0);
  return 0;
}

static void rules(void** state) {
  static const char ctl[] = "abc\tdefgh";
  static const char nul[] = "abcd\0efgh";
  static const char c1[] = "abcdefg\xC2\x85";
  (void)state;
  assert_null(uvc_password_problem("correct horse", 13));
  assert_null(uvc_password_problem("12345678", 8));
  assert_null(uvc_password_problem("  spaced out  ", 14));
  assert_null(uvc_password_problem("p\xC3\xA4ssw\xC3\xB6rd", 10)); /* UTF-8 letters */
  assert_non_null(uvc_password_problem("1234567", 7));
  assert_non_null(uvc_password_problem("", 0));
  {
    char big[UVC_PASSWORD_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_null(uvc_password_problem(big, UVC_PASSWORD_MAX));
    assert_non_null(uvc_password_problem(big, UVC_PASSWORD_MAX + 1));
  }
  assert_non_null(uvc_password_problem(ctl, sizeof ctl - 1));
  assert_non_null(uvc_password_problem(nul, sizeof nul - 1));
  assert_non_null(uvc_password_problem("abcdefg\x7F", 8));
  assert_non_null(uvc_password_problem(c1, sizeof c1 - 1));
  assert_non_null(uvc_password_problem("          ", 10));
  assert_string_equal(uvc_password_problem("short", 5),
                      "too short: a password needs at least 8 bytes");
  /* Other bounds (the --account-password-min and -max settings) are named in the reason. */
  assert_string_equal(uvc_password_check("1234567890", 10, 12, 300),
                      "too short: a password needs at least 12 bytes");
  assert_null(uvc_password_check("123456789012", 12, 12, 300));
  {
    char big[301];
    memset(big, 'x', sizeof big);
    assert_null(uvc_password_check(big, 300, 8, 300));
    assert_string_equal(uvc_password_check(big, 301, 8, 300),
                        "too long: a password may have at most 300 bytes");
  }
  assert_null(uvc_password_check("abc", 3, 1, 300));
  assert_non_null(uvc_password_check("", 0, 1, 300));
}

static void hash_then_verify(void** state) {
  result_t h;
  (void)state;
  hash_now("correct horse battery", &h);
  assert_true(h.on_loop_thread);
  assert_memory_equal(h.hash, "$argon2id$", 10);
  assert_int_equal(verify_now(h.hash, "correct horse battery", 21), 1);
  assert_int_equal(verify_now(h.hash, "correct horse batterY", 21), 0);
  assert_int_equal(verify_now(h.hash, "correct horse battery", 20), 0); /* a prefix */
  assert_int_equal(verify_now(h.hash, "", 0), 0);
  assert_int_equal(verify_now("not a hash", "correct horse battery", 21), 0);
  assert_int_equal(uvc_password_pending(), 0);
}

static void same_password_gets_a_new_salt(void** state) {
  result_t a, b;
  (void)state;
  hash_now("same old password", &a);
  hash_now("same old password", &b);
  assert_string_not_equal(a.hash, b.hash);
  assert_int_equal(verify_now(b.hash, "same old password", 17), 1);
}

static void cost_parameters(void** state) {
  result_t h;
  unsigned long long ops;
  size_t mem;
  (void)state;
  assert_int_equal(uvc_password_set_limits(0, 0), 0); /* the INTERACTIVE defaults */
  uvc_password_get_limits(&ops, &mem);
  assert_int_equal(ops, 2);
  assert_int_equal(mem, 64u * 1024 * 1024);
  assert_int_equal(uvc_password_set_limits(0, 1), UVC_PASSWORD_EINVAL);
  uvc_password_use_min_limits();
  hash_now("a cheap hash", &h);
  assert_non_null(strstr(h.hash, "$m=8,t=1,p=1$"));
  assert_int_equal(uvc_password_needs_rehash(h.hash), 0);
  assert_int_equal(uvc_password_set_limits(3, 8192), 0);
  assert_int_equal(uvc_password_needs_rehash(h.hash), 1); /* made with a lower cost */
  assert_int_equal(uvc_password_needs_rehash("garbage"), -1);
  uvc_password_use_min_limits();
}

static void bad_arguments_fail_at_once(void** state) {
  result_t r;
  char big[UVC_PASSWORD_MAX + 1];
  char long_hash[UVC_PASSWORD_HASH_MAX + 2];
  (void)state;
  memset(&r, 0, sizeof r);
  memset(big, 'x', sizeof big);
  memset(long_hash, '$', sizeof long_hash - 1);
  long_hash[sizeof long_hash - 1] = '\0';
  assert_int_equal(uvc_password_hash(&g_loop, big, sizeof big, on_hash, &r), UVC_PASSWORD_EINVAL);
  assert_int_equal(uvc_password_verify(&g_loop, long_hash, "password", 8, on_verify, &r),
                   UVC_PASSWORD_EINVAL);
  assert_int_equal(uvc_password_verify(&g_loop, NULL, "password", 8, on_verify, &r),
                   UVC_PASSWORD_EINVAL);
  assert_int_equal(uvc_password_hash(NULL, "password", 8, on_hash, &r), UVC_PASSWORD_EINVAL);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 0);
  assert_int_equal(uvc_password_pending(), 0);
}

/* The wipe hook: counts requests and checks that their password buffer is all zeros. */
static int g_wiped, g_dirty;
static void wipe_hook(const unsigned char* buf, size_t cap) {
  size_t i;
  assert_int_equal(cap, UVC_PASSWORD_MAX);
  for (i = 0; i < cap; i++)
    if (buf[i] != 0) g_dirty++;
  g_wiped++;
}

static void password_copy_is_wiped(void** state) {
  result_t h;
  /* a password that fills the whole buffer, so a missed wipe of any byte shows */
  char pw[UVC_PASSWORD_MAX + 1];
  (void)state;
  memset(pw, 'S', UVC_PASSWORD_MAX);
  pw[UVC_PASSWORD_MAX] = '\0';
  g_wiped = g_dirty = 0;
  uvc_password_set_wipe_hook(wipe_hook);
  hash_now(pw, &h);
  assert_int_equal(verify_now(h.hash, pw, UVC_PASSWORD_MAX), 1);
  assert_int_equal(verify_now(h.hash, "wrong password", 14), 0);
  assert_int_equal(g_wiped, 3);
  assert_int_equal(g_dirty, 0);
  uvc_password_set_wipe_hook(NULL);
}

/* Blocks one thread-pool thread until the semaphore is posted. */
static uv_sem_t g_gate;
static void block_work(uv_work_t* w) {
  (void)w;
  uv_sem_wait(&g_gate);
}
static void block_done(uv_work_t* w, int status) {
  (void)w;
  assert_int_equal(status, 0);
}

static void queued_requests_can_be_cancelled_and_are_wiped(void** state) {
  enum { POOL = 4 }; /* UV_THREADPOOL_SIZE, set in main() */
  uv_work_t blockers[POOL];
  result_t h[3];
  char pw[UVC_PASSWORD_MAX];
  int i;
  (void)state;
  memset(pw, 'C', sizeof pw);
  memset(h, 0, sizeof h);
  assert_int_equal(uv_sem_init(&g_gate, 0), 0);
  for (i = 0; i < POOL; i++) /* every thread busy: the hashes below wait in the queue */
    assert_int_equal(uv_queue_work(&g_loop, &blockers[i], block_work, block_done), 0);
  g_wiped = g_dirty = 0;
  uvc_password_set_wipe_hook(wipe_hook);
  assert_int_equal(uvc_password_hash(&g_loop, pw, sizeof pw, on_hash, &h[0]), 0);
  assert_int_equal(uvc_password_verify(&g_loop, "$argon2id$x", pw, sizeof pw, on_verify, &h[1]), 0);
  assert_int_equal(uvc_password_hash(&g_loop, pw, sizeof pw, on_hash, &h[2]), 0);
  assert_int_equal(uvc_password_pending(), 3);
  assert_int_equal(uvc_password_cancel_all(&g_loop), 3);
  /* two were queued to libuv (behind the blockers): they answer later, from the loop; the
   * third was still waiting in line (UVC_PASSWORD_RUNNING is 2): it answered at once */
  assert_int_equal(h[0].calls, 0);
  assert_int_equal(h[1].calls, 0);
  assert_int_equal(h[2].calls, 1);
  assert_int_equal(uvc_password_pending(), 2);
  for (i = 0; i < POOL; i++)
    uv_sem_post(&g_gate);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(h[i].calls, 1);
    assert_int_equal(h[i].status, UVC_PASSWORD_CANCELED);
    assert_true(h[i].on_loop_thread);
  }
  assert_int_equal(g_wiped, 3);
  assert_int_equal(g_dirty, 0);
  assert_int_equal(uvc_password_pending(), 0);
  assert_int_equal(uvc_password_cancel_all(&g_loop), 0);
  uvc_password_set_wipe_hook(NULL);
  uv_sem_destroy(&g_gate);
}

/* A bounded line: beyond UVC_PASSWORD_RUNNING + waiting requests, BUSY at once. */
static void too_many_requests_are_refused(void** state) {
  result_t h[4];
  int i;
  (void)state;
  memset(h, 0, sizeof h);
  assert_int_equal(uvc_password_set_concurrency(0, 1), UVC_PASSWORD_EINVAL);
  assert_int_equal(uvc_password_set_concurrency(1, 2), 0);
  assert_int_equal(uvc_password_set_hash_waiting(2), 0);
  for (i = 0; i < 3; i++) /* one runs, two wait */
    assert_int_equal(uvc_password_hash(&g_loop, "password", 8, on_hash, &h[i]), 0);
  assert_int_equal(uvc_password_hash(&g_loop, "password", 8, on_hash, &h[3]), UVC_PASSWORD_BUSY);
  assert_int_equal(uvc_password_pending(), 3);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(h[i].calls, 1);
    assert_int_equal(h[i].status, 0);
    assert_true(h[i].on_loop_thread);
  }
  assert_int_equal(h[3].calls, 0);
  assert_int_equal(uvc_password_pending(), 0);
  assert_int_equal(uvc_password_set_concurrency(UVC_PASSWORD_RUNNING, UVC_PASSWORD_WAITING), 0);
  assert_int_equal(uvc_password_set_hash_waiting(UVC_PASSWORD_WAITING_HASH), 0);
}

/* Checks (logins) never wait behind new hashes (registrations): hashes leave one running
 * slot free, a full hash lane does not refuse a check, and waiting checks start first. */
static void checks_go_before_new_hashes(void** state) {
  result_t h[6], v[3], ref;
  int i;
  (void)state;
  hash_now("correct horse", &ref);
  memset(h, 0, sizeof h);
  memset(v, 0, sizeof v);
  assert_int_equal(uvc_password_set_concurrency(2, 8), 0);
  assert_int_equal(uvc_password_set_hash_waiting(4), 0);
  for (i = 0; i < 5; i++) /* one runs (the other slot is kept for checks), four wait */
    assert_int_equal(uvc_password_hash(&g_loop, "password", 8, on_hash, &h[i]), 0);
  assert_int_equal(uvc_password_waiting(), 4);
  assert_int_equal(uvc_password_hash(&g_loop, "password", 8, on_hash, &h[5]), UVC_PASSWORD_BUSY);
  /* the check starts at once, in the slot hashes may not take */
  assert_int_equal(uvc_password_verify(&g_loop, ref.hash, "correct horse", 13, on_verify, &v[0]),
                   0);
  assert_int_equal(uvc_password_waiting(), 4);
  /* two more checks wait, ahead of the four hashes */
  assert_int_equal(uvc_password_verify(&g_loop, ref.hash, "correct horse", 13, on_verify, &v[1]),
                   0);
  assert_int_equal(uvc_password_verify(&g_loop, ref.hash, "wrong horse", 11, on_verify, &v[2]), 0);
  assert_int_equal(uvc_password_waiting(), 6);
  /* run until every check is answered: the hashes that waited start only as checks finish,
   * one at a time, so the last of them cannot be done yet (it needs four hashes in a row
   * to finish while the last check, started before the second of them, runs) */
  while (v[0].calls + v[1].calls + v[2].calls < 3)
    assert_true(uv_run(&g_loop, UV_RUN_ONCE) != 0 || v[0].calls + v[1].calls + v[2].calls == 3);
  assert_int_equal(v[0].status, 1);
  assert_int_equal(v[1].status, 1);
  assert_int_equal(v[2].status, 0);
  assert_int_equal(h[4].calls, 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 5; i++)
    assert_int_equal(h[i].calls, 1);
  assert_int_equal(h[5].calls, 0);
  assert_int_equal(uvc_password_set_concurrency(UVC_PASSWORD_RUNNING, UVC_PASSWORD_WAITING), 0);
  assert_int_equal(uvc_password_set_hash_waiting(UVC_PASSWORD_WAITING_HASH), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rules),
      cmocka_unit_test(hash_then_verify),
      cmocka_unit_test(same_password_gets_a_new_salt),
      cmocka_unit_test(cost_parameters),
      cmocka_unit_test(bad_arguments_fail_at_once),
      cmocka_unit_test(password_copy_is_wiped),
      cmocka_unit_test(queued_requests_can_be_cancelled_and_are_wiped),
      cmocka_unit_test(too_many_requests_are_refused),
      cmocka_unit_test(checks_go_before_new_hashes),
  };
  uv_os_setenv("UV_THREADPOOL_SIZE", "4"); /* before the pool starts */
  return cmocka_run_group_tests(tests, setup, teardown);
}
