/* test_config.c: the command line: defaults, every flag, and clear errors. */
#include <stdio.h>
#include <string.h>
#include "tmpdir.h"
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

static void irc_and_account_settings(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, NULL, NULL, NULL), UVC_CONFIG_OK);
  assert_string_equal(c.server_name, "uvchat");
  assert_null(c.irc_autojoin); /* IRC users join what they ask for */
  assert_int_equal(c.account_password_min, 8);
  assert_int_equal(c.account_password_max, 300);
  assert_int_equal(parse(&c, err, "--server-name", "irc.example.org", "--irc-autojoin=#lobby"),
                   UVC_CONFIG_OK);
  assert_string_equal(c.server_name, "irc.example.org");
  assert_string_equal(c.irc_autojoin, "#lobby");
  assert_int_equal(parse(&c, err, "--irc-autojoin=#dev", "--irc-autojoin", "off"), UVC_CONFIG_OK);
  assert_null(c.irc_autojoin);
  assert_int_equal(parse(&c, err, "--irc-autojoin", "lobby", NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err,
                      "--irc-autojoin: cannot use 'lobby' as a room name: a room name starts "
                      "with '#'");
  assert_int_equal(parse(&c, err, "--server-name", "irc server", NULL), UVC_CONFIG_ERROR);
  assert_string_equal(err,
                      "--server-name: cannot use 'irc server' as a server name: only letters, "
                      "digits, '.' and '-' may be used");
  assert_int_equal(parse(&c, err, "--server-name", "-x", NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--server-name",
                         "a123456789b123456789c123456789d123456789e123456789f123456789g1234", NULL),
                   UVC_CONFIG_ERROR);
  assert_string_equal(err + strlen(err) - 31, "it is longer than 63 characters");
  assert_int_equal(parse(&c, err, "--account-password-min=12", "--account-password-max=1024", NULL),
                   UVC_CONFIG_OK);
  assert_int_equal(c.account_password_min, 12);
  assert_int_equal(c.account_password_max, 1024);
  assert_int_equal(parse(&c, err, "--account-password-max=1025", NULL, NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--account-password-min=0", NULL, NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--account-password-min=20", "--account-password-max=10", NULL),
                   UVC_CONFIG_ERROR);
  assert_string_equal(err, "--account-password-min (20) is more than --account-password-max (10)");
}

/* --cluster: off by default; a URL that does not parse is a usage error saying why (and so
 * is the flag itself in a build without the cluster module). */
