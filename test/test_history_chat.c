/* test_history_chat.c: history in the real uvchat binary over real sockets: a text user and
 * IRC users with and without draft/chathistory join a room after others talked; members
 * only, bans; a clean restart keeps everything and a kill -9 loses at most the last batch;
 * a message to an offline registered user reaches it at its next login. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"
#include "tmpdir.h"

static th_server_t srv;
static char g_dir[1024];

static void start_server(void) {
  static const char* const args[] = {
      "--data-dir", g_dir,          "--irc-port", "0", "--history-join", "20", "--history-irc",
      "5",          "--flood-rate", "0",          NULL};
  th_server_start(&srv, args);
}

static int setup(void** state) {
  (void)state;
  tt_mkdtemp("uvchat-hist", g_dir, sizeof g_dir);
  start_server();
  return 0;
}

static int teardown(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  tt_rmdir(g_dir);
  return 0;
}

/* Asserts that the next line ends with suffix (a replayed line starts with its time). */
static void expect_suffix(th_client_t* c, const char* suffix) {
  const char* l = th_line(c, th_ms(TH_WAIT_MS));
  size_t n, k = strlen(suffix);
  if (l == NULL) fail_msg("expected a line ending in \"%s\", got nothing", suffix);
  n = strlen(l);
  if (n < k || strcmp(l + n - k, suffix) != 0)
    fail_msg("expected a line ending in \"%s\"\n       got \"%s\"", suffix, l);
}

/* Reads lines until one contains text; fails the test when none comes. */
static const char* expect_contains(th_client_t* c, const char* text) {
  const char* l;
  char last[512] = "";
  while ((l = th_line(c, th_ms(TH_WAIT_MS))) != NULL) {
    if (strstr(l, text) != NULL) return l;
    snprintf(last, sizeof last, "%s", l);
  }
  fail_msg("no line containing \"%s\" (the last: \"%s\")", text, last);
  return NULL;
}

/* A text user called nick in room. */
static th_client_t* text_user(const char* nick, const char* room) {
  char line[128];
  th_client_t* c = th_text_connect(srv.port);
  snprintf(line, sizeof line, "/nick %s\r\n", nick);
  th_sendf(c, line);
  snprintf(line, sizeof line, "*** %s joined %s", nick, room);
  if (room[0] != '\0') {
    char join[128];
    snprintf(join, sizeof join, "/join %s\r\n", room);
    th_sendf(c, join);
    th_expect_eventually(c, line);
  }
  return c;
}

/* An IRC client with draft/chathistory, batch, server-time, message-tags and more (extra
 * capabilities, "" for none). */
static th_client_t* irc_with_caps(const char* nick, const char* more) {
  char line[256], caps[160];
  th_client_t* c = th_connect(srv.irc_port, 0, 1);
  snprintf(caps, sizeof caps, "draft/chathistory batch server-time message-tags%s%s",
           more[0] != '\0' ? " " : "", more);
  snprintf(line, sizeof line, "CAP LS 302\r\nCAP REQ :%s\r\n", caps);
  th_sendf(c, line);
  snprintf(line, sizeof line, ":uvchat CAP * ACK :%s", caps);
  th_expect_eventually(c, line);
  th_sendf(c, "CAP END\r\n");
  th_irc_register(c, nick);
  snprintf(line, sizeof line, ":uvchat NOTICE %s :*** Plain-text users", nick);
  if (th_skip_to(c, line, th_ms(TH_WAIT_MS)) == NULL) fail_msg("no greeting for %s", nick);
  return c;
}

/* An IRC client with draft/chathistory, batch, server-time and message-tags. */
static th_client_t* irc_with_history(const char* nick) {
  return irc_with_caps(nick, "");
}

/* alice (text) makes #dev and says three things in it. */
static th_client_t* alice_talks(void) {
  th_client_t* a = text_user("alice", "#dev");
  th_sendf(a, "first words\r\n/me waves\r\n/topic plans\r\nthird, with \x1b[31mcolour\r\n");
  th_expect_eventually(a, "*** alice set the topic of #dev: plans");
  return a;
}

