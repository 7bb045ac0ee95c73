/* irc_render.c: core events as IRC lines, rendered once for every IRC recipient. */
#include "irc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    case UVC_LEAVE_KILLED: /* "Killed (oper (reason))" */
      n = snprintf(out, cap, "%.*s", (int)ev->len, ev->text);
      break;
    case UVC_LEAVE_SHUTDOWN:
    default:
      n = snprintf(out, cap, "Server shutting down");
      break;
  }
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A MODE event: "+nt", "-t+m", "+o nick", "+v nick", "+b mask", "+k key", "+l 10", "-l". */
static size_t mode_change(const uvc_event_t* ev, char* out, size_t cap) {
  static const struct {
    unsigned mode;
    char letter;
  } kLetters[] = {{UVC_ROOM_INVITE_ONLY, 'i'},
                  {UVC_ROOM_MODERATED, 'm'},
                  {UVC_ROOM_MEMBERS_ONLY, 'n'},
                  {UVC_ROOM_SECRET, 's'},
                  {UVC_ROOM_TOPIC_LOCKED, 't'}};
  size_t n = 0, i;
  int len;
  if (ev->list != 0)
    len = snprintf(out, cap, "%c%c %.*s", ev->mode_on ? '+' : '-',
                   ev->list == UVC_LIST_BAN ? 'b' : 'I', (int)ev->len, ev->text);
  else if (ev->to != NULL)
    len = snprintf(out, cap, "%c%c %s", ev->mode_on ? '+' : '-',
                   ((ev->mode_on | ev->mode_off) & UVC_MEMBER_VOICE) ? 'v' : 'o', ev->to->nick);
  else if (ev->mode_on & UVC_ROOM_KEY)
    len = snprintf(out, cap, "+k %.*s", (int)ev->len, ev->text);
  else if (ev->mode_off & UVC_ROOM_KEY)
    len = snprintf(out, cap, "-k *");
  else if (ev->mode_on & UVC_ROOM_LIMIT)
    len = snprintf(out, cap, "+l %u", (unsigned)ev->limit);
  else if (ev->mode_off & UVC_ROOM_LIMIT)
    len = snprintf(out, cap, "-l");
  else
    len = -1;
  if (len >= 0) return (size_t)len < cap ? (size_t)len : cap - 1;
  if (ev->mode_on) {
    out[n++] = '+';
    for (i = 0; i < sizeof(kLetters) / sizeof(kLetters[0]); i++)
      if (ev->mode_on & kLetters[i].mode) out[n++] = kLetters[i].letter;
  }
  if (ev->mode_off) {
    out[n++] = '-';
    for (i = 0; i < sizeof(kLetters) / sizeof(kLetters[0]); i++)
      if (ev->mode_off & kLetters[i].mode) out[n++] = kLetters[i].letter;
  }
  out[n] = '\0';
  return n;
}

/* A core event as IRC lines, the same for every IRC recipient. */
uvc_msg_t* irc_render(const uvc_event_t* ev) {
  const uvc_session_t* f = ev->from;
  char head[3 * UVC_NICK_MAX + 2 * UVC_ROOM_MAX + 128];
  char prefix[2 * UVC_NICK_MAX + 96];
  char extra[UVC_REASON_MAX + 64];
  size_t n;
  if (f != NULL) irc_user_prefix(prefix, sizeof(prefix), f, f->nick, f->nick_len);
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
      irc_user_prefix(prefix, sizeof(prefix), f, ev->old_nick, (int)ev->old_len);
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
      n = head_of(head, sizeof(head), ":%s NOTICE * :", irc_server);
      return render_lines(head, n, ev->text, ev->len, "", 1);
    case UVC_EV_INVITE:
      n = head_of(head, sizeof(head), "%s INVITE %s %s", prefix, ev->to->nick, ev->room->name);
      return render_lines(head, n, "", 0, "", 0);
    case UVC_EV_WALLOPS:
      n = head_of(head, sizeof(head), "%s WALLOPS :", prefix);
      return render_lines(head, n, ev->text, ev->len, "", 1);
  }
  return NULL;
}
