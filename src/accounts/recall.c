/* recall.c: the core's history slot over the history writer and the store: events to
 * records on the way in, records to events on the way out, and the reads of sessions that
 * may be gone by the time the store answers. */
#include "uvchat/recall.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"
#include "uvchat/list.h"
#include "uvchat/log.h"

/* How often the age bound is applied to every history (a scan of the whole table). */
#define PRUNE_MS 60000

struct uvc_recall {
  uv_loop_t* loop;
  uvc_core_t* core;
  uvc_history_t* hist;
  uvc_history_limits_t limits;
  uv_timer_t* prune; /* applies the age bound to quiet histories */
  uvc_list_t reqs;   /* reads in flight */
  uint8_t closing;
};

typedef struct recall_req {
  uvc_list_t link;
  uvc_recall_t* r;
  uvc_session_t* s; /* NULL once forgotten */
  uvc_history_query_t q;
  char owner[UVC_NICK_MAX + 1]; /* s's account, or "" */
} recall_req_t;

static void maybe_free(uvc_recall_t* r);

/* ---- In: events to records ------------------------------------------------------------- */

/* The parts of a record every event shares: its place (the event id), time, sender and
 * text (cut to fit, whole characters; not copied: the record points at the event's). */
static void rec_of(const uvc_event_t* ev, uvc_hist_rec_t* rec) {
  rec->seq = (int64_t)ev->id; /* ids grow with time: the store's order */
  rec->time_ms = ev->time_ms;
  rec->flags = 0;
  rec->pending = 0;
  rec->nick = ev->from.nick;
  rec->user = ev->from.user;
  rec->host = ev->from.host;
  rec->account = ev->from.account;
  rec->nick_len = ev->from.nick_len;
  rec->user_len = ev->from.user_len;
  rec->host_len = ev->from.host_len;
  rec->target_len = 0;
  rec->text = ev->len > 0 ? ev->text : "";
  rec->text_len =
      ev->len > UVC_HIST_TEXT_MAX ? uvc_utf8_cut(ev->text, ev->len, UVC_HIST_TEXT_MAX) : ev->len;
  rec->kind = ev->type == UVC_EV_ACTION  ? UVC_HIST_ACTION
              : ev->type == UVC_EV_TOPIC ? UVC_HIST_TOPIC
              : ev->notice               ? UVC_HIST_NOTICE
                                         : UVC_HIST_SAY;
}

static void add(uvc_recall_t* r, const uvc_hist_rec_t* rec) {
  int rc = uvc_history_add(r->hist, rec);
  if (rc != 0 && rc != UVC_STORE_BUSY) /* BUSY is counted and logged by the writer */
    UVC_WARN("history: an event was not kept: %s", uvc_store_strerror(rc));
}

/* The name a private conversation with a party is kept under: their account when they
 * are logged in to one, so that it stays one conversation whatever nicks they use; else
 * their nick. */
static const char* peer_of(const uvc_event_who_t* who) {
  return who->account[0] != '\0' ? who->account : who->nick;
}

static void on_record(void* ud, const uvc_event_t* ev) {
  uvc_recall_t* r = ud;
  uvc_hist_rec_t rec;
  rec_of(ev, &rec);
  if (ev->type != UVC_EV_PRIVATE) {
    rec.owner = "";
    rec.target = ev->room;
    rec.target_len = ev->room_len;
    if (ev->room_modes & (UVC_ROOM_INVITE_ONLY | UVC_ROOM_SECRET | UVC_ROOM_KEY))
      rec.flags = UVC_HIST_CLOSED; /* for its members: not for a later room of its name */
    add(r, &rec);
  } else {
    if (ev->from.account[0] != '\0') { /* the sender's copy: the conversation with `to` */
      rec.owner = ev->from.account;
      rec.target = peer_of(&ev->to);
      add(r, &rec);
    }
    if (ev->to.account[0] != '\0' && strcmp(ev->to.account, ev->from.account) != 0) {
      rec.owner = ev->to.account;
      rec.target = peer_of(&ev->from);
      add(r, &rec);
    }
  }
}

static void on_keep(void* ud, const uvc_event_t* ev) {
  uvc_recall_t* r = ud;
  uvc_hist_rec_t rec;
  rec_of(ev, &rec);
  rec.owner = ev->to.account;
  rec.target = peer_of(&ev->from);
  rec.pending = 1;
  add(r, &rec);
  if (ev->from.account[0] != '\0') {
    rec.owner = ev->from.account;
    rec.target = ev->to.account; /* nobody is logged in to it: its nick is its name */
    rec.pending = 0;
    add(r, &rec);
  }
  uvc_history_flush(r->hist); /* kept for someone: on disk as soon as it can be */
}

