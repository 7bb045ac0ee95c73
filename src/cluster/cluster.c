/* cluster.c: several uvchat servers as one chat through Redis (--cluster).
 *
 * Two hiredis connections per server, on the server's own loop (a libuv glue of our own, see
 * below): one for commands and publishing, one for SUBSCRIBE. Nothing here blocks: the connections
 * are made without waiting (the URL holds an address, never a name), every answer comes in a
 * callback, and a lost connection is retried on a timer with backoff.
 *
 * Channels (DB is the URL's database: pub/sub is not per database, so the channels say it):
 *   uvchat:DB:all          presence and room state: users, joins, parts, quits, renames,
 *                          topics, modes, kicks, away; HELLO and GONE. Every server listens.
 *   uvchat:DB:room:NAME    what is said in room NAME (lowercased): a server listens only while
 *                          it has local members there.
 *   uvchat:DB:srv:ID       private messages to the users of server ID, and the snapshots
 *                          answering its HELLO.
 * Keys:
 *   uvchat:DB:server:ID    this server is alive (PX lease, renewed every third of it)
 *   uvchat:DB:node:N       the byte N in this server's event ids is taken (PX lease)
 *   uvchat:DB:nick:NICK    NICK (lowercased) is held by a server (PX lease, renewed)
 *
 * Every message is published on the one command connection, so Redis delivers what one
 * server says in the order it said it, to every subscriber, across channels.
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <uv.h>

#include "uvchat/cluster.h"
#include "uvchat/log.h"
#include "uvchat/metrics.h"
#include "uvchat/names.h"
#include "uvchat/uvredis.h"

#define KEY_MAX        (UVC_WIRE_SERVER_MAX + 64)
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS   5000
#define STOP_GRACE_MS  1000
#define RENEW_BATCH    500 /* nicks renewed per script call */

/* Flow control (see "Flow control" below). */
#define BACKLOG_HIGH (4u << 20)  /* bytes published and not answered yet: senders wait above */
#define BACKLOG_LOW  (1u << 20)  /* ... until it is down to this */
#define BACKLOG_MAX  (16u << 20) /* Redis answers nothing of this much: cut off from it */
#define STALL_MS     250         /* Redis answered nothing for this long: local senders go on */
#define PULSE_MS     50          /* the flow timer's period */
#define SUB_HIGH     (4u << 20)  /* a subscriber this far behind (Redis's omem) holds senders */
#define SUB_LOW      (1u << 20)  /* ... until it is down to this */
#define DRAIN_MS     1000        /* ... if it was seen draining within this */
#define BATCH_MAX    (64u << 10) /* bytes of one batch (several messages in one PUBLISH) */

/* ------------------------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------------------------- */

/* Another server, as seen from here. */
typedef struct server_rec {
  UT_hash_handle hh;
  uint32_t gen;        /* bumped by each snapshot it starts (BEGIN) */
  uint64_t checked_at; /* loop time from which its lease is checked */
  char id[UVC_WIRE_SERVER_MAX + 1];
} server_rec_t;

/* A session of another server, present here as a session of the remote adapter. */
typedef struct ghost {
  uvc_session_t sess;
  UT_hash_handle hh;
  server_rec_t* srv;
  uint64_t uid;
  uint32_t gen;
  char key[UVC_WIRE_SERVER_MAX + 24]; /* "ID/UID" */
  char user[UVC_USER_MAX + 1];
  char realname[UVC_REALNAME_MAX + 1];
} ghost_t;

/* What the cluster keeps of one local session. */
typedef struct local {
  UT_hash_handle hh; /* by session pointer */
  uvc_session_t* s;
  uint64_t uid;
  uint8_t announced;  /* the others know it (its USER went out) */
  uint8_t resync;     /* back from an outage: its USER goes out again once its nick is claimed */
  uint8_t pending;    /* nick claims in flight */
  uint16_t n_waiting; /* events in waiting */
  char held[UVC_NICK_MAX + 1]; /* the nick whose claim Redis confirmed, or "" */
  /* What it said before the others knew it (its first round trip to Redis): pairs of
   * netstrings, channel then message, published right after its USER. */
  char* waiting;
  size_t waiting_len, waiting_cap;
} local_t;

#define WAITING_MAX 64 /* events a session may make before its nick is confirmed */

/* A room channel this server listens to. */
typedef struct room_sub {
  UT_hash_handle hh;
  char name[UVC_ROOM_MAX + 1]; /* lowercased */
} room_sub_t;

typedef enum { DOWN = 0, CONNECTING, UP } state_t;

/* Another server's subscriber connection, as Redis's CLIENT LIST shows it (its name says
 * whose it is: "uvchat:DB:sub:ID"). */
typedef struct peer_sub {
  UT_hash_handle hh;
  size_t omem;         /* bytes Redis holds for it */
  uint64_t drained_at; /* loop time it was last seen holding less than the look before */
  uint32_t seen;       /* the look that saw it last */
  char name[KEY_MAX];
} peer_sub_t;

struct uvc_cluster {
  uv_loop_t* loop;
  uvc_core_t* core;
  uvc_cluster_url_t url;
  char id[UVC_WIRE_SERVER_MAX + 1];
  uint64_t lease_ms;
  redisAsyncContext* cmd;
  redisAsyncContext* sub;
  uint8_t cmd_up, sub_up; /* connected, and AUTH and SELECT answered */
  uint8_t state;          /* state_t */
  uint8_t told_down;      /* local users were told the cluster is unreachable */
  uint8_t stopping;
  uint8_t closed;      /* timers closed */
  uint8_t ever_up;     /* reached Redis at least once */
  uint8_t node_held;   /* node is ours in Redis */
  unsigned node;       /* the low byte of this server's event ids */
  uint64_t retry_ms;   /* the next reconnect delay */
  uint64_t down_since; /* loop time the cluster became unreachable */
  uv_timer_t tick;     /* every lease/3: renewals, liveness checks, lag */
  uv_timer_t retry;    /* reconnect backoff; the stop deadline */
  int open_timers;
  uint64_t next_uid;
  local_t* locals;
  ghost_t* ghosts;
  server_rec_t* servers;
  room_sub_t* rooms;
  char* buf; /* encoding scratch */
  size_t buf_len, buf_cap;
  char ch_all[KEY_MAX], ch_mine[KEY_MAX], prefix[32];
  uint64_t ping_sent;     /* loop time of the PING in flight, or 0 */
  uint64_t heard_at;      /* loop time the subscriber last got one of our own messages */
  uint64_t connecting_at; /* loop time the connections were started */
  double lag_s;           /* the last PING round trip */
  uint64_t published, received, dropped;
  /* Flow control. */
  uv_timer_t pulse;         /* every PULSE_MS while up */
  size_t backlog;           /* bytes of PUBLISHes on the command connection not answered yet */
  uint64_t answered_at;     /* loop time of the last answer (or of the backlog's start) */
  uint8_t holding;          /* local senders are held (uvc_core_backlog) */
  uint64_t pulse_received;  /* received at the last look */
  peer_sub_t* subs;         /* the other servers' subscriber connections, as Redis sees them */
  uint8_t subs_behind;      /* one of them is behind and draining: senders wait */
  uint8_t listing;          /* a CLIENT LIST is in flight */
  uint32_t look;            /* CLIENT LISTs answered */
  size_t subs_most;         /* the largest of their output buffers at the last look */
  uint64_t pulse_published; /* published at the last look */
  uint64_t holds, publish_dropped;
  char said[160]; /* the last reason logged for being cut off (each is logged once in a row) */
  /* Batching: a server's consecutive messages to one channel within a loop iteration go out
   * as one PUBLISH (uvc_wire_batch_add), sent at the end of the iteration (check), or from
   * the next one's idle phase for those made after the checks ran (so that the loop does not
   * block with them), or at once when the channel changes, the batch is full, or a command
   * that publishes by itself (a nick claim) follows. */
  char* batch;
  size_t batch_len, batch_cap;
  unsigned batch_count;   /* messages in it */
  char batch_ch[KEY_MAX]; /* its channel */
  uv_check_t batch_check; /* while a batch waits */
  uv_idle_t batch_idle;
  uint64_t batches; /* PUBLISH commands of more than one message */
};

static const uvc_cluster_ops_t kOps;
static void go_down(uvc_cluster_t* c, const char* why);
static void schedule_connect(uvc_cluster_t* c, uint64_t delay);
static void on_sub_reply(redisAsyncContext* ac, void* r, void* priv);
static void room_check(uvc_cluster_t* c, const char* name, size_t len);
static void on_pulse(uv_timer_t* t);
static void on_clients(redisAsyncContext* ac, void* r, void* priv);

static void lower(char* out, const char* in, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    out[i] = uvc_ascii_lower(in[i]);
  out[n] = '\0';
}

static void nick_key(const uvc_cluster_t* c, char* out, const char* nick, size_t n) {
  char low[UVC_NICK_MAX + 1];
  lower(low, nick, n < UVC_NICK_MAX ? n : UVC_NICK_MAX);
  snprintf(out, KEY_MAX, "%snick:%s", c->prefix, low);
}

static void room_channel(const uvc_cluster_t* c, char* out, const char* room, size_t n) {
  char low[UVC_ROOM_MAX + 1];
  lower(low, room, n < UVC_ROOM_MAX ? n : UVC_ROOM_MAX);
  snprintf(out, KEY_MAX, "%sroom:%s", c->prefix, low);
}

/* ------------------------------------------------------------------------------------------
 * Publishing
 * ---------------------------------------------------------------------------------------- */

/* Whether commands can go to Redis now. */
static int up(const uvc_cluster_t* c) {
  return c->state == UP && c->cmd != NULL && !c->stopping;
}

static void on_ignored(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  (void)ac;
  (void)priv;
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    UVC_WARN("cluster: Redis said: %s", reply->str);
}

/* Encodes w into c->buf (from the start). Returns 0 or -1. */
static int encode(uvc_cluster_t* c, const uvc_wire_t* w) {
  c->buf_len = 0;
  return uvc_wire_encode(w, &c->buf, &c->buf_len, &c->buf_cap);
}

