/* test_accounts_chat.c: registered accounts in the real uvchat binary over real sockets:
 * text commands, SASL and NickServ for IRC clients, name protection in both protocols,
 * throttling, durability across kill -9, and the server password. Each test gets a server
 * of its own on a fresh data directory. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"
#include "tmpdir.h"

static th_server_t srv;
static char g_dir[1024]; /* the data directory of this test's server */

/* Starts the server on g_dir with an IRC listener and the extra arguments (up to 4). */
static void start_server(const char* const* extra) {
  const char* args[16] = {"--data-dir", g_dir, "--irc-port", "0"};
  int n = 4, i;
  for (i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  th_server_start(&srv, args);
}

/* A fresh data directory and a server on it. */
static int setup(void** state) {
  (void)state;
  tt_mkdtemp("uvchat-acct", g_dir, sizeof g_dir);
  start_server(NULL);
  return 0;
}

/* A server with a password, on a fresh data directory. */
static int setup_with_password(void** state) {
  static const char* const extra[] = {"--password", "s3cret pass", NULL};
  (void)state;
  tt_mkdtemp("uvchat-acct", g_dir, sizeof g_dir);
  start_server(extra);
  return 0;
}

/* SIGTERM and a clean exit required; no password ever reached the log. */
static int stop_server(void** state) {
  (void)state;
  if (th_server_logged(&srv, "horse")) fail_msg("a password reached the log:\n%s", srv.err_buf.p);
  th_server_stop(&srv);
  th_server_free(&srv);
  tt_rmdir(g_dir);
  return 0;
}

/* "AUTHENTICATE " and the base64 of authzid NUL authcid NUL password, with CRLF. */
static void sasl_line(char* out, size_t cap, const char* authcid, const char* password) {
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char raw[256];
  size_t n = 0, i, o;
  raw[n++] = '\0'; /* no authzid */
  memcpy(raw + n, authcid, strlen(authcid));
  n += strlen(authcid);
  raw[n++] = '\0';
  memcpy(raw + n, password, strlen(password));
  n += strlen(password);
  o = (size_t)snprintf(out, cap, "AUTHENTICATE ");
  for (i = 0; i < n && o + 6 < cap; i += 3) {
    unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) |
                 (i + 2 < n ? raw[i + 2] : 0);
    out[o++] = kB64[(v >> 18) & 63];
    out[o++] = kB64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? kB64[v & 63] : '=';
  }
  snprintf(out + o, cap - o, "\r\n");
}

/* /register, then /login from a second connection takes the nick; nobody else may take it,
 * in either protocol; /who and WHOIS show who is logged in. */
static void text_register_login_and_name_protection(void** state) {
  th_client_t *a, *b, *i;
  (void)state;
  a = th_text_connect(srv.port); /* guest1 */
  th_sendf(a, "/nick alice\n/register correct horse\n");
  th_expect(a, "*** guest1 is now known as alice");
  th_expect(a, "*** Account alice registered; you are logged in.");
  assert_true(th_server_wait_log(&srv, "account alice: registered", TH_WAIT_MS));

  b = th_text_connect(srv.port); /* guest2 */
  th_expect(a, "*** guest2 joined #lobby");
  th_sendf(b, "/nick Alice\n");
  th_expect(b, "! the nick Alice is registered; log in with /login Alice PASSWORD");
  th_sendf(a, "/logout\n");
  th_expect(a, "*** You are logged out of alice.");
  th_expect(a, "*** alice is now known as guest3");
  th_expect(b, "*** alice is now known as guest3");

  i = th_connect(srv.irc_port, 0, 1);
  th_sendf(i, "NICK alice\r\nUSER i 0 * :I\r\n");
  th_expect(i,
            ":uvchat 433 * alice :Nickname is registered; log in with SASL, or pick another "
            "nick and /msg NickServ IDENTIFY alice PASSWORD");
  th_sendf(i, "NICK ivy\r\n");
  th_expect_eventually(i, ":uvchat 366 ivy #lobby :End of /NAMES list");
  th_sendf(i, "NICK ALICE\r\n");
  th_expect(i,
            ":uvchat 433 ivy ALICE :Nickname is registered; log in first (/msg NickServ "
            "IDENTIFY ALICE PASSWORD)");
  th_expect(a, "*** ivy joined #lobby");
  th_expect(b, "*** ivy joined #lobby");

  th_sendf(b, "/login alice wrong horse\n");
  th_expect(b, "! cannot log in as alice: wrong password, or no such account");
  th_sendf(b, "/login alice correct horse\n");
  th_expect(b, "*** guest2 is now known as alice");
  th_expect(b, "*** You are logged in as alice.");
  th_expect(a, "*** guest2 is now known as alice");
  th_expect(i, ":guest2!text@uvchat NICK :alice");
  /* a second connection logs in to alice: it takes the nick from the first */
  th_sendf(a, "/login alice correct horse\n");
  th_expect(a, "*** alice is now known as guest4");
  th_expect(a, "*** guest3 is now known as alice");
  th_expect(a, "*** You are logged in as alice.");
  th_expect(b, "*** alice is now known as guest4");
  th_expect(b,
            "*** you logged in to alice from another connection, which took the nick: this "
            "one is now guest4");
  th_expect(b, "*** guest3 is now known as alice");
  th_expect(i, ":alice!text@uvchat NICK :guest4");
  th_expect(i, ":guest3!text@uvchat NICK :alice");

  th_sendf(b, "/who\n");
  th_expect(b, "*** 3 people in #lobby:");
  th_expect(b, "***   alice+ guest4+ ivy");
  th_sendf(i, "WHOIS alice\r\n");
  th_expect(i, ":uvchat 311 ivy alice text uvchat * :text user");
  th_expect(i, ":uvchat 319 ivy alice :#lobby");
  th_expect(i, ":uvchat 312 ivy alice uvchat :uvchat chat server");
  th_expect(i, ":uvchat 320 ivy alice :is using a plain-text client (nc or telnet)");
  th_expect(i, ":uvchat 330 ivy alice alice :is logged in as");
  th_expect(i, ":uvchat 318 ivy alice :End of /WHOIS list");
  th_sendf(a, "/logout\n");
  th_expect(a, "*** You are logged out of alice.");
  th_close(a);
  th_close(b);
  th_close(i);
}