/* The name the conversation with `nick` is kept under (see peer_of): the account of the
 * one online by that nick, when they are logged in; else the registered account of that
 * name (nobody else may use it as a nick); else the nick itself. */
static const char* peer_named(uvc_core_t* core, const char* nick) {
  size_t n = strlen(nick);
  uvc_session_t* t = uvc_core_find(core, nick, n);
  const char* name;
  if (t != NULL) return uvc_session_account(t) != NULL ? uvc_session_account(t) : nick;
  name = uvc_core_registered(core, nick, n);
  return name != NULL ? name : nick;
}

/* ---- Out: records to events ------------------------------------------------------------ */

static void copy_field(char* dst, size_t cap, uint8_t* len, const char* src) {
  size_t n = src != NULL ? strlen(src) : 0;
  if (n >= cap) n = cap - 1;
  if (n > 0) memcpy(dst, src, n);
  dst[n] = '\0';
  if (len != NULL) *len = (uint8_t)n;
}

/* The event rec was made from, as seen by the owner of the history (whose nick is now
 * `self`): a room's event in its room, a private message from or to the owner. A private
 * message the owner sent shows as sent to `peer` (the name the owner asked for the
 * conversation by) or, when that is NULL, to the name the conversation is kept under. */
static void event_of(const uvc_hist_rec_t* rec, const char* self, const char* peer,
                     uvc_event_t* ev) {
  memset(ev, 0, sizeof(*ev));
  ev->type = rec->kind == UVC_HIST_ACTION  ? UVC_EV_ACTION
             : rec->kind == UVC_HIST_TOPIC ? UVC_EV_TOPIC
                                           : UVC_EV_SAY;
  ev->notice = rec->kind == UVC_HIST_NOTICE;
  ev->text = rec->text;
  ev->len = strlen(rec->text);
  ev->id = (uint64_t)rec->seq;
  ev->time_ms = rec->time_ms;
  copy_field(ev->from.nick, sizeof(ev->from.nick), &ev->from.nick_len, rec->nick);
  copy_field(ev->from.user, sizeof(ev->from.user), &ev->from.user_len, rec->user);
  copy_field(ev->from.host, sizeof(ev->from.host), &ev->from.host_len, rec->host);
  copy_field(ev->from.account, sizeof(ev->from.account), NULL, rec->account);
  if (rec->owner[0] == '\0') {
    copy_field(ev->room, sizeof(ev->room), &ev->room_len, rec->target);
  } else {
    /* private: from the owner (sent logged in to the owner's account) to the other party,
     * else from the other party to the owner */
    ev->type = UVC_EV_PRIVATE;
    if (uvc_name_eq(rec->account, strlen(rec->account), rec->owner, strlen(rec->owner)))
      copy_field(ev->to.nick, sizeof(ev->to.nick), &ev->to.nick_len,
                 peer != NULL ? peer : rec->target);
    else
      copy_field(ev->to.nick, sizeof(ev->to.nick), &ev->to.nick_len, self);
  }
}

static void req_done(recall_req_t* q) {
  uvc_recall_t* r = q->r;
  uvc_list_remove(&q->link);
  free(q);
  maybe_free(r);
}

static void on_fetched(void* data, int status, const uvc_hist_rec_t* recs, size_t n) {
  recall_req_t* q = data;
  uvc_session_t* s = q->s;
  uvc_event_t* evs = NULL;
  size_t i;
  if (s == NULL || q->r->closing || s->adapter->on_history == NULL) {
    req_done(q);
    return;
  }
  if (status == UVC_STORE_NOT_FOUND) { /* a msgid that is not (or no longer) there: none */
    status = 0;
    n = 0;
  }
  if (q->q.how == UVC_HQ_AWAY && status == 0 && n == 0) { /* nothing was kept */
    req_done(q);
    return;
  }
  if (status == 0 && n > 0 && (evs = calloc(n, sizeof(*evs))) == NULL) status = UVC_ENOMEM;
  if (status != 0) status = status == UVC_ENOMEM ? UVC_ENOMEM : UVC_EAUTH_ERROR;
  for (i = 0; evs != NULL && i < n; i++)
    event_of(&recs[i], s->nick, q->q.target[0] != '\0' ? q->q.target : NULL, &evs[i]);
  s->adapter->on_history(q->r->core, s, &q->q, status, evs, status == 0 ? n : 0);
  free(evs);
  req_done(q);
}

