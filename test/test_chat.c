/* test_chat.c: the real uvchat binary over real sockets, as nc and telnet users see it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"

static th_server_t srv;

static int start_default(void** state) {
  (void)state;
  th_server_start(&srv, NULL);
  return 0;
}

static int stop_server(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  return 0;
}

/* Two fresh users, guest1 and guest2, past their greetings. */
static void two_users(th_client_t** a, th_client_t** b) {
  *a = th_connect(srv.port, 0, 1);
  assert_string_equal(th_welcome(*a), "guest1");
  *b = th_connect(srv.port, 0, 1);
  assert_string_equal(th_welcome(*b), "guest2");
  th_expect(*a, "*** guest2 joined #lobby");
}

static void three_clients_broadcast_without_echo(void** state) {
  th_client_t *a, *b, *c;
  (void)state;
  two_users(&a, &b);
  c = th_connect(srv.port, 0, 1);
  assert_string_equal(th_welcome(c), "guest3");
  th_expect(a, "*** guest3 joined #lobby");
  th_expect(b, "*** guest3 joined #lobby");

  th_sendf(a, "hello everyone\n");
  th_expect(b, "<guest1> hello everyone");
  th_expect(c, "<guest1> hello everyone");
  th_sendf(c, "hi a\r\n");
  th_expect(a, "<guest3> hi a");
  th_expect(b, "<guest3> hi a");
  /* No echo: the next thing a sees is the answer to its own command. */
  th_sendf(a, "/who\n");
  th_expect(a, "*** 3 people in #lobby:");
  th_expect(a, "***   guest1 guest2 guest3");
  th_close(a);
  th_expect(b, "*** guest1 left (connection closed)");
  th_expect(c, "*** guest1 left (connection closed)");
  th_close(b);
  th_close(c);
}

static void byte_by_byte_and_many_lines_per_packet(void** state) {
  th_client_t *a, *b;
  const char* word = "slowly typed\r\n";
  size_t i;
  (void)state;
  two_users(&a, &b);
  for (i = 0; i < strlen(word); i++) {
    th_send(b, word + i, 1);
    th_drain(b);
  }
  th_expect(a, "<guest2> slowly typed");
  th_sendf(b, "one\ntwo\r\nthree\n\n\nfour\n");
  th_expect(a, "<guest2> one");
  th_expect(a, "<guest2> two");
  th_expect(a, "<guest2> three");
  th_expect(a, "<guest2> four"); /* empty lines are ignored */
  th_close(a);
  th_close(b);
}

static void clean_text_and_telnet_negotiation(void** state) {
  th_client_t *a, *b;
  (void)state;
  two_users(&a, &b);
  /* telnet's opening negotiation, then colours, a title change, a bell and bad UTF-8 */
  th_send(b, "\xFF\xFD\x03\xFF\xFB\x18", 6);
  th_sendf(b, "\x1B[1;31mred\x1B[0m \x1B]0;pwned\x07text\x07 caf\xC3\xA9 \xC0\xAF!\r\n");
  th_expect(a, "<guest2> red text caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD!");
  th_send(b, "a\0b\n", 4);
  th_expect(a, "<guest2> ab");
  /* nobody can forge another person's line: the prefix is always the sender's */
  th_sendf(b, "\r<guest1> I owe guest2 money\n");
  th_expect(a, "<guest2> <guest1> I owe guest2 money");
  th_close(a);
  th_close(b);
}

static void overlong_line_is_refused_and_connection_stays(void** state) {
  th_client_t *a, *b;
  char big[200];
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--max-line", "100", NULL};
    th_server_start(&srv, args);
  }
  two_users(&a, &b);
  memset(big, 'x', sizeof big);
  th_send(b, big, sizeof big);
  th_send(b, big, sizeof big);
  th_sendf(b, "\nstill here\n");
  th_expect(b, "! line too long (the limit is 100 bytes); it was not sent");
  th_expect(a, "<guest2> still here");
  th_close(a);
  th_close(b);
}

