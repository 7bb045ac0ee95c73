/* irc_history.c: history for IRC clients: IRCv3 CHATHISTORY (draft/chathistory) with
 * batch, server-time and msgid; a short replay as NOTICEs after a JOIN for clients without
 * it (--history-irc lines); and the private messages kept while a client's account was
 * away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "irc_int.h"
#include "numerics.h"

#define HISTORY_MAX 1000 /* events one CHATHISTORY answers at most (CHATHISTORY=1000) */

/* What an answer is for (uvc_history_query_t.purpose). */
enum { FOR_CHATHISTORY = 1, FOR_JOIN };

/* A labeled CHATHISTORY's label travels with its query to the answer. */
_Static_assert(LABEL_MAX <= UVC_HQ_LABEL_MAX, "a label must fit in a history query");

/* ---- Parsing -------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era;
  unsigned yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDThh:mm:ss[.sss]Z" to milliseconds since 1970; -1 when it is not one. */
static int64_t parse_time(const char* p, size_t n) {
  unsigned v[6] = {0, 0, 0, 0, 0, 0}, ms = 0;
  static const char kSep[] = "--T::";
  size_t i = 0, f;
  for (f = 0; f < 6; f++) {
    unsigned digits = 0, want = f == 0 ? 4 : 2;
    while (i < n && p[i] >= '0' && p[i] <= '9' && digits < want) {
      v[f] = v[f] * 10 + (unsigned)(p[i++] - '0');
      digits++;
    }
    if (digits != want) return -1;
    if (f < 5) {
      if (i >= n || p[i] != kSep[f]) return -1;
      i++;
    }
  }
  if (i < n && p[i] == '.') {
    unsigned digits = 0;
    i++;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (unsigned)(p[i] - '0');
      digits++;
      i++;
    }
    if (digits == 0) return -1;
    while (digits++ < 3)
      ms *= 10;
  }
  if (i < n && p[i] == 'Z') i++;
  if (i != n || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
      v[5] > 60)
    return -1;
  return (days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000 + ms;
}

/* A message reference: "msgid=ID" or "timestamp=TIME" (star: "*" allowed, as nothing).
 * Returns 0 or -1. */
static int parse_ref(const uvc_irc_str_t* r, int star, char* msgid, int64_t* ms) {
  msgid[0] = '\0';
  *ms = 0;
  if (star && r->n == 1 && r->p[0] == '*') return 0;
  if (r->n > 6 && memcmp(r->p, "msgid=", 6) == 0) {
    size_t n = r->n - 6;
    if (n > UVC_MSGID_MAX) return -1;
    memcpy(msgid, r->p + 6, n);
    msgid[n] = '\0';
    return 0;
  }
  if (r->n > 10 && memcmp(r->p, "timestamp=", 10) == 0) {
    *ms = parse_time(r->p + 10, r->n - 10);
    return *ms > 0 ? 0 : -1;
  }
  return -1;
}

/* A limit: 1 .. HISTORY_MAX (more is cut to it); 0 when it is not a number. */
static unsigned parse_limit(const uvc_irc_str_t* l) {
  unsigned long v = 0;
  size_t i;
  if (l->n == 0 || l->n > 9) return 0;
  for (i = 0; i < l->n; i++) {
    if (l->p[i] < '0' || l->p[i] > '9') return 0;
    v = v * 10 + (unsigned long)(l->p[i] - '0');
  }
  if (v == 0) return 0;
  return v > HISTORY_MAX ? HISTORY_MAX : (unsigned)v;
}

static void fail(uvc_core_t* core, uvc_session_t* s, const char* code, const char* ctx,
                 const char* why) {
  irc_sendf(core, s, ":%s FAIL CHATHISTORY %s %s :%s", uvc_core_server_name(core), code, ctx, why);
}

/* The subcommands: name, query, message references. */
static const struct {
  const char* name;
  uint8_t how;
  uint8_t refs;
} kSub[] = {{"LATEST", UVC_HQ_LATEST, 1},   {"BEFORE", UVC_HQ_BEFORE, 1},
            {"AFTER", UVC_HQ_AFTER, 1},     {"AROUND", UVC_HQ_AROUND, 1},
            {"BETWEEN", UVC_HQ_BETWEEN, 2}, {"TARGETS", UVC_HQ_TARGETS, 2}};

/* The subcommand of a query (for a FAIL that comes with the answer). */
static const char* sub_name(uint8_t how) {
  size_t k;
  for (k = 0; k < sizeof(kSub) / sizeof(kSub[0]); k++)
    if (kSub[k].how == how) return kSub[k].name;
  return "*";
}

/* CHATHISTORY LATEST target <*|ref> limit; BEFORE/AFTER/AROUND target ref limit;
 * BETWEEN target ref ref limit; TARGETS ref ref limit. A labeled one (labeled-response)
 * has its label on its answer, which comes later; an error found at once is labeled by
 * the capture like any reply. */
