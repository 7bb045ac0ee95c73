/* test_service.c: uvchat run as a service: the configuration file (with flags over it),
 * --check-config, secrets kept out of the command line, and reloads (a changed file, SIGHUP)
 * that apply a new MOTD and new limits to connected users without dropping anyone, and keep
 * the old settings when the new file is broken. The real binary on port 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "tmpdir.h"
#include "unit.h"

static char g_dir[1024];
static char g_conf[1100], g_motd[1100], g_pw[1100];
static th_server_t srv;

/* Writes text to path as an editor would: a new file renamed over the old one. */
static void write_file(const char* path, const char* text) {
  char tmp[1200];
  uv_fs_t req;
  FILE* f;
  snprintf(tmp, sizeof(tmp), "%s.new", path);
  f = fopen(tmp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
  assert_int_equal(uv_fs_rename(NULL, &req, tmp, path, NULL), 0);
  uv_fs_req_cleanup(&req);
}

static int setup(void** state) {
  (void)state;
  tt_mkdtemp("uvchat-service", g_dir, sizeof(g_dir));
  snprintf(g_conf, sizeof(g_conf), "%s/uvchat.conf", g_dir);
  snprintf(g_motd, sizeof(g_motd), "%s/motd.txt", g_dir);
  snprintf(g_pw, sizeof(g_pw), "%s/password", g_dir);
  return 0;
}

static int teardown(void** state) {
  (void)state;
  th_server_free(&srv);
  tt_rmdir(g_dir);
  return 0;
}

/* Reads lines until one contains text; fails the test when none comes. */
static void expect_containing(th_client_t* c, const char* text) {
  const char* l;
  while ((l = th_line(c, TH_WAIT_MS)) != NULL)
    if (strstr(l, text) != NULL) return;
  fail_msg("no line containing \"%s\" came", text);
}

/* Runs uvchat with args to completion; returns its exit status. */
static int run_uvchat(const char* const* args) {
  th_server_spawn(&srv, args);
  return th_server_wait(&srv, 10000);
}

static void check_config_points_at_the_broken_line(void** state) {
  const char* const check[] = {"--check-config", "--config", g_conf, NULL};
  (void)state;
  write_file(g_conf, "# a comment\nport = 0\nmax-clients = lots\nirc-port = off\n");
  assert_int_equal(run_uvchat(check), 2);
  if (strstr(srv.err_buf.p, "uvchat.conf:3: max-clients: 'lots' is not a size in bytes") == NULL)
    fail_msg("unexpected message: %s", srv.err_buf.p);
  th_server_free(&srv);

  write_file(g_conf, "port = 0\nmax-clinets = 5\n");
  assert_int_equal(run_uvchat(check), 2);
  assert_non_null(strstr(srv.err_buf.p, "uvchat.conf:2: unknown setting 'max-clinets'"));
  th_server_free(&srv);

  write_file(g_conf, "port = 0\n\nthis is not a setting\n");
  assert_int_equal(run_uvchat(check), 2);
  assert_non_null(strstr(srv.err_buf.p, "uvchat.conf:3: not a setting"));
  th_server_free(&srv);

  write_file(g_conf, "port = 0\npassword-file = missing-file\n");
  assert_int_equal(run_uvchat(check), 2);
  assert_non_null(strstr(srv.err_buf.p, "password-file: cannot read 'missing-file'"));
  th_server_free(&srv);

  write_file(g_conf, "; all fine\nport = 0\nirc-port = off\nquiet = yes\nroom = #main\n");
  assert_int_equal(run_uvchat(check), 0);
  assert_non_null(strstr(srv.out_buf.p, "the configuration is valid"));
  th_server_free(&srv);

  /* A missing --config file is an error too; the server does not start without it. */
  {
    char missing[1200];
    const char* const run[] = {"--config", missing, "--port", "0", NULL};
    snprintf(missing, sizeof(missing), "%s/nope.conf", g_dir);
    assert_int_equal(run_uvchat(run), 2);
    assert_non_null(strstr(srv.err_buf.p, "nope.conf: no such file"));
  }
}

/* The file sets the settings; a flag given as well wins over it. */
static void file_settings_and_flags_over_them(void** state) {
  const char* const args[] = {"--config", g_conf, "--max-per-addr", "2", "--irc-port", "0", NULL};
  th_client_t *a, *b;
  (void)state;
  write_file(g_motd, "file motd\n");
  {
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "room = #file\nmotd = %s\nmax-per-addr = 9\nmax-per-addr = 7\nirc-port = off\n",
             g_motd);
    write_file(g_conf, conf);
  }
  th_server_start(&srv, args);
  assert_true(srv.irc_port > 0); /* the flag's 0 over the file's off */
  a = th_connect(srv.port, 0, 1);
  th_expect(a, "*** Welcome to uvchat, guest1! Type /help for commands.");
  th_expect(a, "*** You are the first one in #file. Pick a name with /nick NAME.");
  b = th_connect(srv.irc_port, 0, 1); /* the second connection from 127.0.0.1 */
  th_irc_register(b, "ircer");
  expect_containing(b, "file motd");
  {
    th_client_t* c = th_connect(srv.port, 0, 1); /* the flag's 2, not the file's 7 */
    th_expect(c, "*** Disconnected: too many connections from your address (the limit is 2)");
    th_close(c);
  }
  th_close(a);
  th_close(b);
  th_server_stop(&srv);
}