/* NickServ REGISTER and IDENTIFY; SASL PLAIN failure (904) and success (900, 903), after
 * which the client registers under its registered nick (taking it from the old connection). */
static void irc_nickserv_and_sasl(void** state) {
  th_client_t *d, *e, *s;
  char line[256];
  (void)state;
  d = th_irc_connect(srv.irc_port, "dave");
  th_sendf(d, "PRIVMSG NickServ :REGISTER correct-horse\r\n");
  th_expect(d, ":NickServ!service@uvchat NOTICE dave :Account dave registered; you are logged in");
  th_expect(d, ":uvchat 900 dave dave!~dave@uvchat dave :You are now logged in as dave");

  e = th_irc_connect(srv.irc_port, "eve");
  th_expect(d, ":eve!~eve@uvchat JOIN #lobby");
  th_sendf(e, "PRIVMSG NickServ :IDENTIFY dave wrong-horse\r\n");
  th_expect(e,
            ":NickServ!service@uvchat NOTICE eve :cannot log in as dave: wrong password, or no "
            "such account");
  th_sendf(e, "WHOIS dave\r\n");
  th_expect_eventually(e, ":uvchat 330 eve dave dave :is logged in as");

  s = th_connect(srv.irc_port, 0, 1);
  th_sendf(s, "CAP LS 302\r\nNICK dave\r\nUSER d 0 * :D\r\n");
  th_expect(s, ":uvchat CAP * LS :multi-prefix sasl=PLAIN userhost-in-names");
  th_sendf(s, "CAP REQ :sasl\r\n");
  th_expect(s, ":uvchat CAP * ACK :sasl");
  th_sendf(s, "AUTHENTICATE PLAIN\r\n");
  th_expect(s, "AUTHENTICATE +");
  sasl_line(line, sizeof line, "dave", "wrong-horse");
  th_sendf(s, line);
  th_expect(s,
            ":uvchat 904 * :SASL authentication failed: cannot log in as dave: wrong "
            "password, or no such account");
  th_sendf(s, "AUTHENTICATE PLAIN\r\n");
  th_expect(s, "AUTHENTICATE +");
  sasl_line(line, sizeof line, "dave", "correct-horse");
  th_sendf(s, line);
  th_expect(s, ":uvchat 900 * dave!~d@uvchat dave :You are now logged in as dave");
  th_expect(s, ":uvchat 903 * :SASL authentication successful");
  th_sendf(s, "CAP END\r\n");
  th_expect(s, ":uvchat 001 dave :Welcome to the uvchat Network, dave");
  th_expect_eventually(s, ":uvchat 366 dave #lobby :End of /NAMES list");
  th_expect_prefix(d, ":dave!~dave@uvchat NICK :guest");
  th_expect_prefix(d,
                   ":uvchat NOTICE * :you logged in to dave from another connection, which took "
                   "the nick: this one is now guest");
  th_close(d);
  th_close(e);
  th_close(s);
}