static void joiners_see_what_was_said(void** state) {
  th_client_t *a, *b, *c, *d;
  const char* l;
  char msgid[64], ref[128];
  (void)state;
  a = alice_talks();
  th_sendf(a, "/who\r\n"); /* after her own last line: the store has them all once it answers */
  th_expect_eventually(a, "***   @alice");

  /* a text user: the last lines with their times, between markers */
  b = text_user("bob", "#dev");
  th_expect_eventually(b, "*** 2 people are in #dev. /who lists them.");
  th_expect(b, "*** --- the last 4 messages of #dev (/history N shows more) ---");
  expect_suffix(b, "] <alice> first words");
  expect_suffix(b, "] * alice waves");
  expect_suffix(b, "] *** alice set the topic of #dev: plans");
  expect_suffix(b, "] <alice> third, with colour"); /* ESC cleaned away */
  th_expect(b, "*** --- end of the history of #dev ---");
  th_sendf(b, "/history 2\r\n");
  th_expect(b, "*** --- the last 2 messages of #dev ---");
  expect_suffix(b, "] *** alice set the topic of #dev: plans");
  expect_suffix(b, "] <alice> third, with colour");
  th_expect(b, "*** --- end of the history of #dev ---");

  /* an IRC client without draft/chathistory: a short replay as notices */
  c = th_irc_connect(srv.irc_port, "carol");
  th_irc_join(c, "carol", "#dev");
  th_expect(c, ":uvchat NOTICE #dev :--- the last 4 messages of #dev ---");
  expect_suffix(c, "] <alice> first words");
  expect_suffix(c, "] * alice waves");
  expect_suffix(c, "] alice set the topic: plans");
  expect_suffix(c, "] <alice> third, with colour");
  th_expect(c, ":uvchat NOTICE #dev :--- end of history ---");

  /* with draft/chathistory: nothing unasked, then CHATHISTORY in a batch */
  d = irc_with_history("dave");
  th_sendf(d, "JOIN #dev\r\n");
  th_expect_eventually(d, ":uvchat 366 dave #dev :End of /NAMES list");
  th_sendf(d, "CHATHISTORY LATEST #dev * 2\r\n");
  th_expect(d, ":uvchat BATCH +h1 chathistory #dev");
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_true(strncmp(l, "@batch=h1;time=", 15) == 0);
  assert_non_null(strstr(l, ";msgid="));
  assert_non_null(strstr(l, " :alice!text@uvchat TOPIC #dev :plans"));
  snprintf(msgid, sizeof msgid, "%.*s", (int)strcspn(strstr(l, ";msgid=") + 7, " ;"),
           strstr(l, ";msgid=") + 7);
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_non_null(strstr(l, " :alice!text@uvchat PRIVMSG #dev :third, with colour"));
  th_expect(d, ":uvchat BATCH -h1");
  snprintf(ref, sizeof ref, "CHATHISTORY BEFORE #dev msgid=%s 10\r\n", msgid);
  th_sendf(d, ref);
  th_expect(d, ":uvchat BATCH +h2 chathistory #dev");
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(strstr(l, "PRIVMSG #dev :first words"));
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(strstr(l, "PRIVMSG #dev :\001ACTION waves\001"));
  th_expect(d, ":uvchat BATCH -h2");
  snprintf(ref, sizeof ref, "CHATHISTORY AFTER #dev msgid=%s 10\r\n", msgid);
  th_sendf(d, ref);
  th_expect(d, ":uvchat BATCH +h3 chathistory #dev");
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(strstr(l, "PRIVMSG #dev :third"));
  th_expect(d, ":uvchat BATCH -h3");
  th_sendf(d,
           "CHATHISTORY BETWEEN #dev timestamp=2000-01-01T00:00:00.000Z "
           "timestamp=2100-01-01T00:00:00Z 3\r\n");
  th_expect(d, ":uvchat BATCH +h4 chathistory #dev");
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(strstr(l, "PRIVMSG #dev :first words"));
  th_line(d, th_ms(TH_WAIT_MS));
  th_line(d, th_ms(TH_WAIT_MS));
  th_expect(d, ":uvchat BATCH -h4");
  th_sendf(d,
           "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00Z timestamp=2100-01-01T00:00:00Z "
           "10\r\n");
  th_expect(d, ":uvchat BATCH +h5 draft/chathistory-targets");
  th_expect_prefix(d, "@batch=h5 :uvchat CHATHISTORY TARGETS #dev ");
  th_expect(d, ":uvchat BATCH -h5");
  th_sendf(d, "CHATHISTORY LATEST #dev bogus 10\r\n");
  th_expect(d, ":uvchat FAIL CHATHISTORY INVALID_PARAMS LATEST :Invalid message reference");
  th_close(a);
  th_close(b);
  th_close(c);
  th_close(d);
}

