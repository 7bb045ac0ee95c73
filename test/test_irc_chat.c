/* test_irc_chat.c: the real uvchat binary over real sockets, as IRC clients see it, and IRC
 * users meeting text (nc) users in the same rooms. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"

static th_server_t srv;

/* A server with an IRC listener on a free port. */
static int start_irc(void** state) {
  const char* args[] = {"--irc-port", "0", NULL};
  (void)state;
  th_server_start(&srv, args);
  return 0;
}

/* SIGTERM, a clean exit required. */
static int stop_server(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  return 0;
}

/* The greeting numerics, and nicks taken by IRC and text users alike. */
static void registration_numerics_and_nick_collision(void** state) {
  th_client_t *a, *b, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_connect(srv.irc_port, 0, 1);
  th_sendf(a, "CAP LS 302\r\nNICK alice\r\nUSER al 0 * :Alice L\r\n");
#ifdef UVCHAT_TEST_ACCOUNTS
  th_expect(a,
            ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify "
            "echo-message extended-join invite-notify labeled-response message-tags multi-prefix "
            "sasl=PLAIN "
            "server-time setname standard-replies userhost-in-names");
#else
  th_expect(
      a,
      ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify echo-message "
      "extended-join invite-notify labeled-response message-tags multi-prefix server-time setname "
      "standard-replies userhost-in-names");
#endif
  th_sendf(a, "CAP END\r\n");
  th_expect(a, ":uvchat 001 alice :Welcome to the uvchat Network, alice");
  th_expect_prefix(a, ":uvchat 002 alice :Your host is uvchat, running version uvchat-");
  th_expect_prefix(a, ":uvchat 003 alice :This server was created ");
  th_expect_prefix(a, ":uvchat 004 alice uvchat uvchat-");
  th_expect_prefix(a, ":uvchat 005 alice AWAYLEN=200 CASEMAPPING=ascii CHANLIMIT=#:20 ");
  th_expect_prefix(a, ":uvchat 005 alice INVEX=I MAXLIST=bI:50 TARGMAX=");
  th_expect(a, ":uvchat 005 alice MONITOR=100 NAMELEN=64 WHOX :are supported by this server");
  th_expect(a, ":uvchat 251 alice :There are 2 users and 0 invisible on 1 servers");
  th_expect(a, ":uvchat 254 alice 1 :channels formed");
  th_expect(a, ":uvchat 255 alice :I have 2 clients and 0 servers");
  th_expect(a, ":uvchat 265 alice 2 2 :Current local users 2, max 2");
  th_expect(a, ":uvchat 266 alice 2 2 :Current global users 2, max 2");
  th_expect(a, ":uvchat 422 alice :MOTD File is missing");
  th_expect(a,
            ":uvchat NOTICE alice :*** Plain-text users (nc, telnet) talk in #lobby; JOIN #lobby "
            "to meet them");
  th_sendf(a, "WHOIS alice\r\n"); /* in no room until it joins one */
  th_expect(a, ":uvchat 311 alice alice ~al uvchat * :Alice L");
  th_expect(a, ":uvchat 312 alice alice uvchat :uvchat chat server");
  th_expect(a, ":uvchat 318 alice alice :End of /WHOIS list");
  th_sendf(a, "JOIN #lobby\r\n");
  th_expect(a, ":alice!~al@uvchat JOIN #lobby");
  th_expect(a, ":uvchat 353 alice = #lobby :guest1 alice");
  th_expect(a, ":uvchat 366 alice #lobby :End of /NAMES list");
  th_expect(t, "*** alice joined #lobby");

  /* the same nick in another case, and a text user's nick, are taken */
  b = th_connect(srv.irc_port, 0, 1);
  th_sendf(b, "NICK ALICE\r\nNICK guest1\r\nNICK bob\r\n");
  th_expect(b, ":uvchat 433 * ALICE :Nickname is already in use");
  th_expect(b, ":uvchat 433 * guest1 :Nickname is already in use");
  th_sendf(t, "/nick bob\n"); /* bob is taken before b completes its registration */
  th_expect(t, "*** guest1 is now known as bob");
  th_sendf(b, "USER b 0 * :B\r\n");
  th_expect(b, ":uvchat 433 * bob :Nickname is already in use");
  th_sendf(b, "NICK bobby\r\n");
  th_expect(b, ":uvchat 001 bobby :Welcome to the uvchat Network, bobby");
  assert_non_null(th_skip_to(b, ":uvchat NOTICE bobby :*** Plain-text users", TH_WAIT_MS));
  th_sendf(b, "JOIN #lobby\r\n");
  th_expect_eventually(b, ":uvchat 353 bobby = #lobby :bob alice bobby");
  th_expect(a, ":guest1!text@uvchat NICK :bob");
  th_expect(a, ":bobby!~b@uvchat JOIN #lobby");
  /* and text users cannot take an IRC user's nick either */
  th_expect(t, "*** bobby joined #lobby");
  th_sendf(t, "/nick Alice\n");
  th_expect(t, "! the nick Alice is already taken");
  th_close(a);
  th_close(b);
  th_close(t);
}

