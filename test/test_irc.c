/* test_irc.c: the IRC adapter without sockets: its line parser, and the exact lines IRC and
 * text users get from the core after each command someone sends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inbox.h"
#include "unit.h"

#include "uvchat/core.h"
#include "uvchat/irc.h"
#include "uvchat/list.h"
#include "uvchat/text.h"
#include "uvchat/version.h"

#define N_USERS 6
#define VER     "uvchat-" UVCHAT_VERSION

typedef struct user {
  uvc_session_t s;
  char inbox[65536];
  size_t len;
  uvc_msg_t* last;
  int open;
  int close_why; /* -1 while not asked to close */
  char close_text[400];
} user_t;

static uvc_core_t core;
static user_t users[N_USERS];
static const char* g_motd;
static const char* g_password;
static uint32_t g_announce_limit;
static const char* g_autojoin;
static const char* g_server_name;

/* Every line an IRC user receives ends with CRLF and fits in 512 bytes (its IRCv3 tags
 * apart, which have 8191 bytes of their own). */
static void check_irc_lines(const uvc_msg_t* m) {
  size_t i = 0;
  while (i < m->len) {
    const char* lf = memchr(m->data + i, '\n', m->len - i);
    size_t n, tags = 0;
    assert_non_null(lf);
    n = (size_t)(lf - (m->data + i)) + 1;
    if (m->data[i] == '@') {
      const char* sp = memchr(m->data + i, ' ', n);
      assert_non_null(sp);
      tags = (size_t)(sp - (m->data + i)) + 1;
      assert_true(tags <= 8191);
    }
    if (n - tags > 512) fail_msg("a line of %u bytes: %.*s", (unsigned)n, (int)n, m->data + i);
    assert_true(n >= 2 && m->data[i + n - 2] == '\r');
    i += n;
  }
}

/* The core hands a message to a user: append it to their inbox. */
static void deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  if (s->adapter == &uvc_irc_adapter) check_irc_lines(m);
  tt_inbox_append(u->inbox, sizeof u->inbox, &u->len, m);
  u->last = m;
}

/* An adapter asks to end a session: remember why. */
static void request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                          size_t len) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  u->close_why = (int)why;
  snprintf(u->close_text, sizeof u->close_text, "%.*s", (int)len, text ? text : "");
}

/* The last rename the core told of (uvc_core_hooks_t.observe), copied: an event is a value. */
static uvc_event_t g_observed;
static int g_n_observed;
static void observe(void* ud, const uvc_event_t* ev) {
  (void)ud;
  g_observed = *ev;
  g_n_observed++;
}

/* A fixed clock, so creation and topic times are known. */
static int64_t wallclock(void* ud) {
  (void)ud;
  return 1700000000; /* Tue Nov 14 2023 at 22:13:20 UTC */
}

/* A fresh core (with the MOTD and password the test asked for), nobody in it. */
static int setup(void** state) {
  uvc_core_config_t cfg;
  uvc_core_hooks_t hooks = {.deliver = deliver,
                            .request_close = request_close,
                            .wallclock = wallclock,
                            .observe = observe};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.default_room = "#lobby";
  cfg.max_line = 4096;
  cfg.server_name = g_server_name != NULL ? g_server_name : "uvchat";
  cfg.motd = g_motd;
  cfg.password = g_password;
  cfg.announce_limit = g_announce_limit;
  cfg.autojoin = g_autojoin;
  memset(users, 0, sizeof users);
  g_n_observed = 0;
  assert_int_equal(uvc_core_init(&core, &cfg, &hooks, NULL), 0);
  return 0;
}

/* Everyone leaves and is freed, then the core. */
static int teardown(void** state) {
  int i;
  (void)state;
  for (i = 0; i < N_USERS; i++) {
    if (!users[i].open) continue;
    uvc_core_leave(&core, &users[i].s, UVC_LEAVE_CLOSED, NULL, 0);
    if (users[i].s.adapter->on_free != NULL) users[i].s.adapter->on_free(&core, &users[i].s);
  }
  uvc_core_free(&core);
  g_motd = g_password = g_autojoin = g_server_name = NULL;
  g_announce_limit = 0;
  return 0;
}

/* Empties every inbox. */
static void clear(void) {
  int i;
  for (i = 0; i < N_USERS; i++)
    users[i].len = 0, users[i].inbox[0] = '\0';
}

/* Sends one line (without its line ending) from u. */
static void send_line_to(user_t* u, const char* line) {
  u->s.adapter->on_line(&core, &u->s, line, strlen(line));
}

/* Sends one line (without its line ending) from user i. */
static void send_line(int i, const char* line) {
  users[i].s.adapter->on_line(&core, &users[i].s, line, strlen(line));
}

/* Opens user i as an IRC connection, not yet registered. */
static void irc_open(int i) {
  user_t* u = &users[i];
  memset(u, 0, sizeof *u);
  u->close_why = -1;
  u->open = 1;
  uvc_session_init(&u->s, &uvc_irc_adapter);
  uvc_irc_adapter.on_open(&core, &u->s);
}

/* Opens user i as IRC and registers it as nick (user name = nick), in no room; clears
 * every inbox. */
static void irc_user_alone(int i, const char* nick) {
  char line[128];
  irc_open(i);
  snprintf(line, sizeof line, "NICK %s", nick);
  send_line(i, line);
  snprintf(line, sizeof line, "USER %s 0 * :Real %s", nick, nick);
  send_line(i, line);
  assert_true(users[i].s.present);
  clear();
}

/* irc_user_alone(), then JOIN #lobby (where the text users are); clears every inbox. */
static void irc_user(int i, const char* nick) {
  irc_user_alone(i, nick);
  send_line(i, "JOIN #lobby");
  assert_non_null(uvc_session_in(&users[i].s, core.lobby));
  clear();
}

/* Opens user i as a text user (a guest nick); clears every inbox. */
static void text_user(int i) {
  user_t* u = &users[i];
  memset(u, 0, sizeof *u);
  u->close_why = -1;
  u->open = 1;
  uvc_session_init(&u->s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &u->s);
  clear();
}

/* ------------------------------------------------------------------------------------------
 * The parser
 * ---------------------------------------------------------------------------------------- */

static void expect_param(const uvc_irc_msg_t* m, int i, const char* want) {
  assert_true(i < m->n);
  if (m->params[i].n != strlen(want) || memcmp(m->params[i].p, want, m->params[i].n) != 0)
    fail_msg("param %d: \"%.*s\", wanted \"%s\"", i, (int)m->params[i].n, m->params[i].p, want);
}

/* Parses a C string. */
static uvc_irc_parse_t parse(const char* line, uvc_irc_msg_t* m) {
  return uvc_irc_parse(line, strlen(line), m);
}

/* Commands, prefixes, middle and trailing parameters. */
static void parser_basics(void** state) {
  uvc_irc_msg_t m;
  (void)state;
  assert_int_equal(parse("PRIVMSG #lobby :hello there : you", &m), UVC_IRC_OK);
  assert_true(uvc_irc_is(&m.cmd, "PRIVMSG"));
  assert_int_equal(m.n, 2);
  expect_param(&m, 0, "#lobby");
  expect_param(&m, 1, "hello there : you");
  assert_int_equal(m.prefix.n, 0);

  assert_int_equal(parse(":nick!u@h   privmsg   bob   a:b  ", &m), UVC_IRC_OK);
  assert_memory_equal(m.prefix.p, "nick!u@h", 8);
  assert_true(uvc_irc_is(&m.cmd, "PRIVMSG")); /* commands compare in any case */
  assert_int_equal(m.n, 2);
  expect_param(&m, 0, "bob");
  expect_param(&m, 1, "a:b"); /* a colon inside a word is not a trailing marker */

  assert_int_equal(parse("TOPIC #a :", &m), UVC_IRC_OK); /* an empty trailing parameter */
  assert_int_equal(m.n, 2);
  expect_param(&m, 1, "");
  assert_int_equal(parse("QUIT", &m), UVC_IRC_OK);
  assert_int_equal(m.n, 0);
}

/* IRCv3 tags are skipped, and their own limit is enforced. */
static void parser_skips_tags_safely(void** state) {
  uvc_irc_msg_t m;
  char line[9000];
  (void)state;
  assert_int_equal(parse("@time=2024-01-01T00:00:00Z;+draft/x=a\\sb :me PING :tok", &m),
                   UVC_IRC_OK);
  assert_true(uvc_irc_is(&m.cmd, "PING"));
  expect_param(&m, 0, "tok");
  assert_int_equal(parse("@a=b", &m), UVC_IRC_EMPTY);
  assert_int_equal(parse("@a=b   ", &m), UVC_IRC_EMPTY);
  /* 8191 bytes of tags (with '@' and the space) are allowed, 8192 are not */
  memset(line, 'x', sizeof line);
  line[0] = '@';
  memcpy(line + 8190, " PING :a", 9);
  assert_int_equal(parse(line, &m), UVC_IRC_OK);
  expect_param(&m, 0, "a");
  memset(line, 'x', sizeof line);
  line[0] = '@';
  memcpy(line + 8191, " PING :a", 9);
  assert_int_equal(parse(line, &m), UVC_IRC_TOOLONG);
}

/* Empty lines, garbage, the 15-parameter rule and the 512-byte limit. */
static void parser_limits_and_garbage(void** state) {
  uvc_irc_msg_t m;
  char line[600];
  (void)state;
  assert_int_equal(parse("", &m), UVC_IRC_EMPTY);
  assert_int_equal(parse("     ", &m), UVC_IRC_EMPTY);
  assert_int_equal(parse(":prefix.only", &m), UVC_IRC_EMPTY);
  assert_int_equal(parse(":prefix ", &m), UVC_IRC_EMPTY);
  assert_int_equal(parse("\x01\x02\xFF garbage\x7F", &m), UVC_IRC_OK); /* a command we lack */
  assert_int_equal(m.n, 1);
  /* 15 parameters at most: after 14 ordinary ones, the rest of the line is the 15th */
  assert_int_equal(parse("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 :17", &m), UVC_IRC_OK);
  assert_int_equal(m.n, 15);
  expect_param(&m, 13, "14");
  expect_param(&m, 14, "15 16 :17");
  assert_int_equal(parse("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :last word", &m), UVC_IRC_OK);
  assert_int_equal(m.n, 15);
  expect_param(&m, 14, "last word");
  /* 510 bytes before the CRLF are allowed, 511 are not */
  memset(line, 'a', sizeof line);
  memcpy(line, "PRIVMSG #a :", 12);
  line[510] = '\0';
  assert_int_equal(parse(line, &m), UVC_IRC_OK);
  line[510] = 'a';
  line[511] = '\0';
  assert_int_equal(parse(line, &m), UVC_IRC_TOOLONG);
}

/* ------------------------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------------------------- */

#define ISUPPORT1                                                                       \
  "AWAYLEN=200 CASEMAPPING=ascii CHANLIMIT=#:20 CHANMODES=Ib,k,l,Himnst CHANNELLEN=32 " \
  "CHANTYPES=# KICKLEN=300 MODES=4 NETWORK=uvchat NICKLEN=32 PREFIX=(ov)@+ "            \
  "TOPICLEN=390 USERLEN=10 :are supported by this server"
#define ISUPPORT2                                                                      \
  "INVEX=I MAXLIST=bI:50 TARGMAX=JOIN:,KICK:4,LIST:,NAMES:1,NOTICE:4,PART:,PRIVMSG:4," \
  "WHOIS:1 :are supported by this server"
#define ISUPPORT3 "MONITOR=100 NAMELEN=64 WHOX :are supported by this server"

/* NICK + USER: the whole greeting, then a notice naming the text users' room; the client is
 * in no room (text users hear nothing of it) until it joins one. */
static void registration_greets_and_joins_nothing(void** state) {
  (void)state;
  text_user(0); /* guest1, in the lobby */
  irc_open(1);
  send_line(1, "NICK alice");
  assert_string_equal(users[1].inbox, "");
  send_line(1, "USER al-ice!@x 0 * :Alice \x1B[31mLiddell\x1B[0m");
  assert_string_equal(
      users[1].inbox,
      ":uvchat 001 alice :Welcome to the uvchat Network, alice\r\n"
      ":uvchat 002 alice :Your host is uvchat, running version " VER
      "\r\n"
      ":uvchat 003 alice :This server was created Tue Nov 14 2023 at 22:13:20 UTC\r\n"
      ":uvchat 004 alice uvchat " VER
      " iow HIiklmnostv Iklov\r\n"
      ":uvchat 005 alice " ISUPPORT1
      "\r\n"
      ":uvchat 005 alice " ISUPPORT2
      "\r\n"
      ":uvchat 005 alice " ISUPPORT3
      "\r\n"
      ":uvchat 251 alice :There are 2 users and 0 invisible on 1 servers\r\n"
      ":uvchat 254 alice 1 :channels formed\r\n"
      ":uvchat 255 alice :I have 2 clients and 0 servers\r\n"
      ":uvchat 265 alice 2 2 :Current local users 2, max 2\r\n"
      ":uvchat 266 alice 2 2 :Current global users 2, max 2\r\n"
      ":uvchat 422 alice :MOTD File is missing\r\n"
      ":uvchat NOTICE alice :*** Plain-text users (nc, telnet) talk in #lobby; JOIN #lobby to "
      "meet them\r\n");
  assert_string_equal(users[0].inbox, "");
  assert_int_equal(users[1].s.n_rooms, 0);
  assert_string_equal(users[1].s.user, "~al-icex");
  clear();
  send_line(1, "WHOIS alice");
  assert_string_equal(users[1].inbox,
                      ":uvchat 311 alice alice ~al-icex uvchat * :Alice Liddell\r\n"
                      ":uvchat 312 alice alice uvchat :uvchat chat server\r\n"
                      ":uvchat 318 alice alice :End of /WHOIS list\r\n");
  clear();
  send_line(1, "JOIN #lobby");
  assert_string_equal(users[1].inbox,
                      ":alice!~al-icex@uvchat JOIN #lobby\r\n"
                      ":uvchat 353 alice = #lobby :guest1 alice\r\n"
                      ":uvchat 366 alice #lobby :End of /NAMES list\r\n");
  assert_string_equal(users[0].inbox, "*** alice joined #lobby\r\n");
}

/* A core whose IRC users are joined to a room when they register (--irc-autojoin). */
static int setup_with_autojoin(void** state) {
  g_autojoin = "#irc";
  return setup(state);
}

/* --irc-autojoin #irc: registering joins #irc (created, the first one its operator); the
 * notice still says where the text users are. */
static void registration_joins_the_autojoin_room(void** state) {
  (void)state;
  text_user(0);
  irc_open(1);
  send_line(1, "NICK alice");
  send_line(1, "USER alice 0 * :A");
  assert_non_null(strstr(users[1].inbox,
                         ":uvchat 422 alice :MOTD File is missing\r\n"
                         ":alice!~alice@uvchat JOIN #irc\r\n"
                         ":uvchat 353 alice = #irc :@alice\r\n"
                         ":uvchat 366 alice #irc :End of /NAMES list\r\n"
                         ":uvchat NOTICE alice :*** Plain-text users (nc, telnet) talk in #lobby; "
                         "JOIN #lobby to meet them\r\n"));
  assert_string_equal(users[0].inbox, "");
  clear();
  irc_open(2);
  send_line(2, "NICK bob");
  send_line(2, "USER bob 0 * :B");
  assert_string_equal(users[1].inbox, ":bob!~bob@uvchat JOIN #irc\r\n");
  assert_false(uvc_session_is_op(&users[2].s, uvc_core_room(&core, "#irc", 4)));
}

/* Before registration: 451 for most commands; PING, NICK errors and QUIT work. */
static void only_a_few_commands_before_registration(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "JOIN #lobby");
  send_line(0, "PRIVMSG #lobby :hi");
  send_line(0, "FROB");
  send_line(0, "PING :12345");
  send_line(0, "PONG :x");
  send_line(0, "NICK");
  send_line(0, "NICK 9lives");
  send_line(0, "USER x 0 *");
  assert_string_equal(users[0].inbox,
                      ":uvchat 451 * :You have not registered\r\n"
                      ":uvchat 451 * :You have not registered\r\n"
                      ":uvchat 451 * :You have not registered\r\n"
                      ":uvchat PONG uvchat :12345\r\n"
                      ":uvchat 431 * :No nickname given\r\n"
                      ":uvchat 432 * 9lives :Erroneous nickname\r\n"
                      ":uvchat 461 * USER :Not enough parameters\r\n");
  assert_false(users[0].s.present);
  clear();
  send_line(0, "QUIT :never mind");
  assert_string_equal(users[0].inbox, "ERROR :Closing Link: * (Quit: never mind)\r\n");
  assert_int_equal(users[0].close_why, UVC_LEAVE_QUIT);
}

/* USER and PASS after registration: 462. */
static void registered_users_cannot_register_again(void** state) {
  (void)state;
  irc_user(0, "alice");
  send_line(0, "USER a 0 * :again");
  send_line(0, "PASS secret");
  assert_string_equal(users[0].inbox,
                      ":uvchat 462 alice :You may not reregister\r\n"
                      ":uvchat 462 alice :You may not reregister\r\n");
}