/* The password comes from a file named in the configuration: it is in force, and it is in
 * neither the command line (/proc/PID/cmdline, what ps shows) nor the log. */
static void secrets_stay_out_of_argv(void** state) {
  const char* const args[] = {"--config", g_conf, NULL};
  th_client_t* t;
  (void)state;
  write_file(g_pw, "horse battery staple\n");
  {
    char conf[2048];
    snprintf(conf, sizeof(conf), "password-file = %s\n", g_pw);
    write_file(g_conf, conf);
  }
  th_server_start(&srv, args);
  t = th_connect(srv.port, 0, 1);
  th_expect(t, "*** This server needs a password: type /pass PASSWORD");
  th_sendf(t, "/pass horse battery staple\n");
  th_expect(t, "*** Welcome to uvchat, guest1! Type /help for commands.");
#ifdef __linux__
  {
    char path[64], cmdline[8192];
    size_t n;
    FILE* f;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)srv.proc.pid);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
    fclose(f);
    assert_true(n > 0);
    cmdline[n] = '\0';
    for (size_t i = 0; i < n; i++)
      if (cmdline[i] == '\0') cmdline[i] = ' ';
    assert_non_null(strstr(cmdline, "--config")); /* it is the server's command line */
    if (strstr(cmdline, "horse") != NULL) fail_msg("the password is in argv: %s", cmdline);
  }
#endif
  th_close(t);
  th_server_stop(&srv);
  assert_false(th_server_logged(&srv, "horse"));
#ifndef __linux__
  skip(); /* the password worked; argv is only readable here through /proc */
#endif
}

static void write_conf(const char* extra) {
  char conf[2048];
  snprintf(conf, sizeof(conf), "motd = %s\n%s", g_motd, extra);
  write_file(g_conf, conf);
}

/* A changed configuration file is reloaded: the new MOTD and the new limit apply to the
 * people already there, nobody is dropped, and a changed default room is only logged. */
static void reload_applies_motd_and_limit_without_dropping(void** state) {
  const char* const args[] = {"--config", g_conf, "--irc-port", "0", NULL};
  th_client_t *a, *b, *c;
  size_t mark;
  (void)state;
  write_file(g_motd, "the old motd\n");
  write_conf("max-per-addr = 10\n");
  th_server_start(&srv, args);
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  b = th_text_connect(srv.port);
  th_sendf(b, "/nick bob\n");
  th_expect(b, "*** guest1 is now known as bob");
  th_expect_eventually(a, ":guest1!text@uvchat NICK :bob");

  mark = th_server_log_mark(&srv);
  write_file(g_motd, "the new motd\n");
  write_conf("max-per-addr = 2\nroom = #elsewhere\nflood-rate = 7\n");
  if (!th_server_wait_log_since(&srv, mark, "setting", TH_WAIT_MS * 2))
    fail_msg("no reload after the file changed; log:\n%s", srv.err_buf.p + mark);
  assert_true(th_server_wait_log_since(&srv, mark, "max-per-addr: 10 -> 2", TH_WAIT_MS));
  assert_true(th_server_wait_log_since(&srv, mark, "flood-rate: 5 -> 7", TH_WAIT_MS));
  assert_true(th_server_wait_log_since(&srv, mark, "the MOTD text changed", TH_WAIT_MS));
  assert_true(th_server_wait_log_since(
      &srv, mark, "room changed from #lobby to #elsewhere: that needs a restart", TH_WAIT_MS));

  th_sendf(a, "MOTD\r\n");
  expect_containing(a, "the new motd");
  c = th_connect(srv.port, 0, 1); /* the third from this address: over the new limit */
  th_expect(c, "*** Disconnected: too many connections from your address (the limit is 2)");
  th_close(c);
  /* Both are still there, and still talk. */
  th_sendf(b, "still here\n");
  th_expect_eventually(a, ":bob!text@uvchat PRIVMSG #lobby :still here");
  th_sendf(a, "PRIVMSG #lobby :me too\r\n");
  th_expect(b, "<alice> me too");
  assert_false(th_server_logged(&srv, "disconnect"));
  th_close(a);
  th_close(b);
  th_server_stop(&srv);
}