/* Two IRC users: rooms, messages to rooms and nicks, actions, PART, 404 and QUIT. */
static void join_part_privmsg_quit(void** state) {
  th_client_t *a, *b;
  (void)state;
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  b = th_irc_connect_lobby(srv.irc_port, "bob");
  th_expect(a, ":bob!~bob@uvchat JOIN #lobby");
  th_sendf(a, "JOIN #dev\r\n");
  th_expect(a, ":alice!~alice@uvchat JOIN #dev");
  th_expect(a, ":uvchat 353 alice = #dev :@alice");
  th_expect(a, ":uvchat 366 alice #dev :End of /NAMES list");
  th_sendf(b, "JOIN #dev\r\n");
  th_expect(a, ":bob!~bob@uvchat JOIN #dev");
  th_expect(b, ":bob!~bob@uvchat JOIN #dev");
  th_expect(b, ":uvchat 353 bob = #dev :@alice bob");
  th_expect(b, ":uvchat 366 bob #dev :End of /NAMES list");

  th_sendf(a, "PRIVMSG #dev :hello dev\r\nPRIVMSG bob :just you\r\n");
  th_expect(b, ":alice!~alice@uvchat PRIVMSG #dev :hello dev");
  th_expect(b, ":alice!~alice@uvchat PRIVMSG bob :just you");
  th_sendf(b,
           "PRIVMSG #dev :\x01"
           "ACTION waves\x01\r\n");
  th_expect(a,
            ":bob!~bob@uvchat PRIVMSG #dev :\x01"
            "ACTION waves\x01");

  th_sendf(b, "PART #dev :later\r\n");
  th_expect(a, ":bob!~bob@uvchat PART #dev :later");
  th_expect(b, ":bob!~bob@uvchat PART #dev :later");
  th_sendf(b, "PRIVMSG #dev :knock knock\r\n");
  th_expect(b, ":uvchat 404 bob #dev :Cannot send to channel");

  th_sendf(b, "QUIT :bye now\r\n");
  th_expect(b, "ERROR :Closing Link: bob (Quit: bye now)");
  assert_true(th_wait_closed(b, TH_WAIT_MS));
  th_expect(a, ":bob!~bob@uvchat QUIT :Quit: bye now");
  th_close(a);
  th_close(b);
}

/* TOPIC, NAMES, WHO, WHOIS, LIST, MODE and KICK over real sockets. */
static void topic_names_who_whois_list(void** state) {
  th_client_t *a, *b;
  (void)state;
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  b = th_irc_connect_lobby(srv.irc_port, "bob");
  th_expect(a, ":bob!~bob@uvchat JOIN #lobby");
  th_sendf(a, "JOIN #dev\r\n");
  th_expect_eventually(a, ":uvchat 366 alice #dev :End of /NAMES list");
  th_sendf(a,
           "TOPIC #dev\r\nTOPIC #dev :all about \x02"
           "dev\x02\r\n");
  th_expect(a, ":uvchat 331 alice #dev :No topic is set");
  th_expect(a,
            ":alice!~alice@uvchat TOPIC #dev :all about \x02"
            "dev\x02");
  th_sendf(b, "JOIN #dev\r\n");
  th_expect(a, ":bob!~bob@uvchat JOIN #dev");
  th_expect(b, ":bob!~bob@uvchat JOIN #dev");
  th_expect(b,
            ":uvchat 332 bob #dev :all about \x02"
            "dev\x02");
  th_expect_prefix(b, ":uvchat 333 bob #dev alice ");
  th_expect(b, ":uvchat 353 bob = #dev :@alice bob");
  th_expect(b, ":uvchat 366 bob #dev :End of /NAMES list");
  th_sendf(b, "TOPIC #dev :mine now\r\n");
  th_expect(b, ":uvchat 482 bob #dev :You're not channel operator");

  th_sendf(b, "NAMES #dev\r\n");
  th_expect(b, ":uvchat 353 bob = #dev :@alice bob");
  th_expect(b, ":uvchat 366 bob #dev :End of /NAMES list");
  th_sendf(b, "WHO #dev\r\n");
  th_expect(b, ":uvchat 352 bob #dev ~alice uvchat uvchat alice H@ :0 Real alice");
  th_expect(b, ":uvchat 352 bob #dev ~bob uvchat uvchat bob H :0 Real bob");
  th_expect(b, ":uvchat 315 bob #dev :End of WHO list");
  th_sendf(b, "WHOIS alice\r\nWHOIS nobody\r\n");
  th_expect(b, ":uvchat 311 bob alice ~alice uvchat * :Real alice");
  th_expect(b, ":uvchat 319 bob alice :#lobby @#dev");
  th_expect(b, ":uvchat 312 bob alice uvchat :uvchat chat server");
  th_expect(b, ":uvchat 318 bob alice :End of /WHOIS list");
  th_expect(b, ":uvchat 401 bob nobody :No such nick/channel");
  th_expect(b, ":uvchat 318 bob nobody :End of /WHOIS list");
  th_sendf(b, "LIST #dev,#lobby\r\n");
  th_expect(b, ":uvchat 321 bob Channel :Users  Name");
  th_expect(b,
            ":uvchat 322 bob #dev 2 :all about \x02"
            "dev\x02");
  th_expect(b, ":uvchat 322 bob #lobby 2 :");
  th_expect(b, ":uvchat 323 bob :End of /LIST");
  th_sendf(a, "MODE #dev\r\nMODE #dev -t+o bob\r\n");
  th_expect(a, ":uvchat 324 alice #dev +nt");
  th_expect_prefix(a, ":uvchat 329 alice #dev ");
  th_expect(a, ":alice!~alice@uvchat MODE #dev -t");
  th_expect(a, ":alice!~alice@uvchat MODE #dev +o bob");
  th_expect(b, ":alice!~alice@uvchat MODE #dev -t");
  th_expect(b, ":alice!~alice@uvchat MODE #dev +o bob");
  th_sendf(b, "KICK #dev alice :my room now\r\n");
  th_expect(a, ":bob!~bob@uvchat KICK #dev alice :my room now");
  th_expect(b, ":bob!~bob@uvchat KICK #dev alice :my room now");
  th_close(a);
  th_close(b);
}