/* CAP LS/REQ hold the registration until CAP END; unknown capabilities are NAKed. */
static void cap_negotiation_holds_registration(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "CAP LS 302");
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :A");
  assert_false(users[0].s.present); /* waiting for CAP END */
  send_line(0, "CAP REQ :multi-prefix sasl");
  send_line(0, "CAP REQ :multi-prefix userhost-in-names");
  send_line(0, "CAP LIST");
  send_line(0, "CAP FROB");
  assert_string_equal(
      users[0].inbox,
      ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify echo-message "
      "extended-join invite-notify labeled-response message-tags multi-prefix server-time setname "
      "standard-replies userhost-in-names\r\n"
      ":uvchat CAP * NAK :multi-prefix sasl\r\n"
      ":uvchat CAP * ACK :multi-prefix userhost-in-names\r\n"
      ":uvchat CAP * LIST :cap-notify multi-prefix userhost-in-names\r\n"
      ":uvchat 410 * FROB :Invalid CAP command\r\n");
  clear();
  send_line(0, "CAP END");
  assert_true(users[0].s.present);
  assert_non_null(strstr(users[0].inbox, ":uvchat 001 alice :Welcome"));
  send_line(0, "JOIN #lobby");
  /* userhost-in-names: full masks in NAMES */
  assert_non_null(strstr(users[0].inbox, ":uvchat 353 alice = #lobby :alice!~alice@uvchat\r\n"));
  clear();
  send_line(0, "CAP REQ :-userhost-in-names");
  send_line(0, "CAP LIST");
  assert_string_equal(users[0].inbox,
                      ":uvchat CAP alice ACK :-userhost-in-names\r\n"
                      ":uvchat CAP alice LIST :cap-notify multi-prefix\r\n");
}

/* With a server password: a wrong or missing PASS gets 464 and ERROR. */
static void wrong_password_is_refused(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "PASS wrong");
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :A");
  assert_string_equal(users[0].inbox,
                      ":uvchat 464 * :Password incorrect\r\n"
                      "ERROR :Closing Link: * (Password incorrect)\r\n");
  assert_false(users[0].s.present);
  assert_int_equal(users[0].close_why, UVC_LEAVE_QUIT);
  irc_open(1);
  send_line(1, "NICK bob"); /* no PASS at all */
  send_line(1, "USER bob 0 * :B");
  assert_false(users[1].s.present);
  assert_int_equal(users[1].close_why, UVC_LEAVE_QUIT);
  irc_open(2);
  send_line(2, "PASS s3cret");
  send_line(2, "NICK carol");
  send_line(2, "USER carol 0 * :C");
  assert_true(users[2].s.present);
}

/* Without the accounts module: no sasl capability, SASL and NickServ say so; NickServ is
 * still a service nobody may impersonate. */
static void accounts_not_available(void** state) {
  size_t i;
  (void)state;
  irc_open(0);
  send_line(0, "CAP REQ :sasl");
  send_line(0, "AUTHENTICATE PLAIN");
  send_line(0, "NICK NickServ");
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :A");
  assert_non_null(strstr(users[0].inbox,
                         ":uvchat CAP * NAK :sasl\r\n"
                         ":uvchat 904 * :SASL authentication failed: accounts are not available "
                         "on this server\r\n"
                         ":uvchat 432 * NickServ :Nickname is reserved for a service\r\n"));
  send_line(0, "CAP END");
  assert_true(users[0].s.present);
  clear();
  send_line(0, "PRIVMSG NickServ :IDENTIFY alice correct-horse");
  send_line(0, "NOTICE NickServ :IDENTIFY alice correct-horse");
  send_line(0, "NICK nickSERV");
  send_line(0, "WHOIS NickServ");
  assert_string_equal(users[0].inbox,
                      ":NickServ!service@uvchat NOTICE alice :accounts are not available on this "
                      "server\r\n"
                      ":uvchat 432 alice nickSERV :Nickname is reserved for a service\r\n"
                      ":uvchat 311 alice NickServ service uvchat * :Account services\r\n"
                      ":uvchat 312 alice NickServ uvchat :uvchat chat server\r\n"
                      ":uvchat 313 alice NickServ :is a network service\r\n"
                      ":uvchat 318 alice NickServ :End of /WHOIS list\r\n");
  clear();
  send_line(0, "PRIVMSG NickServ :help");
  assert_non_null(strstr(users[0].inbox, ":NickServ!service@uvchat NOTICE alice :  IDENTIFY"));
  for (i = 0; i + 13 <= 28; i++) /* the password was wiped from the scratch buffer */
    assert_false(memcmp(core.scratch + i, "correct-horse", 13) == 0);
}

/* A core with a server password. */
static int setup_with_password(void** state) {
  g_password = "s3cret";
  return setup(state);
}

/* The MOTD: one 372 per line, CRs and escape sequences removed. */
static void motd_lines(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :A");
  assert_non_null(strstr(users[0].inbox,
                         ":uvchat 375 alice :- uvchat Message of the day - \r\n"
                         ":uvchat 372 alice :- Welcome!\r\n"
                         ":uvchat 372 alice :- \r\n"
                         ":uvchat 372 alice :- Be \x02nice\x02.\r\n"
                         ":uvchat 376 alice :End of /MOTD command.\r\n"
                         ":uvchat NOTICE alice :*** Plain-text users (nc, telnet) talk in "
                         "#lobby; JOIN #lobby to meet them\r\n"));
  clear();
  send_line(0, "MOTD");
  assert_non_null(strstr(users[0].inbox, ":uvchat 372 alice :- Welcome!\r\n"));
}

/* A core with a message of the day. */
static int setup_with_motd(void** state) {
  g_motd = "Welcome!\r\n\nBe \x02nice\x02.\x1B[2J\n";
  return setup(state);
}

/* ------------------------------------------------------------------------------------------
 * Nicks
 * ---------------------------------------------------------------------------------------- */

static void nick_collisions_and_changes(void** state) {
  (void)state;
  irc_user(0, "alice");
  text_user(1); /* guest1 */
  irc_open(2);
  send_line(2, "NICK ALICE");
  send_line(2, "NICK guest1"); /* a text user's nick is taken too */
  send_line(2, "NICK b@d");
  assert_string_equal(users[2].inbox,
                      ":uvchat 433 * ALICE :Nickname is already in use\r\n"
                      ":uvchat 433 * guest1 :Nickname is already in use\r\n"
                      ":uvchat 432 * b@d :Erroneous nickname\r\n");
  clear();
  /* a nick that was free at NICK but taken by the time USER completes registration */
  send_line(2, "NICK bob");
  send_line(1, "/nick bob");
  send_line(2, "USER bob 0 * :B");
  assert_string_equal(users[2].inbox, ":uvchat 433 * bob :Nickname is already in use\r\n");
  assert_false(users[2].s.present);
  send_line(2, "NICK bobby");
  assert_true(users[2].s.present);
  send_line(2, "JOIN #lobby");
  clear();
  send_line(0, "NICK Bob");
  send_line(0, "NICK");
  send_line(0, "NICK alice"); /* the same nick: nothing happens */
  assert_string_equal(users[0].inbox,
                      ":uvchat 433 alice Bob :Nickname is already in use\r\n"
                      ":uvchat 431 alice :No nickname given\r\n");
  clear();
  send_line(0, "NICK Alison");
  assert_string_equal(users[0].inbox, ":alice!~alice@uvchat NICK :Alison\r\n");
  assert_string_equal(users[2].inbox, ":alice!~alice@uvchat NICK :Alison\r\n");
  assert_string_equal(users[1].inbox, "*** alice is now known as Alison\r\n");
  clear();
  send_line(1, "/nick carl");
  assert_string_equal(users[0].inbox, ":bob!text@uvchat NICK :carl\r\n");
}

/* ------------------------------------------------------------------------------------------
 * Channels
 * ---------------------------------------------------------------------------------------- */

static void join_part_and_quit(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(0, "JOIN #dev");
  assert_string_equal(users[0].inbox,
                      ":alice!~alice@uvchat JOIN #dev\r\n"
                      ":uvchat 353 alice = #dev :@alice\r\n"
                      ":uvchat 366 alice #dev :End of /NAMES list\r\n");
  assert_string_equal(users[1].inbox, "");
  clear();
  send_line(1, "JOIN #Dev,#dev"); /* the second is a room bob is in already: ignored */
  assert_string_equal(users[0].inbox, ":bob!~bob@uvchat JOIN #dev\r\n");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat JOIN #dev\r\n"
                      ":uvchat 353 bob = #dev :@alice bob\r\n"
                      ":uvchat 366 bob #dev :End of /NAMES list\r\n");
  clear();
  send_line(1, "JOIN dev,#,#waaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay");
  send_line(1, "JOIN :");
  assert_string_equal(users[1].inbox,
                      ":uvchat 403 bob dev :No such channel\r\n"
                      ":uvchat 476 bob # :Bad Channel Mask\r\n"
                      ":uvchat 476 bob #waaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay :Bad Channel "
                      "Mask\r\n"
                      ":uvchat 461 bob JOIN :Not enough parameters\r\n");
  clear();
  send_line(1, "PART #dev,#nowhere,#lobby :see you");
  assert_string_equal(users[0].inbox,
                      ":bob!~bob@uvchat PART #dev :see you\r\n"
                      ":bob!~bob@uvchat PART #lobby :see you\r\n");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat PART #dev :see you\r\n"
                      ":uvchat 403 bob #nowhere :No such channel\r\n"
                      ":bob!~bob@uvchat PART #lobby :see you\r\n");
  assert_string_equal(users[2].inbox, "*** bob left #lobby (see you)\r\n");
  clear();
  send_line(1, "PART #dev");
  assert_string_equal(users[1].inbox, ":uvchat 442 bob #dev :You're not on that channel\r\n");
  clear();
  send_line(0, "JOIN 0");
  assert_int_equal(users[0].s.n_rooms, 0);
  assert_string_equal(users[2].inbox, "*** alice left #lobby\r\n");
  send_line(0, "JOIN #lobby");
  send_line(2, "/join #dev");
  clear();
  send_line(0, "QUIT :off to  lunch \x1B[5m");
  assert_string_equal(users[0].inbox, "ERROR :Closing Link: alice (Quit: off to  lunch )\r\n");
  assert_int_equal(users[0].close_why, UVC_LEAVE_QUIT);
  assert_string_equal(users[0].close_text, "off to  lunch ");
  /* the connection layer then ends the session */
  uvc_core_leave(&core, &users[0].s, UVC_LEAVE_QUIT, "off to  lunch ", 14);
  assert_string_equal(users[2].inbox, "");
  send_line(2, "/join #lobby");
  send_line(1, "JOIN #lobby");
  clear();
  uvc_core_leave(&core, &users[2].s, UVC_LEAVE_CLOSED, NULL, 0);
  assert_string_equal(users[1].inbox, ":guest1!text@uvchat QUIT :Connection closed\r\n");
}

/* The 21st room: 405. */
static void too_many_channels(void** state) {
  char line[32];
  int i;
  (void)state;
  irc_user(0, "alice");
  for (i = 1; i < UVC_ROOMS_PER_USER; i++) {
    snprintf(line, sizeof line, "JOIN #r%d", i);
    send_line(0, line);
  }
  clear();
  send_line(0, "JOIN #one-too-many");
  assert_string_equal(users[0].inbox,
                      ":uvchat 405 alice #one-too-many :You have joined too many channels\r\n");
}

/* TOPIC queries, changes, 482 and 442, and the topic on JOIN. */
static void topics(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2);
  send_line(0, "TOPIC #lobby");
  send_line(0, "TOPIC #nowhere");
  assert_string_equal(users[0].inbox,
                      ":uvchat 331 alice #lobby :No topic is set\r\n"
                      ":uvchat 403 alice #nowhere :No such channel\r\n");
  clear();
  send_line(1,
            "TOPIC #lobby :\x03"
            "4red\x03 news");
  assert_string_equal(users[0].inbox,
                      ":bob!~bob@uvchat TOPIC #lobby :\x03"
                      "4red\x03 news\r\n");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat TOPIC #lobby :\x03"
                      "4red\x03 news\r\n");
  assert_string_equal(users[2].inbox, "*** bob set the topic of #lobby: red news\r\n");
  clear();
  send_line(0, "TOPIC #lobby");
  assert_string_equal(users[0].inbox,
                      ":uvchat 332 alice #lobby :\x03"
                      "4red\x03 news\r\n"
                      ":uvchat 333 alice #lobby bob 1700000000\r\n");
  clear();
  send_line(0, "JOIN #dev");
  send_line(1, "JOIN #dev");
  send_line(0, "TOPIC #dev :ship it");
  clear();
  send_line(1, "TOPIC #dev :no");
  send_line(2, "/join #dev");
  assert_string_equal(users[1].inbox,
                      ":uvchat 482 bob #dev :You're not channel operator\r\n"
                      ":guest1!text@uvchat PART #lobby\r\n"
                      ":guest1!text@uvchat JOIN #dev\r\n");
  clear();
  send_line(1, "PART #dev");
  send_line(1, "TOPIC #dev :no");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat PART #dev\r\n"
                      ":uvchat 442 bob #dev :You're not on that channel\r\n");
  clear();
  send_line(1, "JOIN #dev");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat JOIN #dev\r\n"
                      ":uvchat 332 bob #dev :ship it\r\n"
                      ":uvchat 333 bob #dev alice 1700000000\r\n"
                      ":uvchat 353 bob = #dev :@alice guest1 bob\r\n"
                      ":uvchat 366 bob #dev :End of /NAMES list\r\n");
  clear();
  send_line(0, "TOPIC #dev :");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat TOPIC #dev :\r\n");
}

/* NAMES, WHO, WHOIS (IRC and text users, away) and LIST. */
static void names_who_whois_list(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(1, "JOIN #dev");
  send_line(1, "TOPIC #dev :the dev room");
  send_line(1, "AWAY :at lunch");
  send_line(2, "/away gone fishing");
  clear();
  send_line(0, "NAMES #lobby,#dev"); /* one room at a time (TARGMAX NAMES:1) */
  send_line(0, "NAMES #dev");
  send_line(0, "NAMES #none");
  assert_string_equal(users[0].inbox,
                      ":uvchat 353 alice = #lobby :alice bob guest1\r\n"
                      ":uvchat 366 alice #lobby :End of /NAMES list\r\n"
                      ":uvchat 353 alice = #dev :@bob\r\n"
                      ":uvchat 366 alice #dev :End of /NAMES list\r\n"
                      ":uvchat 366 alice #none :End of /NAMES list\r\n");
  clear();
  send_line(0, "NAMES");
  assert_string_equal(users[0].inbox, ":uvchat 366 alice * :End of /NAMES list\r\n");
  clear();
  send_line(0, "WHO #dev");
  send_line(0, "WHO #lobby");
  send_line(0, "WHO guest1");
  send_line(0, "WHO nobody");
  assert_string_equal(users[0].inbox,
                      ":uvchat 352 alice #dev ~bob uvchat uvchat bob G@ :0 Real bob\r\n"
                      ":uvchat 315 alice #dev :End of WHO list\r\n"
                      ":uvchat 352 alice #lobby ~alice uvchat uvchat alice H :0 Real alice\r\n"
                      ":uvchat 352 alice #lobby ~bob uvchat uvchat bob G :0 Real bob\r\n"
                      ":uvchat 352 alice #lobby text uvchat uvchat guest1 G :0 text user\r\n"
                      ":uvchat 315 alice #lobby :End of WHO list\r\n"
                      ":uvchat 352 alice #lobby text uvchat uvchat guest1 G :0 text user\r\n"
                      ":uvchat 315 alice guest1 :End of WHO list\r\n"
                      ":uvchat 315 alice nobody :End of WHO list\r\n");
  clear();
  send_line(0, "WHOIS BOB");
  send_line(0, "WHOIS uvchat guest1");
  send_line(0, "WHOIS nobody");
  send_line(0, "WHOIS");
  assert_string_equal(users[0].inbox,
                      ":uvchat 311 alice bob ~bob uvchat * :Real bob\r\n"
                      ":uvchat 319 alice bob :#lobby @#dev\r\n"
                      ":uvchat 312 alice bob uvchat :uvchat chat server\r\n"
                      ":uvchat 301 alice bob :at lunch\r\n"
                      ":uvchat 318 alice BOB :End of /WHOIS list\r\n"
                      ":uvchat 311 alice guest1 text uvchat * :text user\r\n"
                      ":uvchat 319 alice guest1 :#lobby\r\n"
                      ":uvchat 312 alice guest1 uvchat :uvchat chat server\r\n"
                      ":uvchat 301 alice guest1 :gone fishing\r\n"
                      ":uvchat 320 alice guest1 :is using a plain-text client (nc or telnet)\r\n"
                      ":uvchat 318 alice guest1 :End of /WHOIS list\r\n"
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":uvchat 318 alice nobody :End of /WHOIS list\r\n"
                      ":uvchat 431 alice :No nickname given\r\n");
  clear();
  send_line(0, "LIST #dev");
  assert_string_equal(users[0].inbox,
                      ":uvchat 321 alice Channel :Users  Name\r\n"
                      ":uvchat 322 alice #dev 1 :the dev room\r\n"
                      ":uvchat 323 alice :End of /LIST\r\n");
  clear();
  send_line(0, "LIST");
  assert_non_null(strstr(users[0].inbox, ":uvchat 322 alice #lobby 3 :\r\n"));
  assert_non_null(strstr(users[0].inbox, ":uvchat 322 alice #dev 1 :the dev room\r\n"));
  assert_non_null(strstr(users[0].inbox, ":uvchat 323 alice :End of /LIST\r\n"));
}

