/* irc.c: the adapter for IRC clients (irssi, WeeChat, HexChat...): registration, one command
 * table, numeric replies, and the rendering of core events as IRC lines.
 *
 * A session is registered when it is present in the core. Before that, the nick it asked
 * for waits in s->nick (valid and free when asked for; checked again on entering) and its
 * USER name in s->user; the rest of its state is the small irc_state_t in s->proto.
 *
 * Every line sent is at most 512 bytes with its CRLF: replies are cut at a character
 * boundary, and a long message from a text user is split over several lines.
 */
#include "uvchat/irc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uvchat/clean.h"
#include "uvchat/text.h"
#include "uvchat/version.h"
#include "uvchat/wsframe.h"
#ifdef UVCHAT_WITH_ACCOUNTS
#include <sodium.h>
#endif

#define CRLF          "\r\n"
#define OUT_MAX       (UVC_IRC_LINE - 2) /* bytes of a line before its CRLF */
#define BUF_SIZE      1024               /* a reply is formatted here, then cut to OUT_MAX */
#define REALNAME_MAX  64                 /* bytes of a USER realname that are kept */
#define TARGETS_MAX   4                  /* PRIVMSG, NOTICE and KICK targets (TARGMAX) */
#define MODES_MAX     4                  /* +o/-o changes in one MODE command (MODES) */
#define USERHOST_MAX  5                  /* nicks in one USERHOST */
#define ECHO_MAX      64                 /* bytes of a client's word repeated in an error */
#define CTCP_CMD_MAX  32                 /* longest CTCP command passed on */
#define VERSION_TEXT  "uvchat-" UVCHAT_VERSION
#define TEXT_REALNAME "text user"
#define SASL_CHUNK    400 /* AUTHENTICATE payloads come in pieces of this size */
#define NICKSERV      "NickServ"

/* Registration, user-mode and account flags. */
enum {
  IRC_GOT_USER = 1,   /* USER was given */
  IRC_PASS_OK = 2,    /* PASS matched the server password */
  IRC_CAP_OPEN = 4,   /* CAP LS/REQ before registration: wait for CAP END */
  IRC_INVISIBLE = 8,  /* user mode +i */
  IRC_CAP_302 = 16,   /* CAP LS 302 or later: capabilities are listed with their values */
  IRC_SASL_WAIT = 32, /* AUTHENTICATE PLAIN was accepted: the credentials come next */
  IRC_AUTH_BUSY = 64, /* an account operation is under way (registration waits for it) */
  IRC_AUTH_NS = 128   /* ... started through NickServ (else through SASL) */
};

/* Capabilities. Only those whose whole behaviour is implemented are offered: with a
 * single membership prefix (@), multi-prefix changes nothing, and userhost-in-names only
 * touches the NAMES reply, which is rendered for its asker alone. sasl is offered where
 * accounts are available. */
enum { CAP_MULTI_PREFIX = 1, CAP_USERHOST_IN_NAMES = 2, CAP_SASL = 4 };

typedef struct irc_cap {
  const char* name;
  const char* value; /* shown to CAP LS 302 clients as name=value, or NULL */
  uint8_t bit;
  uint8_t accounts; /* offered only where accounts are available */
} irc_cap_t;

static const irc_cap_t kCaps[] = {{"multi-prefix", NULL, CAP_MULTI_PREFIX, 0},
                                  {"sasl", "PLAIN", CAP_SASL, 1},
                                  {"userhost-in-names", NULL, CAP_USERHOST_IN_NAMES, 0},
                                  {NULL, NULL, 0, 0}};

typedef struct irc_state {
  uint16_t flags;
  uint8_t caps;
  char user[UVC_USER_MAX + 1]; /* "~" + the USER name; the session's user points here */
  char realname[];             /* NUL-terminated; grows when USER arrives */
} irc_state_t;

/* The server name for rendering, which has only the event to go by: the core's name, taken
 * when a session opens (one core per process). */
static const char* g_server = "uvchat";
/* Present sessions with user mode +i, for LUSERS (decreased when the session is freed). */
static uint32_t g_invisible;

/* ------------------------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------------------------- */

/* Whether s is an IRC session (with its state). */
static int is_irc(const uvc_session_t* s) {
  return s->adapter->on_line == uvc_irc_adapter.on_line && s->proto != NULL;
}

/* Whether s has user mode +i. */
static int is_invisible(const uvc_session_t* s) {
  return is_irc(s) && (((const irc_state_t*)s->proto)->flags & IRC_INVISIBLE) != 0;
}

/* The realname WHO and WHOIS show: USER's for IRC users, a fixed one for text users. */
static const char* realname_of(const uvc_session_t* s) {
  return is_irc(s) ? ((const irc_state_t*)s->proto)->realname : TEXT_REALNAME;
}

/* How numerics address s: its nick once registered, "*" before. */
static const char* client(const uvc_session_t* s) {
  return s->present ? s->nick : "*";
}

/* Whether a parameter equals a keyword, ignoring case. */
static int str_eq(const uvc_irc_str_t* x, const char* name) {
  return uvc_irc_is(x, name);
}

/* A copy of a client's word that is safe to repeat inside a reply: at most ECHO_MAX bytes,
 * and spaces, controls and non-ASCII bytes as '?' (so it stays one parameter). */
static const char* echo(const char* p, size_t n, char out[ECHO_MAX + 1]) {
  size_t i;
  if (n > ECHO_MAX) n = ECHO_MAX;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    out[i] = (c <= ' ' || c >= 0x7F || (i == 0 && c == ':')) ? '?' : (char)c;
  }
  if (n == 0) out[n++] = '*';
  out[n] = '\0';
  return out;
}

/* Whether a target is NickServ. */
static int is_nickserv(const uvc_irc_str_t* target) {
  return uvc_name_eq(target->p, target->n, NICKSERV, sizeof(NICKSERV) - 1);
}

/* The decimal number at the start of a parameter (0 when none; capped at 99999). */
static int atoi_n(const uvc_irc_str_t* x) {
  int v = 0;
  size_t i;
  for (i = 0; i < x->n && x->p[i] >= '0' && x->p[i] <= '9' && v < 10000; i++)
    v = v * 10 + (x->p[i] - '0');
  return v;
}

/* Cleans text (keeping IRC formatting) into the core's scratch buffer, cut to max bytes. */
static size_t clean_to_scratch(uvc_core_t* core, const char* text, size_t len, size_t max,
                               const char** out) {
  size_t n = uvc_clean_text(text, len, core->scratch, UVC_CLEAN_KEEP_IRC_FORMAT);
  *out = core->scratch;
  return uvc_utf8_cut(core->scratch, n, max);
}

/* Iterates the comma-separated items of a list: *pos is where to start; returns 0 at the
 * end. Empty items are skipped. */
static int next_item(const uvc_irc_str_t* list, size_t* pos, uvc_irc_str_t* item) {
  size_t i = *pos, start;
  while (i < list->n && list->p[i] == ',')
    i++;
  if (i >= list->n) return 0;
  start = i;
  while (i < list->n && list->p[i] != ',')
    i++;
  item->p = list->p + start;
  item->n = i - start;
  *pos = i;
  return 1;
}

/* ------------------------------------------------------------------------------------------
 * Replies
 * ---------------------------------------------------------------------------------------- */

/* Sends buf[0..n) plus CRLF to s alone, cut at a character boundary to fit one IRC line.
 * buf has room for OUT_MAX + 2 bytes. */