static void cluster_settings(void** state) {
  uvc_config_t c;
  char err[256];
  (void)state;
  assert_int_equal(parse(&c, err, NULL, NULL, NULL), UVC_CONFIG_OK);
  assert_null(c.cluster);
  assert_int_equal(c.cluster_lease_ms, 10000);
  assert_null(c.cluster_name);
  assert_int_equal(parse(&c, err, "--cluster", "redis://db.example.org:6379", NULL),
                   UVC_CONFIG_ERROR);
#ifdef UVCHAT_WITH_CLUSTER
  assert_non_null(strstr(err, "is not an IP address"));
  assert_int_equal(parse(&c, err, "--cluster", "rediss://127.0.0.1:6379", NULL), UVC_CONFIG_ERROR);
  assert_non_null(strstr(err, "TLS"));
  assert_int_equal(parse(&c, err, "--cluster=redis://pw@127.0.0.1:6380/2", "--cluster-lease=2.5",
                         "--cluster-name=chat-1"),
                   UVC_CONFIG_OK);
  assert_string_equal(c.cluster, "redis://pw@127.0.0.1:6380/2");
  assert_int_equal(c.cluster_lease_ms, 2500);
  assert_string_equal(c.cluster_name, "chat-1");
  assert_int_equal(parse(&c, err, "--cluster-lease=0.5", NULL, NULL), UVC_CONFIG_ERROR);
  assert_int_equal(parse(&c, err, "--cluster-name", "a b", NULL), UVC_CONFIG_ERROR);
#else
  assert_non_null(strstr(err, "built without the cluster module"));
#endif
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

static void write_text(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void count_change(void* ud, const char* name, const char* was, const char* now) {
  (void)name, (void)was, (void)now;
  (*(int*)ud)++;
}

/* Every setting of the table can be set in the file, each to a value unlike its default. */
static void file_sets_every_setting(void** state) {
  char dir[1024], path[1100], pw[1100], text[4096], err[512];
  uvc_config_t c, d;
  int changed = 0, n;
  (void)state;
  tt_mkdtemp("uvchat-config", dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/uvchat.conf", dir);
  snprintf(pw, sizeof(pw), "%s/pw", dir);
  write_text(pw, "from the file\r\nsecond line\n");
  snprintf(text, sizeof(text),
           "host = ::1\nport = 1\nirc-port = off\ntls-port = 3\nirc-tls-port = off\nweb-port = 4\n"
           "tls-cert = c.pem\ntls-key = k.pem\ndata-dir = /d\npassword = p\n"
           "password-file = %s\nmax-line = 1K\nsendq = 2M\nstall-timeout = 1.5\n"
           "shutdown-timeout = 2\nflood-burst = 3\nflood-rate = 0\nmax-input = 4K\n"
           "max-clients = 5\nmax-per-addr = 6\nregister-timeout = 7\nline-timeout = 8\n"
           "ping-interval = 9\nidle-timeout = 10\nmotd = m.txt\nannounce-limit = 11\n"
           "register-per-addr = 12\nregister-rate = 13\n"
           "room = #r\nirc-autojoin = #a\nserver-name = irc.test\naccount-password-min = 9\n"
           "account-password-max = 99\nlog-level = debug\nquiet = yes\nlisten = web:8081\n"
           "listen = irc+tls:[::1]:6697\n",
           pw);
  write_text(path, text);
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), 0);
  assert_string_equal(c.host, "::1");
  assert_int_equal(c.port, 1);
  assert_int_equal(c.irc_port, -1);
  assert_int_equal(c.tls_port, 3);
  assert_int_equal(c.irc_tls_port, -1);
  assert_int_equal(c.web_port, 4);
  assert_string_equal(c.tls_cert, "c.pem");
  assert_string_equal(c.tls_key, "k.pem");
  assert_string_equal(c.data_dir, "/d");
  assert_null(c.password); /* password-file came later and replaces it */
  assert_string_equal(c.password_file, pw);
  assert_int_equal(c.max_line, 1024);
  assert_int_equal(c.sendq, 2 * 1024 * 1024);
  assert_int_equal(c.stall_ms, 1500);
  assert_int_equal(c.shutdown_ms, 2000);
  assert_int_equal(c.flood_burst, 3);
  assert_int_equal(c.flood_rate, 0);
  assert_int_equal(c.max_input, 4096);
  assert_int_equal(c.max_clients, 5);
  assert_int_equal(c.max_per_addr, 6);
  assert_int_equal(c.register_ms, 7000);
  assert_int_equal(c.line_ms, 8000);
  assert_int_equal(c.ping_ms, 9000);
  assert_int_equal(c.idle_ms, 10000);
  assert_string_equal(c.motd_file, "m.txt");
  assert_int_equal(c.announce_limit, 11);
  assert_int_equal(c.register_per_addr, 12);
  assert_int_equal(c.register_rate, 13);
  assert_string_equal(c.default_room, "#r");
  assert_string_equal(c.irc_autojoin, "#a");
  assert_string_equal(c.server_name, "irc.test");
  assert_int_equal(c.account_password_min, 9);
  assert_int_equal(c.account_password_max, 99);
  assert_int_equal(c.log_level, UVC_LOG_ERROR); /* quiet came after log-level */
  assert_int_equal(c.n_listen, 2);
  assert_int_equal(c.listen[0].proto, UVC_PROTO_WEB);
  assert_int_equal(c.listen[0].tls, 0);
  assert_int_equal(c.listen[0].port, 8081);
  assert_string_equal(c.listen[0].host, "");
  assert_int_equal(c.listen[1].proto, UVC_PROTO_IRC);
  assert_int_equal(c.listen[1].tls, 1);
  assert_string_equal(c.listen[1].host, "::1");
  assert_int_equal(c.listen[1].port, 6697);
  /* Every setting differs from its default (the password counts through password-file). */
  uvc_config_defaults(&d);
  n = uvc_config_changes(&d, &c, count_change, &changed);
  assert_int_equal(n, changed);
  assert_int_equal(changed, 34); /* every setting of the table but password, config, quiet */
  uvc_config_free(&c);

  /* Through uvc_config_load: the flags win, and the password file is read. */
  {
    char* argv[] = {(char*)"uvchat",      (char*)"--config", path, (char*)"--port=2",
                    (char*)"--log-level", (char*)"warn",     NULL};
    assert_int_equal(uvc_config_load(&c, 6, argv, err, sizeof(err)), UVC_CONFIG_OK);
    assert_int_equal(c.port, 2);
    assert_int_equal(c.log_level, UVC_LOG_WARN);
    assert_int_equal(c.max_clients, 5);
    assert_string_equal(c.password, "from the file");
    assert_string_equal(c.config_file, path);
    assert_int_equal(c.n_listen, 2);
    uvc_config_free(&c);
  }
  { /* --listen on the command line replaces the file's listeners */
    char* argv[] = {(char*)"uvchat",           (char*)"--config",           path, (char*)"--listen",
                    (char*)"text:127.0.0.1:0", (char*)"--listen=web+tls:0", NULL};
    assert_int_equal(uvc_config_load(&c, 6, argv, err, sizeof(err)), UVC_CONFIG_OK);
    assert_int_equal(c.n_listen, 2);
    assert_int_equal(c.listen[0].proto, UVC_PROTO_TEXT);
    assert_string_equal(c.listen[0].host, "127.0.0.1");
    assert_int_equal(c.listen[1].proto, UVC_PROTO_WEB);
    assert_int_equal(c.listen[1].tls, 1);
    assert_int_equal(c.listen[1].port, 0);
    uvc_config_free(&c);
  }
  {
    char* argv[] = {(char*)"uvchat", (char*)"--listen", (char*)"gopher:70", NULL};
    assert_int_equal(uvc_config_load(&c, 3, argv, err, sizeof(err)), UVC_CONFIG_ERROR);
    assert_non_null(strstr(err, "'gopher' is not a protocol"));
  }
  {
    char* argv[] = {(char*)"uvchat", (char*)"--listen", (char*)"irc:70000", NULL};
    assert_int_equal(uvc_config_load(&c, 3, argv, err, sizeof(err)), UVC_CONFIG_ERROR);
    assert_non_null(strstr(err, "is not a port number"));
  }
  {
    char* argv[] = {(char*)"uvchat",     (char*)"--config", path,
                    (char*)"--password", (char*)"argv",     NULL};
    assert_int_equal(uvc_config_load(&c, 5, argv, err, sizeof(err)), UVC_CONFIG_OK);
    assert_string_equal(c.password, "argv"); /* the flag replaces the file's password-file */
    assert_null(c.password_file);
    uvc_config_free(&c);
  }
  /* What cannot be in the file. */
  write_text(path, "port = 1\nconfig = other.conf\n");
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "uvchat.conf:2: config can only be given on the command line"));
  uvc_config_free(&c);
  write_text(path, "quiet = perhaps\n");
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "uvchat.conf:1: quiet: 'perhaps' is not yes or no"));
  uvc_config_free(&c);
  tt_rmdir(dir);
}

