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
  assert_non_null(th_skip_to(i, ":uvchat NOTICE ivy :*** Plain-text users", TH_WAIT_MS));
  th_irc_join(i, "ivy", "#lobby");
  th_sendf(i, "NICK ALICE\r\n");
  th_expect(i,
            ":uvchat 433 ivy ALICE :Nickname is registered; log in first (/msg NickServ "
            "IDENTIFY ALICE PASSWORD)");
  th_expect(a, "*** ivy joined #lobby");
  th_expect(b, "*** ivy joined #lobby");

  th_sendf(b, "/login alice wrong horse\n");
  th_expect(b, "! cannot log in as alice: wrong password, or no such account");
  th_sendf(b, "/login alice correct horse\n");
  th_expect(b, "*** You are logged in as alice."); /* then the account's nick */
  th_expect(b, "*** guest2 is now known as alice");
  th_expect(a, "*** guest2 is now known as alice");
  th_expect(i, ":guest2!text@uvchat NICK :alice");
  /* a second connection logs in to alice: it takes the nick from the first */
  th_sendf(a, "/login alice correct horse\n");
  th_expect(a, "*** You are logged in as alice.");
  th_expect(a, "*** alice is now known as guest4");
  th_expect(a, "*** guest3 is now known as alice");
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
  d = th_irc_connect_lobby(srv.irc_port, "dave");
  th_sendf(d, "PRIVMSG NickServ :REGISTER correct-horse\r\n");
  th_expect(d, ":NickServ!service@uvchat NOTICE dave :Account dave registered; you are logged in");
  th_expect(d, ":uvchat 900 dave dave!~dave@uvchat dave :You are now logged in as dave");

  e = th_irc_connect_lobby(srv.irc_port, "eve");
  th_expect(d, ":eve!~eve@uvchat JOIN #lobby");
  th_sendf(e, "PRIVMSG NickServ :IDENTIFY dave wrong-horse\r\n");
  th_expect(e,
            ":NickServ!service@uvchat NOTICE eve :cannot log in as dave: wrong password, or no "
            "such account");
  th_sendf(e, "WHOIS dave\r\n");
  th_expect_eventually(e, ":uvchat 330 eve dave dave :is logged in as");

  s = th_connect(srv.irc_port, 0, 1);
  th_sendf(s, "CAP LS 302\r\nNICK dave\r\nUSER d 0 * :D\r\n");
  th_expect(s,
            ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify "
            "echo-message extended-join invite-notify labeled-response message-tags multi-prefix "
            "sasl=PLAIN "
            "server-time setname standard-replies userhost-in-names");
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
  assert_non_null(th_skip_to(s, ":uvchat NOTICE dave :*** Plain-text users", TH_WAIT_MS));
  th_irc_join(s, "dave", "#lobby");
  th_expect_prefix(d, ":dave!~dave@uvchat NICK :guest");
  th_expect_prefix(d,
                   ":uvchat NOTICE * :you logged in to dave from another connection, which took "
                   "the nick: this one is now guest");
  th_close(d);
  th_close(e);
  th_close(s);
}

/* Three wrong passwords lock the account for a minute, for the address they came from. */
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
  th_expect_prefix(b, "! too many failed logins for alice from your address; try again in ");
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
  th_expect(b, "*** You are logged in as alice.");
  th_expect(b, "*** guest1 is now known as alice");
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
  assert_non_null(th_skip_to(j, ":uvchat NOTICE jay :*** Plain-text users", TH_WAIT_MS));
  th_irc_join(j, "jay", "#lobby");

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

/* A text client connected from 127.0.0.x (loopback has them all), past its welcome. */
static th_client_t* text_from(int x) {
  struct sockaddr_in from;
  char ip[32];
  th_client_t* c;
  snprintf(ip, sizeof ip, "127.0.0.%d", x);
  assert_int_equal(uv_ip4_addr(ip, 0, &from), 0);
  c = th_connect_from(srv.port, (const struct sockaddr*)&from);
  th_welcome(c);
  return c;
}

/* The answer to an account command: the next error line or "*** Account" line (others'
 * arrivals and renames in between are skipped), or NULL. */
static const char* account_answer(th_client_t* c) {
  const char* l;
  while ((l = th_line(c, TH_WAIT_MS)) != NULL)
    if (strncmp(l, "! ", 2) == 0 || strncmp(l, "*** Account", 11) == 0) return l;
  return NULL;
}

