/* test_accounts.c: registered accounts through the core and both adapters, without sockets:
 * a real store in a temporary directory, real (cheapest-cost) Argon2id on libuv's thread
 * pool, and the loop run until every answer has landed. Built a second time with
 * UVCHAT_TEST_REDIS (test_accounts_redis): the same cases on the Redis store, against a real
 * redis-server (test/redis_server.h), emptied before each case. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "inbox.h"
#include "tmpdir.h"
#include "unit.h"

#include "uvchat/accounts.h"
#include "uvchat/core.h"
#include "uvchat/irc.h"
#include "uvchat/list.h"
#include "uvchat/password.h"
#include "uvchat/store.h"
#include "uvchat/text.h"
#ifdef UVCHAT_TEST_REDIS
#include "redis_util.h"
#include "uvchat/store_redis.h"
static tr_redis_t g_redis;
#endif

#define N_USERS 6

typedef struct user {
  uvc_session_t s;
  char inbox[32768];
  size_t len;
  int open;
  int close_why; /* -1 while not asked to close */
  char addr[32]; /* what the peer_key hook says */
} user_t;

static uv_loop_t g_loop;
static char g_tmp[1024];
static uvc_core_t core;
static uvc_accounts_t* g_accounts;
static user_t users[N_USERS];
static const char* g_password; /* the server password of the next core */

/* The core hands a message to a user: append it to their inbox. */
static void deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  tt_inbox_append(u->inbox, sizeof u->inbox, &u->len, m);
}

/* An adapter asks to end a session: remember why. */
static void request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                          size_t len) {
  (void)ud;
  (void)text;
  (void)len;
  UVC_CONTAINER_OF(s, user_t, s)->close_why = (int)why;
}

/* Where a user connects from: its own address, so throttles are per user unless a test
 * gives two users one address. */
static void peer_key(void* ud, const uvc_session_t* s, char* out, size_t outlen) {
  (void)ud;
  snprintf(out, outlen, "%s", UVC_CONTAINER_OF(s, user_t, s)->addr);
}

/* A fresh core with accounts open on g_tmp. */
static void open_core(void) {
  uvc_core_config_t cfg;
  uvc_core_hooks_t hooks = {
      .deliver = deliver, .request_close = request_close, .peer_key = peer_key};
  char err[256];
  memset(&cfg, 0, sizeof cfg);
  cfg.default_room = "#lobby";
  cfg.max_line = 4096;
  cfg.server_name = "uvchat";
  cfg.password = g_password;
  assert_int_equal(uvc_core_init(&core, &cfg, &hooks, NULL), 0);
#ifdef UVCHAT_TEST_REDIS
  {
    uvc_store_t* st = NULL;
    if (uvc_store_open_redis(&st, &g_loop, "127.0.0.1", g_redis.port, NULL, 0, err, sizeof err) !=
        0)
      fail_msg("cannot open the Redis store: %s", err);
    if (uvc_accounts_open_store(&g_accounts, &g_loop, &core, st, err, sizeof err) != 0)
      fail_msg("cannot open the accounts: %s", err);
  }
#else
  if (uvc_accounts_open(&g_accounts, &g_loop, &core, g_tmp, err, sizeof err) != 0)
    fail_msg("cannot open the accounts: %s", err);
#endif
}

/* Every user leaves and is forgotten, the loop runs dry, the accounts and the core close. */
static void close_core(void) {
  int i;
  for (i = 0; i < N_USERS; i++) {
    if (!users[i].open) continue;
    uvc_core_leave(&core, &users[i].s, UVC_LEAVE_CLOSED, NULL, 0);
    uvc_core_forget(&core, &users[i].s);
    if (users[i].s.adapter->on_free != NULL) users[i].s.adapter->on_free(&core, &users[i].s);
    users[i].open = 0;
  }
  uv_run(&g_loop, UV_RUN_DEFAULT);
  uvc_accounts_close(g_accounts);
  g_accounts = NULL;
  uv_run(&g_loop, UV_RUN_DEFAULT); /* a store that closes on the loop (Redis) */
  uvc_core_free(&core);
}

/* A fresh loop, data directory and core, with the cheapest password hashing. */
static int setup(void** state) {
  (void)state;
  uvc_password_use_min_limits();
  assert_int_equal(uv_loop_init(&g_loop), 0);
  tt_mkdtemp("uvchat-acct", g_tmp, sizeof g_tmp);
#ifdef UVCHAT_TEST_REDIS
  tr_redis_flushall(&g_redis);
#endif
  memset(users, 0, sizeof users);
  open_core();
  return 0;
}

/* Everything closed, the directory removed; the loop must have nothing left open. */
static int teardown(void** state) {
  (void)state;
  close_core();
  assert_int_equal(uv_loop_close(&g_loop), 0);
  tt_rmdir(g_tmp);
  g_password = NULL;
  return 0;
}

/* Runs the loop until every account request has been answered. */
static void settle(void) {
  uv_run(&g_loop, UV_RUN_DEFAULT);
}

/* Empties every inbox. */
static void clear(void) {
  int i;
  for (i = 0; i < N_USERS; i++)
    users[i].len = 0, users[i].inbox[0] = '\0';
}

/* Sends one line (without its line ending) from user i. */
static void send_line(int i, const char* line) {
  users[i].s.adapter->on_line(&core, &users[i].s, line, strlen(line));
}

