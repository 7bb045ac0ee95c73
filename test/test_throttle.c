/* test_throttle.c: the login throttle: locking after failures, the sliding window, reset,
 * independent keys, case folding, pruning and the size limit; pending attempts; and the
 * login guard's rules (per name and address, per address, a name's ceiling that known
 * addresses skip). */
#include <stdio.h>
#include <string.h>
#include "unit.h"

#include "uvchat/throttle.h"

#define MIN 60000 /* the default window, in ms */

static int allowed(uvc_throttle_t* t, const char* key, uint64_t now, uint64_t* retry) {
  return uvc_throttle_allowed(t, key, strlen(key), now, retry);
}
static int failure(uvc_throttle_t* t, const char* key, uint64_t now) {
  return uvc_throttle_fail(t, key, strlen(key), now);
}

static void three_failures_lock_for_the_window(void** state) {
  uvc_throttle_t t;
  uint64_t retry = 0;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  assert_true(allowed(&t, "alice", 1000, &retry));
  assert_int_equal(failure(&t, "alice", 1000), 0);
  assert_int_equal(failure(&t, "alice", 2000), 0);
  assert_true(allowed(&t, "alice", 2500, &retry));
  assert_int_equal(failure(&t, "alice", 3000), 1); /* the third locks */
  assert_false(allowed(&t, "alice", 3000, &retry));
  assert_int_equal(retry, 58000); /* until the first failure is a minute old */
  assert_false(allowed(&t, "alice", 60999, &retry));
  assert_int_equal(retry, 1);
  assert_true(allowed(&t, "alice", 61000, &retry));
  /* sliding: one more failure now, and the second and third are still in the window */
  assert_int_equal(failure(&t, "alice", 61000), 1);
  assert_false(allowed(&t, "alice", 61000, &retry));
  assert_int_equal(retry, 1000); /* until the failure at 2000 expires */
  assert_true(allowed(&t, "alice", 62000, NULL));
  uvc_throttle_free(&t);
}

static void success_resets(void** state) {
  uvc_throttle_t t;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  failure(&t, "bob", 10);
  failure(&t, "bob", 20);
  uvc_throttle_reset(&t, "bob", 3);
  assert_int_equal(uvc_throttle_count(&t), 0);
  assert_int_equal(failure(&t, "bob", 30), 0);
  assert_int_equal(failure(&t, "bob", 40), 0);
  assert_true(allowed(&t, "bob", 50, NULL));
  failure(&t, "bob", 50);
  assert_false(allowed(&t, "bob", 60, NULL));
  uvc_throttle_reset(&t, "bob", 3); /* a success after the lock ends (e.g. another way in) */
  assert_true(allowed(&t, "bob", 60, NULL));
  uvc_throttle_reset(&t, "nobody", 6); /* unknown keys are fine */
  uvc_throttle_free(&t);
}

static void keys_are_independent(void** state) {
  uvc_throttle_t t;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  failure(&t, "alice", 1);
  failure(&t, "alice", 2);
  failure(&t, "alice", 3);
  failure(&t, "192.0.2.7", 4);
  failure(&t, "192.0.2.7", 5);
  assert_false(allowed(&t, "alice", 10, NULL));
  assert_true(allowed(&t, "alicia", 10, NULL));
  assert_true(allowed(&t, "alic", 10, NULL));
  assert_true(allowed(&t, "192.0.2.7", 10, NULL));
  assert_true(allowed(&t, "192.0.2.70", 10, NULL));
  assert_int_equal(uvc_throttle_count(&t), 2);
  uvc_throttle_free(&t);
}

static void names_fold_ascii_case(void** state) {
  uvc_throttle_t t;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  failure(&t, "Alice", 1);
  failure(&t, "ALICE", 2);
  assert_int_equal(failure(&t, "alice", 3), 1);
  assert_false(allowed(&t, "aLiCe", 4, NULL));
  assert_int_equal(uvc_throttle_count(&t), 1);
  uvc_throttle_reset(&t, "ALICE", 5);
  assert_true(allowed(&t, "alice", 5, NULL));
  /* IPv6 addresses in either case are one key too */
  failure(&t, "2001:DB8::1", 6);
  failure(&t, "2001:db8::1", 7);
  assert_int_equal(failure(&t, "2001:Db8::1", 8), 1);
  uvc_throttle_free(&t);
}

