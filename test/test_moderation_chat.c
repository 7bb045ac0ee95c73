/* test_moderation_chat.c: room moderation and server operators across both protocols, with
 * the real uvchat binary and real sockets: an IRC operator's ban keeps a text user out, a text
 * operator voices an IRC user in a moderated room, a key and a limit hold for everyone, and
 * OPER, WALLOPS, KILL, REHASH and DIE end to end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"

static th_server_t srv;

static int start_irc(void** state) {
  const char* args[] = {"--irc-port", "0", NULL};
  (void)state;
  th_server_start(&srv, args);
  return 0;
}

static int stop_server(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  return 0;
}

/* Joins an IRC client to room and waits for the end of its names. */
static void irc_join(th_client_t* c, const char* nick, const char* room, const char* key) {
  char line[128];
  snprintf(line, sizeof line, "JOIN %s%s%s\r\n", room, key ? " " : "", key ? key : "");
  th_sendf(c, line);
  snprintf(line, sizeof line, ":uvchat 366 %s %s :End of /NAMES list", nick, room);
  th_expect_eventually(c, line);
}

/* An IRC operator bans a mask that matches text users; a text user in the room can no longer
 * talk, and once kicked cannot come back. */
static void irc_ban_keeps_a_text_user_out(void** state) {
  th_client_t *a, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  irc_join(a, "alice", "#dev", NULL);
  th_sendf(t, "/join #dev\n");
  th_expect_eventually(a, ":guest1!text@uvchat JOIN #dev");
  th_expect_eventually(t, "*** 2 people are in #dev. /who lists them.");
  th_sendf(a, "MODE #dev +b *!text@*\r\n");
  th_expect(a, ":alice!~alice@uvchat MODE #dev +b *!text@*");
  th_expect(t, "*** alice banned *!text@* from #dev");
  th_sendf(t, "can I talk?\n");
  th_expect(t, "! not sent: you are banned from that room");
  th_sendf(a, "MODE #dev b\r\n");
  th_expect_prefix(a, ":uvchat 367 alice #dev *!text@* alice ");
  th_expect(a, ":uvchat 368 alice #dev :End of channel ban list");
  th_sendf(a, "KICK #dev guest1 :out\r\n");
  th_expect(a, ":alice!~alice@uvchat KICK #dev guest1 :out");
  th_expect(t, "*** alice removed guest1 from #dev (out)");
  th_expect_eventually(t, "*** guest1 joined #lobby");
  th_sendf(t, "/join #dev\n");
  th_expect_eventually(t, "! cannot join #dev: you are banned from it");
  th_sendf(t, "/who\n"); /* still in the lobby */
  th_expect_prefix(t, "*** 2 people in #lobby:");
  th_close(a);
  th_close(t);
}

/* A text user makes a room, moderates it and voices an IRC user, who can then talk. */
static void text_operator_voices_an_irc_user(void** state) {
  th_client_t *b, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  b = th_irc_connect_lobby(srv.irc_port, "bob");
  th_sendf(t, "/join #mod\n");
  th_expect_eventually(t, "*** 1 person is in #mod. /who lists them.");
  irc_join(b, "bob", "#mod", NULL);
  th_sendf(t, "/mode +moderated\n");
  th_expect_eventually(t, "*** guest1 changed #mod: only voiced people and operators may talk");
  th_expect(b, ":guest1!text@uvchat MODE #mod +m");
  th_sendf(b, "PRIVMSG #mod :may I?\r\n");
  th_expect(b, ":uvchat 404 bob #mod :Cannot send to channel (+m)");
  th_sendf(t, "/voice bob\n");
  th_expect(t, "*** guest1 gave bob a voice in #mod");
  th_expect(b, ":guest1!text@uvchat MODE #mod +v bob");
  th_sendf(b, "PRIVMSG #mod :thank you\r\nNAMES #mod\r\n");
  th_expect(t, "<bob> thank you");
  th_expect(b, ":uvchat 353 bob = #mod :@guest1 +bob");
  th_sendf(t, "/who\n");
  th_expect(t, "*** 2 people in #mod:");
  th_expect(t, "***   +bob @guest1");
  th_close(b);
  th_close(t);
}

