/* test_tls_chat.c: TLS listeners with a real TLS client (openssl s_client) next to plaintext
 * users: text and IRC over TLS, certificate reload on SIGHUP, and clients that speak the
 * wrong protocol to a port. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"
#include "tmpdir.h"

static th_server_t srv;
static char g_dir[512];
static char g_cert[600], g_key[600];

/* Makes a self-signed certificate for CN=cn into g_cert/g_key with the openssl tool. */
static void make_cert(const char* cn) {
  char subj[64];
  const char* argv[] = {
      "openssl", "req",   "-x509", "-newkey", "ec",  "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-nodes",  "-days", "2",     "-keyout", g_key, "-out",     g_cert,
      "-subj",   subj,    NULL};
  snprintf(subj, sizeof subj, "/CN=%s", cn);
  if (th_run_program(argv, 30000) != 0) fail_msg("openssl req could not make a certificate");
}

static int setup(void** state) {
  (void)state;
  tt_mkdtemp("uvchat-tls", g_dir, sizeof g_dir);
  snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
  snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
  make_cert("uvchat-test-1");
  {
    const char* args[] = {"--irc-port",     "0",   "--tls-port", "0",
                          "--irc-tls-port", "0",   "--tls-cert", g_cert,
                          "--tls-key",      g_key, NULL};
    th_server_start(&srv, args);
  }
  return 0;
}

static int teardown(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  tt_rmdir(g_dir);
  return 0;
}

/* openssl s_client to a TLS port; quiet: its stdout is only what the server sends. */
static th_client_t* tls_client(int port, int quiet) {
  char addr[64];
  const char* loud[] = {"openssl", "s_client", "-connect", addr, "-ign_eof", NULL};
  const char* hush[] = {"openssl", "s_client", "-connect", addr, "-quiet", NULL};
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  return th_spawn_client(quiet ? hush : loud);
}

/* A text user over TLS and one in plaintext talk to each other, each in its own transport. */
static void tls_text_user_chats_with_plaintext_user(void** state) {
  th_client_t *plain, *secure;
  (void)state;
  plain = th_connect(srv.port, 0, 1);
  assert_string_equal(th_welcome(plain), "guest1");
  secure = tls_client(srv.tls_port, 1);
  assert_string_equal(th_welcome(secure), "guest2");
  th_expect(plain, "*** guest2 joined #lobby");
  th_sendf(secure, "hello over TLS\n");
  th_expect(plain, "<guest2> hello over TLS");
  th_sendf(plain, "hi back in plaintext\n");
  th_expect(secure, "<guest1> hi back in plaintext");
  th_sendf(secure, "/quit done\n");
  th_expect(secure, "*** Bye, guest2!");
  th_expect(plain, "*** guest2 left (quit: done)");
  assert_true(th_server_logged(&srv, "connect guest2 from 127.0.0.1"));
  assert_true(th_server_logged(&srv, "(text, TLS)"));
  th_close(secure);
  th_close(plain);
}

/* An IRC client over TLS registers and talks to a plaintext text user. */
static void irc_over_tls(void** state) {
  th_client_t *plain, *secure;
  (void)state;
  plain = th_connect(srv.port, 0, 1);
  th_welcome(plain);
  secure = tls_client(srv.irc_tls_port, 1);
  th_sendf(secure, "NICK tim\r\nUSER tim 0 * :Tim\r\nJOIN #lobby\r\n");
  th_expect_eventually(secure, ":uvchat 366 tim #lobby :End of /NAMES list");
  th_expect(plain, "*** tim joined #lobby");
  th_sendf(secure, "PRIVMSG #lobby :hi from IRC over TLS\r\n");
  th_expect(plain, "<tim> hi from IRC over TLS");
  th_sendf(plain, "welcome, tim\n");
  th_expect(secure, ":guest1!text@uvchat PRIVMSG #lobby :welcome, tim");
  th_close(secure);
  th_close(plain);
}

/* IRCv3 sts: the plaintext IRC port names the TLS port the server really got and the
 * duration (a day by default); the TLS port gives the duration alone. */
static void sts_policy_names_the_tls_port(void** state) {
  th_client_t *plain, *secure;
  const char* l;
  char want[64];
  (void)state;
  plain = th_connect(srv.irc_port, 0, 1);
  th_sendf(plain, "CAP LS 302\r\n");
  l = th_skip_to(plain, ":uvchat CAP * LS :", TH_WAIT_MS);
  assert_non_null(l);
  snprintf(want, sizeof want, " sts=port=%d,duration=86400 ", srv.irc_tls_port);
  if (strstr(l, want) == NULL) fail_msg("no \"%s\" in %s", want, l);
  secure = tls_client(srv.irc_tls_port, 1);
  th_sendf(secure, "CAP LS 302\r\n");
  l = th_skip_to(secure, ":uvchat CAP * LS :", TH_WAIT_MS);
  assert_non_null(l);
  if (strstr(l, " sts=duration=86400 ") == NULL) fail_msg("no sts=duration=86400 in %s", l);
  th_close(secure);
  th_close(plain);
}

#ifndef _WIN32
/* SIGHUP (a reload) loads a new certificate: new connections get it, open ones keep working; a bad
 * certificate file leaves the old one in place. */