static void prune_forgets_expired_keys_only(void** state) {
  uvc_throttle_t t;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  failure(&t, "old", 1000);
  failure(&t, "mid", 20000);
  failure(&t, "old", 30000); /* old's last failure is now the most recent but one */
  failure(&t, "new", 50000);
  assert_int_equal(uvc_throttle_count(&t), 3);
  assert_int_equal(uvc_throttle_prune(&t, 79999), 0);
  assert_int_equal(uvc_throttle_prune(&t, 80000), 1); /* mid: last failure at 20000 */
  assert_int_equal(uvc_throttle_count(&t), 2);
  assert_int_equal(uvc_throttle_prune(&t, 90000), 1);  /* old */
  assert_int_equal(uvc_throttle_prune(&t, 110000), 1); /* new */
  assert_int_equal(uvc_throttle_count(&t), 0);
  assert_true(allowed(&t, "old", 110000, NULL));
  uvc_throttle_free(&t);
}

static void full_table_forgets_the_stalest_key(void** state) {
  uvc_throttle_t t;
  char key[32];
  int i;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  t.max_keys = 100;
  for (i = 0; i < 3; i++)
    failure(&t, "locked", (uint64_t)i);
  for (i = 0; i < 300; i++) {
    snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
    assert_true(failure(&t, key, 100 + (uint64_t)i) >= 0);
    assert_true(uvc_throttle_count(&t) <= 100);
  }
  assert_int_equal(uvc_throttle_count(&t), 100);
  assert_true(allowed(&t, "locked", 500, NULL)); /* forgotten first: the stalest */
  snprintf(key, sizeof key, "10.0.%d.%d", 299 / 256, 299 % 256);
  failure(&t, key, 501);
  failure(&t, key, 502);
  assert_false(allowed(&t, key, 503, NULL)); /* recent keys are kept */
  uvc_throttle_free(&t);
}

static void bad_parameters_and_long_keys(void** state) {
  uvc_throttle_t t;
  char a[400], b[400];
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 0, MIN), UVC_THROTTLE_EINVAL);
  assert_int_equal(uvc_throttle_init(&t, 3, 0), UVC_THROTTLE_EINVAL);
  assert_int_equal(uvc_throttle_init(&t, UVC_THROTTLE_FAILURES_MAX + 1, MIN), UVC_THROTTLE_EINVAL);
  uvc_throttle_free(&t);
  assert_int_equal(uvc_throttle_init(&t, 1, 10), 0);
  memset(a, 'k', sizeof a);
  memcpy(b, a, sizeof b);
  b[sizeof b - 1] = 'z'; /* differs only after UVC_THROTTLE_KEY_MAX bytes */
  assert_int_equal(uvc_throttle_fail(&t, a, sizeof a, 0), 1);
  assert_false(uvc_throttle_allowed(&t, b, sizeof b, 5, NULL));
  assert_true(uvc_throttle_allowed(&t, b, sizeof b, 10, NULL));
  uvc_throttle_free(&t);
}

static void pending_attempts_count_in_advance(void** state) {
  uvc_throttle_t t;
  uint64_t retry = 99;
  (void)state;
  assert_int_equal(uvc_throttle_init(&t, 3, MIN), 0);
  failure(&t, "alice", 1000);
  assert_int_equal(uvc_throttle_recent(&t, "alice", 5, 1000), 1);
  assert_true(uvc_throttle_allowed_pending(&t, "alice", 5, 1000, 1, &retry));
  assert_false(uvc_throttle_allowed_pending(&t, "alice", 5, 1000, 2, &retry));
  assert_int_equal(retry, 0); /* only the running ones lock it: no time to wait out */
  failure(&t, "alice", 2000);
  failure(&t, "alice", 3000);
  assert_false(uvc_throttle_allowed_pending(&t, "alice", 5, 3000, 0, &retry));
  assert_int_equal(retry, 58000);
  assert_int_equal(uvc_throttle_recent(&t, "alice", 5, 61000), 2); /* the first expired */
  assert_int_equal(uvc_throttle_recent(&t, "nobody", 6, 61000), 0);
  uvc_throttle_free(&t);
}