/* User modes: 221, +i, 501, 502; +i hides from NAMES and WHO of strangers. */
static void invisible_users(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  send_line(1, "MODE bob");
  send_line(1, "MODE bob +i");
  send_line(1, "MODE bob");
  send_line(1, "MODE bob +x");
  send_line(1, "MODE alice");
  send_line(1, "MODE nobody +i");
  assert_string_equal(users[1].inbox,
                      ":uvchat 221 bob +\r\n"
                      ":bob!~bob@uvchat MODE bob :+i\r\n"
                      ":uvchat 221 bob +i\r\n"
                      ":uvchat 501 bob :Unknown MODE flag\r\n"
                      ":uvchat 502 bob :Can't change mode for other users\r\n"
                      ":uvchat 401 bob nobody :No such nick/channel\r\n");
  send_line(1, "JOIN #dev");
  send_line(1, "PART #lobby");
  clear();
  send_line(0, "LUSERS");
  send_line(0, "NAMES #dev");
  send_line(0, "WHO #dev");
  send_line(0, "WHO bob");
  assert_string_equal(users[0].inbox,
                      ":uvchat 251 alice :There are 1 users and 1 invisible on 1 servers\r\n"
                      ":uvchat 254 alice 2 :channels formed\r\n"
                      ":uvchat 255 alice :I have 2 clients and 0 servers\r\n"
                      ":uvchat 265 alice 2 2 :Current local users 2, max 2\r\n"
                      ":uvchat 266 alice 2 2 :Current global users 2, max 2\r\n"
                      ":uvchat 366 alice #dev :End of /NAMES list\r\n"
                      ":uvchat 315 alice #dev :End of WHO list\r\n"
                      ":uvchat 315 alice bob :End of WHO list\r\n");
  send_line(0, "JOIN #dev");
  clear();
  send_line(0, "WHO bob");
  assert_string_equal(users[0].inbox,
                      ":uvchat 352 alice #dev ~bob uvchat uvchat bob H@ :0 Real bob\r\n"
                      ":uvchat 315 alice bob :End of WHO list\r\n");
}

/* MODE queries, +n/+t/+o changes, 472, 368, 482, 441, 442. */
static void channel_modes_and_operators(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(0, "JOIN #dev");
  send_line(1, "JOIN #dev");
  send_line(2, "/join #dev");
  clear();
  send_line(1, "MODE #dev");
  send_line(1, "MODE #dev b");
  send_line(1, "MODE #dev -t");
  send_line(1, "MODE #lobby +t");
  send_line(1, "MODE #nowhere");
  assert_string_equal(users[1].inbox,
                      ":uvchat 324 bob #dev +nt\r\n"
                      ":uvchat 329 bob #dev 1700000000\r\n"
                      ":uvchat 368 bob #dev :End of channel ban list\r\n"
                      ":uvchat 482 bob #dev :You're not channel operator\r\n"
                      ":uvchat 482 bob #lobby :You're not channel operator\r\n"
                      ":uvchat 403 bob #nowhere :No such channel\r\n");
  clear();
  send_line(0, "MODE #dev -t+zyzzz");
  assert_string_equal(users[0].inbox,
                      ":uvchat 472 alice z :is unknown mode char to me\r\n"
                      ":uvchat 472 alice y :is unknown mode char to me\r\n"
                      ":alice!~alice@uvchat MODE #dev -t\r\n");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat MODE #dev -t\r\n");
  assert_string_equal(users[2].inbox, "*** alice changed #dev: anyone may set the topic\r\n");
  clear();
  send_line(0, "MODE #dev +o-n+t bob");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +t-n\r\n"
                      ":alice!~alice@uvchat MODE #dev +o bob\r\n");
  assert_string_equal(users[2].inbox,
                      "*** alice changed #dev: anyone may talk; only operators set the topic\r\n"
                      "*** alice made bob an operator of #dev\r\n");
  clear();
  send_line(1, "MODE #dev -o alice");
  send_line(1, "MODE #dev +o nobody");
  send_line(1, "MODE #lobby +o alice");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat MODE #dev -o alice\r\n"
                      ":uvchat 401 bob nobody :No such nick/channel\r\n"
                      ":uvchat 482 bob #lobby :You're not channel operator\r\n");
  clear();
  send_line(0, "PART #dev");
  send_line(1, "MODE #dev +o alice");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat PART #dev\r\n"
                      ":uvchat 441 bob alice #dev :They aren't on that channel\r\n");
  clear();
  send_line(0, "MODE #dev +t");
  assert_string_equal(users[0].inbox, ":uvchat 442 alice #dev :You're not on that channel\r\n");
}

/* KICK: 482, 403, 461, 441, 442, 401, and what everyone sees. */
static void kicks(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(0, "JOIN #dev");
  send_line(1, "JOIN #dev");
  send_line(2, "/join #dev");
  clear();
  send_line(1, "KICK #dev alice :mutiny");
  send_line(1, "KICK #nowhere alice");
  send_line(1, "KICK #dev");
  assert_string_equal(users[1].inbox,
                      ":uvchat 482 bob #dev :You're not channel operator\r\n"
                      ":uvchat 403 bob #nowhere :No such channel\r\n"
                      ":uvchat 461 bob KICK :Not enough parameters\r\n");
  clear();
  send_line(0, "KICK #dev guest1,nobody :be \x02nice\x02");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat KICK #dev guest1 :be \x02nice\x02\r\n"
                      ":guest1!text@uvchat JOIN #lobby\r\n");
  assert_string_equal(users[2].inbox,
                      "*** alice removed guest1 from #dev (be nice)\r\n"
                      "*** guest1 joined #lobby\r\n");
  assert_string_equal(users[0].inbox,
                      ":alice!~alice@uvchat KICK #dev guest1 :be \x02nice\x02\r\n"
                      ":guest1!text@uvchat JOIN #lobby\r\n"
                      ":uvchat 401 alice nobody :No such nick/channel\r\n");
  clear();
  send_line(0, "KICK #dev guest1");
  send_line(0, "KICK #dev bob");
  assert_string_equal(users[0].inbox,
                      ":uvchat 441 alice guest1 #dev :They aren't on that channel\r\n"
                      ":alice!~alice@uvchat KICK #dev bob :alice\r\n");
  assert_null(uvc_session_in(&users[1].s, uvc_core_room(&core, "#dev", 4)));
  assert_non_null(uvc_session_in(&users[1].s, core.lobby)); /* IRC users stay in other rooms */
  clear();
  send_line(1, "KICK #dev alice");
  assert_string_equal(users[1].inbox, ":uvchat 442 bob #dev :You're not on that channel\r\n");
}

/* Past the announce limit: nobody is told of arrivals, and joining does not list the room. */
static void big_rooms_are_not_listed_on_joining(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  irc_user(2, "carol"); /* the lobby now has 3 members, one more than the limit */
  send_line(2, "PART #lobby");
  clear();
  send_line(2, "JOIN #lobby");
  assert_string_equal(users[2].inbox,
                      ":carol!~carol@uvchat JOIN #lobby\r\n"
                      ":uvchat NOTICE carol :#lobby has 3 members, too many to list on joining or "
                      "to announce who comes and goes; NAMES #lobby lists them\r\n"
                      ":uvchat 353 carol = #lobby :carol\r\n"
                      ":uvchat 366 carol #lobby :End of /NAMES list\r\n");
  assert_string_equal(users[0].inbox, "");
  clear();
  send_line(2, "NAMES #lobby");
  assert_string_equal(users[2].inbox,
                      ":uvchat 353 carol = #lobby :alice bob carol\r\n"
                      ":uvchat 366 carol #lobby :End of /NAMES list\r\n");
}

static int setup_with_announce_limit(void** state) {
  g_announce_limit = 2;
  return setup(state);
}

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

static void privmsg_to_channels_and_nicks(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(0,
            "PRIVMSG #lobby :hello \x02"
            "all\x02\x1B[2J");
  assert_string_equal(users[0].inbox, ""); /* no echo */
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat PRIVMSG #lobby :hello \x02"
                      "all\x02\r\n");
  assert_string_equal(users[2].inbox, "<alice> hello all\r\n");
  clear();
  send_line(2, "hi irc");
  assert_string_equal(users[0].inbox, ":guest1!text@uvchat PRIVMSG #lobby :hi irc\r\n");
  assert_ptr_equal(users[0].last, users[1].last); /* rendered once for both */
  clear();
  send_line(0, "PRIVMSG Bob,GUEST1 :psst");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat PRIVMSG bob :psst\r\n");
  assert_string_equal(users[2].inbox, "[private] <alice> psst\r\n");
  assert_string_equal(users[0].inbox, "");
  clear();
  send_line(2, "/msg alice back at you");
  assert_string_equal(users[0].inbox, ":guest1!text@uvchat PRIVMSG alice :back at you\r\n");
  clear();
  send_line(0, "NOTICE #lobby :fyi");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat NOTICE #lobby :fyi\r\n");
  assert_string_equal(users[2].inbox, "-alice- fyi\r\n");
  clear();
  send_line(0, "PRIVMSG nobody,#nowhere :x");
  send_line(0, "PRIVMSG");
  send_line(0, "PRIVMSG bob");
  send_line(0, "PRIVMSG bob :");
  assert_string_equal(users[0].inbox,
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":uvchat 403 alice #nowhere :No such channel\r\n"
                      ":uvchat 411 alice :No recipient given (PRIVMSG)\r\n"
                      ":uvchat 412 alice :No text to send\r\n"
                      ":uvchat 412 alice :No text to send\r\n");
  clear();
  send_line(0, "NOTICE nobody,#nowhere :x"); /* a NOTICE is never answered with an error */
  send_line(0, "NOTICE");
  send_line(0, "NOTICE bob");
  assert_string_equal(users[0].inbox, "");
  clear();
  send_line(1, "JOIN #dev"); /* +n: members only */
  send_line(0, "PRIVMSG #dev :let me in");
  assert_string_equal(users[0].inbox, ":uvchat 404 alice #dev :Cannot send to channel\r\n");
  clear();
  send_line(0, "PRIVMSG bob,bob,bob,bob,bob :spam");
  assert_string_equal(users[0].inbox,
                      ":uvchat 407 alice bob :Too many targets; the message went to the first 4 "
                      "only\r\n");
  clear();
  send_line(1, "AWAY :at lunch");
  send_line(2, "/away afk");
  assert_string_equal(users[1].inbox, ":uvchat 306 bob :You have been marked as being away\r\n");
  send_line(0, "PRIVMSG bob,guest1 :hi");
  send_line(0, "NOTICE bob :hi");
  assert_string_equal(users[0].inbox,
                      ":uvchat 301 alice bob :at lunch\r\n"
                      ":uvchat 301 alice guest1 :afk\r\n");
  clear();
  send_line(1, "AWAY");
  assert_string_equal(users[1].inbox,
                      ":uvchat 305 bob :You are no longer marked as being away\r\n");
}

/* CTCP: ACTION everywhere, other CTCP passed between IRC users, answered for text users. */
static void ctcp(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  text_user(2); /* guest1 */
  send_line(0,
            "PRIVMSG #lobby :\x01"
            "ACTION waves \x03"
            "4hi\x01");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat PRIVMSG #lobby :\x01"
                      "ACTION waves \x03"
                      "4hi\x01\r\n");
  assert_string_equal(users[2].inbox, "* alice waves hi\r\n");
  clear();
  send_line(2, "/me nods");
  assert_string_equal(users[0].inbox,
                      ":guest1!text@uvchat PRIVMSG #lobby :\x01"
                      "ACTION nods\x01\r\n");
  clear();
  send_line(0, "PRIVMSG bob :\x01VERSION\x01");
  send_line(1, "NOTICE alice :\x01VERSION irssi v1.4\x01");
  send_line(0,
            "PRIVMSG bob :\x01"
            "ACTION smiles");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat PRIVMSG bob :\x01VERSION\x01\r\n"
                      ":alice!~alice@uvchat PRIVMSG bob :\x01"
                      "ACTION smiles\x01\r\n");
  assert_string_equal(users[0].inbox,
                      ":bob!~bob@uvchat NOTICE alice :\x01VERSION irssi v1.4\x01\r\n");
  clear();
  /* a text user cannot answer: the server does, for a few requests */
  send_line(0, "PRIVMSG guest1 :\x01VERSION\x01");
  send_line(0, "PRIVMSG guest1 :\x01PING 12345\x01");
  send_line(0,
            "PRIVMSG guest1 :\x01"
            "DCC SEND x 1 2 3\x01");
  send_line(0,
            "PRIVMSG guest1 :\x01"
            "ACTION hugs you\x01");
  assert_string_equal(users[0].inbox, ":guest1!text@uvchat NOTICE alice :\x01VERSION " VER
                                      " (a plain-text user; nc or telnet)\x01\r\n"
                                      ":guest1!text@uvchat NOTICE alice :\x01PING 12345\x01\r\n");
  assert_string_equal(users[2].inbox, "[private] <alice> * alice hugs you\r\n");
  clear();
  send_line(0, "PRIVMSG #lobby :\x01VERSION\x01"); /* other CTCP to rooms is dropped */
  send_line(0, "PRIVMSG #lobby :\x01\x01");
  assert_string_equal(users[1].inbox, "");
  assert_string_equal(users[2].inbox, "");
  assert_string_equal(users[0].inbox, "");
}

/* A long line from a text user reaches IRC users whole, split after words, never mid-character. */
static void long_text_is_split_for_irc_users(void** state) {
  char text[2000];
  const char* p;
  size_t total = 0;
  int lines = 0, i;
  (void)state;
  irc_user(0, "alice");
  text_user(1);
  for (i = 0; i < (int)sizeof text - 1; i++)
    text[i] = (i % 10 == 9) ? ' ' : (char)('a' + i % 10);
  text[sizeof text - 1] = '\0';
  assert_int_equal(uvc_core_say(&core, &users[1].s, NULL, text, strlen(text), 0), 0);
  /* every line is short enough (checked on delivery) and the words come through whole */
  for (p = users[0].inbox; *p != '\0'; lines++) {
    const char* body = strstr(p, " :") + 2;
    const char* end = strstr(p, "\r\n");
    assert_memory_equal(p, ":guest1!text@uvchat PRIVMSG #lobby :", 36);
    assert_true(end > body);
    assert_true(end[-1] == 'i'); /* broken after a word */
    total += (size_t)(end - body) + 1;
    p = end + 2;
  }
  assert_true(lines >= 4 && lines <= 6);
  assert_int_equal(total, strlen(text) + 1);
  /* multi-byte characters are never cut in two */
  clear();
  memset(text, 0, sizeof text);
  for (i = 0; i + 2 < 1500; i += 2)
    memcpy(text + i, "\xC3\xA9", 2);
  assert_int_equal(uvc_core_say(&core, &users[1].s, NULL, text, strlen(text), 0), 0);
  for (p = users[0].inbox; *p != '\0';) {
    const char* end = strstr(p, "\r\n");
    assert_true((unsigned char)end[-1] == 0xA9);
    p = end + 2;
  }
}

/* ------------------------------------------------------------------------------------------
 * The server name, WHO masks and WHOX, WHOWAS, the server queries, MONITOR, SETNAME, KICK
 * pairs, and long messages between IRC users
 * ---------------------------------------------------------------------------------------- */

/* How many lines of s start with prefix. */
static int count_lines(const char* s, const char* prefix) {
  int n = 0;
  size_t len = strlen(prefix);
  while (*s != '\0') {
    const char* end = strstr(s, "\r\n");
    if (strncmp(s, prefix, len) == 0) n++;
    if (end == NULL) break;
    s = end + 2;
  }
  return n;
}

static int setup_with_server_name(void** state) {
  g_server_name = "irc.example.org";
  return setup(state);
}

/* --server-name: the greeting, PONG, prefixes, WHO and the hosts all say it. */
static void the_server_name_is_everywhere(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :Real alice");
  assert_non_null(strstr(users[0].inbox,
                         ":irc.example.org 001 alice :Welcome to the irc.example.org Network, "
                         "alice\r\n:irc.example.org 002 alice :Your host is irc.example.org, "));
  assert_non_null(strstr(users[0].inbox, ":irc.example.org 004 alice irc.example.org "));
  assert_non_null(strstr(users[0].inbox, " NETWORK=irc.example.org "));
  clear();
  send_line(0, "PING :x");
  send_line(0, "JOIN #lobby");
  send_line(0, "WHO alice");
  assert_string_equal(users[0].inbox,
                      ":irc.example.org PONG irc.example.org :x\r\n"
                      ":alice!~alice@irc.example.org JOIN #lobby\r\n"
                      ":irc.example.org 353 alice = #lobby :alice\r\n"
                      ":irc.example.org 366 alice #lobby :End of /NAMES list\r\n"
                      ":irc.example.org 352 alice #lobby ~alice irc.example.org irc.example.org "
                      "alice H :0 Real alice\r\n"
                      ":irc.example.org 315 alice alice :End of WHO list\r\n");
}