/* 451 before registration, then 421, 461, 411, 412, 431, 462, 401, 403 and 417. */
static void errors_for_unknown_commands_and_missing_parameters(void** state) {
  th_client_t* a;
  char big[700];
  (void)state;
  th_server_stop(&srv); /* 17 lines at once: past the default flood burst, which says so */
  th_server_free(&srv);
  {
    const char* args[] = {"--irc-port", "0", "--flood-burst", "50", NULL};
    th_server_start(&srv, args);
  }
  a = th_connect(srv.irc_port, 0, 1);
  th_sendf(a, "JOIN #lobby\r\nPING :early\r\n");
  th_expect(a, ":uvchat 451 * :You have not registered");
  th_expect(a, ":uvchat PONG uvchat :early");
  th_irc_register(a, "alice");
  assert_non_null(th_skip_to(a, ":uvchat NOTICE alice :*** Plain-text users", TH_WAIT_MS));
  th_sendf(a, "FROBNICATE\r\nJOIN\r\nPRIVMSG\r\nPRIVMSG alice\r\nNICK\r\nUSER a b c :d\r\n");
  th_expect(a, ":uvchat 421 alice FROBNICATE :Unknown command");
  th_expect(a, ":uvchat 461 alice JOIN :Not enough parameters");
  th_expect(a, ":uvchat 411 alice :No recipient given (PRIVMSG)");
  th_expect(a, ":uvchat 412 alice :No text to send");
  th_expect(a, ":uvchat 431 alice :No nickname given");
  th_expect(a, ":uvchat 462 alice :You may not reregister");
  th_sendf(a, "PRIVMSG nobody :x\r\nPRIVMSG #nowhere :x\r\nPART #nowhere\r\nJOIN nochan\r\n");
  th_expect(a, ":uvchat 401 alice nobody :No such nick/channel");
  th_expect(a, ":uvchat 403 alice #nowhere :No such channel");
  th_expect(a, ":uvchat 403 alice #nowhere :No such channel");
  th_expect(a, ":uvchat 403 alice nochan :No such channel");
  /* a line over 512 bytes is refused; the connection stays */
  memset(big, 'x', sizeof big);
  memcpy(big, "PRIVMSG #lobby :", 16);
  th_send(a, big, sizeof big);
  th_sendf(a, "\r\nPING :still here\r\n");
  th_expect(a, ":uvchat 417 alice :Input line was too long");
  th_expect(a, ":uvchat PONG uvchat :still here");
  th_close(a);
}