/* Opens user i with adapter (a text user arrives at once as a guest). */
static void open_user(int i, const uvc_adapter_t* adapter) {
  user_t* u = &users[i];
  if (u->open) { /* the slot's previous user goes first, as its connection would */
    uvc_core_leave(&core, &u->s, UVC_LEAVE_CLOSED, NULL, 0);
    uvc_core_forget(&core, &u->s);
    if (u->s.adapter->on_free != NULL) u->s.adapter->on_free(&core, &u->s);
  }
  memset(u, 0, sizeof *u);
  u->close_why = -1;
  u->open = 1;
  snprintf(u->addr, sizeof u->addr, "10.0.0.%d", i + 1);
  uvc_session_init(&u->s, adapter);
  adapter->on_open(&core, &u->s);
}

/* Opens user i as a text user named nick (NULL: its guest nick); clears every inbox. */
static void text_user(int i, const char* nick) {
  char line[64];
  open_user(i, &uvc_text_adapter);
  if (nick != NULL) {
    snprintf(line, sizeof line, "/nick %s", nick);
    send_line(i, line);
    assert_string_equal(users[i].s.nick, nick);
  }
  clear();
}

/* Opens user i as an IRC user registered as nick, joined to #lobby; clears every inbox. */
static void irc_user(int i, const char* nick) {
  char line[128];
  open_user(i, &uvc_irc_adapter);
  snprintf(line, sizeof line, "NICK %s", nick);
  send_line(i, line);
  snprintf(line, sizeof line, "USER %s 0 * :Real %s", nick, nick);
  send_line(i, line);
  assert_true(users[i].s.present);
  send_line(i, "JOIN #lobby");
  clear();
}

/* Asserts that user i's inbox contains want. */
static void expect_in(int i, const char* want) {
  if (strstr(users[i].inbox, want) == NULL)
    fail_msg("user %d never got \"%s\"; the inbox:\n%s", i, want, users[i].inbox);
}

/* Registers nick with password from a new text user i (who stays logged in). */
static void registered(int i, const char* nick, const char* password) {
  char line[256], want[128];
  text_user(i, nick);
  snprintf(line, sizeof line, "/register %s", password);
  send_line(i, line);
  settle();
  snprintf(want, sizeof want, "*** Account %s registered; you are logged in.\r\n", nick);
  assert_string_equal(users[i].inbox, want);
  clear();
}

/* Whether the first len bytes of the core's scratch buffer (where the last line, len bytes
 * long, was cleaned) hold needle. */
static int scratch_has(const char* needle, size_t len) {
  size_t n = strlen(needle), i;
  for (i = 0; i + n <= len; i++)
    if (memcmp(core.scratch + i, needle, n) == 0) return 1;
  return 0;
}