/* ------------------------------------------------------------------------------------------
 * Flow control
 *
 * Two things can fall behind what local users say: Redis (the commands this server publishes
 * wait in hiredis and in Redis unanswered) and another server (its subscriber connection
 * does not read what Redis has for it as fast as it comes; Redis closes a subscriber past
 * its client-output-buffer-limit, 32 MiB by default, and what it would have read is lost).
 * Both hold this server's senders the way a congested local reader does (uvc_core_backlog):
 *  - more than BACKLOG_HIGH bytes published and not answered hold them until the backlog
 *    is down to BACKLOG_LOW. A Redis that answers nothing for STALL_MS holds nobody (local
 *    chat goes on); past BACKLOG_MAX it is given up as unreachable, like a dead one.
 *  - another server's subscriber that Redis holds more than SUB_HIGH bytes for (CLIENT
 *    LIST's omem, asked every PULSE_MS while messages come) holds them until it is down to
 *    SUB_LOW, as long as it drains: one that was not seen holding less than the look before
 *    for DRAIN_MS (a server stopped or stuck) holds no one; Redis then drops it at its
 *    limit, and that server comes back as after an outage.
 * ---------------------------------------------------------------------------------------- */

static int must_wait(const uvc_cluster_t* c) {
  uint64_t now = uv_now(c->loop);
  if (!up(c)) return 0;
  if (c->backlog > (c->holding ? BACKLOG_LOW : BACKLOG_HIGH) && now - c->answered_at < STALL_MS)
    return 1;
  return c->subs_behind;
}

/* Holds or lets go of the local senders as must_wait says; while held, the session whose
 * event is being published waits too. */
static void flow_check(uvc_cluster_t* c) {
  int want = must_wait(c);
  if (want == c->holding) {
    if (want) uvc_core_backlog(c->core, 1);
    return;
  }
  c->holding = (uint8_t)want;
  if (want) c->holds++;
  UVC_DEBUG("cluster: local senders %s (%zu bytes unanswered; another server %zu behind)",
            want ? "wait" : "go on", c->backlog, c->subs_most);
  uvc_core_backlog(c->core, want);
}

static void on_published(redisAsyncContext* ac, void* r, void* priv) {
  uvc_cluster_t* c = ac->data;
  redisReply* reply = r;
  size_t cost = (size_t)(uintptr_t)priv;
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    UVC_WARN("cluster: Redis said: %s", reply->str);
  if (c == NULL) return; /* the connection is being dropped: its backlog goes with it */
  c->backlog = c->backlog > cost ? c->backlog - cost : 0;
  if (reply != NULL) c->answered_at = uv_now(c->loop);
  if (c->holding && c->backlog <= BACKLOG_LOW) flow_check(c);
}

/* Sends data on channel as one PUBLISH, counted in the backlog. */
static void send_publish(uvc_cluster_t* c, const char* channel, size_t channel_len,
                         const char* data, size_t len) {
  size_t cost = channel_len + len + 32; /* the command's bytes, about */
  if (redisAsyncCommand(c->cmd, on_published, (void*)(uintptr_t)cost, "PUBLISH %b %b", channel,
                        channel_len, data, len) != REDIS_OK)
    return;
  if (c->backlog == 0) c->answered_at = uv_now(c->loop);
  c->backlog += cost;
}

static void batch_clear(uvc_cluster_t* c) {
  c->batch_len = 0;
  c->batch_count = 0;
  uv_check_stop(&c->batch_check);
  uv_idle_stop(&c->batch_idle);
}

/* Sends the batch waiting, if any: one message as it is, several as a batch. */
static void batch_flush(uvc_cluster_t* c) {
  if (c->batch_count == 0) return;
  if (up(c)) {
    if (c->batch_count == 1) { /* the message alone, without the batch's framing */
      const char *p = c->batch + UVC_WIRE_BATCH_HEAD_LEN, *msg;
      size_t n;
      if (uvc_wire_batch_next(&p, c->batch + c->batch_len, &msg, &n) == 1)
        send_publish(c, c->batch_ch, strlen(c->batch_ch), msg, n);
    } else {
      send_publish(c, c->batch_ch, strlen(c->batch_ch), c->batch, c->batch_len);
      c->batches++;
    }
  }
  batch_clear(c);
}

static void on_batch_check(uv_check_t* h) {
  batch_flush(h->data);
}
static void on_batch_idle(uv_idle_t* h) {
  batch_flush(h->data);
}

/* Publishes data on channel: into the batch (see struct uvc_cluster). */
static void publish_bytes(uvc_cluster_t* c, const char* channel, size_t channel_len,
                          const char* data, size_t len) {
  if (!up(c)) return;
  if (c->backlog > BACKLOG_MAX) { /* the pulse gives Redis up */
    c->publish_dropped++;
    return;
  }
  if (c->batch_count > 0 &&
      (c->batch_len + len + 16 > BATCH_MAX || strlen(c->batch_ch) != channel_len ||
       memcmp(c->batch_ch, channel, channel_len) != 0))
    batch_flush(c);
  if (channel_len >= sizeof(c->batch_ch) ||
      uvc_wire_batch_add(data, len, &c->batch, &c->batch_len, &c->batch_cap) != 0) {
    batch_flush(c);
    send_publish(c, channel, channel_len, data, len); /* no room to wait */
  } else if (c->batch_count++ == 0) {
    memcpy(c->batch_ch, channel, channel_len);
    c->batch_ch[channel_len] = '\0';
    uv_check_start(&c->batch_check, on_batch_check);
    uv_idle_start(&c->batch_idle, on_batch_idle);
  }
  c->published++;
  if (c->backlog > BACKLOG_HIGH || c->holding) flow_check(c);
}

/* Publishes c->buf on channel. */
static void publish_buf(uvc_cluster_t* c, const char* channel) {
  publish_bytes(c, channel, strlen(channel), c->buf, c->buf_len);
}

static void wire_init(const uvc_cluster_t* c, uvc_wire_t* w, uvc_wire_kind_t kind, uint64_t uid) {
  memset(w, 0, sizeof(*w));
  w->kind = (uint8_t)kind;
  memcpy(w->server, c->id, sizeof(w->server));
  w->uid = uid;
}

/* The USER snapshot of local session s. */
static void user_wire(const uvc_cluster_t* c, const local_t* l, uvc_wire_t* w) {
  const uvc_session_t* s = l->s;
  const char* away = uvc_session_away(s);
  const char* account = uvc_session_account(s);
  const char* real = s->adapter->realname != NULL ? s->adapter->realname(s) : NULL;
  unsigned i;
  wire_init(c, w, UVC_WIRE_USER, l->uid);
  memcpy(w->nick, s->nick, (size_t)s->nick_len + 1);
  snprintf(w->user, sizeof(w->user), "%s", s->user != NULL ? s->user : "");
  snprintf(w->account, sizeof(w->account), "%s", account != NULL ? account : "");
  snprintf(w->realname, sizeof(w->realname), "%s", real != NULL ? real : "");
  snprintf(w->from_format, sizeof(w->from_format), "%s", s->adapter->name);
  if (away != NULL) {
    w->away = away;
    w->away_len = strlen(away);
  }
  w->umodes = s->umodes & UVC_USER_INVISIBLE;
  for (i = 0; i < s->n_rooms; i++) {
    const uvc_membership_t* m = uvc_session_membership_c(s, i);
    memcpy(w->rooms[i].name, m->room->name, sizeof(w->rooms[i].name));
    w->rooms[i].flags = m->flags;
  }
  w->n_rooms = s->n_rooms;
}

/* Tells the cluster that l is here (its USER on the global channel), once its nick is its. */
static void announce(uvc_cluster_t* c, local_t* l) {
  uvc_wire_t w;
  if (!up(c) || l->s->unseen || !l->s->present) return;
  if (strcmp(l->held, l->s->nick) != 0) return; /* waits for the claim of its nick */
  user_wire(c, l, &w);
  if (encode(c, &w) != 0) return;
  publish_buf(c, c->ch_all);
  l->announced = 1;
  l->resync = 0;
  if (l->waiting_len > 0) { /* then what it said meanwhile, in order */
    const char* p = l->waiting;
    const char* end = l->waiting + l->waiting_len;
    while (p < end) {
      size_t cl, ml;
      memcpy(&cl, p, sizeof(cl));
      memcpy(&ml, p + sizeof(cl), sizeof(ml));
      p += 2 * sizeof(size_t);
      publish_bytes(c, p, cl, p + cl, ml);
      p += cl + ml;
    }
  }
  free(l->waiting);
  l->waiting = NULL;
  l->waiting_len = l->waiting_cap = 0;
  l->n_waiting = 0;
}

/* Keeps c->buf, for channel, until l is announced. Returns 0, or -1 when it cannot wait
 * (too many, out of memory). */