/* An IRC user and a text user in #lobby see each other, each in their own format. */
static void irc_and_text_users_meet(void** state) {
  th_client_t *a, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  th_expect(t, "*** alice joined #lobby");

  th_sendf(t, "hello from nc\n");
  th_expect(a, ":guest1!text@uvchat PRIVMSG #lobby :hello from nc");
  th_sendf(a,
           "PRIVMSG #lobby :hello from \x03"
           "4irc\x03\r\n");
  th_expect(t, "<alice> hello from irc");
  /* Every formatting code, colours with their digits, hex colours: a text user gets the
   * words alone (th_expect compares the whole line, byte for byte). */
  th_sendf(a,
           "PRIVMSG #lobby :\x03"
           "04,01red on black\x0f \x04"
           "FF8800,000000hex\x04 "
           "\x02"
           "b\x1d"
           "i\x1f"
           "u\x1e"
           "s\x11"
           "m\x16"
           "r\x0f 12\x03"
           "3,\r\n");
  th_expect(t, "<alice> red on black hex biusmr 12,");
  th_sendf(t, "/me waves\n");
  th_expect(a,
            ":guest1!text@uvchat PRIVMSG #lobby :\x01"
            "ACTION waves\x01");
  th_sendf(a,
           "PRIVMSG #lobby :\x01"
           "ACTION waves back\x01\r\n");
  th_expect(t, "* alice waves back");

  th_sendf(t, "/msg alice psst\n");
  th_expect(t, "[private to alice] psst");
  th_expect(a, ":guest1!text@uvchat PRIVMSG alice :psst");
  th_sendf(a, "PRIVMSG guest1 :got it\r\n");
  th_expect(t, "[private] <alice> got it");

  th_sendf(t, "/nick tom\n");
  th_expect(t, "*** guest1 is now known as tom");
  th_expect(a, ":guest1!text@uvchat NICK :tom");
  th_sendf(a, "NICK Alice2\r\n");
  th_expect(a, ":alice!~alice@uvchat NICK :Alice2");
  th_expect(t, "*** alice is now known as Alice2");

  th_sendf(a, "JOIN #dev\r\n");
  th_expect_eventually(a, ":uvchat 366 Alice2 #dev :End of /NAMES list");
  th_sendf(t, "/join #dev\n");
  th_expect(a, ":tom!text@uvchat PART #lobby");
  th_expect(a, ":tom!text@uvchat JOIN #dev");
  th_expect_eventually(t, "*** 2 people are in #dev. /who lists them.");
  th_sendf(a, "PART #dev :gone\r\n");
  th_expect(t, "*** Alice2 left #dev (gone)");
  th_expect(a, ":Alice2!~alice@uvchat PART #dev :gone");
  th_sendf(t, "/part\n");
  th_expect(a, ":tom!text@uvchat JOIN #lobby");
  th_expect(t, "*** tom left #dev");
  th_expect(t, "*** tom joined #lobby");

  th_sendf(a, "QUIT :see you\r\n");
  th_expect_eventually(t, "*** Alice2 left (quit: see you)");
  th_close(a);
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  th_expect(t, "*** alice joined #lobby");
  th_sendf(t, "/quit bye all\n");
  th_expect(a, ":tom!text@uvchat QUIT :Quit: bye all");
  th_close(a);
  th_close(t);
}

/* WHOIS of a text user who is away, and a CTCP VERSION the server answers for them. */
static void whois_and_ctcp_to_a_text_user(void** state) {
  th_client_t *a, *t;
  (void)state;
  t = th_text_connect(srv.port); /* guest1 */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  th_expect(t, "*** alice joined #lobby");
  th_sendf(t, "/away lunch\n");
  th_expect(t, "*** You are away: lunch");
  th_sendf(a, "WHOIS guest1\r\nPRIVMSG guest1 :\x01VERSION\x01\r\nPRIVMSG guest1 :hi\r\n");
  th_expect(a, ":uvchat 311 alice guest1 text uvchat * :text user");
  th_expect(a, ":uvchat 319 alice guest1 :#lobby");
  th_expect(a, ":uvchat 312 alice guest1 uvchat :uvchat chat server");
  th_expect(a, ":uvchat 301 alice guest1 :lunch");
  th_expect(a, ":uvchat 320 alice guest1 :is using a plain-text client (nc or telnet)");
  th_expect(a, ":uvchat 318 alice guest1 :End of /WHOIS list");
  th_expect_prefix(a, ":guest1!text@uvchat NOTICE alice :\x01VERSION uvchat-");
  th_expect(a, ":uvchat 301 alice guest1 :lunch");
  th_expect(t, "[private] <alice> hi");
  th_close(a);
  th_close(t);
}

/* With --ping-interval 2: a silent IRC client is pinged, may answer, and is dropped with an
 * ERROR when it stays silent; one that never registers is told so. (Not 1: the server checks
 * once a second, and a check that runs late under load could skip a one-second window
 * between "ping it" and "drop it".) */