/* The guard with the defaults: 3 per (name, address), 10 per address, 20 per name. */
static void guess(uvc_guard_t* g, const char* name, const char* addr, uint64_t now) {
  uvc_guard_fail(g, name, strlen(name), addr, now);
}
static uvc_guard_verdict_t check(uvc_guard_t* g, const char* name, const char* addr, uint64_t now,
                                 uint64_t* retry) {
  return uvc_guard_check(g, name, strlen(name), addr, NULL, now, retry);
}

static void a_guesser_cannot_lock_the_owner_out(void** state) {
  uvc_guard_t g;
  uint64_t retry = 0, now = 1000;
  int i;
  (void)state;
  assert_int_equal(uvc_guard_init(&g, NULL), 0);
  for (i = 0; i < 3; i++)
    guess(&g, "alice", "198.51.100.7", now++);
  assert_int_equal(check(&g, "alice", "198.51.100.7", now, &retry), UVC_GUARD_PAIR);
  assert_true(retry > 0 && retry <= MIN);
  /* the owner, from another address, never logged in before: still allowed */
  assert_int_equal(check(&g, "alice", "203.0.113.9", now, NULL), UVC_GUARD_OK);
  /* the guesser may still try other names (its address has 3 of 10) */
  assert_int_equal(check(&g, "bob", "198.51.100.7", now, NULL), UVC_GUARD_OK);
  /* a minute later the pair is free again: a few guesses per name per minute */
  assert_int_equal(check(&g, "alice", "198.51.100.7", 1000 + MIN, NULL), UVC_GUARD_OK);
  uvc_guard_free(&g);
}

static void one_address_spraying_names_is_stopped(void** state) {
  uvc_guard_t g;
  char name[16];
  uint64_t retry = 0;
  int i;
  (void)state;
  assert_int_equal(uvc_guard_init(&g, NULL), 0);
  for (i = 0; i < UVC_GUARD_DEFAULT_ADDR; i++) {
    snprintf(name, sizeof name, "user%d", i);
    assert_int_equal(check(&g, name, "198.51.100.7", 100 + (uint64_t)i, NULL), UVC_GUARD_OK);
    guess(&g, name, "198.51.100.7", 100 + (uint64_t)i);
  }
  assert_int_equal(check(&g, "fresh", "198.51.100.7", 200, &retry), UVC_GUARD_ADDR);
  assert_int_equal(retry, MIN - 100);
  assert_int_equal(check(&g, "fresh", "198.51.100.8", 200, NULL), UVC_GUARD_OK);
  uvc_guard_free(&g);
}

static void many_addresses_hit_the_ceiling_but_known_ones_pass(void** state) {
  uvc_guard_t g;
  char addr[32];
  uint64_t retry = 0;
  int i;
  (void)state;
  assert_int_equal(uvc_guard_init(&g, NULL), 0);
  /* the owner logs in from home once */
  uvc_guard_success(&g, "alice", 5, "203.0.113.9", 10);
  assert_true(uvc_guard_known(&g, "ALICE", 5, "203.0.113.9", 20));
  assert_false(uvc_guard_known(&g, "alice", 5, "203.0.113.10", 20));
  /* 20 addresses guess once each */
  for (i = 0; i < UVC_GUARD_DEFAULT_NAME; i++) {
    snprintf(addr, sizeof addr, "10.0.0.%d", i);
    assert_int_equal(check(&g, "alice", addr, 100 + (uint64_t)i, NULL), UVC_GUARD_OK);
    guess(&g, "alice", addr, 100 + (uint64_t)i);
  }
  assert_int_equal(check(&g, "alice", "10.0.1.1", 200, &retry), UVC_GUARD_NAME);
  assert_int_equal(retry, MIN - 100);
  /* the owner's known address skips the ceiling; others' accounts are untouched */
  assert_int_equal(check(&g, "alice", "203.0.113.9", 200, NULL), UVC_GUARD_OK);
  assert_int_equal(check(&g, "bob", "10.0.1.1", 200, NULL), UVC_GUARD_OK);
  /* the owner's success clears its own pair only: the ceiling stays for strangers */
  uvc_guard_success(&g, "alice", 5, "203.0.113.9", 300);
  assert_int_equal(check(&g, "alice", "10.0.1.1", 300, NULL), UVC_GUARD_NAME);
  /* known lasts known_ms */
  assert_false(uvc_guard_known(&g, "alice", 5, "203.0.113.9", 300 + UVC_GUARD_DEFAULT_KNOWN));
  uvc_guard_free(&g);
}