static void names_and_private_messages(void** state) {
  th_client_t *a, *b, *c;
  (void)state;
  two_users(&a, &b);
  c = th_connect(srv.port, 0, 1);
  th_welcome(c);
  th_expect(a, "*** guest3 joined #lobby");
  th_expect(b, "*** guest3 joined #lobby");

  th_sendf(a, "/nick Alice\n");
  th_expect(a, "*** guest1 is now known as Alice");
  th_expect(b, "*** guest1 is now known as Alice");
  th_expect(c, "*** guest1 is now known as Alice");
  th_sendf(b, "/nick ALICE\n");
  th_expect(b, "! the nick ALICE is already taken");
  th_sendf(b, "/nick bad nick\n");
  th_expect(b, "! usage: /nick NAME");
  th_sendf(b, "/nick b@d\n");
  th_expect(
      b,
      "! cannot use \"b@d\" as a nick: a nick may only contain ASCII letters, digits and - _ [ ] "
      "\\ ` ^ { } |");
  th_sendf(b, "/nick bob\n");
  th_expect(b, "*** guest2 is now known as bob");
  th_expect(a, "*** guest2 is now known as bob");
  th_expect(c, "*** guest2 is now known as bob");

  th_sendf(a, "/msg BOB meet me at noon\n");
  th_expect(b, "[private] <Alice> meet me at noon");
  th_expect(a, "[private to bob] meet me at noon");
  th_sendf(a, "/msg carol hi\n");
  th_expect(a, "! there is nobody called carol online");
  th_sendf(c, "/me waves\n");
  th_expect(a, "* guest3 waves");
  th_expect(b, "* guest3 waves");
  /* c never saw the private message: its next line is the answer to its own /who */
  th_sendf(c, "/who\n");
  th_expect(c, "*** 3 people in #lobby:");
  th_expect(c, "***   Alice bob guest3");
  th_sendf(c, "/bogus\n");
  th_expect(c, "! unknown command /bogus; type /help for the list");

  th_sendf(b, "/quit see you\n");
  th_expect(b, "*** Bye, bob!");
  assert_true(th_wait_closed(b, TH_WAIT_MS));
  th_expect(a, "*** bob left (quit: see you)");
  th_expect(c, "*** bob left (quit: see you)");
  th_close(a);
  th_close(b);
  th_close(c);
}

static void final_line_without_newline_is_delivered(void** state) {
  th_client_t *a, *b;
  (void)state;
  two_users(&a, &b);
  th_sendf(b, "last words");
  th_shutdown(b);
  th_expect(a, "<guest2> last words");
  th_expect(a, "*** guest2 left (connection closed)");
  assert_true(th_wait_closed(b, TH_WAIT_MS));
  th_close(a);
  th_close(b);
}

/* A client that never reads is dropped at its send-queue limit; a reading client gets
 * every one of 10,000 messages, in order. */
static void never_reading_client_is_dropped_others_lose_nothing(void** state) {
  th_client_t *reader, *stuck, *sender;
  char line[700];
  int i;
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--sendq", "64K", "--stall-timeout", "1", "--flood-rate", "0", NULL};
    th_server_start(&srv, args);
  }
  reader = th_connect(srv.port, 0, 1);
  th_welcome(reader);
  stuck = th_connect(srv.port, 4096, 0); /* tiny receive buffer, never read */
  th_expect(reader, "*** guest2 joined #lobby");
  sender = th_connect(srv.port, 0, 1);
  th_welcome(sender);
  th_expect(reader, "*** guest3 joined #lobby");
  /* 6 MB in all: more than the kernel buffers of a stuck socket (4 MB here) hold. */
  for (i = 0; i < 10000; i++) {
    int n = snprintf(line, sizeof line, "message %05d %0600d\n", i, 0);
    th_send(sender, line, (size_t)n);
  }
  for (i = 0; i < 10000; i++) {
    char want[700];
    const char* got = th_line(reader, TH_WAIT_MS);
    snprintf(want, sizeof want, "<guest3> message %05d %0600d", i, 0);
    while (got != NULL && strcmp(got, "*** guest2 was disconnected (not reading fast enough)") == 0)
      got = th_line(reader, TH_WAIT_MS);
    if (got == NULL) fail_msg("message %d never came", i);
    if (strcmp(got, want) != 0) fail_msg("message %d: got \"%s\"", i, got);
  }
  assert_true(th_server_wait_log(&srv, "disconnect guest2", TH_WAIT_MS));
  assert_true(th_server_logged(&srv, "send queue over its limit"));
  assert_true(th_wait_closed(stuck, TH_WAIT_MS));
  th_close(reader);
  th_close(stuck);
  th_close(sender);
}