/* WHO with masks: nicks, user names, hosts, server and real names, * and ?, "0"; +i users
 * hidden from who shares no room with them; WHOX fields and token (354). */
static void who_masks_and_whox(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "coolnick");
  irc_user_alone(2, "hidden");
  send_line(2, "MODE hidden +i");
  text_user(3); /* guest1, in the lobby */
  clear();
  send_line(0, "WHO coolni*");
  send_line(0, "WHO ?OOLNICK");
  send_line(0, "WHO tex?");     /* a text user's user name */
  send_line(0, "WHO *liddell"); /* nobody's real name */
  send_line(0, "WHO hid*");     /* +i and sharing no room */
  send_line(0, "WHO *.host");
  assert_string_equal(users[0].inbox,
                      ":uvchat 352 alice #lobby ~coolnick uvchat uvchat coolnick H :0 Real "
                      "coolnick\r\n"
                      ":uvchat 315 alice coolni* :End of WHO list\r\n"
                      ":uvchat 352 alice #lobby ~coolnick uvchat uvchat coolnick H :0 Real "
                      "coolnick\r\n"
                      ":uvchat 315 alice ?OOLNICK :End of WHO list\r\n"
                      ":uvchat 352 alice #lobby text uvchat uvchat guest1 H :0 text user\r\n"
                      ":uvchat 315 alice tex? :End of WHO list\r\n"
                      ":uvchat 315 alice *liddell :End of WHO list\r\n"
                      ":uvchat 315 alice hid* :End of WHO list\r\n"
                      ":uvchat 315 alice *.host :End of WHO list\r\n");
  clear();
  send_line(0, "WHO *");
  assert_int_equal(count_lines(users[0].inbox, ":uvchat 352 alice "), 3);
  assert_null(strstr(users[0].inbox, " hidden "));
  clear();
  send_line(0, "WHO 0");
  assert_int_equal(count_lines(users[0].inbox, ":uvchat 352 alice "), 3);
  assert_non_null(strstr(users[0].inbox, ":uvchat 315 alice 0 :End of WHO list\r\n"));
  clear();
  send_line(0, "WHO *Real*"); /* real names: alice and coolnick */
  assert_int_equal(count_lines(users[0].inbox, ":uvchat 352 alice "), 2);
  clear();
  send_line(0, "WHO uvch?t"); /* the host and server of everyone */
  assert_int_equal(count_lines(users[0].inbox, ":uvchat 352 alice "), 3);
  clear();
  send_line(2, "WHO *"); /* an invisible user sees itself */
  assert_int_equal(count_lines(users[2].inbox, ":uvchat 352 hidden "), 4);
  assert_non_null(strstr(users[2].inbox,
                         ":uvchat 352 hidden * ~hidden uvchat uvchat hidden H "
                         ":0 Real hidden\r\n"));
  clear();
  send_line(0, "WHO coolnick %tcuihsnfdlaor,123");
  send_line(0, "WHO #lobby %na");
  send_line(0, "WHO guest1 %nt");
  send_line(0, "WHO alice o"); /* no server operators here */
  send_line(0, "WHO * o");
  assert_string_equal(users[0].inbox,
                      ":uvchat 354 alice 123 #lobby ~coolnick 255.255.255.255 uvchat uvchat "
                      "coolnick H 0 0 0 n/a :Real coolnick\r\n"
                      ":uvchat 315 alice coolnick :End of WHO list\r\n"
                      ":uvchat 354 alice alice 0\r\n"
                      ":uvchat 354 alice coolnick 0\r\n"
                      ":uvchat 354 alice guest1 0\r\n"
                      ":uvchat 315 alice #lobby :End of WHO list\r\n"
                      ":uvchat 354 alice 0 guest1\r\n"
                      ":uvchat 315 alice guest1 :End of WHO list\r\n"
                      ":uvchat 315 alice alice :End of WHO list\r\n"
                      ":uvchat 315 alice * :End of WHO list\r\n");
  clear();
  send_line(1, "AWAY :lunch");
  clear();
  send_line(0, "WHO cool* %nf");
  assert_string_equal(
      users[0].inbox,
      ":uvchat 354 alice coolnick G\r\n:uvchat 315 alice cool* :End of WHO list\r\n");
}

/* WHOWAS: departures newest first (quits and renames), count, wildcards, 406, 431, and the
 * time it went; text users have their fixed real name. */
static void whowas_history(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  send_line(1, "QUIT :bye");
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_QUIT, NULL, 0);
  uvc_irc_adapter.on_free(&core, &users[1].s);
  irc_open(1);
  send_line(1, "NICK bob");
  send_line(1, "USER other 0 * :Another Bob");
  send_line(1, "NICK robert");
  text_user(2); /* guest1 */
  send_line(2, "/nick tom");
  clear();
  send_line(0, "WHOWAS bob");
  assert_string_equal(users[0].inbox,
                      ":uvchat 314 alice bob ~other uvchat * :Another Bob\r\n"
                      ":uvchat 312 alice bob uvchat :Tue Nov 14 22:13:20 2023 UTC\r\n"
                      ":uvchat 314 alice bob ~bob uvchat * :Real bob\r\n"
                      ":uvchat 312 alice bob uvchat :Tue Nov 14 22:13:20 2023 UTC\r\n"
                      ":uvchat 369 alice bob :End of WHOWAS\r\n");
  clear();
  send_line(0, "WHOWAS BOB 1");
  send_line(0, "WHOWAS b?b -1");
  assert_int_equal(count_lines(users[0].inbox, ":uvchat 314 alice bob "), 3);
  assert_non_null(strstr(users[0].inbox, ":uvchat 369 alice BOB :End of WHOWAS\r\n"));
  assert_non_null(strstr(users[0].inbox, ":uvchat 369 alice b?b :End of WHOWAS\r\n"));
  clear();
  send_line(0, "WHOWAS guest1,nobody");
  send_line(0, "WHOWAS");
  assert_string_equal(users[0].inbox,
                      ":uvchat 314 alice guest1 text uvchat * :text user\r\n"
                      ":uvchat 312 alice guest1 uvchat :Tue Nov 14 22:13:20 2023 UTC\r\n"
                      ":uvchat 369 alice guest1 :End of WHOWAS\r\n"
                      ":uvchat 406 alice nobody :There was no such nickname\r\n"
                      ":uvchat 369 alice nobody :End of WHOWAS\r\n"
                      ":uvchat 431 alice :No nickname given\r\n");
}

/* TIME, INFO, ADMIN, STATS (u, m, others), LINKS; 402 for another server; a nick stands for
 * its server. */
static void server_queries(void** state) {
  (void)state;
  irc_user(0, "alice");
  send_line(0, "TIME");
  send_line(0, "TIME alice");
  send_line(0, "TIME irc.elsewhere.net");
  send_line(0, "ADMIN");
  send_line(0, "ADMIN uvch*");
  send_line(0, "STATS u");
  send_line(0, "STATS");
  send_line(0, "STATS l");
  send_line(0, "STATS u other.server");
  send_line(0, "LINKS");
  send_line(0, "LINKS uv*");
  send_line(0, "LINKS *.org");
  assert_string_equal(users[0].inbox,
                      ":uvchat 391 alice uvchat :Tuesday November 14 2023 -- 22:13:20 +00:00\r\n"
                      ":uvchat 391 alice uvchat :Tuesday November 14 2023 -- 22:13:20 +00:00\r\n"
                      ":uvchat 402 alice irc.elsewhere.net :No such server\r\n"
                      ":uvchat 256 alice uvchat :Administrative info\r\n"
                      ":uvchat 257 alice :uvchat chat server\r\n"
                      ":uvchat 258 alice :no administrator details are configured\r\n"
                      ":uvchat 259 alice :-\r\n"
                      ":uvchat 256 alice uvchat :Administrative info\r\n"
                      ":uvchat 257 alice :uvchat chat server\r\n"
                      ":uvchat 258 alice :no administrator details are configured\r\n"
                      ":uvchat 259 alice :-\r\n"
                      ":uvchat 242 alice :Server Up 0 days 0:00:00\r\n"
                      ":uvchat 219 alice u :End of /STATS report\r\n"
                      ":uvchat 219 alice * :End of /STATS report\r\n"
                      ":uvchat 219 alice l :End of /STATS report\r\n"
                      ":uvchat 402 alice other.server :No such server\r\n"
                      ":uvchat 364 alice uvchat uvchat :0 uvchat chat server\r\n"
                      ":uvchat 365 alice * :End of /LINKS list\r\n"
                      ":uvchat 364 alice uvchat uvchat :0 uvchat chat server\r\n"
                      ":uvchat 365 alice uv* :End of /LINKS list\r\n"
                      ":uvchat 365 alice *.org :End of /LINKS list\r\n");
  clear();
  send_line(0, "INFO");
  assert_true(strncmp(users[0].inbox, ":uvchat 371 alice :" VER ": a chat server", 30) == 0);
  assert_non_null(strstr(users[0].inbox,
                         ":uvchat 371 alice :running since Tue Nov 14 2023 at 22:13:20 UTC\r\n"
                         ":uvchat 374 alice :End of INFO list\r\n"));
  clear();
  send_line(0, "STATS m");
  assert_non_null(strstr(users[0].inbox, ":uvchat 212 alice LINKS "));
  assert_non_null(strstr(users[0].inbox, ":uvchat 212 alice STATS "));
  assert_null(strstr(users[0].inbox, " FROBNICATE ")); /* unknown commands are not counted */
  assert_non_null(strstr(users[0].inbox, ":uvchat 219 alice m :End of /STATS report\r\n"));
}

/* MONITOR +, -, C, L, S: 730 and 731 at once and whenever a watched nick comes, goes or is
 * renamed; 732/733; 734 past MONITOR=100; 461 without targets. */
static void monitor_lists(void** state) {
  char line[64];
  int i;
  (void)state;
  irc_user(0, "alice");
  text_user(1); /* guest1 */
  send_line(0, "MONITOR + bob,GUEST1,carol");
  send_line(0, "MONITOR +");
  assert_string_equal(users[0].inbox,
                      ":uvchat 730 alice :guest1!text@uvchat\r\n"
                      ":uvchat 731 alice :bob,carol\r\n"
                      ":uvchat 461 alice MONITOR :Not enough parameters\r\n");
  clear();
  irc_open(2); /* bob shares no room with alice: she is told all the same */
  send_line(2, "NICK bob");
  send_line(2, "USER bob 0 * :B");
  assert_string_equal(users[0].inbox, ":uvchat 730 alice :bob!~bob@uvchat\r\n");
  clear();
  irc_open(3);
  send_line(3, "NICK carol");
  send_line(3, "USER carol 0 * :C");
  assert_string_equal(users[0].inbox, ":uvchat 730 alice :carol!~carol@uvchat\r\n");
  clear();
  send_line(3, "NICK caroline");
  send_line(1, "/nick bob2");
  send_line(1, "/nick GUEST1");
  assert_string_equal(users[0].inbox,
                      ":uvchat 731 alice :carol\r\n"
                      ":guest1!text@uvchat NICK :bob2\r\n"
                      ":uvchat 731 alice :guest1\r\n"
                      ":bob2!text@uvchat NICK :GUEST1\r\n"
                      ":uvchat 730 alice :GUEST1!text@uvchat\r\n");
  clear();
  send_line(0, "MONITOR L");
  send_line(0, "MONITOR S");
  send_line(0, "MONITOR - bob,nobody");
  send_line(0, "MONITOR l");
  assert_string_equal(users[0].inbox,
                      ":uvchat 732 alice :bob,GUEST1,carol\r\n"
                      ":uvchat 733 alice :End of MONITOR list\r\n"
                      ":uvchat 730 alice :bob!~bob@uvchat,GUEST1!text@uvchat\r\n"
                      ":uvchat 731 alice :carol\r\n"
                      ":uvchat 732 alice :carol,GUEST1\r\n"
                      ":uvchat 733 alice :End of MONITOR list\r\n");
  clear();
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_CLOSED, NULL, 0);
  users[1].open = 0;
  assert_string_equal(users[0].inbox,
                      ":GUEST1!text@uvchat QUIT :Connection closed\r\n"
                      ":uvchat 731 alice :GUEST1\r\n");
  clear();
  send_line(0, "MONITOR C");
  send_line(0, "MONITOR L");
  assert_string_equal(users[0].inbox, ":uvchat 733 alice :End of MONITOR list\r\n");
  clear();
  for (i = 0; i < 99; i++) {
    snprintf(line, sizeof line, "MONITOR + n%d", i);
    send_line(0, line);
  }
  clear();
  send_line(0, "MONITOR + n99,extra,more");
  assert_string_equal(users[0].inbox,
                      ":uvchat 731 alice :n99\r\n"
                      ":uvchat 734 alice 100 extra,more :Monitor list is full.\r\n");
}

/* SETNAME without the setname capability: the real name changes (WHOIS shows it) and
 * nothing is answered, not even for a bad name (the specification: silent, as historic
 * servers were); 461 without a parameter. */
static void setname_without_the_cap_is_silent(void** state) {
  char line[128];
  (void)state;
  irc_user(0, "alice");
  send_line(0, "SETNAME :Alice \x02in\x02 Wonderland");
  send_line(0, "WHOIS alice");
  assert_string_equal(users[0].inbox,
                      ":uvchat 311 alice alice ~alice uvchat * :Alice \x02in\x02 Wonderland\r\n"
                      ":uvchat 319 alice alice :#lobby\r\n"
                      ":uvchat 312 alice alice uvchat :uvchat chat server\r\n"
                      ":uvchat 318 alice alice :End of /WHOIS list\r\n");
  clear();
  memset(line, 'x', sizeof line);
  memcpy(line, "SETNAME :", 9);
  line[9 + 65] = '\0';
  send_line(0, line);
  send_line(0, "SETNAME :");
  send_line(0, "SETNAME");
  assert_string_equal(users[0].inbox, ":uvchat 461 alice SETNAME :Not enough parameters\r\n");
  clear();
  line[9 + 64] = '\0';
  send_line(0, line);
  send_line(0, "WHOIS alice");
  assert_non_null(strstr(users[0].inbox, line + 9)); /* 64 bytes: taken */
}

/* SETNAME with the setname capability: FAIL for an empty or too long name; a change comes
 * back as SETNAME (with the tags the client asked for) and goes to everyone with the
 * capability who shares a room, once each; peers without it and text users get nothing. */
static void setname_with_the_cap_tells_peers(void** state) {
  char line[128];
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  irc_user(2, "carol");
  irc_user_alone(3, "dave"); /* with the cap, but in no room with alice */
  text_user(4);
  send_line(4, "/join #lobby");
  send_line(0, "CAP REQ :setname");
  send_line(1, "CAP REQ :setname server-time");
  send_line(3, "CAP REQ :setname");
  send_line(0, "JOIN #two");
  send_line(1, "JOIN #two"); /* bob shares two rooms with alice: told once */
  clear();
  send_line(0, "SETNAME :Alice Liddell");
  assert_string_equal(users[0].inbox, ":alice!~alice@uvchat SETNAME :Alice Liddell\r\n");
  assert_string_equal(users[1].inbox,
                      "@time=2023-11-14T22:13:20.000Z :alice!~alice@uvchat SETNAME :Alice "
                      "Liddell\r\n");
  assert_string_equal(users[2].inbox, "");
  assert_string_equal(users[3].inbox, "");
  assert_string_equal(users[4].inbox, "");
  clear();
  memset(line, 'x', sizeof line);
  memcpy(line, "SETNAME :", 9);
  line[9 + 65] = '\0';
  send_line(0, line);
  send_line(0, "SETNAME :\x01\x02"); /* nothing left once cleaned */
  assert_string_equal(
      users[0].inbox,
      ":uvchat FAIL SETNAME INVALID_REALNAME :Realname is not valid (1 to 64 bytes)\r\n"
      ":uvchat FAIL SETNAME INVALID_REALNAME :Realname is not valid (1 to 64 bytes)\r\n");
  assert_string_equal(users[1].inbox, "");
  send_line(2, "WHOIS alice");
  assert_non_null(strstr(users[2].inbox, ":uvchat 311 carol alice ~alice uvchat * :Alice Liddell"));
}

/* KICK #a,#b bar,baz kicks each pair; KICK #a bar,baz each nick; other shapes 461. A kicked
 * IRC user goes nowhere; a kicked text user goes back to the lobby. */
