/* test_core.c: the core and the text adapter together, without sockets: what each user
 * would see on their terminal after each thing someone types. */
#include <stdio.h>
#include <string.h>
#include "inbox.h"
#include "unit.h"

#include "uvchat/cluster.h"
#include "uvchat/core.h"
#include "uvchat/list.h"
#include "uvchat/text.h"

typedef struct user {
  uvc_session_t s;
  char inbox[16384];
  size_t len;
  uvc_msg_t* last;
  int close_why; /* -1 while not asked to close */
  char close_text[64];
} user_t;

static uvc_core_t core;
static user_t users[4];
static const char* g_password; /* the server password of the next core */

static void deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  tt_inbox_append(u->inbox, sizeof u->inbox, &u->len, m);
  u->last = m;
}

static void request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                          size_t len) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  u->close_why = (int)why;
  snprintf(u->close_text, sizeof u->close_text, "%.*s", (int)len, text ? text : "");
}

/* Connects n text users; they become guest1..guestn. */
static int setup(void** state) {
  uvc_core_config_t cfg = {
      .default_room = "#lobby", .max_line = 64, .server_name = "uvchat", .password = g_password};
  uvc_core_hooks_t hooks = {.deliver = deliver, .request_close = request_close};
  int i;
  (void)state;
  assert_int_equal(uvc_core_init(&core, &cfg, &hooks, NULL), 0);
  for (i = 0; i < 3; i++) {
    memset(&users[i], 0, sizeof users[i]);
    users[i].close_why = -1;
    uvc_session_init(&users[i].s, &uvc_text_adapter);
    uvc_text_adapter.on_open(&core, &users[i].s);
  }
  for (i = 0; i < 3; i++)
    users[i].len = 0, users[i].inbox[0] = '\0';
  return 0;
}

static int teardown(void** state) {
  int i;
  (void)state;
  for (i = 0; i < 3; i++)
    uvc_core_leave(&core, &users[i].s, UVC_LEAVE_CLOSED, NULL, 0);
  uvc_core_free(&core);
  return 0;
}

static void type(int who, const char* line) {
  uvc_text_adapter.on_line(&core, &users[who].s, line, strlen(line));
}

static void clear(void) {
  int i;
  for (i = 0; i < 3; i++)
    users[i].len = 0, users[i].inbox[0] = '\0';
}

static void arrival_is_announced_and_welcomed(void** state) {
  user_t late;
  (void)state;
  memset(&late, 0, sizeof late);
  uvc_session_init(&late.s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &late.s);
  assert_string_equal(late.s.nick, "guest4");
  assert_non_null(strstr(late.inbox, "*** Welcome to uvchat, guest4!"));
  assert_string_equal(users[0].inbox, "*** guest4 joined #lobby\r\n");
  uvc_core_leave(&core, &late.s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_string_equal(users[1].inbox,
                      "*** guest4 joined #lobby\r\n*** guest4 left (connection closed)\r\n");
}

/* An unseen session (a connection that has not shown it is a person) hears the room but is
 * neither announced nor listed; revealing it announces it once; an unseen one that goes is
 * not announced either. */
static void unseen_arrivals_are_quiet_until_revealed(void** state) {
  user_t late, probe;
  (void)state;
  memset(&late, 0, sizeof late);
  memset(&probe, 0, sizeof probe);
  uvc_session_init(&late.s, &uvc_text_adapter);
  late.s.unseen = 1;
  uvc_text_adapter.on_open(&core, &late.s);
  assert_non_null(strstr(late.inbox, "*** Welcome to uvchat, guest4!"));
  assert_string_equal(users[0].inbox, "");
  type(0, "/who");
  assert_string_equal(users[0].inbox, "*** 3 people in #lobby:\r\n***   guest1 guest2 guest3\r\n");
  type(1, "hello");
  assert_non_null(strstr(late.inbox, "<guest2> hello\r\n")); /* it hears the room */
  clear();
  uvc_core_reveal(&core, &late.s);
  assert_string_equal(users[0].inbox, "*** guest4 joined #lobby\r\n");
  assert_string_equal(users[2].inbox, "*** guest4 joined #lobby\r\n");
  assert_null(strstr(late.inbox, "joined"));
  uvc_core_reveal(&core, &late.s); /* once only */
  assert_string_equal(users[0].inbox, "*** guest4 joined #lobby\r\n");
  clear();
  late.len = 0, late.inbox[0] = '\0';
  uvc_session_init(&probe.s, &uvc_text_adapter);
  probe.s.unseen = 1;
  uvc_text_adapter.on_open(&core, &probe.s);
  uvc_core_leave(&core, &probe.s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_string_equal(users[0].inbox, "");
  assert_string_equal(late.inbox, "");
  uvc_core_leave(&core, &late.s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_string_equal(users[1].inbox, "*** guest4 left (connection closed)\r\n");
}

/* ---- Watching nicks (MONITOR) and the nick history (WHOWAS) ---------------------------- */

static char g_watch_log[1024]; /* "watcher:+nick(who) " or "watcher:-nick " per notice */

static void record_watch(uvc_core_t* c, uvc_session_t* s, const uvc_session_t* who,
                         const char* nick, size_t len) {
  size_t n = strlen(g_watch_log);
  (void)c;
  snprintf(g_watch_log + n, sizeof g_watch_log - n, "%s:%c%.*s%s%s%s ", s->nick, who ? '+' : '-',
           (int)len, nick, who ? "(" : "", who ? who->nick : "", who ? ")" : "");
}

static uvc_adapter_t g_watching_adapter; /* the text adapter, with on_watch */

/* A watcher hears of the watched nick coming (by rename or arrival) and going (by rename or
 * leaving), once each; a change of case is no change; unwatching and leaving stop it. */
static void watchers_hear_nicks_come_and_go(void** state) {
  user_t late;
  (void)state;
  g_watching_adapter = uvc_text_adapter;
  g_watching_adapter.on_watch = record_watch;
  users[0].s.adapter = &g_watching_adapter;
  g_watch_log[0] = '\0';
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "Bob", 3), 0);
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "bob", 3), 0); /* already: same nick */
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "guest4", 6), 0);
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "no way", 6), UVC_ENICK_INVALID);
  assert_int_equal(uvc_session_watch_count(&users[0].s), 2);
  assert_string_equal(uvc_session_watched(&users[0].s, 0), "Bob");
  type(1, "/nick bob");
  assert_string_equal(g_watch_log, "guest1:+bob(bob) ");
  g_watch_log[0] = '\0';
  type(1, "/nick BOB"); /* only its case */
  assert_string_equal(g_watch_log, "");
  type(1, "/nick carol");
  assert_string_equal(g_watch_log, "guest1:-BOB ");
  g_watch_log[0] = '\0';
  memset(&late, 0, sizeof late);
  uvc_session_init(&late.s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &late.s); /* arrives as guest4 */
  assert_string_equal(g_watch_log, "guest1:+guest4(guest4) ");
  g_watch_log[0] = '\0';
  uvc_core_leave(&core, &late.s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_string_equal(g_watch_log, "guest1:-guest4 ");
  g_watch_log[0] = '\0';
  uvc_core_unwatch(&core, &users[0].s, "BOB", 3);
  assert_int_equal(uvc_session_watch_count(&users[0].s), 1);
  type(1, "/nick bob");
  assert_string_equal(g_watch_log, "");
  uvc_core_unwatch_all(&core, &users[0].s);
  assert_int_equal(uvc_session_watch_count(&users[0].s), 0);
  /* A watcher that leaves is forgotten: nobody is told anything through it later. */
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "dave", 4), 0);
  uvc_core_leave(&core, &users[0].s, UVC_LEAVE_CLOSED, NULL, 0);
  type(1, "/nick dave");
  assert_string_equal(g_watch_log, "");
  assert_null(core.watches);
}

