/* text.c: the adapter for plain-text clients (nc, telnet, socat, PuTTY raw).
 *
 * It cleans each incoming line, dispatches commands through one table, calls the core, and
 * renders the core's events as CRLF-terminated lines. Replies to the sender (errors, /who,
 * /help) are rendered here and sent to that session alone.
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

int uvc_split_words(const char* s, size_t len, int max, int rest, uvc_slice_t* out) {
  size_t i = 0;
  int n = 0;
  for (;;) {
    size_t start;
    while (i < len && is_blank(s[i]))
      i++;
    if (i == len) return n;
    if (n == max) return max + 1;
    if (rest && n == max - 1) {
      size_t end = len;
      while (end > i && is_blank(s[end - 1]))
        end--;
      out[n].p = s + i;
      out[n].n = end - i;
      return n + 1;
    }
    start = i;
    while (i < len && !is_blank(s[i]))
      i++;
    out[n].p = s + start;
    out[n].n = i - start;
    n++;
  }
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
  if ((size_t)n > sizeof(buf) - 3) n = (int)(sizeof(buf) - 3);
  memcpy(buf + n, CRLF, 2);
  m = uvc_msg_from(buf, (size_t)n + 2);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* Sends prefix + text + CRLF to s alone (text may be long: it is not formatted). */