/* Somebody not in a room gets none of its history; one the room bans neither. */
static void non_members_and_the_banned_get_nothing(void** state) {
  th_client_t *a, *e;
  (void)state;
  a = alice_talks();
  e = irc_with_history("eve");
  th_sendf(e, "CHATHISTORY LATEST #dev * 10\r\n");
  th_expect(e,
            ":uvchat FAIL CHATHISTORY INVALID_TARGET LATEST #dev :Messages could not be "
            "retrieved");
  th_sendf(e, "CHATHISTORY LATEST #nosuch * 10\r\n"); /* the same words for a room not there */
  th_expect(e,
            ":uvchat FAIL CHATHISTORY INVALID_TARGET LATEST #nosuch :Messages could not be "
            "retrieved");
  /* in the room, then banned: a ban covers the history too */
  th_sendf(e, "JOIN #dev\r\n");
  th_expect_eventually(e, ":uvchat 366 eve #dev :End of /NAMES list");
  th_sendf(a, "/ban eve\r\n");
  th_expect_eventually(a, "*** alice banned eve!*@* from #dev");
  th_sendf(e, "CHATHISTORY LATEST #dev * 10\r\n");
  th_expect_eventually(e,
                       ":uvchat FAIL CHATHISTORY INVALID_TARGET LATEST #dev :Messages could "
                       "not be retrieved");
  /* a room with history turned off answers nothing and keeps nothing */
  th_sendf(a, "/mode +no-history\r\n");
  th_expect_eventually(a, "*** alice changed #dev: its messages are not kept");
  th_sendf(a, "not for the record\r\n/history\r\n");
  th_expect_eventually(a, "! no history of #dev: that room keeps no history");
  th_sendf(a, "/mode -H\r\n/history\r\n");
  th_expect_eventually(a, "*** --- the last 4 messages of #dev ---");
  expect_suffix(a, "] <alice> first words");
  expect_suffix(a, "] * alice waves");
  expect_suffix(a, "] *** alice set the topic of #dev: plans");
  expect_suffix(a, "] <alice> third, with colour");
  th_expect(a, "*** --- end of the history of #dev ---");
  th_close(a);
  th_close(e);
}

/* A labeled CHATHISTORY (labeled-response) gets its label on the BATCH start line of its
 * answer, which comes later, not an ACK at once and an unlabeled batch; an answer with no
 * events is a labeled empty batch, TARGETS likewise, and a FAIL carries the label too. */