void irc_cmd_chathistory(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                         const uvc_irc_msg_t* m) {
  uvc_history_query_t q;
  char sub[16], word[ECHO_MAX + 1];
  size_t i, k, at;
  int err;
  if (!(st->caps & CAP_CHATHISTORY)) {
    irc_num(core, s, ERR_UNKNOWNCOMMAND, "CHATHISTORY");
    return;
  }
  for (i = 0; i < m->params[0].n && i + 1 < sizeof(sub); i++)
    sub[i] = (char)(m->params[0].p[i] >= 'a' && m->params[0].p[i] <= 'z' ? m->params[0].p[i] - 32
                                                                         : m->params[0].p[i]);
  sub[i] = '\0';
  for (k = 0; k < sizeof(kSub) / sizeof(kSub[0]); k++)
    if (strcmp(sub, kSub[k].name) == 0) break;
  if (k == sizeof(kSub) / sizeof(kSub[0])) {
    fail(core, s, "INVALID_PARAMS", irc_echo(m->params[0].p, m->params[0].n, word),
         "Unknown subcommand");
    return;
  }
  memset(&q, 0, sizeof(q));
  q.how = kSub[k].how;
  q.purpose = FOR_CHATHISTORY;
  at = 1;
  if (q.how != UVC_HQ_TARGETS) {
    if (m->n < 2 || m->params[1].n == 0 || m->params[1].n > UVC_ROOM_MAX) {
      fail(core, s, "INVALID_PARAMS", sub, "Missing or invalid target");
      return;
    }
    memcpy(q.target, m->params[1].p, m->params[1].n);
    q.target[m->params[1].n] = '\0';
    at = 2;
  }
  if ((size_t)m->n < at + kSub[k].refs + 1) {
    fail(core, s, "INVALID_PARAMS", sub, "Not enough parameters");
    return;
  }
  if (parse_ref(&m->params[at], q.how == UVC_HQ_LATEST, q.a_msgid, &q.a_ms) != 0 ||
      (kSub[k].refs == 2 && parse_ref(&m->params[at + 1], 0, q.b_msgid, &q.b_ms) != 0) ||
      (q.how == UVC_HQ_TARGETS && (q.a_msgid[0] != '\0' || q.b_msgid[0] != '\0'))) {
    fail(core, s, "INVALID_PARAMS", sub, "Invalid message reference");
    return;
  }
  if ((q.limit = parse_limit(&m->params[at + kSub[k].refs])) == 0) {
    fail(core, s, "INVALID_PARAMS", sub, "Invalid limit");
    return;
  }
  q.cookie = ++st->batch_seq;
  if (st->capture != NULL) /* labeled: the answer comes later, so the label goes with it */
    memcpy(q.label, st->capture->label, strlen(st->capture->label) + 1);
  err = uvc_core_history(core, s, &q);
  if (err == 0 && st->capture != NULL) st->capture->later = 1;
  if (err == UVC_EHISTORY_UNAVAILABLE || err == UVC_EHISTORY_OFF || err == UVC_ENOMEM ||
      err == UVC_EAUTH_ERROR) { /* the last: the store failed (Redis down, say) */
    irc_sendf(core, s, ":%s FAIL CHATHISTORY MESSAGE_ERROR %s %s :%s", uvc_core_server_name(core),
              sub, q.how == UVC_HQ_TARGETS ? "*" : q.target, uvc_strerror(err));
  } else if (err != 0) { /* not a member, banned, not logged in: the same words for all */
    char ctx[sizeof(sub) + ECHO_MAX + 2];
    snprintf(ctx, sizeof(ctx), "%s %s", sub, irc_echo(q.target, strlen(q.target), word));
    fail(core, s, "INVALID_TARGET", ctx, "Messages could not be retrieved");
  }
}

/* ---- Answers ----------------------------------------------------------------------------- */

/* Sends the rendered m to s with "batch=id" added to its tags. */
static void send_tagged(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m, const char* id) {
  char head[32];
  uvc_part_t parts[2];
  uvc_msg_t* out;
  int n;
  if (m->len > 0 && m->data[0] == '@') {
    n = snprintf(head, sizeof(head), "@batch=%s;", id);
    parts[1].p = m->data + 1;
    parts[1].n = m->len - 1;
  } else {
    n = snprintf(head, sizeof(head), "@batch=%s ", id);
    parts[1].p = m->data;
    parts[1].n = m->len;
  }
  parts[0].p = head;
  parts[0].n = (size_t)n;
  if ((out = uvc_msg_concat(parts, 2)) == NULL) return;
  irc_send_msg(core, s, out);
  uvc_msg_release(out);
}