static void kick_pairs(void** state) {
  (void)state;
  irc_user(0, "alice");
  irc_user_alone(1, "bar");
  irc_user_alone(2, "baz");
  text_user(3); /* guest1 */
  send_line(0, "JOIN #a,#b");
  send_line(1, "JOIN #a,#b");
  send_line(2, "JOIN #a,#b");
  send_line(3, "/join #a");
  clear();
  send_line(0, "KICK #a,#b bar,baz :out");
  assert_string_equal(users[0].inbox,
                      ":alice!~alice@uvchat KICK #a bar :out\r\n"
                      ":alice!~alice@uvchat KICK #b baz :out\r\n");
  assert_null(uvc_session_in(&users[1].s, uvc_core_room(&core, "#a", 2)));
  assert_non_null(uvc_session_in(&users[1].s, uvc_core_room(&core, "#b", 2)));
  assert_null(uvc_session_in(&users[2].s, uvc_core_room(&core, "#b", 2)));
  clear();
  send_line(0, "KICK #a bar,baz");
  send_line(0, "KICK #a,#b bar");
  send_line(0, "KICK #a,#nowhere baz,bar");
  assert_string_equal(users[0].inbox,
                      ":uvchat 441 alice bar #a :They aren't on that channel\r\n"
                      ":alice!~alice@uvchat KICK #a baz :alice\r\n"
                      ":uvchat 461 alice KICK :Not enough parameters\r\n"
                      ":uvchat 441 alice baz #a :They aren't on that channel\r\n"
                      ":uvchat 403 alice #nowhere :No such channel\r\n");
  assert_int_equal(users[2].s.n_rooms, 0); /* baz is in no room: not put back anywhere */
  clear();
  send_line(0, "KICK #b bar");
  assert_int_equal(users[1].s.n_rooms, 0);
  send_line(0, "KICK #a guest1");
  assert_ptr_equal(uvc_session_room(&users[3].s), core.lobby); /* back in the lobby */
}

/* A message between IRC users that no longer fits once the server prefix is on is cut to
 * one line (the modern IRC rule); text users get it whole; a text user's long line still
 * reaches IRC users in several lines. */
static void long_irc_messages_are_cut_not_split(void** state) {
  char line[600], want[600];
  const char* p;
  (void)state;
  irc_user(0, "alice_with_a_long_nickname");
  irc_user(1, "bob");
  text_user(2);
  memset(line, 'w', sizeof line);
  memcpy(line, "PRIVMSG #lobby :", 16);
  line[16 + 490] = '\0'; /* 506 bytes: fits as sent, not with the prefix */
  send_line(0, line);
  assert_int_equal(count_lines(users[1].inbox, ":alice_with_a_long_nickname!"), 1);
  p = strstr(users[1].inbox, "\r\n");
  assert_int_equal((int)(p - users[1].inbox) + 2, 512); /* cut to the line */
  memset(want, 'w', 490);
  want[490] = '\0';
  assert_non_null(strstr(users[2].inbox, want)); /* the text user has every byte */
  clear();
  memcpy(line, "PRIVMSG bob :", 13);
  memset(line + 13, 'v', 490);
  line[13 + 490] = '\0';
  send_line(0, line);
  assert_int_equal(count_lines(users[1].inbox, ":alice_with_a_long_nickname!"), 1);
  clear();
  memcpy(line,
         "PRIVMSG #lobby :\x01"
         "ACTION ",
         24);
  memset(line + 24, 'a', 470);
  line[24 + 470] = '\x01';
  line[24 + 471] = '\0';
  send_line(0, line);
  assert_int_equal(count_lines(users[1].inbox, ":alice_with_a_long_nickname!"), 1);
  assert_non_null(strstr(users[1].inbox, "\x01\r\n")); /* the action still ends right */
}

/* ------------------------------------------------------------------------------------------
 * Small commands, errors, and the connection hooks
 * ---------------------------------------------------------------------------------------- */

static void errors_and_small_commands(void** state) {
  char line[700];
  (void)state;
  irc_user(0, "alice");
  text_user(1);
  send_line(0, "FROBNICATE now");
  send_line(0, "JOIN");
  send_line(0, "TOPIC");
  send_line(0, "PING");
  send_line(0, "PING :abc\x1B[2J");
  send_line(0, "PONG :uvchat");
  send_line(0, "ISON nobody guest1 ALICE");
  send_line(0, "ISON :guest1 alice");
  send_line(0, "USERHOST alice guest1 nobody");
  send_line(0, ":alice!x@y @time=x");
  send_line(0, "@a=b :alice VERSION");
  assert_string_equal(users[0].inbox,
                      ":uvchat 421 alice FROBNICATE :Unknown command\r\n"
                      ":uvchat 461 alice JOIN :Not enough parameters\r\n"
                      ":uvchat 461 alice TOPIC :Not enough parameters\r\n"
                      ":uvchat 461 alice PING :Not enough parameters\r\n"
                      ":uvchat PONG uvchat :abc\r\n"
                      ":uvchat 303 alice :guest1 alice\r\n"
                      ":uvchat 303 alice :guest1 alice\r\n"
                      ":uvchat 302 alice :alice=+~alice@uvchat guest1=+text@uvchat\r\n"
                      ":uvchat 421 alice @time=x :Unknown command\r\n"
                      ":uvchat 351 alice " VER
                      " uvchat :a chat server for IRC and plain-text "
                      "clients\r\n"
                      ":uvchat 005 alice " ISUPPORT1
                      "\r\n"
                      ":uvchat 005 alice " ISUPPORT2
                      "\r\n"
                      ":uvchat 005 alice " ISUPPORT3 "\r\n");
  clear();
  memset(line, 'a', sizeof line);
  memcpy(line, "PRIVMSG #lobby :", 16);
  line[sizeof line - 1] = '\0';
  send_line(0, line);
  uvc_irc_adapter.on_toolong(&core, &users[0].s);
  assert_string_equal(users[0].inbox,
                      ":uvchat 417 alice :Input line was too long\r\n"
                      ":uvchat 417 alice :Input line was too long\r\n");
  assert_string_equal(users[1].inbox, "");
  clear();
  uvc_irc_adapter.on_idle(&core, &users[0].s);
  uvc_irc_adapter.on_farewell(&core, &users[0].s, UVC_LEAVE_IDLE, "ping timeout: 240 seconds");
  assert_string_equal(users[0].inbox,
                      "PING :uvchat\r\n"
                      "ERROR :Closing Link: alice (ping timeout: 240 seconds)\r\n");
}

/* ------------------------------------------------------------------------------------------
 * IRCv3 capabilities
 * ---------------------------------------------------------------------------------------- */

#define T0 "2023-11-14T22:13:20.000Z" /* the test clock */

/* Registers user i as nick with the capabilities caps enabled, in #v3; clears every inbox. */
static void v3_user(int i, const char* nick, const char* caps) {
  char line[256];
  irc_user(i, nick);
  if (caps[0] != '\0') {
    snprintf(line, sizeof line, "CAP REQ :%s", caps);
    send_line(i, line);
    snprintf(line, sizeof line, ":uvchat CAP %s ACK :%s\r\n", nick, caps);
    assert_string_equal(users[i].inbox, line);
  }
  send_line(i, "JOIN #v3");
  clear();
}

/* The id of the last event the core made, as the msgid tag shows it. */
static const char* last_msgid(char out[32]) {
  snprintf(out, 32, "%llx", (unsigned long long)core.last_id);
  return out;
}

/* server-time and message-tags (msgid): each recipient gets the tags it asked for; one
 * rendering per set of capabilities, shared by everyone with that set; the same msgid and
 * time for all. */
static void server_time_and_msgid(void** state) {
  char want[512], id[32];
  (void)state;
  v3_user(0, "alice", "server-time message-tags");
  v3_user(1, "bob", "");
  v3_user(2, "carol", "server-time");
  v3_user(3, "dave", "message-tags server-time");
  send_line(1, "PRIVMSG #v3 :hi");
  last_msgid(id);
  snprintf(want, sizeof want, "@time=" T0 ";msgid=%s :bob!~bob@uvchat PRIVMSG #v3 :hi\r\n", id);
  assert_string_equal(users[0].inbox, want);
  assert_string_equal(users[3].inbox, want);
  assert_ptr_equal(users[0].last, users[3].last); /* rendered once for both */
  assert_string_equal(users[2].inbox, "@time=" T0 " :bob!~bob@uvchat PRIVMSG #v3 :hi\r\n");
  assert_string_equal(users[1].inbox, "");
  clear();
  send_line(0, "PRIVMSG #v3 :and you");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat PRIVMSG #v3 :and you\r\n");
  snprintf(want, sizeof want, "@time=" T0 ";msgid=%s :alice!~alice@uvchat PRIVMSG #v3 :and you\r\n",
           last_msgid(id));
  assert_string_equal(users[3].inbox, want);
  clear();
  /* every event gets them, not only messages */
  send_line(1, "PART #v3");
  snprintf(want, sizeof want, "@time=" T0 ";msgid=%s :bob!~bob@uvchat PART #v3\r\n",
           last_msgid(id));
  assert_string_equal(users[0].inbox, want);
  assert_string_equal(users[1].inbox, ":bob!~bob@uvchat PART #v3\r\n");
  /* a capability taken back: back to the plain rendering */
  send_line(1, "JOIN #v3");
  clear();
  send_line(2, "CAP REQ :-server-time");
  send_line(3, "PRIVMSG #v3 :plain");
  assert_string_equal(users[2].inbox,
                      ":uvchat CAP carol ACK :-server-time\r\n"
                      ":dave!~dave@uvchat PRIVMSG #v3 :plain\r\n");
  assert_ptr_equal(users[2].last, users[1].last); /* bob's plain rendering, shared */
}

/* echo-message: one's own messages come back, with the msgid the others got. */
static void echo_message(void** state) {
  char want[512], id[32];
  (void)state;
  v3_user(0, "alice", "echo-message message-tags");
  v3_user(1, "bob", "message-tags");
  v3_user(2, "carol", "echo-message");
  send_line(0, "PRIVMSG #v3 :one");
  snprintf(want, sizeof want, "@msgid=%s :alice!~alice@uvchat PRIVMSG #v3 :one\r\n",
           last_msgid(id));
  assert_string_equal(users[0].inbox, want);
  assert_string_equal(users[1].inbox, want);
  clear();
  send_line(0, "NOTICE bob :two");
  snprintf(want, sizeof want, "@msgid=%s :alice!~alice@uvchat NOTICE bob :two\r\n", last_msgid(id));
  assert_string_equal(users[0].inbox, want);
  assert_string_equal(users[1].inbox, want);
  clear();
  send_line(2,
            "PRIVMSG #v3 :\x01"
            "ACTION waves\x01");
  assert_string_equal(users[2].inbox,
                      ":carol!~carol@uvchat PRIVMSG #v3 :\x01"
                      "ACTION waves\x01\r\n");
  clear();
  /* nothing comes back for a message that did not go */
  send_line(2, "PRIVMSG nobody :x");
  assert_string_equal(users[2].inbox, ":uvchat 401 carol nobody :No such nick/channel\r\n");
  clear();
  /* without the capability, nothing comes back */
  send_line(1, "PRIVMSG #v3 :three");
  assert_string_equal(users[1].inbox, "");
}

/* message-tags: client-only tags are relayed to those who enabled message-tags, other tags
 * are dropped; TAGMSG carries only tags and reaches nobody else. */
static void client_tags_and_tagmsg(void** state) {
  char want[512], id[32];
  (void)state;
  v3_user(0, "alice", "message-tags");
  v3_user(1, "bob", "message-tags");
  v3_user(2, "carol", "");
  send_line(0, "@+draft/reply=abc;time=forged;+typing=active;+bad!key;msgid=x PRIVMSG #v3 :hey");
  snprintf(want, sizeof want,
           "@msgid=%s;+draft/reply=abc;+typing=active :alice!~alice@uvchat PRIVMSG #v3 :hey\r\n",
           last_msgid(id));
  assert_string_equal(users[1].inbox, want);
  assert_string_equal(users[2].inbox, ":alice!~alice@uvchat PRIVMSG #v3 :hey\r\n");
  clear();
  send_line(0, "@+typing=active TAGMSG #v3");
  snprintf(want, sizeof want, "@msgid=%s;+typing=active :alice!~alice@uvchat TAGMSG #v3\r\n",
           last_msgid(id));
  assert_string_equal(users[1].inbox, want);
  assert_string_equal(users[2].inbox, "");
  assert_string_equal(users[0].inbox, "");
  send_line(0, "@+typing=paused TAGMSG bob");
  snprintf(want, sizeof want, "@msgid=%s;+typing=paused :alice!~alice@uvchat TAGMSG bob\r\n",
           last_msgid(id));
  assert_string_equal(users[1].inbox + strlen(users[1].inbox) - strlen(want), want);
  clear();
  send_line(0, "TAGMSG nobody");
  send_line(0, "TAGMSG #nowhere");
  send_line(0, "TAGMSG");
  assert_string_equal(users[0].inbox,
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":uvchat 403 alice #nowhere :No such channel\r\n"
                      ":uvchat 461 alice TAGMSG :Not enough parameters\r\n");
  /* a sender without message-tags sends no tags */
  clear();
  send_line(2, "@+typing=active PRIVMSG #v3 :plain");
  snprintf(want, sizeof want, "@msgid=%s :carol!~carol@uvchat PRIVMSG #v3 :plain\r\n",
           last_msgid(id));
  assert_string_equal(users[0].inbox, want);
}

/* A client-only tag whose value holds a NUL, a CR or bytes that are not UTF-8 is dropped (it
 * would cut the line short for the recipient's client, or make a WebSocket text frame that the
 * browser refuses); the sender's other tags still go. Found by fuzz_irc. */
static void client_tags_bad_values(void** state) {
  static const char kNul[] = "@+a=x\0y;+b=ok TAGMSG bob";
  char want[512], id[32];
  (void)state;
  v3_user(0, "alice", "message-tags");
  v3_user(1, "bob", "message-tags");
  users[0].s.adapter->on_line(&core, &users[0].s, kNul, sizeof(kNul) - 1);
  snprintf(want, sizeof want, "@msgid=%s;+b=ok :alice!~alice@uvchat TAGMSG bob\r\n",
           last_msgid(id));
  assert_string_equal(users[1].inbox, want);
  clear();
  send_line(0, "@+a=\xff\xfe;+c=caf\xc3\xa9;+d=\xc3 TAGMSG bob");
  snprintf(want, sizeof want, "@msgid=%s;+c=caf\xc3\xa9 :alice!~alice@uvchat TAGMSG bob\r\n",
           last_msgid(id));
  assert_string_equal(users[1].inbox, want);
  clear();
  send_line(0, "@+a=x\ry;+e TAGMSG bob");
  snprintf(want, sizeof want, "@msgid=%s;+e :alice!~alice@uvchat TAGMSG bob\r\n", last_msgid(id));
  assert_string_equal(users[1].inbox, want);
}

/* labeled-response with batch: the answer carries the label; none is an ACK, several come
 * in a labeled-response batch; unlabeled commands and clients without it are as before. */
static void labeled_response(void** state) {
  (void)state;
  v3_user(0, "alice", "batch labeled-response");
  v3_user(1, "bob", "labeled-response");
  send_line(0, "@label=p1 PING x");
  assert_string_equal(users[0].inbox, "@label=p1 :uvchat PONG uvchat :x\r\n");
  clear();
  send_line(0, "@label=p2 PONG x");
  assert_string_equal(users[0].inbox, "@label=p2 :uvchat ACK\r\n");
  clear();
  /* a label's controls never reach the line (a CR would end it early): found by fuzz_irc */
  send_line(0, "@label=c\r\r\x01r PING x");
  assert_string_equal(users[0].inbox, "@label=c___r :uvchat PONG uvchat :x\r\n");
  clear();
  send_line(0, "@label=j;+x=y JOIN #new");
  assert_string_equal(users[0].inbox,
                      "@label=j :uvchat BATCH +1 labeled-response\r\n"
                      "@batch=1 :alice!~alice@uvchat JOIN #new\r\n"
                      "@batch=1 :uvchat 353 alice = #new :@alice\r\n"
                      "@batch=1 :uvchat 366 alice #new :End of /NAMES list\r\n"
                      ":uvchat BATCH -1\r\n");
  clear();
  send_line(0, "@label=m PRIVMSG #v3 :hello");
  assert_string_equal(users[0].inbox, "@label=m :uvchat ACK\r\n");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat PRIVMSG #v3 :hello\r\n");
  clear();
  send_line(0, "PING y");
  assert_string_equal(users[0].inbox, ":uvchat PONG uvchat :y\r\n");
  clear();
  /* without batch, no labels (the spec needs batch for answers of several lines) */
  send_line(1, "@label=z PING z");
  assert_string_equal(users[1].inbox, ":uvchat PONG uvchat :z\r\n");
  clear();
  /* with echo-message, the echo is the answer */
  send_line(0, "CAP REQ echo-message");
  clear();
  send_line(0, "@label=e PRIVMSG bob :psst");
  assert_string_equal(users[0].inbox, "@label=e :alice!~alice@uvchat PRIVMSG bob :psst\r\n");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat PRIVMSG bob :psst\r\n");
}

/* A history slot that keeps the last query started and answers only when the test says
 * (the store answers later): what a labeled CHATHISTORY's answer looks like when it comes. */
static uvc_history_query_t g_hq;
static uvc_session_t* g_hq_s;
static void hist_record(void* ud, const uvc_event_t* ev) {
  (void)ud, (void)ev;
}
static int hist_start(void* ud, uvc_session_t* s, const uvc_history_query_t* q, const char* owner) {
  (void)ud, (void)owner;
  g_hq = *q;
  g_hq_s = s;
  return 0;
}
static void hist_forget(void* ud, uvc_session_t* s) {
  (void)ud;
  if (g_hq_s == s) g_hq_s = NULL;
}
static void hist_login(void* ud, uvc_session_t* s) {
  (void)ud, (void)s;
}
static void hist_unregistered(void* ud, const char* account) {
  (void)ud, (void)account;
}
static const uvc_history_ops_t kHistLater = {hist_record, hist_record, hist_start,
                                             hist_forget, hist_login,  hist_unregistered};