static void send_buf(uvc_core_t* core, uvc_session_t* s, char* buf, size_t n) {
  uvc_msg_t* m;
  n = uvc_utf8_cut(buf, n, OUT_MAX);
  memcpy(buf + n, CRLF, 2);
  m = uvc_msg_from(buf, n + 2);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* Formats into buf at offset `at` (a vsnprintf that reports what it wrote). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
static size_t
vformat(char* buf, size_t at, const char* fmt, va_list ap) {
  int n = vsnprintf(buf + at, BUF_SIZE - at, fmt, ap);
  if (n < 0) return at;
  return at + ((size_t)n < BUF_SIZE - at ? (size_t)n : BUF_SIZE - at - 1);
}

/* Sends one formatted line (no prefix added) to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
sendf(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  size_t n;
  va_start(ap, fmt);
  n = vformat(buf, 0, fmt, ap);
  va_end(ap);
  send_buf(core, s, buf, n);
}

/* Sends the numeric reply ":server NNN client <formatted>" to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
num(uvc_core_t* core, uvc_session_t* s, int code, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  int head = snprintf(buf, sizeof(buf), ":%s %03d %s ", core->server_name, code, client(s));
  size_t n;
  if (head < 0 || head >= (int)sizeof(buf)) return;
  va_start(ap, fmt);
  n = vformat(buf, (size_t)head, fmt, ap);
  va_end(ap);
  send_buf(core, s, buf, n);
}

/* Sends "ERROR :Closing Link: <nick or *> (<why>)" to s. */
static void closing_link(uvc_core_t* core, uvc_session_t* s, const char* why, size_t len) {
  sendf(core, s, "ERROR :Closing Link: %s (%.*s)", client(s), (int)len, why);
}

/* The prefix "nick!user@server" of a user, with an optional other nick. */
static int user_prefix(char* out, size_t cap, const uvc_session_t* u, const char* nick, int len) {
  int n = snprintf(out, cap, ":%.*s!%s@%s", len, nick, u->user, g_server);
  return n < 0 ? 0 : (n >= (int)cap ? (int)cap - 1 : n);
}

/* ------------------------------------------------------------------------------------------
 * Replies shared by several commands
 * ---------------------------------------------------------------------------------------- */

static void send_isupport(uvc_core_t* core, uvc_session_t* s) {
  num(core, s, 5,
      "AWAYLEN=%d CASEMAPPING=ascii CHANLIMIT=#:%d CHANMODES=,,,nt CHANNELLEN=%d CHANTYPES=# "
      "KICKLEN=%d MODES=%d NETWORK=%s NICKLEN=%d PREFIX=(o)@ TOPICLEN=%d USERLEN=%d "
      ":are supported by this server",
      UVC_AWAY_MAX, UVC_ROOMS_PER_USER, UVC_ROOM_MAX, UVC_REASON_MAX, MODES_MAX, core->server_name,
      UVC_NICK_MAX, UVC_TOPIC_MAX, UVC_USER_MAX);
  num(core, s, 5,
      "TARGMAX=JOIN:,KICK:%d,LIST:,NAMES:1,NOTICE:%d,PART:,PRIVMSG:%d,WHOIS:1 "
      ":are supported by this server",
      TARGETS_MAX, TARGETS_MAX, TARGETS_MAX);
}

/* 251, 254 and 255: people, rooms, connections (one server, no operators). */
static void send_lusers(uvc_core_t* core, uvc_session_t* s) {
  uint32_t all = core->n_present;
  uint32_t inv = g_invisible < all ? g_invisible : all;
  num(core, s, 251, ":There are %u users and %u invisible on 1 servers", (unsigned)(all - inv),
      (unsigned)inv);
  num(core, s, 254, "%u :channels formed", (unsigned)HASH_COUNT(core->rooms));
  num(core, s, 255, ":I have %u clients and 0 servers", (unsigned)all);
}

/* The message of the day, a 372 per line (cleaned, cut to fit), or 422 without one. */
static void send_motd(uvc_core_t* core, uvc_session_t* s) {
  const char* p = core->motd;
  if (p == NULL) {
    num(core, s, 422, ":MOTD File is missing");
    return;
  }
  num(core, s, 375, ":- %s Message of the day - ", core->server_name);
  while (*p != '\0') {
    const char* nl = strchr(p, '\n');
    size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
    const char* text;
    size_t len = uvc_utf8_cut(p, n, OUT_MAX);
    len = clean_to_scratch(core, p, len, OUT_MAX, &text);
    num(core, s, 372, ":- %.*s", (int)len, text);
    p += n;
    if (*p == '\n') p++;
  }
  num(core, s, 376, ":End of /MOTD command.");
}

/* 332 and 333 for a room with a topic; 331 without one, unless it answers a JOIN. */
static void send_topic(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room, int joining) {
  if (room->topic == NULL) {
    if (!joining) num(core, s, 331, "%s :No topic is set", room->name);
    return;
  }
  num(core, s, 332, "%s :%s", room->name, room->topic);
  num(core, s, 333, "%s %s %lld", room->name, room->topic_by, (long long)room->topic_at);
}

/* Whether a and b share a room. */
static int share_room(const uvc_session_t* a, const uvc_session_t* b) {
  unsigned r;
  for (r = 0; r < a->n_rooms; r++)
    if (uvc_session_in(b, uvc_session_membership_c(a, r)->room) != NULL) return 1;
  return 0;
}

/* Whether s may see u in WHO and NAMES: invisible users only show to who shares a room. */
static int visible_to(const uvc_session_t* s, const uvc_session_t* u) {
  return u == s || (!u->unseen && (!is_invisible(u) || share_room(s, u)));
}

/* 353 lines (as many as the members need) and 366 for room. Invisible members are left
 * out for someone who is not in the room. */
static void send_names(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  char buf[BUF_SIZE];
  const irc_state_t* st = s->proto;
  int in_room = uvc_session_in(s, room) != NULL;
  int full = st != NULL && (st->caps & CAP_USERHOST_IN_NAMES);
  int head =
      snprintf(buf, sizeof(buf), ":%s 353 %s = %s :", core->server_name, client(s), room->name);
  size_t n = (size_t)head;
  uint32_t i;
  for (i = 0; i < room->n_members; i++) {
    const uvc_session_t* u = room->members[i];
    char entry[128];
    int len;
    if ((!in_room && is_invisible(u)) || !uvc_session_listed(u, s)) continue;
    len = snprintf(entry, sizeof(entry), "%s%s%s%s%s%s", uvc_session_is_op(u, room) ? "@" : "",
                   u->nick, full ? "!" : "", full ? u->user : "", full ? "@" : "",
                   full ? g_server : "");
    if (len < 0 || len >= (int)sizeof(entry)) continue;
    if (n > (size_t)head && n + 1 + (size_t)len > OUT_MAX) {
      send_buf(core, s, buf, n);
      n = (size_t)head;
    }
    if (n > (size_t)head) buf[n++] = ' ';
    memcpy(buf + n, entry, (size_t)len);
    n += (size_t)len;
  }
  if (n > (size_t)head) send_buf(core, s, buf, n);
  num(core, s, 366, "%s :End of /NAMES list", room->name);
}

/* What a successful JOIN gets after its echo: the topic and the names. A room past the
 * announce limit is not listed on joining (nobody is told of its comings and goings, so a
 * client's list could not stay right, and listing it to each newcomer would cost the
 * square of its size): the names are only the newcomer's, and NAMES lists everyone. */
static void send_joined(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  send_topic(core, s, room, 1);
  if (core->announce_limit == 0 || room->n_members <= core->announce_limit) {
    send_names(core, s, room);
    return;
  }
  sendf(core, s,
        ":%s NOTICE %s :%s has %u members, too many to list on joining or to announce who "
        "comes and goes; NAMES %s lists them",
        core->server_name, s->nick, room->name, (unsigned)room->n_members, room->name);
  num(core, s, 353, "= %s :%s%s", room->name, uvc_session_is_op(s, room) ? "@" : "", s->nick);
  num(core, s, 366, "%s :End of /NAMES list", room->name);
}

/* ------------------------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------------------------- */

/* Completes the registration once NICK and USER are in and no CAP negotiation is open:
 * checks the password, enters the nick into the core, greets, and joins the default room. */
static void try_register(uvc_core_t* core, uvc_session_t* s) {
  irc_state_t* st = s->proto;
  char nick[UVC_NICK_MAX + 1];
  char when[64];
  size_t len = s->nick_len;
  time_t started = (time_t)core->started;
  struct tm* tm;
  uvc_room_t* room;
  int err;
  if (s->present || len == 0 || !(st->flags & IRC_GOT_USER) ||
      (st->flags & (IRC_CAP_OPEN | IRC_AUTH_BUSY)))
    return;
  if (core->password != NULL) {
    static const char kBad[] = "Password incorrect";
    static const char kWait[] = "Too many wrong passwords";
    uint64_t wait = uvc_core_address_wait(core, s, 0);
    if (wait != 0) { /* the address is throttled: not even the right password counts now */
      num(core, s, 464, ":Too many wrong passwords from your address; try again in %u seconds",
          (unsigned)((wait + 999) / 1000));
      closing_link(core, s, kWait, sizeof(kWait) - 1);
      uvc_core_request_close(core, s, UVC_LEAVE_QUIT, kWait, sizeof(kWait) - 1);
      return;
    }
    if (!(st->flags & IRC_PASS_OK)) {
      (void)uvc_core_address_wait(core, s, 1);
      num(core, s, 464, ":%s", kBad);
      closing_link(core, s, kBad, sizeof(kBad) - 1);
      uvc_core_request_close(core, s, UVC_LEAVE_QUIT, kBad, sizeof(kBad) - 1);
      return;
    }
  }
  memcpy(nick, s->nick, len);
  nick[len] = '\0';
  s->nick_len = 0; /* from now on s->nick is the core's */
  s->nick[0] = '\0';
  if (uvc_session_logged_in_as(s, nick, len)) /* SASL: its own nick, even from a ghost */
    (void)uvc_core_reclaim(core, s, nick, len);
  err = uvc_core_enter(core, s, nick, len);
  if (err == UVC_ENICK_TAKEN) {
    num(core, s, 433, "%s :Nickname is already in use", nick);
    return;
  }
  if (err == UVC_ENICK_REGISTERED) {
    num(core, s, 433,
        "%s :Nickname is registered; log in with SASL, or pick another nick and "
        "/msg NickServ IDENTIFY %s PASSWORD",
        nick, nick);
    return;
  }
  if (err == UVC_ENICK_INVALID || err == UVC_ENICK_RESERVED) {
    num(core, s, 432, "%s :Erroneous nickname", nick);
    return;
  }
  if (err != 0) {
    static const char kNoMem[] = "Server out of memory";
    closing_link(core, s, kNoMem, sizeof(kNoMem) - 1);
    uvc_core_request_close(core, s, UVC_LEAVE_LOST, NULL, 0);
    return;
  }
  if (((irc_state_t*)s->proto)->user[1] == '\0') { /* USER gave nothing usable: "~" + nick */
    char* user = ((irc_state_t*)s->proto)->user;
    size_t n = len < UVC_USER_MAX - 1 ? len : UVC_USER_MAX - 1;
    user[0] = '~';
    memcpy(user + 1, nick, n);
    user[n + 1] = '\0';
  }
  tm = gmtime(&started);
  if (tm == NULL || strftime(when, sizeof(when), "%a %b %d %Y at %H:%M:%S UTC", tm) == 0)
    snprintf(when, sizeof(when), "at %lld", (long long)core->started);
  num(core, s, 1, ":Welcome to the %s Network, %s", core->server_name, s->nick);
  num(core, s, 2, ":Your host is %s, running version %s", core->server_name, VERSION_TEXT);
  num(core, s, 3, ":This server was created %s", when);
  num(core, s, 4, "%s %s i not o", core->server_name, VERSION_TEXT);
  send_isupport(core, s);
  send_lusers(core, s);
  send_motd(core, s);
  if (uvc_core_join(core, s, core->lobby->name, core->lobby->name_len, 1, &room) == 0)
    send_joined(core, s, room);
}

/* ------------------------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------------------------- */

typedef void (*irc_fn)(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

enum { BEFORE = 1, AFTER = 2, ANY = 3 };

typedef struct irc_cmd {
  const char* name;
  irc_fn fn;
  uint8_t when;     /* BEFORE and/or AFTER registration; only BEFORE: 462 after */
  uint8_t min, max; /* parameters; more than max are ignored */
  uint8_t quiet;    /* NOTICE: never answered with an error */
  uint16_t none;    /* the numeric for no parameters at all (0: 461) */
  uint16_t few;     /* the numeric for some but too few (0: 461) */
} irc_cmd_t;

static void cmd_cap(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_pass(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_nick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_user(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_ping(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_pong(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_quit(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_join(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_part(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_privmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_irc_msg_t* m);
static void cmd_notice(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_topic(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_names(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_who(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_whois(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_list(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_kick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_away(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_ison(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_userhost(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                         const uvc_irc_msg_t* m);
static void cmd_motd(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_lusers(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
static void cmd_version(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_irc_msg_t* m);
static void cmd_authenticate(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                             const uvc_irc_msg_t* m);

static const irc_cmd_t kCommands[] = {
    /* name      handler       when    min max quiet none few */
    {"PRIVMSG", cmd_privmsg, AFTER, 2, 2, 0, 411, 412},
    {"NOTICE", cmd_notice, AFTER, 2, 2, 1, 0, 0},
    {"PING", cmd_ping, ANY, 1, 2, 0, 0, 0},
    {"PONG", cmd_pong, ANY, 0, 2, 0, 0, 0},
    {"JOIN", cmd_join, AFTER, 1, 2, 0, 0, 0},
    {"PART", cmd_part, AFTER, 1, 2, 0, 0, 0},
    {"MODE", cmd_mode, AFTER, 1, UVC_IRC_MAX_PARAMS, 0, 0, 0},
    {"WHO", cmd_who, AFTER, 1, 2, 0, 0, 0},
    {"WHOIS", cmd_whois, AFTER, 1, 2, 0, 431, 431},
    {"NAMES", cmd_names, AFTER, 0, 1, 0, 0, 0},
    {"TOPIC", cmd_topic, AFTER, 1, 2, 0, 0, 0},
    {"NICK", cmd_nick, ANY, 1, 1, 0, 431, 431},
    {"USER", cmd_user, BEFORE, 4, 4, 0, 0, 0},
    {"PASS", cmd_pass, BEFORE, 1, 1, 0, 0, 0},
    {"CAP", cmd_cap, ANY, 1, 2, 0, 0, 0},
    {"QUIT", cmd_quit, ANY, 0, 1, 0, 0, 0},
    {"KICK", cmd_kick, AFTER, 2, 3, 0, 0, 0},
    {"AWAY", cmd_away, AFTER, 0, 1, 0, 0, 0},
    {"ISON", cmd_ison, AFTER, 1, UVC_IRC_MAX_PARAMS, 0, 0, 0},
    {"USERHOST", cmd_userhost, AFTER, 1, USERHOST_MAX, 0, 0, 0},
    {"LIST", cmd_list, AFTER, 0, 2, 0, 0, 0},
    {"MOTD", cmd_motd, AFTER, 0, 1, 0, 0, 0},
    {"LUSERS", cmd_lusers, AFTER, 0, 2, 0, 0, 0},
    {"VERSION", cmd_version, AFTER, 0, 1, 0, 0, 0},
    {"AUTHENTICATE", cmd_authenticate, ANY, 1, 1, 0, 0, 0},
    {NULL, NULL, 0, 0, 0, 0, 0, 0}};

/* --- Connection registration ------------------------------------------------------------ */

/* CAP LS / LIST / REQ / END (IRCv3 capability negotiation). */
static void cmd_cap(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* sub = &m->params[0];
  const char* name = core->server_name;
  char list[BUF_SIZE];
  char word[ECHO_MAX + 1];
  size_t n = 0;
  const irc_cap_t* c;
  if (str_eq(sub, "LS") || str_eq(sub, "LIST")) {
    int ls = str_eq(sub, "LS");
    if (ls && !s->present) st->flags |= IRC_CAP_OPEN;
    if (ls && m->n >= 2 && atoi_n(&m->params[1]) >= 302) st->flags |= IRC_CAP_302;
    list[0] = '\0';
    for (c = kCaps; c->name != NULL; c++) {
      if (!ls && !(st->caps & c->bit)) continue;
      if (c->accounts && core->auth == NULL) continue;
      n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s%s%s", n ? " " : "", c->name,
                            ls && c->value && (st->flags & IRC_CAP_302) ? "=" : "",
                            ls && c->value && (st->flags & IRC_CAP_302) ? c->value : "");
    }
    sendf(core, s, ":%s CAP %s %s :%s", name, client(s), ls ? "LS" : "LIST", list);
  } else if (str_eq(sub, "REQ")) {
    const uvc_irc_str_t* req = &m->params[1];
    unsigned on = 0, off = 0;
    size_t i = 0;
    int ok = m->n >= 2;
    if (!s->present) st->flags |= IRC_CAP_OPEN;
    while (ok && i < (m->n >= 2 ? req->n : 0)) {
      size_t start, end;
      int neg;
      while (i < req->n && req->p[i] == ' ')
        i++;
      if (i == req->n) break;
      neg = req->p[i] == '-';
      start = i + (size_t)neg;
      end = start;
      while (end < req->n && req->p[end] != ' ')
        end++;
      for (c = kCaps; c->name != NULL; c++)
        if (strlen(c->name) == end - start && memcmp(c->name, req->p + start, end - start) == 0)
          break;
      if (c->name == NULL || (c->accounts && core->auth == NULL)) {
        ok = 0;
      } else if (neg) {
        off |= c->bit;
        on &= ~(unsigned)c->bit;
      } else {
        on |= c->bit;
        off &= ~(unsigned)c->bit;
      }
      i = end;
    }
    if (ok) st->caps = (uint8_t)((st->caps | on) & ~off);
    for (i = 0; m->n >= 2 && i < req->n && n < 400; i++) /* echoed as printable ASCII */
      list[n++] =
          (unsigned char)req->p[i] < ' ' || (unsigned char)req->p[i] >= 0x7F ? '?' : req->p[i];
    sendf(core, s, ":%s CAP %s %s :%.*s", name, client(s), ok ? "ACK" : "NAK", (int)n, list);
  } else if (str_eq(sub, "END")) {
    if (!s->present) {
      st->flags &= (uint16_t)~IRC_CAP_OPEN;
      try_register(core, s);
    }
  } else {
    num(core, s, 410, "%s :Invalid CAP command", echo(sub->p, sub->n, word));
  }
}

/* PASS: remembered as matching or not (compared in constant time); checked when
 * registration completes. */
static void cmd_pass(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)s;
  if (uvc_core_check_password(core, m->params[0].p, m->params[0].n))
    st->flags |= IRC_PASS_OK;
  else
    st->flags &= (uint16_t)~IRC_PASS_OK;
}

/* --- Accounts: SASL and NickServ --------------------------------------------------------- */

/* The client's nick!user@host for 900 and 901 ("*" for a nick not yet asked for). */
static void mask_of(const uvc_session_t* s, char* out, size_t cap) {
  snprintf(out, cap, "%s!%s@%s", s->nick_len > 0 || s->present ? s->nick : "*",
           s->user[0] != '\0' ? s->user : "*", g_server);
}

/* 900 RPL_LOGGEDIN for account. */
static void logged_in(uvc_core_t* core, uvc_session_t* s, const char* account) {
  char mask[UVC_NICK_MAX + UVC_USER_MAX + 64];
  mask_of(s, mask, sizeof(mask));
  num(core, s, 900, "%s %s :You are now logged in as %s", mask, account, account);
}

/* 901 RPL_LOGGEDOUT. */
static void logged_out(uvc_core_t* core, uvc_session_t* s) {
  char mask[UVC_NICK_MAX + UVC_USER_MAX + 64];
  mask_of(s, mask, sizeof(mask));
  num(core, s, 901, "%s :You are now logged out", mask);
}

/* A NOTICE from NickServ to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
ns_notice(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  int head =
      snprintf(buf, sizeof(buf), ":" NICKSERV "!service@%s NOTICE %s :", g_server, client(s));
  size_t n;
  if (head < 0 || head >= (int)sizeof(buf)) return;
  va_start(ap, fmt);
  n = vformat(buf, (size_t)head, fmt, ap);
  va_end(ap);
  send_buf(core, s, buf, n);
}

/* Starts an account operation for s on behalf of SASL (ns 0) or NickServ (ns 1); the
 * answer comes in irc_on_auth. */
static void auth_start(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, int ns,
                       uvc_auth_op_t op, const char* name, size_t nlen, const char* a, size_t alen,
                       const char* b, size_t blen) {
  st->flags |= IRC_AUTH_BUSY;
  if (ns)
    st->flags |= IRC_AUTH_NS;
  else
    st->flags &= (uint16_t)~IRC_AUTH_NS;
  uvc_core_auth(core, s, op, name, nlen, a, alen, b, blen);
}

/* AUTHENTICATE (SASL, IRCv3): PLAIN only. "AUTHENTICATE PLAIN" is answered "AUTHENTICATE +";
 * then one base64 payload of authzid NUL authcid NUL password (an authzid must be empty or
 * equal the authcid). 903 or 904 follow once the password is checked; 905 for a payload
 * too long for any account, 906 for "AUTHENTICATE *", 907 once logged in, 908 and 904 for
 * another mechanism. */
static void cmd_authenticate(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                             const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* p = &m->params[0];
  if (p->n == 1 && p->p[0] == '*') {
    st->flags &= (uint16_t)~IRC_SASL_WAIT;
    num(core, s, 906, ":SASL authentication aborted");
    return;
  }
  if (st->flags & IRC_AUTH_BUSY) {
    num(core, s, 904, ":SASL authentication failed: an account operation is already under way");
    return;
  }
  if (!(st->flags & IRC_SASL_WAIT)) { /* the mechanism */
    if (uvc_session_account(s) != NULL) {
      num(core, s, 907, ":You have already authenticated using SASL");
    } else if (core->auth == NULL) {
      num(core, s, 904, ":SASL authentication failed: %s", uvc_strerror(UVC_EAUTH_UNAVAILABLE));
    } else if (!str_eq(p, "PLAIN")) {
      num(core, s, 908, "PLAIN :are available SASL mechanisms");
      num(core, s, 904, ":SASL authentication failed");
    } else {
      st->flags |= IRC_SASL_WAIT;
      sendf(core, s, "AUTHENTICATE +");
    }
    return;
  }
  st->flags &= (uint16_t)~IRC_SASL_WAIT;
  if (p->n >= SASL_CHUNK) { /* would go on in another piece: longer than any credentials */
    num(core, s, 905, ":SASL message too long");
    return;
  }
#ifdef UVCHAT_WITH_ACCOUNTS
  {
    /* authzid (<= a nick) NUL authcid (a nick) NUL password: it fits or it is wrong */
    unsigned char raw[SASL_CHUNK * 3 / 4];
    size_t len = 0, i, j;
    if (p->n == 1 && p->p[0] == '+') p = NULL; /* empty */
    if (p == NULL || sodium_base642bin(raw, sizeof(raw), m->params[0].p, m->params[0].n, NULL, &len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
      num(core, s, 904, ":SASL authentication failed: malformed PLAIN credentials");
      sodium_memzero(raw, sizeof(raw));
      return;
    }
    for (i = 0; i < len && raw[i] != '\0'; i++) {
    }
    for (j = i + 1; j < len && raw[j] != '\0'; j++) {
    }
    if (j >= len ||
        (i > 0 && !uvc_name_eq((const char*)raw, i, (const char*)raw + i + 1, j - i - 1))) {
      num(core, s, 904, ":SASL authentication failed: malformed PLAIN credentials");
    } else {
      auth_start(core, s, st, 0, UVC_AUTH_LOGIN, (const char*)raw + i + 1, j - i - 1,
                 (const char*)raw + j + 1, len - j - 1, NULL, 0);
    }
    sodium_memzero(raw, sizeof(raw));
  }
#else
  num(core, s, 904, ":SASL authentication failed: %s", uvc_strerror(UVC_EAUTH_UNAVAILABLE));
#endif
}

/* NickServ's help. */
static void ns_help(uvc_core_t* core, uvc_session_t* s) {
  ns_notice(core, s, "NickServ keeps registered nicks. Commands:");
  ns_notice(core, s,
            "  REGISTER password          register your current nick; you are then logged in");
  ns_notice(core, s,
            "  IDENTIFY [account] password  log in (to your current nick's account by default)");
  ns_notice(core, s,
            "  LOGOUT                     log out; a registered nick you hold is given up");
  ns_notice(core, s,
            "  SET PASSWORD old new       change your account's password (\"quote\" spaces)");
  ns_notice(core, s, "  DROP password              delete your account");
  ns_notice(core, s, "Clients can also log in at connection time with SASL PLAIN.");
}

/* Whether word w is the keyword k (any case). */
static int is_word(const uvc_slice_t* w, const char* k) {
  return uvc_name_eq(w->p, w->n, k, strlen(k));
}

/* PRIVMSG NickServ :COMMAND args: the account service of IRC users (words separated by
 * spaces; SET PASSWORD also takes "quoted" passwords with spaces). The text, with its password,
 * is cleaned into the core's scratch buffer, and wiped there once handled. */
static void nickserv(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_str_t* t) {
  char* text = core->scratch;
  size_t len = uvc_clean_text(t->p, t->n, text, 0);
  uvc_slice_t w[4];
  int n = uvc_split_words(text, len, 4, 0, w);
  char word[ECHO_MAX + 1];
  if (n == 0 || is_word(&w[0], "HELP")) {
    ns_help(core, s);
  } else if (core->auth == NULL) {
    ns_notice(core, s, "%s", uvc_strerror(UVC_EAUTH_UNAVAILABLE));
  } else if (st->flags & IRC_AUTH_BUSY) {
    ns_notice(core, s, "%s; wait for its answer", uvc_strerror(UVC_EAUTH_BUSY));
  } else if (is_word(&w[0], "REGISTER")) { /* REGISTER password [email] */
    if (n < 2 || n > 3)
      ns_notice(core, s, "Syntax: REGISTER password");
    else
      auth_start(core, s, st, 1, UVC_AUTH_REGISTER, NULL, 0, w[1].p, w[1].n, NULL, 0);
  } else if (is_word(&w[0], "IDENTIFY")) {
    if (n == 2)
      auth_start(core, s, st, 1, UVC_AUTH_LOGIN, s->nick, s->nick_len, w[1].p, w[1].n, NULL, 0);
    else if (n == 3)
      auth_start(core, s, st, 1, UVC_AUTH_LOGIN, w[1].p, w[1].n, w[2].p, w[2].n, NULL, 0);
    else
      ns_notice(core, s, "Syntax: IDENTIFY [account] password");
  } else if (is_word(&w[0], "LOGOUT")) {
    auth_start(core, s, st, 1, UVC_AUTH_LOGOUT, NULL, 0, NULL, 0, NULL, 0);
  } else if (is_word(&w[0], "SET")) { /* SET PASSWORD old new: "quoted" with spaces */
    uvc_slice_t pw[2];
    n = uvc_split_words(text, len, 3, 1, w);
    if (n != 3 || !is_word(&w[1], "PASSWORD") ||
        uvc_split_quoted((char*)w[2].p, w[2].n, 2, pw) != 2)
      ns_notice(core, s,
                "Syntax: SET PASSWORD old new (a password with spaces goes in double quotes: "
                "SET PASSWORD \"old words\" \"new words\")");
    else
      auth_start(core, s, st, 1, UVC_AUTH_PASSWD, NULL, 0, pw[0].p, pw[0].n, pw[1].p, pw[1].n);
  } else if (is_word(&w[0], "DROP")) {
    if (n != 2)
      ns_notice(core, s, "Syntax: DROP password");
    else
      auth_start(core, s, st, 1, UVC_AUTH_UNREGISTER, NULL, 0, w[1].p, w[1].n, NULL, 0);
  } else {
    ns_notice(core, s, "Unknown command %s; /msg NickServ HELP lists them",
              echo(w[0].p, w[0].n, word));
  }
  uvc_wipe(text, len);
}

/* The answer to an account operation: SASL numerics for a SASL login, NickServ notices
 * (and 900/901) for the rest, including being logged out because someone deleted the
 * account. A registration that waited for the answer goes on. */
static void irc_on_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, int status,
                        const char* account, const char* detail) {
  irc_state_t* st = s->proto;
  int sasl;
  if (st == NULL) return;
  sasl = (st->flags & IRC_AUTH_BUSY) && !(st->flags & IRC_AUTH_NS);
  st->flags &= (uint16_t) ~(IRC_AUTH_BUSY | IRC_AUTH_NS);
  if (account == NULL) account = uvc_session_account(s) != NULL ? uvc_session_account(s) : "*";
  if (sasl) {
    if (status == 0) {
      logged_in(core, s, account);
      num(core, s, 903, ":SASL authentication successful");
      if (detail != NULL) ns_notice(core, s, "%s", detail);
    } else {
      num(core, s, 904, ":SASL authentication failed: %s",
          detail != NULL ? detail : uvc_strerror(status));
    }
  } else if (status != 0) {
    ns_notice(core, s, "%s", detail != NULL ? detail : uvc_strerror(status));
  } else {
    switch (op) {
      case UVC_AUTH_REGISTER:
        ns_notice(core, s, "Account %s registered; you are logged in", account);
        logged_in(core, s, account);
        break;
      case UVC_AUTH_LOGIN:
        ns_notice(core, s, "You are now logged in as %s", account);
        logged_in(core, s, account);
        break;
      case UVC_AUTH_LOGOUT:
        if (detail != NULL)
          ns_notice(core, s, "You are logged out: %s", detail);
        else
          ns_notice(core, s, "You are logged out of %s", account);
        logged_out(core, s);
        detail = NULL;
        break;
      case UVC_AUTH_PASSWD:
        ns_notice(core, s, "The password of %s was changed", account);
        break;
      case UVC_AUTH_UNREGISTER:
        ns_notice(core, s, "Account %s deleted; you are logged out", account);
        logged_out(core, s);
        break;
    }
    if (detail != NULL) ns_notice(core, s, "Note: %s", detail);
  }
  if (!s->present) try_register(core, s);
}

/* NICK: before registration, asks for a nick; after, renames (the core tells everyone). */
static void cmd_nick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* nick = &m->params[0];
  char word[ECHO_MAX + 1];
  int err;
  (void)st;
  if (nick->n == 0) {
    num(core, s, 431, ":No nickname given");
    return;
  }
  if (!s->present) {
    if (!uvc_nick_valid(nick->p, nick->n)) {
      num(core, s, 432, "%s :Erroneous nickname", echo(nick->p, nick->n, word));
    } else if (uvc_core_reserved(nick->p, nick->n)) {
      num(core, s, 432, "%.*s :Nickname is reserved for a service", (int)nick->n, nick->p);
    } else if (uvc_core_find(core, nick->p, nick->n) != NULL &&
               uvc_core_registered(core, nick->p, nick->n) == NULL) {
      /* (a registered nick is checked at the end of registration: SASL may log the client
       * in to it before, and then it takes it back even from another connection) */
      num(core, s, 433, "%.*s :Nickname is already in use", (int)nick->n, nick->p);
    } else {
      memcpy(s->nick, nick->p, nick->n);
      s->nick[nick->n] = '\0';
      s->nick_len = (uint8_t)nick->n;
      try_register(core, s);
    }
    return;
  }
  err = uvc_core_rename(core, s, nick->p, nick->n);
  if (err == UVC_ENICK_INVALID)
    num(core, s, 432, "%s :Erroneous nickname", echo(nick->p, nick->n, word));
  else if (err == UVC_ENICK_RESERVED)
    num(core, s, 432, "%.*s :Nickname is reserved for a service", (int)nick->n, nick->p);
  else if (err == UVC_ENICK_TAKEN)
    num(core, s, 433, "%.*s :Nickname is already in use", (int)nick->n, nick->p);
  else if (err == UVC_ENICK_REGISTERED)
    num(core, s, 433,
        "%.*s :Nickname is registered; log in first (/msg NickServ IDENTIFY %.*s "
        "PASSWORD)",
        (int)nick->n, nick->p, (int)nick->n, nick->p);
}

/* Whether c may be part of a user name shown in nick!user@host. */
static int user_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

/* USER name mode unused :realname. The user name becomes "~name" (cut to fit). */
static void cmd_user(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* name = &m->params[0];
  const char* real;
  size_t i, n = 1, rlen;
  irc_state_t* grown;
  st->user[0] = '~';
  for (i = 0; i < name->n && n < UVC_USER_MAX; i++)
    if (user_char(name->p[i])) st->user[n++] = name->p[i];
  st->user[n] = '\0';
  rlen = clean_to_scratch(core, m->params[3].p, m->params[3].n, REALNAME_MAX, &real);
  grown = realloc(st, sizeof(*st) + rlen + 1);
  if (grown != NULL) {
    memcpy(grown->realname, real, rlen);
    grown->realname[rlen] = '\0';
    s->proto = grown;
    s->user = grown->user; /* it moved */
  }
  ((irc_state_t*)s->proto)->flags |= IRC_GOT_USER;
  try_register(core, s);
}

/* PING token: PONG with the token (cleaned: it comes back as it went, without controls). */
static void cmd_ping(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* token;
  size_t len = clean_to_scratch(core, m->params[0].p, m->params[0].n, OUT_MAX, &token);
  (void)st;
  sendf(core, s, ":%s PONG %s :%.*s", core->server_name, core->server_name, (int)len, token);
}

/* PONG: nothing to do; any line counts as activity for the connection layer. */
static void cmd_pong(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)core;
  (void)s;
  (void)st;
  (void)m;
}

/* QUIT [:reason]: an ERROR line, then the connection layer closes and tells the rooms. */
static void cmd_quit(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* text = NULL;
  size_t len = 0;
  char why[UVC_REASON_MAX + 16];
  int n;
  (void)st;
  if (m->n > 0) len = clean_to_scratch(core, m->params[0].p, m->params[0].n, UVC_REASON_MAX, &text);
  n = len > 0 ? snprintf(why, sizeof(why), "Quit: %.*s", (int)len, text)
              : snprintf(why, sizeof(why), "Client Quit");
  closing_link(core, s, why, n > 0 ? (size_t)n : 0);
  uvc_core_request_close(core, s, UVC_LEAVE_QUIT, text, len);
}

/* --- Channels --------------------------------------------------------------------------- */

/* JOIN #a,#b [keys] (keys are ignored: there are none); JOIN 0 leaves every room. */
static void cmd_join(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* list = &m->params[0];
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  int any = 0;
  (void)st;
  if (list->n == 1 && list->p[0] == '0') {
    while (s->n_rooms > 0)
      uvc_core_part(core, s, uvc_session_membership(s, s->n_rooms - 1u)->room, NULL, 0);
    return;
  }
  while (next_item(list, &pos, &item)) {
    uvc_room_t* room;
    int err;
    any = 1;
    if (item.p[0] != '#') {
      num(core, s, 403, "%s :No such channel", echo(item.p, item.n, word));
      continue;
    }
    if (uvc_room_problem(item.p, item.n) != NULL) {
      num(core, s, 476, "%s :Bad Channel Mask", echo(item.p, item.n, word));
      continue;
    }
    err = uvc_core_join(core, s, item.p, item.n, 1, &room);
    if (err == 0)
      send_joined(core, s, room);
    else if (err == UVC_ETOO_MANY_ROOMS)
      num(core, s, 405, "%.*s :You have joined too many channels", (int)item.n, item.p);
    else if (err != UVC_EALREADY_IN_ROOM)
      num(core, s, 400, "JOIN :%s", uvc_strerror(err));
  }
  if (!any) num(core, s, 461, "JOIN :Not enough parameters");
}

/* The room a channel parameter names, or NULL after answering 403. */
static uvc_room_t* find_room(uvc_core_t* core, uvc_session_t* s, const uvc_irc_str_t* name,
                             int quiet) {
  uvc_room_t* room = uvc_core_room(core, name->p, name->n);
  char word[ECHO_MAX + 1];
  if (room == NULL && !quiet)
    num(core, s, 403, "%s :No such channel", echo(name->p, name->n, word));
  return room;
}

/* PART #a,#b [:reason] */
static void cmd_part(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_irc_str_t item;
  const char* text = NULL;
  size_t pos = 0, len = 0;
  (void)st;
  if (m->n > 1) len = clean_to_scratch(core, m->params[1].p, m->params[1].n, UVC_REASON_MAX, &text);
  while (next_item(&m->params[0], &pos, &item)) {
    uvc_room_t* room = find_room(core, s, &item, 0);
    if (room != NULL && uvc_core_part(core, s, room, text, len) == UVC_ENOT_IN_ROOM)
      num(core, s, 442, "%s :You're not on that channel", room->name);
  }
}

/* TOPIC #room: 331 or 332/333. TOPIC #room :text sets it (empty text clears it). */
static void cmd_topic(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_room_t* room = find_room(core, s, &m->params[0], 0);
  const char* text;
  size_t len;
  int err;
  (void)st;
  if (room == NULL) return;
  if (m->n < 2) {
    send_topic(core, s, room, 0);
    return;
  }
  len = clean_to_scratch(core, m->params[1].p, m->params[1].n, UVC_TOPIC_MAX, &text);
  err = uvc_core_set_topic(core, s, room, text, len);
  if (err == UVC_ENOT_IN_ROOM)
    num(core, s, 442, "%s :You're not on that channel", room->name);
  else if (err == UVC_ENOT_OPERATOR)
    num(core, s, 482, "%s :You're not channel operator", room->name);
}

/* NAMES #room (one room: TARGMAX NAMES:1, so one short line cannot ask for the members of
 * a big room many times over); with no channel, only the end marker. */
static void cmd_names(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  uvc_room_t* room;
  (void)st;
  if (m->n == 0 || !next_item(&m->params[0], &pos, &item)) {
    num(core, s, 366, "* :End of /NAMES list");
    return;
  }
  room = uvc_core_room(core, item.p, item.n);
  if (room != NULL)
    send_names(core, s, room);
  else
    num(core, s, 366, "%s :End of /NAMES list", echo(item.p, item.n, word));
}

/* One 352 line: u as seen in room (NULL: in no particular room). */
static void who_line(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room,
                     const uvc_session_t* u) {
  int op = room != NULL && uvc_session_is_op(u, room);
  num(core, s, 352, "%s %s %s %s %s %c%s :0 %s", room != NULL ? room->name : "*", u->user, g_server,
      core->server_name, u->nick, uvc_session_away(u) != NULL ? 'G' : 'H', op ? "@" : "",
      realname_of(u));
}

/* WHO #room or WHO nick (no masks): 352 lines, then 315. */
static void cmd_who(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* mask = &m->params[0];
  char word[ECHO_MAX + 1];
  (void)st;
  if (mask->n > 0 && mask->p[0] == '#') {
    uvc_room_t* room = uvc_core_room(core, mask->p, mask->n);
    if (room != NULL) {
      int in_room = uvc_session_in(s, room) != NULL;
      uint32_t i;
      for (i = 0; i < room->n_members; i++)
        if ((in_room || !is_invisible(room->members[i])) && uvc_session_listed(room->members[i], s))
          who_line(core, s, room, room->members[i]);
    }
  } else {
    uvc_session_t* u = uvc_core_find(core, mask->p, mask->n);
    if (u != NULL && visible_to(s, u)) who_line(core, s, uvc_session_room(u), u);
  }
  num(core, s, 315, "%s :End of WHO list", echo(mask->p, mask->n, word));
}

/* WHOIS [server] nick: 311, 319, 312, 301, 320 (text users), 330 (logged in), 318; 401
 * when nobody. NickServ is a service: 311, 312, 313. */
static void cmd_whois(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* target = &m->params[m->n >= 2 ? 1 : 0];
  uvc_session_t* u = uvc_core_find(core, target->p, target->n);
  char word[ECHO_MAX + 1];
  (void)st;
  echo(target->p, target->n, word);
  if (is_nickserv(target)) {
    num(core, s, 311, NICKSERV " service %s * :Account services", g_server);
    num(core, s, 312, NICKSERV " %s :uvchat chat server", core->server_name);
    num(core, s, 313, NICKSERV " :is a network service");
    num(core, s, 318, NICKSERV " :End of /WHOIS list");
    return;
  }
  if (u == NULL) {
    num(core, s, 401, "%s :No such nick/channel", word);
  } else {
    char buf[BUF_SIZE];
    int head;
    size_t n;
    unsigned r;
    num(core, s, 311, "%s %s %s * :%s", u->nick, u->user, g_server, realname_of(u));
    head = snprintf(buf, sizeof(buf), ":%s 319 %s %s :", core->server_name, client(s), u->nick);
    n = (size_t)head;
    for (r = 0; r < u->n_rooms; r++) {
      const uvc_membership_t* mb = uvc_session_membership_c(u, r);
      size_t len = mb->room->name_len + ((mb->flags & UVC_MEMBER_OP) ? 1u : 0u);
      if (n > (size_t)head && n + 1 + len > OUT_MAX) {
        send_buf(core, s, buf, n);
        n = (size_t)head;
      }
      if (n > (size_t)head) buf[n++] = ' ';
      if (mb->flags & UVC_MEMBER_OP) buf[n++] = '@';
      memcpy(buf + n, mb->room->name, mb->room->name_len);
      n += mb->room->name_len;
    }
    if (n > (size_t)head) send_buf(core, s, buf, n);
    num(core, s, 312, "%s %s :uvchat chat server", u->nick, core->server_name);
    if (uvc_session_away(u) != NULL) num(core, s, 301, "%s :%s", u->nick, uvc_session_away(u));
    if (!is_irc(u)) num(core, s, 320, "%s :is using a plain-text client (nc or telnet)", u->nick);
    if (uvc_session_account(u) != NULL)
      num(core, s, 330, "%s %s :is logged in as", u->nick, uvc_session_account(u));
  }
  num(core, s, 318, "%s :End of /WHOIS list", word);
}

/* One 322 line. */
static void list_line(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  num(core, s, 322, "%s %u :%s", room->name, (unsigned)room->n_members,
      room->topic != NULL ? room->topic : "");
}

/* LIST, or LIST #a,#b: 321, 322 per room, 323. A first parameter that is not a channel
 * (an ELIST filter) lists every room. */
static void cmd_list(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  num(core, s, 321, "Channel :Users  Name");
  if (m->n > 0 && m->params[0].n > 0 && m->params[0].p[0] == '#') {
    uvc_irc_str_t item;
    size_t pos = 0;
    while (next_item(&m->params[0], &pos, &item)) {
      uvc_room_t* room = uvc_core_room(core, item.p, item.n);
      if (room != NULL) list_line(core, s, room);
    }
  } else {
    uvc_room_t *room, *tmp;
    HASH_ITER(hh, core->rooms, room, tmp) {
      list_line(core, s, room);
    }
  }
  num(core, s, 323, ":End of /LIST");
}

/* MODE #room [changes]: n, t, o (b lists an empty ban list); others get 472. */
static void channel_mode(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m) {
  uvc_room_t* room = find_room(core, s, &m->params[0], 0);
  const uvc_irc_str_t* modes;
  uvc_session_t* targets[MODES_MAX];
  int target_on[MODES_MAX];
  int n_targets = 0, argi = 2, on_sign = 1, change = 0, banlist = 0, i;
  unsigned on = 0, off = 0;
  const uvc_membership_t* mb;
  char word[ECHO_MAX + 1];
  uint8_t told[16]; /* unknown letters already answered with 472, one bit per ASCII code */
  size_t k;
  if (room == NULL) return;
  memset(told, 0, sizeof(told));
  if (m->n < 2) {
    num(core, s, 324, "%s +%s%s", room->name, (room->modes & UVC_ROOM_MEMBERS_ONLY) ? "n" : "",
        (room->modes & UVC_ROOM_TOPIC_LOCKED) ? "t" : "");
    num(core, s, 329, "%s %lld", room->name, (long long)room->created);
    return;
  }
  modes = &m->params[1];
  for (k = 0; k < modes->n; k++) {
    char c = modes->p[k];
    unsigned bit = 0;
    if (c == '+' || c == '-') {
      on_sign = c == '+';
      continue;
    }
    if (c == 'n') bit = UVC_ROOM_MEMBERS_ONLY;
    if (c == 't') bit = UVC_ROOM_TOPIC_LOCKED;
    if (bit != 0) {
      change = 1;
      if (on_sign)
        on |= bit, off &= ~bit;
      else
        off |= bit, on &= ~bit;
    } else if (c == 'o') {
      const uvc_irc_str_t* arg;
      uvc_session_t* u;
      if (argi >= m->n) continue;
      arg = &m->params[argi++];
      if (n_targets == MODES_MAX) continue;
      u = uvc_core_find(core, arg->p, arg->n);
      if (u == NULL) {
        num(core, s, 401, "%s :No such nick/channel", echo(arg->p, arg->n, word));
        continue;
      }
      change = 1;
      targets[n_targets] = u;
      target_on[n_targets++] = on_sign;
    } else if (c == 'b' && argi >= m->n) {
      banlist = 1;
    } else {
      unsigned char u = (unsigned char)c > ' ' && (unsigned char)c < 0x7F ? (unsigned char)c : '?';
      if (c == 'b') argi++;
      if (told[u >> 3] & (1u << (u & 7))) continue;
      told[u >> 3] |= (uint8_t)(1u << (u & 7));
      num(core, s, 472, "%c :is unknown mode char to me", (char)u);
    }
  }
  if (banlist) num(core, s, 368, "%s :End of channel ban list", room->name);
  if (!change) return;
  mb = uvc_session_in(s, room);
  if (mb == NULL) {
    num(core, s, 442, "%s :You're not on that channel", room->name);
    return;
  }
  if (!(mb->flags & UVC_MEMBER_OP)) {
    num(core, s, 482, "%s :You're not channel operator", room->name);
    return;
  }
  if (on != 0 || off != 0) uvc_core_set_modes(core, s, room, on, off);
  for (i = 0; i < n_targets; i++)
    if (uvc_core_set_op(core, s, room, targets[i], target_on[i]) == UVC_ETARGET_NOT_IN_ROOM)
      num(core, s, 441, "%s %s :They aren't on that channel", targets[i]->nick, room->name);
}

/* MODE nick [+i|-i]: one's own modes only (221; 501 for letters other than i); 502 for
 * someone else's. */
static void user_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* target = &m->params[0];
  char word[ECHO_MAX + 1];
  int on_sign = 1, want = (st->flags & IRC_INVISIBLE) != 0, unknown = 0;
  size_t k;
  if (!uvc_name_eq(target->p, target->n, s->nick, s->nick_len)) {
    if (uvc_core_find(core, target->p, target->n) != NULL)
      num(core, s, 502, ":Can't change mode for other users");
    else
      num(core, s, 401, "%s :No such nick/channel", echo(target->p, target->n, word));
    return;
  }
  if (m->n < 2) {
    num(core, s, 221, "%s", (st->flags & IRC_INVISIBLE) ? "+i" : "+");
    return;
  }
  for (k = 0; k < m->params[1].n; k++) {
    char c = m->params[1].p[k];
    if (c == '+' || c == '-')
      on_sign = c == '+';
    else if (c == 'i')
      want = on_sign;
    else
      unknown = 1;
  }
  if (unknown) num(core, s, 501, ":Unknown MODE flag");
  if (want == ((st->flags & IRC_INVISIBLE) != 0)) return;
  if (want) {
    st->flags |= IRC_INVISIBLE;
    g_invisible++;
  } else {
    st->flags &= (uint16_t)~IRC_INVISIBLE;
    g_invisible--;
  }
  sendf(core, s, ":%s!%s@%s MODE %s :%ci", s->nick, s->user, g_server, s->nick, want ? '+' : '-');
}

/* MODE: a channel's modes when the target starts with #, else user modes. */
static void cmd_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  if (m->params[0].n > 0 && m->params[0].p[0] == '#')
    channel_mode(core, s, m);
  else
    user_mode(core, s, st, m);
}

/* KICK #room nick[,nick] [:reason] */
static void cmd_kick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_room_t* room = find_room(core, s, &m->params[0], 0);
  uvc_irc_str_t item;
  const char* text = NULL;
  char word[ECHO_MAX + 1];
  size_t pos = 0, len = 0;
  int count = 0;
  (void)st;
  if (room == NULL) return;
  if (m->n > 2) len = clean_to_scratch(core, m->params[2].p, m->params[2].n, UVC_REASON_MAX, &text);
  while (next_item(&m->params[1], &pos, &item) && count++ < TARGETS_MAX) {
    uvc_session_t* u = uvc_core_find(core, item.p, item.n);
    int err;
    if (u == NULL) {
      num(core, s, 401, "%s :No such nick/channel", echo(item.p, item.n, word));
      continue;
    }
    err = uvc_core_kick(core, s, room, u, text, len);
    if (err == UVC_ENOT_IN_ROOM) {
      num(core, s, 442, "%s :You're not on that channel", room->name);
      return;
    }
    if (err == UVC_ENOT_OPERATOR) {
      num(core, s, 482, "%s :You're not channel operator", room->name);
      return;
    }
    if (err == UVC_ETARGET_NOT_IN_ROOM)
      num(core, s, 441, "%s %s :They aren't on that channel", u->nick, room->name);
  }
}

/* --- Messages --------------------------------------------------------------------------- */

/* A CTCP message: \x01COMMAND[ argument][\x01]. */
typedef struct ctcp {
  char cmd[CTCP_CMD_MAX + 1];
  const char* arg; /* cleaned, in the core's scratch buffer */
  size_t arg_len;
} ctcp_t;

/* Parses a CTCP message; 0 when the command is not a plain word. */
static int parse_ctcp(uvc_core_t* core, const uvc_irc_str_t* t, ctcp_t* c) {
  size_t i = 1, n = t->n, k = 0;
  const char* end = memchr(t->p + 1, '\x01', n - 1);
  if (end != NULL) n = (size_t)(end - t->p);
  while (i < n && t->p[i] != ' ') {
    char ch = t->p[i++];
    if (k == CTCP_CMD_MAX || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                               (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return 0;
    c->cmd[k++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
  }
  c->cmd[k] = '\0';
  if (k == 0) return 0;
  if (i < n) i++;
  c->arg_len = clean_to_scratch(core, t->p + i, n - i, OUT_MAX, &c->arg);
  return 1;
}

/* Answers a CTCP request to a text user (who cannot) on their behalf: VERSION, PING,
 * CLIENTINFO and TIME; others are dropped. */
static void ctcp_answer(uvc_core_t* core, uvc_session_t* s, const uvc_session_t* u,
                        const ctcp_t* c) {
  char prefix[128];
  char text[BUF_SIZE];
  int n;
  if (strcmp(c->cmd, "VERSION") == 0) {
    n = snprintf(text, sizeof(text), "VERSION %s (a plain-text user; nc or telnet)", VERSION_TEXT);
  } else if (strcmp(c->cmd, "PING") == 0) {
    n = snprintf(text, sizeof(text), "PING %.*s", (int)c->arg_len, c->arg);
  } else if (strcmp(c->cmd, "CLIENTINFO") == 0) {
    n = snprintf(text, sizeof(text), "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION");
  } else if (strcmp(c->cmd, "TIME") == 0) {
    time_t now = (time_t)uvc_core_now(core);
    struct tm* tm = gmtime(&now);
    char when[64];
    if (tm == NULL || strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", tm) == 0) return;
    n = snprintf(text, sizeof(text), "TIME %s", when);
  } else {
    return;
  }
  if (n < 0) return;
  user_prefix(prefix, sizeof(prefix), u, u->nick, u->nick_len);
  sendf(core, s, "%s NOTICE %s :\x01%.*s\x01", prefix, s->nick, n, text);
}

/* A CTCP message to one user. IRC users get it as sent (its argument cleaned); for a text
 * user, an ACTION becomes "* nick text" and requests are answered by the server. */
static void ctcp_to_user(uvc_core_t* core, uvc_session_t* s, uvc_session_t* u, const ctcp_t* c,
                         int notice) {
  char text[2 * BUF_SIZE];
  int action = strcmp(c->cmd, "ACTION") == 0, n;
  if (is_irc(u)) {
    n = snprintf(text, sizeof(text), "\x01%s%s%.*s\x01", c->cmd, c->arg_len ? " " : "",
                 (int)c->arg_len, c->arg);
  } else if (action) {
    n = snprintf(text, sizeof(text), "* %s %.*s", s->nick, (int)c->arg_len, c->arg);
  } else {
    if (!notice) ctcp_answer(core, s, u, c); /* a reply to a text user: nobody asked */
    return;
  }
  if (n > 0)
    uvc_core_whisper(core, s, u->nick, u->nick_len, text,
                     (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1, notice, NULL);
}

/* PRIVMSG and NOTICE to rooms and nicks (up to TARGETS_MAX). A NOTICE is never answered
 * with an error. CTCP to a room: ACTION only (text users could not read the others). */
static void message(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m, int notice) {
  const uvc_irc_str_t* t = &m->params[1];
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  const char* text = NULL;
  size_t pos = 0, len = 0;
  int is_ctcp = t->n > 0 && t->p[0] == '\x01', count = 0;
  ctcp_t c;
  if (is_ctcp) {
    if (!parse_ctcp(core, t, &c)) return;
  } else {
    len = clean_to_scratch(core, t->p, t->n, OUT_MAX, &text);
    if (len == 0) {
      if (!notice) num(core, s, 412, ":No text to send");
      return;
    }
  }
  while (next_item(&m->params[0], &pos, &item)) {
    if (++count > TARGETS_MAX) {
      if (!notice)
        num(core, s, 407, "%s :Too many targets; the message went to the first %d only",
            echo(item.p, item.n, word), TARGETS_MAX);
      return;
    }
    if (item.p[0] == '#') {
      uvc_room_t* room = find_room(core, s, &item, notice);
      int err = 0;
      if (room == NULL) continue;
      if (!is_ctcp)
        err = uvc_core_say(core, s, room, text, len, notice);
      else if (strcmp(c.cmd, "ACTION") == 0)
        err = uvc_core_act(core, s, room, c.arg, c.arg_len);
      if (err == UVC_ECANNOT_SEND && !notice)
        num(core, s, 404, "%s :Cannot send to channel", room->name);
    } else if (is_nickserv(&item)) { /* with other targets: the text is not for it */
      if (!notice) ns_notice(core, s, "Send your commands to NickServ alone");
    } else {
      uvc_session_t* u = uvc_core_find(core, item.p, item.n);
      if (u == NULL) {
        if (!notice) num(core, s, 401, "%s :No such nick/channel", echo(item.p, item.n, word));
        continue;
      }
      if (is_ctcp)
        ctcp_to_user(core, s, u, &c, notice);
      else
        uvc_core_whisper(core, s, u->nick, u->nick_len, text, len, notice, NULL);
      if (!notice && uvc_session_away(u) != NULL)
        num(core, s, 301, "%s :%s", u->nick, uvc_session_away(u));
    }
  }
}

/* PRIVMSG targets :text (PRIVMSG NickServ :command goes to the account service). */
static void cmd_privmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_irc_msg_t* m) {
  if (is_nickserv(&m->params[0]))
    nickserv(core, s, st, &m->params[1]);
  else
    message(core, s, m, 0);
}

/* NOTICE targets :text (no error replies, no away replies; NickServ ignores notices). */
static void cmd_notice(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                       const uvc_irc_msg_t* m) {
  (void)st;
  if (!is_nickserv(&m->params[0])) message(core, s, m, 1);
}

/* --- Users ------------------------------------------------------------------------------ */

/* AWAY :text marks away (306); AWAY alone comes back (305). */
static void cmd_away(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* text = NULL;
  size_t len = 0;
  (void)st;
  if (m->n > 0) len = clean_to_scratch(core, m->params[0].p, m->params[0].n, UVC_AWAY_MAX, &text);
  if (uvc_core_set_away(core, s, text, len) != 0) return;
  if (len > 0)
    num(core, s, 306, ":You have been marked as being away");
  else
    num(core, s, 305, ":You are no longer marked as being away");
}

/* ISON nick nick...: 303 with those present (the nicks may also come as one parameter). */
static void cmd_ison(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char list[OUT_MAX];
  size_t n = 0;
  int i;
  (void)st;
  for (i = 0; i < m->n; i++) {
    const uvc_irc_str_t* p = &m->params[i];
    size_t k = 0;
    while (k < p->n) {
      size_t start;
      uvc_session_t* u;
      while (k < p->n && p->p[k] == ' ')
        k++;
      start = k;
      while (k < p->n && p->p[k] != ' ')
        k++;
      u = uvc_core_find(core, p->p + start, k - start);
      if (u != NULL && n + 1 + u->nick_len < 400) {
        if (n > 0) list[n++] = ' ';
        memcpy(list + n, u->nick, u->nick_len);
        n += u->nick_len;
      }
    }
  }
  num(core, s, 303, ":%.*s", (int)n, list);
}

/* USERHOST nick...: 302 with nick=+user@host (- when away) for those present. */
static void cmd_userhost(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                         const uvc_irc_msg_t* m) {
  char list[OUT_MAX];
  size_t n = 0;
  int i;
  (void)st;
  for (i = 0; i < m->n; i++) {
    uvc_session_t* u = uvc_core_find(core, m->params[i].p, m->params[i].n);
    int len;
    if (u == NULL) continue;
    len = snprintf(list + n, sizeof(list) - n, "%s%s=%c%s@%s", n ? " " : "", u->nick,
                   uvc_session_away(u) != NULL ? '-' : '+', u->user, g_server);
    if (len > 0 && (size_t)len < sizeof(list) - n) n += (size_t)len;
  }
  num(core, s, 302, ":%.*s", (int)n, list);
}

/* MOTD: the message of the day again. */
static void cmd_motd(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  send_motd(core, s);
}

/* LUSERS: the counts of the greeting. */
static void cmd_lusers(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                       const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  send_lusers(core, s);
}

/* VERSION: 351 and the 005 lines. */
static void cmd_version(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  num(core, s, 351, "%s %s :a chat server for IRC and plain-text clients", VERSION_TEXT,
      core->server_name);
  send_isupport(core, s);
}

/* ------------------------------------------------------------------------------------------
 * Dispatch and connection entry points
 * ---------------------------------------------------------------------------------------- */

/* The error for too few parameters: 461, or the command's own (411, 412, 431). */
static void too_few(uvc_core_t* core, uvc_session_t* s, const irc_cmd_t* c, int n) {
  int code = n == 0 ? c->none : c->few;
  switch (code) {
    case 411:
      num(core, s, 411, ":No recipient given (%s)", c->name);
      break;
    case 412:
      num(core, s, 412, ":No text to send");
      break;
    case 431:
      num(core, s, 431, ":No nickname given");
      break;
    default:
      num(core, s, 461, "%s :Not enough parameters", c->name);
      break;
  }
}

/* Checks registration and arity once, then runs the command's handler. */
static void dispatch(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, uvc_irc_msg_t* m) {
  const irc_cmd_t* c;
  char word[ECHO_MAX + 1];
  for (c = kCommands; c->name != NULL; c++)
    if (uvc_irc_is(&m->cmd, c->name)) break;
  if (c->name == NULL) {
    if (s->present)
      num(core, s, 421, "%s :Unknown command", echo(m->cmd.p, m->cmd.n, word));
    else
      num(core, s, 451, ":You have not registered");
    return;
  }
  if (!s->present && !(c->when & BEFORE)) {
    num(core, s, 451, ":You have not registered");
    return;
  }
  if (s->present && !(c->when & AFTER)) {
    num(core, s, 462, ":You may not reregister");
    return;
  }
  if (m->n < c->min) {
    if (!c->quiet) too_few(core, s, c, m->n);
    return;
  }
  if (m->n > c->max) m->n = c->max;
  c->fn(core, s, st, m);
}

/* A new connection: its state, empty until NICK and USER come. */
static void irc_on_open(uvc_core_t* core, uvc_session_t* s) {
  irc_state_t* st = calloc(1, sizeof(*st) + 1);
  g_server = core->server_name;
  if (st == NULL) {
    uvc_core_request_close(core, s, UVC_LEAVE_LOST, NULL, 0);
    return;
  }
  s->proto = st;
  s->user = st->user;
}

/* One line from the client: parsed, then dispatched (417 when too long). */
static void irc_on_line(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len) {
  uvc_irc_msg_t m;
  if (s->proto == NULL) return;
  switch (uvc_irc_parse(line, len, &m)) {
    case UVC_IRC_OK:
      dispatch(core, s, s->proto, &m);
      break;
    case UVC_IRC_TOOLONG:
      num(core, s, 417, ":Input line was too long");
      break;
    case UVC_IRC_EMPTY:
      break;
  }
}

/* A line longer than the framer's limit (tags included) was dropped. */
static void irc_on_toolong(uvc_core_t* core, uvc_session_t* s) {
  num(core, s, 417, ":Input line was too long");
}

/* The client has been silent for --ping-interval: ask it to show it is there. */
static void irc_on_idle(uvc_core_t* core, uvc_session_t* s) {
  sendf(core, s, "PING :%s", core->server_name);
}

/* The server is closing the connection (timeout, too much input, refused): say why. */
static void irc_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text) {
  (void)why;
  closing_link(core, s, text, strlen(text));
}

/* Flood control holds back the client's lines: one server NOTICE says so. */
static void irc_on_slowed(uvc_core_t* core, uvc_session_t* s, unsigned per_second) {
  sendf(core, s,
        ":%s NOTICE %s :*** slow down: your lines are being delayed to %u a second (none is "
        "lost)",
        core->server_name, client(s), per_second);
}

/* The connection is gone: its state too. */
static void irc_on_free(uvc_session_t* s) {
  irc_state_t* st = s->proto;
  if (st != NULL && (st->flags & IRC_INVISIBLE) && g_invisible > 0) g_invisible--;
  free(st);
  s->proto = NULL;
  s->user = "";
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */

/* head + text + tail as IRC lines: one line with the text cut to fit, or (split) as many
 * lines as the text needs, each broken after a space when one is near the end. */
static uvc_msg_t* render_lines(const char* head, size_t hlen, const char* text, size_t tlen,
                               const char* tail, int split) {
  size_t taillen = strlen(tail), room, cap, lines;
  uvc_msg_t* m;
  char* p;
  if (hlen + taillen + 16 > OUT_MAX) hlen = OUT_MAX - taillen - 16; /* never: names are short */
  room = OUT_MAX - hlen - taillen;
  if (!split) tlen = uvc_utf8_cut(text, tlen, room);
  /* Every line but the last takes at least half a line, less a cut character. */
  lines = tlen / ((room - 4) / 2) + 1;
  cap = lines * (hlen + taillen + 2) + tlen;
  m = uvc_msg_new(cap);
  if (m == NULL) return NULL;
  p = m->data;
  do {
    size_t take = uvc_utf8_cut(text, tlen, room), next;
    if (take == 0) take = tlen < room ? tlen : room; /* not UTF-8 after all */
    next = take;
    if (take < tlen) {
      size_t k = take;
      while (k > take / 2 && text[k - 1] != ' ')
        k--;
      if (k > take / 2) take = k - 1, next = k;
    }
    memcpy(p, head, hlen);
    p += hlen;
    if (take > 0) memcpy(p, text, take);
    p += take;
    memcpy(p, tail, taillen);
    p += taillen;
    memcpy(p, CRLF, 2);
    p += 2;
    text += next;
    tlen -= next;
  } while (tlen > 0);
  m->len = (uint32_t)(p - m->data);
  return m;
}

/* Formats the head of an event line into head; returns its length. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static size_t
head_of(char* head, size_t cap, const char* fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(head, cap, fmt, ap);
  va_end(ap);
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Why someone left, in the words IRC clients know. */
static size_t leave_reason(const uvc_event_t* ev, char* out, size_t cap) {
  int n;
  switch (ev->reason) {
    case UVC_LEAVE_QUIT:
      n = ev->len > 0 ? snprintf(out, cap, "Quit: %.*s", (int)ev->len, ev->text)
                      : snprintf(out, cap, "Client Quit");
      break;
    case UVC_LEAVE_CLOSED:
      n = snprintf(out, cap, "Connection closed");
      break;
    case UVC_LEAVE_LOST:
      n = snprintf(out, cap, "Connection lost");
      break;
    case UVC_LEAVE_SENDQ:
      n = snprintf(out, cap, "SendQ exceeded");
      break;
    case UVC_LEAVE_INPUT:
      n = snprintf(out, cap, "Excess input");
      break;
    case UVC_LEAVE_IDLE:
      n = ev->len > 0 ? snprintf(out, cap, "%.*s", (int)ev->len, ev->text)
                      : snprintf(out, cap, "Ping timeout");
      break;
    case UVC_LEAVE_REFUSED: /* never present: nobody is told */
      n = snprintf(out, cap, "Connection refused");
      break;
    case UVC_LEAVE_SHUTDOWN:
    default:
      n = snprintf(out, cap, "Server shutting down");
      break;
  }
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A MODE event: "+nt", "-t", "+n-t" or "+o nick". */
static size_t mode_change(const uvc_event_t* ev, char* out, size_t cap) {
  size_t n = 0;
  int n_on = ev->mode_on & UVC_ROOM_MEMBERS_ONLY, t_on = ev->mode_on & UVC_ROOM_TOPIC_LOCKED;
  int n_off = ev->mode_off & UVC_ROOM_MEMBERS_ONLY, t_off = ev->mode_off & UVC_ROOM_TOPIC_LOCKED;
  int len;
  if (ev->to != NULL) {
    len = snprintf(out, cap, "%co %s", ev->mode_on ? '+' : '-', ev->to->nick);
    return len < 0 ? 0 : ((size_t)len < cap ? (size_t)len : cap - 1);
  }
  if (n_on || t_on) {
    out[n++] = '+';
    if (n_on) out[n++] = 'n';
    if (t_on) out[n++] = 't';
  }
  if (n_off || t_off) {
    out[n++] = '-';
    if (n_off) out[n++] = 'n';
    if (t_off) out[n++] = 't';
  }
  out[n] = '\0';
  return n;
}

/* A core event as IRC lines, the same for every IRC recipient. */
static uvc_msg_t* irc_render(const uvc_event_t* ev) {
  const uvc_session_t* f = ev->from;
  char head[3 * UVC_NICK_MAX + 2 * UVC_ROOM_MAX + 128];
  char prefix[2 * UVC_NICK_MAX + 96];
  char extra[UVC_REASON_MAX + 64];
  size_t n;
  if (f != NULL) user_prefix(prefix, sizeof(prefix), f, f->nick, f->nick_len);
  switch (ev->type) {
    case UVC_EV_SAY:
      n = head_of(head, sizeof(head), "%s %s %s :", prefix, ev->notice ? "NOTICE" : "PRIVMSG",
                  ev->room->name);
      return render_lines(head, n, ev->text, ev->len, "", 1);
    case UVC_EV_ACTION:
      n = head_of(head, sizeof(head),
                  "%s PRIVMSG %s :\x01"
                  "ACTION ",
                  prefix, ev->room->name);
      return render_lines(head, n, ev->text, ev->len, "\x01", 1);
    case UVC_EV_PRIVATE:
      n = head_of(head, sizeof(head), "%s %s %s :", prefix, ev->notice ? "NOTICE" : "PRIVMSG",
                  ev->to->nick);
      /* A CTCP passed on from another IRC user stays on one line. */
      return render_lines(head, n, ev->text, ev->len, "", ev->len == 0 || ev->text[0] != '\x01');
    case UVC_EV_ARRIVE:
      n = head_of(head, sizeof(head), "%s JOIN %s", prefix, ev->room->name);
      return render_lines(head, n, "", 0, "", 0);
    case UVC_EV_PART:
      n = head_of(head, sizeof(head), "%s PART %s%s", prefix, ev->room->name,
                  ev->len > 0 ? " :" : "");
      return render_lines(head, n, ev->text, ev->len, "", 0);
    case UVC_EV_LEAVE:
      n = head_of(head, sizeof(head), "%s QUIT :", prefix);
      return render_lines(head, n, extra, leave_reason(ev, extra, sizeof(extra)), "", 0);
    case UVC_EV_NICK:
      user_prefix(prefix, sizeof(prefix), f, ev->old_nick, (int)ev->old_len);
      n = head_of(head, sizeof(head), "%s NICK :%s", prefix, f->nick);
      return render_lines(head, n, "", 0, "", 0);
    case UVC_EV_TOPIC:
      n = head_of(head, sizeof(head), "%s TOPIC %s :", prefix, ev->room->name);
      return render_lines(head, n, ev->text, ev->len, "", 0);
    case UVC_EV_KICK:
      n = head_of(head, sizeof(head), "%s KICK %s %s :", prefix, ev->room->name, ev->to->nick);
      if (ev->len == 0) return render_lines(head, n, f->nick, f->nick_len, "", 0);
      return render_lines(head, n, ev->text, ev->len, "", 0);
    case UVC_EV_MODE:
      mode_change(ev, extra, sizeof(extra));
      n = head_of(head, sizeof(head), "%s MODE %s %s", prefix, ev->room->name, extra);
      return render_lines(head, n, "", 0, "", 0);
    case UVC_EV_ANNOUNCE:
      n = head_of(head, sizeof(head), ":%s NOTICE * :", g_server);
      return render_lines(head, n, ev->text, ev->len, "", 1);
  }
  return NULL;
}

const uvc_adapter_t uvc_irc_adapter = {
    "irc",          /* name */
    1,              /* format */
    0,              /* telnet */
    0,              /* single_room */
    UVC_LINE_FLOOR, /* max_line: 8191 bytes of tags and a 512-byte line fit */
    irc_render,
    irc_on_open,
    irc_on_line,
    irc_on_toolong,
    irc_on_idle,
    irc_on_farewell,
    irc_on_free,
    irc_on_auth,
    irc_on_slowed,
    NULL, /* wrap */
};

/* ------------------------------------------------------------------------------------------
 * IRC over WebSocket (the IRCv3 WebSocket specification): the same adapter, each line in a
 * frame of its own. Events are framed once per subprotocol (a render-cache slot each), so a
 * broadcast's frame is shared by every WebSocket recipient; replies to one client are framed
 * on their way (wrap). Before the WebSocket is open (still HTTP) the session has no IRC state
 * and says nothing.
 * ---------------------------------------------------------------------------------------- */

static uvc_msg_t* ws_text_render(const uvc_event_t* ev) {
  uvc_msg_t* m = irc_render(ev);
  uvc_msg_t* f = uvc_ws_frame_lines(UVC_WS_TEXT, m);
  if (m != NULL) uvc_msg_release(m);
  return f;
}

static uvc_msg_t* ws_binary_render(const uvc_event_t* ev) {
  uvc_msg_t* m = irc_render(ev);
  uvc_msg_t* f = uvc_ws_frame_lines(UVC_WS_BINARY, m);
  if (m != NULL) uvc_msg_release(m);
  return f;
}

static uvc_msg_t* ws_text_wrap(const uvc_msg_t* m) {
  return uvc_ws_frame_lines(UVC_WS_TEXT, m);
}

static uvc_msg_t* ws_binary_wrap(const uvc_msg_t* m) {
  return uvc_ws_frame_lines(UVC_WS_BINARY, m);
}

static void ws_on_idle(uvc_core_t* core, uvc_session_t* s) {
  if (s->proto != NULL) irc_on_idle(core, s);
}

static void ws_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text) {
  if (s->proto != NULL) irc_on_farewell(core, s, why, text);
}

const uvc_adapter_t uvc_irc_ws_text_adapter = {"irc",          /* name */
                                               2,              /* format */
                                               0,              /* telnet */
                                               0,              /* single_room */
                                               UVC_LINE_FLOOR, /* max_line */
                                               ws_text_render,
                                               irc_on_open,
                                               irc_on_line,
                                               irc_on_toolong,
                                               ws_on_idle,
                                               ws_on_farewell,
                                               irc_on_free,
                                               irc_on_auth,
                                               irc_on_slowed,
                                               ws_text_wrap};

const uvc_adapter_t uvc_irc_ws_binary_adapter = {"irc",          /* name */
                                                 3,              /* format */
                                                 0,              /* telnet */
                                                 0,              /* single_room */
                                                 UVC_LINE_FLOOR, /* max_line */
                                                 ws_binary_render,
                                                 irc_on_open,
                                                 irc_on_line,
                                                 irc_on_toolong,
                                                 ws_on_idle,
                                                 ws_on_farewell,
                                                 irc_on_free,
                                                 irc_on_auth,
                                                 irc_on_slowed,
                                                 ws_binary_wrap};