static void a_watch_list_is_bounded(void** state) {
  char nick[16];
  int i;
  (void)state;
  for (i = 0; i < UVC_WATCH_MAX; i++) {
    snprintf(nick, sizeof nick, "w%d", i);
    assert_int_equal(uvc_core_watch(&core, &users[0].s, nick, strlen(nick)), 0);
  }
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "one_more", 8), UVC_EWATCH_FULL);
  assert_int_equal(uvc_core_watch(&core, &users[0].s, "w7", 2), 0); /* already watched */
  assert_int_equal(uvc_session_watch_count(&users[0].s), UVC_WATCH_MAX);
}

/* A departed nick (a rename or a leaving) is remembered, newest first, with its user name;
 * the history keeps the last UVC_WHOWAS_MAX; an unseen probe leaves nothing. */
static void departed_nicks_are_remembered(void** state) {
  const uvc_whowas_t* e;
  user_t probe;
  char line[32];
  int i;
  (void)state;
  assert_null(uvc_core_whowas(&core, "guest1", 6, 0));
  type(0, "/nick alice");
  type(0, "/nick guest1");
  type(0, "/nick bob");
  e = uvc_core_whowas(&core, "GUEST1", 6, 0);
  assert_non_null(e);
  assert_string_equal(e->nick, "guest1");
  assert_string_equal(e->user, "text");
  assert_ptr_equal(e->adapter, &uvc_text_adapter);
  assert_string_equal(e->realname, "");
  assert_non_null(uvc_core_whowas(&core, "guest1", 6, 1)); /* the first time too */
  assert_null(uvc_core_whowas(&core, "guest1", 6, 2));
  assert_non_null(uvc_core_whowas(&core, "alice", 5, 0));
  uvc_core_leave(&core, &users[0].s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_non_null(uvc_core_whowas(&core, "bob", 3, 0));
  memset(&probe, 0, sizeof probe);
  uvc_session_init(&probe.s, &uvc_text_adapter);
  probe.s.unseen = 1;
  uvc_text_adapter.on_open(&core, &probe.s); /* guest4 */
  uvc_core_leave(&core, &probe.s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_null(uvc_core_whowas(&core, "guest4", 6, 0));
  for (i = 0; i < UVC_WHOWAS_MAX + 5; i++) {
    snprintf(line, sizeof line, "/nick n%d", i);
    type(1, line);
    clear();
  }
  assert_int_equal(core.whowas_n, UVC_WHOWAS_MAX);
  assert_null(uvc_core_whowas(&core, "bob", 3, 0));    /* the oldest went first */
  assert_null(uvc_core_whowas(&core, "guest2", 6, 0)); /* the first rename of user 1 */
  assert_null(uvc_core_whowas(&core, "n3", 2, 0));
  assert_non_null(uvc_core_whowas(&core, "n4", 2, 0));
  assert_non_null(uvc_core_whowas(&core, "n1003", 5, 0));
  assert_null(uvc_core_whowas(&core, "n1004", 5, 0)); /* still in use */
  assert_int_equal(core.max_present, 3);              /* the probe came after user 0 had gone */
}

static void a_line_reaches_everyone_else_once_shared(void** state) {
  (void)state;
  type(0, "hello there");
  assert_string_equal(users[0].inbox, ""); /* no echo */
  assert_string_equal(users[1].inbox, "<guest1> hello there\r\n");
  assert_string_equal(users[2].inbox, "<guest1> hello there\r\n");
  assert_ptr_equal(users[1].last, users[2].last); /* rendered once, shared */
}

static void control_characters_never_reach_others(void** state) {
  (void)state;
  type(0, "\x1B[2Jgotcha\x07\x1B]0;title\x07!");
  assert_string_equal(users[1].inbox, "<guest1> gotcha!\r\n");
  clear();
  type(0, "   ");
  type(0, "\x1B[0m");
  assert_string_equal(users[1].inbox, ""); /* blank after cleaning: ignored */
}

static void double_slash_sends_a_slash_line(void** state) {
  (void)state;
  type(1, "//usr/bin is a path");
  assert_string_equal(users[0].inbox, "<guest2> /usr/bin is a path\r\n");
}

static void nick_change_is_announced_to_all_including_self(void** state) {
  (void)state;
  type(0, "/nick Alice");
  assert_string_equal(users[0].inbox, "*** guest1 is now known as Alice\r\n");
  assert_string_equal(users[2].inbox, "*** guest1 is now known as Alice\r\n");
  clear();
  type(1, "/nick alice");
  assert_string_equal(users[1].inbox, "! the nick alice is already taken\r\n");
  assert_string_equal(users[0].inbox, "");
  clear();
  type(0, "/nick ALICE"); /* a new spelling of one's own name is fine */
  assert_string_equal(users[0].inbox, "*** Alice is now known as ALICE\r\n");
  clear();
  type(0, "/nick ALICE");
  assert_string_equal(users[0].inbox, "! you are already ALICE\r\n");
  clear();
  type(1, "/nick 9lives");
  assert_string_equal(users[1].inbox,
                      "! cannot use \"9lives\" as a nick: a nick cannot start with a digit or "
                      "'-'\r\n");
  clear();
  type(1, "/nick a b");
  assert_string_equal(users[1].inbox, "! usage: /nick NAME\r\n");
  assert_ptr_equal(uvc_core_find(&core, "alice", 5), &users[0].s);
}

static void private_messages(void** state) {
  (void)state;
  type(0, "/nick alice");
  type(1, "/nick bob");
  clear();
  type(0, "/msg BOB  see you at  noon ");
  assert_string_equal(users[1].inbox, "[private] <alice> see you at  noon\r\n");
  assert_string_equal(users[0].inbox, "[private to bob] see you at  noon\r\n");
  assert_string_equal(users[2].inbox, "");
  clear();
  type(0, "/msg nobody hi");
  assert_string_equal(users[0].inbox, "! there is nobody called nobody online\r\n");
  clear();
  type(0, "/msg bob");
  assert_string_equal(users[0].inbox, "! usage: /msg NICK TEXT\r\n");
}

static void action_and_who(void** state) {
  (void)state;
  type(2, "/me waves");
  assert_string_equal(users[0].inbox, "* guest3 waves\r\n");
  assert_string_equal(users[2].inbox, "");
  clear();
  type(2, "/nick zed");
  clear();
  type(2, "/WHO");
  assert_string_equal(users[2].inbox, "*** 3 people in #lobby:\r\n***   guest1 guest2 zed\r\n");
}

static void unknown_command_names_help(void** state) {
  (void)state;
  type(0, "/frobnicate now");
  assert_string_equal(users[0].inbox, "! unknown command /frobnicate; type /help for the list\r\n");
  clear();
  type(0, "/help");
  assert_non_null(strstr(users[0].inbox, "/msg NICK TEXT"));
  assert_non_null(strstr(users[0].inbox, "/quit [REASON]"));
  clear();
  type(0, "/help nick"); /* the summary, then the rules */
  assert_string_equal(
      users[0].inbox,
      "*** /nick NAME: change your name\r\n"
      "***   A nick is 1 to 32 ASCII letters (A to Z, without accents), digits or - _ [ ] \\ ` ^ "
      "{ } |,\r\n"
      "***   and does not start with a digit or -. Nicks are unique ignoring case (Ann and ann are "
      "the\r\n"
      "***   same); a registered nick needs its account's password (see /help login).\r\n");
  clear();
  type(0, "/help /quit"); /* no more to say than the summary */
  assert_string_equal(users[0].inbox, "*** /quit [REASON]: leave the chat\r\n");
}

static void quit_with_reason(void** state) {
  (void)state;
  type(1, "/quit  off to lunch ");
  assert_string_equal(users[1].inbox, "*** Bye, guest2!\r\n");
  assert_int_equal(users[1].close_why, UVC_LEAVE_QUIT);
  assert_string_equal(users[1].close_text, "off to lunch");
  /* the connection layer then ends the session: */
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_QUIT, "off to lunch", 12);
  assert_string_equal(users[0].inbox, "*** guest2 left (quit: off to lunch)\r\n");
  assert_null(uvc_core_find(&core, "guest2", 6));
}

static void dropped_reader_is_explained(void** state) {
  (void)state;
  uvc_core_leave(&core, &users[2].s, UVC_LEAVE_SENDQ, NULL, 0);
  assert_string_equal(users[0].inbox, "*** guest3 was disconnected (not reading fast enough)\r\n");
}

static void announce_reaches_everyone(void** state) {
  (void)state;
  uvc_core_announce(&core, "going down", 10);
  assert_string_equal(users[0].inbox, "*** going down\r\n");
  assert_string_equal(users[1].inbox, "*** going down\r\n");
  assert_ptr_equal(users[0].last, users[2].last);
}

static void rooms_move_and_talk_separately(void** state) {
  (void)state;
  type(0, "/join #Dev");
  assert_string_equal(users[0].inbox,
                      "*** guest1 left #lobby\r\n*** guest1 joined #Dev\r\n"
                      "*** 1 person is in #Dev. /who lists them.\r\n");
  assert_string_equal(users[1].inbox, "*** guest1 left #lobby\r\n");
  clear();
  type(1, "/join #dev"); /* rooms compare ignoring case */
  assert_string_equal(users[0].inbox, "*** guest2 joined #Dev\r\n");
  clear();
  type(0, "only for dev");
  assert_string_equal(users[1].inbox, "<guest1> only for dev\r\n");
  assert_string_equal(users[2].inbox, "");
  type(2, "only for the lobby");
  assert_string_equal(users[1].inbox, "<guest1> only for dev\r\n");
  clear();
  type(1, "/join #dev");
  assert_string_equal(users[1].inbox, "! you are already in #Dev\r\n");
  clear();
  type(1, "/join lobby"); /* the # may be left out */
  assert_string_equal(users[1].inbox,
                      "*** guest2 left #Dev\r\n*** guest2 joined #lobby\r\n"
                      "*** 2 people are in #lobby. /who lists them.\r\n");
  clear();
  type(1, "/join Dev");
  assert_string_equal(users[1].inbox,
                      "*** guest2 left #lobby\r\n*** guest2 joined #Dev\r\n"
                      "*** 2 people are in #Dev. /who lists them.\r\n");
  clear();
  type(1, "/join a,b");
  assert_string_equal(
      users[1].inbox,
      "! cannot join \"#a,b\": a room name may not contain spaces, commas, colons or "
      "non-ASCII characters\r\n");
  clear();
  type(1, "/rooms");
  assert_string_equal(users[1].inbox,
                      "*** 2 rooms:\r\n***   #Dev                    2 people\r\n"
                      "***   #lobby                  1 person\r\n");
  clear();
  type(1, "/part bye dev");
  assert_string_equal(users[0].inbox, "*** guest2 left #Dev (bye dev)\r\n");
  assert_string_equal(users[2].inbox, "*** guest2 joined #lobby\r\n");
  clear();
  type(1, "/part");
  assert_string_equal(users[1].inbox,
                      "! you are in #lobby, where everyone starts; /join another room, or "
                      "/quit\r\n");
  type(0, "/join #lobby");
  clear();
  type(0, "/rooms"); /* #Dev emptied and is gone; the lobby stays */
  assert_string_equal(users[0].inbox, "*** 1 room:\r\n***   #lobby                  3 people\r\n");
}

static void topic_operators_and_kick(void** state) {
  uvc_room_t* dev;
  (void)state;
  type(0, "/join #dev"); /* the creator is its operator */
  type(1, "/join #dev");
  clear();
  type(1, "/topic hacking");
  assert_string_equal(users[1].inbox, "! only operators of #dev may set its topic\r\n");
  type(0, "/topic  shipping \x1B[5mv1\x1B[0m ");
  assert_string_equal(users[1].inbox,
                      "! only operators of #dev may set its topic\r\n"
                      "*** guest1 set the topic of #dev: shipping v1\r\n");
  clear();
  type(1, "/topic");
  assert_string_equal(users[1].inbox, "*** Topic of #dev: shipping v1 (set by guest1)\r\n");
  clear();
  type(1, "/who");
  assert_string_equal(users[1].inbox, "*** 2 people in #dev:\r\n***   @guest1 guest2\r\n");
  dev = uvc_core_room(&core, "#dev", 4);
  assert_non_null(dev);
  assert_int_equal(uvc_core_set_op(&core, &users[1].s, dev, &users[0].s, 0), UVC_ENOT_OPERATOR);
  clear();
  assert_int_equal(uvc_core_kick(&core, &users[0].s, dev, &users[1].s, "spam", 4), 0);
  /* a text user who is kicked goes back to the lobby */
  assert_string_equal(users[1].inbox,
                      "*** guest1 removed guest2 from #dev (spam)\r\n*** guest2 joined #lobby\r\n");
  assert_ptr_equal(uvc_session_room(&users[1].s), core.lobby);
  assert_int_equal(uvc_core_kick(&core, &users[0].s, dev, &users[1].s, NULL, 0),
                   UVC_ETARGET_NOT_IN_ROOM);
  clear();
  assert_int_equal(uvc_core_set_modes(&core, &users[0].s, dev, 0, UVC_ROOM_TOPIC_LOCKED), 0);
  assert_string_equal(users[0].inbox, "*** guest1 changed #dev: anyone may set the topic\r\n");
}

static void away_is_told_to_senders(void** state) {
  (void)state;
  type(1, "/away at lunch");
  assert_string_equal(users[1].inbox, "*** You are away: at lunch\r\n");
  type(0, "/msg guest2 ping");
  assert_string_equal(users[0].inbox,
                      "[private to guest2] ping\r\n*** guest2 is away: at lunch\r\n");
  clear();
  type(0, "/who");
  assert_string_equal(users[0].inbox, "*** 3 people in #lobby:\r\n***   guest1 guest2~ guest3\r\n");
  clear();
  type(1, "/away");
  assert_string_equal(users[1].inbox, "*** You are back\r\n");
}

static void irc_formatting_never_reaches_text_users(void** state) {
  (void)state;
  /* An IRC user's line keeps its colour codes in the core; text users see plain text. */
  uvc_core_say(&core, &users[0].s, NULL,
               "\x02"
               "bold\x02 and \x03"
               "4red",
               16, 0);
  assert_string_equal(users[1].inbox, "<guest1> bold and red\r\n");
}

/* Found by fuzz_commands: error replies that quote a long command must not cut a UTF-8
 * character in two. */
static void error_replies_stay_valid_utf8(void** state) {
  (void)state;
  type(0, "/t\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF");
  /* 13 replacement characters fit in 40 bytes, not 13 and a third */
  assert_string_equal(users[0].inbox,
                      "! unknown command /t\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                      "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                      "\xEF\xBF\xBD\xEF\xBF\xBD; type /help for the list\r\n");
}

/* Past --announce-limit members a room stops announcing comings and goings (but the one
 * who joins still sees its own arrival). */
static void big_rooms_do_not_announce_presence(void** state) {
  user_t late;
  (void)state;
  core.announce_limit = 3;
  memset(&late, 0, sizeof late);
  uvc_session_init(&late.s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &late.s); /* the 4th member */
  assert_string_equal(users[0].inbox, "");
  type(3 - 3, "/nick ann"); /* with 4 members, a rename is not announced to the room */
  assert_string_equal(users[0].inbox, "*** guest1 is now known as ann\r\n");
  assert_string_equal(users[1].inbox, "");
  type(1, "hello big room"); /* messages still reach everyone */
  assert_string_equal(late.inbox + strlen(late.inbox) - 25, "<guest2> hello big room\r\n");
  uvc_core_leave(&core, &late.s, UVC_LEAVE_QUIT, NULL, 0);
  assert_string_equal(users[1].inbox, "");
  clear();
  type(2, "/join #small"); /* 3 members again: announced */
  assert_string_equal(users[2].inbox,
                      "*** guest3 left #lobby\r\n*** guest3 joined #small\r\n"
                      "*** 1 person is in #small. /who lists them.\r\n");
  core.announce_limit = 0;
}

/* The nick table under churn: thousands of people come, rename and go, in any case. */
static void nick_table_survives_churn(void** state) {
  enum { N = 3000 };
  static user_t many[N];
  char nick[32];
  unsigned i;
  (void)state;
  for (i = 0; i < N; i++) {
    int n = snprintf(nick, sizeof nick, "User%u", i);
    uvc_session_init(&many[i].s, &uvc_text_adapter);
    assert_int_equal(uvc_core_enter(&core, &many[i].s, nick, (size_t)n), 0);
  }
  for (i = 0; i < N; i++) { /* the even ones leave, in a scrambled order (7919 is prime) */
    unsigned k = (i * 7919u) % N;
    if (k % 2 == 0) uvc_core_leave(&core, &many[k].s, UVC_LEAVE_CLOSED, NULL, 0);
  }
  for (i = 1; i < N; i += 2) { /* the rest rename */
    int n = snprintf(nick, sizeof nick, "renamed%u", i);
    assert_int_equal(uvc_core_rename(&core, &many[i].s, nick, (size_t)n), 0);
  }
  for (i = 0; i < N; i++) {
    int n = snprintf(nick, sizeof nick, "USER%u", i);
    int m;
    char again[32];
    assert_null(uvc_core_find(&core, nick, (size_t)n) == NULL ? NULL : "old nick still there");
    m = snprintf(again, sizeof again, "RENAMED%u", i);
    if (i % 2 == 1)
      assert_ptr_equal(uvc_core_find(&core, again, (size_t)m), &many[i].s);
    else
      assert_null(uvc_core_find(&core, again, (size_t)m));
  }
  assert_ptr_equal(uvc_core_find(&core, "guest1", 6), &users[0].s);
  for (i = 0; i < N; i++)
    uvc_core_leave(&core, &many[i].s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_int_equal(core.n_present, 3);
}

/* Without the accounts module (core->auth unset): the account commands say so, /help does
 * not list them, and the services' nick is reserved all the same. */
static void accounts_not_available(void** state) {
  (void)state;
  type(0, "/register correct horse");
  type(0, "/login alice correct horse");
  type(0, "/logout");
  assert_string_equal(users[0].inbox,
                      "! accounts are not available on this server\r\n"
                      "! accounts are not available on this server\r\n"
                      "! accounts are not available on this server\r\n");
  clear();
  type(0, "/help");
  assert_null(strstr(users[0].inbox, "/register"));
  assert_null(strstr(users[0].inbox, "/pass"));
  clear();
  type(0, "/nick nickserv");
  assert_string_equal(users[0].inbox,
                      "! the nick nickserv is reserved for the server's services\r\n");
  assert_int_equal(uvc_core_rename(&core, &users[0].s, "NickServ", 8), UVC_ENICK_RESERVED);
}

/* A server password: text users are nobody until they give it; three wrong ones and out. */
static void server_password_gate(void** state) {
  user_t* u = &users[3];
  (void)state;
  assert_false(users[0].s.present);
  assert_int_equal(core.n_present, 0);
  assert_string_equal(users[0].inbox, "");
  memset(u, 0, sizeof *u);
  u->close_why = -1;
  uvc_session_init(&u->s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &u->s);
  assert_string_equal(u->inbox, "*** This server needs a password: type /pass PASSWORD\r\n");
  u->len = 0;
  type(3, "hi all");
  type(3, "/who");
  type(3, "/pass");
  type(3, "/pass s3cret!");
  type(3, "/pass S3CRET");
  assert_int_equal(u->close_why, -1);
  type(3, "/pass s3cre");
  assert_string_equal(u->inbox,
                      "! this server needs a password first: type /pass PASSWORD\r\n"
                      "! this server needs a password first: type /pass PASSWORD\r\n"
                      "! usage: /pass PASSWORD\r\n"
                      "! wrong password; 2 more tries\r\n"
                      "! wrong password; 1 more try\r\n"
                      "! wrong password; goodbye\r\n");
  assert_int_equal(u->close_why, UVC_LEAVE_QUIT);
  assert_false(u->s.present);
  clear();
  type(1, "/help");
  assert_non_null(strstr(users[1].inbox, "/pass PASSWORD"));
  clear();
  type(1, "/pass s3cret");
  assert_true(users[1].s.present);
  assert_string_equal(users[1].inbox,
                      "*** Welcome to uvchat, guest1! Type /help for commands.\r\n"
                      "*** You are the first one in #lobby. Pick a name with /nick NAME.\r\n");
  clear();
  type(1, "/pass s3cret");
  assert_string_equal(users[1].inbox, "! you gave the server password already\r\n");
  assert_true(uvc_core_check_password(&core, "s3cret", 6));
  assert_false(uvc_core_check_password(&core, "s3cret", 5));
  assert_false(uvc_core_check_password(&core, "s3cret\0", 7));
  assert_false(uvc_core_check_password(&core, "", 0));
}

/* A core with a server password. */
static int setup_with_password(void** state) {
  int r;
  g_password = "s3cret";
  r = setup(state);
  g_password = NULL;
  return r;
}

/* The password test's extra user leaves too. */
static int teardown_password(void** state) {
  uvc_core_leave(&core, &users[3].s, UVC_LEAVE_CLOSED, NULL, 0);
  return teardown(state);
}

/* ---- Room moderation (text users) ------------------------------------------------------ */

static void masks_match_with_wildcards(void** state) {
  char out[UVC_MASK_MAX + 1];
  (void)state;
  assert_true(uvc_mask_match("bob!*@*", 7, "BOB!~b@uvchat", 13));
  assert_true(uvc_mask_match("b?b*", 4, "bob!x@y", 7));
  assert_false(uvc_mask_match("b?b", 3, "bob!x@y", 7));
  assert_true(uvc_mask_match("*!*@*", 5, "a!b@c", 5));
  assert_false(uvc_mask_match("*x*", 3, "abc", 3));
  assert_true(uvc_mask_match("a*c*e", 5, "abcde", 5));
  assert_int_equal(uvc_mask_normalize("bob", 3, out), 7);
  assert_string_equal(out, "bob!*@*");
  uvc_mask_normalize("bob!x", 5, out);
  assert_string_equal(out, "bob!x@*");
  uvc_mask_normalize("*@host", 6, out);
  assert_string_equal(out, "*!*@host");
  uvc_mask_normalize("a!b@c", 5, out);
  assert_string_equal(out, "a!b@c");
  assert_int_equal(uvc_mask_normalize("a b", 3, out), 0);
  assert_int_equal(uvc_mask_normalize("", 0, out), 0);
}

/* guest1 makes #dev (its operator) and guest2 follows; everyone's inbox is then empty. */
static void two_in_dev(void) {
  type(0, "/join #dev");
  type(1, "/join #dev");
  clear();
}

static void moderated_room_and_voice(void** state) {
  (void)state;
  two_in_dev();
  type(1, "/mode +moderated");
  assert_string_equal(users[1].inbox, "! only operators of #dev may do that\r\n");
  type(0, "/mode +moderated");
  assert_string_equal(users[0].inbox,
                      "*** guest1 changed #dev: only voiced people and operators may talk\r\n");
  assert_string_equal(users[1].inbox,
                      "! only operators of #dev may do that\r\n"
                      "*** guest1 changed #dev: only voiced people and operators "
                      "may talk\r\n");
  clear();
  type(1, "hi");
  assert_string_equal(users[1].inbox,
                      "! not sent: that room is moderated: only voiced people and operators may "
                      "talk\r\n");
  assert_string_equal(users[0].inbox, "");
  type(0, "/voice guest2");
  assert_string_equal(users[1].inbox,
                      "! not sent: that room is moderated: only voiced people and "
                      "operators may talk\r\n*** guest1 gave guest2 a voice in "
                      "#dev\r\n");
  clear();
  type(1, "hi");
  assert_string_equal(users[0].inbox, "<guest2> hi\r\n");
  type(0, "/who");
  assert_string_equal(users[0].inbox,
                      "<guest2> hi\r\n*** 2 people in #dev:\r\n***   @guest1 "
                      "+guest2\r\n");
  clear();
  type(0, "/devoice guest2");
  assert_string_equal(users[1].inbox, "*** guest1 took guest2's voice in #dev\r\n");
  type(0, "/voice guest3");
  assert_string_equal(users[0].inbox,
                      "*** guest1 took guest2's voice in #dev\r\n"
                      "! guest3 is not in #dev\r\n");
  clear();
  type(0, "/mode -m +secret");
  assert_string_equal(users[1].inbox,
                      "*** guest1 changed #dev: everyone may talk; hidden from the room list\r\n");
  type(0, "/mode");
  assert_string_equal(users[0].inbox,
                      "*** guest1 changed #dev: everyone may talk; hidden from the room list\r\n"
                      "*** #dev: +secret +members-only +topic-lock\r\n");
  clear();
  type(0, "/mode +loud");
  assert_non_null(strstr(users[0].inbox, "! there is no flag \"loud\""));
  type(2, "/rooms"); /* guest3 is not in #dev: it does not see it */
  assert_string_equal(users[2].inbox, "*** 1 room:\r\n***   #lobby                  1 person\r\n");
  clear();
  type(1, "/rooms");
  assert_non_null(strstr(users[1].inbox, "***   #dev"));
  clear();
  type(0, "/op guest2");
  assert_string_equal(users[1].inbox, "*** guest1 made guest2 an operator of #dev\r\n");
  type(1, "/deop guest1");
  assert_non_null(
      strstr(users[1].inbox, "*** guest2 took operator status in #dev from guest1\r\n"));
}

static void bans_keep_out_and_silence(void** state) {
  (void)state;
  two_in_dev();
  type(1, "/ban guest3");
  assert_string_equal(users[1].inbox, "! only operators of #dev may do that\r\n");
  type(0, "/ban");
  assert_string_equal(users[0].inbox, "*** #dev has no bans\r\n");
  clear();
  type(0, "/ban guest3");
  assert_string_equal(users[1].inbox, "*** guest1 banned guest3!*@* from #dev\r\n");
  type(2, "/join #dev");
  assert_string_equal(users[2].inbox, "! cannot join #dev: you are banned from it\r\n");
  assert_ptr_equal(uvc_session_room(&users[2].s), core.lobby); /* never left the lobby */
  clear();
  type(0, "/ban guest?!text@*"); /* guest2 matches, but is voiced-less: silenced */
  type(0, "/ban");
  assert_string_equal(users[0].inbox,
                      "*** guest1 banned guest?!text@* from #dev\r\n"
                      "*** 2 bans in #dev:\r\n"
                      "***   guest3!*@* (set by guest1)\r\n"
                      "***   guest?!text@* (set by guest1)\r\n");
  clear();
  type(1, "still here?");
  assert_string_equal(users[1].inbox, "! not sent: you are banned from that room\r\n");
  assert_string_equal(users[0].inbox, ""); /* the operator matches too, but operators talk */
  type(0, "ops talk");
  assert_string_equal(users[1].inbox,
                      "! not sent: you are banned from that room\r\n"
                      "<guest1> ops talk\r\n");
  clear();
  type(0, "/unban nobody");
  assert_string_equal(users[0].inbox, "! nobody is not banned from #dev (/ban lists the bans)\r\n");
  clear();
  type(0, "/unban guest?!text@*");
  type(0, "/unban guest3");
  assert_string_equal(users[1].inbox,
                      "*** guest1 lifted the ban on guest?!text@* in #dev\r\n"
                      "*** guest1 lifted the ban on guest3!*@* in #dev\r\n");
  type(2, "/join #dev");
  assert_ptr_equal(uvc_session_room(&users[2].s), uvc_core_room(&core, "#dev", 4));
}

static void keys_and_limits(void** state) {
  (void)state;
  two_in_dev();
  type(1, "/part");
  clear();
  type(0, "/key two words");
  assert_string_equal(users[0].inbox, "! usage: /key [KEY]\r\n");
  type(0, "/key sekrit");
  assert_string_equal(users[0].inbox,
                      "! usage: /key [KEY]\r\n*** guest1 set the key of #dev to "
                      "sekrit\r\n");
  clear();
  type(1, "/join #dev");
  assert_string_equal(users[1].inbox, "! cannot join #dev: it needs a key: /join #dev KEY\r\n");
  clear();
  type(1, "/join #dev wrong");
  assert_string_equal(users[1].inbox, "! cannot join #dev: it needs a key: /join #dev KEY\r\n");
  clear();
  type(1, "/join #dev sekrit");
  assert_ptr_equal(uvc_session_room(&users[1].s), uvc_core_room(&core, "#dev", 4));
  clear();
  type(0, "/limit 0");
  assert_non_null(strstr(users[0].inbox, "! usage: /limit N"));
  clear();
  type(0, "/limit 2");
  assert_string_equal(users[1].inbox, "*** guest1 limited #dev to 2 people\r\n");
  type(2, "/join #dev sekrit");
  assert_string_equal(users[2].inbox, "! cannot join #dev: it is full (2 people at most)\r\n");
  type(0, "/mode");
  assert_string_equal(users[0].inbox,
                      "*** guest1 limited #dev to 2 people\r\n"
                      "*** #dev: +members-only +topic-lock key sekrit limit 2\r\n");
  clear();
  type(0, "/limit");
  type(0, "/key");
  assert_string_equal(users[1].inbox,
                      "*** guest1 removed the limit of #dev\r\n"
                      "*** guest1 removed the key of #dev\r\n");
  type(2, "/join #dev");
  assert_ptr_equal(uvc_session_room(&users[2].s), uvc_core_room(&core, "#dev", 4));
}

static void invite_only_rooms(void** state) {
  (void)state;
  two_in_dev();
  type(0, "/mode +invite-only");
  clear();
  type(2, "/join #dev");
  assert_string_equal(users[2].inbox,
                      "! cannot join #dev: it is invite-only; ask one of its "
                      "operators to /invite you\r\n");
  type(1, "/invite guest3");
  assert_string_equal(users[1].inbox, "! only operators of #dev may do that\r\n");
  type(0, "/invite guest2");
  assert_string_equal(users[0].inbox, "! guest2 is already in #dev\r\n");
  clear();
  type(0, "/invite guest3");
  assert_string_equal(users[0].inbox, "*** You invited guest3 to #dev\r\n");
  assert_string_equal(users[2].inbox, "*** guest1 invites you to #dev: type /join #dev\r\n");
  type(2, "/join #dev");
  assert_ptr_equal(uvc_session_room(&users[2].s), uvc_core_room(&core, "#dev", 4));
  type(2, "/part"); /* the invitation was used up */
  clear();
  type(2, "/join #dev");
  assert_non_null(strstr(users[2].inbox, "it is invite-only"));
  clear();
  /* The core's invite list (IRC +I) lets a mask in without an invitation. */
  assert_int_equal(uvc_core_list_change(&core, &users[0].s, uvc_core_room(&core, "#dev", 4),
                                        UVC_LIST_INVITE, "guest3", 6, 1),
                   0);
  assert_string_equal(users[0].inbox, "*** guest1 added guest3!*@* to the invite list of #dev\r\n");
  type(2, "/join #dev");
  assert_ptr_equal(uvc_session_room(&users[2].s), uvc_core_room(&core, "#dev", 4));
}

/* What a server of a cluster learns of a room from another (uvc_core_room_learn_access,
 * uvc_core_room_learn_mask): the key, the limit and the lists apply to the next to join, and
 * nobody is told. */
static void learned_keys_limits_and_lists_apply_silently(void** state) {
  uvc_room_t* dev;
  (void)state;
  two_in_dev();
  dev = uvc_core_room(&core, "#dev", 4);
  uvc_core_room_learn_access(&core, dev, "s3cret", 6, 3);
  assert_int_equal(uvc_core_room_learn_mask(&core, dev, UVC_LIST_BAN, "GUEST3", 6, "amy", 7), 0);
  assert_int_equal(uvc_core_room_learn_mask(&core, dev, UVC_LIST_BAN, "guest3", 6, "bo", 8), 0);
  assert_int_equal(uvc_room_list(dev, UVC_LIST_BAN)->n, 1); /* once, as first learned */
  assert_string_equal(uvc_room_list(dev, UVC_LIST_BAN)->v[0].mask, "GUEST3!*@*");
  assert_string_equal(uvc_room_list(dev, UVC_LIST_BAN)->v[0].by, "amy");
  assert_true(uvc_room_list(dev, UVC_LIST_BAN)->v[0].at == 7);
  assert_string_equal(users[0].inbox, "");
  assert_string_equal(users[1].inbox, "");
  assert_true((dev->modes & (UVC_ROOM_KEY | UVC_ROOM_LIMIT)) == (UVC_ROOM_KEY | UVC_ROOM_LIMIT));
  assert_int_equal(uvc_core_may_join(&core, &users[2].s, dev, "s3cret", 6), UVC_EBANNED);
  uvc_core_room_learn_access(&core, dev, "s3cret", 6, 2); /* the lists start again empty */
  assert_int_equal(uvc_room_list(dev, UVC_LIST_BAN)->n, 0);
  assert_int_equal(uvc_core_may_join(&core, &users[2].s, dev, NULL, 0), UVC_EBAD_KEY);
  assert_int_equal(uvc_core_may_join(&core, &users[2].s, dev, "s3cret", 6), UVC_EROOM_FULL);
  uvc_core_room_learn_access(&core, dev, "bad key", 7, 0); /* not a key: none */
  assert_null(dev->key);
  assert_int_equal(dev->modes & (UVC_ROOM_KEY | UVC_ROOM_LIMIT), 0);
  assert_int_equal(uvc_core_may_join(&core, &users[2].s, dev, NULL, 0), 0);
}

static void server_operators(void** state) {
  (void)state;
  type(0, "/oper admin pw");
  assert_string_equal(users[0].inbox, "! server operators are not available on this server\r\n");
  clear();
  type(0, "/kill guest2 bye");
  assert_string_equal(users[0].inbox,
                      "! only server operators may do that (/oper NAME PASSWORD)\r\n");
  clear();
  type(0, "/wallops hi");
  assert_string_equal(users[0].inbox,
                      "! only server operators may do that (/oper NAME PASSWORD)\r\n");
  clear();
  type(0, "/help");
  assert_null(strstr(users[0].inbox, "/kill"));
  clear();
  uvc_core_set_oper(&core, &users[0].s, "admin", 5);
  assert_string_equal(uvc_session_oper(&users[0].s), "admin");
  type(0, "/help");
  assert_non_null(strstr(users[0].inbox, "/kill NICK REASON"));
  clear();
  type(0, "/wallops the disk is full");
  assert_string_equal(users[0].inbox, "*** [wallops] guest1: the disk is full\r\n");
  assert_string_equal(users[1].inbox, "");
  type(0, "/who");
  assert_non_null(strstr(users[0].inbox, " guest1* guest2 guest3"));
  type(0, "/kill nobody x");
  assert_non_null(strstr(users[0].inbox, "! there is nobody called nobody online\r\n"));
  type(0, "/kill guest2 spamming");
  assert_int_equal(users[1].close_why, UVC_LEAVE_KILLED);
  assert_string_equal(users[1].close_text, "Killed (guest1 (spamming))");
  clear();
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_KILLED, "Killed (guest1 (spamming))", 26);
  assert_string_equal(users[2].inbox,
                      "*** guest2 was disconnected (Killed (guest1 (spamming)))\r\n");
  uvc_core_set_oper(&core, &users[0].s, NULL, 0);
  assert_null(uvc_session_oper(&users[0].s));
}

static void split_words(void** state) {
  uvc_slice_t w[3];
  (void)state;
  assert_int_equal(uvc_split_words("  a  b c ", 9, 2, 1, w), 2);
  assert_int_equal(w[0].n, 1);
  assert_memory_equal(w[1].p, "b c", 3);
  assert_int_equal(w[1].n, 3);
  assert_int_equal(uvc_split_words("a b", 3, 1, 0, w), 2); /* too many */
  assert_int_equal(uvc_split_words("   ", 3, 2, 1, w), 0);
}

/* ---- The cluster's slot: what the core publishes and what it takes from a ghost ---- */

static struct {
  int events, present, revealed, refuse;
  uvc_event_type_t last_type;
  const uvc_session_t* last_from;
  const uvc_session_t* last_target;
  uint64_t last_id;
} pub;

static void pub_event(void* ud, uvc_session_t* s, const uvc_event_t* ev,
                      const uvc_session_t* target) {
  (void)ud;
  pub.events++;
  pub.last_type = ev->type;
  pub.last_from = s;
  pub.last_target = target;
  pub.last_id = ev->id;
}
static void pub_present(void* ud, uvc_session_t* s) {
  (void)ud;
  (void)s;
  pub.present++;
}
static void pub_revealed(void* ud, uvc_session_t* s) {
  (void)ud;
  (void)s;
  pub.revealed++;
}
static int pub_may_rename(void* ud, const uvc_session_t* s, const char* nick, size_t len) {
  (void)ud;
  (void)s;
  (void)nick;
  (void)len;
  return pub.refuse ? UVC_ECLUSTER_DOWN : 0;
}
static int pub_kill(void* ud, const uvc_session_t* target, const char* why, size_t len) {
  (void)ud;
  (void)target;
  (void)why;
  (void)len;
  return 0;
}
static const uvc_cluster_ops_t kPubOps = {pub_event, pub_present, pub_revealed, pub_may_rename,
                                          pub_kill};

static void ghosts_are_fanned_out_to_and_never_published(void** state) {
  uvc_session_t ghost;
  uvc_room_t* lobby = uvc_core_lobby(&core);
  uint64_t next;
  (void)state;
  memset(&pub, 0, sizeof pub);
  core.cluster = &kPubOps;
  core.cluster_ud = NULL;
  /* A ghost: present, in the lobby, shown arriving to the local users, never published. */
  uvc_session_init(&ghost, &uvc_remote_adapter);
  ghost.slot = (uint8_t)(uvc_remote_adapter.format + UVC_FORMATS * UVC_VARIANT_OWN);
  ghost.user = "remote";
  assert_int_equal(uvc_core_enter(&core, &ghost, "remo", 4), 0);
  assert_int_equal(uvc_core_join(&core, &ghost, "#lobby", 6, 0, NULL), 0);
  assert_string_equal(users[0].inbox, "*** remo joined #lobby\r\n");
  assert_int_equal(pub.events, 0);
  assert_int_equal(pub.present, 0);
  /* A local line is published once; the ghost is handed nothing (deliver would crash). */
  clear();
  type(0, "hello");
  assert_int_equal(pub.events, 1);
  assert_int_equal(pub.last_type, UVC_EV_SAY);
  assert_ptr_equal(pub.last_from, &users[0].s);
  assert_string_equal(users[1].inbox, "<guest1> hello\r\n");
  /* The ghost's event keeps the id its server gave it, and the core's own ids go on. */
  clear();
  next = core.next_id;
  lobby->modes |= UVC_ROOM_MODERATED; /* its server checked: no check of its own here */
  uvc_core_set_origin(&core, UINT64_C(0xabcdef00), INT64_C(1764600000000));
  assert_int_equal(uvc_core_say(&core, &ghost, lobby, "from afar", 9, 0), 0);
  assert_string_equal(users[0].inbox, "<remo> from afar\r\n");
  assert_true(core.next_id == next);
  assert_int_equal(pub.events, 1);
  lobby->modes &= (uint8_t)~UVC_ROOM_MODERATED;
  /* A private message to a ghost is published with its target; between locals it is not. */
  type(1, "/msg remo psst");
  assert_int_equal(pub.events, 2);
  assert_int_equal(pub.last_type, UVC_EV_PRIVATE);
  assert_ptr_equal(pub.last_target, &ghost);
  type(1, "/msg guest1 local");
  assert_int_equal(pub.events, 2);
  /* Renames wait for the cluster: refused while it is unreachable. */
  clear();
  pub.refuse = 1;
  type(2, "/nick newname");
  assert_string_equal(users[2].inbox,
                      "! cannot change your nick: the cluster is unreachable: that needs it; try "
                      "again when it is back\r\n");
  pub.refuse = 0;
  type(2, "/nick newname");
  assert_int_equal(pub.last_type, UVC_EV_NICK);
  /* Ids end in the server's node byte once it has one, and keep growing. */
  next = core.next_id;
  uvc_core_set_id_node(&core, 7);
  type(0, "numbered");
  assert_true((pub.last_id & 255) == 7);
  assert_true(pub.last_id > next);
  type(0, "numbered again");
  assert_true((pub.last_id & 255) == 7);
  /* A ghost leaving is told to the locals and not published. */
  clear();
  uvc_core_leave(&core, &ghost, UVC_LEAVE_SERVER, "server two went away", 20);
  assert_string_equal(users[0].inbox, "*** remo left (server two went away)\r\n");
  assert_true(pub.last_type != UVC_EV_LEAVE);
  uvc_core_forget(&core, &ghost);
  core.cluster = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(arrival_is_announced_and_welcomed, setup, teardown),
      cmocka_unit_test_setup_teardown(ghosts_are_fanned_out_to_and_never_published, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(unseen_arrivals_are_quiet_until_revealed, setup, teardown),
      cmocka_unit_test_setup_teardown(a_line_reaches_everyone_else_once_shared, setup, teardown),
      cmocka_unit_test_setup_teardown(control_characters_never_reach_others, setup, teardown),
      cmocka_unit_test_setup_teardown(double_slash_sends_a_slash_line, setup, teardown),
      cmocka_unit_test_setup_teardown(nick_change_is_announced_to_all_including_self, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(private_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(action_and_who, setup, teardown),
      cmocka_unit_test_setup_teardown(unknown_command_names_help, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_with_reason, setup, teardown),
      cmocka_unit_test_setup_teardown(dropped_reader_is_explained, setup, teardown),
      cmocka_unit_test_setup_teardown(announce_reaches_everyone, setup, teardown),
      cmocka_unit_test_setup_teardown(rooms_move_and_talk_separately, setup, teardown),
      cmocka_unit_test_setup_teardown(topic_operators_and_kick, setup, teardown),
      cmocka_unit_test_setup_teardown(away_is_told_to_senders, setup, teardown),
      cmocka_unit_test_setup_teardown(irc_formatting_never_reaches_text_users, setup, teardown),
      cmocka_unit_test_setup_teardown(error_replies_stay_valid_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(big_rooms_do_not_announce_presence, setup, teardown),
      cmocka_unit_test_setup_teardown(nick_table_survives_churn, setup, teardown),
      cmocka_unit_test_setup_teardown(accounts_not_available, setup, teardown),
      cmocka_unit_test_setup_teardown(server_password_gate, setup_with_password, teardown_password),
      cmocka_unit_test(split_words),
      cmocka_unit_test_setup_teardown(watchers_hear_nicks_come_and_go, setup, teardown),
      cmocka_unit_test_setup_teardown(a_watch_list_is_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(departed_nicks_are_remembered, setup, teardown),
      cmocka_unit_test(masks_match_with_wildcards),
      cmocka_unit_test_setup_teardown(moderated_room_and_voice, setup, teardown),
      cmocka_unit_test_setup_teardown(learned_keys_limits_and_lists_apply_silently, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(bans_keep_out_and_silence, setup, teardown),
      cmocka_unit_test_setup_teardown(keys_and_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(invite_only_rooms, setup, teardown),
      cmocka_unit_test_setup_teardown(server_operators, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