/* Sends a line with a known answer and expects that answer next: nothing else (an arrival,
 * a departure) reached c before it. */
static void expect_nothing_before_answer(th_client_t* c, const char* nick) {
  char line[64];
  snprintf(line, sizeof line, "/nick %s\n", nick);
  th_sendf(c, line);
  snprintf(line, sizeof line, "! you are already %s", nick);
  th_expect(c, line);
}

/* What is not a person is never announced: a port probe that connects and closes, half a
 * line and a close, a TLS ClientHello or a browser at the plaintext port. Each is logged as
 * a probe. A silent reader is a person: the others are told after a moment. */
static void probes_are_never_announced(void** state) {
  static const char kHello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
  th_client_t *watcher, *probe, *lurker;
  const char* l;
  size_t mark;
  (void)state;
  watcher = th_text_connect(srv.port); /* guest1 */

  probe = th_connect(srv.port, 0, 0); /* nc -z */
  th_close(probe);
  assert_true(th_server_wait_log(&srv, "probe from 127.0.0.1", TH_WAIT_MS));
  expect_nothing_before_answer(watcher, "guest1");

  /* half a line, then gone (having read what it was sent, so that its close is a FIN, not a
   * reset: the server reads the half line, then the end of the stream) */
  mark = th_server_log_mark(&srv);
  probe = th_connect(srv.port, 0, 1);
  th_welcome_quiet(probe);
  th_sendf(probe, "garbage without a newl");
  th_drain(probe);
  th_close(probe);
  assert_true(th_server_wait_log_since(&srv, mark, "gone before its first line: closed by client",
                                       TH_WAIT_MS));
  expect_nothing_before_answer(watcher, "guest1");

  probe = th_connect(srv.port, 0, 1); /* TLS at the plaintext port */
  th_send(probe, kHello, sizeof kHello - 1);
  assert_true(th_wait_closed(probe, TH_WAIT_MS));
  th_close(probe);
  assert_true(th_server_wait_log(&srv, "a TLS handshake on a plaintext port", TH_WAIT_MS));
  expect_nothing_before_answer(watcher, "guest1");

  probe = th_connect(srv.port, 0, 1); /* a browser */
  th_welcome_quiet(probe);
  th_sendf(probe, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  th_expect(probe,
            "*** This port speaks uvchat's line-based chat, not HTTP: connect with nc or telnet, "
            "or an IRC client at the IRC port.");
  assert_true(th_wait_closed(probe, TH_WAIT_MS));
  th_close(probe);
  assert_true(th_server_wait_log(&srv, "an HTTP request on a chat port", TH_WAIT_MS));
  expect_nothing_before_answer(watcher, "guest1");
  assert_false(th_server_logged(&srv, "connect guest2"));

  /* A reader who never says a word is announced within a few seconds (the sweep runs once
   * a second), and its leaving is announced like anyone's. */
  lurker = th_connect(srv.port, 0, 1);
  l = th_welcome_quiet(lurker);
  assert_string_equal(l, "guest6");
  th_expect(watcher, "*** guest6 joined #lobby");
  th_close(lurker);
  th_expect(watcher, "*** guest6 left (connection closed)");
  th_close(watcher);
}

/* The operator's stop (SIGTERM on POSIX; Ctrl+Break to the server's process group on
 * Windows, through the harness): on every system each user gets the goodbye line after what
 * was already said, the connections end, and the server exits 0 with a clean log. */
static void operator_stop_says_goodbye_everywhere(void** state) {
  th_client_t *a, *b;
  (void)state;
  two_users(&a, &b);
  th_sendf(a, "last words\n");
  th_expect(b, "<guest1> last words");
  th_server_stop(&srv); /* fails the test unless exit 0 and "stopped cleanly" */
  th_expect(a, "*** The server is shutting down. Goodbye!");
  th_expect(b, "*** The server is shutting down. Goodbye!");
  assert_true(th_wait_closed(a, TH_WAIT_MS));
  assert_true(th_wait_closed(b, TH_WAIT_MS));
  th_close(a);
  th_close(b);
}

#ifndef _WIN32
/* SIGTERM: output already queued for a slow reader still arrives, then a goodbye, then the
 * server exits 0. */
static void sigterm_delivers_queued_output_and_exits_zero(void** state) {
  th_client_t *slow, *sender;
  char line[256];
  int i;
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--flood-rate", "0", NULL};
    th_server_start(&srv, args);
  }
  slow = th_connect(srv.port, 4096, 0);
  sender = th_connect(srv.port, 0, 1);
  th_welcome(sender);
  for (i = 0; i < 2000; i++) {
    int n = snprintf(line, sizeof line, "queued %04d %0150d\n", i, 0);
    th_send(sender, line, (size_t)n);
  }
  /* The server answers commands in order: once /who is answered, every line before it has
   * been fanned out to the slow reader's queue. */
  th_sendf(sender, "/who\n");
  { /* the slow reader, silent, is listed only once it has been there UVC_REVEAL_MS */
    const char* l = th_line(sender, TH_WAIT_MS);
    assert_non_null(l);
    assert_true(strcmp(l, "*** 1 person in #lobby:") == 0 ||
                strcmp(l, "*** 2 people in #lobby:") == 0);
  }
  th_server_kill(&srv, SIGTERM);
  th_skip_to(sender, "*** The server is shutting down. Goodbye!", TH_WAIT_MS);
  th_start_reading(slow);
  th_welcome_quiet(slow);
  th_expect(slow, "*** guest2 joined #lobby");
  for (i = 0; i < 2000; i++) {
    char want[256];
    snprintf(want, sizeof want, "<guest2> queued %04d %0150d", i, 0);
    th_expect(slow, want);
  }
  th_expect(slow, "*** The server is shutting down. Goodbye!");
  assert_true(th_wait_closed(slow, TH_WAIT_MS));
  assert_int_equal(th_server_wait(&srv, 20000), 0);
  assert_true(th_server_logged(&srv, "stopped cleanly"));
  th_close(slow);
  th_close(sender);
}
#endif