/* A broken file on reload changes nothing: the old limit and MOTD stay, and the log says
 * which line is wrong. */
static void broken_file_on_reload_keeps_old_settings(void** state) {
  const char* const args[] = {"--config", g_conf, "--irc-port", "0", NULL};
  th_client_t *a, *b, *c;
  size_t mark;
  (void)state;
  write_file(g_motd, "the good motd\n");
  write_conf("max-per-addr = 3\n");
  th_server_start(&srv, args);
  a = th_irc_connect_lobby(srv.irc_port, "alice");

  mark = th_server_log_mark(&srv);
  write_file(g_motd, "a motd that must not show\n");
  write_conf("max-per-addr = 1\nmax-clients = many\n");
  if (!th_server_wait_log_since(&srv, mark, "keeping the current settings", TH_WAIT_MS * 2))
    fail_msg("no failed reload logged; log:\n%s", srv.err_buf.p + mark);
  assert_true(th_server_wait_log_since(&srv, mark, "uvchat.conf:3: max-clients", TH_WAIT_MS));
  th_sendf(a, "MOTD\r\n");
  expect_containing(a, "the good motd");
  b = th_text_connect(srv.port); /* the second and third fit the old limit of 3 */
  c = th_text_connect(srv.port);
  th_close(c);
  th_sendf(b, "hello\n");
  expect_containing(a, "PRIVMSG #lobby :hello");
  th_close(a);
  th_close(b);
  th_server_stop(&srv);
}

/* SIGHUP without TLS and without a configuration file: the server stays up (it used to die
 * with status 129), the MOTD is read again, and the connected client stays. */
static void sighup_reloads_and_never_kills(void** state) {
#ifdef _WIN32
  (void)state;
  skip(); /* no SIGHUP on Windows: a changed file is the reload there (tests above) */
#else
  const char* args[] = {"--motd", g_motd, "--irc-port", "0", NULL};
  th_client_t* a;
  size_t mark;
  (void)state;
  write_file(g_motd, "before the signal\n");
  th_server_start(&srv, args);
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  write_file(g_motd, "after the signal\n");
  mark = th_server_log_mark(&srv);
  th_server_kill(&srv, SIGHUP);
  assert_true(
      th_server_wait_log_since(&srv, mark, "reload (SIGHUP): the MOTD text changed", TH_WAIT_MS));
  th_server_kill(&srv, SIGHUP); /* twice: still alive */
  assert_true(th_server_wait_log_since(&srv, mark, "reload (SIGHUP): 0 settings", TH_WAIT_MS));
  assert_true(srv.running);
  th_sendf(a, "MOTD\r\n");
  expect_containing(a, "after the signal");
  th_close(a);
  th_server_stop(&srv); /* exit 0, "stopped cleanly" */
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(check_config_points_at_the_broken_line, setup, teardown),
      cmocka_unit_test_setup_teardown(file_settings_and_flags_over_them, setup, teardown),
      cmocka_unit_test_setup_teardown(secrets_stay_out_of_argv, setup, teardown),
      cmocka_unit_test_setup_teardown(reload_applies_motd_and_limit_without_dropping, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(broken_file_on_reload_keeps_old_settings, setup, teardown),
      cmocka_unit_test_setup_teardown(sighup_reloads_and_never_kills, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