/* A key set by IRC and a limit set by a text user apply to IRC and text users alike. */
static void key_and_limit_hold_for_both(void** state) {
  th_client_t *a, *c, *t, *u;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  c = th_irc_connect_lobby(srv.irc_port, "carol");
  irc_join(a, "alice", "#k", NULL);
  th_sendf(a, "MODE #k +k sekrit\r\n");
  th_expect(a, ":alice!~alice@uvchat MODE #k +k sekrit");
  th_sendf(t, "/join #k\n");
  th_expect_eventually(t, "! cannot join #k: it needs a key: /join #k KEY");
  th_sendf(c, "JOIN #k\r\n");
  th_expect_eventually(c, ":uvchat 475 carol #k :Cannot join channel (+k)");
  th_sendf(t, "/join #k sekrit\n");
  th_expect_eventually(t, "*** 2 people are in #k. /who lists them.");
  th_sendf(a, "MODE #k +o guest1\r\n");
  th_expect_eventually(a, ":alice!~alice@uvchat MODE #k +o guest1");
  th_sendf(t, "/limit 2\n");
  th_expect_eventually(a, ":guest1!text@uvchat MODE #k +l 2");
  th_sendf(c, "JOIN #k sekrit\r\n");
  th_expect_eventually(c, ":uvchat 471 carol #k :Cannot join channel (+l)");
  u = th_text_connect(srv.port); /* guest2 */
  th_sendf(u, "/join #k sekrit\n");
  th_expect_eventually(u, "! cannot join #k: it is full (2 people at most)");
  th_sendf(a, "MODE #k -l\r\n");
  th_expect_eventually(a, ":alice!~alice@uvchat MODE #k -l");
  irc_join(c, "carol", "#k", "sekrit");
  th_sendf(a, "MODE #k\r\n");
  th_expect(a, ":carol!~carol@uvchat JOIN #k");
  th_expect(a, ":uvchat 324 alice #k +ntk sekrit");
  th_close(a);
  th_close(c);
  th_close(t);
  th_close(u);
}

#ifdef UVCHAT_TEST_ACCOUNTS
static char g_oper_arg[256]; /* "admin $argon2id$..." */

/* uvchat --hash-password, fed a password on its standard input. */
static void hash_password(const char* pw, char* out, size_t cap) {
  const char* argv[] = {UVCHAT_BIN, "--hash-password", NULL};
  th_client_t* p = th_spawn_client(argv);
  const char* line;
  th_sendf(p, pw);
  th_sendf(p, "\n");
  line = th_line(p, th_ms(TH_WAIT_MS));
  assert_non_null(line);
  assert_memory_equal(line, "$argon2id$", 10);
  snprintf(out, cap, "%s", line);
  assert_int_equal(th_client_wait_exit(p, th_ms(TH_WAIT_MS)), 0);
  th_close(p);
}

static int start_with_oper(void** state) {
  static char hash[200];
  const char* args[] = {"--irc-port", "0", "--oper", g_oper_arg, NULL};
  (void)state;
  if (g_oper_arg[0] == '\0') {
    hash_password("correct horse", hash, sizeof hash);
    snprintf(g_oper_arg, sizeof g_oper_arg, "admin %s", hash);
  }
  th_server_start(&srv, args);
  return 0;
}

/* OPER (wrong, then right), WALLOPS, KILL of an IRC user and of a text user, REHASH; a text
 * user opers up too. */