static int wait_for_announce(uvc_cluster_t* c, local_t* l, const char* channel) {
  size_t cl = strlen(channel), need = l->waiting_len + 2 * sizeof(size_t) + cl + c->buf_len;
  char* p;
  if (l->n_waiting >= WAITING_MAX) return -1;
  if (need > l->waiting_cap) {
    size_t cap = l->waiting_cap < 1024 ? 1024 : l->waiting_cap;
    while (cap < need)
      cap *= 2;
    if ((p = realloc(l->waiting, cap)) == NULL) return -1;
    l->waiting = p;
    l->waiting_cap = cap;
  }
  p = l->waiting + l->waiting_len;
  memcpy(p, &cl, sizeof(cl));
  memcpy(p + sizeof(cl), &c->buf_len, sizeof(c->buf_len));
  memcpy(p + 2 * sizeof(size_t), channel, cl);
  memcpy(p + 2 * sizeof(size_t) + cl, c->buf, c->buf_len);
  l->waiting_len = need;
  l->n_waiting++;
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Nick claims
 * ---------------------------------------------------------------------------------------- */

/* KEYS[1] the nick wanted, KEYS[2] the nick given up (the same key: none); ARGV[1] this
 * server, ARGV[2] the lease, ARGV[3] a channel, ARGV[4] what to publish there once the nick
 * is ours ("" for nothing). 1: the nick is ours; 0: another server holds it. */
static const char kClaim[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and v ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end "
    "if KEYS[2] ~= KEYS[1] and redis.call('GET', KEYS[2]) == ARGV[1] then "
    "redis.call('DEL', KEYS[2]) end "
    "return 1";
/* Deletes KEYS[1] when ARGV[1] holds it. */
static const char kRelease[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";
/* Renews each of KEYS this server holds (ARGV[1]) for ARGV[2] ms; returns those it lost. */
static const char kRenew[] =
    "local lost = {} "
    "for i, k in ipairs(KEYS) do "
    "if redis.call('GET', k) == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]) "
    "else lost[#lost + 1] = k end end "
    "return lost";
/* Takes the first free node number from ARGV[2] on (mod 256) for server ARGV[1], or keeps
 * the one it has; returns it, or -1. KEYS[1] is the key prefix. */
static const char kNode[] =
    "for i = 0, 255 do local n = (tonumber(ARGV[2]) + i) % 256 "
    "local k = KEYS[1] .. 'node:' .. n "
    "local v = redis.call('GET', k) "
    "if not v or v == ARGV[1] then redis.call('SET', k, ARGV[1], 'PX', ARGV[3]) return n end "
    "end return -1";

typedef struct claim_req {
  uvc_cluster_t* c;
  uint64_t uid;
  uvc_session_t* s;
  char nick[UVC_NICK_MAX + 1];
  char old[UVC_NICK_MAX + 1];
} claim_req_t;

static local_t* local_of(uvc_cluster_t* c, const uvc_session_t* s) {
  local_t* l;
  HASH_FIND_PTR(c->locals, &s, l);
  return l;
}

static void on_claim(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  claim_req_t* q = priv;
  uvc_cluster_t* c = q->c;
  local_t* l = local_of(c, q->s);
  (void)ac;
  if (l != NULL && l->uid == q->uid) {
    if (l->pending > 0) l->pending--;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
      /* Redis went away: the claims are made again when it is back. */
    } else if (reply->integer == 1) {
      memcpy(l->held, q->nick, sizeof(l->held));
      if (!l->announced || l->resync) announce(c, l);
    } else if (l->s->present && uvc_name_eq(l->s->nick, l->s->nick_len, q->nick, strlen(q->nick))) {
      /* Another server holds it: this session gives it back. */
      char note[200];
      int err = q->old[0] != '\0' && strcmp(q->old, q->nick) != 0
                    ? uvc_core_rename(c->core, l->s, q->old, strlen(q->old))
                    : UVC_ENICK_TAKEN;
      if (err != 0) err = uvc_core_rename_guest(c->core, l->s);
      snprintf(note, sizeof(note), "%s is already taken on another server of the cluster", q->nick);
      if (l->s->present) uvc_core_notify(c->core, l->s, note, strlen(note));
      UVC_INFO("cluster: nick %s is held by another server: now %s", q->nick, l->s->nick);
    }
  }
  free(q);
}

/* Claims s's nick now (old: the nick it had before, for a rename; payload: what to publish
 * on channel once the nick is its, or NULL). */
static void claim(uvc_cluster_t* c, local_t* l, const char* old, size_t old_len,
                  const char* channel, const char* payload, size_t plen) {
  claim_req_t* q;
  char key[KEY_MAX], old_key[KEY_MAX];
  char lease[24];
  if (!up(c) || (q = calloc(1, sizeof(*q))) == NULL) return;
  q->c = c;
  q->uid = l->uid;
  q->s = l->s;
  memcpy(q->nick, l->s->nick, (size_t)l->s->nick_len + 1);
  if (old != NULL) {
    memcpy(q->old, old, old_len);
    q->old[old_len] = '\0';
  }
  nick_key(c, key, l->s->nick, l->s->nick_len);
  if (old != NULL)
    nick_key(c, old_key, old, old_len);
  else
    memcpy(old_key, key, sizeof(key));
  snprintf(lease, sizeof(lease), "%llu", (unsigned long long)c->lease_ms);
  batch_flush(c); /* what was said before the rename goes out before it */
  if (redisAsyncCommand(c->cmd, on_claim, q, "EVAL %s 2 %s %s %s %s %s %b", kClaim, key, old_key,
                        c->id, lease, channel != NULL ? channel : c->ch_all,
                        payload != NULL ? payload : "", payload != NULL ? plen : 0) != REDIS_OK) {
    free(q);
    return;
  }
  if (payload != NULL) c->published++;
  l->pending++;
}

static void release(uvc_cluster_t* c, const char* nick, size_t len) {
  char key[KEY_MAX];
  if (!up(c)) return;
  nick_key(c, key, nick, len);
  redisAsyncCommand(c->cmd, on_ignored, NULL, "EVAL %s 1 %s %s", kRelease, key, c->id);
}

/* The renewal answered: the nicks in it were lost (their lease ran out while this server
 * could not renew it, and someone else took them, or Redis forgot them). */
static void on_renew(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  uvc_cluster_t* c = priv;
  size_t i;
  (void)ac;
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) return;
  for (i = 0; i < reply->elements; i++) {
    const redisReply* k = reply->element[i];
    const char* nick;
    uvc_session_t* s;
    local_t* l;
    if (k->type != REDIS_REPLY_STRING || (nick = strrchr(k->str, ':')) == NULL) continue;
    nick++;
    s = uvc_core_find(c->core, nick, strlen(nick));
    if (s == NULL || s->adapter->remote || (l = local_of(c, s)) == NULL) continue;
    /* Claim it again: it is ours unless someone else has it now (then it is given up). */
    l->held[0] = '\0';
    claim(c, l, NULL, 0, NULL, NULL, 0);
  }
}

/* One renewal script for the n nick keys in keys. */
static void renew_batch(uvc_cluster_t* c, char (*keys)[KEY_MAX], int n) {
  const char* argv[RENEW_BATCH + 6];
  size_t lens[RENEW_BATCH + 6];
  char lease[24], nkeys[16];
  int i, argc = 0;
  snprintf(lease, sizeof(lease), "%llu", (unsigned long long)c->lease_ms);
  snprintf(nkeys, sizeof(nkeys), "%d", n);
  argv[argc++] = "EVAL";
  argv[argc++] = kRenew;
  argv[argc++] = nkeys;
  for (i = 0; i < n; i++)
    argv[argc++] = keys[i];
  argv[argc++] = c->id;
  argv[argc++] = lease;
  for (i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisAsyncCommandArgv(c->cmd, on_renew, c, argc, argv, lens);
}

/* Renews every nick this server holds, RENEW_BATCH keys per script. */
static void renew_nicks(uvc_cluster_t* c) {
  static char keys[RENEW_BATCH][KEY_MAX];
  local_t *l, *tmp;
  int n = 0;
  HASH_ITER(hh, c->locals, l, tmp) {
    if (l->held[0] == '\0' || !l->s->present) continue;
    nick_key(c, keys[n], l->held, strlen(l->held));
    if (++n == RENEW_BATCH) {
      renew_batch(c, keys, n);
      n = 0;
    }
  }
  if (n > 0) renew_batch(c, keys, n);
}

/* ------------------------------------------------------------------------------------------
 * The core's hooks: local sessions
 * ---------------------------------------------------------------------------------------- */

static void hook_present(void* ud, uvc_session_t* s) {
  uvc_cluster_t* c = ud;
  local_t* l;
  if (c->stopping || (l = calloc(1, sizeof(*l))) == NULL) return;
  l->s = s;
  l->uid = ++c->next_uid;
  HASH_ADD_PTR(c->locals, s, l);
  claim(c, l, NULL, 0, NULL, NULL, 0);
}

static void hook_revealed(void* ud, uvc_session_t* s) {
  uvc_cluster_t* c = ud;
  local_t* l = local_of(c, s);
  if (l != NULL && (!l->announced || l->resync)) announce(c, l);
}

static int hook_may_rename(void* ud, const uvc_session_t* s, const char* nick, size_t len) {
  uvc_cluster_t* c = ud;
  (void)s;
  (void)nick;
  (void)len;
  return up(c) ? 0 : UVC_ECLUSTER_DOWN;
}

/* Where an event of a local session goes: the room's channel for what is said there, the
 * recipient's server for a private message, the global channel for the rest. */
static void hook_event(void* ud, uvc_session_t* s, const uvc_event_t* ev,
                       const uvc_session_t* target) {
  uvc_cluster_t* c = ud;
  local_t* l = local_of(c, s);
  char channel[KEY_MAX];
  uvc_wire_t w;
  if (l == NULL || c->stopping) return;
  if (ev->type == UVC_EV_LEAVE) {
    if (l->announced && up(c)) {
      wire_init(c, &w, UVC_WIRE_EVENT, l->uid);
      w.ev = *ev;
      snprintf(w.from_format, sizeof(w.from_format), "%s", s->adapter->name);
      if (encode(c, &w) == 0) publish_buf(c, c->ch_all);
    }
    if (l->held[0] != '\0') release(c, l->held, strlen(l->held));
    HASH_DEL(c->locals, l);
    free(l->waiting);
    free(l); /* its rooms' channels are checked at the next tick (it is still in them now) */
    return;
  }
  wire_init(c, &w, UVC_WIRE_EVENT, l->uid);
  w.ev = *ev;
  snprintf(w.from_format, sizeof(w.from_format), "%s", s->adapter->name);
  switch (ev->type) {
    case UVC_EV_SAY:
    case UVC_EV_ACTION:
      room_channel(c, channel, ev->room, ev->room_len);
      break;
    case UVC_EV_TAGMSG:
      if (ev->room_len > 0) {
        room_channel(c, channel, ev->room, ev->room_len);
        break;
      }
      if (target == NULL || !target->adapter->remote || !up(c)) return;
      snprintf(channel, sizeof(channel), "%ssrv:%s", c->prefix, ((const ghost_t*)target)->srv->id);
      break;
    case UVC_EV_PRIVATE: {
      const ghost_t* g = (const ghost_t*)target;
      if (target == NULL || !target->adapter->remote) return;
      if (!up(c)) {
        static const char kLost[] =
            "the cluster is unreachable: that message reached nobody (its recipient is on "
            "another server)";
        uvc_core_notify(c->core, s, kLost, sizeof(kLost) - 1);
        return;
      }
      snprintf(channel, sizeof(channel), "%ssrv:%s", c->prefix, g->srv->id);
      break;
    }
    case UVC_EV_ARRIVE: {
      /* The member's flags and the room's modes travel with it (a room new to the other
       * server starts as this one has it). */
      const uvc_room_t* room = uvc_core_room(c->core, ev->room, ev->room_len);
      const uvc_membership_t* m = room != NULL ? uvc_session_in(s, room) : NULL;
      w.ev.mode_on = (uint8_t)(m != NULL ? m->flags : 0);
      w.ev.mode_off = room != NULL ? room->modes : 0;
      room_check(c, ev->room, ev->room_len);
      memcpy(channel, c->ch_all, sizeof(channel));
      break;
    }
    case UVC_EV_PART:
    case UVC_EV_KICK:
      room_check(c, ev->room, ev->room_len);
      memcpy(channel, c->ch_all, sizeof(channel));
      break;
    case UVC_EV_NICK:
      if (!up(c)) return;
      /* Published with the claim of the new nick, and only if the nick is this server's. */
      if (l->announced && encode(c, &w) == 0) {
        claim(c, l, ev->old_nick, ev->old_len, c->ch_all, c->buf, c->buf_len);
      } else {
        claim(c, l, ev->old_nick, ev->old_len, NULL, NULL, 0);
      }
      return;
    default:
      memcpy(channel, c->ch_all, sizeof(channel));
      break;
  }
  if (!up(c) || encode(c, &w) != 0) return;
  if (l->announced) {
    publish_buf(c, channel);
  } else if (wait_for_announce(c, l, channel) != 0) { /* the others do not know it yet */
    UVC_WARN(
        "cluster: %s made too many events before its nick was confirmed; one reached only "
        "this server",
        s->nick);
  }
}

/* A KILL of a ghost goes to its server, which closes the session: its leaving, with the
 * reason, comes back like any other. */
static int hook_kill(void* ud, const uvc_session_t* target, const char* why, size_t len) {
  uvc_cluster_t* c = ud;
  const ghost_t* g = (const ghost_t*)target;
  char channel[KEY_MAX];
  uvc_wire_t w;
  if (!up(c)) return UVC_ECLUSTER_DOWN;
  wire_init(c, &w, UVC_WIRE_KILL, g->uid);
  w.ev.text = why;
  w.ev.len = len;
  snprintf(channel, sizeof(channel), "%ssrv:%s", c->prefix, g->srv->id);
  if (encode(c, &w) != 0) return UVC_ENOMEM;
  publish_buf(c, channel);
  return 0;
}

static const uvc_cluster_ops_t kOps = {hook_event, hook_present, hook_revealed, hook_may_rename,
                                       hook_kill};

/* ------------------------------------------------------------------------------------------
 * Room channels
 * ---------------------------------------------------------------------------------------- */

static void subscribe_room(uvc_cluster_t* c, const char* low) {
  char channel[KEY_MAX];
  if (c->sub == NULL || !c->sub_up) return;
  snprintf(channel, sizeof(channel), "%sroom:%s", c->prefix, low);
  redisAsyncCommand(c->sub, on_sub_reply, NULL, "SUBSCRIBE %s", channel);
}

/* Listens to room's channel while it has local members, and only then. */
static void room_check(uvc_cluster_t* c, const char* name, size_t len) {
  uvc_room_t* room = uvc_core_room(c->core, name, len);
  char low[UVC_ROOM_MAX + 1];
  room_sub_t* rs;
  int local = 0;
  uint32_t i;
  if (len > UVC_ROOM_MAX) len = UVC_ROOM_MAX; /* a room name is no longer (the core's bound) */
  lower(low, name, len);
  if (room != NULL)
    for (i = 0; i < room->n_members && !local; i++)
      local = !room->members[i]->adapter->remote;
  HASH_FIND_STR(c->rooms, low, rs);
  if (local && rs == NULL) {
    if ((rs = calloc(1, sizeof(*rs))) == NULL) return;
    memcpy(rs->name, low, len + 1);
    HASH_ADD_STR(c->rooms, name, rs);
    subscribe_room(c, low);
  } else if (!local && rs != NULL) {
    char channel[KEY_MAX];
    HASH_DEL(c->rooms, rs);
    free(rs);
    if (c->sub != NULL && c->sub_up) {
      snprintf(channel, sizeof(channel), "%sroom:%s", c->prefix, low);
      redisAsyncCommand(c->sub, NULL, NULL, "UNSUBSCRIBE %s", channel);
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * Ghosts: the other servers' sessions
 * ---------------------------------------------------------------------------------------- */

static server_rec_t* server_of(uvc_cluster_t* c, const char* id, int create) {
  server_rec_t* r;
  HASH_FIND_STR(c->servers, id, r);
  if (r == NULL && create && (r = calloc(1, sizeof(*r))) != NULL) {
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->checked_at = uv_now(c->loop);
    HASH_ADD_STR(c->servers, id, r);
    UVC_INFO("cluster: server %s seen", id);
  }
  return r;
}

static ghost_t* ghost_find(uvc_cluster_t* c, const char* server, uint64_t uid) {
  char key[UVC_WIRE_SERVER_MAX + 24];
  ghost_t* g;
  snprintf(key, sizeof(key), "%s/%llu", server, (unsigned long long)uid);
  HASH_FIND_STR(c->ghosts, key, g);
  return g;
}

/* g leaves the chat (told to the local members who share a room with it) and is freed. */
static void ghost_drop_text(uvc_cluster_t* c, ghost_t* g, uvc_leave_t why, const char* text,
                            size_t len) {
  uvc_core_leave(c->core, &g->sess, why, text, len);
  uvc_core_forget(c->core, &g->sess);
  HASH_DEL(c->ghosts, g);
  free(g);
}

static void ghost_drop(uvc_cluster_t* c, ghost_t* g, uvc_leave_t why, const char* text) {
  ghost_drop_text(c, g, why, text, text != NULL ? strlen(text) : 0);
}

/* Frees the way for a ghost to take nick: a local session holding it lost the race for it
 * (Redis gave the nick to the ghost's server), a stale ghost holding it is gone. */
static void make_room_for(uvc_cluster_t* c, const char* nick, size_t len, const ghost_t* self) {
  uvc_session_t* s = uvc_core_find(c->core, nick, len);
  if (s == NULL || s == &self->sess) return;
  if (s->adapter->remote) {
    ghost_drop(c, (ghost_t*)s, UVC_LEAVE_SERVER, "replaced by a newer user of that nick");
  } else {
    char note[160];
    local_t* l = local_of(c, s);
    if (l != NULL) l->held[0] = '\0';
    snprintf(note, sizeof(note), "%.*s is already taken on another server of the cluster", (int)len,
             nick);
    if (uvc_core_rename_guest(c->core, s) == 0) uvc_core_notify(c->core, s, note, strlen(note));
  }
}

/* Brings ghost g in line with a USER snapshot: nick, rooms and their flags, away. */
static void ghost_update(uvc_cluster_t* c, ghost_t* g, const uvc_wire_t* w) {
  uvc_session_t* s = &g->sess;
  unsigned i;
  if (strcmp(s->nick, w->nick) != 0) {
    make_room_for(c, w->nick, strlen(w->nick), g);
    (void)uvc_core_rename(c->core, s, w->nick, strlen(w->nick));
  }
  for (i = s->n_rooms; i-- > 0;) { /* rooms it left */
    uvc_room_t* room = uvc_session_membership(s, i)->room;
    unsigned k;
    for (k = 0; k < w->n_rooms; k++)
      if (uvc_name_eq(room->name, room->name_len, w->rooms[k].name, strlen(w->rooms[k].name)))
        break;
    if (k == w->n_rooms) {
      char name[UVC_ROOM_MAX + 1];
      memcpy(name, room->name, sizeof(name));
      (void)uvc_core_part(c->core, s, room, NULL, 0);
      room_check(c, name, strlen(name));
    }
  }
  for (i = 0; i < w->n_rooms; i++) { /* rooms it is in */
    uvc_room_t* room = NULL;
    const uvc_membership_t* m;
    int err = uvc_core_join(c->core, s, w->rooms[i].name, strlen(w->rooms[i].name), 0, &room);
    if ((err == 0 || err == UVC_EALREADY_IN_ROOM) && room != NULL &&
        (m = uvc_session_in(s, room)) != NULL)
      ((uvc_membership_t*)m)->flags = w->rooms[i].flags; /* as its own server has them */
  }
  if ((w->away != NULL) != (uvc_session_away(s) != NULL) ||
      (w->away != NULL && (strlen(uvc_session_away(s)) != w->away_len ||
                           memcmp(uvc_session_away(s), w->away, w->away_len) != 0)))
    (void)uvc_core_set_away(c->core, s, w->away, w->away != NULL ? w->away_len : 0);
  if (((s->umodes & UVC_USER_INVISIBLE) != 0) != ((w->umodes & UVC_USER_INVISIBLE) != 0))
    uvc_core_set_invisible(c->core, s, (w->umodes & UVC_USER_INVISIBLE) != 0);
}

/* A USER snapshot: a new ghost, or an update of one. */
static void on_user(uvc_cluster_t* c, const uvc_wire_t* w) {
  server_rec_t* srv = server_of(c, w->server, 1);
  ghost_t* g = ghost_find(c, w->server, w->uid);
  if (srv == NULL) return;
  if (g == NULL) {
    if ((g = calloc(1, sizeof(*g))) == NULL) return;
    uvc_session_init(&g->sess, &uvc_remote_adapter);
    g->sess.slot = (uint8_t)(uvc_remote_adapter.format + UVC_FORMATS * UVC_VARIANT_OWN);
    g->srv = srv;
    g->uid = w->uid;
    snprintf(g->key, sizeof(g->key), "%s/%llu", w->server, (unsigned long long)w->uid);
    snprintf(g->user, sizeof(g->user), "%s", w->user[0] != '\0' ? w->user : "remote");
    snprintf(g->realname, sizeof(g->realname), "%s", w->realname);
    g->sess.user = g->user;
    g->sess.proto = g->realname;
    make_room_for(c, w->nick, strlen(w->nick), g);
    if (uvc_core_enter(c->core, &g->sess, w->nick, strlen(w->nick)) != 0) {
      UVC_WARN("cluster: cannot show %s of server %s here", w->nick, w->server);
      free(g);
      return;
    }
    HASH_ADD_STR(c->ghosts, key, g);
    if (w->account[0] != '\0') { /* logged in on its server (nobody here to tell yet) */
      uvc_core_set_origin(c->core, 0, 0);
      (void)uvc_core_set_account(c->core, &g->sess, w->account, strlen(w->account));
    }
  }
  g->gen = srv->gen;
  ghost_update(c, g, w);
  UVC_DEBUG("cluster: ghost %s of server %s", g->sess.nick, srv->id);
}

/* Another server's event, applied here on behalf of its ghost with the event's own id and
 * time; the core fans it out to the local members and publishes nothing. */
static void on_event(uvc_cluster_t* c, uvc_wire_t* w) {
  uvc_event_t* ev = &w->ev;
  ghost_t* g = ghost_find(c, w->server, w->uid);
  uvc_session_t* s;
  uvc_room_t* room;
  uvc_session_t* target;
  if (g == NULL) {
    c->dropped++; /* a session not announced yet, or one this server never heard of */
    return;
  }
  s = &g->sess;
  room = ev->room_len > 0 ? uvc_core_room(c->core, ev->room, ev->room_len) : NULL;
  target = ev->to.nick_len > 0 ? uvc_core_find(c->core, ev->to.nick, ev->to.nick_len) : NULL;
  uvc_core_set_origin(c->core, ev->id, ev->time_ms);
  switch (ev->type) {
    case UVC_EV_SAY:
    case UVC_EV_ACTION:
      if (room == NULL) break;
      uvc_core_set_tags(c->core, ev->tags, ev->tags_len);
      if (ev->type == UVC_EV_SAY)
        (void)uvc_core_say(c->core, s, room, ev->text, ev->len, ev->notice);
      else
        (void)uvc_core_act(c->core, s, room, ev->text, ev->len);
      break;
    case UVC_EV_TAGMSG:
      if (room != NULL)
        (void)uvc_core_tagmsg(c->core, s, room, NULL, 0, ev->tags, ev->tags_len, NULL);
      else if (target != NULL && !target->adapter->remote)
        (void)uvc_core_tagmsg(c->core, s, NULL, ev->to.nick, ev->to.nick_len, ev->tags,
                              ev->tags_len, NULL);
      break;
    case UVC_EV_PRIVATE:
      if (target == NULL || target->adapter->remote) break;
      uvc_core_set_tags(c->core, ev->tags, ev->tags_len);
      (void)uvc_core_whisper(c->core, s, ev->to.nick, ev->to.nick_len, ev->text, ev->len,
                             ev->notice, NULL);
      break;
    case UVC_EV_ARRIVE: {
      uvc_room_t* joined = NULL;
      int created = room == NULL;
      if (uvc_core_join(c->core, s, ev->room, ev->room_len, 0, &joined) == 0 && joined != NULL) {
        uvc_membership_t* m = (uvc_membership_t*)uvc_session_in(s, joined);
        if (m != NULL) m->flags = ev->mode_on;
        if (created) joined->modes = ev->mode_off & (uint8_t) ~(UVC_ROOM_KEY | UVC_ROOM_LIMIT);
      }
      break;
    }
    case UVC_EV_PART:
      if (room != NULL) (void)uvc_core_part(c->core, s, room, ev->text, ev->len);
      room_check(c, ev->room, ev->room_len);
      break;
    case UVC_EV_LEAVE:
      ghost_drop_text(c, g, ev->reason, ev->text, ev->len);
      break;
    case UVC_EV_NICK:
      make_room_for(c, ev->from.nick, ev->from.nick_len, g);
      (void)uvc_core_rename(c->core, s, ev->from.nick, ev->from.nick_len);
      UVC_DEBUG("cluster: ghost %s of server %s", s->nick, g->srv->id);
      break;
    case UVC_EV_TOPIC:
      if (room != NULL) (void)uvc_core_set_topic(c->core, s, room, ev->text, ev->len);
      break;
    case UVC_EV_KICK:
      if (room != NULL && target != NULL)
        (void)uvc_core_kick(c->core, s, room, target, ev->text, ev->len);
      room_check(c, ev->room, ev->room_len);
      break;
    case UVC_EV_MODE:
      if (room == NULL) break;
      if (ev->list != 0)
        (void)uvc_core_list_change(c->core, s, room, (uvc_room_list_kind_t)ev->list, ev->text,
                                   ev->len, ev->mode_on != 0);
      else if (ev->to.nick_len > 0 && target != NULL)
        (void)uvc_core_set_member(c->core, s, room, target,
                                  ev->mode_on ? ev->mode_on : ev->mode_off, ev->mode_on != 0);
      else if ((ev->mode_on | ev->mode_off) & UVC_ROOM_KEY)
        (void)uvc_core_set_key(c->core, s, room, ev->text, ev->mode_on ? ev->len : 0);
      else if ((ev->mode_on | ev->mode_off) & UVC_ROOM_LIMIT)
        (void)uvc_core_set_limit(c->core, s, room, ev->mode_on ? ev->limit : 0);
      else
        (void)uvc_core_set_modes(c->core, s, room, ev->mode_on, ev->mode_off);
      break;
    case UVC_EV_AWAY:
      (void)uvc_core_set_away(c->core, s, ev->text, ev->len);
      break;
    case UVC_EV_INVITE:
      if (room != NULL && target != NULL) (void)uvc_core_invite(c->core, s, room, target);
      break;
    case UVC_EV_ACCOUNT: /* logged in (the account's name) or out, on its server */
      if (ev->len > 0)
        (void)uvc_core_set_account(c->core, s, ev->text, ev->len);
      else
        uvc_core_forget_account(c->core, s);
      break;
    case UVC_EV_REALNAME:
      snprintf(g->realname, sizeof(g->realname), "%.*s", (int)ev->len, ev->text ? ev->text : "");
      uvc_core_realname_changed(c->core, s, ev->text, ev->len);
      break;
    default:
      break;
  }
  c->core->origin_id = 0; /* not used up by an event the core did not make */
}

/* Every ghost of server srv leaves with reason text. */
static void server_gone(uvc_cluster_t* c, server_rec_t* srv, const char* text) {
  ghost_t *g, *tmp;
  unsigned n = 0;
  HASH_ITER(hh, c->ghosts, g, tmp) {
    if (g->srv != srv) continue;
    ghost_drop(c, g, UVC_LEAVE_SERVER, text);
    n++;
  }
  UVC_INFO("cluster: server %s is gone (%s): %u user%s left", srv->id, text, n, n == 1 ? "" : "s");
  HASH_DEL(c->servers, srv);
  free(srv);
}

/* Answers a HELLO: every announced local session, between BEGIN and SYNC, to its server. */
static void send_snapshot(uvc_cluster_t* c, const char* to) {
  char channel[KEY_MAX];
  local_t *l, *tmp;
  uvc_wire_t w;
  snprintf(channel, sizeof(channel), "%ssrv:%s", c->prefix, to);
  wire_init(c, &w, UVC_WIRE_BEGIN, 0);
  if (encode(c, &w) == 0) publish_buf(c, channel);
  HASH_ITER(hh, c->locals, l, tmp) {
    if (!l->announced || !l->s->present) continue;
    user_wire(c, l, &w);
    if (encode(c, &w) == 0) publish_buf(c, channel);
  }
  { /* the rooms with local members: their topics and modes, then who may join them */
    uvc_room_t* room;
    for (room = uvc_core_room_next(c->core, NULL); room != NULL;
         room = uvc_core_room_next(c->core, room)) {
      uint32_t i;
      int local = 0;
      for (i = 0; i < room->n_members && !local; i++)
        local = !room->members[i]->adapter->remote;
      if (!local) continue;
      wire_init(c, &w, UVC_WIRE_ROOM, 0);
      uvc_event_set_room(&w.ev, room);
      if (room->topic != NULL) {
        w.ev.text = room->topic;
        w.ev.len = strlen(room->topic);
        w.ev.from.nick_len = (uint8_t)strlen(room->topic_by);
        memcpy(w.ev.from.nick, room->topic_by, sizeof(w.ev.from.nick));
        w.ev.time_ms = room->topic_at;
      }
      w.ev.mode_on = room->modes & UVC_ROOM_FLAG_MODES;
      if (encode(c, &w) == 0) publish_buf(c, channel);
      wire_init(c, &w, UVC_WIRE_ENTRY, 0);
      uvc_event_set_room(&w.ev, room);
      if (room->key != NULL) {
        w.ev.text = room->key;
        w.ev.len = strlen(room->key);
      }
      w.ev.limit = (room->modes & UVC_ROOM_LIMIT) ? room->limit : 0;
      w.lists[0] = uvc_room_list(room, UVC_LIST_BAN);
      w.lists[1] = uvc_room_list(room, UVC_LIST_INVITE);
      if (encode(c, &w) == 0) publish_buf(c, channel);
    }
  }
  wire_init(c, &w, UVC_WIRE_SYNC, 0);
  if (encode(c, &w) == 0) publish_buf(c, channel);
}

static void on_message(uvc_cluster_t* c, const char* data, size_t len) {
  uvc_wire_t w;
  server_rec_t* srv;
  if (uvc_wire_decode(data, len, &w) != 0) {
    c->dropped++;
    UVC_DEBUG("cluster: a malformed message (%zu bytes) ignored", len);
    return;
  }
  if (strcmp(w.server, c->id) == 0) { /* our own, back from the channel */
    c->heard_at = uv_now(c->loop);
    return;
  }
  c->received++;
  switch (w.kind) {
    case UVC_WIRE_EVENT:
      on_event(c, &w);
      break;
    case UVC_WIRE_USER:
      on_user(c, &w);
      break;
    case UVC_WIRE_HELLO:
      (void)server_of(c, w.server, 1);
      send_snapshot(c, w.server);
      break;
    case UVC_WIRE_GONE:
      if ((srv = server_of(c, w.server, 0)) != NULL) {
        char why[UVC_WIRE_SERVER_MAX + 40];
        snprintf(why, sizeof(why), "server %s stopped", srv->id);
        server_gone(c, srv, why);
      }
      break;
    case UVC_WIRE_BEGIN:
      if ((srv = server_of(c, w.server, 1)) != NULL) srv->gen++;
      break;
    case UVC_WIRE_KILL: { /* an operator of that server killed one of ours (w.uid) */
      local_t *l, *tmp;
      HASH_ITER(hh, c->locals, l, tmp) {
        if (l->uid != w.uid || !l->s->present) continue;
        UVC_INFO("cluster: %s killed from server %s: %.*s", l->s->nick, w.server, (int)w.ev.len,
                 w.ev.text != NULL ? w.ev.text : "");
        uvc_core_request_close(c->core, l->s, UVC_LEAVE_KILLED, w.ev.text, w.ev.len);
        break;
      }
      break;
    }
    case UVC_WIRE_ROOM: {
      uvc_room_t* room = uvc_core_room(c->core, w.ev.room, w.ev.room_len);
      uint32_t i;
      int local = 0;
      if (room == NULL) break; /* none of its users are there: nothing to show */
      for (i = 0; i < room->n_members && !local; i++)
        local = !room->members[i]->adapter->remote;
      /* Its modes too where nobody here could have set them. */
      uvc_core_room_learn(c->core, room, w.ev.text, w.ev.len, w.ev.from.nick, w.ev.time_ms,
                          w.ev.mode_on, !local);
      break;
    }
    case UVC_WIRE_ENTRY: { /* the key, limit, bans and invite exceptions, like its modes */
      uvc_room_t* room = uvc_core_room(c->core, w.ev.room, w.ev.room_len);
      char mask[UVC_MASK_MAX + 1], by[UVC_NICK_MAX + 1];
      int64_t at;
      uint32_t i;
      unsigned k;
      int local = 0;
      if (room == NULL) break;
      for (i = 0; i < room->n_members && !local; i++)
        local = !room->members[i]->adapter->remote;
      if (local) break; /* someone here could have changed them: this server's stand */
      uvc_core_room_learn_access(c->core, room, w.ev.text, w.ev.len, w.ev.limit);
      for (k = 0; k < 2; k++)
        while (uvc_wire_mask_next(&w.masks[k], mask, by, &at))
          (void)uvc_core_room_learn_mask(c->core, room, k == 0 ? UVC_LIST_BAN : UVC_LIST_INVITE,
                                         mask, strlen(mask), by, at);
      break;
    }
    case UVC_WIRE_SYNC:
      if ((srv = server_of(c, w.server, 0)) != NULL) {
        ghost_t *g, *tmp;
        unsigned n = 0;
        HASH_ITER(hh, c->ghosts, g, tmp) {
          if (g->srv != srv) continue;
          if (g->gen != srv->gen)
            ghost_drop(c, g, UVC_LEAVE_SERVER,
                       "left while this server was cut off from the cluster");
          else
            n++;
        }
        UVC_INFO("cluster: server %s: %u user%s", srv->id, n, n == 1 ? "" : "s");
      }
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------------------------------
 * Connections
 * ---------------------------------------------------------------------------------------- */

static void tell_all(uvc_cluster_t* c, const char* text) {
  uvc_core_announce(c->core, text, strlen(text));
}

static void on_sub_reply(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  uvc_cluster_t* c = ac->data;
  (void)priv;
  if (c == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  if (reply->element[0]->type != REDIS_REPLY_STRING) return;
  if (strcmp(reply->element[0]->str, "message") == 0 &&
      reply->element[2]->type == REDIS_REPLY_STRING) {
    const char* data = reply->element[2]->str;
    size_t len = reply->element[2]->len;
    if (uvc_wire_is_batch(data, len)) { /* several messages of one server, in order */
      const char *p = data + UVC_WIRE_BATCH_HEAD_LEN, *msg;
      size_t n;
      int more;
      while ((more = uvc_wire_batch_next(&p, data + len, &msg, &n)) == 1 && ac->data != NULL)
        on_message(c, msg, n);
      if (more < 0) {
        c->dropped++;
        UVC_DEBUG("cluster: a malformed batch (%zu bytes): its rest ignored", len);
      }
    } else {
      on_message(c, data, len);
    }
  } else if (strcmp(reply->element[0]->str, "subscribe") == 0 &&
             reply->element[1]->type == REDIS_REPLY_STRING &&
             strcmp(reply->element[1]->str, c->ch_all) == 0 && up(c)) {
    /* Listening to both our channel and the global one: ask for everyone's users. The rooms'
     * channels were asked for before, on this connection: Redis has them too now, so this is
     * when the users may be told that the cluster is back (not sooner: what another server
     * said in between would not reach them). */
    uvc_wire_t w;
    if (c->told_down) {
      tell_all(c, "the cluster is reachable again: you are with everyone on every server");
      c->told_down = 0;
    }
    wire_init(c, &w, UVC_WIRE_HELLO, 0);
    if (encode(c, &w) == 0) publish_buf(c, c->ch_all);
  }
}

/* Both connections are up: this server takes its place again. */
static void became_up(uvc_cluster_t* c) {
  local_t *l, *tmp;
  room_sub_t *rs, *rtmp;
  uvc_room_t* room;
  server_rec_t *srv, *stmp;
  c->state = UP;
  c->heard_at = uv_now(c->loop);
  uv_timer_start(&c->pulse, on_pulse, PULSE_MS, PULSE_MS);
  c->retry_ms = RETRY_FIRST_MS;
  /* After an outage the others may be reconnecting as well (Redis restarted, empty): each
   * gets a whole lease to set its key again before its absence means it is gone. */
  HASH_ITER(hh, c->servers, srv, stmp) {
    srv->checked_at = uv_now(c->loop) + c->lease_ms;
  }
  UVC_INFO("cluster: connected to Redis %s:%d as %s%s", c->url.host, c->url.port, c->id,
           c->ever_up ? " (again)" : "");
  c->ever_up = 1;
  /* Our nicks (claimed again: Redis may have forgotten them, or someone took one) and our
   * users (announced once their nick is confirmed). */
  HASH_ITER(hh, c->locals, l, tmp) {
    l->resync = l->announced; /* what it says goes out at once: the others kept its ghost */
    free(l->waiting);         /* said before the outage by one never announced: local only */
    l->waiting = NULL;
    l->waiting_len = l->waiting_cap = 0;
    l->n_waiting = 0;
    l->held[0] = '\0';
    l->pending = 0;
    if (l->s->present) claim(c, l, NULL, 0, NULL, NULL, 0);
  }
  /* The rooms with local members, then our channel and the global one (whose confirmation
   * sends HELLO). */
  HASH_ITER(hh, c->rooms, rs, rtmp) {
    HASH_DEL(c->rooms, rs);
    free(rs);
  }
  for (room = uvc_core_room_next(c->core, NULL); room != NULL;
       room = uvc_core_room_next(c->core, room))
    room_check(c, room->name, room->name_len);
  redisAsyncCommand(c->sub, on_sub_reply, NULL, "SUBSCRIBE %s %s", c->ch_mine, c->ch_all);
}

static void on_node(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  uvc_cluster_t* c = priv;
  (void)ac;
  if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) return;
  if (reply->integer < 0) {
    UVC_WARN("cluster: 256 servers hold every event-id byte; ids may repeat across servers");
    return;
  }
  if (!c->node_held || c->node != (unsigned)reply->integer) {
    c->node = (unsigned)reply->integer;
    uvc_core_set_id_node(c->core, c->node);
    UVC_DEBUG("cluster: event-id byte %u", c->node);
  }
  c->node_held = 1;
}

static void keep_alive(uvc_cluster_t* c) {
  char key[KEY_MAX], lease[24], node[8];
  snprintf(lease, sizeof(lease), "%llu", (unsigned long long)c->lease_ms);
  snprintf(key, sizeof(key), "%sserver:%s", c->prefix, c->id);
  redisAsyncCommand(c->cmd, on_ignored, NULL, "SET %s %u PX %s", key, c->node, lease);
  snprintf(node, sizeof(node), "%u", c->node);
  redisAsyncCommand(c->cmd, on_node, c, "EVAL %s 1 %s %s %s %s", kNode, c->prefix, c->id, node,
                    lease);
}

static void on_auth(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  uvc_cluster_t* c = ac->data;
  (void)priv;
  if (c != NULL && reply != NULL && reply->type == REDIS_REPLY_ERROR) {
    char why[sizeof(c->said)];
    snprintf(why, sizeof(why), "refused: %s", reply->str);
    if (strcmp(why, c->said) != 0) {
      UVC_ERROR("cluster: Redis refused us: %s; retrying", reply->str);
      memcpy(c->said, why, sizeof(why));
    }
    redisAsyncDisconnect(ac);
  }
}

/* The answer to the PING that follows AUTH and SELECT: the connection is usable (not before:
 * a refused password would make a server that comes and goes). */
static void on_ready(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  uvc_cluster_t* c = ac->data;
  (void)priv;
  if (c == NULL || reply == NULL || reply->type == REDIS_REPLY_ERROR || c->stopping) return;
  if (ac == c->cmd) {
    c->cmd_up = 1;
    keep_alive(c);
  } else if (ac == c->sub) {
    c->sub_up = 1;
  }
  if (c->cmd_up && c->sub_up && c->state != UP) {
    c->said[0] = '\0';
    became_up(c);
  }
}

/* A connection is made: authenticate and pick the database (pipelined before anything). */
static void on_connected(const redisAsyncContext* cac, int status) {
  redisAsyncContext* ac = (redisAsyncContext*)cac;
  uvc_cluster_t* c = ac->data;
  if (c == NULL) return;
  if (status != REDIS_OK) {
    if (ac == c->cmd) c->cmd = NULL; /* hiredis frees it after this */
    if (ac == c->sub) c->sub = NULL;
    go_down(c, ac->errstr);
    return;
  }
  if (c->url.password[0] != '\0') redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", c->url.password);
  if (c->url.db != 0) redisAsyncCommand(ac, on_auth, NULL, "SELECT %d", c->url.db);
  if (ac == c->sub) /* named, for the others' flow control (CLIENT LIST) */
    redisAsyncCommand(ac, on_ignored, NULL, "CLIENT SETNAME %ssub:%s", c->prefix, c->id);
  redisAsyncCommand(ac, on_ready, NULL, "PING");
}

static void close_timers(uvc_cluster_t* c);

/* Frees a connection now, whatever it is doing: its pending callbacks run with no reply
 * and find no cluster in it (ac->data), and its disconnect callback does nothing. Never
 * from inside one of its own callbacks. */
static void drop_ctx(redisAsyncContext** p) {
  redisAsyncContext* ac = *p;
  if (ac == NULL) return;
  *p = NULL;
  ac->data = NULL;
  redisAsyncFree(ac);
}

static void on_disconnected(const redisAsyncContext* cac, int status) {
  redisAsyncContext* ac = (redisAsyncContext*)cac;
  uvc_cluster_t* c = ac->data;
  (void)status;
  if (c == NULL) return;
  if (ac == c->cmd) {
    c->cmd = NULL; /* hiredis frees it after this */
    c->cmd_up = 0;
  }
  if (ac == c->sub) {
    c->sub = NULL;
    c->sub_up = 0;
  }
  go_down(c, ac->errstr[0] != '\0' ? ac->errstr : "connection closed");
}

/* A connection failed or closed: the other is dropped too, and both are made again after a
 * delay. Local users are told once. */
static void go_down(uvc_cluster_t* c, const char* why) {
  int was_up = c->state == UP;
  c->node_held = 0;
  c->ping_sent = 0;
  c->cmd_up = c->sub_up = 0;
  if (c->state != DOWN) {
    char said[sizeof(c->said)];
    c->state = DOWN;
    c->down_since = uv_now(c->loop);
    snprintf(said, sizeof(said), "%s", why != NULL ? why : "?");
    if (c->stopping) {
    } else if (!was_up && (strncmp(c->said, "refused: ", 9) == 0 || strcmp(said, c->said) == 0)) {
      UVC_DEBUG("cluster: Redis still unreachable (%s)", said); /* said once already */
    } else {
      UVC_WARN("cluster: Redis unreachable (%s)", said);
      memcpy(c->said, said, sizeof(said));
    }
  }
  if (was_up && !c->stopping && !c->told_down) {
    tell_all(c,
             "the cluster is unreachable: you can go on talking with the people on this server "
             "(what is said now reaches only them); nick changes wait until it is back");
    c->told_down = 1;
  }
  drop_ctx(&c->cmd);
  drop_ctx(&c->sub);
  /* What was published and not answered is gone with the connection; beats too. */
  batch_clear(c);
  c->backlog = 0;
  c->subs_behind = 0;
  c->listing = 0;
  uv_timer_stop(&c->pulse);
  if (c->holding) flow_check(c); /* not up: the senders go on */
  if (c->stopping) {
    close_timers(c);
    return;
  }
  schedule_connect(c, c->retry_ms);
  c->retry_ms *= 2;
  if (c->retry_ms > RETRY_MAX_MS) c->retry_ms = RETRY_MAX_MS;
  if (c->retry_ms > c->lease_ms / 3) c->retry_ms = c->lease_ms / 3;
  if (c->retry_ms < RETRY_FIRST_MS) c->retry_ms = RETRY_FIRST_MS;
}

static redisAsyncContext* connect_one(uvc_cluster_t* c) {
  redisAsyncContext* ac = redisAsyncConnect(c->url.host, c->url.port);
  if (ac == NULL) return NULL;
  if (ac->err) {
    UVC_DEBUG("cluster: cannot connect: %s", ac->errstr);
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = c;
  if (uvc_redis_attach(ac, c->loop) != REDIS_OK) {
    ac->data = NULL;
    redisAsyncFree(ac);
    return NULL;
  }
  redisAsyncSetConnectCallback(ac, on_connected);
  redisAsyncSetDisconnectCallback(ac, on_disconnected);
  return ac;
}

static void on_retry(uv_timer_t* t) {
  uvc_cluster_t* c = t->data;
  if (c->stopping) { /* the stop deadline: whatever did not close by itself is closed now */
    drop_ctx(&c->cmd);
    drop_ctx(&c->sub);
    close_timers(c);
    return;
  }
  if (c->cmd != NULL || c->sub != NULL) return;
  c->state = CONNECTING;
  c->connecting_at = uv_now(c->loop);
  c->cmd = connect_one(c);
  c->sub = c->cmd != NULL ? connect_one(c) : NULL;
  if (c->cmd == NULL || c->sub == NULL) go_down(c, "cannot make a connection");
}

/* Connects after delay ms, unless a connection is already due. */
static void schedule_connect(uvc_cluster_t* c, uint64_t delay) {
  if (c->stopping || uv_is_active((uv_handle_t*)&c->retry)) return;
  uv_timer_start(&c->retry, on_retry, delay, 0);
}

/* ------------------------------------------------------------------------------------------
 * The tick: leases, liveness of the others, lag
 * ---------------------------------------------------------------------------------------- */

static void on_pong(redisAsyncContext* ac, void* r, void* priv) {
  uvc_cluster_t* c = priv;
  (void)ac;
  if (r == NULL || c->ping_sent == 0) return;
  c->lag_s = (double)(uv_now(c->loop) - c->ping_sent) / 1000.0;
  c->ping_sent = 0;
}

typedef struct exists_req {
  uvc_cluster_t* c;
  char id[UVC_WIRE_SERVER_MAX + 1];
} exists_req_t;

static void on_exists(redisAsyncContext* ac, void* r, void* priv) {
  redisReply* reply = r;
  exists_req_t* q = priv;
  (void)ac;
  if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0 &&
      !q->c->stopping) {
    server_rec_t* srv = server_of(q->c, q->id, 0);
    if (srv != NULL) {
      char why[UVC_WIRE_SERVER_MAX + 40];
      ghost_t *g, *tmp;
      snprintf(why, sizeof(why), "server %s went away", srv->id);
      /* Its nicks are free at once (their leases would run out anyway). */
      HASH_ITER(hh, q->c->ghosts, g, tmp) {
        char key[KEY_MAX];
        if (g->srv != srv || !up(q->c)) continue;
        nick_key(q->c, key, g->sess.nick, g->sess.nick_len);
        redisAsyncCommand(q->c->cmd, on_ignored, NULL, "EVAL %s 1 %s %s", kRelease, key, srv->id);
      }
      server_gone(q->c, srv, why);
    }
  }
  free(q);
}

/* Redis's CLIENT LIST of subscribers: the other servers' output buffers (see "Flow
 * control"). */
static void on_clients(redisAsyncContext* ac, void* r, void* priv) {
  uvc_cluster_t* c = ac->data;
  redisReply* reply = r;
  char mine[KEY_MAX], prefix[KEY_MAX];
  const char* p;
  peer_sub_t *ps, *tmp;
  uint64_t now;
  size_t plen;
  (void)priv;
  if (c == NULL) return;
  c->listing = 0;
  if (reply == NULL || reply->type != REDIS_REPLY_STRING) return; /* (an error: not ours) */
  now = uv_now(c->loop);
  c->look++;
  snprintf(prefix, sizeof(prefix), "%ssub:", c->prefix);
  snprintf(mine, sizeof(mine), "%ssub:%s", c->prefix, c->id);
  plen = strlen(prefix);
  c->subs_most = 0;
  c->subs_behind = 0;
  for (p = reply->str; p != NULL && *p != '\0';) {
    const char* eol = strchr(p, '\n');
    const char* end = eol != NULL ? eol : p + strlen(p);
    const char* name = strstr(p, " name="); /* (fields: "id=5 addr=... name=N ... omem=B") */
    const char* omem = strstr(p, " omem=");
    char key[KEY_MAX];
    size_t n, bytes;
    if (name == NULL || name >= end || omem == NULL || omem >= end) {
      p = eol != NULL ? eol + 1 : NULL;
      continue;
    }
    name += 6;
    n = strcspn(name, " \n");
    bytes = (size_t)strtoull(omem + 6, NULL, 10);
    p = eol != NULL ? eol + 1 : NULL;
    if (n >= sizeof(key) || n <= plen || memcmp(name, prefix, plen) != 0) continue;
    memcpy(key, name, n);
    key[n] = '\0';
    if (strcmp(key, mine) == 0) continue;
    HASH_FIND_STR(c->subs, key, ps);
    if (ps == NULL) {
      if ((ps = calloc(1, sizeof(*ps))) == NULL) continue;
      memcpy(ps->name, key, n + 1);
      ps->drained_at = now; /* the benefit of the doubt, once */
      HASH_ADD_STR(c->subs, name, ps);
    } else if (bytes < ps->omem) {
      ps->drained_at = now;
    }
    ps->omem = bytes;
    ps->seen = c->look;
    if (bytes > c->subs_most) c->subs_most = bytes;
    if (bytes > (c->holding ? SUB_LOW : SUB_HIGH) && now - ps->drained_at < DRAIN_MS)
      c->subs_behind = 1;
  }
  HASH_ITER(hh, c->subs, ps, tmp) {
    if (ps->seen == c->look) continue;
    HASH_DEL(c->subs, ps);
    free(ps);
  }
  flow_check(c);
}

/* Every PULSE_MS while up: flow control's clock (see "Flow control"). */
static void on_pulse(uv_timer_t* t) {
  uvc_cluster_t* c = t->data;
  if (!up(c)) return;
  if (c->backlog > BACKLOG_MAX) {
    go_down(c, "Redis took nothing of the last 16 MiB this server published");
    return;
  }
  /* How far behind the others' subscribers are, while messages come (or one was behind). */
  if (!c->listing && (c->received != c->pulse_received || c->published != c->pulse_published ||
                      c->subs_most > 0)) {
    if (redisAsyncCommand(c->cmd, on_clients, NULL, "CLIENT LIST TYPE pubsub") == REDIS_OK)
      c->listing = 1;
  }
  c->pulse_published = c->published;
  c->pulse_received = c->received;
  if (c->holding) flow_check(c); /* a wait that ran out, a stalled Redis */
}

static void on_tick(uv_timer_t* t) {
  uvc_cluster_t* c = t->data;
  server_rec_t *srv, *tmp;
  uvc_wire_t w;
  if (c->state == CONNECTING && !c->stopping && uv_now(c->loop) - c->connecting_at > c->lease_ms) {
    go_down(c, "no answer to connecting within a lease");
    return;
  }
  if (!up(c)) return;
  /* A subscriber that stopped hearing (a connection dead without a reset) is made again:
   * it hears our own beat, published on our channel every tick. */
  if (uv_now(c->loop) - c->heard_at > c->lease_ms) {
    go_down(c, "the subscriber heard nothing for a whole lease");
    return;
  }
  wire_init(c, &w, UVC_WIRE_BEAT, 0);
  if (encode(c, &w) == 0) {
    redisAsyncCommand(c->cmd, on_ignored, NULL, "PUBLISH %s %b", c->ch_mine, c->buf, c->buf_len);
  }
  keep_alive(c);
  renew_nicks(c);
  if (c->ping_sent == 0) {
    c->ping_sent = uv_now(c->loop);
    redisAsyncCommand(c->cmd, on_pong, c, "PING");
  } else if (uv_now(c->loop) - c->ping_sent > c->lease_ms) {
    go_down(c, "Redis has not answered for a whole lease");
    return;
  }
  {
    room_sub_t *rs, *rtmp; /* rooms whose last local member left since */
    HASH_ITER(hh, c->rooms, rs, rtmp) {
      char name[UVC_ROOM_MAX + 1];
      memcpy(name, rs->name, sizeof(name));
      room_check(c, name, strlen(name));
    }
  }
  HASH_ITER(hh, c->servers, srv, tmp) {
    char key[KEY_MAX];
    exists_req_t* q;
    if (uv_now(c->loop) < srv->checked_at) continue; /* just back: it may be reconnecting too */
    if ((q = malloc(sizeof(*q))) == NULL) continue;
    q->c = c;
    memcpy(q->id, srv->id, sizeof(q->id));
    snprintf(key, sizeof(key), "%sserver:%s", c->prefix, srv->id);
    if (redisAsyncCommand(c->cmd, on_exists, q, "EXISTS %s", key) != REDIS_OK) free(q);
  }
}

/* ------------------------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------------------------- */

int uvc_cluster_open(uvc_cluster_t** out, uv_loop_t* loop, uvc_core_t* core,
                     const uvc_cluster_options_t* o, char* err, size_t errlen) {
  uvc_cluster_t* c = calloc(1, sizeof(*c));
  unsigned char rnd[4] = {0, 0, 0, 0};
  *out = NULL;
  if (c == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (uvc_cluster_parse_url(o->url, &c->url, err, errlen) != 0) {
    free(c);
    return -1;
  }
  (void)uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL);
  if (o->name != NULL)
    snprintf(c->id, sizeof(c->id), "%s", o->name);
  else
    snprintf(c->id, sizeof(c->id), "%s-%02x%02x%02x%02x", o->server_name, rnd[0], rnd[1], rnd[2],
             rnd[3]);
  c->loop = loop;
  c->core = core;
  c->lease_ms = o->lease_ms;
  c->node = rnd[0];
  c->retry_ms = RETRY_FIRST_MS;
  snprintf(c->prefix, sizeof(c->prefix), "uvchat:%d:", c->url.db);
  snprintf(c->ch_all, sizeof(c->ch_all), "%sall", c->prefix);
  snprintf(c->ch_mine, sizeof(c->ch_mine), "%ssrv:%s", c->prefix, c->id);
  uv_timer_init(loop, &c->tick);
  uv_timer_init(loop, &c->retry);
  uv_timer_init(loop, &c->pulse);
  uv_check_init(loop, &c->batch_check);
  uv_idle_init(loop, &c->batch_idle);
  c->tick.data = c->retry.data = c->pulse.data = c->batch_check.data = c->batch_idle.data = c;
  c->open_timers = 5;
  uv_timer_start(&c->tick, on_tick, c->lease_ms / 3, c->lease_ms / 3);
  /* Guest nicks start apart on each server, so that two of them seldom race for one. */
  core->guest_seq = (uint32_t)rnd[1] * 100u;
  uvc_core_set_id_node(core, c->node);
  core->cluster = &kOps;
  core->cluster_ud = c;
  UVC_INFO("cluster: this server is %s; connecting to Redis %s:%d (db %d, lease %.1f s)", c->id,
           c->url.host, c->url.port, c->url.db, (double)c->lease_ms / 1000.0);
  schedule_connect(c, 0);
  *out = c;
  return 0;
}

static void on_timer_closed(uv_handle_t* h) {
  uvc_cluster_t* c = h->data;
  c->open_timers--;
}

static void close_timers(uvc_cluster_t* c) {
  if (c->closed) return;
  c->closed = 1;
  uv_close((uv_handle_t*)&c->tick, on_timer_closed);
  uv_close((uv_handle_t*)&c->retry, on_timer_closed);
  uv_close((uv_handle_t*)&c->pulse, on_timer_closed);
  uv_close((uv_handle_t*)&c->batch_check, on_timer_closed);
  uv_close((uv_handle_t*)&c->batch_idle, on_timer_closed);
}

void uvc_cluster_stop(uvc_cluster_t* c) {
  ghost_t *g, *gtmp;
  local_t *l, *ltmp;
  int was_up;
  if (c == NULL || c->stopping) return;
  was_up = up(c);
  /* Ghosts leave silently (the core is stopping): nobody here is left to tell. */
  HASH_ITER(hh, c->ghosts, g, gtmp) {
    uvc_core_leave(c->core, &g->sess, UVC_LEAVE_SHUTDOWN, NULL, 0);
    uvc_core_forget(c->core, &g->sess);
    HASH_DEL(c->ghosts, g);
    free(g);
  }
  if (was_up) {
    char key[KEY_MAX];
    uvc_wire_t w;
    wire_init(c, &w, UVC_WIRE_GONE, 0);
    if (encode(c, &w) == 0) publish_buf(c, c->ch_all);
    HASH_ITER(hh, c->locals, l, ltmp) {
      if (l->held[0] != '\0') release(c, l->held, strlen(l->held));
    }
    snprintf(key, sizeof(key), "%sserver:%s", c->prefix, c->id);
    redisAsyncCommand(c->cmd, on_ignored, NULL, "DEL %s", key);
    snprintf(key, sizeof(key), "%snode:%u", c->prefix, c->node);
    redisAsyncCommand(c->cmd, on_ignored, NULL, "EVAL %s 1 %s %s", kRelease, key, c->id);
  }
  batch_flush(c); /* what waits, GONE last, before stopping makes publishing end */
  c->stopping = 1;
  if (c->holding) { /* whoever is held goes on to be closed */
    c->holding = 0;
    uvc_core_backlog(c->core, 0);
  }
  c->core->cluster = NULL;
  UVC_INFO("cluster: leaving (%s)", was_up ? "the others are told" : "Redis unreachable");
  uv_timer_stop(&c->tick);
  uv_timer_stop(&c->pulse);
  /* The command connection goes once its answers are in; the subscriber at once. */
  drop_ctx(&c->sub);
  if (c->cmd != NULL && was_up)
    redisAsyncDisconnect(c->cmd); /* on_disconnected closes the timers */
  else
    drop_ctx(&c->cmd);
  if (c->cmd == NULL) {
    close_timers(c);
  } else {
    uv_timer_stop(&c->retry);
    uv_timer_start(&c->retry, on_retry, STOP_GRACE_MS, 0); /* the deadline */
  }
}

void uvc_cluster_free(uvc_cluster_t* c) {
  local_t *l, *ltmp;
  server_rec_t *s, *stmp;
  room_sub_t *r, *rtmp;
  if (c == NULL) return;
  HASH_ITER(hh, c->locals, l, ltmp) {
    HASH_DEL(c->locals, l);
    free(l->waiting);
    free(l);
  }
  HASH_ITER(hh, c->servers, s, stmp) {
    HASH_DEL(c->servers, s);
    free(s);
  }
  HASH_ITER(hh, c->rooms, r, rtmp) {
    HASH_DEL(c->rooms, r);
    free(r);
  }
  {
    peer_sub_t *ps, *ptmp;
    HASH_ITER(hh, c->subs, ps, ptmp) {
      HASH_DEL(c->subs, ps);
      free(ps);
    }
  }
  free(c->buf);
  free(c->batch);
  free(c);
}

void uvc_cluster_metrics(uvc_cluster_t* c, uvc_metrics_buf_t* b) {
  uvc_metrics_head(b, "uvchat_cluster_connected", "gauge",
                   "1 while this server is connected to the cluster's Redis.");
  uvc_metrics_printf(b, "uvchat_cluster_connected %d\n", up(c) ? 1 : 0);
  uvc_metrics_head(b, "uvchat_cluster_lag_seconds", "gauge",
                   "The last PING round trip to the cluster's Redis.");
  uvc_metrics_printf(b, "uvchat_cluster_lag_seconds %.6f\n", c->lag_s);
  uvc_metrics_head(b, "uvchat_cluster_published_total", "counter",
                   "Messages this server published to the cluster.");
  uvc_metrics_printf(b, "uvchat_cluster_published_total %llu\n", (unsigned long long)c->published);
  uvc_metrics_head(b, "uvchat_cluster_received_total", "counter",
                   "Messages this server received from the other servers.");
  uvc_metrics_printf(b, "uvchat_cluster_received_total %llu\n", (unsigned long long)c->received);
  uvc_metrics_head(b, "uvchat_cluster_backlog_bytes", "gauge",
                   "Bytes this server published that Redis has not answered yet.");
  uvc_metrics_printf(b, "uvchat_cluster_backlog_bytes %zu\n", c->backlog);
  uvc_metrics_head(b, "uvchat_cluster_peer_backlog_bytes", "gauge",
                   "The most Redis held for another server's subscriber at the last look.");
  uvc_metrics_printf(b, "uvchat_cluster_peer_backlog_bytes %zu\n", c->subs_most);
  uvc_metrics_head(b, "uvchat_cluster_holding", "gauge",
                   "1 while local senders are held back for the cluster.");
  uvc_metrics_printf(b, "uvchat_cluster_holding %d\n", c->holding ? 1 : 0);
  uvc_metrics_head(b, "uvchat_cluster_holds_total", "counter",
                   "Times local senders were held back for the cluster (a Redis backlog, or "
                   "another server behind).");
  uvc_metrics_printf(b, "uvchat_cluster_holds_total %llu\n", (unsigned long long)c->holds);
  uvc_metrics_head(b, "uvchat_cluster_publish_dropped_total", "counter",
                   "Messages not published: Redis had not answered 16 MiB of them.");
  uvc_metrics_printf(b, "uvchat_cluster_publish_dropped_total %llu\n",
                     (unsigned long long)c->publish_dropped);
  uvc_metrics_head(b, "uvchat_cluster_servers", "gauge", "Other servers of the cluster seen.");
  uvc_metrics_printf(b, "uvchat_cluster_servers %u\n", (unsigned)HASH_COUNT(c->servers));
  uvc_metrics_head(b, "uvchat_cluster_remote_users", "gauge",
                   "Users of the other servers, as known here.");
  uvc_metrics_printf(b, "uvchat_cluster_remote_users %u\n", (unsigned)HASH_COUNT(c->ghosts));
}
