/* test_log.c: the budget that keeps a connection storm from flooding the log. */
#include "unit.h"

#include "uvchat/log.h"

/* A window takes UVC_LOG_LIMIT_LINES lines; the rest are counted, and the count is handed
 * over once, when the next window opens. */
static void a_storm_is_cut_to_the_budget_and_counted(void** state) {
  uvc_log_limit_t lim = {0, 0, 0, "connection log lines"};
  uint32_t held;
  uint64_t ms;
  int i, written = 0;
  (void)state;
  for (i = 0; i < 3 * UVC_LOG_LIMIT_LINES; i++) {
    written += uvc_log_budget(&lim, 1000 + (uint64_t)i, &held, &ms);
    assert_int_equal(held, 0);
  }
  assert_int_equal(written, UVC_LOG_LIMIT_LINES);
  assert_int_equal(lim.held, 2 * UVC_LOG_LIMIT_LINES);
  /* still the same window */
  assert_int_equal(uvc_log_budget(&lim, 1000 + UVC_LOG_LIMIT_MS - 1, &held, &ms), 0);
  assert_int_equal(held, 0);
  /* the next window: the count of what was left out, once, and room again */
  assert_int_equal(uvc_log_budget(&lim, 1000 + UVC_LOG_LIMIT_MS, &held, &ms), 1);
  assert_int_equal(held, 2 * UVC_LOG_LIMIT_LINES + 1);
  assert_int_equal(ms, UVC_LOG_LIMIT_MS);
  assert_int_equal(uvc_log_budget(&lim, 1000 + UVC_LOG_LIMIT_MS + 1, &held, &ms), 1);
  assert_int_equal(held, 0);
}

/* A quiet server logs every line. */
static void a_trickle_is_never_cut(void** state) {
  uvc_log_limit_t lim = {0, 0, 0, NULL};
  uint32_t held;
  uint64_t ms;
  int i;
  (void)state;
  for (i = 0; i < 1000; i++) {
    assert_int_equal(uvc_log_budget(&lim, (uint64_t)i * 1000, &held, &ms), 1);
    assert_int_equal(held, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_storm_is_cut_to_the_budget_and_counted),
      cmocka_unit_test(a_trickle_is_never_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