/* A labeled CHATHISTORY gets nothing at once (no ACK); its answer, when it comes, has the
 * label on its first line: the BATCH start, or the FAIL of a store that failed. Unlabeled,
 * the same answers come without one. */
static void labeled_chathistory_answered_later(void** state) {
  char want[256];
  (void)state;
  core.history = &kHistLater;
  v3_user(0, "alice", "batch labeled-response draft/chathistory");
  send_line(0, "@label=l1 CHATHISTORY LATEST #v3 * 5");
  assert_string_equal(users[0].inbox, "");
  assert_ptr_equal(g_hq_s, &users[0].s);
  assert_string_equal(g_hq.label, "l1");
  users[0].s.adapter->on_history(&core, g_hq_s, &g_hq, 0, NULL, 0);
  snprintf(want, sizeof want,
           "@label=l1 :uvchat BATCH +h%u chathistory #v3\r\n:uvchat BATCH -h%u\r\n",
           (unsigned)g_hq.cookie, (unsigned)g_hq.cookie);
  assert_string_equal(users[0].inbox, want);
  clear();
  send_line(0, "@label=l2 CHATHISTORY BEFORE #v3 msgid=1a 5");
  assert_string_equal(users[0].inbox, "");
  users[0].s.adapter->on_history(&core, g_hq_s, &g_hq, UVC_EAUTH_ERROR, NULL, 0);
  snprintf(want, sizeof want, "@label=l2 :uvchat FAIL CHATHISTORY MESSAGE_ERROR BEFORE #v3 :%s\r\n",
           uvc_strerror(UVC_EAUTH_ERROR));
  assert_string_equal(users[0].inbox, want);
  clear();
  send_line(0,
            "@label=l3 CHATHISTORY TARGETS timestamp=2023-01-01T00:00:00Z "
            "timestamp=2024-01-01T00:00:00Z 5");
  assert_string_equal(users[0].inbox, "");
  users[0].s.adapter->on_history(&core, g_hq_s, &g_hq, UVC_ENOMEM, NULL, 0);
  snprintf(want, sizeof want, "@label=l3 :uvchat FAIL CHATHISTORY MESSAGE_ERROR TARGETS * :%s\r\n",
           uvc_strerror(UVC_ENOMEM));
  assert_string_equal(users[0].inbox, want);
  clear();
  send_line(0, "CHATHISTORY LATEST #v3 * 5");
  assert_string_equal(g_hq.label, "");
  users[0].s.adapter->on_history(&core, g_hq_s, &g_hq, UVC_EAUTH_ERROR, NULL, 0);
  snprintf(want, sizeof want, ":uvchat FAIL CHATHISTORY MESSAGE_ERROR LATEST #v3 :%s\r\n",
           uvc_strerror(UVC_EAUTH_ERROR));
  assert_string_equal(users[0].inbox, want);
  clear();
  /* an error found at once is a labeled reply like any other */
  send_line(0, "@label=l4 CHATHISTORY LATEST #v3 * 0");
  assert_string_equal(
      users[0].inbox,
      "@label=l4 :uvchat FAIL CHATHISTORY INVALID_PARAMS LATEST :Invalid limit\r\n");
}

/* ------------------------------------------------------------------------------------------
 * IRC over WebSocket: the same IRC bytes, one frame per line
 * ---------------------------------------------------------------------------------------- */

/* The frames of user i's inbox back as IRC lines (each payload plus CRLF) into out; every
 * frame must be final, unmasked, of opcode op and hold one line without its CRLF. Returns the
 * number of frames. */
static int unframe(int i, int op, char* out, size_t cap) {
  const unsigned char* p = (const unsigned char*)users[i].inbox;
  size_t at = 0, n = users[i].len, o = 0;
  int frames = 0;
  while (at < n) {
    size_t len, hl = 2;
    assert_true(n - at >= 2);
    assert_int_equal(p[at], 0x80 | op);    /* final, of the subprotocol's opcode */
    assert_int_equal(p[at + 1] & 0x80, 0); /* not masked */
    len = p[at + 1] & 0x7F;
    if (len == 126) {
      assert_true(n - at >= 4);
      len = ((size_t)p[at + 2] << 8) | p[at + 3];
      hl = 4;
    }
    assert_true(len != 127);
    assert_true(n - at >= hl + len);
    assert_null(memchr(p + at + hl, '\n', len)); /* one line per frame, no line ending */
    assert_true(o + len + 3 <= cap);
    memcpy(out + o, p + at + hl, len);
    o += len;
    memcpy(out + o, "\r\n", 2);
    o += 2;
    at += hl + len;
    frames++;
  }
  out[o] = '\0';
  return frames;
}

/* Readies an answer for comparison with another client's: every "msgid=ID" tag left out
 * (with its separator), and each from replaced by to (from NULL: no replacement). */
static void edit_for_compare(char* s, const char* from, const char* to) {
  char out[4096], *p;
  size_t o = 0, i = 0, n = strlen(s);
  while (i < n) {
    if (strncmp(s + i, "msgid=", 6) == 0) {
      while (i < n && s[i] != ';' && s[i] != ' ')
        i++;
      if (i < n && s[i] == ';') i++;
      continue;
    }
    if (from != NULL && strncmp(s + i, from, strlen(from)) == 0) {
      memcpy(out + o, to, strlen(to));
      o += strlen(to);
      i += strlen(from);
      continue;
    }
    out[o++] = s[i++];
  }
  out[o] = '\0';
  while ((p = strstr(out, "; ")) != NULL) /* a msgid that was the last tag */
    memmove(p, p + 1, strlen(p + 1) + 1);
  strcpy(s, out);
}

/* Opens user i over WebSocket (adapter: text or binary frames) as nick with the capabilities
 * caps, in #lobby and #v3; clears every inbox. */
static void ws_v3_user(int i, const char* nick, const uvc_adapter_t* adapter, const char* caps) {
  user_t* u = &users[i];
  char line[256], got[8192];
  int op = adapter == &uvc_irc_ws_binary_adapter ? 2 : 1;
  memset(u, 0, sizeof *u);
  u->close_why = -1;
  u->open = 1;
  uvc_session_init(&u->s, adapter);
  adapter->on_open(&core, &u->s);
  snprintf(line, sizeof line, "NICK %s", nick);
  send_line(i, line);
  snprintf(line, sizeof line, "USER %s 0 * :Real %s", nick, nick);
  send_line(i, line);
  assert_true(u->s.present);
  assert_true(unframe(i, op, got, sizeof got) > 5); /* the welcome, each line a frame */
  assert_non_null(strstr(got, " 001 "));
  users[i].len = 0;
  if (caps[0] != '\0') {
    snprintf(line, sizeof line, "CAP REQ :%s", caps);
    send_line(i, line);
    assert_int_equal(unframe(i, op, got, sizeof got), 1);
    snprintf(line, sizeof line, ":uvchat CAP %s ACK :%s\r\n", nick, caps);
    assert_string_equal(got, line);
  }
  send_line(i, "JOIN #lobby");
  send_line(i, "JOIN #v3");
  clear();
}

#define WS_CAPS "server-time message-tags echo-message batch labeled-response"

/* A WebSocket client gets, for the capabilities it asked for, exactly the IRC bytes a TCP
 * client with the same capabilities gets, one frame per line: broadcasts rendered and framed
 * once per subprotocol and variant and shared, echoes and labeled answers framed on their
 * way to their one client. */
static void websocket_clients_get_the_same_irc(void** state) {
  char want[2048], got[4096], id[32];
  const char* p;
  int frames;
  (void)state;
  v3_user(0, "alice", WS_CAPS);                              /* TCP */
  ws_v3_user(1, "bob", &uvc_irc_ws_text_adapter, WS_CAPS);   /* text frames */
  ws_v3_user(2, "carol", &uvc_irc_ws_text_adapter, WS_CAPS); /* text frames */
  ws_v3_user(3, "dave", &uvc_irc_ws_binary_adapter, WS_CAPS);
  ws_v3_user(4, "eve", &uvc_irc_ws_text_adapter, "");
  v3_user(5, "frank", "");
  assert_int_equal(users[1].s.slot, users[0].s.slot + 1); /* the same variant, format 2 */
  assert_int_equal(users[3].s.slot, users[0].s.slot + 2); /* format 3 */
  assert_int_equal(users[4].s.slot, uvc_irc_ws_text_adapter.format);

  send_line(5, "PRIVMSG #v3 :hi");
  snprintf(want, sizeof want, "@time=" T0 ";msgid=%s :frank!~frank@uvchat PRIVMSG #v3 :hi\r\n",
           last_msgid(id));
  assert_string_equal(users[0].inbox, want);
  assert_int_equal(unframe(1, 1, got, sizeof got), 1);
  assert_string_equal(got, want);
  assert_int_equal(unframe(2, 1, got, sizeof got), 1);
  assert_string_equal(got, want);
  assert_ptr_equal(users[1].last, users[2].last); /* framed once, shared */
  assert_int_equal(unframe(3, 2, got, sizeof got), 1);
  assert_string_equal(got, want);
  assert_ptr_not_equal(users[3].last, users[1].last); /* another subprotocol, its own frame */
  assert_int_equal(unframe(4, 1, got, sizeof got), 1);
  assert_string_equal(got, ":frank!~frank@uvchat PRIVMSG #v3 :hi\r\n");
  clear();

  /* A WebSocket client's own message comes back (echo-message) with the msgid and time the
   * others got. */
  send_line(1, "PRIVMSG #v3 :from the browser");
  snprintf(want, sizeof want,
           "@time=" T0 ";msgid=%s :bob!~bob@uvchat PRIVMSG #v3 :from the browser\r\n",
           last_msgid(id));
  assert_string_equal(users[0].inbox, want);
  assert_int_equal(unframe(1, 1, got, sizeof got), 1);
  assert_string_equal(got, want);
  assert_int_equal(unframe(3, 2, got, sizeof got), 1);
  assert_string_equal(got, want);
  assert_string_equal(users[5].inbox, ":bob!~bob@uvchat PRIVMSG #v3 :from the browser\r\n");
  clear();

  /* A labeled command's answer: one line with the label, framed. */
  send_line(1, "@label=L1 PRIVMSG #v3 :labeled");
  snprintf(want, sizeof want,
           "@label=L1;time=" T0 ";msgid=%s :bob!~bob@uvchat PRIVMSG #v3 :labeled\r\n",
           last_msgid(id));
  assert_int_equal(unframe(1, 1, got, sizeof got), 1);
  assert_string_equal(got, want);
  clear();

  /* An answer of several lines, events rendered for the client alone among them: the same
   * batch a TCP client gets, each line in its frame. */
  send_line(0, "@label=J JOIN #w");
  strcpy(want, users[0].inbox);
  send_line(0, "PART #w");
  clear();
  send_line(1, "@label=J JOIN #w");
  frames = unframe(1, 1, got, sizeof got);
  assert_true(frames >= 4); /* BATCH +, JOIN, names, BATCH - */
  assert_non_null(strstr(got, "@label=J :uvchat BATCH +"));
  assert_non_null(strstr(got, " :bob!~bob@uvchat JOIN #w\r\n"));
  assert_non_null(p = strstr(got, ":uvchat BATCH -"));
  assert_string_equal(strstr(p, "\r\n"), "\r\n"); /* the last line */
  /* alice's answer over TCP, with her nick for bob's and the msgids (one per event) left
   * out, is the same bytes */
  edit_for_compare(want, "alice", "bob");
  edit_for_compare(got, NULL, NULL);
  assert_string_equal(got, want);
  assert_int_equal(users[1].s.slot, users[0].s.slot + 1); /* back to its shared variant */
}

/* account-tag, account-notify and extended-join: accounts as peers see them. */
static void account_tag_notify_and_extended_join(void** state) {
  (void)state;
  v3_user(0, "alice", "account-tag account-notify extended-join");
  v3_user(1, "bob", "");
  v3_user(2, "carol", "account-notify");
  assert_int_equal(uvc_core_login(&core, &users[1].s, "bob", 3), 0);
  assert_string_equal(users[0].inbox, "@account=bob :bob!~bob@uvchat ACCOUNT bob\r\n");
  assert_string_equal(users[2].inbox, ":bob!~bob@uvchat ACCOUNT bob\r\n");
  assert_string_equal(users[1].inbox, "");
  clear();
  send_line(1, "PRIVMSG #v3 :logged in");
  assert_string_equal(users[0].inbox, "@account=bob :bob!~bob@uvchat PRIVMSG #v3 :logged in\r\n");
  assert_string_equal(users[2].inbox, ":bob!~bob@uvchat PRIVMSG #v3 :logged in\r\n");
  clear();
  send_line(1, "JOIN #other");
  send_line(0, "JOIN #other");
  clear();
  send_line(1, "PART #other");
  send_line(1, "JOIN #other");
  assert_string_equal(users[0].inbox,
                      "@account=bob :bob!~bob@uvchat PART #other\r\n"
                      "@account=bob :bob!~bob@uvchat JOIN #other bob :Real bob\r\n");
  clear();
  send_line(2, "JOIN #other");
  assert_string_equal(users[0].inbox, ":carol!~carol@uvchat JOIN #other * :Real carol\r\n");
  clear();
  uvc_core_logout(&core, &users[1].s);
  assert_string_equal(users[0].inbox, ":bob!~bob@uvchat ACCOUNT *\r\n");
  assert_string_equal(users[2].inbox, ":bob!~bob@uvchat ACCOUNT *\r\n");
}

/* away-notify: peers with it hear who goes away and comes back; others do not. */
static void away_notify(void** state) {
  (void)state;
  v3_user(0, "alice", "away-notify");
  v3_user(1, "bob", "");
  v3_user(2, "carol", "");
  send_line(1, "AWAY :lunch");
  assert_string_equal(users[0].inbox, ":bob!~bob@uvchat AWAY :lunch\r\n");
  assert_string_equal(users[1].inbox, ":uvchat 306 bob :You have been marked as being away\r\n");
  assert_string_equal(users[2].inbox, "");
  clear();
  send_line(1, "AWAY :lunch"); /* no change: nobody is told */
  assert_string_equal(users[0].inbox, "");
  send_line(1, "AWAY");
  assert_string_equal(users[0].inbox, ":bob!~bob@uvchat AWAY\r\n");
}

/* CAP LS 302 lists every capability; cap-notify comes with 302. */
static void cap_ls_lists_every_capability(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "CAP LS 302");
  send_line(0, "CAP REQ :server-time echo-message batch labeled-response");
  send_line(0, "CAP LIST");
  assert_string_equal(
      users[0].inbox,
      ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify "
      "echo-message extended-join invite-notify labeled-response message-tags multi-prefix "
      "server-time setname standard-replies userhost-in-names\r\n"
      ":uvchat CAP * ACK :server-time echo-message batch labeled-response\r\n"
      ":uvchat CAP * LIST :batch cap-notify echo-message labeled-response "
      "server-time\r\n");
}

/* A stand-in for the connection layer's TLS flag: users 1 and 3 are on TLS. */
static int fake_secure(void* ud, const uvc_session_t* s) {
  (void)ud;
  return s == &users[1].s || s == &users[3].s;
}

/* sts: offered to CAP LS 302 clients only where there is an IRC TLS port: in plaintext the
 * port and the duration, over TLS the duration; a duration of 0 withdraws the policy (told
 * over TLS, nothing in plaintext). Nobody may request it (NAK). */
static void sts_policy(void** state) {
  (void)state;
  core.hooks.secure = fake_secure;
  irc_open(0);
  send_line(0, "CAP LS 302"); /* no IRC TLS port: no sts */
  assert_null(strstr(users[0].inbox, "sts"));
  core.irc_tls_port = 6697;
  core.sts_duration = 86400;
  clear();
  send_line(0, "CAP LS 302");
  send_line(0, "CAP REQ :sts");
  send_line(0, "CAP REQ :server-time sts");
  assert_string_equal(users[0].inbox,
                      ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify "
                      "echo-message extended-join invite-notify labeled-response message-tags "
                      "multi-prefix server-time setname standard-replies "
                      "sts=port=6697,duration=86400 userhost-in-names\r\n"
                      ":uvchat CAP * NAK :sts\r\n"
                      ":uvchat CAP * NAK :server-time sts\r\n");
  irc_open(1);
  send_line(1, "CAP LS 302");
  assert_non_null(strstr(users[1].inbox, " standard-replies sts=duration=86400 userhost-in-names"));
  irc_open(2);
  send_line(2, "CAP LS"); /* cannot read values: no sts */
  assert_null(strstr(users[2].inbox, "sts"));
  core.sts_duration = 0;
  clear();
  send_line(0, "CAP LS 302");
  assert_null(strstr(users[0].inbox, "sts"));
  irc_open(3);
  send_line(3, "CAP LS 302");
  assert_non_null(strstr(users[3].inbox, " sts=duration=0 "));
  send_line(3, "CAP LIST");
  assert_non_null(strstr(users[3].inbox, ":uvchat CAP * LIST :cap-notify\r\n"));
}

