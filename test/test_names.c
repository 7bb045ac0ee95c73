/* test_names.c: nick and room name rules, case-insensitive comparison. */
#include <string.h>
#include "unit.h"

#include "uvchat/names.h"

static int valid(const char* s) {
  return uvc_nick_valid(s, strlen(s));
}

static void good_nicks(void** state) {
  (void)state;
  assert_true(valid("alice"));
  assert_true(valid("Bob_2"));
  assert_true(valid("[away]"));
  assert_true(valid("a-b|c^d`e{f}g\\h"));
  assert_true(valid("x"));
  assert_true(valid("abcdefghijabcdefghijabcdefghij12")); /* 32 */
}

static void bad_nicks_say_why(void** state) {
  (void)state;
  assert_false(valid(""));
  assert_false(valid("abcdefghijabcdefghijabcdefghij123")); /* 33 */
  assert_false(valid("1abc"));
  assert_false(valid("-abc"));
  assert_false(valid("a b"));
  assert_false(valid("a*b"));
  assert_false(valid("caf\xC3\xA9"));
  assert_string_equal(uvc_nick_problem("1x", 2), "a nick cannot start with a digit or '-'");
  assert_null(uvc_nick_problem("ok", 2));
  assert_string_equal(uvc_nick_problem("\xc3\x9c"
                                       "n\xc3\xaf"
                                       "code",
                                       10),
                      "a nick may only contain ASCII letters (A to Z, without accents), digits and "
                      "- _ [ ] \\ ` ^ { } |");
  assert_string_equal(uvc_nick_problem("b@d", 3),
                      "a nick may only contain ASCII letters, digits and - _ [ ] \\ ` ^ { } |");
}

static void case_insensitive(void** state) {
  (void)state;
  assert_true(uvc_name_eq("Alice", 5, "aLICE", 5));
  assert_false(uvc_name_eq("alice", 5, "alicf", 5));
  assert_false(uvc_name_eq("alice", 5, "alic", 4));
  assert_int_equal(uvc_name_hash("Alice", 5), uvc_name_hash("ALICE", 5));
}

static void room_names(void** state) {
  (void)state;
  assert_null(uvc_room_problem("#lobby", 6));
  assert_null(uvc_room_problem("#a", 2));
  assert_non_null(uvc_room_problem("lobby", 5));
  assert_non_null(uvc_room_problem("#", 1));
  assert_non_null(uvc_room_problem("#a b", 4));
  assert_non_null(uvc_room_problem("#a,b", 4));
  assert_non_null(uvc_room_problem("#abcdefghijabcdefghijabcdefghijab", 33));
}

static int match(const char* mask, const char* s) {
  return uvc_mask_match(mask, strlen(mask), s, strlen(s));
}

static void wildcard_masks(void** state) {
  (void)state;
  assert_true(match("*", ""));
  assert_true(match("*", "anything"));
  assert_true(match("coolni*", "CoolNick"));
  assert_false(match("coolni*", "xcoolnick"));
  assert_true(match("*.host", "my.host"));
  assert_false(match("*.host", "my.hostx"));
  assert_true(match("a?c", "abc"));
  assert_false(match("a?c", "ac"));
  assert_true(match("*b*b*", "abcbd"));
  assert_false(match("*b*b*", "abcd"));
  assert_true(match("nick!*@*", "Nick!~user@uvchat"));
  assert_true(match("", ""));
  assert_false(match("", "a"));
  assert_true(match("**a", "a"));
  /* one backtrack point: a hostile mask against a long string stays fast */
  {
    char mask[64], text[4000];
    memset(mask, 0, sizeof mask);
    memset(mask, '*', 60);
    mask[1] = 'a', mask[3] = 'a', mask[5] = 'b';
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    assert_false(match(mask, text));
  }
  assert_true(uvc_mask_has_wildcard("a*", 2));
  assert_true(uvc_mask_has_wildcard("?", 1));
  assert_false(uvc_mask_has_wildcard("alice", 5));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_nicks),        cmocka_unit_test(wildcard_masks),
      cmocka_unit_test(bad_nicks_say_why), cmocka_unit_test(case_insensitive),
      cmocka_unit_test(room_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
