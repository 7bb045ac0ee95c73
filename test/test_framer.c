/* test_framer.c: the line framer: splitting, joining, CRLF, overlong lines, stashing. */
#include <string.h>
#include "unit.h"

#include "uvchat/framer.h"

/* The bytes of the current "read", as the connection layer would hold them. */
static uvc_framer_src_t g_src;
static uint32_t g_max;

static void feed_n(uvc_framer_t* f, const char* s, size_t n) {
  (void)f;
  g_src.p = s;
  g_src.len = n;
}
static void feed(uvc_framer_t* f, const char* s) {
  feed_n(f, s, strlen(s));
}

static void init(uvc_framer_t* f, uint32_t max) {
  uvc_framer_init(f);
  g_max = max;
  g_src.p = NULL;
  g_src.len = 0;
}

/* The next line as a NUL-terminated copy in buf, "<TOOLONG>" or NULL when none. */
static const char* next(uvc_framer_t* f, char* buf, size_t cap) {
  const char* line;
  size_t len;
  uvc_frame_t r = uvc_framer_next(f, &g_src, g_max, &line, &len);
  if (r == UVC_FRAME_NONE) return NULL;
  if (r == UVC_FRAME_TOOLONG) return "<TOOLONG>";
  assert_true(len < cap);
  memcpy(buf, line, len);
  buf[len] = '\0';
  return buf;
}

static void partial_line_waits_for_its_newline(void** state) {
  uvc_framer_t f;
  char b[64];
  (void)state;
  init(&f, 512);
  feed(&f, "hi\r\nbo");
  assert_string_equal(next(&f, b, sizeof b), "hi");
  assert_null(next(&f, b, sizeof b));
  feed(&f, "b\n");
  assert_string_equal(next(&f, b, sizeof b), "bob");
  assert_null(next(&f, b, sizeof b));
  assert_int_equal(uvc_framer_pending(&f), 0);
  uvc_framer_free(&f);
}

static void several_lines_in_one_read(void** state) {
  uvc_framer_t f;
  char b[64];
  (void)state;
  init(&f, 512);
  feed(&f, "one\ntwo\r\nthree\n");
  assert_string_equal(next(&f, b, sizeof b), "one");
  assert_string_equal(next(&f, b, sizeof b), "two");
  assert_string_equal(next(&f, b, sizeof b), "three");
  assert_null(next(&f, b, sizeof b));
  assert_null(f.buf); /* nothing held between lines */
  uvc_framer_free(&f);
}

static void byte_by_byte(void** state) {
  uvc_framer_t f;
  char b[64];
  const char* in = "hello world\r\nx\n";
  size_t i;
  int lines = 0;
  (void)state;
  init(&f, 512);
  for (i = 0; i < strlen(in); i++) {
    const char* l;
    feed_n(&f, in + i, 1);
    while ((l = next(&f, b, sizeof b)) != NULL) {
      assert_string_equal(l, lines == 0 ? "hello world" : "x");
      lines++;
    }
  }
  assert_int_equal(lines, 2);
  uvc_framer_free(&f);
}

static void cr_only_before_lf_is_dropped(void** state) {
  uvc_framer_t f;
  char b[64];
  (void)state;
  init(&f, 512);
  feed(&f, "a\rb\r\r\n\n");
  assert_string_equal(next(&f, b, sizeof b), "a\rb\r");
  assert_string_equal(next(&f, b, sizeof b), "");
  uvc_framer_free(&f);
}

static void overlong_line_is_reported_once_and_skipped(void** state) {
  uvc_framer_t f;
  char b[64];
  char big[40];
  (void)state;
  memset(big, 'x', sizeof big);
  init(&f, 16);
  feed(&f, "ok\n");
  assert_string_equal(next(&f, b, sizeof b), "ok");
  feed_n(&f, big, 20); /* a partial that is already too long */
  assert_string_equal(next(&f, b, sizeof b), "<TOOLONG>");
  assert_null(next(&f, b, sizeof b));
  feed_n(&f, big, 20); /* more of the same line: discarded silently */
  assert_null(next(&f, b, sizeof b));
  feed(&f, "tail\nafter\n");
  assert_string_equal(next(&f, b, sizeof b), "after");
  assert_null(next(&f, b, sizeof b));
  uvc_framer_free(&f);
}