/* Sends "/nick NICK" and "/register PASSWORD" and returns the answer to /register. */
static const char* register_as(th_client_t* c, const char* nick, const char* password) {
  char line[256];
  snprintf(line, sizeof line, "/nick %s\n/register %s\n", nick, password);
  th_sendf(c, line);
  return account_answer(c);
}

/* A registration flood from one address is cut off at --register-per-addr (3 an hour) with
 * a clear answer, before any hashing; a /login from another address meanwhile is answered
 * at once; and a flood of connections firing at once gets only refusals. */
static void registration_flood_is_cut_off_per_address(void** state) {
  th_client_t *flood[12], *owner, *late;
  const char* got;
  char nick[32];
  int i;
  (void)state;
  owner = text_from(2);
  got = register_as(owner, "owner", "correct horse");
  assert_string_equal(got, "*** Account owner registered; you are logged in.");
  th_sendf(owner, "/logout\n");
  th_skip_to(owner, "*** You are logged out", TH_WAIT_MS);

  for (i = 0; i < 4; i++) { /* one after another from 127.0.0.1: three, then no more */
    flood[i] = text_from(1);
    snprintf(nick, sizeof nick, "squat%d", i);
    got = register_as(flood[i], nick, "correct horse");
    if (i < 3) {
      assert_non_null(got);
      assert_true(strncmp(got, "*** Account squat", 17) == 0);
    } else {
      assert_string_equal(got,
                          "! too many new accounts from your address (at most 3 an hour); try "
                          "again in 60 minutes");
    }
  }
  assert_true(th_server_logged(&srv, "registration refused from 127.0.0.1 (address limit)"));
  for (i = 4; i < 12; i++) /* then everything at once */
    flood[i] = text_from(1);
  for (i = 4; i < 12; i++) {
    char line[64];
    snprintf(line, sizeof line, "/nick rush%d\n/register correct horse\n", i);
    th_sendf(flood[i], line);
  }
  late = text_from(2); /* meanwhile the owner logs in from elsewhere */
  th_sendf(late, "/login owner correct horse\n");
  for (i = 4; i < 12; i++) {
    got = account_answer(flood[i]);
    assert_non_null(got);
    assert_true(strncmp(got, "! too many new accounts from your address", 41) == 0);
  }
  /* promptly: one password check, nothing queued ahead of it (deadline 2 s, stretched by
   * UVCHAT_TEST_SLOW under valgrind) */
  got = th_skip_to(late, "*** You are logged in as owner.", 2000);
  assert_non_null(got);
  assert_false(th_server_logged(&srv, "account rush"));
  for (i = 0; i < 12; i++)
    th_close(flood[i]);
  th_close(owner);
  th_close(late);
}

/* SASL PLAIN for nick/password on a new IRC connection from 127.0.0.x; returns the client
 * once the SASL answer (903 or 904) came, which goes to answer. */
static th_client_t* sasl_from(int x, const char* nick, const char* password, char* answer,
                              size_t cap) {
  struct sockaddr_in from;
  char ip[32], line[256];
  th_client_t* c;
  const char* got;
  snprintf(ip, sizeof ip, "127.0.0.%d", x);
  assert_int_equal(uv_ip4_addr(ip, 0, &from), 0);
  c = th_connect_from(srv.irc_port, (const struct sockaddr*)&from);
  snprintf(line, sizeof line, "CAP REQ :sasl\r\nNICK %s\r\nUSER u 0 * :U\r\nAUTHENTICATE PLAIN\r\n",
           nick);
  th_sendf(c, line);
  th_expect(c, ":uvchat CAP * ACK :sasl");
  th_expect(c, "AUTHENTICATE +");
  sasl_line(line, sizeof line, nick, password);
  th_sendf(c, line);
  got = th_skip_to(c, ":uvchat 90", TH_WAIT_MS);
  while (got != NULL && strncmp(got, ":uvchat 900", 11) == 0)
    got = th_skip_to(c, ":uvchat 90", TH_WAIT_MS);
  assert_non_null(got);
  snprintf(answer, cap, "%s", got);
  return c;
}

/* The owner of a name that another address keeps guessing still logs in with the right
 * password from their own address: by text and by SASL, as an IRC client does on every
 * reconnect. The guesser's address is locked for that name, even with the right password. */
