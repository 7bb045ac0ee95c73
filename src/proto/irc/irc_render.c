/* irc_render.c: core events as IRC lines, rendered once per event for every IRC recipient
 * with the same render variant (the same capabilities that change what is sent: tags,
 * extended-join, notifications), and the variants themselves. */
#include "irc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* pre (a tag section, or nothing) + head + text + tail as IRC lines: one line with the text cut to
 * fit, or (split) as many lines as the text needs, each broken after a space when one is near the
 * end. */
static uvc_msg_t* render_lines(const char* pre, size_t plen, const char* head, size_t hlen,
                               const char* text, size_t tlen, const char* tail, int split) {
  size_t taillen = strlen(tail), room, cap, lines;
  uvc_msg_t* m;
  char* p;
  if (hlen + taillen + 16 > OUT_MAX) hlen = OUT_MAX - taillen - 16; /* never: names are short */
  room = OUT_MAX - hlen - taillen;
  if (!split) tlen = uvc_utf8_cut(text, tlen, room);
  /* Every line but the last takes at least half a line, less a cut character. */
  lines = tlen / ((room - 4) / 2) + 1;
  cap = lines * (plen + hlen + taillen + 2) + tlen;
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
    if (plen > 0) memcpy(p, pre, plen);
    p += plen;
    memcpy(p, head, hlen);
    p += hlen;
    if (take > 0) memcpy(p, text, take);
    p += take;
    memcpy(p, tail, taillen);
    p += taillen;
    memcpy(p, CRLF, 2);
    p += 2;
    if (next > 0) text += next; /* text may be NULL when there is none */
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

/* head = prefix + " " + verb + " " + target + tail, put together without a format string (the
 * head of every message). Returns its length (cut to cap - 1, as head_of would). */
static size_t head_cat(char* head, size_t cap, const char* prefix, size_t plen, const char* verb,
                       const char* target, size_t tlen, const char* tail) {
  size_t vl = strlen(verb), xl = strlen(tail), n = plen + 1 + vl + 1 + tlen + xl;
  char* p = head;
  if (n >= cap) return head_of(head, cap, "%s %s %.*s%s", prefix, verb, (int)tlen, target, tail);
  memcpy(p, prefix, plen);
  p += plen;
  *p++ = ' ';
  memcpy(p, verb, vl);
  p += vl;
  *p++ = ' ';
  memcpy(p, target, tlen);
  p += tlen;
  memcpy(p, tail, xl + 1);
  return n;
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
    case UVC_LEAVE_SERVER: /* "server two went away" */
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
  } kLetters[] = {{UVC_ROOM_NO_HISTORY, 'H'}, {UVC_ROOM_INVITE_ONLY, 'i'},
                  {UVC_ROOM_MODERATED, 'm'},  {UVC_ROOM_MEMBERS_ONLY, 'n'},
                  {UVC_ROOM_SECRET, 's'},     {UVC_ROOM_TOPIC_LOCKED, 't'}};
  size_t n = 0, i;
  int len;
  if (ev->list != 0)
    len = snprintf(out, cap, "%c%c %.*s", ev->mode_on ? '+' : '-',
                   ev->list == UVC_LIST_BAN ? 'b' : 'I', (int)ev->len, ev->text);
  else if (ev->to.nick_len > 0)
    len = snprintf(out, cap, "%c%c %s", ev->mode_on ? '+' : '-',
                   ((ev->mode_on | ev->mode_off) & UVC_MEMBER_VOICE) ? 'v' : 'o', ev->to.nick);
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

/* ev as IRC lines for clients with caps, each line starting with pre[0..plen). */
static uvc_msg_t* render_event(const uvc_event_t* ev, const uvc_render_ctx_t* ctx, unsigned caps,
                               const char* pre, size_t plen) {
  const uvc_event_who_t* f = &ev->from;
  char head[3 * UVC_NICK_MAX + 2 * UVC_ROOM_MAX + 128];
  char prefix[2 * UVC_NICK_MAX + 96];
  char extra[UVC_REASON_MAX + 64];
  /* A message from an IRC user fitted in one line when it was sent: relayed with a longer
   * prefix, it is cut to fit (the modern IRC rule). A text user's long line is split over
   * as many lines as it needs: nothing they typed is lost. */
  int split = f->nick_len > 0 && !irc_format_is_irc(f->adapter);
  size_t n, pl = 0, rl = ev->room_len > 0 ? ev->room_len : strlen(ev->room);
  int k;
  prefix[0] = '\0';
  if (f->nick_len > 0) pl = (size_t)irc_who_prefix(prefix, sizeof(prefix), f, f->nick, f->nick_len);
  switch (ev->type) {
    case UVC_EV_SAY:
      n = head_cat(head, sizeof(head), prefix, pl, ev->notice ? "NOTICE" : "PRIVMSG", ev->room, rl,
                   " :");
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", split);
    case UVC_EV_ACTION:
      n = head_cat(head, sizeof(head), prefix, pl, "PRIVMSG", ev->room, rl,
                   " :\x01"
                   "ACTION ");
      return render_lines(pre, plen, head, n, ev->text, ev->len, "\x01", split);
    case UVC_EV_PRIVATE:
      n = head_cat(head, sizeof(head), prefix, pl, ev->notice ? "NOTICE" : "PRIVMSG", ev->to.nick,
                   ev->to.nick_len > 0 ? ev->to.nick_len : strlen(ev->to.nick), " :");
      /* A CTCP passed on from another IRC user stays on one line. */
      return render_lines(pre, plen, head, n, ev->text, ev->len, "",
                          split && (ev->len == 0 || ev->text[0] != '\x01'));
    case UVC_EV_ARRIVE:
      if (caps & CAP_EXTENDED_JOIN) {
        const char* real = ev->has_realname ? ev->realname : TEXT_REALNAME;
        n = head_of(head, sizeof(head), "%s JOIN %s %s :", prefix, ev->room,
                    f->account[0] != '\0' ? f->account : "*");
        return render_lines(pre, plen, head, n, real, strlen(real), "", 0);
      }
      n = head_of(head, sizeof(head), "%s JOIN %s", prefix, ev->room);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_PART:
      n = head_of(head, sizeof(head), "%s PART %s%s", prefix, ev->room, ev->len > 0 ? " :" : "");
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 0);
    case UVC_EV_LEAVE:
      n = head_of(head, sizeof(head), "%s QUIT :", prefix);
      return render_lines(pre, plen, head, n, extra, leave_reason(ev, extra, sizeof(extra)), "", 0);
    case UVC_EV_NICK:
      irc_who_prefix(prefix, sizeof(prefix), f, ev->old_nick, ev->old_len);
      n = head_of(head, sizeof(head), "%s NICK :%s", prefix, f->nick);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_TOPIC:
      n = head_of(head, sizeof(head), "%s TOPIC %s :", prefix, ev->room);
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 0);
    case UVC_EV_KICK:
      n = head_of(head, sizeof(head), "%s KICK %s %s :", prefix, ev->room, ev->to.nick);
      if (ev->len == 0) return render_lines(pre, plen, head, n, f->nick, f->nick_len, "", 0);
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 0);
    case UVC_EV_MODE:
      mode_change(ev, extra, sizeof(extra));
      n = head_of(head, sizeof(head), "%s MODE %s %s", prefix, ev->room, extra);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_RECLAIM: /* a server notice, as the server words it */
      n = head_of(head, sizeof(head), ":%s NOTICE * :", ctx->server_name);
      k = snprintf(extra, sizeof(extra),
                   ev->same_account ? "you logged in to %.*s from another connection, which took "
                                      "the nick: this one is now %s"
                                    : "%.*s is a registered nick and its owner logged in: you are "
                                      "now %s",
                   (int)ev->len, ev->text, ev->to.nick);
      if (k < 0) return NULL;
      return render_lines(pre, plen, head, n, extra,
                          (size_t)k < sizeof(extra) ? (size_t)k : sizeof(extra) - 1, "", 1);
    case UVC_EV_ANNOUNCE:
      n = head_of(head, sizeof(head), ":%s NOTICE * :", ctx->server_name);
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 1);
    case UVC_EV_INVITE:
      n = head_of(head, sizeof(head), "%s INVITE %s %s", prefix, ev->to.nick, ev->room);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_WALLOPS:
      n = head_of(head, sizeof(head), "%s WALLOPS :", prefix);
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 1);
    case UVC_EV_AWAY:
      if (!(caps & CAP_AWAY_NOTIFY)) return NULL;
      n = head_of(head, sizeof(head), "%s AWAY%s", prefix, ev->len > 0 ? " :" : "");
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 0);
    case UVC_EV_ACCOUNT:
      if (!(caps & CAP_ACCOUNT_NOTIFY)) return NULL;
      n = head_of(head, sizeof(head), "%s ACCOUNT %.*s", prefix, ev->len > 0 ? (int)ev->len : 1,
                  ev->len > 0 ? ev->text : "*");
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_INVITED: /* invite-notify: someone else was invited */
      if (!(caps & CAP_INVITE_NOTIFY)) return NULL;
      n = head_of(head, sizeof(head), "%s INVITE %s %s", prefix, ev->to.nick, ev->room);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
    case UVC_EV_REALNAME:
      if (!(caps & CAP_SETNAME)) return NULL;
      n = head_of(head, sizeof(head), "%s SETNAME :", prefix);
      return render_lines(pre, plen, head, n, ev->text, ev->len, "", 0);
    case UVC_EV_TAGMSG:
      if (!(caps & CAP_MESSAGE_TAGS)) return NULL;
      n = head_of(head, sizeof(head), "%s TAGMSG %s", prefix,
                  ev->room_len > 0 ? ev->room : ev->to.nick);
      return render_lines(pre, plen, head, n, "", 0, "", 0);
  }
  return NULL;
}