/* "HH:MM" (UTC) of a time, into out. */
static void hhmm(int64_t ms, char* out, size_t cap) {
  int64_t secs = ms / 1000 % 86400;
  if (secs < 0) secs += 86400;
  snprintf(out, cap, "%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60));
}

/* One past event as a NOTICE to s from the server, for clients without chathistory. */
static void notice_past(uvc_core_t* core, uvc_session_t* s, const char* to, const uvc_event_t* ev) {
  char when[16];
  hhmm(ev->time_ms, when, sizeof(when));
  if (ev->type == UVC_EV_ACTION)
    irc_sendf(core, s, ":%s NOTICE %s :[%s] * %s %.*s", uvc_core_server_name(core), to, when,
              ev->from.nick, (int)ev->len, ev->text);
  else if (ev->type == UVC_EV_TOPIC)
    irc_sendf(core, s, ":%s NOTICE %s :[%s] %s set the topic: %.*s", uvc_core_server_name(core), to,
              when, ev->from.nick, (int)ev->len, ev->text);
  else
    irc_sendf(core, s, ":%s NOTICE %s :[%s] %s%s%s %.*s", uvc_core_server_name(core), to, when,
              ev->notice ? "-" : "<", ev->from.nick, ev->notice ? "-" : ">", (int)ev->len,
              ev->text);
}

void irc_on_history(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q, int status,
                    const uvc_event_t* ev, size_t n) {
  irc_state_t* st = s->proto;
  uvc_render_ctx_t ctx;
  char id[16], label[UVC_HQ_LABEL_MAX + 9] = "";
  size_t i;
  if (st == NULL) return;
  uvc_core_render_ctx(core, &ctx);
  if (q->how == UVC_HQ_AWAY) {
    irc_sendf(core, s, ":%s NOTICE %s :%u private message%s reached you while you were away%s",
              uvc_core_server_name(core), s->nick, (unsigned)n, n == 1 ? "" : "s",
              (st->caps & CAP_CHATHISTORY) ? " (CHATHISTORY TARGETS lists them)" : ":");
    if (!(st->caps & CAP_CHATHISTORY))
      for (i = 0; i < n; i++) {
        uvc_msg_t* m = irc_render_caps(&ev[i], &ctx, st->caps);
        if (m == NULL) continue;
        irc_send_msg(core, s, m);
        uvc_msg_release(m);
      }
    return;
  }
  if (q->purpose == FOR_JOIN) {
    if (status != 0 || n == 0 ||
        uvc_session_in(s, uvc_core_room(core, q->target, strlen(q->target))) == NULL)
      return;
    irc_sendf(core, s, ":%s NOTICE %s :--- the last %u message%s of %s ---",
              uvc_core_server_name(core), q->target, (unsigned)n, n == 1 ? "" : "s", q->target);
    for (i = 0; i < n; i++)
      notice_past(core, s, q->target, &ev[i]);
    irc_sendf(core, s, ":%s NOTICE %s :--- end of history ---", uvc_core_server_name(core),
              q->target);
    return;
  }
  /* a labeled CHATHISTORY: its label on the first line of the answer, the BATCH start or
   * the FAIL (labeled-response); an empty batch is an answer too, so never an ACK */
  if (q->label[0] != '\0') snprintf(label, sizeof(label), "@label=%s ", q->label);
  if (status != 0) {
    irc_sendf(core, s, "%s:%s FAIL CHATHISTORY MESSAGE_ERROR %s %s :%s", label,
              uvc_core_server_name(core), sub_name(q->how),
              q->how == UVC_HQ_TARGETS ? "*" : q->target, uvc_strerror(status));
    return;
  }
  snprintf(id, sizeof(id), "h%u", (unsigned)q->cookie);
  if (q->how == UVC_HQ_TARGETS) {
    irc_sendf(core, s, "%s:%s BATCH +%s draft/chathistory-targets", label,
              uvc_core_server_name(core), id);
    for (i = 0; i < n; i++) {
      time_t secs = (time_t)(ev[i].time_ms / 1000);
      struct tm* tm = gmtime(&secs);
      char when[32] = "1970-01-01T00:00:00";
      if (tm != NULL) strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", tm);
      irc_sendf(core, s, "@batch=%s :%s CHATHISTORY TARGETS %s %s.%03dZ", id,
                uvc_core_server_name(core), ev[i].room, when, (int)(ev[i].time_ms % 1000));
    }
  } else {
    irc_sendf(core, s, "%s:%s BATCH +%s chathistory %s", label, uvc_core_server_name(core), id,
              q->target);
    for (i = 0; i < n; i++) {
      uvc_msg_t* m = irc_render_caps(&ev[i], &ctx, st->caps);
      if (m == NULL) continue;
      send_tagged(core, s, m, id);
      uvc_msg_release(m);
    }
  }
  irc_sendf(core, s, ":%s BATCH -%s", uvc_core_server_name(core), id);
}

void irc_history_joined(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_room_t* room) {
  uvc_history_query_t q;
  if (uvc_core_history_irc(core) == 0 || (st->caps & CAP_CHATHISTORY)) return;
  memset(&q, 0, sizeof(q));
  q.how = UVC_HQ_LATEST;
  q.purpose = FOR_JOIN;
  q.limit = uvc_core_history_irc(core);
  memcpy(q.target, room->name, (size_t)room->name_len + 1);
  uvc_core_history(core, s, &q); /* a room that keeps none says nothing */
}