/* Three wrong passwords lock the account (and the address) for a minute. */
static void wrong_passwords_are_throttled(void** state) {
  th_client_t *a, *b;
  int k;
  (void)state;
  a = th_text_connect(srv.port);
  th_sendf(a, "/nick alice\n/register correct horse\n");
  th_expect(a, "*** guest1 is now known as alice");
  th_expect(a, "*** Account alice registered; you are logged in.");
  b = th_text_connect(srv.port);
  for (k = 0; k < 3; k++) {
    th_sendf(b, "/login alice battery horse\n");
    th_expect(b, "! cannot log in as alice: wrong password, or no such account");
  }
  th_sendf(b, "/login alice correct horse\n");
  th_expect_prefix(b, "! too many failed logins for alice; try again in ");
  th_sendf(b, "/login bob correct horse\n");
  th_expect_prefix(b, "! too many failed logins from your address; try again in ");
  assert_true(th_server_logged(&srv, "account alice: wrong password from 127.0.0.1"));
  th_close(a);
  th_close(b);
}

/* Once /register is confirmed, the account is on disk: it survives kill -9. */
static void registration_survives_kill_9(void** state) {
  th_client_t *a, *b;
  int status;
  (void)state;
  a = th_text_connect(srv.port);
  th_sendf(a, "/nick alice\n/register correct horse\n");
  th_expect(a, "*** guest1 is now known as alice");
  th_expect(a, "*** Account alice registered; you are logged in.");
  th_server_kill(&srv, SIGKILL); /* at once: no clean shutdown, no checkpoint */
  status = th_server_wait(&srv, 30000);
#ifndef _WIN32
  assert_int_equal(status, 128 + SIGKILL);
#else
  assert_int_not_equal(status, 0); /* TerminateProcess: no signal number to check */
#endif
  th_close(a);
  th_server_free(&srv);

  start_server(NULL);
  assert_true(th_server_wait_log(&srv, "accounts: 1 registered", TH_WAIT_MS));
  b = th_text_connect(srv.port);
  th_sendf(b, "/nick alice\n");
  th_expect(b, "! the nick alice is registered; log in with /login alice PASSWORD");
  th_sendf(b, "/login alice correct horse\n");
  th_expect(b, "*** guest1 is now known as alice");
  th_expect(b, "*** You are logged in as alice.");
  th_close(b);
}

/* --password: IRC clients need the right PASS (464 otherwise); text users are told to type
 * /pass and are nobody until they do. */
static void server_password_for_both_protocols(void** state) {
  th_client_t *i, *j, *t, *u;
  (void)state;
  i = th_connect(srv.irc_port, 0, 1);
  th_sendf(i, "PASS wrong\r\nNICK ivy\r\nUSER i 0 * :I\r\n");
  th_expect(i, ":uvchat 464 * :Password incorrect");
  th_expect(i, "ERROR :Closing Link: * (Password incorrect)");
  assert_true(th_wait_closed(i, TH_WAIT_MS));
  j = th_connect(srv.irc_port, 0, 1);
  th_sendf(j, "PASS :s3cret pass\r\nNICK jay\r\nUSER j 0 * :J\r\n");
  th_expect(j, ":uvchat 001 jay :Welcome to the uvchat Network, jay");
  th_expect_eventually(j, ":uvchat 366 jay #lobby :End of /NAMES list");

  t = th_connect(srv.port, 0, 1);
  th_expect(t, "*** This server needs a password: type /pass PASSWORD");
  th_sendf(t, "hello\n/pass s3cret\n");
  th_expect(t, "! this server needs a password first: type /pass PASSWORD");
  th_expect(t, "! wrong password; 2 more tries");
  th_sendf(t, "/pass s3cret pass\n");
  th_expect(t, "*** Welcome to uvchat, guest1! Type /help for commands.");
  th_expect(t, "*** You are in #lobby with 1 other. Pick a name with /nick NAME.");
  th_expect(j, ":guest1!text@uvchat JOIN #lobby");

  u = th_connect(srv.port, 0, 1); /* the third failure of this address: it must wait */
  th_expect(u, "*** This server needs a password: type /pass PASSWORD");
  th_sendf(u, "/pass nope\n/pass s3cret pass\n");
  th_expect(u, "! wrong password; 2 more tries");
  th_expect_prefix(u, "! too many wrong passwords from your address; try again in ");
  th_sendf(u, "/pass s3cret pass\n");
  th_expect_prefix(u, "! too many wrong passwords from your address; try again in ");
  assert_true(th_wait_closed(u, TH_WAIT_MS));
  assert_false(th_server_logged(&srv, "s3cret"));
  th_close(i);
  th_close(j);
  th_close(t);
  th_close(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(text_register_login_and_name_protection, setup, stop_server),
      cmocka_unit_test_setup_teardown(irc_nickserv_and_sasl, setup, stop_server),
      cmocka_unit_test_setup_teardown(wrong_passwords_are_throttled, setup, stop_server),
      cmocka_unit_test_setup_teardown(registration_survives_kill_9, setup, stop_server),
      cmocka_unit_test_setup_teardown(server_password_for_both_protocols, setup_with_password,
                                      stop_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