/* standard-replies: a client with it gets a NOTE where others get the closing server notice
 * of the greeting, and a WARN where others get the notice that flood control slows it. */
static void standard_replies(void** state) {
  (void)state;
  irc_open(0);
  send_line(0, "CAP LS 302");
  send_line(0, "CAP REQ :standard-replies");
  send_line(0, "NICK alice");
  send_line(0, "USER alice 0 * :Alice");
  send_line(0, "CAP END");
  assert_non_null(strstr(users[0].inbox,
                         ":uvchat 422 alice :MOTD File is missing\r\n"
                         ":uvchat NOTE * TEXT_USERS_ROOM #lobby :Plain-text users (nc, telnet) "
                         "talk in #lobby; JOIN #lobby to meet them\r\n"));
  assert_null(strstr(users[0].inbox, " NOTICE "));
  irc_user(1, "bob");
  clear();
  uvc_irc_adapter.on_slowed(&core, &users[0].s, 5);
  uvc_irc_adapter.on_slowed(&core, &users[1].s, 5);
  assert_string_equal(
      users[0].inbox,
      ":uvchat WARN * SLOWED_DOWN :Your lines are being delayed to 5 a second (none is lost)\r\n");
  assert_string_equal(users[1].inbox,
                      ":uvchat NOTICE bob :*** slow down: your lines are being delayed to 5 a "
                      "second (none is lost)\r\n");
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */

static void expect_render(const uvc_event_t* ev, const char* want) {
  uvc_render_ctx_t ctx;
  uvc_msg_t* m;
  uvc_core_render_ctx(&core, &ctx);
  m = uvc_irc_adapter.render(ev, &ctx);
  assert_non_null(m);
  check_irc_lines(m);
  if (m->len != strlen(want) || memcmp(m->data, want, m->len) != 0)
    fail_msg("rendered \"%.*s\"\n  wanted \"%s\"", (int)m->len, m->data, want);
  uvc_msg_release(m);
}

/* Renders ev in format a with ctx and compares with want. */
static void expect_rendered(const uvc_adapter_t* a, const uvc_event_t* ev,
                            const uvc_render_ctx_t* ctx, const char* want) {
  uvc_msg_t* m = a->render(ev, ctx);
  assert_non_null(m);
  if (m->len != strlen(want) || memcmp(m->data, want, m->len) != 0)
    fail_msg("rendered \"%.*s\"\n  wanted \"%s\"", (int)m->len, m->data, want);
  uvc_msg_release(m);
}

/* Events are values: an event whose sender has left and whose session memory is gone (the
 * way one comes back from history) renders as it did, in both formats; with another
 * server's context only the server's own words change. */
static void past_event_renders_after_sender_left(void** state) {
  user_t* gone = calloc(1, sizeof *gone); /* on the heap: a read through it after free fails */
  uvc_event_t said, renamed, announced;
  uvc_render_ctx_t ctx, other;
  uvc_msg_t* m;
  (void)state;
  assert_non_null(gone);
  gone->close_why = -1;
  uvc_session_init(&gone->s, &uvc_irc_adapter);
  uvc_irc_adapter.on_open(&core, &gone->s);
  send_line_to(gone, "NICK alice");
  send_line_to(gone, "USER al 0 * :Alice Liddell");
  send_line_to(gone, "JOIN #lobby");
  assert_true(gone->s.present);
  /* a message, as the core makes it */
  memset(&said, 0, sizeof said);
  said.type = UVC_EV_SAY;
  uvc_event_who_of(&core, &gone->s, &said.from);
  uvc_event_set_room(&said, uvc_session_room(&gone->s));
  said.text = "hello";
  said.len = 5;
  /* a rename, copied from the core's own event */
  send_line_to(gone, "NICK alicia");
  assert_int_equal(g_n_observed, 1);
  renamed = g_observed;
  uvc_core_announce(&core, "restarting", 10);
  /* she leaves; her session is freed and its memory scribbled over */
  uvc_core_leave(&core, &gone->s, UVC_LEAVE_QUIT, NULL, 0);
  uvc_core_forget(&core, &gone->s);
  uvc_irc_adapter.on_free(&core, &gone->s);
  memset(gone, 0x5a, sizeof *gone);
  free(gone);

  uvc_core_render_ctx(&core, &ctx);
  expect_rendered(&uvc_text_adapter, &said, &ctx, "<alice> hello\r\n");
  expect_rendered(&uvc_irc_adapter, &said, &ctx, ":alice!~al@uvchat PRIVMSG #lobby :hello\r\n");
  expect_rendered(&uvc_text_adapter, &renamed, &ctx, "*** alice is now known as alicia\r\n");
  expect_rendered(&uvc_irc_adapter, &renamed, &ctx, ":alice!~al@uvchat NICK :alicia\r\n");
  /* the event keeps the host it was made with; the rendering server names itself */
  other = ctx;
  other.server_name = "far.example";
  other.server_len = strlen(other.server_name);
  expect_rendered(&uvc_irc_adapter, &said, &other, ":alice!~al@uvchat PRIVMSG #lobby :hello\r\n");
  memset(&announced, 0, sizeof announced);
  announced.type = UVC_EV_ANNOUNCE;
  announced.text = "restarting";
  announced.len = 10;
  expect_rendered(&uvc_irc_adapter, &announced, &other, ":far.example NOTICE * :restarting\r\n");
  expect_rendered(&uvc_text_adapter, &announced, &other, "*** restarting\r\n");
  /* rendered for a live viewer as the fan-out would: an IRC user with server-time */
  irc_user(0, "bob");
  send_line(0, "CAP REQ :server-time");
  renamed.time_ms = 1700000000123;
  m = uvc_core_render(&core, &renamed, &users[0].s);
  assert_non_null(m);
  assert_int_equal(m->len,
                   strlen("@time=2023-11-14T22:13:20.123Z :alice!~al@uvchat NICK :alicia\r\n"));
  assert_memory_equal(m->data, "@time=2023-11-14T22:13:20.123Z :alice!~al@uvchat NICK :alicia\r\n",
                      m->len);
  uvc_msg_release(m);
}

/* Every event type and every leave reason, rendered. */
static void every_event_rendered(void** state) {
  uvc_event_t ev;
  char topic[UVC_TOPIC_MAX + 1];
  char want[600];
  (void)state;
  irc_user(0, "alice");
  irc_user(1, "bob");
  memset(&ev, 0, sizeof ev);
  uvc_event_who_of(&core, &users[0].s, &ev.from);
  uvc_event_set_room(&ev, core.lobby);
  uvc_event_who_of(&core, &users[1].s, &ev.to);
  ev.type = UVC_EV_SAY;
  ev.text = "hi";
  ev.len = 2;
  expect_render(&ev, ":alice!~alice@uvchat PRIVMSG #lobby :hi\r\n");
  ev.notice = 1;
  expect_render(&ev, ":alice!~alice@uvchat NOTICE #lobby :hi\r\n");
  ev.type = UVC_EV_PRIVATE;
  expect_render(&ev, ":alice!~alice@uvchat NOTICE bob :hi\r\n");
  ev.notice = 0;
  expect_render(&ev, ":alice!~alice@uvchat PRIVMSG bob :hi\r\n");
  ev.type = UVC_EV_ACTION;
  expect_render(&ev,
                ":alice!~alice@uvchat PRIVMSG #lobby :\x01"
                "ACTION hi\x01\r\n");
  ev.type = UVC_EV_ARRIVE;
  expect_render(&ev, ":alice!~alice@uvchat JOIN #lobby\r\n");
  ev.type = UVC_EV_PART;
  expect_render(&ev, ":alice!~alice@uvchat PART #lobby :hi\r\n");
  ev.type = UVC_EV_KICK;
  expect_render(&ev, ":alice!~alice@uvchat KICK #lobby bob :hi\r\n");
  ev.len = 0;
  expect_render(&ev, ":alice!~alice@uvchat KICK #lobby bob :alice\r\n");
  ev.type = UVC_EV_PART;
  expect_render(&ev, ":alice!~alice@uvchat PART #lobby\r\n");
  ev.type = UVC_EV_TOPIC;
  expect_render(&ev, ":alice!~alice@uvchat TOPIC #lobby :\r\n");
  memset(topic, 'x', sizeof topic - 1);
  ev.text = topic;
  ev.len = sizeof topic - 1;
  snprintf(want, sizeof want, ":alice!~alice@uvchat TOPIC #lobby :%.*s\r\n", (int)ev.len, topic);
  expect_render(&ev, want);
  ev.type = UVC_EV_MODE;
  ev.mode_on = UVC_MEMBER_OP;
  expect_render(&ev, ":alice!~alice@uvchat MODE #lobby +o bob\r\n");
  ev.mode_on = 0;
  ev.mode_off = UVC_MEMBER_OP;
  expect_render(&ev, ":alice!~alice@uvchat MODE #lobby -o bob\r\n");
  memset(&ev.to, 0, sizeof ev.to);
  ev.mode_on = UVC_ROOM_MEMBERS_ONLY | UVC_ROOM_TOPIC_LOCKED;
  ev.mode_off = 0;
  expect_render(&ev, ":alice!~alice@uvchat MODE #lobby +nt\r\n");
  ev.mode_on = UVC_ROOM_TOPIC_LOCKED;
  ev.mode_off = UVC_ROOM_MEMBERS_ONLY;
  expect_render(&ev, ":alice!~alice@uvchat MODE #lobby +t-n\r\n");
  ev.type = UVC_EV_NICK;
  memcpy(ev.old_nick, "al", 3);
  ev.old_len = 2;
  expect_render(&ev, ":al!~alice@uvchat NICK :alice\r\n");
  ev.type = UVC_EV_LEAVE;
  ev.text = "bye";
  ev.len = 3;
  ev.reason = UVC_LEAVE_QUIT;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Quit: bye\r\n");
  ev.reason = UVC_LEAVE_IDLE;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :bye\r\n");
  ev.len = 0;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Ping timeout\r\n");
  ev.reason = UVC_LEAVE_QUIT;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Client Quit\r\n");
  ev.reason = UVC_LEAVE_CLOSED;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Connection closed\r\n");
  ev.reason = UVC_LEAVE_LOST;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Connection lost\r\n");
  ev.reason = UVC_LEAVE_SENDQ;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :SendQ exceeded\r\n");
  ev.reason = UVC_LEAVE_INPUT;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Excess input\r\n");
  ev.reason = UVC_LEAVE_SHUTDOWN;
  expect_render(&ev, ":alice!~alice@uvchat QUIT :Server shutting down\r\n");
  uvc_core_announce(&core, "going down", 10);
  assert_string_equal(users[0].inbox, ":uvchat NOTICE * :going down\r\n");
  assert_ptr_equal(users[0].last, users[1].last);
}

/* The parser tests, then the adapter tests, each with a fresh core. */

/* ------------------------------------------------------------------------------------------
 * Room features: bans, invite lists, keys, limits, invite-only, moderated, secret, voice
 * ---------------------------------------------------------------------------------------- */

/* alice (operator) and bob in #dev; carol in the lobby only. */
static void dev_room(void) {
  irc_user(0, "alice");
  irc_user(1, "bob");
  irc_user(2, "carol");
  send_line(0, "JOIN #dev");
  send_line(1, "JOIN #dev");
  clear();
}

static void bans_and_invite_lists(void** state) {
  (void)state;
  dev_room();
  send_line(1, "MODE #dev +b");
  send_line(1, "MODE #dev +b carol");
  assert_string_equal(users[1].inbox,
                      ":uvchat 368 bob #dev :End of channel ban list\r\n"
                      ":uvchat 482 bob #dev :You're not channel operator\r\n");
  clear();
  send_line(0, "MODE #dev +b bob");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat MODE #dev +b bob!*@*\r\n");
  send_line(0, "MODE #dev +b bob"); /* already there: nothing */
  send_line(0, "MODE #dev b");
  assert_string_equal(users[0].inbox,
                      ":alice!~alice@uvchat MODE #dev +b bob!*@*\r\n"
                      ":uvchat 367 alice #dev bob!*@* alice 1700000000\r\n"
                      ":uvchat 368 alice #dev :End of channel ban list\r\n");
  clear();
  send_line(1, "PRIVMSG #dev :can I talk?");
  send_line(1, "NOTICE #dev :or this?"); /* a notice is never answered */
  assert_string_equal(users[1].inbox, ":uvchat 404 bob #dev :Cannot send to channel (+b)\r\n");
  assert_string_equal(users[0].inbox, "");
  send_line(1, "PART #dev");
  clear();
  send_line(1, "JOIN #dev");
  assert_string_equal(users[1].inbox, ":uvchat 474 bob #dev :Cannot join channel (+b)\r\n");
  clear();
  send_line(0, "MODE #dev +I");
  send_line(0, "MODE #dev +I-b *!~bob@* bob!*@*");
  send_line(0, "MODE #dev I");
  assert_string_equal(users[0].inbox,
                      ":uvchat 347 alice #dev :End of channel invite list\r\n"
                      ":alice!~alice@uvchat MODE #dev +I *!~bob@*\r\n"
                      ":alice!~alice@uvchat MODE #dev -b bob!*@*\r\n"
                      ":uvchat 346 alice #dev *!~bob@* alice 1700000000\r\n"
                      ":uvchat 347 alice #dev :End of channel invite list\r\n");
  clear();
  send_line(0, "MODE #dev +i");
  send_line(2, "JOIN #dev");
  assert_string_equal(users[2].inbox, ":uvchat 473 carol #dev :Cannot join channel (+i)\r\n");
  send_line(1, "JOIN #dev"); /* on the invite list */
  assert_non_null(strstr(users[1].inbox, ":bob!~bob@uvchat JOIN #dev\r\n"));
  clear();
  send_line(0, "MODE #dev -I *!~bob@*");
  assert_string_equal(users[1].inbox, ":alice!~alice@uvchat MODE #dev -I *!~bob@*\r\n");
  clear();
  /* a mask with non-ASCII bytes matches no one (names are ASCII): it is not set, and its bytes
   * (here not even UTF-8) reach nobody. Found by fuzz_irc. */
  send_line(0, "MODE #dev +b bob!*\xca*@*");
  send_line(0, "MODE #dev +I caf\xc3\xa9");
  send_line(0, "MODE #dev b");
  assert_string_equal(users[0].inbox, ":uvchat 368 alice #dev :End of channel ban list\r\n");
  assert_string_equal(users[1].inbox, "");
}

static void keys_limits_and_channel_modes(void** state) {
  (void)state;
  dev_room();
  send_line(0, "MODE #dev +k");
  send_line(0, "MODE #dev +k a,b");
  send_line(0, "MODE #dev +l many");
  assert_string_equal(users[0].inbox,
                      ":uvchat 461 alice MODE :Not enough parameters\r\n"
                      ":uvchat 525 alice #dev :Key is not well-formed\r\n"
                      ":uvchat 696 alice #dev l many :The limit must be a number above 0\r\n");
  clear();
  send_line(0, "MODE #dev +kl sekrit 2");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +k sekrit\r\n"
                      ":alice!~alice@uvchat MODE #dev +l 2\r\n");
  clear();
  send_line(0, "MODE #dev");
  send_line(2, "MODE #dev");
  assert_string_equal(users[0].inbox,
                      ":uvchat 324 alice #dev +ntkl sekrit 2\r\n"
                      ":uvchat 329 alice #dev 1700000000\r\n");
  assert_string_equal(users[2].inbox, /* the key only to members */
                      ":uvchat 324 carol #dev +ntkl * 2\r\n"
                      ":uvchat 329 carol #dev 1700000000\r\n");
  clear();
  send_line(2, "JOIN #dev");
  send_line(2, "JOIN #dev wrong");
  assert_string_equal(users[2].inbox,
                      ":uvchat 475 carol #dev :Cannot join channel (+k)\r\n"
                      ":uvchat 475 carol #dev :Cannot join channel (+k)\r\n");
  clear();
  send_line(2, "JOIN #dev sekrit");
  assert_string_equal(users[2].inbox, ":uvchat 471 carol #dev :Cannot join channel (+l)\r\n");
  clear();
  send_line(0, "MODE #dev -l+ims");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +ims\r\n"
                      ":alice!~alice@uvchat MODE #dev -l\r\n");
  clear();
  send_line(2, "JOIN #lobby,#dev x,sekrit"); /* keys go with the rooms in order */
  assert_string_equal(users[2].inbox, ":uvchat 473 carol #dev :Cannot join channel (+i)\r\n");
  clear();
  send_line(0, "MODE #dev -ik");
  send_line(2, "JOIN #dev sekrit");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev -i\r\n"
                      ":alice!~alice@uvchat MODE #dev -k *\r\n"
                      ":carol!~carol@uvchat JOIN #dev\r\n");
}

