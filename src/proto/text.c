/* text.c: the adapter for plain-text clients (nc, telnet, socat, PuTTY raw).
 *
 * It cleans each incoming line, dispatches commands through one table, calls the core, and
 * renders the core's events as CRLF-terminated lines in plain words. Replies to the sender
 * (errors, /who, /help) are rendered here and sent to that session alone. A text user is in
 * exactly one room at a time.
 */
#include "uvchat/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"

#define CRLF "\r\n"

/* ------------------------------------------------------------------------------------------
 * Words and replies
 * ---------------------------------------------------------------------------------------- */

static int is_blank(char c) {
  return c == ' ' || c == '\t';
}

/* Sends one formatted line (CRLF added) to s alone. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
reply(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  int n;
  uvc_msg_t* m;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof(buf) - 3) /* truncated: never in the middle of a character */
    n = (int)uvc_utf8_cut(buf, sizeof(buf) - 3, sizeof(buf) - 3);
  memcpy(buf + n, CRLF, 2);
  m = uvc_msg_from(buf, (size_t)n + 2);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* Builds prefix + text + suffix + CRLF. The text (from another user, maybe an IRC user) is
 * cleaned once more without IRC formatting: text users see no formatting codes. */
static uvc_msg_t* line3(const char* prefix, size_t plen, const char* text, size_t tlen,
                        const char* suffix, size_t slen) {
  uvc_msg_t* m = uvc_msg_new(plen + tlen + slen + 2);
  char* p;
  size_t i;
  if (m == NULL) return NULL;
  p = m->data;
  memcpy(p, prefix, plen);
  p += plen;
  for (i = 0; i < tlen; i++)
    if ((unsigned char)text[i] < 0x20 && text[i] != '\t') break;
  if (i == tlen) {
    if (tlen > 0) memcpy(p, text, tlen);
    p += tlen;
  } else {
    /* Cleaning only removes bytes here: the input is valid UTF-8 already. */
    p += uvc_clean_text(text, tlen, p, 0);
  }
  if (slen > 0) memcpy(p, suffix, slen);
  p += slen;
  memcpy(p, CRLF, 2);
  m->len = (uint32_t)(p + 2 - m->data);
  return m;
}

