/* test_clean.c: the text cleaner (UTF-8, controls, escape sequences). */
#include <string.h>
#include "unit.h"

#include "uvchat/clean.h"

#define FFFD "\xEF\xBF\xBD"

/* Cleans s (len bytes) and returns a NUL-terminated copy in a static buffer. */
static const char* clean_n(const char* s, size_t len, unsigned flags) {
  static char out[1024];
  size_t n = uvc_clean_text(s, len, out, flags);
  assert_true(n <= UVC_CLEAN_MAX(len));
  out[n] = '\0';
  return out;
}
static const char* clean(const char* s) {
  return clean_n(s, strlen(s), 0);
}

static void plain_text_passes(void** state) {
  (void)state;
  assert_string_equal(clean("hello, world! 1+1=2 ~"), "hello, world! 1+1=2 ~");
  assert_string_equal(clean("tab\there"), "tab\there");
  assert_string_equal(clean("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
                      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

static void controls_are_removed(void** state) {
  (void)state;
  assert_string_equal(clean_n("a\0b\x07"
                              "c\x08"
                              "d\re\x7F"
                              "f",
                              11, 0),
                      "abcdef");
  assert_string_equal(clean("\xC2\x85"
                            "x\xC2\x9F"),
                      "x"); /* C1 as UTF-8 */
}

static void escape_sequences_are_removed_whole(void** state) {
  (void)state;
  assert_string_equal(clean("\x1B[31mred\x1B[0m"), "red");
  assert_string_equal(clean("\x1B[2J\x1B[H\x1B[?25lhidden"), "hidden");
  assert_string_equal(clean("\x1B]0;evil title\x07ok"), "ok");
  assert_string_equal(clean("\x1B]8;;http://x\x1B\\link"), "link");
  assert_string_equal(clean("\x1B(Bcharset"), "charset");
  assert_string_equal(clean("\x1B"
                            "creset"),
                      "reset");
  assert_string_equal(clean("\xC2\x9B"
                            "31mcsi"),
                      "csi"); /* C1 CSI */
  assert_string_equal(clean("end\x1B"), "end");
}

static void invalid_utf8_becomes_replacement(void** state) {
  (void)state;
  assert_string_equal(clean("a\xFF"
                            "b"),
                      "a" FFFD "b");
  assert_string_equal(clean("\xC0\xAF"), FFFD FFFD);          /* overlong '/' */
  assert_string_equal(clean("\xED\xA0\x80"), FFFD FFFD FFFD); /* a surrogate */
  assert_string_equal(clean("\xE2\x82"), FFFD);               /* truncated: one subpart */
  assert_string_equal(clean("\xE2\x82x"), FFFD "x");
  assert_string_equal(clean("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD); /* above U+10FFFF */
  assert_string_equal(clean("\x80"), FFFD);
}

static void bidi_overrides_are_removed(void** state) {
  (void)state;
  assert_string_equal(clean("a\xE2\x80\xAE"
                            "b\xE2\x81\xA6"
                            "c"),
                      "abc");
}

static void irc_formatting_kept_on_request(void** state) {
  (void)state;
  assert_string_equal(clean_n("\x02"
                              "bold\x03"
                              "4red\x0F",
                              11, UVC_CLEAN_KEEP_IRC_FORMAT),
                      "\x02"
                      "bold\x03"
                      "4red\x0F");
  assert_string_equal(clean("\x02"
                            "bold\x03"
                            "4red\x0F"),
                      "boldred");
}

/* What an IRC client sends for colours reaches a text user as the words alone. */
static void irc_colours_leave_no_digits(void** state) {
  (void)state;
  assert_string_equal(clean("\x03"
                            "04,01red on black\x0f"),
                      "red on black");
  assert_string_equal(clean("\x03"
                            "4,1x"),
                      "x");
  assert_string_equal(clean("\x03"
                            "123"),
                      "3"); /* two digits at most */
  assert_string_equal(clean("\x03"
                            "04,012"),
                      "2"); /* and two after the comma */
  assert_string_equal(clean("\x03"
                            "04,x"),
                      ",x"); /* a comma without a digit is text */
  assert_string_equal(clean("\x03"
                            ",5"),
                      ",5");                /* a bare ^C, then text */
  assert_string_equal(clean("a\x03"), "a"); /* ^C at the end */
  assert_string_equal(clean("\x04"
                            "FF0000red"),
                      "red"); /* hex colour */
  assert_string_equal(clean("\x04"
                            "ff0000,00FF00green"),
                      "green");
  assert_string_equal(clean("\x04"
                            "abc"),
                      "abc"); /* not six hex digits: text */
  assert_string_equal(clean("\x02"
                            "b\x1d"
                            "i\x1f"
                            "u\x1e"
                            "s\x11"
                            "m\x16"
                            "r\x0f"
                            "."),
                      "biusmr.");
  assert_string_equal(clean_n("\x03"
                              "04,01red",
                              9, UVC_CLEAN_KEEP_IRC_FORMAT),
                      "\x03"
                      "04,01red"); /* IRC users keep them */
}

/* The one UTF-8 check (WebSocket text frames, IRC tag values): RFC 3629 exactly. */
static void utf8_validity(void** state) {
  (void)state;
  assert_true(uvc_utf8_valid("", 0));
  assert_true(uvc_utf8_valid("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14));
  assert_false(uvc_utf8_valid("\xC0\xAF", 2));         /* overlong */
  assert_false(uvc_utf8_valid("\xED\xA0\x80", 3));     /* a surrogate */
  assert_false(uvc_utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
  assert_false(uvc_utf8_valid("\xE2\x82", 2));         /* truncated */
  assert_false(uvc_utf8_valid("a\x80", 2));            /* a lone continuation byte */
}

static void blank_and_cut(void** state) {
  (void)state;
  assert_true(uvc_text_is_blank("", 0));
  assert_true(uvc_text_is_blank(" \t ", 3));
  assert_false(uvc_text_is_blank(" x", 2));
  assert_int_equal(uvc_utf8_cut("ab\xC3\xA9", 4, 3), 2); /* does not split the é */
  assert_int_equal(uvc_utf8_cut("ab\xC3\xA9", 4, 4), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_text_passes),
      cmocka_unit_test(controls_are_removed),
      cmocka_unit_test(escape_sequences_are_removed_whole),
      cmocka_unit_test(invalid_utf8_becomes_replacement),
      cmocka_unit_test(bidi_overrides_are_removed),
      cmocka_unit_test(irc_formatting_kept_on_request),
      cmocka_unit_test(irc_colours_leave_no_digits),
      cmocka_unit_test(utf8_validity),
      cmocka_unit_test(blank_and_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