static void ping_pong_and_timeouts(void** state) {
  th_client_t *a, *t, *late;
  const char* line;
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--irc-port", "0", "--ping-interval", "2", "--register-timeout",
                          "1",          NULL};
    th_server_start(&srv, args);
  }
  t = th_text_connect(srv.port); /* text users are never pinged */
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  th_expect(t, "*** alice joined #lobby");
  line = th_skip_to(a, "PING ", 8000);
  assert_non_null(line);
  assert_string_equal(line, "PING :uvchat");
  th_sendf(a, "PONG :uvchat\r\n");
  line = th_skip_to(a, "ERROR ", 15000);
  assert_non_null(line);
  if (strncmp(line, "ERROR :Closing Link: alice (ping timeout: ", 42) != 0)
    fail_msg("unexpected %s", line);
  assert_true(th_wait_closed(a, TH_WAIT_MS));
  line = th_skip_to(t, "*** alice was disconnected (ping timeout: ", TH_WAIT_MS);
  assert_non_null(line);

  late = th_connect(srv.irc_port, 0, 1);
  th_sendf(late, "NICK late\r\n");
  line = th_skip_to(late, "ERROR ", 10000);
  assert_non_null(line);
  assert_string_equal(line, "ERROR :Closing Link: * (registration timed out after 1 seconds)");
  assert_true(th_wait_closed(late, TH_WAIT_MS));
  th_close(a);
  th_close(t);
  th_close(late);
}

/* Flood control slows an IRC client that pastes: every line arrives in order, and the
 * client is told once, with a NOTICE from the server. */
static void paste_is_slowed_with_one_notice(void** state) {
  th_client_t *a, *b;
  char buf[64 * 40], want[96];
  const char* line;
  size_t n = 0;
  int i, told = 0;
  /* A burst of 20, then 20 a second (fewer under valgrind): a second notice would need the
   * bucket to fill again mid-paste, a pause of a whole second on a loaded machine. */
  unsigned rate = (unsigned)(20000 / th_ms(1000));
  char rate_s[16], told_s[160];
  (void)state;
  if (rate < 2) rate = 2;
  snprintf(rate_s, sizeof rate_s, "%u", rate);
  snprintf(told_s, sizeof told_s,
           ":uvchat NOTICE alice :*** slow down: your lines are being delayed to %u a second (none "
           "is lost)",
           rate);
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--irc-port", "0", "--flood-burst", "20", "--flood-rate", rate_s, NULL};
    th_server_start(&srv, args);
  }
  a = th_irc_connect_lobby(srv.irc_port, "alice");
  b = th_irc_connect_lobby(srv.irc_port, "bob");
  th_expect_eventually(a, ":bob!~bob@uvchat JOIN #lobby");
  for (i = 0; i < 40; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "PRIVMSG #lobby :pasted %02d\r\n", i);
  th_sendf(a, "PING :before\r\n"); /* sent before the paste: not slowed */
  th_expect_eventually(a, ":uvchat PONG uvchat :before");
  th_send(a, buf, n);
  th_sendf(a, "PING :after\r\n");
  for (i = 0; i < 40; i++) {
    snprintf(want, sizeof want, ":alice!~alice@uvchat PRIVMSG #lobby :pasted %02d", i);
    th_expect(b, want);
  }
  while ((line = th_line(a, TH_WAIT_MS)) != NULL && strcmp(line, ":uvchat PONG uvchat :after")) {
    if (strstr(line, "slow down") == NULL) continue;
    assert_string_equal(line, told_s);
    told++;
  }
  assert_non_null(line);
  assert_int_equal(told, 1);
  th_close(a);
  th_close(b);
}

/* --motd FILE: shown line by line; a missing file is a usage error (exit 2). */
static void motd_file(void** state) {
  th_server_t bad;
  th_client_t* a;
  const char* path = "test_irc_chat.motd";
  FILE* f = fopen(path, "wb");
  (void)state;
  assert_non_null(f);
  fputs("Welcome to the test server.\r\n\nBe kind.\n", f);
  fclose(f);
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--irc-port", "0", "--motd", path, NULL};
    th_server_start(&srv, args);
  }
  a = th_connect(srv.irc_port, 0, 1);
  th_irc_register(a, "alice");
  th_expect_eventually(a, ":uvchat 375 alice :- uvchat Message of the day - ");
  th_expect(a, ":uvchat 372 alice :- Welcome to the test server.");
  th_expect(a, ":uvchat 372 alice :- ");
  th_expect(a, ":uvchat 372 alice :- Be kind.");
  th_expect(a, ":uvchat 376 alice :End of /MOTD command.");
  th_close(a);
  remove(path);
  {
    const char* args[] = {"--port", "0", "--irc-port", "0", "--motd", "/nonexistent/motd", NULL};
    th_server_spawn(&bad, args);
  }
  assert_int_equal(th_server_wait(&bad, TH_WAIT_MS), 2);
  assert_true(th_server_logged(&bad, "cannot read the MOTD file '/nonexistent/motd'"));
  th_server_free(&bad);
}