static void oper_wallops_kill_rehash(void** state) {
  th_client_t *a, *b, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  b = th_irc_connect_lobby(srv.irc_port, "bob");
  th_skip_to(a, ":bob!~bob@uvchat JOIN #lobby", th_ms(TH_WAIT_MS));
  th_sendf(a, "KILL bob :nope\r\nOPER nobody x\r\nOPER admin wrong\r\n");
  th_expect(a, ":uvchat 481 alice :Permission Denied- You're not an IRC operator");
  th_expect(a, ":uvchat 491 alice :No O-lines for your host");
  th_expect(a, ":uvchat 464 alice :Password incorrect");
  th_sendf(a, "OPER admin :correct horse\r\n");
  th_expect(a, ":uvchat 381 alice :You are now an IRC operator");
  th_expect(a, ":alice!~alice@uvchat MODE alice :+ow");
  th_sendf(b, "MODE bob +w\r\nWHOIS alice\r\n");
  th_expect(b, ":bob!~bob@uvchat MODE bob :+w");
  th_skip_to(b, ":uvchat 313 bob alice :is an IRC operator", th_ms(TH_WAIT_MS));
  th_sendf(a, "WALLOPS :restart at noon\r\n");
  th_expect(a, ":alice!~alice@uvchat WALLOPS :restart at noon");
  th_expect(b, ":uvchat 318 bob alice :End of /WHOIS list");
  th_expect(b, ":alice!~alice@uvchat WALLOPS :restart at noon");
  th_sendf(a, "REHASH\r\n");
  th_expect(a, ":uvchat 382 alice uvchat.conf :Rehashing");
  assert_true(th_server_wait_log(&srv, "reload (REHASH by alice)", th_ms(TH_WAIT_MS)));
  th_sendf(a, "KILL bob :spamming\r\n");
  th_expect(b, "ERROR :Closing Link: bob (Killed (alice (spamming)))");
  assert_true(th_wait_closed(b, th_ms(TH_WAIT_MS)));
  th_expect(a, ":bob!~bob@uvchat QUIT :Killed (alice (spamming))");
  th_expect_eventually(t, "*** bob was disconnected (Killed (alice (spamming)))");
  th_sendf(t, "/oper admin correct horse\n");
  th_expect(t, "*** You are now a server operator (admin); /help lists your commands.");
  th_sendf(t, "/kill alice enough\n");
  th_expect(a, "ERROR :Closing Link: alice (Killed (guest1 (enough)))");
  assert_true(th_wait_closed(a, th_ms(TH_WAIT_MS)));
  th_expect(t, "*** alice was disconnected (Killed (guest1 (enough)))");
  th_close(a);
  th_close(b);
  th_close(t);
}

/* DIE: the server stops as on SIGTERM, tells everyone, and exits 0. */
static void die_stops_the_server(void** state) {
  th_client_t *a, *t;
  (void)state;
  t = th_text_connect(srv.port);
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  th_sendf(a, "DIE\r\n");
  th_expect(a, ":uvchat 481 alice :Permission Denied- You're not an IRC operator");
  th_sendf(a, "OPER admin :correct horse\r\n"); /* checked off the loop: wait for it */
  th_expect(a, ":uvchat 381 alice :You are now an IRC operator");
  th_expect(a, ":alice!~alice@uvchat MODE alice :+ow");
  th_sendf(a, "DIE\r\n");
  th_expect_eventually(t, "*** The server is shutting down. Goodbye!");
  assert_true(th_wait_closed(a, th_ms(TH_WAIT_MS)));
  assert_int_equal(th_server_wait(&srv, th_ms(TH_WAIT_MS)), 0);
  assert_true(th_server_logged(&srv, "stopping: DIE by server operator alice (admin)"));
  th_close(a);
  th_close(t);
  th_server_free(&srv);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(irc_ban_keeps_a_text_user_out, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(text_operator_voices_an_irc_user, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(key_and_limit_hold_for_both, start_irc, stop_server),
#ifdef UVCHAT_TEST_ACCOUNTS
      cmocka_unit_test_setup_teardown(oper_wallops_kill_rehash, start_with_oper, stop_server),
      cmocka_unit_test_setup(die_stops_the_server, start_with_oper),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
