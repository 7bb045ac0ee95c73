/* test_throttle.c: the login throttle: locking after failures, the sliding window, reset,
 * independent keys, case folding, pruning and the size limit. */
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(three_failures_lock_for_the_window),
      cmocka_unit_test(success_resets),
      cmocka_unit_test(keys_are_independent),
      cmocka_unit_test(names_fold_ascii_case),
      cmocka_unit_test(prune_forgets_expired_keys_only),
      cmocka_unit_test(full_table_forgets_the_stalest_key),
      cmocka_unit_test(bad_parameters_and_long_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