/* Sends prefix + text + CRLF to s alone (text may be long: it is not formatted). */
static void reply_text(uvc_core_t* core, uvc_session_t* s, const char* prefix, const char* text,
                       size_t len) {
  uvc_msg_t* m = line3(prefix, strlen(prefix), text, len, NULL, 0);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* ------------------------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------------------------- */

typedef void (*cmd_fn)(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* args, int n);

/* Command flags. */
enum {
  CMD_ACCOUNT = 1, /* an account command: listed by /help only where accounts are available */
  CMD_SECRET = 2,  /* carries a password: the cleaned line is wiped once it ran */
  CMD_GATE = 4,    /* works before the server password was given */
  CMD_PASS = 8,    /* listed by /help only where the server has a password */
  CMD_OPER = 16    /* for server operators: listed by /help only to them */
};

typedef struct text_cmd {
  const char* name;
  cmd_fn fn;
  int min;  /* fewest words */
  int max;  /* most words */
  int rest; /* the last word takes the rest of the line */
  const char* usage;
  const char* help;
  unsigned flags; /* CMD_* */
} text_cmd_t;

static void cmd_nick(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_msg(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_me(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_join(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_part(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_rooms(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_topic(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_who(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_away(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_help(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_quit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_register(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_login(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_logout(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_passwd(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_unregister(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_pass(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_kick(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_ban(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_unban(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_op(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_deop(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_voice(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_devoice(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_invite(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_mode(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_key(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_limit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_oper(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_kill(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_wallops(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_rehash(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_die(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_history(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void admit(uvc_core_t* core, uvc_session_t* s);

#define CMD_ARGS_MAX   8 /* the most words a command takes (kCommands max) */
#define SECRET_ACCOUNT (CMD_ACCOUNT | CMD_SECRET)
static const text_cmd_t kCommands[] = {
    /* name   handler    min max rest usage               help                     flags */
    {"nick", cmd_nick, 1, 1, 0, "/nick NAME", "change your name", 0},
    {"msg", cmd_msg, 2, 2, 1, "/msg NICK TEXT", "send TEXT to NICK alone", 0},
    {"me", cmd_me, 1, 1, 1, "/me ACTION", "tell the room what you do", 0},
    {"join", cmd_join, 1, 2, 0, "/join #ROOM [KEY]", "move to another room (made if new)", 0},
    {"part", cmd_part, 0, 1, 1, "/part [REASON]", "leave this room for the lobby", 0},
    {"rooms", cmd_rooms, 0, 0, 0, "/rooms", "list the rooms", 0},
    {"topic", cmd_topic, 0, 1, 1, "/topic [TEXT]", "show or set this room's topic", 0},
    {"who", cmd_who, 0, 0, 0, "/who", "list who is in this room", 0},
    {"history", cmd_history, 0, 1, 0, "/history [N]",
     "show the last N messages of this room (default 50)", 0},
    {"away", cmd_away, 0, 1, 1, "/away [TEXT]", "mark yourself away, or back", 0},
    {"invite", cmd_invite, 1, 1, 0, "/invite NICK", "invite NICK to this room", 0},
    {"kick", cmd_kick, 1, 2, 1, "/kick NICK [REASON]", "remove NICK from this room (operators)", 0},
    {"ban", cmd_ban, 0, 1, 0, "/ban [MASK]",
     "ban NICK or nick!user@host (* and ?), or list the bans", 0},
    {"unban", cmd_unban, 1, 1, 0, "/unban MASK", "lift a ban", 0},
    {"op", cmd_op, 1, 1, 0, "/op NICK", "make NICK an operator of this room", 0},
    {"deop", cmd_deop, 1, 1, 0, "/deop NICK", "take NICK's operator status", 0},
    {"voice", cmd_voice, 1, 1, 0, "/voice NICK", "let NICK talk in a moderated room", 0},
    {"devoice", cmd_devoice, 1, 1, 0, "/devoice NICK", "take NICK's voice", 0},
    {"mode", cmd_mode, 0, 8, 0, "/mode [+FLAG|-FLAG ...]",
     "show or change this room's flags: moderated invite-only secret members-only topic-lock "
     "no-history",
     0},
    {"key", cmd_key, 0, 1, 0, "/key [KEY]", "set the key needed to join, or remove it", 0},
    {"limit", cmd_limit, 0, 1, 0, "/limit [N]", "let at most N people in, or remove the limit", 0},
    {"oper", cmd_oper, 2, 2, 1, "/oper NAME PASSWORD", "become a server operator", CMD_SECRET},
    {"kill", cmd_kill, 2, 2, 1, "/kill NICK REASON", "disconnect NICK (server operators)",
     CMD_OPER},
    {"wallops", cmd_wallops, 1, 1, 1, "/wallops TEXT", "tell every server operator TEXT", CMD_OPER},
    {"rehash", cmd_rehash, 0, 0, 0, "/rehash", "reload the server's settings", CMD_OPER},
    {"die", cmd_die, 0, 0, 0, "/die", "stop the server (everyone is told)", CMD_OPER},
    {"register", cmd_register, 1, 1, 1, "/register PASSWORD",
     "register your nick as an account; you are then logged in", SECRET_ACCOUNT},
    {"login", cmd_login, 2, 2, 1, "/login NAME PASSWORD", "log in to your account (takes its nick)",
     SECRET_ACCOUNT},
    {"logout", cmd_logout, 0, 0, 0, "/logout", "log out (a registered nick is given up)",
     CMD_ACCOUNT},
    {"passwd", cmd_passwd, 1, 1, 1, "/passwd OLD NEW",
     "change your account's password (\"put passwords with spaces\" in double quotes)",
     SECRET_ACCOUNT},
    {"unregister", cmd_unregister, 1, 1, 1, "/unregister PASSWORD", "delete your account",
     SECRET_ACCOUNT},
    {"pass", cmd_pass, 1, 1, 1, "/pass PASSWORD", "give the server's password",
     CMD_PASS | CMD_SECRET | CMD_GATE},
    {"help", cmd_help, 0, 1, 0, "/help [COMMAND]", "show the commands", CMD_GATE},
    {"quit", cmd_quit, 0, 1, 1, "/quit [REASON]", "leave the chat", CMD_GATE},
    {NULL, NULL, 0, 0, 0, NULL, NULL, 0}};

static const text_cmd_t* find_command(const char* name, size_t len) {
  const text_cmd_t* c;
  for (c = kCommands; c->name != NULL; c++)
    if (uvc_name_eq(c->name, strlen(c->name), name, len)) return c;
  return NULL;
}

static void cmd_nick(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  int err = uvc_core_rename(core, s, a[0].p, a[0].n);
  (void)n;
  switch (err) {
    case 0:
      break; /* the rename notice reaches s too */
    case UVC_ENICK_INVALID:
      reply(core, s, "! cannot use \"%.*s\" as a nick: %s", (int)a[0].n, a[0].p,
            uvc_nick_problem(a[0].p, a[0].n));
      break;
    case UVC_ENICK_TAKEN:
      reply(core, s, "! the nick %.*s is already taken", (int)a[0].n, a[0].p);
      break;
    case UVC_ENICK_SAME:
      reply(core, s, "! you are already %s", s->nick);
      break;
    case UVC_ENICK_REGISTERED:
      reply(core, s, "! the nick %.*s is registered; log in with /login %.*s PASSWORD", (int)a[0].n,
            a[0].p, (int)a[0].n, a[0].p);
      break;
    case UVC_ENICK_RESERVED:
      reply(core, s, "! the nick %.*s is reserved for the server's services", (int)a[0].n, a[0].p);
      break;
    default:
      reply(core, s, "! cannot change your nick: %s", uvc_strerror(err));
      break;
  }
}

static void cmd_msg(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_session_t* to = NULL;
  int err = uvc_core_whisper(core, s, a[0].p, a[0].n, a[1].p, a[1].n, 0, &to);
  char prefix[UVC_NICK_MAX + 32];
  (void)n;
  if (err == UVC_ENO_SUCH_NICK &&
      uvc_core_keep_private(core, s, a[0].p, a[0].n, a[1].p, a[1].n, 0) == 0) {
    reply(core, s, "*** %.*s is not online: the message is kept and shown at their next login",
          (int)a[0].n, a[0].p);
    return;
  }
  if (err == UVC_ENO_SUCH_NICK) {
    reply(core, s, "! there is nobody called %.*s online", (int)a[0].n, a[0].p);
    return;
  }
  if (err != 0) {
    reply(core, s, "! message not sent: %s", uvc_strerror(err));
    return;
  }
  snprintf(prefix, sizeof(prefix), "[private to %s] ", to->nick);
  reply_text(core, s, prefix, a[1].p, a[1].n);
  if (uvc_session_away(to) != NULL)
    reply(core, s, "*** %s is away: %s", to->nick, uvc_session_away(to));
}

static void cmd_me(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  int err = uvc_core_act(core, s, NULL, a[0].p, a[0].n);
  (void)n;
  if (err != 0) reply(core, s, "! not sent: %s", uvc_strerror(err));
}

/* Tells s about the room it just entered: its topic and how many are there. */
/* What a history answer is for. */
enum { HIST_JOIN = 1, HIST_COMMAND };

/* Asks for the last n events of room, shown when they come (see text_on_history). Says
 * nothing when the server keeps no history or the room keeps none, unless asked. */
static void ask_history(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room, unsigned n,
                        int purpose) {
  uvc_history_query_t q;
  int err;
  if (!uvc_core_has_history(core) && purpose == HIST_JOIN) return;
  memset(&q, 0, sizeof(q));
  q.how = UVC_HQ_LATEST;
  q.purpose = (uint8_t)purpose;
  q.limit = n;
  memcpy(q.target, room->name, (size_t)room->name_len + 1);
  err = uvc_core_history(core, s, &q);
  if (err != 0 && purpose == HIST_COMMAND)
    reply(core, s, "! no history of %s: %s", room->name, uvc_strerror(err));
}

static void describe_room(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  if (room->topic != NULL)
    reply(core, s, "*** Topic of %s: %s (set by %s)", room->name, room->topic, room->topic_by);
  reply(core, s, "*** %u %s in %s. /who lists them.", (unsigned)room->n_members,
        room->n_members == 1 ? "person is" : "people are", room->name);
  if (uvc_core_history_join(core) > 0)
    ask_history(core, s, room, uvc_core_history_join(core), HIST_JOIN);
}

static void cmd_history(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = uvc_session_room(s);
  unsigned long want = 50;
  if (n > 0) {
    char num[16];
    char* end;
    if (a[0].n == 0 || a[0].n >= sizeof(num))
      want = 0;
    else {
      memcpy(num, a[0].p, a[0].n);
      num[a[0].n] = '\0';
      want = strtoul(num, &end, 10);
      if (*end != '\0' || num[0] < '0' || num[0] > '9') want = 0;
    }
    if (want == 0 || want > 1000) {
      reply(core, s, "! usage: /history [N], N from 1 to 1000");
      return;
    }
  }
  if (room == NULL) {
    reply(core, s, "! you are not in a room");
    return;
  }
  ask_history(core, s, room, (unsigned)want, HIST_COMMAND);
}

/* "HH:MM" for a time of today (UTC), else "YYYY-MM-DD HH:MM", into out. */
static void when(int64_t ms, int64_t now_ms, char* out, size_t cap) {
  int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100),
          mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (rem < 0) rem += 86400;
  if (m <= 2) y++;
  if (now_ms / 86400000 == days)
    snprintf(out, cap, "%02d:%02d", (int)(rem / 3600), (int)(rem / 60 % 60));
  else
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d", (int)y, (int)m, (int)d, (int)(rem / 3600),
             (int)(rem / 60 % 60));
}

/* Sends ev to s as it would have been shown, with its time in front. */
static void send_past(uvc_core_t* core, uvc_session_t* s, const uvc_event_t* ev, int64_t now_ms) {
  uvc_msg_t* m = uvc_core_render(core, ev, s);
  uvc_msg_t* out;
  uvc_part_t parts[2];
  char stamp[32];
  int k;
  if (m == NULL) return;
  when(ev->time_ms, now_ms, stamp, sizeof(stamp) - 3);
  k = (int)strlen(stamp);
  memmove(stamp + 1, stamp, (size_t)k);
  stamp[0] = '[';
  stamp[k + 1] = ']';
  stamp[k + 2] = ' ';
  parts[0].p = stamp;
  parts[0].n = (size_t)k + 3;
  parts[1].p = m->data;
  parts[1].n = m->len;
  out = uvc_msg_concat(parts, 2);
  uvc_msg_release(m);
  if (out == NULL) return;
  uvc_core_send(core, s, out);
  uvc_msg_release(out);
}

/* A history answer: the past of a room between two markers, or what was kept while s was
 * away. */
static void text_on_history(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q,
                            int status, const uvc_event_t* ev, size_t n) {
  const uvc_room_t* room = uvc_session_room(s);
  int64_t now = ev != NULL && n > 0 ? ev[n - 1].time_ms : 0;
  size_t i;
  if (q->how == UVC_HQ_AWAY) {
    if (status != 0 || n == 0) return;
    reply(core, s, "*** --- while you were away: %u private message%s ---", (unsigned)n,
          n == 1 ? "" : "s");
    for (i = 0; i < n; i++)
      send_past(core, s, &ev[i], now + 86400000); /* with their dates */
    reply(core, s, "*** --- end of the messages kept for you ---");
    return;
  }
  if (status != 0) {
    if (q->purpose == HIST_COMMAND)
      reply(core, s, "! no history of %s: %s", q->target, uvc_strerror(status));
    return;
  }
  /* a join's replay is for the room s is still in */
  if (q->purpose == HIST_JOIN &&
      (room == NULL || !uvc_name_eq(room->name, room->name_len, q->target, strlen(q->target))))
    return;
  if (n == 0) {
    if (q->purpose == HIST_COMMAND) reply(core, s, "*** %s has no history yet", q->target);
    return;
  }
  now = uvc_core_now_ms(core);
  reply(core, s, "*** --- the last %u message%s of %s%s ---", (unsigned)n, n == 1 ? "" : "s",
        q->target, q->purpose == HIST_JOIN ? " (/history N shows more)" : "");
  for (i = 0; i < n; i++)
    send_past(core, s, &ev[i], now);
  reply(core, s, "*** --- end of the history of %s ---", q->target);
}

/* Why s may not join room, in words. */
static void join_refused(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room, int err) {
  switch (err) {
    case UVC_EBANNED:
      reply(core, s, "! cannot join %s: you are banned from it", room->name);
      break;
    case UVC_EINVITE_ONLY:
      reply(core, s, "! cannot join %s: it is invite-only; ask one of its operators to /invite you",
            room->name);
      break;
    case UVC_EBAD_KEY:
      reply(core, s, "! cannot join %s: it needs a key: /join %s KEY", room->name, room->name);
      break;
    case UVC_EROOM_FULL:
      reply(core, s, "! cannot join %s: it is full (%u people at most)", room->name,
            (unsigned)room->limit);
      break;
    default:
      reply(core, s, "! cannot join %s: %s", room->name, uvc_strerror(err));
      break;
  }
}

static void cmd_join(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* cur = uvc_session_room(s);
  uvc_room_t* room;
  char named[UVC_ROOM_MAX + 2];
  const char* problem;
  int err;
  (void)n;
  if (a[0].n > 0 && a[0].n <= UVC_ROOM_MAX && a[0].p[0] != '#') { /* "/join dev" is #dev */
    named[0] = '#';
    memcpy(named + 1, a[0].p, a[0].n);
    a[0].p = named;
    a[0].n++;
  }
  problem = uvc_room_problem(a[0].p, a[0].n);
  if (problem != NULL) {
    reply(core, s, "! cannot join \"%.*s\": %s", (int)a[0].n, a[0].p, problem);
    return;
  }
  room = uvc_core_room(core, a[0].p, a[0].n);
  if (room != NULL && room == cur) {
    reply(core, s, "! you are already in %s", room->name);
    return;
  }
  if (room != NULL &&
      (err = uvc_core_may_join(core, s, room, n > 1 ? a[1].p : NULL, n > 1 ? a[1].n : 0)) != 0) {
    join_refused(core, s, room, err);
    return; /* checked before leaving: a refused user stays where they were */
  }
  if (cur != NULL) uvc_core_part(core, s, cur, NULL, 0);
  err = uvc_core_join_key(core, s, a[0].p, a[0].n, n > 1 ? a[1].p : NULL, n > 1 ? a[1].n : 0, 1,
                          &room);
  if (err != 0) {
    reply(core, s, "! cannot join %.*s: %s", (int)a[0].n, a[0].p, uvc_strerror(err));
    if (uvc_session_room(s) == NULL)
      uvc_core_join(core, s, uvc_core_lobby(core)->name, uvc_core_lobby(core)->name_len, 1, &room);
    return;
  }
  describe_room(core, s, room);
}

static void cmd_part(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* cur = uvc_session_room(s);
  uvc_room_t* lobby = uvc_core_lobby(core);
  if (cur == NULL || cur == lobby) {
    reply(core, s, "! you are in %s, where everyone starts; /join another room, or /quit",
          lobby->name);
    return;
  }
  uvc_core_part(core, s, cur, n > 0 ? a[0].p : NULL, n > 0 ? a[0].n : 0);
  if (uvc_core_join(core, s, lobby->name, lobby->name_len, 1, NULL) == 0)
    describe_room(core, s, lobby);
}

static int cmp_room(const void* a, const void* b) {
  const uvc_room_t* x = *(const uvc_room_t* const*)a;
  const uvc_room_t* y = *(const uvc_room_t* const*)b;
  size_t i;
  for (i = 0; i < x->name_len && i < y->name_len; i++) {
    char cx = uvc_ascii_lower(x->name[i]), cy = uvc_ascii_lower(y->name[i]);
    if (cx != cy) return cx < cy ? -1 : 1;
  }
  return (int)x->name_len - (int)y->name_len;
}

#define ROOMS_MAX_LISTED 200
static void cmd_rooms(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  unsigned count = uvc_core_room_count(core), i = 0, shown;
  uvc_room_t **v, *room;
  (void)a;
  (void)n;
  v = malloc((count > 0 ? count : 1) * sizeof(*v));
  if (v == NULL) return;
  for (room = uvc_core_room_next(core, NULL); room != NULL; room = uvc_core_room_next(core, room))
    if (uvc_room_visible(room, s)) v[i++] = room;
  count = i;
  qsort(v, count, sizeof(*v), cmp_room);
  reply(core, s, "*** %u room%s:", count, count == 1 ? "" : "s");
  shown = count < ROOMS_MAX_LISTED ? count : ROOMS_MAX_LISTED;
  for (i = 0; i < shown; i++) {
    room = v[i];
    reply(core, s, "***   %-20s %4u %s%s%s", room->name, (unsigned)room->n_members,
          room->n_members == 1 ? "person" : "people", room->topic ? "  " : "",
          room->topic ? room->topic : "");
  }
  if (shown < count) reply(core, s, "***   ... and %u more", count - shown);
  free(v);
}

static void cmd_topic(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = uvc_session_room(s);
  int err;
  if (room == NULL) {
    reply(core, s, "! you are not in a room");
    return;
  }
  if (n == 0) {
    if (room->topic == NULL)
      reply(core, s, "*** %s has no topic; set one with /topic TEXT", room->name);
    else
      reply(core, s, "*** Topic of %s: %s (set by %s)", room->name, room->topic, room->topic_by);
    return;
  }
  err = uvc_core_set_topic(core, s, room, a[0].p, a[0].n);
  if (err == UVC_ENOT_OPERATOR)
    reply(core, s, "! only operators of %s may set its topic", room->name);
  else if (err != 0)
    reply(core, s, "! cannot set the topic: %s", uvc_strerror(err));
}

static int cmp_nick(const void* a, const void* b) {
  const uvc_session_t* x = *(const uvc_session_t* const*)a;
  const uvc_session_t* y = *(const uvc_session_t* const*)b;
  size_t i;
  for (i = 0; i < x->nick_len && i < y->nick_len; i++) {
    char cx = uvc_ascii_lower(x->nick[i]), cy = uvc_ascii_lower(y->nick[i]);
    if (cx != cy) return cx < cy ? -1 : 1;
  }
  return (int)x->nick_len - (int)y->nick_len;
}

/* Lists the members of the room, sorted, as many lines as needed: operators marked with @
 * and voiced members with + before the nick, server operators with * after it, users logged in to
 * an account with + after it, away users with ~. */
#define WHO_MAX_NAMES 500
#define WHO_LINE      400
static void cmd_who(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = uvc_session_room(s);
  uvc_session_t** v;
  uint32_t i, shown, n_listed;
  char line[WHO_LINE + UVC_NICK_MAX + 8];
  size_t used;
  (void)a;
  (void)n;
  if (room == NULL) {
    reply(core, s, "! you are not in a room");
    return;
  }
  v = malloc(room->n_members * sizeof(*v));
  if (v == NULL) return;
  for (i = 0, n_listed = 0; i < room->n_members; i++)
    if (uvc_session_listed(room->members[i], s)) v[n_listed++] = room->members[i];
  qsort(v, n_listed, sizeof(*v), cmp_nick);
  reply(core, s, "*** %u %s in %s:", (unsigned)n_listed, n_listed == 1 ? "person" : "people",
        room->name);
  shown = n_listed < WHO_MAX_NAMES ? n_listed : WHO_MAX_NAMES;
  used = 0;
  for (i = 0; i < shown; i++) {
    const uvc_membership_t* m = uvc_session_in(v[i], room);
    int op = (m->flags & UVC_MEMBER_OP) != 0, away = uvc_session_away(v[i]) != NULL;
    int voice = (m->flags & UVC_MEMBER_VOICE) != 0;
    int logged_in = uvc_session_account(v[i]) != NULL;
    if (used > 0 && used + 6 + v[i]->nick_len > WHO_LINE) {
      reply_text(core, s, "***  ", line, used);
      used = 0;
    }
    line[used++] = ' ';
    if (op) line[used++] = '@';
    if (voice) line[used++] = '+';
    memcpy(line + used, v[i]->nick, v[i]->nick_len);
    used += v[i]->nick_len;
    if (logged_in) line[used++] = '+';
    if (away) line[used++] = '~';
    if (v[i]->umodes & UVC_USER_OPER) line[used++] = '*';
  }
  if (used > 0) reply_text(core, s, "***  ", line, used);
  if (shown < n_listed) reply(core, s, "***   ... and %u more", (unsigned)(n_listed - shown));
  free(v);
}

static void cmd_away(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  if (uvc_core_set_away(core, s, n > 0 ? a[0].p : NULL, n > 0 ? a[0].n : 0) != 0) {
    reply(core, s, "! cannot set your away message: %s", uvc_strerror(UVC_ENOMEM));
    return;
  }
  if (uvc_session_away(s) != NULL)
    reply(core, s, "*** You are away: %s", uvc_session_away(s));
  else
    reply(core, s, "*** You are back");
}

/* Whether /help shows c here: account commands where accounts are available, /pass where
 * the server has a password. */
static int listed(const uvc_core_t* core, const uvc_session_t* s, const text_cmd_t* c) {
  if ((c->flags & CMD_OPER) && !(s->umodes & UVC_USER_OPER)) return 0;
  if ((c->flags & CMD_ACCOUNT) && !uvc_core_has_accounts(core)) return 0;
  if ((c->flags & CMD_PASS) && !uvc_core_has_password(core)) return 0;
  return 1;
}

/* What /help COMMAND adds to a command's one-line summary: the rules a newcomer trips on. */
static const struct {
  const char* name;
  const char* lines[4];
} kDetails[] = {
    {"nick",
     {"A nick is 1 to 32 ASCII letters (A to Z, without accents), digits or - _ [ ] \\ ` ^ { } |,",
      "and does not start with a digit or -. Nicks are unique ignoring case (Ann and ann are the",
      "same); a registered nick needs its account's password (see /help login).", NULL}},
    {"join",
     {"A room name is # and 1 to 31 printable ASCII characters other than space, comma and",
      "colon, compared ignoring case; /join dev means #dev. A new room is made with you as its",
      "operator. You are in one room at a time: joining another leaves this one.", NULL}},
    {"msg",
     {"NICK is anyone online, text or IRC user; the message reaches them alone. People who are",
      "away are shown as such, and you are told their away message.", NULL}},
    {"topic",
     {"Without TEXT, shows the topic. In a room someone made, only its operators may set it;",
      "anyone may set the topic of the room everyone starts in.", NULL}},
    {"ban",
     {"MASK is a nick (bob means bob!*@*) or nick!user@host, where * matches anything and ? one",
      "character; text users are NICK!text@SERVER. The banned cannot join, and members who match",
      "cannot talk unless they have a voice. Only the room's operators ban; /ban alone lists.",
      NULL}},
    {"mode",
     {"/mode +moderated: only voiced people and operators talk. +invite-only: only the invited",
      "(/invite NICK) join. +secret: hidden from /rooms. +members-only, +topic-lock, and",
      "+no-history: nothing kept, /history shows nothing. A - takes a flag away; the IRC letters",
      "m i s n t H work too. Only the room's operators change flags."}},
    {"oper",
     {"NAME and PASSWORD are a server operator's, from the server's configuration (oper = NAME",
      "HASH). Server operators may /kill, /wallops, /rehash and /die.", NULL}},
    {"away",
     {"With TEXT you are marked away and people who message you are told TEXT; without",
      "TEXT you are back. /who marks the away with ~.", NULL}},
};

static void cmd_help(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  const text_cmd_t* c;
  if (n == 1) {
    const char* name = a[0].p;
    size_t len = a[0].n;
    size_t i, k;
    if (len > 0 && name[0] == '/') name++, len--;
    c = find_command(name, len);
    if (c == NULL) {
      reply(core, s, "! there is no command /%.*s; /help lists them", (int)len, name);
      return;
    }
    reply(core, s, "*** %s: %s", c->usage, c->help);
    for (i = 0; i < sizeof(kDetails) / sizeof(kDetails[0]); i++)
      if (strcmp(kDetails[i].name, c->name) == 0)
        for (k = 0; k < 4 && kDetails[i].lines[k] != NULL; k++)
          reply(core, s, "***   %s", kDetails[i].lines[k]);
    return;
  }
  reply(core, s, "*** Commands:");
  for (c = kCommands; c->name != NULL; c++)
    if (listed(core, s, c)) reply(core, s, "***   %-20s %s", c->usage, c->help);
  reply(core, s, "***   %-20s %s", "//TEXT", "send a line that starts with /");
  reply(core, s, "*** Anything else you type goes to everyone in your room.");
  if (uvc_core_has_accounts(core))
    reply(core, s,
          "*** In /who, @ marks operators, + before a nick a voice, + after it an account, ~ the "
          "away, * server operators.");
  else
    reply(core, s, "*** In /who, @ marks operators, + a voice, ~ the away, * server operators.");
}

static void cmd_quit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  if (s->present)
    reply(core, s, "*** Bye, %s!", s->nick);
  else
    reply(core, s, "*** Bye!");
  uvc_core_request_close(core, s, UVC_LEAVE_QUIT, n > 0 ? a[0].p : NULL, n > 0 ? a[0].n : 0);
}

/* /register PASSWORD: the nick becomes an account (the answer comes in text_on_auth). */
static void cmd_register(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  uvc_core_auth(core, s, UVC_AUTH_REGISTER, NULL, 0, a[0].p, a[0].n, NULL, 0);
}

/* /login NAME PASSWORD */
static void cmd_login(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  uvc_core_auth(core, s, UVC_AUTH_LOGIN, a[0].p, a[0].n, a[1].p, a[1].n, NULL, 0);
}

/* /logout */
static void cmd_logout(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)a;
  (void)n;
  uvc_core_auth(core, s, UVC_AUTH_LOGOUT, NULL, 0, NULL, 0, NULL, 0);
}

/* /passwd OLD NEW, each a word or a "quoted string" (see uvc_split_quoted). The line is in
 * the core's scratch buffer, which is ours to unquote in place. A line that does not parse
 * never reaches the accounts, so it costs no try. */
static void cmd_passwd(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_slice_t pw[2];
  (void)n;
  if (uvc_split_quoted((char*)a[0].p, a[0].n, 2, pw) != 2) {
    reply(core, s,
          "! usage: /passwd OLD NEW; a password with spaces goes in double quotes, "
          "\\\" and \\\\ inside them stand for \" and \\: /passwd \"old words\" \"new words\"");
    return;
  }
  uvc_core_auth(core, s, UVC_AUTH_PASSWD, NULL, 0, pw[0].p, pw[0].n, pw[1].p, pw[1].n);
}

/* /unregister PASSWORD */
static void cmd_unregister(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  uvc_core_auth(core, s, UVC_AUTH_UNREGISTER, NULL, 0, a[0].p, a[0].n, NULL, 0);
}

#define PASS_TRIES 3 /* wrong server passwords before the connection is closed */

/* /pass PASSWORD: the server password lets the user in. Three wrong ones close the
 * connection; an address with too many failures (of any connection) must wait. */
static void cmd_pass(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  static const char kWrong[] = "wrong server password";
  uint64_t wait;
  (void)n;
  if (!uvc_core_has_password(core)) {
    reply(core, s, "! this server has no password");
    return;
  }
  if (s->present) {
    reply(core, s, "! you gave the server password already");
    return;
  }
  wait = uvc_core_address_wait(core, s, 0);
  if (wait == 0 && uvc_core_check_password(core, a[0].p, a[0].n)) {
    admit(core, s);
    return;
  }
  s->bad_passwords++;
  if (wait != 0) {
    reply(core, s, "! too many wrong passwords from your address; try again in %u seconds",
          (unsigned)((wait + 999) / 1000));
  } else {
    (void)uvc_core_address_wait(core, s, 1);
    if (s->bad_passwords < PASS_TRIES)
      reply(core, s, "! wrong password; %u more tr%s", (unsigned)(PASS_TRIES - s->bad_passwords),
            PASS_TRIES - s->bad_passwords == 1 ? "y" : "ies");
    else
      reply(core, s, "! wrong password; goodbye");
  }
  if (s->bad_passwords >= PASS_TRIES)
    uvc_core_request_close(core, s, UVC_LEAVE_QUIT, kWrong, sizeof(kWrong) - 1);
}

/* ------------------------------------------------------------------------------------------
 * Moderation: the room the text user is in
 * ---------------------------------------------------------------------------------------- */

/* The room s moderates, after saying why not (NULL). */
static uvc_room_t* my_room(uvc_core_t* core, uvc_session_t* s) {
  uvc_room_t* room = uvc_session_room(s);
  if (room == NULL) reply(core, s, "! you are not in a room");
  return room;
}

/* The member of room called nick, after saying why not (NULL). */
static uvc_session_t* member_named(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room,
                                   const uvc_slice_t* nick) {
  uvc_session_t* t = uvc_core_find(core, nick->p, nick->n);
  if (t == NULL) {
    reply(core, s, "! there is nobody called %.*s online", (int)nick->n, nick->p);
    return NULL;
  }
  if (room != NULL && uvc_session_in(t, room) == NULL) {
    reply(core, s, "! %s is not in %s", t->nick, room->name);
    return NULL;
  }
  return t;
}

/* A refused moderation command, in words. */
static void moderation_error(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room, int err) {
  if (err == UVC_ENOT_OPERATOR)
    reply(core, s, "! only operators of %s may do that", room->name);
  else if (err != 0)
    reply(core, s, "! %s", uvc_strerror(err));
}

static void cmd_kick(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  uvc_session_t* t;
  if (room == NULL || (t = member_named(core, s, room, &a[0])) == NULL) return;
  moderation_error(
      core, s, room,
      uvc_core_kick(core, s, room, t, n > 1 ? a[1].p : s->nick, n > 1 ? a[1].n : s->nick_len));
}

/* Lists one of room's mask lists. */
static void show_list(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room,
                      uvc_room_list_kind_t kind) {
  const uvc_mask_list_t* l = uvc_room_list(room, kind);
  const char* what = kind == UVC_LIST_BAN ? "ban" : "invite exception";
  uint16_t i;
  if (l->n == 0) {
    reply(core, s, "*** %s has no %ss", room->name, what);
    return;
  }
  reply(core, s, "*** %u %s%s in %s:", (unsigned)l->n, what, l->n == 1 ? "" : "s", room->name);
  for (i = 0; i < l->n; i++)
    reply(core, s, "***   %s (set by %s)", l->v[i].mask, l->v[i].by);
}

static void cmd_ban(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  if (room == NULL) return;
  if (n == 0) {
    show_list(core, s, room, UVC_LIST_BAN);
    return;
  }
  moderation_error(core, s, room,
                   uvc_core_list_change(core, s, room, UVC_LIST_BAN, a[0].p, a[0].n, 1));
}

static void cmd_unban(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  char norm[UVC_MASK_MAX + 1];
  size_t len;
  uint16_t i;
  const uvc_mask_list_t* l;
  int err;
  (void)n;
  if (room == NULL) return;
  len = uvc_mask_normalize(a[0].p, a[0].n, norm);
  l = uvc_room_list(room, UVC_LIST_BAN);
  for (i = 0; i < l->n; i++)
    if (uvc_name_eq(l->v[i].mask, strlen(l->v[i].mask), norm, len)) break;
  if (len == 0 || i == l->n) {
    if (uvc_session_in(s, room) != NULL && !uvc_session_is_op(s, room))
      moderation_error(core, s, room, UVC_ENOT_OPERATOR);
    else
      reply(core, s, "! %.*s is not banned from %s (/ban lists the bans)", (int)a[0].n, a[0].p,
            room->name);
    return;
  }
  err = uvc_core_list_change(core, s, room, UVC_LIST_BAN, a[0].p, a[0].n, 0);
  moderation_error(core, s, room, err);
}

static void set_flag(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, unsigned flag, int on) {
  uvc_room_t* room = my_room(core, s);
  uvc_session_t* t;
  if (room == NULL || (t = member_named(core, s, room, &a[0])) == NULL) return;
  moderation_error(core, s, room, uvc_core_set_member(core, s, room, t, flag, on));
}

static void cmd_op(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  set_flag(core, s, a, UVC_MEMBER_OP, 1);
}
static void cmd_deop(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  set_flag(core, s, a, UVC_MEMBER_OP, 0);
}
static void cmd_voice(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  set_flag(core, s, a, UVC_MEMBER_VOICE, 1);
}
static void cmd_devoice(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  set_flag(core, s, a, UVC_MEMBER_VOICE, 0);
}

static void cmd_invite(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  uvc_session_t* t;
  int err;
  (void)n;
  if (room == NULL || (t = member_named(core, s, NULL, &a[0])) == NULL) return;
  err = uvc_core_invite(core, s, room, t);
  if (err == 0)
    reply(core, s, "*** You invited %s to %s", t->nick, room->name);
  else if (err == UVC_ETARGET_IN_ROOM)
    reply(core, s, "! %s is already in %s", t->nick, room->name);
  else
    moderation_error(core, s, room, err);
}

/* The room flags /mode knows, by word and by letter. */
static const struct {
  const char* word;
  char letter;
  unsigned mode;
  const char* on;
  const char* off;
} kFlags[] = {
    {"moderated", 'm', UVC_ROOM_MODERATED, "only voiced people and operators may talk",
     "everyone may talk"},
    {"invite-only", 'i', UVC_ROOM_INVITE_ONLY, "only the invited may join", "anyone may join"},
    {"secret", 's', UVC_ROOM_SECRET, "hidden from the room list", "shown in the room list"},
    {"members-only", 'n', UVC_ROOM_MEMBERS_ONLY, "only members may talk", "anyone may talk"},
    {"topic-lock", 't', UVC_ROOM_TOPIC_LOCKED, "only operators set the topic",
     "anyone may set the topic"},
    {"no-history", 'H', UVC_ROOM_NO_HISTORY, "its messages are not kept", "its messages are kept"},
};
#define N_FLAGS (sizeof(kFlags) / sizeof(kFlags[0]))

/* The room's flags, key and limit in words. */
static void show_modes(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  char line[400];
  size_t used = 0, i;
  for (i = 0; i < N_FLAGS; i++)
    if (room->modes & kFlags[i].mode)
      used += (size_t)snprintf(line + used, sizeof(line) - used, " +%s", kFlags[i].word);
  if (room->modes & UVC_ROOM_KEY)
    used += (size_t)snprintf(line + used, sizeof(line) - used, " key %s",
                             uvc_session_in(s, room) != NULL ? room->key : "(set)");
  if (room->modes & UVC_ROOM_LIMIT)
    used += (size_t)snprintf(line + used, sizeof(line) - used, " limit %u", (unsigned)room->limit);
  reply(core, s, "*** %s:%s", room->name, used > 0 ? line : " no flags");
}

static void cmd_mode(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  unsigned on = 0, off = 0;
  int i;
  if (room == NULL) return;
  if (n == 0) {
    show_modes(core, s, room);
    return;
  }
  for (i = 0; i < n; i++) {
    const char* w = a[i].p;
    size_t len = a[i].n, k;
    int plus;
    if (len < 2 || (w[0] != '+' && w[0] != '-')) {
      reply(core, s,
            "! usage: /mode +FLAG or -FLAG, FLAG one of moderated invite-only secret "
            "members-only topic-lock no-history (or m i s n t H)");
      return;
    }
    plus = w[0] == '+';
    w++, len--;
    for (k = 0; k < N_FLAGS; k++)
      if (uvc_name_eq(w, len, kFlags[k].word, strlen(kFlags[k].word)) ||
          (len == 1 && w[0] == kFlags[k].letter))
        break;
    if (k == N_FLAGS) {
      reply(core, s,
            "! there is no flag \"%.*s\"; the flags are moderated invite-only secret "
            "members-only topic-lock no-history",
            (int)len, w);
      return;
    }
    if (plus)
      on |= kFlags[k].mode, off &= ~kFlags[k].mode;
    else
      off |= kFlags[k].mode, on &= ~kFlags[k].mode;
  }
  moderation_error(core, s, room, uvc_core_set_modes(core, s, room, on, off));
}

static void cmd_key(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  int err;
  if (room == NULL) return;
  err = uvc_core_set_key(core, s, room, n > 0 ? a[0].p : NULL, n > 0 ? a[0].n : 0);
  if (err == UVC_EKEY_INVALID)
    reply(core, s, "! a key is 1 to %d printable ASCII characters, no spaces or commas",
          UVC_KEY_MAX);
  else
    moderation_error(core, s, room, err);
}

static void cmd_limit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = my_room(core, s);
  unsigned long v = 0;
  if (room == NULL) return;
  if (n > 0) {
    char* end;
    char buf[16];
    snprintf(buf, sizeof(buf), "%.*s", (int)(a[0].n < 15 ? a[0].n : 15), a[0].p);
    v = strtoul(buf, &end, 10);
    if (*end != '\0' || buf[0] < '0' || buf[0] > '9' || v == 0 || v > 1000000) {
      reply(core, s, "! usage: /limit N, N a number from 1 to 1000000; /limit alone removes it");
      return;
    }
  }
  moderation_error(core, s, room, uvc_core_set_limit(core, s, room, (uint32_t)v));
}

/* /oper NAME PASSWORD: the answer comes in text_on_auth. */
static void cmd_oper(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  uvc_core_auth(core, s, UVC_AUTH_OPER, a[0].p, a[0].n, a[1].p, a[1].n, NULL, 0);
}

static void oper_error(uvc_core_t* core, uvc_session_t* s, int err) {
  if (err == UVC_ENOT_SERVER_OPER)
    reply(core, s, "! only server operators may do that (/oper NAME PASSWORD)");
  else if (err != 0)
    reply(core, s, "! %s", uvc_strerror(err));
}

static void cmd_kill(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_session_t* t;
  (void)n;
  if (!(s->umodes & UVC_USER_OPER)) {
    oper_error(core, s, UVC_ENOT_SERVER_OPER);
    return;
  }
  if ((t = member_named(core, s, NULL, &a[0])) == NULL) return;
  oper_error(core, s, uvc_core_kill(core, s, t, a[1].p, a[1].n));
}

static void cmd_wallops(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)n;
  oper_error(core, s, uvc_core_wallops(core, s, a[0].p, a[0].n));
}

static void cmd_rehash(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  int err = uvc_core_rehash(core, s);
  (void)a;
  (void)n;
  if (err == 0)
    reply(core, s, "*** Reloading the settings (the server's log says what changed)");
  else
    oper_error(core, s, err);
}

static void cmd_die(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  (void)a;
  (void)n;
  oper_error(core, s, uvc_core_die(core, s));
}

/* Checks the command c found at the start of line (its name i bytes long) and runs it. */
static void run_found(uvc_core_t* core, uvc_session_t* s, const text_cmd_t* c, const char* line,
                      size_t len, size_t i) {
  uvc_slice_t args[CMD_ARGS_MAX]; /* no command takes more (/mode: 8) */
  int n, max;
  if (c == NULL) {
    reply(core, s, "! unknown command %.*s; type /help for the list",
          (int)uvc_utf8_cut(line, i, 40), line);
    return;
  }
  if (!s->present && !(c->flags & CMD_GATE)) {
    reply(core, s, "! this server needs a password first: type /pass PASSWORD");
    return;
  }
  max = c->max < CMD_ARGS_MAX ? c->max : CMD_ARGS_MAX; /* a table row can never overrun args */
  n = uvc_split_words(line + i, len - i, max, c->rest, args);
  if (n < c->min || n > c->max)
    reply(core, s, "! usage: %s", c->usage);
  else
    c->fn(core, s, args, n);
}

/* Runs a command line (cleaned, in the core's scratch buffer). A line that carries a password
 * (or may: a mistyped command) is wiped as soon as its command has run, whatever the
 * outcome. */
static void run_command(uvc_core_t* core, uvc_session_t* s, char* line, size_t len) {
  size_t i = 1;
  const text_cmd_t* c;
  while (i < len && !is_blank(line[i]))
    i++;
  c = find_command(line + 1, i - 1);
  run_found(core, s, c, line, len, i);
  if (c == NULL || (c->flags & CMD_SECRET)) uvc_wipe(line, len);
}

/* ------------------------------------------------------------------------------------------
 * Connection entry points
 * ---------------------------------------------------------------------------------------- */

/* Brings s into the chat: a guest nick in the default room, and the welcome. */
static void admit(uvc_core_t* core, uvc_session_t* s) {
  uvc_room_t* room;
  if (uvc_core_arrive(core, s) != 0) {
    reply(core, s, "! the server is out of memory; try again later");
    uvc_core_request_close(core, s, UVC_LEAVE_LOST, NULL, 0);
    return;
  }
  room = uvc_session_room(s);
  reply(core, s, "*** Welcome to uvchat, %s! Type /help for commands.", s->nick);
  if (room->n_members == 1)
    reply(core, s, "*** You are the first one in %s. Pick a name with /nick NAME.", room->name);
  else
    reply(core, s, "*** You are in %s with %u other%s. Pick a name with /nick NAME.", room->name,
          (unsigned)(room->n_members - 1), room->n_members == 2 ? "" : "s");
  if (room->topic != NULL)
    reply(core, s, "*** Topic of %s: %s (set by %s)", room->name, room->topic, room->topic_by);
  if (uvc_core_history_join(core) > 0)
    ask_history(core, s, room, uvc_core_history_join(core), HIST_JOIN);
}

/* A new connection: into the chat at once, or, where the server has a password, only once
 * it was given (until then the user is in no room and nobody sees them). */
static void text_on_open(uvc_core_t* core, uvc_session_t* s) {
  s->user = "text";
  if (uvc_core_has_password(core)) {
    reply(core, s, "*** This server needs a password: type /pass PASSWORD");
    return;
  }
  admit(core, s);
}

static void text_on_line(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len) {
  char* text = uvc_core_scratch(core);
  size_t n = uvc_clean_text(line, len, text, 0);
  int err;
  if (uvc_text_is_blank(text, n)) return;
  if (text[0] == '/' && !(n > 1 && text[1] == '/')) {
    run_command(core, s, text, n);
    return;
  }
  if (!s->present) {
    reply(core, s, "! this server needs a password first: type /pass PASSWORD");
    return;
  }
  if (text[0] == '/') text++, n--; /* "//x" says "/x" */
  err = uvc_core_say(core, s, NULL, text, n, 0);
  if (err != 0) reply(core, s, "! not sent: %s", uvc_strerror(err));
}

static void text_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why,
                             const char* text) {
  if (why == UVC_LEAVE_SHUTDOWN) return; /* the shutdown announcement said it already */
  reply(core, s, "*** Disconnected: %s", text);
}

static void text_on_slowed(uvc_core_t* core, uvc_session_t* s, unsigned per_second) {
  reply(core, s, "*** slow down: your lines are being delayed to %u a second (none is lost)",
        per_second);
}

static void text_on_toolong(uvc_core_t* core, uvc_session_t* s) {
  reply(core, s, "! line too long (the limit is %u bytes); it was not sent",
        (unsigned)uvc_core_max_line(core));
}

/* The answer to an account command, in words. */
static void text_on_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, int status,
                         const char* account, const char* detail) {
  if (account == NULL) account = uvc_session_account(s) != NULL ? uvc_session_account(s) : "?";
  if (status != 0) {
    reply(core, s, "! %s", detail != NULL ? detail : uvc_strerror(status));
    return;
  }
  switch (op) {
    case UVC_AUTH_REGISTER:
      reply(core, s, "*** Account %s registered; you are logged in.", account);
      break;
    case UVC_AUTH_LOGIN:
      reply(core, s, "*** You are logged in as %s.", account);
      break;
    case UVC_AUTH_LOGOUT:
      if (detail != NULL)
        reply(core, s, "*** You are logged out: %s.", detail);
      else
        reply(core, s, "*** You are logged out of %s.", account);
      return;
    case UVC_AUTH_PASSWD:
      reply(core, s, "*** The password of %s was changed.", account);
      break;
    case UVC_AUTH_UNREGISTER:
      reply(core, s, "*** Account %s deleted; you are logged out.", account);
      break;
    case UVC_AUTH_OPER:
      reply(core, s, "*** You are now a server operator (%s); /help lists your commands.", account);
      return;
  }
  if (detail != NULL) reply(core, s, "*** Note: %s.", detail);
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */

/* A line made of a formatted head, then (optionally) text and a tail. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static uvc_msg_t*
render_line(const char* text, size_t len, const char* tail, const char* fmt, ...) {
  char head[2 * UVC_NICK_MAX + 2 * UVC_ROOM_MAX + 96];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(head, sizeof(head), fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  if ((size_t)n >= sizeof(head)) n = (int)sizeof(head) - 1;
  return line3(head, (size_t)n, text, len, tail, tail ? strlen(tail) : 0);
}

/* The line of a message, the most common event: open + nick + close + text, put together
 * without a format string (a printf costs more than the rest of the rendering). */
static uvc_msg_t* talk_line(const char* open, size_t olen, const uvc_event_who_t* from,
                            const char* close, size_t clen, const char* text, size_t len) {
  char head[48 + UVC_NICK_MAX];
  memcpy(head, open, olen);
  memcpy(head + olen, from->nick, from->nick_len);
  memcpy(head + olen + from->nick_len, close, clen);
  return line3(head, olen + from->nick_len + clen, text, len, NULL, 0);
}

static uvc_msg_t* render_leave(const uvc_event_t* ev) {
  const char* nick = ev->from.nick;
  switch (ev->reason) {
    case UVC_LEAVE_QUIT:
      if (ev->len > 0) return render_line(ev->text, ev->len, ")", "*** %s left (quit: ", nick);
      return render_line(NULL, 0, NULL, "*** %s left (quit)", nick);
    case UVC_LEAVE_CLOSED:
      return render_line(NULL, 0, NULL, "*** %s left (connection closed)", nick);
    case UVC_LEAVE_LOST:
      return render_line(NULL, 0, NULL, "*** %s left (connection lost)", nick);
    case UVC_LEAVE_SENDQ:
      return render_line(NULL, 0, NULL, "*** %s was disconnected (not reading fast enough)", nick);
    case UVC_LEAVE_INPUT:
    case UVC_LEAVE_IDLE:
      if (ev->len > 0)
        return render_line(ev->text, ev->len, ")", "*** %s was disconnected (", nick);
      return render_line(NULL, 0, NULL, "*** %s was disconnected (%s)", nick,
                         ev->reason == UVC_LEAVE_IDLE ? "idle too long" : "sending too much");
    case UVC_LEAVE_KILLED:
      return render_line(ev->text, ev->len, ")", "*** %s was disconnected (", nick);
    case UVC_LEAVE_SERVER:
      return render_line(ev->text, ev->len, ")", "*** %s left (", nick);
    case UVC_LEAVE_SHUTDOWN:
    default:
      return render_line(NULL, 0, NULL, "*** %s left", nick);
  }
}

/* Room, membership and list changes in words. */
static uvc_msg_t* render_mode(const uvc_event_t* ev) {
  const char* who = ev->from.nick;
  const char* room = ev->room;
  char words[400];
  size_t used = 0, i;
  if (ev->list == UVC_LIST_BAN)
    return ev->mode_on ? render_line(NULL, 0, NULL, "*** %s banned %.*s from %s", who, (int)ev->len,
                                     ev->text, room)
                       : render_line(NULL, 0, NULL, "*** %s lifted the ban on %.*s in %s", who,
                                     (int)ev->len, ev->text, room);
  if (ev->list == UVC_LIST_INVITE)
    return render_line(NULL, 0, NULL, "*** %s %s %.*s %s the invite list of %s", who,
                       ev->mode_on ? "added" : "removed", (int)ev->len, ev->text,
                       ev->mode_on ? "to" : "from", room);
  if (ev->to.nick_len > 0) {
    if ((ev->mode_on | ev->mode_off) & UVC_MEMBER_VOICE)
      return ev->mode_on ? render_line(NULL, 0, NULL, "*** %s gave %s a voice in %s", who,
                                       ev->to.nick, room)
                         : render_line(NULL, 0, NULL, "*** %s took %s's voice in %s", who,
                                       ev->to.nick, room);
    return ev->mode_on ? render_line(NULL, 0, NULL, "*** %s made %s an operator of %s", who,
                                     ev->to.nick, room)
                       : render_line(NULL, 0, NULL, "*** %s took operator status in %s from %s",
                                     who, room, ev->to.nick);
  }
  if (ev->mode_on & UVC_ROOM_KEY)
    return render_line(ev->text, ev->len, NULL, "*** %s set the key of %s to ", who, room);
  if (ev->mode_off & UVC_ROOM_KEY)
    return render_line(NULL, 0, NULL, "*** %s removed the key of %s", who, room);
  if (ev->mode_on & UVC_ROOM_LIMIT)
    return render_line(NULL, 0, NULL, "*** %s limited %s to %u people", who, room,
                       (unsigned)ev->limit);
  if (ev->mode_off & UVC_ROOM_LIMIT)
    return render_line(NULL, 0, NULL, "*** %s removed the limit of %s", who, room);
  for (i = 0; i < N_FLAGS; i++) {
    const char* w = (ev->mode_on & kFlags[i].mode)    ? kFlags[i].on
                    : (ev->mode_off & kFlags[i].mode) ? kFlags[i].off
                                                      : NULL;
    if (w != NULL)
      used += (size_t)snprintf(words + used, sizeof(words) - used, "%s%s", used ? "; " : " ", w);
  }
  words[used] = '\0';
  return render_line(NULL, 0, NULL, "*** %s changed %s:%s", who, room, words);
}

static uvc_msg_t* text_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx) {
  const uvc_event_who_t* from = &ev->from;
  (void)ctx; /* a text line names nobody's server */
  switch (ev->type) {
    case UVC_EV_SAY:
      return ev->notice ? talk_line("-", 1, from, "- ", 2, ev->text, ev->len)
                        : talk_line("<", 1, from, "> ", 2, ev->text, ev->len);
    case UVC_EV_ACTION:
      return talk_line("* ", 2, from, " ", 1, ev->text, ev->len);
    case UVC_EV_PRIVATE:
      return render_line(ev->text, ev->len, NULL,
                         ev->notice ? "[private notice] -%s- " : "[private] <%s> ", from->nick);
    case UVC_EV_ARRIVE:
      return render_line(NULL, 0, NULL, "*** %s joined %s", from->nick, ev->room);
    case UVC_EV_PART:
      if (ev->len > 0)
        return render_line(ev->text, ev->len, ")", "*** %s left %s (", from->nick, ev->room);
      return render_line(NULL, 0, NULL, "*** %s left %s", from->nick, ev->room);
    case UVC_EV_LEAVE:
      return render_leave(ev);
    case UVC_EV_NICK:
      return render_line(NULL, 0, NULL, "*** %.*s is now known as %s", (int)ev->old_len,
                         ev->old_nick, from->nick);
    case UVC_EV_TOPIC:
      if (ev->len == 0)
        return render_line(NULL, 0, NULL, "*** %s cleared the topic of %s", from->nick, ev->room);
      return render_line(ev->text, ev->len, NULL, "*** %s set the topic of %s: ", from->nick,
                         ev->room);
    case UVC_EV_KICK:
      if (ev->len > 0)
        return render_line(ev->text, ev->len, ")", "*** %s removed %s from %s (", from->nick,
                           ev->to.nick, ev->room);
      return render_line(NULL, 0, NULL, "*** %s removed %s from %s", from->nick, ev->to.nick,
                         ev->room);
    case UVC_EV_MODE:
      return render_mode(ev);
    case UVC_EV_RECLAIM:
      if (ev->same_account)
        return render_line(NULL, 0, NULL,
                           "*** you logged in to %.*s from another connection, which took the "
                           "nick: this one is now %s",
                           (int)ev->len, ev->text, ev->to.nick);
      return render_line(NULL, 0, NULL,
                         "*** %.*s is a registered nick and its owner logged in: you are now %s",
                         (int)ev->len, ev->text, ev->to.nick);
    case UVC_EV_ANNOUNCE:
      return render_line(ev->text, ev->len, NULL, "*** ");
    case UVC_EV_INVITE:
      return render_line(NULL, 0, NULL, "*** %s invites you to %s: type /join %s", from->nick,
                         ev->room, ev->room);
    case UVC_EV_WALLOPS:
      return render_line(ev->text, ev->len, NULL, "*** [wallops] %s: ", from->nick);
    case UVC_EV_AWAY:     /* /who shows who is away */
    case UVC_EV_ACCOUNT:  /* nobody is told of logins */
    case UVC_EV_TAGMSG:   /* tags only: nothing a text user can see */
    case UVC_EV_INVITED:  /* only the invited are told (IRC clients may ask for more) */
    case UVC_EV_REALNAME: /* text users have no real names to show */
      return NULL;
  }
  return NULL;
}

const uvc_adapter_t uvc_text_adapter = {
    "text", /* name */
    0,      /* format */
    1,      /* telnet */
    1,      /* single_room */
    0,      /* max_line: the server's --max-line */
    text_render,
    text_on_open,
    text_on_line,
    text_on_toolong,
    NULL, /* on_idle: nc users cannot answer a ping */
    text_on_farewell,
    NULL, /* on_free: no state of its own */
    text_on_auth,
    text_on_slowed,
    NULL, /* on_watch: text users watch nobody */
    NULL, /* realname: text users have none */
    NULL, /* render_variant: one rendering for every text user */
    NULL, /* wrap */
    text_on_history,
    0, /* remote */
};