static void reply_text(uvc_core_t* core, uvc_session_t* s, const char* prefix, const char* text,
                       size_t len) {
  uvc_part_t parts[3];
  uvc_msg_t* m;
  parts[0].p = prefix;
  parts[0].n = strlen(prefix);
  parts[1].p = text;
  parts[1].n = len;
  parts[2].p = CRLF;
  parts[2].n = 2;
  m = uvc_msg_concat(parts, 3);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* ------------------------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------------------------- */

typedef void (*cmd_fn)(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* args, int n);

typedef struct text_cmd {
  const char* name;
  cmd_fn fn;
  int min;  /* fewest words */
  int max;  /* most words */
  int rest; /* the last word takes the rest of the line */
  const char* usage;
  const char* help;
} text_cmd_t;

static void cmd_nick(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_msg(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_me(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_who(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_help(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);
static void cmd_quit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n);

static const text_cmd_t kCommands[] = {
    /* name   handler   min max rest usage              help */
    {"nick", cmd_nick, 1, 1, 0, "/nick NAME", "change your name"},
    {"msg", cmd_msg, 2, 2, 1, "/msg NICK TEXT", "send TEXT to NICK alone"},
    {"me", cmd_me, 1, 1, 1, "/me ACTION", "tell the room what you do"},
    {"who", cmd_who, 0, 0, 0, "/who", "list who is here"},
    {"help", cmd_help, 0, 1, 0, "/help [COMMAND]", "show the commands"},
    {"quit", cmd_quit, 0, 1, 1, "/quit [REASON]", "leave the chat"},
    {NULL, NULL, 0, 0, 0, NULL, NULL}};

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
    default:
      reply(core, s, "! cannot change your nick: %s", uvc_strerror(err));
      break;
  }
}

static void cmd_msg(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_session_t* to = NULL;
  int err = uvc_core_whisper(core, s, a[0].p, a[0].n, a[1].p, a[1].n, &to);
  char prefix[UVC_NICK_MAX + 32];
  (void)n;
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
}

static void cmd_me(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  int err = uvc_core_act(core, s, a[0].p, a[0].n);
  (void)n;
  if (err != 0) reply(core, s, "! not sent: %s", uvc_strerror(err));
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

/* Lists the members of a room, sorted, as many lines as they need. */
#define WHO_MAX_NAMES 500
#define WHO_LINE      400
static void cmd_who(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  uvc_room_t* room = uvc_session_room(s);
  uvc_session_t** v;
  uint32_t i, shown;
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
  memcpy(v, room->members, room->n_members * sizeof(*v));
  qsort(v, room->n_members, sizeof(*v), cmp_nick);
  reply(core, s, "*** %u %s in %s:", (unsigned)room->n_members,
        room->n_members == 1 ? "person" : "people", room->name);
  shown = room->n_members < WHO_MAX_NAMES ? room->n_members : WHO_MAX_NAMES;
  used = 0;
  for (i = 0; i < shown; i++) {
    if (used > 0 && used + 1 + v[i]->nick_len > WHO_LINE) {
      reply_text(core, s, "***  ", line, used);
      used = 0;
    }
    line[used++] = ' ';
    memcpy(line + used, v[i]->nick, v[i]->nick_len);
    used += v[i]->nick_len;
  }
  if (used > 0) reply_text(core, s, "***  ", line, used);
  if (shown < room->n_members)
    reply(core, s, "***   ... and %u more", (unsigned)(room->n_members - shown));
  free(v);
}

static void cmd_help(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  const text_cmd_t* c;
  if (n == 1) {
    const char* name = a[0].p;
    size_t len = a[0].n;
    if (len > 0 && name[0] == '/') name++, len--;
    c = find_command(name, len);
    if (c == NULL) {
      reply(core, s, "! there is no command /%.*s; /help lists them", (int)len, name);
      return;
    }
    reply(core, s, "*** %s: %s", c->usage, c->help);
    return;
  }
  reply(core, s, "*** Commands:");
  for (c = kCommands; c->name != NULL; c++)
    reply(core, s, "***   %-18s %s", c->usage, c->help);
  reply(core, s, "***   %-18s %s", "//TEXT", "send a line that starts with /");
  reply(core, s, "*** Anything else you type goes to everyone in your room.");
}

static void cmd_quit(uvc_core_t* core, uvc_session_t* s, uvc_slice_t* a, int n) {
  reply(core, s, "*** Bye, %s!", s->nick);
  uvc_core_request_close(core, s, UVC_LEAVE_QUIT, n > 0 ? a[0].p : NULL, n > 0 ? a[0].n : 0);
}

static void run_command(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len) {
  uvc_slice_t args[4];
  size_t i = 1;
  const text_cmd_t* c;
  int n;
  while (i < len && !is_blank(line[i]))
    i++;
  c = find_command(line + 1, i - 1);
  if (c == NULL) {
    reply(core, s, "! unknown command %.*s; type /help for the list", (int)(i > 40 ? 40 : i), line);
    return;
  }
  n = uvc_split_words(line + i, len - i, c->max, c->rest, args);
  if (n < c->min || n > c->max) {
    reply(core, s, "! usage: %s", c->usage);
    return;
  }
  c->fn(core, s, args, n);
}

/* ------------------------------------------------------------------------------------------
 * Connection entry points
 * ---------------------------------------------------------------------------------------- */

static void text_on_open(uvc_core_t* core, uvc_session_t* s) {
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
}

static void text_on_line(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len) {
  char* text = core->scratch;
  size_t n = uvc_clean_text(line, len, text, 0);
  int err;
  if (uvc_text_is_blank(text, n)) return;
  if (text[0] == '/' && !(n > 1 && text[1] == '/')) {
    run_command(core, s, text, n);
    return;
  }
  if (text[0] == '/') text++, n--; /* "//x" says "/x" */
  err = uvc_core_say(core, s, text, n);
  if (err != 0) reply(core, s, "! not sent: %s", uvc_strerror(err));
}

static void text_on_toolong(uvc_core_t* core, uvc_session_t* s) {
  reply(core, s, "! line too long (the limit is %u bytes); it was not sent",
        (unsigned)core->max_line);
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */

static uvc_msg_t* render3(const char* a, size_t an, const char* b, size_t bn, const char* c,
                          size_t cn) {
  uvc_part_t p[4];
  p[0].p = a;
  p[0].n = an;
  p[1].p = b;
  p[1].n = bn;
  p[2].p = c;
  p[2].n = cn;
  p[3].p = CRLF;
  p[3].n = 2;
  return uvc_msg_concat(p, 4);
}

static uvc_msg_t* render_leave(const uvc_event_t* ev) {
  char buf[UVC_NICK_MAX + 96];
  const char* nick = ev->from->nick;
  int n;
  switch (ev->reason) {
    case UVC_LEAVE_QUIT:
      if (ev->len > 0) {
        n = snprintf(buf, sizeof(buf), "*** %s left (quit: ", nick);
        return render3(buf, (size_t)n, ev->text, ev->len, ")", 1);
      }
      n = snprintf(buf, sizeof(buf), "*** %s left (quit)", nick);
      break;
    case UVC_LEAVE_CLOSED:
      n = snprintf(buf, sizeof(buf), "*** %s left (connection closed)", nick);
      break;
    case UVC_LEAVE_LOST:
      n = snprintf(buf, sizeof(buf), "*** %s left (connection lost)", nick);
      break;
    case UVC_LEAVE_SENDQ:
      n = snprintf(buf, sizeof(buf), "*** %s was disconnected (not reading fast enough)", nick);
      break;
    case UVC_LEAVE_INPUT:
      n = snprintf(buf, sizeof(buf), "*** %s was disconnected (sending too much)", nick);
      break;
    case UVC_LEAVE_IDLE:
      n = snprintf(buf, sizeof(buf), "*** %s was disconnected (idle too long)", nick);
      break;
    case UVC_LEAVE_SHUTDOWN:
    default:
      n = snprintf(buf, sizeof(buf), "*** %s left", nick);
      break;
  }
  return render3(buf, (size_t)n, NULL, 0, NULL, 0);
}

static uvc_msg_t* text_render(const uvc_event_t* ev) {
  const uvc_session_t* from = ev->from;
  char buf[2 * UVC_NICK_MAX + UVC_ROOM_MAX + 64];
  int n;
  switch (ev->type) {
    case UVC_EV_SAY:
      n = snprintf(buf, sizeof(buf), "<%s> ", from->nick);
      return render3(buf, (size_t)n, ev->text, ev->len, NULL, 0);
    case UVC_EV_ACTION:
      n = snprintf(buf, sizeof(buf), "* %s ", from->nick);
      return render3(buf, (size_t)n, ev->text, ev->len, NULL, 0);
    case UVC_EV_PRIVATE:
      n = snprintf(buf, sizeof(buf), "[private] <%s> ", from->nick);
      return render3(buf, (size_t)n, ev->text, ev->len, NULL, 0);
    case UVC_EV_ARRIVE:
      n = snprintf(buf, sizeof(buf), "*** %s joined %s", from->nick, ev->room->name);
      return render3(buf, (size_t)n, NULL, 0, NULL, 0);
    case UVC_EV_LEAVE:
      return render_leave(ev);
    case UVC_EV_NICK:
      n = snprintf(buf, sizeof(buf), "*** %.*s is now known as %s", (int)ev->old_len, ev->old_nick,
                   from->nick);
      return render3(buf, (size_t)n, NULL, 0, NULL, 0);
    case UVC_EV_ANNOUNCE:
      return render3("*** ", 4, ev->text, ev->len, NULL, 0);
  }
  return NULL;
}

const uvc_adapter_t uvc_text_adapter = {
    "text", 0, 1, text_render, text_on_open, text_on_line, text_on_toolong,
};