static void port_in_use_and_bad_flags(void** state) {
  th_server_t second;
  char port[16];
  (void)state;
  snprintf(port, sizeof port, "%d", srv.port);
  {
    const char* args[] = {"--port", port, NULL};
    th_server_spawn(&second, args);
  }
  assert_int_equal(th_server_wait(&second, TH_WAIT_MS), 1);
  assert_true(th_server_logged(&second, "the port is already in use"));
  th_server_free(&second);
  {
    const char* args[] = {"--port", "http", NULL};
    th_server_spawn(&second, args);
  }
  assert_int_equal(th_server_wait(&second, TH_WAIT_MS), 2);
  assert_true(th_server_logged(&second, "--port: 'http' is not a port number"));
  th_server_free(&second);
  {
    const char* args[] = {"--frobnicate", NULL};
    th_server_spawn(&second, args);
  }
  assert_int_equal(th_server_wait(&second, TH_WAIT_MS), 2);
  assert_true(th_server_logged(&second, "unknown option '--frobnicate'"));
  th_server_free(&second);
  {
    const char* args[] = {"--help", NULL};
    th_server_spawn(&second, args);
  }
  assert_int_equal(th_server_wait(&second, TH_WAIT_MS), 0);
  assert_non_null(strstr(second.out_buf.p, "--sendq BYTES"));
  th_server_free(&second);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(three_clients_broadcast_without_echo, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(byte_by_byte_and_many_lines_per_packet, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(clean_text_and_telnet_negotiation, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(overlong_line_is_refused_and_connection_stays, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(names_and_private_messages, start_default, stop_server),
      cmocka_unit_test_setup_teardown(final_line_without_newline_is_delivered, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(never_reading_client_is_dropped_others_lose_nothing,
                                      start_default, stop_server),
#ifndef _WIN32
      cmocka_unit_test_setup_teardown(sigterm_delivers_queued_output_and_exits_zero, start_default,
                                      stop_server),
#endif
      cmocka_unit_test_setup_teardown(probes_are_never_announced, start_default, stop_server),
      cmocka_unit_test_setup_teardown(operator_stop_says_goodbye_everywhere, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(port_in_use_and_bad_flags, start_default, stop_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