static void keep_now(void* ud, const char* name, const char* was, const char* now) {
  snprintf((char*)ud, 300, "%s: %s -> %s", name, was, now);
}

/* oper = NAME HASH: repeated lines add operators; a bad line names the setting; a reload
 * reports the names only, never the hashes. */
static void oper_lines_accumulate(void** state) {
  char dir[1024], path[1100], err[512];
  uvc_config_t c, d;
  char names[300];
  int changed = 0;
  (void)state;
  tt_mkdtemp("uvchat-config", dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/uvchat.conf", dir);
  write_text(path,
             "oper = admin $argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA\n"
             "oper = root   $argon2id$v=19$m=65536,t=2,p=1$c2FsdDI$aGFzaDI\n");
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), 0);
  assert_string_equal(c.opers,
                      "admin $argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA\n"
                      "root $argon2id$v=19$m=65536,t=2,p=1$c2FsdDI$aGFzaDI\n");
  uvc_config_defaults(&d);
  assert_int_equal(uvc_config_changes(&d, &c, keep_now, names), 1);
  assert_string_equal(names, "oper: none -> admin root");
  (void)changed;
  uvc_config_free(&c);
  write_text(path, "oper = admin plaintext\n");
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "uvchat.conf:1: oper: give a name and the hash"));
  uvc_config_free(&c);
  write_text(path, "hash-password = yes\n");
  uvc_config_defaults(&c);
  assert_int_equal(uvc_config_read_file(&c, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "hash-password can only be given on the command line"));
  uvc_config_free(&c);
  remove(path);
  tt_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(flags_take_values_both_ways),
      cmocka_unit_test(cluster_settings),
      cmocka_unit_test(help_and_version),
      cmocka_unit_test(errors_are_clear),
      cmocka_unit_test(irc_and_account_settings),
      cmocka_unit_test(sizes_and_seconds),
      cmocka_unit_test(file_sets_every_setting),
      cmocka_unit_test(oper_lines_accumulate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
