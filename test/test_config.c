/* test_config.c: the command line: defaults, every flag, and clear errors. */
#include <string.h>
#include "unit.h"

#include "uvchat/config.h"
#include "uvchat/log.h"

static uvc_config_result_t parse(uvc_config_t* cfg, char* err, const char* a1, const char* a2,
                                 const char* a3) {
  char* argv[5] = {(char*)"uvchat", (char*)a1, (char*)a2, (char*)a3, NULL};
  int argc = a3 ? 4 : a2 ? 3 : a1 ? 2 : 1;
  uvc_config_defaults(cfg);
  err[0] = '\0';
  return uvc_config_parse(cfg, argc, argv, err, 256);
}

static void defaults(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, NULL, NULL, NULL), UVC_CONFIG_OK);
  assert_null(c.host);
  assert_int_equal(c.port, 8080);
  assert_int_equal(c.max_line, 4096);
  assert_int_equal(c.sendq, 1024 * 1024);
  assert_int_equal(c.shutdown_ms, 5000);
  assert_string_equal(c.default_room, "#lobby");
}

static void flags_take_values_both_ways(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, "--port", "0", "--sendq=64K"), UVC_CONFIG_OK);
  assert_int_equal(c.port, 0);
  assert_int_equal(c.sendq, 65536);
  assert_int_equal(parse(&c, err, "--host=::1", "--shutdown-timeout", "0.25"), UVC_CONFIG_OK);
  assert_string_equal(c.host, "::1");
  assert_int_equal(c.shutdown_ms, 250);
  assert_int_equal(parse(&c, err, "--quiet", NULL, NULL), UVC_CONFIG_OK);
  assert_int_equal(c.log_level, UVC_LOG_ERROR);
  assert_int_equal(parse(&c, err, "--log-level", "debug", "--max-line=1K"), UVC_CONFIG_OK);
  assert_int_equal(c.log_level, UVC_LOG_DEBUG);
  assert_int_equal(c.max_line, 1024);
}

static void help_and_version(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, "--help", NULL, NULL), UVC_CONFIG_HELP);
  assert_int_equal(parse(&c, err, "-h", NULL, NULL), UVC_CONFIG_HELP);
  assert_int_equal(parse(&c, err, "--version", NULL, NULL), UVC_CONFIG_VERSION);
}

static void errors_are_clear(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, "--prot", "1", NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err, "unknown option '--prot' (see --help)");
  assert_int_equal(parse(&c, err, "--port", "70000", NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err, "--port: 70000 is out of range (0 to 65535)");
  assert_int_equal(parse(&c, err, "--port", "8k", NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err, "--port: '8k' is not a port number");
  assert_int_equal(parse(&c, err, "--port", NULL, NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err, "--port needs a value: --port N");
  assert_int_equal(parse(&c, err, "--quiet=yes", NULL, NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--sendq", "lots", NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--log-level", "loud", NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--room", "lobby", NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "8080", NULL, NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--shutdown-timeout", "-1", NULL), UVC_CONFIG_ERROR);
}

static void sizes_and_seconds(void** state) {
  uint64_t v;
  (void)state;
  assert_int_equal(uvc_parse_size("1M", &v), 0);
  assert_int_equal(v, 1048576);
  assert_int_equal(uvc_parse_size("2KiB", &v), 0);
  assert_int_equal(v, 2048);
  assert_int_equal(uvc_parse_size("-1", &v), -1);
  assert_int_equal(uvc_parse_size("1X", &v), -1);
  assert_int_equal(uvc_parse_seconds("1.5", &v), 0);
  assert_int_equal(v, 1500);
  assert_int_equal(uvc_parse_seconds("abc", &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),          cmocka_unit_test(flags_take_values_both_ways),
      cmocka_unit_test(help_and_version),  cmocka_unit_test(errors_are_clear),
      cmocka_unit_test(sizes_and_seconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