/* The tag section (with its '@' and final space) for ev and caps into out; its length. The
 * client's own tags go only on the messages they came with. */
static size_t tags_of(const uvc_event_t* ev, unsigned caps, char* out, size_t cap) {
  size_t n = 0;
  int k;
  const char* account = ev->from.account[0] != '\0' ? ev->from.account : NULL;
  if (caps & CAP_SERVER_TIME) {
    time_t secs = (time_t)(ev->time_ms / 1000);
    struct tm* tm = gmtime(&secs);
    char when[32];
    if (tm != NULL && strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", tm) > 0) {
      k = snprintf(out + n, cap - n, "%ctime=%s.%03dZ", n ? ';' : '@', when,
                   (int)(ev->time_ms % 1000));
      if (k > 0 && (size_t)k < cap - n) n += (size_t)k;
    }
  }
  if (caps & CAP_MESSAGE_TAGS) {
    k = snprintf(out + n, cap - n, "%cmsgid=%llx", n ? ';' : '@', (unsigned long long)ev->id);
    if (k > 0 && (size_t)k < cap - n) n += (size_t)k;
  }
  if ((caps & CAP_ACCOUNT_TAG) && account != NULL) {
    k = snprintf(out + n, cap - n, "%caccount=%s", n ? ';' : '@', account);
    if (k > 0 && (size_t)k < cap - n) n += (size_t)k;
  }
  if ((caps & CAP_MESSAGE_TAGS) && ev->tags_len > 0 && n + ev->tags_len + 2 < cap) {
    out[n] = n ? ';' : '@';
    n++;
    memcpy(out + n, ev->tags, ev->tags_len);
    n += ev->tags_len;
  }
  if (n > 0) out[n++] = ' ';
  return n;
}