static void certificate_reload(void** state) {
  th_client_t *plain, *old, *fresh;
  const char* l;
  uv_fs_t req;
  uv_file f;
  (void)state;
  plain = th_connect(srv.port, 0, 1);
  th_welcome(plain);
  old = tls_client(srv.tls_port, 1);
  th_welcome(old);
  th_expect(plain, "*** guest2 joined #lobby");
  make_cert("uvchat-test-2");
  th_server_kill(&srv, SIGHUP);
  assert_true(th_server_wait_log(&srv, "reload (SIGHUP): loaded the TLS certificate", TH_WAIT_MS));
  th_sendf(old, "still here after the reload\n");
  th_expect(plain, "<guest2> still here after the reload");
  fresh = tls_client(srv.tls_port, 0);
  l = th_skip_to(fresh, "subject=", TH_WAIT_MS);
  assert_non_null(l);
  assert_non_null(strstr(l, "uvchat-test-2"));
  th_close(fresh);
  /* a broken certificate file: the reload fails and the server keeps the last good one */
  assert_true(uv_fs_open(NULL, &req, g_cert, UV_FS_O_WRONLY | UV_FS_O_TRUNC, 0, NULL) >= 0);
  f = (uv_file)req.result;
  uv_fs_req_cleanup(&req);
  uv_fs_close(NULL, &req, f, NULL);
  uv_fs_req_cleanup(&req);
  th_server_kill(&srv, SIGHUP);
  assert_true(
      th_server_wait_log(&srv, "reload (SIGHUP): cannot load the TLS certificate", TH_WAIT_MS));
  fresh = tls_client(srv.tls_port, 0);
  l = th_skip_to(fresh, "subject=", TH_WAIT_MS);
  assert_non_null(l);
  assert_non_null(strstr(l, "uvchat-test-2"));
  th_close(fresh);
  th_close(old);
  th_close(plain);
}
#endif

/* Plaintext or garbage at the TLS port: one clear plaintext line or a close, never a
 * spinning server; the others chat on. */
static void plaintext_and_garbage_on_the_tls_port(void** state) {
  th_client_t *plain, *wrong, *junk;
  (void)state;
  plain = th_connect(srv.port, 0, 1);
  th_welcome(plain);
  wrong = th_connect(srv.tls_port, 0, 1);
  th_sendf(wrong, "hello, is this chat?\n");
  th_expect(wrong,
            "This port speaks TLS: connect with a TLS client (openssl s_client, an IRC client "
            "with TLS on), or use the plaintext port.");
  assert_true(th_wait_closed(wrong, TH_WAIT_MS));
  junk = th_connect(srv.tls_port, 0, 1);
  th_send(junk, "\x16\x03\x01\x00\x10this is no ClientHello at all....", 38);
  assert_true(th_wait_closed(junk, TH_WAIT_MS));
  assert_true(th_server_logged(&srv, "plaintext on the TLS port"));
  th_sendf(plain, "/who\n");
  th_expect(plain, "*** 1 person in #lobby:");
  th_close(wrong);
  th_close(junk);
  th_close(plain);
}

/* A TLS client at a plaintext port is closed at once; nothing it sent reaches anyone. */
static void tls_on_the_plaintext_port(void** state) {
  th_client_t *plain, *secure;
  const char* l;
  (void)state;
  plain = th_connect(srv.port, 0, 1);
  th_welcome(plain);
  secure = tls_client(srv.port, 1);
  assert_true(th_client_wait_exit(secure, TH_WAIT_MS) != 0); /* its handshake failed */
  assert_true(th_server_wait_log(&srv, "a TLS handshake on a plaintext port", TH_WAIT_MS));
  th_sendf(plain, "/who\n");
  while ((l = th_line(plain, TH_WAIT_MS)) != NULL && strncmp(l, "*** 1 person", 12) != 0)
    if (l[0] == '<') fail_msg("the handshake reached the room as \"%s\"", l);
  assert_non_null(l);
  th_close(secure);
  th_close(plain);
}

/* A telnet user can come through TLS too: its Ctrl-C (IAC IP IAC DO TIMING-MARK) is answered
 * inside TLS, before any newline, and it keeps hearing the room. */
static void telnet_negotiation_over_tls(void** state) {
  static const char want[] =
      "\xFF\xFD\x00\xFF\xFB\x06*** Ctrl-C does nothing here: type /quit to leave";
  th_client_t *plain, *secure;
  const char* l;
  (void)state;
  plain = th_text_connect(srv.port);
  secure = tls_client(srv.tls_port, 1);
  th_welcome(secure);
  th_send(secure, "\xFF\xF4\xFF\xFD\x06", 5);
  l = th_line(secure, TH_WAIT_MS); /* DO BINARY, WILL TIMING-MARK, the hint */
  assert_non_null(l);
  assert_memory_equal(l, want, sizeof(want) - 1);
  th_sendf(plain, "still there?\n");
  th_expect_eventually(secure, "<guest1> still there?");
  th_close(secure);
  th_close(plain);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(tls_text_user_chats_with_plaintext_user, setup, teardown),
      cmocka_unit_test_setup_teardown(irc_over_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(sts_policy_names_the_tls_port, setup, teardown),
#ifndef _WIN32
      cmocka_unit_test_setup_teardown(certificate_reload, setup, teardown),
#endif
      cmocka_unit_test_setup_teardown(plaintext_and_garbage_on_the_tls_port, setup, teardown),
      cmocka_unit_test_setup_teardown(tls_on_the_plaintext_port, setup, teardown),
      cmocka_unit_test_setup_teardown(telnet_negotiation_over_tls, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