/* --server-name and --irc-autojoin over real sockets: the greeting, the prefixes and PONG
 * name the server; the client is joined to the autojoin room (where a text user sees it
 * arrive) and told where the text users are. */
static void server_name_and_autojoin(void** state) {
  th_client_t *a, *t;
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  {
    const char* args[] = {"--irc-port", "0", "--server-name", "irc.test", "--irc-autojoin",
                          "#lobby",     NULL};
    th_server_start(&srv, args);
  }
  t = th_text_connect(srv.port);
  a = th_connect(srv.irc_port, 0, 1);
  th_irc_register(a, "alice");
  th_expect(a, ":irc.test 001 alice :Welcome to the irc.test Network, alice");
  th_expect_eventually(a, ":alice!~alice@irc.test JOIN #lobby");
  th_expect_eventually(a, ":irc.test 366 alice #lobby :End of /NAMES list");
  th_expect(a,
            ":irc.test NOTICE alice :*** Plain-text users (nc, telnet) talk in #lobby; JOIN "
            "#lobby to meet them");
  th_expect(t, "*** alice joined #lobby");
  th_sendf(a, "PING :tok\r\nWHO alice %nhs\r\n");
  th_expect(a, ":irc.test PONG irc.test :tok");
  th_expect(a, ":irc.test 354 alice irc.test irc.test alice");
  th_expect(a, ":irc.test 315 alice alice :End of WHO list");
  th_close(a);
  th_close(t);
}

/* MONITOR, WHOWAS, WHO masks, KICK pairs and long messages between real clients: alice
 * hears bob come and go, asks after him, kicks a text user (back to the lobby) and an IRC
 * user (who goes nowhere). */
static void monitor_whowas_kick_over_sockets(void** state) {
  th_client_t *a, *b, *t;
  char line[600];
  (void)state;
  a = th_irc_connect(srv.irc_port, "alice");
  th_sendf(a, "MONITOR + bob\r\n");
  th_expect(a, ":uvchat 731 alice :bob");
  b = th_irc_connect(srv.irc_port, "bob");
  th_expect(a, ":uvchat 730 alice :bob!~bob@uvchat");
  t = th_text_connect(srv.port); /* guest1, in #lobby */
  th_sendf(a, "WHO gu*\r\nJOIN #a,#b\r\n");
  th_expect(a, ":uvchat 352 alice #lobby text uvchat uvchat guest1 H :0 text user");
  th_expect(a, ":uvchat 315 alice gu* :End of WHO list");
  th_expect_eventually(a, ":uvchat 366 alice #b :End of /NAMES list");
  th_sendf(b, "JOIN #a,#b\r\n");
  th_expect_eventually(b, ":uvchat 366 bob #b :End of /NAMES list");
  th_sendf(t, "/join #a\n");
  th_expect_eventually(a, ":guest1!text@uvchat JOIN #a");
  /* a message that fits as sent but not with the prefix: one line for bob, all for guest1 */
  memset(line, 'w', sizeof line);
  memcpy(line, "PRIVMSG #a :", 12);
  memcpy(line + 12 + 495, "\r\n", 3);
  th_sendf(a, line);
  {
    const char* got = th_skip_to(b, ":alice!~alice@uvchat PRIVMSG #a :", TH_WAIT_MS);
    assert_non_null(got);
    assert_int_equal(strlen(got), 510); /* cut to 512 bytes with the CRLF */
  }
  {
    const char* got = th_skip_to(t, "<alice> ", TH_WAIT_MS);
    assert_non_null(got);
    assert_int_equal(strlen(got), strlen("<alice> ") + 495);
  }
  th_sendf(a, "KICK #a,#b guest1,bob :out\r\n");
  th_expect_eventually(a, ":alice!~alice@uvchat KICK #a guest1 :out");
  th_expect(a, ":alice!~alice@uvchat KICK #b bob :out");
  th_expect_eventually(t, "*** alice removed guest1 from #a (out)");
  th_expect_eventually(t, "*** guest1 joined #lobby"); /* back in the lobby */
  th_sendf(b, "WHOIS bob\r\n");
  th_expect_eventually(b, ":uvchat 319 bob bob :#a");
  th_sendf(b, "QUIT :bye\r\n");
  th_expect_eventually(a, ":uvchat 731 alice :bob");
  th_sendf(a, "WHOWAS bob\r\n");
  th_expect(a, ":uvchat 314 alice bob ~bob uvchat * :Real bob");
  th_expect_prefix(a, ":uvchat 312 alice bob uvchat :");
  th_expect(a, ":uvchat 369 alice bob :End of WHOWAS");
  th_close(a);
  th_close(b);
  th_close(t);
}