uvc_msg_t* irc_render_caps(const uvc_event_t* ev, const uvc_render_ctx_t* ctx, unsigned caps) {
  char pre[UVC_IRC_TAGS_MAX + 64];
  size_t plen = tags_of(ev, caps, pre, sizeof(pre));
  return render_event(ev, ctx, caps, pre, plen);
}

uvc_msg_t* irc_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx) {
  return render_event(ev, ctx, 0, "", 0);
}

/* ------------------------------------------------------------------------------------------
 * Render variants: each combination of rendering capabilities in use gets one (from the
 * core's table, uvc_core_variant), so that an event is rendered once per combination, not
 * once per client. Variant 0 has none; a client whose combination finds no free variant (14
 * in use) is rendered for alone (UVC_VARIANT_OWN), which is right but slower.
 * ---------------------------------------------------------------------------------------- */

void irc_set_variant(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, unsigned caps) {
  unsigned v = uvc_core_variant(core, s->adapter->format, caps & CAP_RENDER, st->variant);
  st->variant = (uint8_t)v;
  if (st->capture == NULL) s->slot = (uint8_t)(s->adapter->format + UVC_FORMATS * v);
}

uvc_msg_t* irc_render_variant(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                              const uvc_session_t* s, unsigned v) {
  const irc_state_t* st = s->proto;
  uvc_msg_t* m;
  if (v != UVC_VARIANT_OWN) return irc_render_caps(ev, ctx, ctx->flags);
  if (st == NULL) return irc_render(ev, ctx);
  m = irc_render_caps(ev, ctx, st->caps);
  if (m != NULL && st->capture != NULL) { /* the answer to a labeled command */
    irc_send_msg(NULL, (uvc_session_t*)s, m);
    uvc_msg_release(m);
    return NULL;
  }
  return m;
}

void irc_echo_message(uvc_core_t* core, uvc_session_t* s, uvc_event_type_t type,
                      const uvc_room_t* room, const uvc_session_t* to, const char* text, size_t len,
                      int notice, const char* tags, size_t tags_len) {
  const irc_state_t* st = s->proto;
  uvc_render_ctx_t ctx;
  uvc_event_t ev;
  uvc_msg_t* m;
  if (st == NULL || !(st->caps & CAP_ECHO_MESSAGE)) return;
  memset(&ev, 0, sizeof(ev));
  ev.type = type;
  uvc_event_who_of(core, s, &ev.from);
  if (room != NULL) uvc_event_set_room(&ev, room);
  if (to != NULL) uvc_event_who_of(core, to, &ev.to);
  ev.text = text;
  ev.len = len;
  ev.notice = (uint8_t)(notice != 0);
  uvc_core_last_event(core, &ev.id, &ev.time_ms);
  ev.tags = tags;
  ev.tags_len = tags_len;
  uvc_core_render_ctx(core, &ctx);
  m = irc_render_caps(&ev, &ctx, st->caps);
  if (m == NULL) return;
  irc_send_msg(core, s, m);
  uvc_msg_release(m);
}