static void a_success_clears_only_its_pair(void** state) {
  uvc_guard_t g;
  (void)state;
  assert_int_equal(uvc_guard_init(&g, NULL), 0);
  guess(&g, "alice", "192.0.2.1", 1);
  guess(&g, "alice", "192.0.2.1", 2);
  guess(&g, "bob", "192.0.2.1", 3);
  uvc_guard_success(&g, "alice", 5, "192.0.2.1", 4);
  guess(&g, "alice", "192.0.2.1", 5);
  guess(&g, "alice", "192.0.2.1", 6);
  assert_int_equal(check(&g, "alice", "192.0.2.1", 7, NULL), UVC_GUARD_OK);
  assert_int_equal(uvc_throttle_recent(&g.addr, "192.0.2.1", 9, 7), 5); /* kept */
  assert_int_equal(uvc_throttle_recent(&g.name, "alice", 5, 7), 4);
  uvc_guard_free(&g);
}

static void running_checks_count_for_every_key(void** state) {
  uvc_guard_t g;
  uvc_guard_pending_t p = {2, 0, 0};
  uint64_t retry = 5;
  (void)state;
  assert_int_equal(uvc_guard_init(&g, NULL), 0);
  guess(&g, "alice", "192.0.2.1", 1);
  assert_int_equal(uvc_guard_check(&g, "alice", 5, "192.0.2.1", &p, 2, &retry), UVC_GUARD_PAIR);
  assert_int_equal(retry, 0);
  p.pair = 1;
  assert_int_equal(uvc_guard_check(&g, "alice", 5, "192.0.2.1", &p, 2, NULL), UVC_GUARD_OK);
  p.pair = 0, p.addr = 9;
  assert_int_equal(uvc_guard_check(&g, "bob", 3, "192.0.2.1", &p, 2, NULL), UVC_GUARD_ADDR);
  p.addr = 0, p.name = 19;
  assert_int_equal(uvc_guard_check(&g, "alice", 5, "192.0.2.2", &p, 2, NULL), UVC_GUARD_NAME);
  uvc_guard_success(&g, "alice", 5, "192.0.2.2", 3);
  assert_int_equal(uvc_guard_check(&g, "alice", 5, "192.0.2.2", &p, 3, NULL), UVC_GUARD_OK);
  uvc_guard_prune(&g, 3 + MIN);
  assert_int_equal(uvc_throttle_count(&g.pair), 0);
  assert_int_equal(uvc_throttle_count(&g.known), 1); /* a success is remembered far longer */
  uvc_guard_free(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(three_failures_lock_for_the_window),
      cmocka_unit_test(success_resets),
      cmocka_unit_test(keys_are_independent),
      cmocka_unit_test(names_fold_ascii_case),
      cmocka_unit_test(prune_forgets_expired_keys_only),
      cmocka_unit_test(full_table_forgets_the_stalest_key),
      cmocka_unit_test(bad_parameters_and_long_keys),
      cmocka_unit_test(pending_attempts_count_in_advance),
      cmocka_unit_test(a_guesser_cannot_lock_the_owner_out),
      cmocka_unit_test(one_address_spraying_names_is_stopped),
      cmocka_unit_test(many_addresses_hit_the_ceiling_but_known_ones_pass),
      cmocka_unit_test(a_success_clears_only_its_pair),
      cmocka_unit_test(running_checks_count_for_every_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