/* invite-notify and setname over sockets: two IRC clients with the capabilities in #dev,
 * a text user there too, and an IRC client without them. The other member hears of the
 * invitation and of the new real name; the text user sees neither (the next thing it gets
 * is the message that follows), nor does the client without the capabilities. */
static void invite_notify_and_setname(void** state) {
  th_client_t *a, *b, *c, *t;
  (void)state;
  a = th_irc_connect(srv.irc_port, "alice");
  th_sendf(a, "CAP REQ :invite-notify setname\r\n");
  th_expect(a, ":uvchat CAP alice ACK :invite-notify setname");
  th_irc_join(a, "alice", "#dev"); /* its operator */
  b = th_irc_connect(srv.irc_port, "bob");
  th_sendf(b, "CAP REQ :invite-notify setname\r\n");
  th_expect(b, ":uvchat CAP bob ACK :invite-notify setname");
  th_irc_join(b, "bob", "#dev");
  th_expect(a, ":bob!~bob@uvchat JOIN #dev");
  t = th_text_connect(srv.port); /* guest1 */
  th_sendf(t, "/join #dev\n");
  th_expect_eventually(t, "*** 3 people are in #dev. /who lists them.");
  th_expect(a, ":guest1!text@uvchat JOIN #dev");
  th_expect(b, ":guest1!text@uvchat JOIN #dev");
  c = th_irc_connect(srv.irc_port, "carol"); /* no capabilities, in no room */

  th_sendf(a, "INVITE carol #dev\r\n");
  th_expect(a, ":uvchat 341 alice carol #dev");
  th_expect(c, ":alice!~alice@uvchat INVITE carol #dev");
  th_expect(b, ":alice!~alice@uvchat INVITE carol #dev");

  th_sendf(b, "SETNAME :Bob the Builder\r\n");
  th_expect(b, ":bob!~bob@uvchat SETNAME :Bob the Builder");
  th_expect(a, ":bob!~bob@uvchat SETNAME :Bob the Builder");
  th_sendf(c, "SETNAME :Carol\r\nWHOIS carol\r\n"); /* without the capability: silent */
  th_expect(c, ":uvchat 311 carol carol ~carol uvchat * :Carol");
  th_expect_eventually(c, ":uvchat 318 carol carol :End of /WHOIS list");

  th_sendf(a, "PRIVMSG #dev :after\r\n");
  th_expect(t, "<alice> after"); /* nothing of the invitation or the real name before it */
  th_expect(b, ":alice!~alice@uvchat PRIVMSG #dev :after");
  th_sendf(c, "WHOIS bob\r\n");
  th_expect(c, ":uvchat 311 carol bob ~bob uvchat * :Bob the Builder"); /* and nothing before */
  th_close(a);
  th_close(b);
  th_close(c);
  th_close(t);
}

/* A second server on the same IRC port exits 1. */
static void irc_port_in_use(void** state) {
  th_server_t second;
  char port[16];
  (void)state;
  snprintf(port, sizeof port, "%d", srv.irc_port);
  {
    const char* args[] = {"--port", "0", "--irc-port", port, NULL};
    th_server_spawn(&second, args);
  }
  assert_int_equal(th_server_wait(&second, TH_WAIT_MS), 1);
  assert_true(th_server_logged(&second, "the port is already in use"));
  th_server_free(&second);
}

/* Each test gets its own server. */
#ifndef _WIN32
/* On SIGTERM an IRC client hears the shutdown notice and an ERROR line, as IRC clients
 * expect, then the server closes the connection and exits 0. */
static void shutdown_says_error_to_irc_clients(void** state) {
  th_client_t* a = th_irc_connect_lobby(srv.irc_port, "alice");
  (void)state;
  th_server_kill(&srv, SIGTERM);
  th_expect_eventually(a, ":uvchat NOTICE * :The server is shutting down. Goodbye!");
  th_expect(a, "ERROR :Closing Link: alice (server shutting down)");
  assert_true(th_wait_closed(a, TH_WAIT_MS));
  assert_int_equal(th_server_wait(&srv, 20000), 0);
  th_close(a);
}
#endif