static void on_targets(void* data, int status, const uvc_hist_target_t* t, size_t n) {
  recall_req_t* q = data;
  uvc_session_t* s = q->s;
  uvc_event_t* evs = NULL;
  size_t i;
  if (s == NULL || q->r->closing || s->adapter->on_history == NULL) {
    req_done(q);
    return;
  }
  if (status == 0 && n > 0 && (evs = calloc(n, sizeof(*evs))) == NULL) status = UVC_ENOMEM;
  if (status != 0) status = status == UVC_ENOMEM ? UVC_ENOMEM : UVC_EAUTH_ERROR;
  for (i = 0; evs != NULL && i < n; i++) {
    evs[i].type = UVC_EV_SAY;
    evs[i].time_ms = t[i].last_ms;
    copy_field(evs[i].room, sizeof(evs[i].room), &evs[i].room_len, t[i].name);
  }
  s->adapter->on_history(q->r->core, s, &q->q, status, evs, status == 0 ? n : 0);
  free(evs);
  req_done(q);
}

/* The seq of the event whose message id is msgid (the hex of its id); 0 for none, -1 for
 * one that cannot be ours (found nowhere). */
static int64_t seq_of(const char* msgid) {
  char* end;
  unsigned long long v;
  if (msgid[0] == '\0') return 0;
  v = strtoull(msgid, &end, 16);
  if (*end != '\0' || v == 0 || v > INT64_MAX) return -1;
  return (int64_t)v;
}

static int on_start(void* ud, uvc_session_t* s, const uvc_history_query_t* hq, const char* owner) {
  uvc_recall_t* r = ud;
  recall_req_t* q;
  int rc;
  if (r->closing) return UVC_EHISTORY_UNAVAILABLE;
  if ((q = calloc(1, sizeof(*q))) == NULL) return UVC_ENOMEM;
  q->r = r;
  q->s = s;
  q->q = *hq;
  copy_field(q->owner, sizeof(q->owner), NULL, owner);
  if (hq->how == UVC_HQ_TARGETS) {
    const char* rooms[UVC_ROOMS_PER_USER];
    unsigned i;
    for (i = 0; i < s->n_rooms; i++) {
      const uvc_room_t* room = uvc_session_membership(s, i)->room;
      rooms[i] = (room->modes & UVC_ROOM_NO_HISTORY) ? "" : room->name;
    }
    rc = uvc_history_targets(r->hist, q->owner, rooms, s->n_rooms, hq->a_ms, hq->b_ms, hq->limit,
                             on_targets, q);
  } else {
    uvc_hist_query_t sq;
    int room = hq->how != UVC_HQ_AWAY && uvc_room_problem(hq->target, strlen(hq->target)) == NULL;
    memset(&sq, 0, sizeof(sq));
    switch (hq->how) {
      case UVC_HQ_BEFORE:
        sq.how = UVC_HIST_BEFORE;
        break;
      case UVC_HQ_AFTER:
        sq.how = UVC_HIST_AFTER;
        break;
      case UVC_HQ_AROUND:
        sq.how = UVC_HIST_AROUND;
        break;
      case UVC_HQ_BETWEEN:
        sq.how = UVC_HIST_BETWEEN;
        break;
      case UVC_HQ_AWAY:
        sq.how = UVC_HIST_PENDING;
        break;
      default:
        sq.how = UVC_HIST_LATEST;
        break;
    }
    sq.owner = room ? "" : q->owner;
    sq.target = room || hq->how == UVC_HQ_AWAY ? hq->target : peer_named(r->core, hq->target);
    sq.a.time_ms = hq->a_ms;
    sq.a.seq = seq_of(hq->a_msgid);
    sq.b.time_ms = hq->b_ms;
    sq.b.seq = seq_of(hq->b_msgid);
    sq.limit = hq->limit;
    if (room) { /* what a closed room said stays with it, not with a later one of its name */
      const uvc_room_t* rm = uvc_core_room(r->core, hq->target, strlen(hq->target));
      sq.closed_before = rm != NULL ? (int64_t)rm->since_id : INT64_MAX;
    }
    rc = uvc_history_fetch(r->hist, &sq, on_fetched, q);
  }
  if (rc != 0) {
    free(q);
    /* the store refused at once (Redis down, say): as when it fails later (on_fetched) */
    if (rc == UVC_STORE_NOMEM) return UVC_ENOMEM;
    return rc == UVC_STORE_CLOSING ? UVC_EHISTORY_UNAVAILABLE : UVC_EAUTH_ERROR;
  }
  uvc_list_insert_tail(&r->reqs, &q->link);
  return 0;
}