/* AUTHENTICATE's payload for PLAIN: base64 of authzid NUL authcid NUL password. */
static void sasl_payload(char* out, size_t cap, const char* authzid, const char* authcid,
                         const char* password) {
  unsigned char raw[512];
  size_t n = 0, k;
  k = strlen(authzid);
  memcpy(raw + n, authzid, k);
  n += k;
  raw[n++] = '\0';
  k = strlen(authcid);
  memcpy(raw + n, authcid, k);
  n += k;
  raw[n++] = '\0';
  k = strlen(password);
  memcpy(raw + n, password, k);
  n += k;
  memcpy(out, "AUTHENTICATE ", 13);
  sodium_bin2base64(out + 13, cap - 13, raw, n, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- Tests ----------------------------------------------------------------------------- */

/* The answer comes only once the store committed; the name is protected at once after, and
 * still is after a restart on the same directory. */
static void register_is_durable_and_protects_the_name(void** state) {
  (void)state;
  text_user(0, "alice");
  text_user(1, NULL);
  send_line(0, "/register correct horse");
  assert_string_equal(users[0].inbox, ""); /* not yet: hashing and the commit take a while */
  assert_null(uvc_core_registered(&core, "alice", 5));
  settle();
  assert_string_equal(users[0].inbox, "*** Account alice registered; you are logged in.\r\n");
  assert_string_equal(uvc_core_registered(&core, "ALICE", 5), "alice");
  assert_string_equal(uvc_session_account(&users[0].s), "alice");
  assert_int_equal(core.n_registered, 1);

  close_core();
  open_core();
  assert_string_equal(uvc_core_registered(&core, "Alice", 5), "alice");
  text_user(1, NULL);
  send_line(1, "/nick Alice");
  assert_string_equal(users[1].inbox,
                      "! the nick Alice is registered; log in with /login Alice PASSWORD\r\n");
  send_line(1, "/register whatever1"); /* the guest nick: fine too */
  settle();
  expect_in(1, "*** Account guest1 registered; you are logged in.");
  clear();
  send_line(1, "/register again12");
  assert_string_equal(users[1].inbox, "! you are logged in as guest1; log out first\r\n");
}

/* Wrong and right passwords; a login from another connection takes the nick; the password
 * rules; /logout gives a registered nick up. */
static void login_logout_and_password_rules(void** state) {
  (void)state;
  text_user(0, NULL);
  send_line(0, "/register short");
  assert_string_equal(users[0].inbox,
                      "! password not accepted: too short: a password needs at least 8 bytes\r\n");
  clear();
  registered(0, "alice", "correct horse");
  text_user(1, NULL);
  send_line(1, "/login alice wrong horse");
  settle();
  assert_string_equal(users[1].inbox,
                      "! cannot log in as alice: wrong password, or no such account\r\n");
  clear();
  send_line(1, "/login nobody wrong horse"); /* the same words for a name nobody has */
  settle();
  assert_string_equal(users[1].inbox,
                      "! cannot log in as nobody: wrong password, or no such account\r\n");
  clear();
  send_line(1, "/login ALICE correct horse"); /* from another connection: takes the nick */
  settle();
  assert_string_equal(users[1].inbox,
                      "*** You are logged in as alice.\r\n"
                      "*** alice is now known as guest4\r\n"
                      "*** guest3 is now known as alice\r\n");
  assert_string_equal(users[0].inbox,
                      "*** alice is now known as guest4\r\n"
                      "*** you logged in to alice from another connection, which took the nick: "
                      "this one is now guest4\r\n"
                      "*** guest3 is now known as alice\r\n");
  assert_string_equal(uvc_session_account(&users[1].s), "alice");
  assert_string_equal(uvc_session_account(&users[0].s),
                      "alice");           /* still logged in, under another nick */
  assert_false(scratch_has("horse", 26)); /* the line was wiped */
  clear();

  send_line(1, "/logout"); /* alice gives the nick up */
  assert_string_equal(users[1].inbox,
                      "*** You are logged out of alice.\r\n*** alice is now known as guest5\r\n");
  assert_null(uvc_session_account(&users[1].s));
  send_line(0, "/logout");
  clear();
  send_line(0, "/login alice correct horse"); /* the nick is free: taken */
  settle();
  expect_in(0, "*** You are logged in as alice.\r\n*** guest4 is now known as alice\r\n");
  send_line(0, "/logout");
  clear();
  send_line(0, "/login alice correct horse"); /* now the nick is free: taken */
  settle();
  expect_in(0, "*** You are logged in as alice.\r\n*** guest6 is now known as alice\r\n");
  clear();
  send_line(1, "/nick alice");
  assert_string_equal(users[1].inbox,
                      "! the nick alice is registered; log in with /login alice PASSWORD\r\n");
  clear();
  send_line(1, "/logout");
  expect_in(1, "! you are not logged in");
}

/* Three wrong passwords lock the account for a minute for that address only: the owner
 * still logs in from elsewhere; ten failures lock the address out of every account. */
static void throttle_after_three_failures(void** state) {
  int i;
  (void)state;
  registered(0, "alice", "correct horse");
  text_user(1, NULL);
  for (i = 0; i < 3; i++) {
    send_line(1, "/login alice bad horse");
    settle();
  }
  clear();
  send_line(1, "/login alice correct horse"); /* refused at once, even the right password */
  assert_non_null(strstr(users[1].inbox,
                         "! too many failed logins for alice from your address; try again in "));
  assert_null(uvc_session_account(&users[1].s));
  clear();
  text_user(2, NULL); /* another address: not locked out */
  send_line(2, "/login alice correct horse");
  settle();
  expect_in(2, "*** You are logged in as alice.");
  clear();
  for (i = 0; i < 7; i++) { /* other names from user 1's address: 10 failures in all */
    char line[64];
    snprintf(line, sizeof line, "/login bob%d bad horse", i);
    send_line(1, line);
    settle();
    expect_in(1, "! cannot log in as bob");
  }
  clear();
  send_line(1, "/login carol bad horse");
  assert_non_null(
      strstr(users[1].inbox, "! too many failed logins from your address; try again in "));
}

/* Many addresses guessing one name hit its ceiling (20 a minute); the owner's address,
 * known from an earlier login, still gets in, and a stranger's does not. */
static void many_addresses_hit_the_name_ceiling(void** state) {
  int i;
  (void)state;
  registered(0, "alice", "correct horse");
  send_line(0, "/logout");
  settle();
  text_user(1, NULL);
  for (i = 0; i < 20; i++) {
    snprintf(users[1].addr, sizeof users[1].addr, "198.51.100.%d", i);
    send_line(1, "/login alice bad horse");
    settle();
  }
  clear();
  snprintf(users[1].addr, sizeof users[1].addr, "198.51.100.200");
  send_line(1, "/login alice correct horse");
  assert_non_null(strstr(users[1].inbox,
                         "! too many failed logins for alice from many addresses; try again in "));
  clear();
  send_line(0, "/login alice correct horse"); /* from 10.0.0.1, where alice registered */
  settle();
  expect_in(0, "*** You are logged in as alice.");
}

/* Checks still running count in advance: with two failures recorded, a second check from
 * the same address waits for the first. */
static void running_checks_count_in_advance(void** state) {
  int i;
  (void)state;
  registered(0, "alice", "correct horse");
  text_user(1, NULL);
  text_user(2, NULL);
  snprintf(users[2].addr, sizeof users[2].addr, "%s", users[1].addr);
  for (i = 0; i < 2; i++) {
    send_line(1, "/login alice bad horse");
    settle();
  }
  clear();
  send_line(1, "/login alice bad horse");
  send_line(2, "/login alice correct horse");
  assert_string_equal(users[2].inbox,
                      "! another login to alice is being checked; try again in a moment\r\n");
  settle();
  clear();
  send_line(2, "/login alice correct horse");
  expect_in(2, "! too many failed logins for alice from your address");
}

/* Registered nicks cannot be taken by anyone not logged in to them, in either protocol;
 * NickServ by nobody; guest nicks skip registered names. */
static void name_protection_in_both_protocols(void** state) {
  (void)state;
  registered(0, "alice", "correct horse");
  registered(1, "guest4", "correct horse");
  send_line(0, "/logout");
  clear();
  open_user(2, &uvc_irc_adapter);
  send_line(2, "NICK alice");
  send_line(2, "USER a 0 * :A");
  expect_in(2,
            ":uvchat 433 * alice :Nickname is registered; log in with SASL, or pick another "
            "nick and /msg NickServ IDENTIFY alice PASSWORD\r\n");
  assert_false(users[2].s.present);
  send_line(2, "NICK NickServ");
  expect_in(2, ":uvchat 432 * NickServ :Nickname is reserved for a service\r\n");
  send_line(2, "NICK al");
  assert_true(users[2].s.present);
  clear();
  send_line(2, "NICK ALICE");
  assert_string_equal(users[2].inbox,
                      ":uvchat 433 al ALICE :Nickname is registered; log in first (/msg NickServ "
                      "IDENTIFY ALICE PASSWORD)\r\n");
  clear();
  send_line(2, "NICK nickserv");
  assert_string_equal(users[2].inbox,
                      ":uvchat 432 al nickserv :Nickname is reserved for a service\r\n");
  clear();
  send_line(0, "/nick NickServ");
  assert_string_equal(users[0].inbox,
                      "! the nick NickServ is reserved for the server's services\r\n");
  /* guest4 is registered: the next guests are guest5 and up */
  text_user(3, NULL);
  assert_string_equal(users[3].s.nick, "guest5");
  /* the core refuses it whoever asks */
  assert_int_equal(uvc_core_rename(&core, &users[3].s, "alice", 5), UVC_ENICK_REGISTERED);
  assert_int_equal(uvc_core_may_use(&core, &users[1].s, "GUEST4", 6), 0);
}

/* A name taken while its registration was under way goes back to the new account's owner
 * when it is committed; whoever took it is renamed, with a notice. */
static void registration_takes_its_nick_back(void** state) {
  (void)state;
  text_user(0, "alice");
  text_user(1, NULL);
  send_line(0, "/register correct horse");
  send_line(0, "/nick alicia");
  send_line(1, "/nick alice");
  assert_string_equal(users[1].s.nick, "alice");
  clear();
  settle();
  assert_string_equal(users[0].s.nick, "alice");
  assert_string_equal(uvc_session_account(&users[0].s), "alice");
  expect_in(1,
            "*** alice is now known as guest3\r\n*** alice is a registered nick and its owner "
            "logged in: you are now guest3\r\n");
  expect_in(0,
            "*** alicia is now known as alice\r\n*** Account alice registered; you are logged "
            "in.\r\n");
}

/* /passwd, /unregister, and whoever else was logged in to the account is logged out. */
static void change_password_and_unregister(void** state) {
  (void)state;
  registered(0, "alice", "correct horse");
  text_user(1, NULL);
  send_line(1, "/passwd a b");
  assert_string_equal(users[1].inbox, "! you are not logged in\r\n");
  clear();
  send_line(0, "/passwd wrongpassword battery staple");
  expect_in(0, "! usage: /passwd OLD NEW; a password with spaces goes in double quotes");
  clear();
  send_line(0, "/passwd wrongpassword staple99");
  settle();
  assert_string_equal(users[0].inbox, "! wrong password for alice\r\n");
  clear();
  send_line(0, "/passwd correct staple");
  assert_string_equal(
      users[0].inbox,
      "! new password not accepted: too short: a password needs at least 8 bytes\r\n");
  clear();
  send_line(1, "/login alice correct horse"); /* a second session logged in to alice */
  settle();
  clear();
  send_line(0, "/unregister correct horse!");
  settle();
  assert_string_equal(users[0].inbox, "! wrong password for alice\r\n");
  clear();
  send_line(0, "/unregister correct horse");
  settle();
  assert_string_equal(users[0].inbox, "*** Account alice deleted; you are logged out.\r\n");
  assert_string_equal(users[1].inbox, "*** You are logged out: the account alice was deleted.\r\n");
  assert_null(uvc_core_registered(&core, "alice", 5));
  assert_null(uvc_session_account(&users[0].s));
  assert_null(uvc_session_account(&users[1].s));
  assert_string_equal(users[1].s.nick, "alice"); /* nobody's name now: kept */
  close_core();
  open_core();
  assert_int_equal(core.n_registered, 0);
}

/* A password change, and the new password works and the old does not. */
static void password_change_takes_effect(void** state) {
  (void)state;
  registered(0, "alice", "old-password");
  send_line(0, "/passwd old-password new-password");
  settle();
  assert_string_equal(users[0].inbox, "*** The password of alice was changed.\r\n");
  send_line(0, "/logout");
  clear();
  send_line(0, "/login alice old-password");
  settle();
  expect_in(0, "! cannot log in as alice");
  clear();
  send_line(0, "/login alice new-password");
  settle();
  expect_in(0, "*** You are logged in as alice.");
}

/* /passwd with passwords that have spaces, in double quotes (the docs' own passphrase);
 * lines that do not parse never count as guesses, and neither does a new password the
 * rules refuse; only wrong old passwords do. IRC's SET PASSWORD takes the same quotes. */
static void passwords_with_spaces_in_passwd(void** state) {
  int i;
  (void)state;
  registered(0, "alice", "correct horse battery staple");
  for (i = 0; i < 5; i++) { /* mistakes of syntax, more than the throttle allows */
    send_line(0, "/passwd correct horse battery staple new words here");
    send_line(0, "/passwd \"correct horse battery staple\" \"unclosed");
    send_line(0, "/passwd \"correct horse battery staple\"x \"new words here\"");
    send_line(0, "/passwd \"correct horse battery staple\" \"short\"");
  }
  assert_null(strstr(users[0].inbox, "wrong password"));
  expect_in(0, "! new password not accepted: too short");
  clear();
  send_line(0, "/passwd \"correct horse battery staple\" \"say \\\"hi\\\" \\\\ o/\"");
  settle();
  assert_string_equal(users[0].inbox, "*** The password of alice was changed.\r\n");
  send_line(0, "/logout");
  clear();
  send_line(0, "/login alice say \"hi\" \\ o/"); /* /login takes the rest of the line */
  settle();
  expect_in(0, "*** You are logged in as alice.");
  clear();
  /* two wrong old passwords count; the right one still works afterwards */
  send_line(0, "/passwd \"wrong words here\" plainword1");
  settle();
  send_line(0, "/passwd wrongword plainword1");
  settle();
  expect_in(0, "! wrong password for alice");
  clear();
  send_line(0, "/passwd \"say \\\"hi\\\" \\\\ o/\" plainword1");
  settle();
  assert_string_equal(users[0].inbox, "*** The password of alice was changed.\r\n");
  /* IRC */
  open_user(1, &uvc_irc_adapter);
  send_line(1, "NICK bob");
  send_line(1, "USER b 0 * :B");
  send_line(1, "PRIVMSG NickServ :REGISTER plain-password");
  settle();
  clear();
  send_line(1, "PRIVMSG NickServ :SET PASSWORD plain-password \"two words\"");
  settle();
  expect_in(1, "NOTICE bob :The password of bob was changed");
  clear();
  send_line(1, "PRIVMSG NickServ :SET PASSWORD \"two words\" \"open");
  expect_in(1, "NOTICE bob :Syntax: SET PASSWORD old new (a password with spaces goes in double");
}

/* One operation at a time per session; /who marks those logged in; /help lists the account
 * commands. */
static void busy_who_and_help(void** state) {
  (void)state;
  registered(0, "alice", "correct horse");
  text_user(1, NULL);
  send_line(1, "/login alice wrong horse");
  send_line(1, "/login alice correct horse");
  assert_string_equal(users[1].inbox,
                      "! an account operation is already under way; wait for its answer\r\n");
  text_user(2, NULL);
  send_line(2, "/login alice correct horse"); /* another address's check runs alongside */
  assert_string_equal(users[2].inbox, "");
  settle();
  expect_in(2, "*** You are logged in as alice.");
  send_line(2, "/logout");
  clear();
  send_line(1, "/away lunch");
  send_line(0, "/who");
  /* user 2's login took the nick alice from user 0 (guest4, still logged in); its logout
   * made it guest5 */
  assert_string_equal(users[0].inbox,
                      "*** 3 people in #lobby:\r\n***   guest2~ guest4+ guest5\r\n");
  clear();
  send_line(0, "/help");
  expect_in(0, "/register PASSWORD");
  expect_in(0, "/login NAME PASSWORD");
  expect_in(0, "/unregister PASSWORD");
  assert_null(strstr(users[0].inbox, "/pass PASSWORD")); /* no server password here */
}

/* A session that goes away while its request is in flight: the late answer touches nothing
 * (the session's memory is freed here, so a sanitizer or valgrind would see it), and a
 * registration nobody waits for any more is not made. */
static void forget_orphans_requests(void** state) {
  user_t* u = calloc(1, sizeof *u);
  user_t* v = calloc(1, sizeof *v);
  (void)state;
  registered(0, "alice", "correct horse");
  assert_non_null(u);
  assert_non_null(v);
  snprintf(u->addr, sizeof u->addr, "10.0.1.1");
  snprintf(v->addr, sizeof v->addr, "10.0.1.2");
  uvc_session_init(&u->s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &u->s);
  uvc_session_init(&v->s, &uvc_text_adapter);
  uvc_text_adapter.on_open(&core, &v->s);
  uvc_text_adapter.on_line(&core, &u->s, "/login alice correct horse", 26);
  uvc_text_adapter.on_line(&core, &v->s, "/nick carol", 11);
  uvc_text_adapter.on_line(&core, &v->s, "/register correct horse", 23);
  uvc_core_leave(&core, &u->s, UVC_LEAVE_CLOSED, NULL, 0);
  uvc_core_forget(&core, &u->s);
  uvc_core_leave(&core, &v->s, UVC_LEAVE_CLOSED, NULL, 0);
  uvc_core_forget(&core, &v->s);
  memset(u, 0xAA, sizeof *u);
  free(u);
  memset(v, 0xAA, sizeof *v);
  free(v);
  settle();
  assert_null(uvc_core_registered(&core, "carol", 5));
  assert_string_equal(users[0].s.nick, "alice");
  close_core();
  open_core();
  assert_null(uvc_core_registered(&core, "carol", 5));
  assert_int_equal(core.n_registered, 1);
}

/* SASL PLAIN: the capability, the exchange, the numerics, and registration under the
 * registered nick once logged in. */
static void sasl_plain(void** state) {
  char line[512];
  (void)state;
  registered(0, "alice", "correct horse");
  send_line(0, "/logout");
  open_user(1, &uvc_irc_adapter);
  send_line(1, "CAP LS 302");
  expect_in(1,
            ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify "
            "echo-message extended-join invite-notify labeled-response message-tags multi-prefix "
            "sasl=PLAIN "
            "server-time setname standard-replies userhost-in-names\r\n");
  send_line(1, "NICK alice");
  send_line(1, "USER a 0 * :A");
  send_line(1, "CAP REQ :sasl");
  expect_in(1, ":uvchat CAP * ACK :sasl\r\n");
  clear();
  send_line(1, "AUTHENTICATE EXTERNAL");
  assert_string_equal(users[1].inbox,
                      ":uvchat 908 * PLAIN :are available SASL mechanisms\r\n"
                      ":uvchat 904 * :SASL authentication failed\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  send_line(1, "AUTHENTICATE *");
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n:uvchat 906 * :SASL authentication aborted\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  memset(line, 'A', sizeof line);
  memcpy(line, "AUTHENTICATE ", 13);
  line[13 + 401] = '\0'; /* a piece longer than 400 bytes */
  send_line(1, line);
  assert_string_equal(users[1].inbox, "AUTHENTICATE +\r\n:uvchat 905 * :SASL message too long\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  line[13 + 400] = '\0'; /* pieces of 400: more follows, up to what no credentials need */
  send_line(1, line);
  send_line(1, line);
  send_line(1, line);
  assert_string_equal(users[1].inbox, "AUTHENTICATE +\r\n");
  send_line(1, line);
  assert_string_equal(users[1].inbox, "AUTHENTICATE +\r\n:uvchat 905 * :SASL message too long\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  sasl_payload(line, sizeof line, "", "alice", "wrong horse");
  send_line(1, line);
  settle();
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n:uvchat 904 * :SASL authentication failed: cannot log in "
                      "as alice: wrong password, or no such account\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  sasl_payload(line, sizeof line, "alice", "alice", "correct horse");
  send_line(1, line);
  send_line(1, "CAP END"); /* registration waits for the answer */
  assert_false(users[1].s.present);
  settle();
  expect_in(1,
            "AUTHENTICATE +\r\n:uvchat 900 * alice!~a@uvchat alice :You are now logged in as "
            "alice\r\n:uvchat 903 * :SASL authentication successful\r\n:uvchat 001 alice ");
  assert_true(users[1].s.present);
  assert_string_equal(users[1].s.nick, "alice");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  assert_string_equal(users[1].inbox,
                      ":uvchat 907 alice :You have already authenticated using SASL\r\n");
  clear();
  send_line(1, "WHOIS alice");
  expect_in(1, ":uvchat 330 alice alice alice :is logged in as\r\n");
}

/* A SASL payload longer than 400 bytes comes in pieces: 400 bytes means more follows, a
 * shorter piece ends it, and "+" ends one that filled its last piece. */
static void sasl_payloads_in_pieces(void** state) {
  char line[2048], pw[400];
  (void)state;
  memset(pw, 'p', sizeof pw);
  pw[350] = '\0'; /* 1 + 5 + 1 + 350 bytes: 476 in base64 */
  text_user(0, "alice");
  send_line(0, "/register correct horse");
  settle();
  send_line(0, "/logout");
  open_user(1, &uvc_irc_adapter);
  send_line(1, "CAP REQ :sasl");
  send_line(1, "NICK bob");
  send_line(1, "USER b 0 * :B");
  clear();
  send_line(1, "AUTHENTICATE PLAIN");
  sasl_payload(line, sizeof line, "", "alice", pw);
  assert_int_equal(strlen(line), 13 + 476);
  {
    char first[13 + 401], second[100];
    memcpy(first, line, 13 + 400);
    first[13 + 400] = '\0';
    snprintf(second, sizeof second, "AUTHENTICATE %s", line + 13 + 400);
    send_line(1, first);
    settle();
    assert_string_equal(users[1].inbox, "AUTHENTICATE +\r\n"); /* waiting for the rest */
    send_line(1, second);
  }
  settle();
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n:uvchat 904 * :SASL authentication failed: cannot log in "
                      "as alice: wrong password, or no such account\r\n");
  clear();
  pw[293] = '\0'; /* 1 + 5 + 1 + 293 = 300 bytes: exactly 400 in base64, then "+" */
  send_line(1, "AUTHENTICATE PLAIN");
  sasl_payload(line, sizeof line, "", "alice", pw);
  assert_int_equal(strlen(line), 13 + 400);
  send_line(1, line);
  settle();
  assert_string_equal(users[1].inbox, "AUTHENTICATE +\r\n");
  send_line(1, "AUTHENTICATE +");
  settle();
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n:uvchat 904 * :SASL authentication failed: cannot log in "
                      "as alice: wrong password, or no such account\r\n");
  clear();
  send_line(1, "AUTHENTICATE PLAIN"); /* "+" alone is an empty payload */
  send_line(1, "AUTHENTICATE +");
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n:uvchat 904 * :SASL authentication failed: malformed "
                      "PLAIN credentials\r\n");
}

/* SASL after registration: 900 and 903 come first, then the NICK to the account's nick;
 * before any NICK, 900 names the client "*" twice (no nick!user@host yet). */
static void sasl_after_registration_and_before_a_nick(void** state) {
  char line[512];
  (void)state;
  registered(0, "alice", "correct horse");
  send_line(0, "/logout");
  send_line(0, "/nick carol");
  irc_user(1, "bob");
  send_line(1, "AUTHENTICATE PLAIN");
  sasl_payload(line, sizeof line, "", "alice", "correct horse");
  send_line(1, line);
  settle();
  assert_string_equal(users[1].inbox,
                      "AUTHENTICATE +\r\n"
                      ":uvchat 900 bob bob!~bob@uvchat alice :You are now logged in as alice\r\n"
                      ":uvchat 903 bob :SASL authentication successful\r\n"
                      ":bob!~bob@uvchat NICK :alice\r\n");
  clear();
  send_line(1, "QUIT");
  uvc_core_leave(&core, &users[1].s, UVC_LEAVE_QUIT, NULL, 0);
  open_user(2, &uvc_irc_adapter);
  send_line(2, "CAP LS 302");
  send_line(2, "CAP REQ :sasl");
  clear();
  send_line(2, "AUTHENTICATE PLAIN");
  send_line(2, line);
  settle();
  assert_string_equal(users[2].inbox,
                      "AUTHENTICATE +\r\n"
                      ":uvchat 900 * * alice :You are now logged in as alice\r\n"
                      ":uvchat 903 * :SASL authentication successful\r\n");
}

/* The password bounds are settings (--account-password-min and -max, 8 and 300 by
 * default): REGISTER and NickServ say the numbers; a password set before the bounds changed
 * still logs in. */
static void password_bounds_are_settings(void** state) {
  uvc_accounts_limits_t limits = {0, 0, 0, 12, 40};
  char line[400], ns[128];
  (void)state;
  text_user(0, "alice");
  memset(line, 'x', sizeof line);
  memcpy(line, "/register ", 10);
  line[10 + 301] = '\0';
  send_line(0, line);
  assert_string_equal(users[0].inbox,
                      "! password not accepted: too long: a password may have at most 300 "
                      "bytes\r\n");
  clear();
  line[10 + 300] = '\0';
  send_line(0, line);
  settle();
  assert_string_equal(users[0].inbox, "*** Account alice registered; you are logged in.\r\n");
  send_line(0, "/logout");
  uvc_accounts_set_limits(g_accounts, &limits);
  text_user(1, "bob");
  send_line(1, "/register elevenbytes");
  assert_string_equal(users[1].inbox,
                      "! password not accepted: too short: a password needs at least 12 bytes\r\n");
  irc_user(2, "carl");
  memset(ns, 'y', sizeof ns);
  memcpy(ns, "PRIVMSG NickServ :REGISTER ", 27);
  ns[27 + 41] = '\0';
  send_line(2, ns);
  settle();
  assert_string_equal(users[2].inbox,
                      ":NickServ!service@uvchat NOTICE carl :password not accepted: too long: a "
                      "password may have at most 40 bytes\r\n");
  clear();
  memcpy(line, "/login alice ", 13);
  memset(line + 13, 'x', 300);
  line[13 + 300] = '\0';
  send_line(0, line);
  settle();
  expect_in(0, "*** You are logged in as alice.\r\n");
}

/* NickServ: REGISTER, IDENTIFY (which takes the nick), LOGOUT, SET PASSWORD, DROP; WHOIS
 * shows it as a service and logged-in users with 330, text users included. */
static void nickserv_commands(void** state) {
  (void)state;
  irc_user(0, "dave");
  irc_user(1, "eve");
  text_user(2, NULL);
  send_line(0, "PRIVMSG NickServ :REGISTER correct-horse dave@example.org");
  assert_string_equal(users[0].inbox, "");
  send_line(0, "PRIVMSG NickServ :IDENTIFY x");
  assert_string_equal(users[0].inbox,
                      ":NickServ!service@uvchat NOTICE dave :an account operation is already "
                      "under way; wait for its answer\r\n");
  clear();
  settle();
  assert_string_equal(users[0].inbox,
                      ":NickServ!service@uvchat NOTICE dave :Account dave registered; you are "
                      "logged in\r\n:uvchat 900 dave dave!~dave@uvchat dave :You are now logged "
                      "in as dave\r\n");
  clear();
  send_line(1, "WHOIS NickServ");
  assert_string_equal(users[1].inbox,
                      ":uvchat 311 eve NickServ service uvchat * :Account services\r\n"
                      ":uvchat 312 eve NickServ uvchat :uvchat chat server\r\n"
                      ":uvchat 313 eve NickServ :is a network service\r\n"
                      ":uvchat 318 eve NickServ :End of /WHOIS list\r\n");
  clear();
  send_line(1, "WHOIS dave");
  expect_in(1, ":uvchat 330 eve dave dave :is logged in as\r\n");
  send_line(0, "PRIVMSG NickServ :LOGOUT");
  assert_string_equal(users[0].inbox,
                      ":NickServ!service@uvchat NOTICE dave :You are logged out of dave\r\n"
                      ":uvchat 901 dave dave!~dave@uvchat :You are now logged out\r\n"
                      ":dave!~dave@uvchat NICK :guest2\r\n");
  clear();
  send_line(1, "PRIVMSG NickServ :IDENTIFY dave wrong-horse");
  settle();
  assert_string_equal(users[1].inbox,
                      ":NickServ!service@uvchat NOTICE eve :cannot log in as dave: wrong "
                      "password, or no such account\r\n");
  clear();
  send_line(1, "PRIVMSG NickServ :IDENTIFY dave correct-horse");
  settle();
  /* logged in (900) first, then the nick of the account */
  expect_in(1,
            ":NickServ!service@uvchat NOTICE eve :You are now logged in as dave\r\n"
            ":uvchat 900 eve eve!~eve@uvchat dave :You are now logged in as dave\r\n"
            ":eve!~eve@uvchat NICK :dave\r\n");
  clear();
  send_line(2, "/who");
  expect_in(2, " dave+ ");
  send_line(1, "PRIVMSG NickServ :SET PASSWORD correct-horse battery-staple");
  assert_false(scratch_has("battery-staple", 43));
  settle();
  expect_in(1, ":NickServ!service@uvchat NOTICE dave :The password of dave was changed\r\n");
  clear();
  send_line(1, "PRIVMSG NickServ :FROB");
  expect_in(1,
            ":NickServ!service@uvchat NOTICE dave :Unknown command FROB; /msg NickServ HELP "
            "lists them\r\n");
  send_line(1, "PRIVMSG NickServ,#lobby :IDENTIFY oops");
  expect_in(1, ":NickServ!service@uvchat NOTICE dave :Send your commands to NickServ alone\r\n");
  clear();
  send_line(1, "PRIVMSG NickServ :DROP battery-staple");
  settle();
  expect_in(1,
            ":NickServ!service@uvchat NOTICE dave :Account dave deleted; you are logged "
            "out\r\n:uvchat 901 dave dave!~eve@uvchat :You are now logged out\r\n");
  assert_null(uvc_core_registered(&core, "dave", 4));
  /* text users logged in show in WHOIS too */
  send_line(2, "/register correct horse");
  settle();
  clear();
  send_line(1, "WHOIS guest1");
  expect_in(1, ":uvchat 330 dave guest1 guest1 :is logged in as\r\n");
}

/* The server password for text users: nobody sees them until they give it; three wrong ones
 * close the connection, and failures count against the address across connections. */
static void server_password_for_text_users(void** state) {
  (void)state;
  close_core();
  g_password = "letmein";
  open_core();
  open_user(1, &uvc_text_adapter);
  assert_string_equal(users[1].inbox, "*** This server needs a password: type /pass PASSWORD\r\n");
  assert_false(users[1].s.present);
  clear();
  send_line(1, "hello?");
  send_line(1, "/nick bob");
  send_line(1, "/pass nope");
  send_line(1, "/pass letmein!");
  assert_string_equal(users[1].inbox,
                      "! this server needs a password first: type /pass PASSWORD\r\n"
                      "! this server needs a password first: type /pass PASSWORD\r\n"
                      "! wrong password; 2 more tries\r\n! wrong password; 1 more try\r\n");
  assert_int_equal(users[1].close_why, -1);
  clear();
  open_user(2, &uvc_text_adapter); /* the same address: its third failure locks it */
  snprintf(users[2].addr, sizeof users[2].addr, "%s", users[1].addr);
  clear();
  send_line(2, "/pass nope");
  clear();
  send_line(2, "/pass letmein");
  assert_non_null(
      strstr(users[2].inbox, "! too many wrong passwords from your address; try again in "));
  assert_false(users[2].s.present);
  open_user(3, &uvc_text_adapter);
  clear();
  send_line(3, "/help");
  expect_in(3, "/pass PASSWORD");
  send_line(3, "/pass letmein");
  expect_in(3,
            "*** Welcome to uvchat, guest1! Type /help for commands.\r\n*** You are the first "
            "one in #lobby.");
  assert_true(users[3].s.present);
  assert_int_equal(core.n_present, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(register_is_durable_and_protects_the_name, setup, teardown),
      cmocka_unit_test_setup_teardown(login_logout_and_password_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(throttle_after_three_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(many_addresses_hit_the_name_ceiling, setup, teardown),
      cmocka_unit_test_setup_teardown(running_checks_count_in_advance, setup, teardown),
      cmocka_unit_test_setup_teardown(name_protection_in_both_protocols, setup, teardown),
      cmocka_unit_test_setup_teardown(registration_takes_its_nick_back, setup, teardown),
      cmocka_unit_test_setup_teardown(change_password_and_unregister, setup, teardown),
      cmocka_unit_test_setup_teardown(password_change_takes_effect, setup, teardown),
      cmocka_unit_test_setup_teardown(passwords_with_spaces_in_passwd, setup, teardown),
      cmocka_unit_test_setup_teardown(busy_who_and_help, setup, teardown),
      cmocka_unit_test_setup_teardown(forget_orphans_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(sasl_plain, setup, teardown),
      cmocka_unit_test_setup_teardown(sasl_payloads_in_pieces, setup, teardown),
      cmocka_unit_test_setup_teardown(sasl_after_registration_and_before_a_nick, setup, teardown),
      cmocka_unit_test_setup_teardown(password_bounds_are_settings, setup, teardown),
      cmocka_unit_test_setup_teardown(nickserv_commands, setup, teardown),
      cmocka_unit_test_setup_teardown(server_password_for_text_users, setup, teardown),
  };
#ifdef UVCHAT_TEST_REDIS
  TR_REDIS_RUN_GROUP(&g_redis, tests);
#else
  return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