static void moderation_voice_and_prefixes(void** state) {
  (void)state;
  dev_room();
  text_user(3); /* guest1 */
  send_line(3, "/join #dev");
  clear();
  send_line(0, "MODE #dev +m");
  send_line(1, "PRIVMSG #dev :hello?");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +m\r\n"
                      ":uvchat 404 bob #dev :Cannot send to channel (+m)\r\n");
  assert_string_equal(users[3].inbox,
                      "*** alice changed #dev: only voiced people and operators may talk\r\n");
  clear();
  send_line(0, "MODE #dev +vv bob guest1");
  assert_string_equal(users[3].inbox,
                      "*** alice gave bob a voice in #dev\r\n"
                      "*** alice gave guest1 a voice in #dev\r\n");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +v bob\r\n"
                      ":alice!~alice@uvchat MODE #dev +v guest1\r\n");
  send_line(1, "PRIVMSG #dev :hello!");
  assert_non_null(strstr(users[3].inbox, "<bob> hello!\r\n"));
  clear();
  send_line(0, "MODE #dev +v alice");
  send_line(1, "NAMES #dev");
  send_line(1, "WHO #dev");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +v alice\r\n"
                      ":uvchat 353 bob = #dev :@alice +bob +guest1\r\n"
                      ":uvchat 366 bob #dev :End of /NAMES list\r\n"
                      ":uvchat 352 bob #dev ~alice uvchat uvchat alice H@ :0 Real alice\r\n"
                      ":uvchat 352 bob #dev ~bob uvchat uvchat bob H+ :0 Real bob\r\n"
                      ":uvchat 352 bob #dev text uvchat uvchat guest1 H+ :0 text user\r\n"
                      ":uvchat 315 bob #dev :End of WHO list\r\n");
  clear();
  irc_open(4); /* with multi-prefix, both */
  send_line(4, "CAP LS 302");
  send_line(4, "CAP REQ :multi-prefix");
  send_line(4, "NICK dave");
  send_line(4, "USER dave 0 * :Dave");
  send_line(4, "CAP END");
  clear();
  send_line(4, "NAMES #dev");
  assert_string_equal(users[4].inbox,
                      ":uvchat 353 dave = #dev :@+alice +bob +guest1\r\n"
                      ":uvchat 366 dave #dev :End of /NAMES list\r\n");
  clear();
  send_line(0, "MODE #dev -v+v bob nobody");
  send_line(0, "MODE #dev +v carol");
  assert_string_equal(users[0].inbox,
                      ":alice!~alice@uvchat MODE #dev -v bob\r\n"
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":uvchat 441 alice carol #dev :They aren't on that channel\r\n");
  clear();
  send_line(3, "/voice bob"); /* a text user who is not an operator */
  assert_string_equal(users[3].inbox, "! only operators of #dev may do that\r\n");
}

static void secret_rooms(void** state) {
  (void)state;
  dev_room();
  send_line(0, "MODE #dev +s");
  clear();
  send_line(2, "LIST");
  send_line(2, "NAMES #dev");
  send_line(2, "WHOIS alice");
  send_line(2, "WHO #dev");
  assert_null(strstr(users[2].inbox, "352 carol"));
  assert_null(strstr(users[2].inbox, "322 carol #dev"));
  assert_null(strstr(users[2].inbox, "@#dev"));
  assert_non_null(strstr(users[2].inbox,
                         ":uvchat 323 carol :End of /LIST\r\n"
                         ":uvchat 366 carol #dev :End of /NAMES list\r\n"
                         ":uvchat 311 carol alice"));
  assert_non_null(strstr(users[2].inbox, ":uvchat 319 carol alice :#lobby\r\n"));
  clear();
  send_line(1, "LIST #dev");
  send_line(1, "WHOIS alice");
  assert_non_null(strstr(users[1].inbox, ":uvchat 322 bob #dev 2 :\r\n"));
  assert_non_null(strstr(users[1].inbox, ":uvchat 319 bob alice :#lobby @#dev\r\n"));
}

static void invites(void** state) {
  (void)state;
  dev_room();
  send_line(0, "INVITE nobody #dev");
  send_line(0, "INVITE carol #nowhere");
  send_line(0, "INVITE bob #dev");
  send_line(0, "INVITE carol");
  send_line(2, "INVITE bob #dev");
  assert_string_equal(users[0].inbox,
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":uvchat 403 alice #nowhere :No such channel\r\n"
                      ":uvchat 443 alice bob #dev :is already on channel\r\n"
                      ":uvchat 461 alice INVITE :Not enough parameters\r\n");
  assert_string_equal(users[2].inbox, ":uvchat 442 carol #dev :You're not on that channel\r\n");
  clear();
  send_line(0, "MODE #dev +i");
  send_line(1, "INVITE carol #dev");
  assert_string_equal(users[1].inbox,
                      ":alice!~alice@uvchat MODE #dev +i\r\n"
                      ":uvchat 482 bob #dev :You're not channel operator\r\n");
  clear();
  send_line(0, "INVITE carol #dev");
  send_line(2, "INVITE");
  assert_string_equal(users[0].inbox, ":uvchat 341 alice carol #dev\r\n");
  assert_string_equal(users[2].inbox,
                      ":alice!~alice@uvchat INVITE carol #dev\r\n"
                      ":uvchat 336 carol #dev\r\n"
                      ":uvchat 337 carol :End of /INVITE list\r\n");
  send_line(2, "JOIN #dev");
  assert_non_null(strstr(users[1].inbox, ":carol!~carol@uvchat JOIN #dev\r\n"));
  send_line(2, "PART #dev");
  clear();
  send_line(2, "JOIN #dev"); /* an invitation is used once */
  assert_string_equal(users[2].inbox, ":uvchat 473 carol #dev :Cannot join channel (+i)\r\n");
  clear();
  text_user(3); /* a text user invited by an IRC operator */
  send_line(0, "INVITE guest1 #dev");
  assert_string_equal(users[3].inbox, "*** alice invites you to #dev: type /join #dev\r\n");
  send_line(3, "/join #dev");
  assert_non_null(strstr(users[0].inbox, ":guest1!text@uvchat JOIN #dev\r\n"));
}

/* invite-notify: the other members with the capability who could have invited too (all
 * of them in a room that is not invite-only, its operators in one that is) get the INVITE
 * line; the inviter gets 341 only, members without the capability and text users nothing. */
static void invite_notify(void** state) {
  (void)state;
  dev_room();
  irc_user(3, "dave");
  send_line(3, "JOIN #dev");
  text_user(4); /* guest1 */
  send_line(4, "/join #dev");
  irc_user_alone(5, "erin");
  send_line(0, "CAP REQ :invite-notify");
  send_line(1, "CAP REQ :invite-notify message-tags");
  clear();
  send_line(1, "INVITE carol #dev");
  assert_string_equal(users[1].inbox, ":uvchat 341 bob carol #dev\r\n");
  assert_string_equal(users[0].inbox, ":bob!~bob@uvchat INVITE carol #dev\r\n");
  assert_string_equal(users[2].inbox, ":bob!~bob@uvchat INVITE carol #dev\r\n");
  assert_string_equal(users[3].inbox, "");
  assert_string_equal(users[4].inbox, "");
  clear();
  send_line(0, "MODE #dev +i");
  clear();
  send_line(0, "INVITE erin #dev"); /* invite-only: only operators may invite, or hear of it */
  assert_string_equal(users[0].inbox, ":uvchat 341 alice erin #dev\r\n");
  assert_string_equal(users[1].inbox, "");
  assert_string_equal(users[5].inbox, ":alice!~alice@uvchat INVITE erin #dev\r\n");
  send_line(0, "MODE #dev +o bob");
  clear();
  send_line(0, "INVITE erin #dev");
  {
    char want[128];
    snprintf(want, sizeof want, "@msgid=%llx :alice!~alice@uvchat INVITE erin #dev\r\n",
             (unsigned long long)core.last_id);
    assert_string_equal(users[1].inbox, want);
  }
  assert_string_equal(users[3].inbox, "");
  assert_string_equal(users[4].inbox, "");
}

/* A stand-in for the operators module, as the core sees it: "admin" with password "pw".
 * It answers at once (the real one checks the Argon2id hash on the thread pool). */
static void fake_oper_start(void* ud, uvc_session_t* s, uvc_auth_op_t op, const char* name,
                            size_t nlen, const char* a, size_t alen, const char* b, size_t blen) {
  int status = 0;
  (void)ud, (void)op, (void)b, (void)blen;
  if (nlen != 5 || memcmp(name, "admin", 5) != 0)
    status = UVC_EOPER_UNAVAILABLE;
  else if (alen != 2 || memcmp(a, "pw", 2) != 0)
    status = UVC_EOPER_FAILED;
  if (status == 0) uvc_core_set_oper(&core, s, name, nlen);
  s->adapter->on_auth(&core, s, UVC_AUTH_OPER, status, status == 0 ? "admin" : NULL, NULL);
}
static const uvc_auth_ops_t kFakeOpers = {fake_oper_start, NULL, NULL, NULL};
static int g_rehashed, g_died;
static void on_rehash(void* ud, const uvc_session_t* by) {
  (void)ud, (void)by;
  g_rehashed++;
}
static void on_die(void* ud, const uvc_session_t* by) {
  (void)ud, (void)by;
  g_died++;
}

static void server_operators(void** state) {
  (void)state;
  dev_room();
  send_line(0, "OPER admin pw"); /* no operators on this server */
  send_line(0, "KILL bob :x");
  send_line(0, "WALLOPS :x");
  send_line(0, "REHASH");
  send_line(0, "DIE");
  send_line(0, "OPER admin");
  assert_string_equal(users[0].inbox,
                      ":uvchat 491 alice :No O-lines for your host\r\n"
                      ":uvchat 481 alice :Permission Denied- You're not an IRC operator\r\n"
                      ":uvchat 481 alice :Permission Denied- You're not an IRC operator\r\n"
                      ":uvchat 481 alice :Permission Denied- You're not an IRC operator\r\n"
                      ":uvchat 481 alice :Permission Denied- You're not an IRC operator\r\n"
                      ":uvchat 461 alice OPER :Not enough parameters\r\n");
  clear();
  core.opers = &kFakeOpers;
  core.on_rehash = on_rehash;
  core.on_die = on_die;
  send_line(0, "OPER root pw");
  send_line(0, "OPER admin nope");
  send_line(0, "OPER admin pw");
  assert_string_equal(users[0].inbox,
                      ":uvchat 491 alice :No O-lines for your host\r\n"
                      ":uvchat 464 alice :Password incorrect\r\n"
                      ":uvchat 381 alice :You are now an IRC operator\r\n"
                      ":alice!~alice@uvchat MODE alice :+ow\r\n");
  clear();
  send_line(0, "MODE alice");
  send_line(1, "WHOIS alice");
  send_line(1, "WHO alice");
  send_line(1, "USERHOST alice");
  assert_string_equal(users[0].inbox, ":uvchat 221 alice +ow\r\n");
  assert_non_null(strstr(users[1].inbox, ":uvchat 313 bob alice :is an IRC operator\r\n"));
  assert_non_null(strstr(users[1].inbox,
                         ":uvchat 352 bob #lobby ~alice uvchat uvchat alice H* :0 Real alice\r\n"));
  assert_non_null(strstr(users[1].inbox, ":uvchat 302 bob :alice*=+~alice@uvchat\r\n"));
  clear();
  text_user(3);
  send_line(1, "MODE bob +w");
  send_line(0, "WALLOPS :maintenance at noon");
  assert_string_equal(users[0].inbox, ":alice!~alice@uvchat WALLOPS :maintenance at noon\r\n");
  assert_string_equal(users[1].inbox,
                      ":bob!~bob@uvchat MODE bob :+w\r\n"
                      ":alice!~alice@uvchat WALLOPS :maintenance at noon\r\n");
  assert_string_equal(users[2].inbox, "");
  assert_string_equal(users[3].inbox, "");
  clear();
  send_line(0, "REHASH");
  assert_string_equal(users[0].inbox, ":uvchat 382 alice uvchat.conf :Rehashing\r\n");
  assert_int_equal(g_rehashed, 1);
  clear();
  send_line(0, "KILL nobody :x");
  send_line(0, "KILL bob :spamming");
  assert_int_equal(users[1].close_why, UVC_LEAVE_KILLED);
  assert_string_equal(users[1].close_text, "Killed (alice (spamming))");
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_KILLED, "Killed (alice (spamming))", 25);
  assert_string_equal(users[0].inbox,
                      ":uvchat 401 alice nobody :No such nick/channel\r\n"
                      ":bob!~bob@uvchat QUIT :Killed (alice (spamming))\r\n");
  clear();
  send_line(0, "DIE");
  assert_int_equal(g_died, 1);
  send_line(0, "MODE alice -o");
  assert_string_equal(users[0].inbox, ":alice!~alice@uvchat MODE alice :-ow\r\n");
  send_line(0, "KILL carol :x");
  assert_int_equal(users[2].close_why, -1);
  core.opers = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parser_basics),
      cmocka_unit_test(parser_skips_tags_safely),
      cmocka_unit_test(parser_limits_and_garbage),
      cmocka_unit_test_setup_teardown(registration_greets_and_joins_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(registration_joins_the_autojoin_room, setup_with_autojoin,
                                      teardown),
      cmocka_unit_test_setup_teardown(only_a_few_commands_before_registration, setup, teardown),
      cmocka_unit_test_setup_teardown(registered_users_cannot_register_again, setup, teardown),
      cmocka_unit_test_setup_teardown(cap_negotiation_holds_registration, setup, teardown),
      cmocka_unit_test_setup_teardown(wrong_password_is_refused, setup_with_password, teardown),
      cmocka_unit_test_setup_teardown(accounts_not_available, setup, teardown),
      cmocka_unit_test_setup_teardown(motd_lines, setup_with_motd, teardown),
      cmocka_unit_test_setup_teardown(nick_collisions_and_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(join_part_and_quit, setup, teardown),
      cmocka_unit_test_setup_teardown(too_many_channels, setup, teardown),
      cmocka_unit_test_setup_teardown(topics, setup, teardown),
      cmocka_unit_test_setup_teardown(names_who_whois_list, setup, teardown),
      cmocka_unit_test_setup_teardown(invisible_users, setup, teardown),
      cmocka_unit_test_setup_teardown(channel_modes_and_operators, setup, teardown),
      cmocka_unit_test_setup_teardown(kicks, setup, teardown),
      cmocka_unit_test_setup_teardown(big_rooms_are_not_listed_on_joining,
                                      setup_with_announce_limit, teardown),
      cmocka_unit_test_setup_teardown(privmsg_to_channels_and_nicks, setup, teardown),
      cmocka_unit_test_setup_teardown(ctcp, setup, teardown),
      cmocka_unit_test_setup_teardown(long_text_is_split_for_irc_users, setup, teardown),
      cmocka_unit_test_setup_teardown(errors_and_small_commands, setup, teardown),
      cmocka_unit_test_setup_teardown(every_event_rendered, setup, teardown),
      cmocka_unit_test_setup_teardown(past_event_renders_after_sender_left, setup, teardown),
      cmocka_unit_test_setup_teardown(the_server_name_is_everywhere, setup_with_server_name,
                                      teardown),
      cmocka_unit_test_setup_teardown(who_masks_and_whox, setup, teardown),
      cmocka_unit_test_setup_teardown(whowas_history, setup, teardown),
      cmocka_unit_test_setup_teardown(server_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(monitor_lists, setup, teardown),
      cmocka_unit_test_setup_teardown(setname_without_the_cap_is_silent, setup, teardown),
      cmocka_unit_test_setup_teardown(setname_with_the_cap_tells_peers, setup, teardown),
      cmocka_unit_test_setup_teardown(kick_pairs, setup, teardown),
      cmocka_unit_test_setup_teardown(long_irc_messages_are_cut_not_split, setup, teardown),
      cmocka_unit_test_setup_teardown(bans_and_invite_lists, setup, teardown),
      cmocka_unit_test_setup_teardown(keys_limits_and_channel_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(moderation_voice_and_prefixes, setup, teardown),
      cmocka_unit_test_setup_teardown(secret_rooms, setup, teardown),
      cmocka_unit_test_setup_teardown(invites, setup, teardown),
      cmocka_unit_test_setup_teardown(invite_notify, setup, teardown),
      cmocka_unit_test_setup_teardown(server_operators, setup, teardown),
      cmocka_unit_test_setup_teardown(server_time_and_msgid, setup, teardown),
      cmocka_unit_test_setup_teardown(echo_message, setup, teardown),
      cmocka_unit_test_setup_teardown(websocket_clients_get_the_same_irc, setup, teardown),
      cmocka_unit_test_setup_teardown(client_tags_and_tagmsg, setup, teardown),
      cmocka_unit_test_setup_teardown(client_tags_bad_values, setup, teardown),
      cmocka_unit_test_setup_teardown(labeled_response, setup, teardown),
      cmocka_unit_test_setup_teardown(labeled_chathistory_answered_later, setup, teardown),
      cmocka_unit_test_setup_teardown(account_tag_notify_and_extended_join, setup, teardown),
      cmocka_unit_test_setup_teardown(away_notify, setup, teardown),
      cmocka_unit_test_setup_teardown(cap_ls_lists_every_capability, setup, teardown),
      cmocka_unit_test_setup_teardown(sts_policy, setup, teardown),
      cmocka_unit_test_setup_teardown(standard_replies, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