static void labeled_chathistory_is_answered_with_its_label(void** state) {
  th_client_t *a, *d;
  const char* l;
  (void)state;
  a = alice_talks();
  d = irc_with_caps("dave", "labeled-response");
  th_sendf(d, "JOIN #dev\r\n");
  th_expect_eventually(d, ":uvchat 366 dave #dev :End of /NAMES list");
  th_sendf(d, "@label=abc CHATHISTORY LATEST #dev * 2\r\n");
  th_expect(d, "@label=abc :uvchat BATCH +h1 chathistory #dev");
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_true(strncmp(l, "@batch=h1;time=", 15) == 0);
  assert_non_null(strstr(l, " :alice!text@uvchat TOPIC #dev :plans"));
  l = th_line(d, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_non_null(strstr(l, " :alice!text@uvchat PRIVMSG #dev :third, with colour"));
  th_expect(d, ":uvchat BATCH -h1");

  /* nothing found: a labeled empty batch (a message id that is not kept) */
  th_sendf(d, "@label=e1 CHATHISTORY BEFORE #dev msgid=ffffffffff 10\r\n");
  th_expect(d, "@label=e1 :uvchat BATCH +h2 chathistory #dev");
  th_expect(d, ":uvchat BATCH -h2");

  th_sendf(d,
           "@label=t1 CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00Z "
           "timestamp=2100-01-01T00:00:00Z 10\r\n");
  th_expect(d, "@label=t1 :uvchat BATCH +h3 draft/chathistory-targets");
  th_expect_prefix(d, "@batch=h3 :uvchat CHATHISTORY TARGETS #dev ");
  th_expect(d, ":uvchat BATCH -h3");

  /* errors, found before or after the store was asked: one labeled line each */
  th_sendf(d, "@label=f1 CHATHISTORY LATEST #dev bogus 10\r\n");
  th_expect(d,
            "@label=f1 :uvchat FAIL CHATHISTORY INVALID_PARAMS LATEST :Invalid message "
            "reference");
  th_sendf(d, "@label=f2 CHATHISTORY LATEST #nosuch * 10\r\n");
  th_expect(d,
            "@label=f2 :uvchat FAIL CHATHISTORY INVALID_TARGET LATEST #nosuch :Messages could "
            "not be retrieved");
  th_sendf(a, "/mode +no-history\r\n");
  th_expect_eventually(a, "*** alice changed #dev: its messages are not kept");
  expect_contains(d, " :alice!text@uvchat MODE #dev +H");
  th_sendf(d, "@label=f3 CHATHISTORY LATEST #dev * 10\r\n");
  th_expect_prefix(d, "@label=f3 :uvchat FAIL CHATHISTORY MESSAGE_ERROR LATEST #dev :");

  /* unlabeled, the same answers come without a label */
  th_sendf(d, "CHATHISTORY LATEST #nosuch * 10\r\n");
  th_expect(d,
            ":uvchat FAIL CHATHISTORY INVALID_TARGET LATEST #nosuch :Messages could not be "
            "retrieved");
  th_close(a);
  th_close(d);
}

/* A clean stop writes everything; the next start has it. */
static void history_survives_a_clean_restart(void** state) {
  th_client_t *a, *b;
  (void)state;
  a = alice_talks();
  th_close(a);
  th_server_stop(&srv); /* SIGTERM: exit 0, clean log */
  th_server_free(&srv);
  start_server();
  b = text_user("bob", "#dev");
  th_expect_eventually(b, "*** --- the last 4 messages of #dev (/history N shows more) ---");
  expect_suffix(b, "] <alice> first words");
  th_close(b);
}

/* After kill -9 everything written before the last batch is there; the last batch (at most
 * --history's 100 ms or 500 events) may be missing. */
static void kill_9_loses_at_most_the_last_batch(void** state) {
  th_client_t *a, *b;
  size_t mark;
  const char* l;
  int i, seen = 0;
  (void)state;
  a = text_user("alice", "#dev");
  mark = th_server_log_mark(&srv);
  for (i = 1; i <= 10; i++) {
    char line[32];
    snprintf(line, sizeof line, "kept %d\r\n", i);
    th_sendf(a, line);
  }
  if (!th_server_wait_log_since(&srv, mark, "history: a batch of", th_ms(TH_WAIT_MS)))
    fail_msg("no batch was written");
  while (!th_server_logged(&srv, "(10 in all)")) /* the ten may take two batches */
    if (!th_server_wait_log_since(&srv, mark, "(10 in all)", th_ms(TH_WAIT_MS)))
      fail_msg("the ten lines were not written");
  th_sendf(a, "maybe lost\r\n");
  th_drain(a);
  th_server_kill(&srv, SIGKILL); /* at once: the last line waits for its batch */
  assert_int_equal(th_server_wait(&srv, th_ms(TH_WAIT_MS)), 128 + SIGKILL);
  th_close(a);
  th_server_free(&srv);
  start_server();
  b = text_user("bob", "#dev");
  th_expect_eventually(b, "*** 1 person is in #dev. /who lists them.");
  l = th_line(b, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_true(strncmp(l, "*** --- the last ", 17) == 0);
  for (i = 1; i <= 10; i++) {
    char want[32];
    snprintf(want, sizeof want, "] <alice> kept %d", i);
    expect_suffix(b, want);
    seen++;
  }
  l = th_line(b, th_ms(TH_WAIT_MS)); /* the last line, or the end marker */
  assert_non_null(l);
  if (strstr(l, "maybe lost") != NULL) l = th_line(b, th_ms(TH_WAIT_MS));
  assert_string_equal(l, "*** --- end of the history of #dev ---");
  assert_int_equal(seen, 10);
  th_close(b);
}

/* A message to a registered user who is offline is kept and shown at the next login, in a
 * "while you were away" block; an IRC sender is told it was kept. */
static void offline_user_gets_the_message_at_login(void** state) {
  th_client_t *b, *c, *i;
  (void)state;
  c = text_user("carol", "");
  b = text_user("bob", "");
  th_sendf(b, "/register horse battery\r\n");
  th_expect_eventually(b, "*** Account bob registered; you are logged in.");
  th_close(b);
  th_expect_eventually(c, "*** bob left (connection closed)");
  th_sendf(c, "/msg bob are you there?\r\n");
  th_expect_eventually(c,
                       "*** bob is not online: the message is kept and shown at their next "
                       "login");
  i = th_irc_connect(srv.irc_port, "ivan");
  th_sendf(i, "PRIVMSG bob :from irc\r\n");
  th_expect(i, ":uvchat NOTICE ivan :bob is offline: the message is kept for their next login");
  th_sendf(c, "/msg nobody hello\r\n"); /* not registered: refused as before */
  th_expect_eventually(c, "! there is nobody called nobody online");
  b = th_text_connect(srv.port);
  th_sendf(b, "/login bob horse battery\r\n");
  th_expect_eventually(b, "*** --- while you were away: 2 private messages ---");
  expect_suffix(b, "] [private] <carol> are you there?");
  expect_suffix(b, "] [private] <ivan> from irc");
  th_expect(b, "*** --- end of the messages kept for you ---");
  /* delivered once: the next login has nothing waiting */
  th_sendf(b, "/logout\r\n/login bob horse battery\r\n");
  th_expect_eventually(b, "*** You are logged in as bob.");
  th_expect_eventually(b, "*** guest4 is now known as bob");
  th_expect_silence(b, th_ms(500));
  th_close(b);
  th_close(c);
  th_close(i);
}

/* Private messages between accounts are kept for both; CHATHISTORY reads them by the other
 * party's nick and TARGETS lists the conversation; deleting an account deletes its copies
 * (a new account of the same name finds none), the other party keeps theirs. */
static void private_history_is_per_account(void** state) {
  th_client_t *a, *b;
  const char* l;
  (void)state;
  a = irc_with_history("alice");
  th_sendf(a, "PRIVMSG NickServ :REGISTER alice-horse\r\n");
  expect_contains(a, "Account alice registered; you are logged in");
  b = irc_with_history("bob");
  th_sendf(b, "PRIVMSG NickServ :REGISTER bob-battery\r\n");
  expect_contains(b, "Account bob registered; you are logged in");
  th_sendf(a, "PRIVMSG bob :hello bob\r\n");
  expect_contains(b, " :alice!~alice@uvchat PRIVMSG bob :hello bob");
  th_sendf(b, "PRIVMSG alice :hi alice\r\n");
  expect_contains(a, " :bob!~bob@uvchat PRIVMSG alice :hi alice");

  th_sendf(a, "CHATHISTORY LATEST bob * 10\r\n");
  th_expect(a, ":uvchat BATCH +h1 chathistory bob");
  l = th_line(a, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_non_null(strstr(l, " :alice!~alice@uvchat PRIVMSG bob :hello bob"));
  l = th_line(a, th_ms(TH_WAIT_MS));
  assert_non_null(l);
  assert_non_null(strstr(l, " :bob!~bob@uvchat PRIVMSG alice :hi alice"));
  th_expect(a, ":uvchat BATCH -h1");
  th_sendf(a,
           "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00Z timestamp=2100-01-01T00:00:00Z "
           "10\r\n");
  th_expect(a, ":uvchat BATCH +h2 draft/chathistory-targets");
  th_expect_prefix(a, "@batch=h2 :uvchat CHATHISTORY TARGETS bob ");
  th_expect(a, ":uvchat BATCH -h2");

  /* not logged in: no private history */
  th_sendf(a, "PRIVMSG NickServ :LOGOUT\r\n");
  expect_contains(a, "901 alice");
  th_sendf(a, "CHATHISTORY LATEST bob * 10\r\n");
  th_expect_eventually(a,
                       ":uvchat FAIL CHATHISTORY INVALID_TARGET LATEST bob :Messages could not "
                       "be retrieved");

  /* alice's account goes, and her copies with it */
  th_sendf(a, "PRIVMSG NickServ :IDENTIFY alice alice-horse\r\n");
  expect_contains(a, ":You are now logged in as alice");
  th_sendf(a, "PRIVMSG NickServ :DROP alice-horse\r\n");
  expect_contains(a, "Account alice deleted; you are logged out");
  th_sendf(a, "PRIVMSG NickServ :REGISTER alice-horse\r\n");
  expect_contains(a, "Account alice registered; you are logged in");
  th_sendf(a, "CHATHISTORY LATEST bob * 10\r\n");
  th_expect_eventually(a, ":uvchat BATCH +h4 chathistory bob");
  th_expect(a, ":uvchat BATCH -h4");
  th_sendf(b, "CHATHISTORY LATEST alice * 10\r\n"); /* bob keeps his */
  th_expect_eventually(b, ":uvchat BATCH +h1 chathistory alice");
  expect_contains(b, "PRIVMSG bob :hello bob");
  expect_contains(b, "PRIVMSG alice :hi alice");
  th_expect(b, ":uvchat BATCH -h1");
  th_close(a);
  th_close(b);
}

/* Expects c's next lines to be the batch hN of a CHATHISTORY of target: the lines of want
 * (each the part from the source on: ":nick!user@uvchat PRIVMSG to :text"), in order. */
static void expect_batch(th_client_t* c, unsigned n, const char* target, const char* const* want) {
  char line[256];
  const char* l;
  snprintf(line, sizeof line, ":uvchat BATCH +h%u chathistory %s", n, target);
  th_expect(c, line);
  for (; *want != NULL; want++) {
    size_t k = strlen(*want), m;
    l = th_line(c, th_ms(TH_WAIT_MS));
    if (l == NULL) fail_msg("expected a line ending in \"%s\", got nothing", *want);
    m = strlen(l);
    snprintf(line, sizeof line, "@batch=h%u;", n);
    if (strncmp(l, line, strlen(line)) != 0 || m < k + 1 || strcmp(l + m - k, *want) != 0 ||
        l[m - k - 1] != ' ')
      fail_msg("expected a line of h%u ending in \"%s\"\n       got \"%s\"", n, *want, l);
  }
  snprintf(line, sizeof line, ":uvchat BATCH -h%u", n);
  th_expect(c, line);
}

/* A private conversation is kept under the other party's account, not the nick they used:
 * alice talks with bob, logged in to bob but using other nicks, both change nick midway,
 * and a message kept while bob was logged out joins it too (his login then takes the nick
 * bob, and he changes it once more). CHATHISTORY finds all of it by
 * the other's present nick or by their account name, and TARGETS lists it once, under the
 * account. Each line shows its sender's nick as it was. */
static void a_private_conversation_is_kept_by_account(void** state) {
  th_client_t *a, *b;
  static const char* const kAliceSees[] = {
      ":alice!~alice@uvchat PRIVMSG rob :one",    ":bobby!~bob@uvchat PRIVMSG alicia :two",
      ":alicia!~alice@uvchat PRIVMSG rob :three", ":robert!~bob@uvchat PRIVMSG alicia :four",
      ":alicia!~alice@uvchat PRIVMSG rob :five",  NULL};
  static const char* const kAliceAsksBob[] = {
      ":alice!~alice@uvchat PRIVMSG bob :one",    ":bobby!~bob@uvchat PRIVMSG alicia :two",
      ":alicia!~alice@uvchat PRIVMSG bob :three", ":robert!~bob@uvchat PRIVMSG alicia :four",
      ":alicia!~alice@uvchat PRIVMSG bob :five",  NULL};
  static const char* const kBobSees[] = {
      ":alice!~alice@uvchat PRIVMSG rob :one",    ":bobby!~bob@uvchat PRIVMSG alicia :two",
      ":alicia!~alice@uvchat PRIVMSG rob :three", ":robert!~bob@uvchat PRIVMSG alicia :four",
      ":alicia!~alice@uvchat PRIVMSG rob :five",  NULL};
  static const char* const kBobAsksAlice[] = {
      ":alice!~alice@uvchat PRIVMSG rob :one",    ":bobby!~bob@uvchat PRIVMSG alice :two",
      ":alicia!~alice@uvchat PRIVMSG rob :three", ":robert!~bob@uvchat PRIVMSG alice :four",
      ":alicia!~alice@uvchat PRIVMSG rob :five",  NULL};
  (void)state;
  a = irc_with_history("alice");
  th_sendf(a, "PRIVMSG NickServ :REGISTER alice-horse\r\n");
  expect_contains(a, "Account alice registered; you are logged in");
  b = irc_with_history("bob");
  th_sendf(b, "PRIVMSG NickServ :REGISTER bob-battery\r\n");
  expect_contains(b, "Account bob registered; you are logged in");
  th_sendf(b, "NICK bobby\r\n");
  expect_contains(b, ":bob!~bob@uvchat NICK :bobby");

  th_sendf(a, "PRIVMSG bobby :one\r\n");
  expect_contains(b, " :alice!~alice@uvchat PRIVMSG bobby :one");
  th_sendf(b, "PRIVMSG alice :two\r\n");
  expect_contains(a, " :bobby!~bob@uvchat PRIVMSG alice :two");
  th_sendf(b, "NICK robert\r\n");
  expect_contains(b, ":bobby!~bob@uvchat NICK :robert");
  th_sendf(a, "NICK alicia\r\n");
  expect_contains(a, ":alice!~alice@uvchat NICK :alicia");
  th_sendf(a, "PRIVMSG robert :three\r\n");
  expect_contains(b, " :alicia!~alice@uvchat PRIVMSG robert :three");
  th_sendf(b, "PRIVMSG alicia :four\r\n");
  expect_contains(a, " :robert!~bob@uvchat PRIVMSG alicia :four");
  /* bob logs out (keeping the nick robert): a message to the account bob is kept for him */
  th_sendf(b, "PRIVMSG NickServ :LOGOUT\r\n");
  expect_contains(b, "901 robert");
  th_sendf(a, "PRIVMSG bob :five\r\n");
  expect_contains(
      a, ":uvchat NOTICE alicia :bob is offline: the message is kept for their next login");
  th_sendf(b, "PRIVMSG NickServ :IDENTIFY bob bob-battery\r\n");
  expect_contains(b, ":You are now logged in as bob");
  expect_contains(b, ":robert!~bob@uvchat NICK :bob"); /* a login takes the account's nick */
  expect_contains(b, ":uvchat NOTICE bob :1 private message reached you while you were away");
  th_sendf(b, "NICK rob\r\n");
  expect_contains(b, ":bob!~bob@uvchat NICK :rob");

  /* alice, by bob's present nick and by his account name */
  th_sendf(a, "CHATHISTORY LATEST rob * 10\r\n");
  expect_batch(a, 1, "rob", kAliceSees);
  th_sendf(a, "CHATHISTORY LATEST bob * 10\r\n");
  expect_batch(a, 2, "bob", kAliceAsksBob);
  th_sendf(a,
           "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00Z timestamp=2100-01-01T00:00:00Z "
           "10\r\n");
  th_expect(a, ":uvchat BATCH +h3 draft/chathistory-targets");
  th_expect_prefix(a, "@batch=h3 :uvchat CHATHISTORY TARGETS bob ");
  th_expect(a, ":uvchat BATCH -h3");

  /* bob, by alice's present nick and by her account name */
  th_sendf(b, "CHATHISTORY LATEST alicia * 10\r\n");
  expect_batch(b, 1, "alicia", kBobSees);
  th_sendf(b, "CHATHISTORY LATEST alice * 10\r\n");
  expect_batch(b, 2, "alice", kBobAsksAlice);
  th_sendf(b,
           "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00Z timestamp=2100-01-01T00:00:00Z "
           "10\r\n");
  th_expect(b, ":uvchat BATCH +h3 draft/chathistory-targets");
  th_expect_prefix(b, "@batch=h3 :uvchat CHATHISTORY TARGETS alice ");
  th_expect(b, ":uvchat BATCH -h3");
  th_close(a);
  th_close(b);
}

/* What a closed room (invite-only, secret or keyed) said stays with that room: once it has
 * emptied and gone, a later room of the same name shows only what was said while it was
 * open. Its members saw all of it while it lasted. */
static void a_closed_room_keeps_its_history_from_a_later_one(void** state) {
  th_client_t *a, *b;
  (void)state;
  a = text_user("alice", "#den");
  th_sendf(a, "open words\r\n/mode +invite-only\r\n");
  th_expect_eventually(a, "*** alice changed #den: only the invited may join");
  th_sendf(a, "closed words\r\n/history\r\n");
  th_expect_eventually(a, "*** --- the last 2 messages of #den ---");
  expect_suffix(a, "] <alice> open words");
  expect_suffix(a, "] <alice> closed words");
  th_expect(a, "*** --- end of the history of #den ---");
  th_sendf(a, "/join #lobby\r\n"); /* #den empties and is gone */
  th_expect_eventually(a, "*** alice joined #lobby");

  b = text_user("bob", "#den"); /* a new #den, open */
  th_expect_eventually(b, "*** --- the last 1 message of #den (/history N shows more) ---");
  expect_suffix(b, "] <alice> open words");
  th_expect(b, "*** --- end of the history of #den ---");
  th_sendf(b, "/history 10\r\n");
  th_expect_eventually(b, "*** --- the last 1 message of #den ---");
  expect_suffix(b, "] <alice> open words");
  th_expect(b, "*** --- end of the history of #den ---");
  th_close(a);
  th_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(joiners_see_what_was_said, setup, teardown),
      cmocka_unit_test_setup_teardown(non_members_and_the_banned_get_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(a_closed_room_keeps_its_history_from_a_later_one, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(labeled_chathistory_is_answered_with_its_label, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(history_survives_a_clean_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(kill_9_loses_at_most_the_last_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(offline_user_gets_the_message_at_login, setup, teardown),
      cmocka_unit_test_setup_teardown(private_history_is_per_account, setup, teardown),
      cmocka_unit_test_setup_teardown(a_private_conversation_is_kept_by_account, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