static void owner_logs_in_while_another_address_guesses(void** state) {
  th_client_t *owner, *guesser, *irc;
  char answer[512];
  int k;
  (void)state;
  owner = text_from(3);
  assert_string_equal(register_as(owner, "alice", "correct horse"),
                      "*** Account alice registered; you are logged in.");
  th_sendf(owner, "/logout\n");
  th_skip_to(owner, "*** You are logged out", TH_WAIT_MS);
  guesser = text_from(4);
  for (k = 0; k < 3; k++) {
    th_sendf(guesser, "/login alice battery horse\n");
    th_expect(guesser, "! cannot log in as alice: wrong password, or no such account");
  }
  for (k = 0; k < 3; k++) { /* it keeps guessing, refused at once */
    th_sendf(guesser, "/login alice staple horse\n");
    assert_true(strncmp(account_answer(guesser),
                        "! too many failed logins for alice from your address; try again in ",
                        67) == 0);
  }
  th_sendf(owner, "/login alice correct horse\n");
  assert_non_null(th_skip_to(owner, "*** You are logged in as alice.", TH_WAIT_MS));
  th_sendf(guesser, "/login alice correct horse\n"); /* right, but from the locked address */
  assert_true(strncmp(account_answer(guesser),
                      "! too many failed logins for alice from your address; try again in ",
                      67) == 0);
  irc = sasl_from(3, "alice", "correct horse", answer, sizeof answer);
  assert_string_equal(answer, ":uvchat 903 * :SASL authentication successful");
  th_close(irc);
  irc = sasl_from(4, "alice", "correct horse", answer, sizeof answer);
  assert_true(strncmp(answer,
                      ":uvchat 904 * :SASL authentication failed: too many failed logins for "
                      "alice from your address",
                      84) == 0);
  th_close(irc);
  th_close(owner);
  th_close(guesser);
}

#ifdef UVCHAT_ACCOUNT_BIN
/* uvchat-account deletes an account from a running server's database: the server notices,
 * logs out whoever is logged in to it, the password no longer works and the name can be
 * registered again. */
static void delete_tool_on_a_running_server(void** state) {
  const char* del[] = {UVCHAT_ACCOUNT_BIN, "--data-dir", g_dir, "delete", "alice", NULL};
  const char* list[] = {UVCHAT_ACCOUNT_BIN, "--data-dir", g_dir, "list", NULL};
  th_client_t *a, *b, *c;
  (void)state;
  a = text_from(5);
  assert_string_equal(register_as(a, "alice", "correct horse"),
                      "*** Account alice registered; you are logged in.");
  assert_int_equal(th_run_program(list, TH_WAIT_MS), 0);
  assert_int_equal(th_run_program(del, TH_WAIT_MS), 0);
  assert_true(th_server_wait_log(&srv, "account alice: deleted outside the server", TH_WAIT_MS));
  assert_non_null(
      th_skip_to(a, "*** You are logged out: the account alice was deleted.", TH_WAIT_MS));
  b = text_from(6);
  th_sendf(b, "/login alice correct horse\n");
  th_expect(b, "! cannot log in as alice: wrong password, or no such account");
  c = text_from(7);
  assert_string_equal(register_as(c, "alice2", "other horse"),
                      "*** Account alice2 registered; you are logged in.");
  th_sendf(a, "/register new horse\n"); /* a kept the nick alice: now it can register it */
  assert_non_null(th_skip_to(a, "*** Account alice registered; you are logged in.", TH_WAIT_MS));
  assert_int_equal(th_run_program(del, TH_WAIT_MS), 0);
  assert_true(th_server_wait_log(&srv, "account alice: deleted outside the server", TH_WAIT_MS));
  assert_int_equal(th_run_program(del, TH_WAIT_MS), 1); /* no such account any more */
  th_close(a);
  th_close(b);
  th_close(c);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(text_register_login_and_name_protection, setup, stop_server),
      cmocka_unit_test_setup_teardown(irc_nickserv_and_sasl, setup, stop_server),
      cmocka_unit_test_setup_teardown(wrong_passwords_are_throttled, setup, stop_server),
      cmocka_unit_test_setup_teardown(registration_survives_kill_9, setup, stop_server),
      cmocka_unit_test_setup_teardown(server_password_for_both_protocols, setup_with_password,
                                      stop_server),
      cmocka_unit_test_setup_teardown(registration_flood_is_cut_off_per_address, setup,
                                      stop_server),
      cmocka_unit_test_setup_teardown(owner_logs_in_while_another_address_guesses, setup,
                                      stop_server),
#ifdef UVCHAT_ACCOUNT_BIN
      cmocka_unit_test_setup_teardown(delete_tool_on_a_running_server, setup, stop_server),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