/* The value of tag key in an IRC line ("" when absent), copied into out. */
static const char* tag_value(const char* line, const char* key, char* out, size_t cap) {
  size_t klen = strlen(key);
  const char* p = line + 1;
  const char* end = strchr(line, ' ');
  out[0] = '\0';
  if (line[0] != '@' || end == NULL) return out;
  while (p < end) {
    const char* semi = memchr(p, ';', (size_t)(end - p));
    const char* stop = semi != NULL ? semi : end;
    if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
      snprintf(out, cap, "%.*s", (int)(stop - p - (ptrdiff_t)klen - 1), p + klen + 1);
      return out;
    }
    p = stop + 1;
  }
  return out;
}

/* IRCv3 over real sockets: echo-message with labeled-response (the echo carries the label
 * and the same msgid and time the others got), a labeled-response batch, and TAGMSG. */
static void ircv3_echo_labels_and_batches(void** state) {
  th_client_t *a, *b;
  const char* line;
  char id_a[64], id_b[64], time_a[64], time_b[64];
  (void)state;
  a = th_irc_connect(srv.irc_port, "alice");
  b = th_irc_connect(srv.irc_port, "bob");
  th_sendf(a, "CAP REQ :echo-message server-time message-tags batch labeled-response\r\n");
  th_expect_eventually(a,
                       ":uvchat CAP alice ACK :echo-message server-time message-tags batch "
                       "labeled-response");
  th_sendf(b, "CAP REQ :server-time message-tags\r\nJOIN #e\r\n");
  th_expect(b, ":uvchat CAP bob ACK :server-time message-tags");
  th_expect_eventually(b, ":uvchat 366 bob #e :End of /NAMES list");
  th_sendf(a, "JOIN #e\r\n");
  th_expect_eventually(a, ":uvchat 366 alice #e :End of /NAMES list");
  th_skip_to(b, "@", TH_WAIT_MS); /* alice's JOIN */

  th_sendf(a, "@label=m1;+draft/reply=x PRIVMSG #e :hello\r\n");
  line = th_line(a, TH_WAIT_MS);
  assert_non_null(line);
  assert_string_equal(tag_value(line, "label", id_a, sizeof id_a), "m1");
  tag_value(line, "msgid", id_a, sizeof id_a);
  tag_value(line, "time", time_a, sizeof time_a);
  assert_non_null(strstr(line, ";+draft/reply=x :alice!~alice@uvchat PRIVMSG #e :hello"));
  line = th_line(b, TH_WAIT_MS);
  assert_non_null(line);
  tag_value(line, "msgid", id_b, sizeof id_b);
  tag_value(line, "time", time_b, sizeof time_b);
  assert_non_null(strstr(line, " :alice!~alice@uvchat PRIVMSG #e :hello"));
  assert_true(id_a[0] != '\0');
  assert_string_equal(id_a, id_b);           /* one message, one id */
  assert_string_equal(time_a, time_b);       /* and one time */
  assert_int_equal((int)strlen(time_a), 24); /* 2026-12-01T16:55:20.123Z */

  th_sendf(a, "@label=w1 WHOIS bob\r\n");
  th_expect(a, "@label=w1 :uvchat BATCH +1 labeled-response");
  th_expect_prefix(a, "@batch=1 :uvchat 311 alice bob ~bob uvchat * :");
  line = th_skip_to(a, ":uvchat BATCH -1", TH_WAIT_MS);
  assert_non_null(line);

  th_sendf(a, "@label=t1;+typing=active TAGMSG #e\r\n");
  th_expect_prefix(a, "@label=t1;time=");
  line = th_line(b, TH_WAIT_MS);
  assert_non_null(line);
  assert_non_null(strstr(line, ";+typing=active :alice!~alice@uvchat TAGMSG #e"));

  th_sendf(a, "@label=p1 PONG :x\r\n");
  th_expect(a, "@label=p1 :uvchat ACK");
  th_close(a);
  th_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(registration_numerics_and_nick_collision, start_irc,
                                      stop_server),
      cmocka_unit_test_setup_teardown(join_part_privmsg_quit, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(topic_names_who_whois_list, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(errors_for_unknown_commands_and_missing_parameters, start_irc,
                                      stop_server),
      cmocka_unit_test_setup_teardown(irc_and_text_users_meet, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(whois_and_ctcp_to_a_text_user, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(ping_pong_and_timeouts, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(paste_is_slowed_with_one_notice, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(motd_file, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(ircv3_echo_labels_and_batches, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(irc_port_in_use, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(server_name_and_autojoin, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(monitor_whowas_kick_over_sockets, start_irc, stop_server),
      cmocka_unit_test_setup_teardown(invite_notify_and_setname, start_irc, stop_server),
#ifndef _WIN32
      cmocka_unit_test_setup_teardown(shutdown_says_error_to_irc_clients, start_irc, stop_server),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