static void overlong_complete_line_in_one_read(void** state) {
  uvc_framer_t f;
  char b[64];
  (void)state;
  init(&f, 4);
  feed(&f, "12345\nabcd\r\nabcde\r\n");
  assert_string_equal(next(&f, b, sizeof b), "<TOOLONG>");
  assert_string_equal(next(&f, b, sizeof b), "abcd"); /* exactly the maximum, with CRLF */
  assert_string_equal(next(&f, b, sizeof b), "<TOOLONG>");
  assert_null(next(&f, b, sizeof b));
  uvc_framer_free(&f);
}

static void overlong_line_assembled_across_reads(void** state) {
  uvc_framer_t f;
  char b[64];
  (void)state;
  init(&f, 4);
  feed(&f, "abc");
  assert_null(next(&f, b, sizeof b));
  feed(&f, "de\nok\n");
  assert_string_equal(next(&f, b, sizeof b), "<TOOLONG>");
  assert_string_equal(next(&f, b, sizeof b), "ok");
  feed(&f, "abcd\r"); /* maximum length plus the CR of a CRLF still fits */
  assert_null(next(&f, b, sizeof b));
  feed(&f, "\n");
  assert_string_equal(next(&f, b, sizeof b), "abcd");
  uvc_framer_free(&f);
}

static void final_line_without_newline(void** state) {
  uvc_framer_t f;
  char b[64];
  const char* line;
  size_t len;
  (void)state;
  init(&f, 512);
  feed(&f, "first\nlast words");
  assert_string_equal(next(&f, b, sizeof b), "first");
  assert_null(next(&f, b, sizeof b));
  assert_int_equal(uvc_framer_finish(&f, 512, &line, &len), UVC_FRAME_LINE);
  assert_int_equal(len, 10);
  assert_memory_equal(line, "last words", 10);
  assert_int_equal(uvc_framer_finish(&f, 512, &line, &len), UVC_FRAME_NONE);
  uvc_framer_free(&f);
}

static void stash_keeps_unread_lines(void** state) {
  uvc_framer_t f;
  char b[64];
  char input[] = "a\nb\nc";
  (void)state;
  init(&f, 512);
  feed(&f, input);
  assert_string_equal(next(&f, b, sizeof b), "a");
  assert_int_equal(uvc_framer_stash(&f, &g_src), 0);
  memset(input, '#', sizeof input - 1); /* the caller's buffer is gone */
  assert_int_equal(uvc_framer_pending(&f), 3);
  assert_string_equal(next(&f, b, sizeof b), "b");
  assert_null(next(&f, b, sizeof b));
  feed(&f, "d\n");
  assert_string_equal(next(&f, b, sizeof b), "cd");
  uvc_framer_free(&f);
}

/* Found by fuzz_framer: input stashed while paused, then end of stream, must still be held
 * to the maximum line length (adapters size their buffers by it). */
static void stashed_final_line_is_held_to_the_limit(void** state) {
  uvc_framer_t f;
  const char* line;
  size_t len;
  char input[] = "ok\nthis final line is far too long";
  char b[64];
  (void)state;
  init(&f, 8);
  feed(&f, input);
  assert_string_equal(next(&f, b, sizeof b), "ok");
  assert_int_equal(uvc_framer_stash(&f, &g_src), 0); /* paused */
  assert_null(next(&f, b, sizeof b));
  assert_int_equal(uvc_framer_finish(&f, 8, &line, &len), UVC_FRAME_TOOLONG);
  uvc_framer_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(partial_line_waits_for_its_newline),
      cmocka_unit_test(several_lines_in_one_read),
      cmocka_unit_test(byte_by_byte),
      cmocka_unit_test(cr_only_before_lf_is_dropped),
      cmocka_unit_test(overlong_line_is_reported_once_and_skipped),
      cmocka_unit_test(overlong_complete_line_in_one_read),
      cmocka_unit_test(overlong_line_assembled_across_reads),
      cmocka_unit_test(final_line_without_newline),
      cmocka_unit_test(stash_keeps_unread_lines),
      cmocka_unit_test(stashed_final_line_is_held_to_the_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