static void on_forget(void* ud, uvc_session_t* s) {
  uvc_recall_t* r = ud;
  uvc_list_t* it;
  for (it = r->reqs.next; it != &r->reqs; it = it->next) {
    recall_req_t* q = UVC_CONTAINER_OF(it, recall_req_t, link);
    if (q->s == s) q->s = NULL;
  }
}

static void on_login(void* ud, uvc_session_t* s) {
  uvc_history_query_t q;
  memset(&q, 0, sizeof(q));
  q.how = UVC_HQ_AWAY;
  q.limit = UVC_HIST_FETCH_MAX;
  if (on_start(ud, s, &q, uvc_session_account(s)) != 0)
    UVC_WARN("history: cannot read the messages kept for %s", uvc_session_account(s));
}

static void on_unregistered(void* ud, const char* account) {
  uvc_recall_t* r = ud;
  int rc = uvc_history_delete_owner(r->hist, account, NULL, NULL);
  if (rc != 0)
    UVC_WARN("history: the private messages of %s were not deleted: %s", account,
             uvc_store_strerror(rc));
}

static const uvc_history_ops_t kOps = {on_record, on_keep,  on_start,
                                       on_forget, on_login, on_unregistered};

/* ---- Opening and closing --------------------------------------------------------------- */

static void on_pruned(void* data, int status) {
  (void)data;
  if (status != 0) UVC_WARN("history: pruning failed: %s", uvc_store_strerror(status));
}

static void on_prune_timer(uv_timer_t* t) {
  uvc_recall_t* r = t->data;
  if (r->limits.bounds.max_age_ms > 0) uvc_history_prune(r->hist, &r->limits.bounds, on_pruned);
}

static void on_timer_closed(uv_handle_t* h) {
  free(h);
}

int uvc_recall_open(uvc_recall_t** out, uv_loop_t* loop, uvc_core_t* core, uvc_store_t* store,
                    const uvc_history_limits_t* limits) {
  uvc_recall_t* r = calloc(1, sizeof(*r));
  *out = NULL;
  if (r == NULL) return UVC_STORE_NOMEM;
  r->loop = loop;
  r->core = core;
  uvc_list_init(&r->reqs);
  if (limits != NULL) r->limits = *limits;
  if (uvc_history_open(&r->hist, loop, store, &r->limits) != 0) {
    free(r);
    return UVC_STORE_NOMEM;
  }
  if ((r->prune = malloc(sizeof(*r->prune))) == NULL || uv_timer_init(loop, r->prune) != 0) {
    free(r->prune);
    uvc_history_close(r->hist);
    free(r);
    return UVC_STORE_NOMEM;
  }
  r->prune->data = r;
  uv_unref((uv_handle_t*)r->prune);
  uv_timer_start(r->prune, on_prune_timer, PRUNE_MS, PRUNE_MS);
  core->history = &kOps;
  core->history_ud = r;
  *out = r;
  return 0;
}

void uvc_recall_set_limits(uvc_recall_t* r, const uvc_history_limits_t* limits) {
  r->limits = *limits;
  uvc_history_set_limits(r->hist, limits);
}

void uvc_recall_stats(const uvc_recall_t* r, uvc_history_stats_t* out) {
  uvc_history_stats(r->hist, out);
}

static void maybe_free(uvc_recall_t* r) {
  if (r->closing && uvc_list_empty(&r->reqs)) free(r);
}

void uvc_recall_close(uvc_recall_t* r) {
  uvc_list_t* it;
  if (r == NULL) return;
  if (r->core->history_ud == r) {
    r->core->history = NULL;
    r->core->history_ud = NULL;
  }
  for (it = r->reqs.next; it != &r->reqs; it = it->next) /* nobody is waiting any more */
    UVC_CONTAINER_OF(it, recall_req_t, link)->s = NULL;
  uv_close((uv_handle_t*)r->prune, on_timer_closed);
  r->closing = 1;
  uvc_history_close(r->hist); /* writes the rest; its reads still answer (to nobody) */
  r->hist = NULL;
  maybe_free(r);
}
