/* test_msg.c: shared message buffers and the per-client send queue. */
#include <string.h>
#include "unit.h"

#include "uvchat/msg.h"
#include "uvchat/outq.h"

static void refcount_frees_on_last_release(void** state) {
  uvc_msg_t* m = uvc_msg_from("hello", 5);
  (void)state;
  assert_non_null(m);
  assert_int_equal(m->refs, 1);
  uvc_msg_retain(m);
  uvc_msg_retain(m);
  assert_int_equal(m->refs, 3);
  uvc_msg_release(m);
  uvc_msg_release(m);
  assert_int_equal(m->refs, 1);
  assert_memory_equal(m->data, "hello", 5);
  uvc_msg_release(m); /* freed: the leak checkers would complain otherwise */
}

static void concat_joins_parts(void** state) {
  uvc_part_t p[3] = {{"<a> ", 4}, {"hi", 2}, {"\r\n", 2}};
  uvc_msg_t* m = uvc_msg_concat(p, 3);
  (void)state;
  assert_int_equal(m->len, 8);
  assert_memory_equal(m->data, "<a> hi\r\n", 8);
  uvc_msg_release(m);
}

static void outq_shares_and_releases(void** state) {
  uvc_outq_t q;
  uv_buf_t iov[4];
  size_t bytes;
  uvc_msg_t* a = uvc_msg_from("aaaa", 4);
  uvc_msg_t* b = uvc_msg_from("bb", 2);
  (void)state;
  memset(&q, 0, sizeof q);
  assert_int_equal(uvc_outq_push(&q, a), 0);
  assert_int_equal(uvc_outq_push(&q, b), 0);
  assert_int_equal(uvc_outq_push(&q, a), 0);
  assert_int_equal(a->refs, 3);
  assert_int_equal(q.bytes, 10);
  assert_int_equal(uvc_outq_fill(&q, iov, 4, &bytes), 3);
  assert_int_equal(bytes, 10);
  uvc_outq_consume(&q, 5); /* all of a, 1 byte of b */
  assert_int_equal(a->refs, 2);
  assert_int_equal(q.count, 2);
  assert_int_equal(uvc_outq_fill(&q, iov, 4, &bytes), 2);
  assert_int_equal(iov[0].len, 1);
  assert_memory_equal(iov[0].base, "b", 1);
  assert_int_equal(bytes, 5);
  uvc_outq_clear(&q);
  assert_int_equal(a->refs, 1);
  assert_int_equal(b->refs, 1);
  assert_null(q.ring);
  uvc_msg_release(a);
  uvc_msg_release(b);
}

static void outq_grows_around_the_ring(void** state) {
  uvc_outq_t q;
  uv_buf_t iov[64];
  size_t bytes, i;
  uvc_msg_t* m[40];
  (void)state;
  memset(&q, 0, sizeof q);
  for (i = 0; i < 40; i++) {
    char c = (char)('A' + i % 26);
    m[i] = uvc_msg_from(&c, 1);
  }
  for (i = 0; i < 6; i++)
    uvc_outq_push(&q, m[i]);
  uvc_outq_consume(&q, 5); /* head moves to the end of the 8-slot ring */
  for (i = 6; i < 40; i++)
    uvc_outq_push(&q, m[i]); /* wraps, then grows */
  assert_int_equal(q.count, 35);
  assert_int_equal(uvc_outq_fill(&q, iov, 64, &bytes), 35);
  for (i = 0; i < 35; i++)
    assert_ptr_equal(iov[i].base, m[i + 5]->data);
  uvc_outq_consume(&q, 35);
  assert_int_equal(q.count, 0);
  uvc_outq_trim(&q);
  for (i = 0; i < 40; i++) {
    assert_int_equal(m[i]->refs, 1);
    uvc_msg_release(m[i]);
  }
}

static void empty_message_is_not_queued(void** state) {
  uvc_outq_t q;
  uvc_msg_t* e = uvc_msg_new(0);
  (void)state;
  memset(&q, 0, sizeof q);
  assert_int_equal(uvc_outq_push(&q, e), 0);
  assert_int_equal(q.count, 0);
  assert_int_equal(e->refs, 1);
  uvc_msg_release(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refcount_frees_on_last_release),
      cmocka_unit_test(concat_joins_parts),
      cmocka_unit_test(outq_shares_and_releases),
      cmocka_unit_test(outq_grows_around_the_ring),
      cmocka_unit_test(empty_message_is_not_queued),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
