/* core.c: sessions, nicks, rooms, and the fan-out of events to the people concerned.
 *
 * The fan-out is the hot path of the whole server: for a room message it walks the room's
 * member array once, renders the event at most once per wire format, and hands each member
 * a reference to the shared message. Nothing here allocates per recipient.
 */

/* uthash: recover from a failed allocation instead of exiting. */
#define HASH_NONFATAL_OOM 1
static int g_hash_oom;
#define uthash_nonfatal_oom(obj) (g_hash_oom = 1)

#include "uvchat/core.h"

#include <uthash.h>

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"

/* Nicks and room names compare ignoring ASCII case. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) \
  ((hashv) = uvc_name_hash((const char*)(keyptr), (size_t)(keylen)))
#undef HASH_KEYCMP
#define HASH_KEYCMP(a, b, n) (uvc_name_eq((const char*)(a), (n), (const char*)(b), (n)) ? 0 : 1)

const char* uvc_strerror(int err) {
  switch (err) {
#define X(name, code, text) \
  case code:                \
    return text;
    UVC_ERRNO_MAP(X)
#undef X
    case 0:
      return "success";
    default:
      return "unknown error";
  }
}

/* ------------------------------------------------------------------------------------------
 * Getters: what other modules may know of the core
 * ---------------------------------------------------------------------------------------- */

const char* uvc_core_server_name(const uvc_core_t* core) {
  return core->server_name;
}
uvc_room_t* uvc_core_lobby(const uvc_core_t* core) {
  return core->lobby;
}
const char* uvc_core_autojoin(const uvc_core_t* core) {
  return core->autojoin;
}
const char* uvc_core_motd(const uvc_core_t* core) {
  return core->motd;
}
int64_t uvc_core_started(const uvc_core_t* core) {
  return core->started;
}
uint32_t uvc_core_present_count(const uvc_core_t* core) {
  return core->n_present;
}
uint32_t uvc_core_max_present(const uvc_core_t* core) {
  return core->max_present;
}
uint32_t uvc_core_announce_limit(const uvc_core_t* core) {
  return core->announce_limit;
}
uint32_t uvc_core_max_line(const uvc_core_t* core) {
  return core->max_line;
}
uint16_t uvc_core_irc_tls_port(const uvc_core_t* core) {
  return core->irc_tls_port;
}
uint32_t uvc_core_sts_duration(const uvc_core_t* core) {
  return core->sts_duration;
}
int uvc_core_has_password(const uvc_core_t* core) {
  return core->password != NULL;
}
int uvc_core_has_accounts(const uvc_core_t* core) {
  return core->auth != NULL;
}
int uvc_core_has_history(const uvc_core_t* core) {
  return core->history != NULL;
}
uint32_t uvc_core_history_join(const uvc_core_t* core) {
  return core->history != NULL ? core->history_join : 0;
}
uint32_t uvc_core_history_irc(const uvc_core_t* core) {
  return core->history != NULL ? core->history_irc : 0;
}
static int64_t now_ms(uvc_core_t* core);
int64_t uvc_core_now_ms(uvc_core_t* core) {
  return now_ms(core);
}
char* uvc_core_scratch(uvc_core_t* core) {
  return core->scratch;
}
void uvc_core_last_event(const uvc_core_t* core, uint64_t* id, int64_t* time_ms) {
  *id = core->last_id;
  *time_ms = core->last_time_ms;
}

/* ------------------------------------------------------------------------------------------
 * Rendering once per wire format
 * ---------------------------------------------------------------------------------------- */

/* The renderings of one event, by render slot (format + UVC_FORMATS * variant). A slot's
 * message is valid only once its bit in done is set, so that making a cache costs one word
 * however many slots there are. */
typedef struct {
  uint64_t done;
  uvc_msg_t* m[UVC_FORMATS * UVC_VARIANTS];
} render_cache_t;

/* Renders ev for s in its slot's variant (the cold part of deliver). */
static uvc_msg_t* render_slot(const uvc_core_t* core, const uvc_event_t* ev, const uvc_session_t* s,
                              unsigned k) {
  const uvc_adapter_t* a = s->adapter;
  unsigned v = k / UVC_FORMATS;
  uvc_render_ctx_t ctx;
  ctx.server_name = core->server_name;
  ctx.server_len = core->server_len;
  ctx.flags = v == UVC_VARIANT_OWN ? 0 : core->variant_flags[k];
  if (v == 0 || a->render_variant == NULL) return a->render(ev, &ctx);
  return a->render_variant(ev, &ctx, s, v);
}

uvc_msg_t* uvc_core_render(uvc_core_t* core, const uvc_event_t* ev, const uvc_session_t* s) {
  return render_slot(core, ev, s, s->slot);
}

void uvc_core_render_ctx(const uvc_core_t* core, uvc_render_ctx_t* ctx) {
  ctx->server_name = core->server_name;
  ctx->server_len = core->server_len;
  ctx->flags = 0;
}

unsigned uvc_core_variant(uvc_core_t* core, unsigned format, unsigned flags, unsigned old) {
  unsigned v, free_v = 0;
  assert(format < UVC_FORMATS);
  if (old != 0 && old != UVC_VARIANT_OWN) {
    assert(core->variant_users[format + UVC_FORMATS * old] > 0);
    core->variant_users[format + UVC_FORMATS * old]--;
  }
  if (flags == 0) return 0;
  for (v = 1; v < UVC_VARIANT_OWN; v++) {
    unsigned k = format + UVC_FORMATS * v;
    if (core->variant_users[k] > 0 && core->variant_flags[k] == flags) break;
    if (core->variant_users[k] == 0 && free_v == 0) free_v = v;
  }
  if (v == UVC_VARIANT_OWN && free_v != 0) v = free_v;
  if (v != UVC_VARIANT_OWN) {
    core->variant_flags[format + UVC_FORMATS * v] = (uint32_t)flags;
    core->variant_users[format + UVC_FORMATS * v]++;
  }
  return v;
}

#if defined(__GNUC__)
#define HOT_INLINE static inline __attribute__((always_inline))
#define COLD       static __attribute__((noinline, cold))
#else
#define HOT_INLINE static inline
#define COLD       static
#endif

/* The first recipient in slot k: renders ev for it (kept in rc for the others of the slot,
 * unless the rendering is for s alone) and hands it over. */
COLD void deliver_first(uvc_core_t* core, render_cache_t* rc, const uvc_event_t* ev,
                        uvc_session_t* s, unsigned k) {
  uvc_msg_t* m = render_slot(core, ev, s, k);
  if (k / UVC_FORMATS == UVC_VARIANT_OWN) { /* for s alone: never shared */
    if (m != NULL) {
      core->hooks.deliver(core->ud, s, m);
      uvc_msg_release(m);
    }
    return;
  }
  rc->m[k] = m;
  rc->done |= (uint64_t)1 << k;
  if (m != NULL) core->hooks.deliver(core->ud, s, m);
}

/* Hands ev, rendered in s's slot (rendering it on first use), to s. The hot path of every
 * fan-out: one bit test and the hook, inline in each fan-out loop. */
HOT_INLINE void deliver(uvc_core_t* core, render_cache_t* rc, const uvc_event_t* ev,
                        uvc_session_t* s) {
  unsigned k = s->slot;
  if (!(rc->done & ((uint64_t)1 << k)))
    deliver_first(core, rc, ev, s, k);
  else if (rc->m[k] != NULL)
    core->hooks.deliver(core->ud, s, rc->m[k]);
}

static void render_cache_free(render_cache_t* rc) {
  uint64_t done = rc->done;
  unsigned k;
  for (k = 0; done != 0; k++, done >>= 1)
    if ((done & 1) && rc->m[k] != NULL) uvc_msg_release(rc->m[k]);
}

/* The wall clock in milliseconds. */
static int64_t now_ms(uvc_core_t* core) {
  if (core->hooks.wallclock_ms != NULL) return core->hooks.wallclock_ms(core->ud);
  return uvc_core_now(core) * 1000;
}

/* Copies the NUL-terminated s (or "" for NULL) into out[0..cap), cut to fit; its length. */
static size_t copy_str(char* out, size_t cap, const char* s) {
  size_t n = s != NULL ? strlen(s) : 0;
  if (n >= cap) n = cap - 1;
  memcpy(out, s != NULL ? s : "", n);
  out[n] = '\0';
  return n;
}

void uvc_event_who_of(const uvc_core_t* core, const uvc_session_t* s, uvc_event_who_t* who) {
  const char* account = uvc_session_account(s);
  /* Fixed-size copies of whole buffers (both NUL-terminated within): a few moves each. */
  who->adapter = s->adapter;
  who->nick_len = s->nick_len;
  memcpy(who->nick, s->nick, sizeof(who->nick));
  who->user_len = (uint8_t)copy_str(who->user, sizeof(who->user), s->user);
  who->host_len = core->host_len;
  memcpy(who->host, core->host, sizeof(who->host));
  if (account != NULL)
    copy_str(who->account, sizeof(who->account), account);
  else
    who->account[0] = '\0';
}

void uvc_event_set_room(uvc_event_t* ev, const uvc_room_t* room) {
  ev->room_len = room->name_len;
  ev->room_modes = room->modes;
  memcpy(ev->room, room->name, sizeof(ev->room));
}

/* An event of type from `from` (NULL: the server), with optional text; every other field
 * empty but its id and time, which every rendering of it shares. Copies the sender (a nick,
 * a user and a host: a few dozen bytes per event, not per recipient). */
static void event_init(uvc_core_t* core, uvc_event_t* ev, uvc_event_type_t type,
                       const uvc_session_t* from, const char* text, size_t len) {
  memset(ev, 0, offsetof(uvc_event_t, from));
  ev->type = type;
  ev->text = text;
  ev->len = len;
  if (core->origin_id != 0) { /* another server's event, applied here */
    ev->id = core->origin_id;
    ev->time_ms = core->origin_ms;
    core->origin_id = 0;
  } else {
    ev->id = core->last_id = core->next_id;
    core->next_id += core->id_step;
    ev->time_ms = core->last_time_ms = now_ms(core);
  }
  if (from != NULL) {
    uvc_event_who_of(core, from, &ev->from);
  } else {
    ev->from.adapter = NULL;
    ev->from.nick_len = ev->from.user_len = ev->from.host_len = 0;
    ev->from.nick[0] = ev->from.user[0] = ev->from.host[0] = ev->from.account[0] = '\0';
  }
  ev->to.adapter = NULL;
  ev->to.nick_len = ev->to.user_len = ev->to.host_len = 0;
  ev->to.nick[0] = ev->to.user[0] = ev->to.host[0] = ev->to.account[0] = '\0';
  ev->room[0] = ev->old_nick[0] = ev->realname[0] = '\0';
}

void uvc_core_set_origin(uvc_core_t* core, uint64_t id, int64_t time_ms) {
  core->origin_id = id;
  core->origin_ms = time_ms;
}

void uvc_core_set_id_node(uvc_core_t* core, unsigned node) {
  core->next_id = ((core->next_id + 256) & ~(uint64_t)255) | (node & 255u);
  core->id_step = 256;
}

/* Tells the cluster of ev, made by s, when s is a local session (a ghost's events came from
 * the cluster: they are never published again). */
static void publish(uvc_core_t* core, uvc_session_t* s, const uvc_event_t* ev,
                    const uvc_session_t* target) {
  if (core->cluster != NULL && !s->adapter->remote)
    core->cluster->event(core->cluster_ud, s, ev, target);
}

/* Whether the history keeps events of s (a ghost's were kept by its own server). */
static int keeps(const uvc_core_t* core, const uvc_session_t* s) {
  return core->history != NULL && !s->adapter->remote;
}

/* s arrived in room: the event, with s's real name where its format has one. */
static void arrive_init(uvc_core_t* core, uvc_event_t* ev, const uvc_session_t* s,
                        const uvc_room_t* room) {
  const char* real = s->adapter->realname != NULL ? s->adapter->realname(s) : NULL;
  event_init(core, ev, UVC_EV_ARRIVE, s, NULL, 0);
  uvc_event_set_room(ev, room);
  if (real != NULL) {
    copy_str(ev->realname, sizeof(ev->realname), real);
    ev->has_realname = 1;
  }
}

/* One event to one recipient. */
static void deliver_one(uvc_core_t* core, const uvc_event_t* ev, uvc_session_t* s) {
  render_cache_t rc;
  rc.done = 0;
  deliver(core, &rc, ev, s);
  render_cache_free(&rc);
  core->delivered++;
}

/* Everyone in room but skip. */
static void fanout_room(uvc_core_t* core, uvc_room_t* room, const uvc_event_t* ev,
                        const uvc_session_t* skip) {
  render_cache_t rc;
  uvc_session_t** v = room->members;
  uint32_t i, n = room->n_members;
  rc.done = 0;
  for (i = 0; i < n; i++)
    if (v[i] != skip) deliver(core, &rc, ev, v[i]);
  render_cache_free(&rc);
  core->delivered += n - (skip != NULL && n > 0);
}

static void clear_mark(uvc_session_t* s, void* arg) {
  (void)arg;
  s->mark = 0;
}

/* A fresh epoch for marking recipients; on wrap-around every mark is cleared first. */
static uint32_t next_epoch(uvc_core_t* core) {
  if (++core->epoch == 0) {
    uvc_core_each(core, clear_mark, NULL);
    core->epoch = 1;
  }
  return core->epoch;
}

/* Whether comings and goings in room are announced (rooms past --announce-limit are too
 * big for that: 10,000 arrivals would be 50 million notices). */
static int announces(const uvc_core_t* core, const uvc_room_t* room) {
  return core->announce_limit == 0 || room->n_members <= core->announce_limit;
}

/* A presence event (arrival, departure) for room: to everyone but skip where the room
 * announces such things, else only to the one concerned (when it is not skip). */
static void fanout_presence(uvc_core_t* core, uvc_room_t* room, const uvc_event_t* ev,
                            uvc_session_t* self, const uvc_session_t* skip) {
  if (announces(core, room) && !self->unseen)
    fanout_room(core, room, ev, skip);
  else if (self != skip)
    deliver_one(core, ev, self);
}

/* Everyone who shares an announcing room with s, each once; s itself too when with_self. */
static void fanout_peers(uvc_core_t* core, uvc_session_t* s, const uvc_event_t* ev, int with_self) {
  render_cache_t rc;
  uint32_t epoch = next_epoch(core);
  unsigned r;
  rc.done = 0;
  s->mark = epoch;
  if (with_self) deliver(core, &rc, ev, s);
  for (r = 0; r < s->n_rooms && !s->unseen; r++) { /* nobody knows of the unseen */
    uvc_room_t* room = uvc_session_membership(s, r)->room;
    uint32_t i;
    if (!announces(core, room)) continue;
    for (i = 0; i < room->n_members; i++) {
      uvc_session_t* m = room->members[i];
      if (m->mark == epoch) continue;
      m->mark = epoch;
      deliver(core, &rc, ev, m);
    }
  }
  render_cache_free(&rc);
}

/* ------------------------------------------------------------------------------------------
 * Rooms and membership
 * ---------------------------------------------------------------------------------------- */

int64_t uvc_core_now(uvc_core_t* core) {
  return core->hooks.wallclock != NULL ? core->hooks.wallclock(core->ud) : 0;
}

/* A room in the core's table: the room, then the table's handle, which nobody outside
 * core.c sees (core.h does not include uthash). */
struct uvc_room_entry {
  uvc_room_t room; /* first: a room's address is its entry's */
  UT_hash_handle hh;
};
typedef struct uvc_room_entry room_entry_t;

static room_entry_t* entry_of(const uvc_room_t* room) {
  return (room_entry_t*)(void*)room;
}

static uvc_room_t* room_create(uvc_core_t* core, const char* name, size_t len) {
  room_entry_t* e;
  if (len == 0 || len > UVC_ROOM_MAX) return NULL;
  e = calloc(1, sizeof(*e));
  if (e == NULL) return NULL;
  memcpy(e->room.name, name, len);
  e->room.name_len = (uint8_t)len;
  e->room.created = uvc_core_now(core);
  e->room.since_id = core->next_id;
  g_hash_oom = 0;
  HASH_ADD_KEYPTR(hh, core->rooms, e->room.name, e->room.name_len, e);
  if (g_hash_oom) {
    free(e);
    return NULL;
  }
  return &e->room;
}

unsigned uvc_core_room_count(const uvc_core_t* core) {
  return (unsigned)HASH_COUNT(core->rooms);
}

uvc_room_t* uvc_core_room_next(const uvc_core_t* core, const uvc_room_t* prev) {
  room_entry_t* e = prev == NULL ? core->rooms : (room_entry_t*)entry_of(prev)->hh.next;
  return e != NULL ? &e->room : NULL;
}

static void list_free(uvc_mask_list_t* l) {
  uint16_t i;
  for (i = 0; i < l->n; i++)
    free(l->v[i].mask);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

static void room_destroy(uvc_core_t* core, uvc_room_t* room) {
  room_entry_t* e = entry_of(room);
  HASH_DEL(core->rooms, e);
  free(room->members);
  free(room->topic);
  free(room->key);
  list_free(&room->bans);
  list_free(&room->invex);
  free(e);
}

uvc_room_t* uvc_core_room(uvc_core_t* core, const char* name, size_t len) {
  room_entry_t* e = NULL;
  if (len == 0 || len > UVC_ROOM_MAX) return NULL;
  HASH_FIND(hh, core->rooms, name, len, e);
  return e != NULL ? &e->room : NULL;
}

/* s's extras, allocated on first need; NULL when out of memory. */
static uvc_session_extra_t* extra(uvc_session_t* s) {
  if (s->x == NULL) s->x = calloc(1, sizeof(*s->x));
  return s->x;
}

/* Frees s's extras (its memberships past the first must be gone). */
static void free_extra(uvc_session_t* s) {
  if (s->x == NULL) return;
  free(s->x->more);
  free(s->x->away);
  free(s->x->account);
  free(s->x->watching);
  free(s->x->invites);
  free(s->x);
  s->x = NULL;
}

/* Replaces the account s is logged in to (NULL: none). Returns 0 or UVC_ENOMEM. */
static int set_account(uvc_session_t* s, const char* name, size_t len) {
  char* account = NULL;
  if (name != NULL) {
    if (extra(s) == NULL || (account = malloc(len + 1)) == NULL) return UVC_ENOMEM;
    memcpy(account, name, len);
    account[len] = '\0';
  }
  if (s->x != NULL) {
    free(s->x->account);
    s->x->account = account;
  }
  return 0;
}

/* Adds s to room's members and room to s's memberships. */
static int room_add(uvc_room_t* room, uvc_session_t* s, uint32_t flags) {
  uvc_membership_t* m;
  if (room->n_members == room->cap_members) {
    uint32_t cap = room->cap_members ? room->cap_members * 2 : 8;
    uvc_session_t** v = realloc(room->members, cap * sizeof(*v));
    if (v == NULL) return UVC_ENOMEM;
    room->members = v;
    room->cap_members = cap;
  }
  if (s->n_rooms > 0 && (extra(s) == NULL || s->n_rooms - 1u == s->x->cap_more)) {
    uint16_t cap;
    uvc_membership_t* v;
    if (s->x == NULL) return UVC_ENOMEM;
    cap = s->x->cap_more ? (uint16_t)(s->x->cap_more * 2) : 2;
    if ((v = realloc(s->x->more, cap * sizeof(*v))) == NULL) return UVC_ENOMEM;
    s->x->more = v;
    s->x->cap_more = cap;
  }
  m = uvc_session_membership(s, s->n_rooms++);
  m->room = room;
  m->idx = room->n_members;
  m->flags = flags;
  room->members[room->n_members++] = s;
  return 0;
}

/* The index of s's membership of room, or -1. */
static int membership_index(const uvc_session_t* s, const uvc_room_t* room) {
  unsigned r;
  for (r = 0; r < s->n_rooms; r++)
    if (uvc_session_membership_c(s, r)->room == room) return (int)r;
  return -1;
}

const uvc_membership_t* uvc_session_in(const uvc_session_t* s, const uvc_room_t* room) {
  int r = membership_index(s, room);
  return r < 0 ? NULL : uvc_session_membership_c(s, (unsigned)r);
}

int uvc_session_is_op(const uvc_session_t* s, const uvc_room_t* room) {
  const uvc_membership_t* m = uvc_session_in(s, room);
  return m != NULL && (m->flags & UVC_MEMBER_OP) != 0;
}

int uvc_room_visible(const uvc_room_t* room, const uvc_session_t* viewer) {
  return !(room->modes & UVC_ROOM_SECRET) ||
         (viewer != NULL && membership_index(viewer, room) >= 0);
}

/* Removes s's r-th membership; destroys the room when it empties (unless permanent). */
static void room_remove_at(uvc_core_t* core, uvc_session_t* s, unsigned r) {
  uvc_membership_t* m = uvc_session_membership(s, r);
  uvc_room_t* room = m->room;
  uint32_t idx = m->idx;
  uvc_session_t* last = room->members[room->n_members - 1];
  room->members[idx] = last;
  if (last != s) uvc_session_membership(last, (unsigned)membership_index(last, room))->idx = idx;
  room->n_members--;
  if (r != s->n_rooms - 1u) *m = *uvc_session_membership(s, s->n_rooms - 1u);
  s->n_rooms--;
  if (room->n_members == 0 && !room->permanent) room_destroy(core, room);
}

/* ------------------------------------------------------------------------------------------
 * Registered names: a set, ignoring ASCII case
 * ---------------------------------------------------------------------------------------- */

struct uvc_registered {
  UT_hash_handle hh;
  uint8_t len;
  char name[]; /* NUL-terminated */
};

/* The entry for name, or NULL. */
static uvc_registered_t* registered_find(const uvc_core_t* core, const char* name, size_t len) {
  uvc_registered_t* e = NULL;
  if (len == 0 || len > UVC_NICK_MAX) return NULL;
  HASH_FIND(hh, core->registered, name, len, e);
  return e;
}

/* Frees every registered name. */
static void registered_clear(uvc_core_t* core) {
  uvc_registered_t *e, *tmp;
  HASH_ITER(hh, core->registered, e, tmp) {
    HASH_DEL(core->registered, e);
    free(e);
  }
  core->n_registered = 0;
}

int uvc_core_add_registered(uvc_core_t* core, const char* name, size_t len) {
  uvc_registered_t* e;
  if (len == 0 || len > UVC_NICK_MAX) return UVC_ENICK_INVALID;
  if (registered_find(core, name, len) != NULL) return 0;
  e = malloc(sizeof(*e) + len + 1);
  if (e == NULL) return UVC_ENOMEM;
  memcpy(e->name, name, len);
  e->name[len] = '\0';
  e->len = (uint8_t)len;
  g_hash_oom = 0;
  HASH_ADD_KEYPTR(hh, core->registered, e->name, e->len, e);
  if (g_hash_oom) {
    free(e);
    return UVC_ENOMEM;
  }
  core->n_registered++;
  return 0;
}

void uvc_core_remove_registered(uvc_core_t* core, const char* name, size_t len) {
  uvc_registered_t* e = registered_find(core, name, len);
  if (e == NULL) return;
  HASH_DEL(core->registered, e);
  free(e);
  core->n_registered--;
}

void uvc_core_each_registered(const uvc_core_t* core,
                              void (*fn)(const char* name, size_t len, void* arg), void* arg) {
  const uvc_registered_t *e, *tmp;
  HASH_ITER(hh, core->registered, e, tmp) {
    fn(e->name, e->len, arg);
  }
}

const char* uvc_core_registered(const uvc_core_t* core, const char* name, size_t len) {
  const uvc_registered_t* e = registered_find(core, name, len);
  return e != NULL ? e->name : NULL;
}

int uvc_core_reserved(const char* nick, size_t len) {
  return uvc_name_eq(nick, len, "NickServ", 8);
}

int uvc_session_logged_in_as(const uvc_session_t* s, const char* name, size_t len) {
  const char* account = uvc_session_account(s);
  return account != NULL && uvc_name_eq(account, strlen(account), name, len);
}

int uvc_core_may_use(const uvc_core_t* core, const uvc_session_t* s, const char* nick, size_t len) {
  if (s->adapter->remote) return 0; /* its own server checked */
  if (uvc_core_reserved(nick, len)) return UVC_ENICK_RESERVED;
  if (registered_find(core, nick, len) != NULL && !uvc_session_logged_in_as(s, nick, len))
    return UVC_ENICK_REGISTERED;
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Watched nicks (MONITOR): for each nick someone watches, who watches it
 * ---------------------------------------------------------------------------------------- */

struct uvc_watch {
  UT_hash_handle hh;
  uvc_session_t** watchers;
  uint32_t n, cap;
  uint8_t len;
  char nick[UVC_NICK_MAX + 1]; /* as the first watcher gave it */
};

static struct uvc_watch* watch_find(const uvc_core_t* core, const char* nick, size_t len) {
  struct uvc_watch* w = NULL;
  if (len == 0 || len > UVC_NICK_MAX) return NULL;
  HASH_FIND(hh, core->watches, nick, len, w);
  return w;
}

static void watch_destroy(uvc_core_t* core, struct uvc_watch* w) {
  HASH_DEL(core->watches, w);
  free(w->watchers);
  free(w);
}

static void watches_clear(uvc_core_t* core) {
  struct uvc_watch *w, *tmp;
  HASH_ITER(hh, core->watches, w, tmp) {
    watch_destroy(core, w);
  }
}

/* Takes s out of w's watchers (and destroys w when nobody is left). */
static void watch_drop(uvc_core_t* core, struct uvc_watch* w, const uvc_session_t* s) {
  uint32_t i;
  for (i = 0; i < w->n; i++)
    if (w->watchers[i] == s) {
      w->watchers[i] = w->watchers[--w->n];
      break;
    }
  if (w->n == 0) watch_destroy(core, w);
}

int uvc_core_watch(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  struct uvc_watch* w;
  uint32_t i;
  if (!uvc_nick_valid(nick, len)) return UVC_ENICK_INVALID;
  w = watch_find(core, nick, len);
  if (w != NULL)
    for (i = 0; i < w->n; i++)
      if (w->watchers[i] == s) return 0;
  if (uvc_session_watch_count(s) >= UVC_WATCH_MAX) return UVC_EWATCH_FULL;
  if (extra(s) == NULL) return UVC_ENOMEM;
  if (s->x->n_watching == s->x->cap_watching) {
    uint16_t cap = s->x->cap_watching ? (uint16_t)(s->x->cap_watching * 2) : 4;
    struct uvc_watch** v = realloc(s->x->watching, cap * sizeof(*v));
    if (v == NULL) return UVC_ENOMEM;
    s->x->watching = v;
    s->x->cap_watching = cap;
  }
  if (w == NULL) {
    if ((w = calloc(1, sizeof(*w))) == NULL) return UVC_ENOMEM;
    memcpy(w->nick, nick, len);
    w->len = (uint8_t)len;
    g_hash_oom = 0;
    HASH_ADD_KEYPTR(hh, core->watches, w->nick, w->len, w);
    if (g_hash_oom) {
      free(w);
      return UVC_ENOMEM;
    }
  }
  if (w->n == w->cap) {
    uint32_t cap = w->cap ? w->cap * 2 : 2;
    uvc_session_t** v = realloc(w->watchers, cap * sizeof(*v));
    if (v == NULL) {
      if (w->n == 0) watch_destroy(core, w);
      return UVC_ENOMEM;
    }
    w->watchers = v;
    w->cap = cap;
  }
  w->watchers[w->n++] = s;
  s->x->watching[s->x->n_watching++] = w;
  return 0;
}

void uvc_core_unwatch(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  struct uvc_watch* w = watch_find(core, nick, len);
  uint16_t i;
  if (w == NULL || s->x == NULL) return;
  for (i = 0; i < s->x->n_watching; i++)
    if (s->x->watching[i] == w) {
      s->x->watching[i] = s->x->watching[--s->x->n_watching];
      watch_drop(core, w, s);
      return;
    }
}

void uvc_core_unwatch_all(uvc_core_t* core, uvc_session_t* s) {
  if (s->x == NULL) return;
  while (s->x->n_watching > 0)
    watch_drop(core, s->x->watching[--s->x->n_watching], s);
}

unsigned uvc_session_watch_count(const uvc_session_t* s) {
  return s->x != NULL ? s->x->n_watching : 0;
}

const char* uvc_session_watched(const uvc_session_t* s, unsigned i) {
  return i < uvc_session_watch_count(s) ? s->x->watching[i]->nick : NULL;
}

/* Tells whoever watches nick that who took it (or, who NULL, that it is gone). */
static void watch_notify(uvc_core_t* core, const char* nick, size_t len, const uvc_session_t* who) {
  struct uvc_watch* w = watch_find(core, nick, len);
  uint32_t i;
  if (w == NULL) return;
  for (i = 0; i < w->n; i++) { /* on_watch only sends: the list cannot change meanwhile */
    uvc_session_t* t = w->watchers[i];
    if (t->adapter->on_watch != NULL) t->adapter->on_watch(core, t, who, nick, len);
  }
}

/* ------------------------------------------------------------------------------------------
 * The nick history (WHOWAS): a ring, growing up to UVC_WHOWAS_MAX entries
 * ---------------------------------------------------------------------------------------- */

/* Copies src (NUL-terminated, or NULL) into dst of cap bytes, cut at a character boundary. */
static void copy_cut(char* dst, size_t cap, const char* src) {
  size_t n = src != NULL ? uvc_utf8_cut(src, strlen(src), cap - 1) : 0;
  if (n > 0) memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Remembers that s no longer uses nick[0..len). */
static void whowas_add(uvc_core_t* core, const uvc_session_t* s, const char* nick, size_t len) {
  uvc_whowas_t* e;
  if (core->whowas_next == core->whowas_cap) {
    if (core->whowas_cap < UVC_WHOWAS_MAX) {
      uint32_t cap = core->whowas_cap ? core->whowas_cap * 2 : 16;
      uvc_whowas_t* v;
      if (cap > UVC_WHOWAS_MAX) cap = UVC_WHOWAS_MAX;
      if ((v = realloc(core->whowas, cap * sizeof(*v))) == NULL) return; /* not remembered */
      core->whowas = v;
      core->whowas_cap = cap;
    } else {
      core->whowas_next = 0; /* full: the oldest goes */
    }
  }
  e = &core->whowas[core->whowas_next++];
  if (core->whowas_n < core->whowas_cap) core->whowas_n++;
  e->when = uvc_core_now(core);
  e->adapter = s->adapter;
  if (len > UVC_NICK_MAX) len = UVC_NICK_MAX;
  memcpy(e->nick, nick, len);
  e->nick[len] = '\0';
  copy_cut(e->user, sizeof(e->user), s->user);
  copy_cut(e->realname, sizeof(e->realname),
           s->adapter->realname != NULL ? s->adapter->realname(s) : NULL);
  copy_cut(e->account, sizeof(e->account), uvc_session_account(s));
}

const uvc_whowas_t* uvc_core_whowas_at(const uvc_core_t* core, unsigned k) {
  if (k >= core->whowas_n) return NULL;
  return &core->whowas[(core->whowas_next + core->whowas_cap - 1 - k) % core->whowas_cap];
}

const uvc_whowas_t* uvc_core_whowas(const uvc_core_t* core, const char* nick, size_t len,
                                    unsigned i) {
  const uvc_whowas_t* e;
  unsigned k;
  for (k = 0; (e = uvc_core_whowas_at(core, k)) != NULL; k++)
    if (uvc_name_eq(e->nick, strlen(e->nick), nick, len) && i-- == 0) return e;
  return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Presence
 * ---------------------------------------------------------------------------------------- */

int uvc_core_init(uvc_core_t* core, const uvc_core_config_t* cfg, const uvc_core_hooks_t* hooks,
                  void* ud) {
  const char* room = cfg->default_room ? cfg->default_room : "#lobby";
  memset(core, 0, sizeof(*core));
  core->hooks = *hooks;
  core->ud = ud;
  core->max_line = cfg->max_line;
  core->server_name = cfg->server_name ? cfg->server_name : "uvchat";
  core->server_len = strlen(core->server_name);
  core->host_len = (uint8_t)copy_str(core->host, sizeof(core->host), core->server_name);
  core->motd = cfg->motd;
  core->announce_limit = cfg->announce_limit;
  core->password = cfg->password;
  core->autojoin = cfg->autojoin;
  core->started = uvc_core_now(core);
  /* Ids go on from where a previous run could have reached: 65,536 events per millisecond. */
  core->next_id = (uint64_t)now_ms(core) << 16;
  core->id_step = 1;
  /* A cleaned line (each byte may become 3) and room for a prefix. */
  core->scratch_cap =
      (size_t)(cfg->max_line > UVC_LINE_FLOOR ? cfg->max_line : UVC_LINE_FLOOR) * 3 + 1024;
  core->scratch = malloc(core->scratch_cap);
  if (core->scratch == NULL) return UVC_ENOMEM;
  core->lobby = room_create(core, room, strlen(room));
  if (core->lobby == NULL) {
    free(core->scratch);
    return UVC_ENOMEM;
  }
  core->lobby->permanent = 1;
  core->lobby->modes = UVC_ROOM_MEMBERS_ONLY; /* nobody owns it: anyone may set its topic */
  return 0;
}

void uvc_core_free(uvc_core_t* core) {
  room_entry_t *e, *tmp;
  assert(core->n_present == 0);
  free(core->nicks);
  core->nicks = NULL;
  HASH_ITER(hh, core->rooms, e, tmp) {
    room_destroy(core, &e->room);
  }
  free(core->scratch);
  core->scratch = NULL;
  registered_clear(core);
  watches_clear(core);
  free(core->whowas);
  core->whowas = NULL;
  core->whowas_cap = core->whowas_n = core->whowas_next = 0;
}

void uvc_session_init(uvc_session_t* s, const uvc_adapter_t* adapter) {
  memset(s, 0, sizeof(*s));
  s->adapter = adapter;
  s->slot = (uint8_t)adapter->format;
  s->user = ""; /* until the adapter says */
}

/* ------------------------------------------------------------------------------------------
 * The nick table: open addressing with linear probing, at most 3/4 full. A slot costs 8
 * bytes and a session 4 (its cached hash), where uthash's handle would cost 56 per session:
 * with 10,000 idle people that is the difference.
 * ---------------------------------------------------------------------------------------- */

uvc_session_t* uvc_core_find(uvc_core_t* core, const char* nick, size_t len) {
  uint32_t h, mask, i;
  if (len == 0 || len > UVC_NICK_MAX || core->nick_cap == 0) return NULL;
  h = uvc_name_hash(nick, len);
  mask = core->nick_cap - 1;
  for (i = h & mask; core->nicks[i] != NULL; i = (i + 1) & mask) {
    uvc_session_t* s = core->nicks[i];
    if (s->nick_hash == h && uvc_name_eq(s->nick, s->nick_len, nick, len)) return s;
  }
  return NULL;
}

void uvc_core_each(uvc_core_t* core, void (*fn)(uvc_session_t* s, void* arg), void* arg) {
  uint32_t i;
  for (i = 0; i < core->nick_cap; i++)
    if (core->nicks[i] != NULL) fn(core->nicks[i], arg);
}

/* Puts s (whose nick_hash is set) in the first free slot of its probe sequence. */
static void slot_put(uvc_session_t** slots, uint32_t cap, uvc_session_t* s) {
  uint32_t mask = cap - 1, i = s->nick_hash & mask;
  while (slots[i] != NULL)
    i = (i + 1) & mask;
  slots[i] = s;
}

/* Enters s into the nick table under nick[0..len). */
static int nick_add(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  if ((core->n_present + 1) * 4 > core->nick_cap * 3) {
    uint32_t cap = core->nick_cap ? core->nick_cap * 2 : 64, i;
    uvc_session_t** slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) return UVC_ENOMEM;
    for (i = 0; i < core->nick_cap; i++)
      if (core->nicks[i] != NULL) slot_put(slots, cap, core->nicks[i]);
    free(core->nicks);
    core->nicks = slots;
    core->nick_cap = cap;
  }
  memcpy(s->nick, nick, len);
  s->nick[len] = '\0';
  s->nick_len = (uint8_t)len;
  s->nick_hash = uvc_name_hash(nick, len);
  slot_put(core->nicks, core->nick_cap, s);
  return 0;
}

/* Takes s out of the nick table, shifting back the entries that probed past its slot (no
 * tombstones: lookups stay short however many people came and went). */
static void nick_del(uvc_core_t* core, uvc_session_t* s) {
  uint32_t mask = core->nick_cap - 1, i = s->nick_hash & mask, j;
  while (core->nicks[i] != s)
    i = (i + 1) & mask;
  core->nicks[i] = NULL;
  for (j = (i + 1) & mask; core->nicks[j] != NULL; j = (j + 1) & mask) {
    uint32_t home = core->nicks[j]->nick_hash & mask;
    /* move j back to i unless its home lies cyclically in (i, j] */
    int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      core->nicks[i] = core->nicks[j];
      core->nicks[j] = NULL;
      i = j;
    }
  }
}

/* Writes a fresh guest nick (guestN, neither taken nor registered) into out; returns its
 * length. */
static size_t guest_nick(uvc_core_t* core, char out[UVC_NICK_MAX + 1]) {
  int n;
  do {
    n = snprintf(out, UVC_NICK_MAX + 1, "guest%u", (unsigned)++core->guest_seq);
  } while (uvc_core_find(core, out, (size_t)n) != NULL ||
           registered_find(core, out, (size_t)n) != NULL);
  return (size_t)n;
}

int uvc_core_enter(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  char guest[UVC_NICK_MAX + 1];
  int err;
  assert(!s->present);
  if (uvc_session_account(s) != NULL &&
      registered_find(core, s->x->account, strlen(s->x->account)) == NULL)
    set_account(s, NULL, 0); /* logged in before entering, and the account was deleted since */
  if (nick == NULL) {
    len = guest_nick(core, guest);
    nick = guest;
  } else if (!uvc_nick_valid(nick, len)) {
    return UVC_ENICK_INVALID;
  } else if ((err = uvc_core_may_use(core, s, nick, len)) != 0) {
    return err;
  } else if (uvc_core_find(core, nick, len) != NULL) {
    return UVC_ENICK_TAKEN;
  }
  if ((err = nick_add(core, s, nick, len)) != 0) return err;
  s->present = 1;
  core->n_present++;
  if (core->n_present > core->max_present) core->max_present = core->n_present;
  if (!s->unseen) watch_notify(core, s->nick, s->nick_len, s);
  if (core->cluster != NULL && !s->adapter->remote) core->cluster->present(core->cluster_ud, s);
  return 0;
}

int uvc_core_arrive(uvc_core_t* core, uvc_session_t* s) {
  int err = uvc_core_enter(core, s, NULL, 0);
  if (err != 0) return err;
  err = uvc_core_join(core, s, core->lobby->name, core->lobby->name_len, 0, NULL);
  if (err != 0) uvc_core_leave(core, s, UVC_LEAVE_LOST, NULL, 0);
  return err;
}

void uvc_core_reveal(uvc_core_t* core, uvc_session_t* s) {
  unsigned r;
  if (!s->unseen) return;
  s->unseen = 0;
  if (s->present) watch_notify(core, s->nick, s->nick_len, s);
  for (r = 0; r < s->n_rooms; r++) {
    uvc_room_t* room = uvc_session_membership(s, r)->room;
    uvc_event_t ev;
    arrive_init(core, &ev, s, room);
    fanout_presence(core, room, &ev, s, s);
  }
  if (s->present && core->cluster != NULL && !s->adapter->remote)
    core->cluster->revealed(core->cluster_ud, s);
}

void uvc_core_leave(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                    size_t len) {
  if (!s->present) return;
  if (!core->stopping) {
    uvc_event_t ev;
    event_init(core, &ev, UVC_EV_LEAVE, s, text, len);
    ev.reason = why;
    fanout_peers(core, s, &ev, 0);
    publish(core, s, &ev, NULL);
  }
  while (s->n_rooms > 0)
    room_remove_at(core, s, s->n_rooms - 1u);
  uvc_core_unwatch_all(core, s);
  if (!s->unseen && !core->stopping) whowas_add(core, s, s->nick, s->nick_len);
  free_extra(s);
  nick_del(core, s);
  s->present = 0;
  core->n_present--;
  if (!s->unseen && !core->stopping) watch_notify(core, s->nick, s->nick_len, NULL);
}

int uvc_core_rename(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  char old[UVC_NICK_MAX + 1];
  size_t old_len = s->nick_len;
  uvc_session_t* other;
  uvc_event_t ev;
  int err;
  if (!s->present) return UVC_ENOT_PRESENT;
  if (!uvc_nick_valid(nick, len)) return UVC_ENICK_INVALID;
  if (len == s->nick_len && memcmp(nick, s->nick, len) == 0) return UVC_ENICK_SAME;
  if ((err = uvc_core_may_use(core, s, nick, len)) != 0) return err;
  other = uvc_core_find(core, nick, len);
  if (other != NULL && other != s) return UVC_ENICK_TAKEN;
  if (core->cluster != NULL && !s->adapter->remote &&
      (err = core->cluster->may_rename(core->cluster_ud, s, nick, len)) != 0)
    return err;
  memcpy(old, s->nick, old_len + 1);
  nick_del(core, s);
  if ((err = nick_add(core, s, nick, len)) != 0) {
    (void)nick_add(core, s, old, old_len); /* its slot was just freed: it fits */
    return err;
  }
  event_init(core, &ev, UVC_EV_NICK, s, NULL, 0);
  memcpy(ev.old_nick, old, old_len + 1);
  ev.old_len = (uint8_t)old_len;
  fanout_peers(core, s, &ev, 1);
  publish(core, s, &ev, NULL);
  if (core->hooks.observe != NULL) core->hooks.observe(core->ud, &ev);
  if (!uvc_name_eq(old, old_len, nick, len)) { /* a change of case is the same nick */
    whowas_add(core, s, old, old_len);
    watch_notify(core, old, old_len, NULL);
    watch_notify(core, s->nick, s->nick_len, s);
  }
  return 0;
}

/* A heap copy of text[0..len), cut to max bytes at a character boundary, NUL-terminated. */
static char* dup_cut(const char* text, size_t len, size_t max) {
  char* p;
  len = uvc_utf8_cut(text, len, max);
  p = malloc(len + 1);
  if (p == NULL) return NULL;
  memcpy(p, text, len);
  p[len] = '\0';
  return p;
}

int uvc_core_secure(const uvc_core_t* core, const uvc_session_t* s) {
  return core->hooks.secure != NULL && core->hooks.secure(core->ud, s);
}

void uvc_core_realname_changed(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  uvc_event_t ev;
  if (!s->present) return;
  event_init(core, &ev, UVC_EV_REALNAME, s, text, len);
  fanout_peers(core, s, &ev, 1);
  publish(core, s, &ev, NULL);
}

int uvc_core_set_away(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  char* away = NULL;
  if (len > 0 && (extra(s) == NULL || (away = dup_cut(text, len, UVC_AWAY_MAX)) == NULL))
    return UVC_ENOMEM;
  if (s->x != NULL) {
    uvc_event_t ev;
    int changed =
        (away != NULL) != (s->x->away != NULL) || (away != NULL && strcmp(away, s->x->away) != 0);
    free(s->x->away);
    s->x->away = away;
    if (changed && s->present) {
      event_init(core, &ev, UVC_EV_AWAY, s, away, away != NULL ? strlen(away) : 0);
      fanout_peers(core, s, &ev, 0);
      publish(core, s, &ev, NULL);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Masks (matching is uvc_mask_match in names.c)
 * ---------------------------------------------------------------------------------------- */

size_t uvc_mask_normalize(const char* mask, size_t len, char* out) {
  const char *bang = NULL, *at = NULL;
  size_t i;
  int n;
  if (len == 0 || len > UVC_MASK_MAX) return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)mask[i];
    if (c <= ' ' || c >= 0x7f || c == ',') return 0; /* names are ASCII: no match, no bad UTF-8 */
    if (c == '!' && bang == NULL && at == NULL) bang = mask + i;
    if (c == '@' && at == NULL) at = mask + i;
  }
  if (bang != NULL && at != NULL) /* nick!user@host */
    n = snprintf(out, UVC_MASK_MAX + 1, "%.*s", (int)len, mask);
  else if (bang != NULL) /* nick!user */
    n = snprintf(out, UVC_MASK_MAX + 1, "%.*s@*", (int)len, mask);
  else if (at != NULL) /* user@host */
    n = snprintf(out, UVC_MASK_MAX + 1, "*!%.*s", (int)len, mask);
  else /* nick */
    n = snprintf(out, UVC_MASK_MAX + 1, "%.*s!*@*", (int)len, mask);
  if (n <= 0 || n > UVC_MASK_MAX) return 0;
  /* A part left empty ("!x@h", "n!@h", "n!u@") stands for anyone. */
  return (size_t)n;
}

size_t uvc_session_mask(const uvc_core_t* core, const uvc_session_t* s, char* out, size_t cap) {
  int n = snprintf(out, cap, "%s!%s@%s", s->nick, s->user, core->server_name);
  return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

const uvc_mask_list_t* uvc_room_list(const uvc_room_t* room, uvc_room_list_kind_t list) {
  return list == UVC_LIST_BAN ? &room->bans : &room->invex;
}

int uvc_room_matches(const uvc_core_t* core, const uvc_room_t* room, uvc_room_list_kind_t list,
                     const uvc_session_t* s) {
  const uvc_mask_list_t* l = uvc_room_list(room, list);
  char me[UVC_NICK_MAX + UVC_USER_MAX + UVC_ROOM_MAX + 64];
  size_t n;
  uint16_t i;
  if (l->n == 0) return 0;
  n = uvc_session_mask(core, s, me, sizeof(me));
  for (i = 0; i < l->n; i++)
    if (uvc_mask_match(l->v[i].mask, strlen(l->v[i].mask), me, n)) return 1;
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Invitations: kept by the invited session (a few room names), used up by a join
 * ---------------------------------------------------------------------------------------- */

/* The slot of s's invitation to room, or -1. */
static int invite_index(const uvc_session_t* s, const uvc_room_t* room) {
  unsigned i;
  if (s->x == NULL || s->x->invites == NULL) return -1;
  for (i = 0; i < s->x->n_invites; i++)
    if (uvc_name_eq(s->x->invites[i], strlen(s->x->invites[i]), room->name, room->name_len))
      return (int)i;
  return -1;
}

static int invite_add(uvc_session_t* s, const uvc_room_t* room) {
  unsigned slot;
  if (invite_index(s, room) >= 0) return 0;
  if (extra(s) == NULL) return UVC_ENOMEM;
  if (s->x->invites == NULL &&
      (s->x->invites = calloc(UVC_INVITES, sizeof(*s->x->invites))) == NULL)
    return UVC_ENOMEM;
  if (s->x->n_invites < UVC_INVITES) {
    slot = s->x->n_invites++;
  } else { /* all used: the oldest goes */
    slot = s->x->next_invite;
    s->x->next_invite = (uint8_t)((slot + 1) % UVC_INVITES);
  }
  memcpy(s->x->invites[slot], room->name, (size_t)room->name_len + 1);
  return 0;
}

static void invite_use(uvc_session_t* s, int i) {
  unsigned last = --s->x->n_invites;
  if ((unsigned)i != last) memcpy(s->x->invites[i], s->x->invites[last], UVC_ROOM_MAX + 1);
  s->x->next_invite = 0;
}

/* ------------------------------------------------------------------------------------------
 * Room operations
 * ---------------------------------------------------------------------------------------- */

int uvc_core_may_join(uvc_core_t* core, const uvc_session_t* s, const uvc_room_t* room,
                      const char* key, size_t klen) {
  if (uvc_room_matches(core, room, UVC_LIST_BAN, s)) return UVC_EBANNED;
  if ((room->modes & UVC_ROOM_INVITE_ONLY) && invite_index(s, room) < 0 &&
      !uvc_room_matches(core, room, UVC_LIST_INVITE, s))
    return UVC_EINVITE_ONLY;
  if ((room->modes & UVC_ROOM_KEY) && room->key != NULL &&
      (key == NULL || klen != strlen(room->key) || memcmp(key, room->key, klen) != 0))
    return UVC_EBAD_KEY;
  if ((room->modes & UVC_ROOM_LIMIT) && room->n_members >= room->limit) return UVC_EROOM_FULL;
  return 0;
}

/* Joins; with check set, an existing room's rules apply (see uvc_core_join_key). */
static int join(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len, int check,
                const char* key, size_t klen, int tell_self, uvc_room_t** out) {
  uvc_room_t* room;
  uvc_event_t ev;
  int created = 0, err, inv = -1;
  if (out != NULL) *out = NULL;
  if (!s->present) return UVC_ENOT_PRESENT;
  if (uvc_room_problem(name, len) != NULL) return UVC_EROOM_INVALID;
  room = uvc_core_room(core, name, len);
  if (room != NULL && membership_index(s, room) >= 0) {
    if (out != NULL) *out = room;
    return UVC_EALREADY_IN_ROOM;
  }
  if (s->n_rooms >= UVC_ROOMS_PER_USER) return UVC_ETOO_MANY_ROOMS;
  if (room != NULL && check) {
    if ((err = uvc_core_may_join(core, s, room, key, klen)) != 0) return err;
    inv = invite_index(s, room);
  }
  if (room == NULL) {
    if ((room = room_create(core, name, len)) == NULL) return UVC_ENOMEM;
    room->modes = UVC_ROOM_MEMBERS_ONLY | UVC_ROOM_TOPIC_LOCKED;
    created = 1;
  }
  if ((err = room_add(room, s, created ? UVC_MEMBER_OP : 0)) != 0) {
    if (created) room_destroy(core, room);
    return err;
  }
  if (inv >= 0) invite_use(s, inv);
  if (out != NULL) *out = room;
  arrive_init(core, &ev, s, room);
  fanout_presence(core, room, &ev, s, tell_self ? NULL : s);
  publish(core, s, &ev, NULL);
  return 0;
}

int uvc_core_join(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len, int tell_self,
                  uvc_room_t** out) {
  return join(core, s, name, len, 0, NULL, 0, tell_self, out);
}

int uvc_core_join_key(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len,
                      const char* key, size_t klen, int tell_self, uvc_room_t** out) {
  return join(core, s, name, len, 1, key, klen, tell_self, out);
}

int uvc_core_part(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                  size_t len) {
  uvc_event_t ev;
  int r = membership_index(s, room);
  if (r < 0) return UVC_ENOT_IN_ROOM;
  event_init(core, &ev, UVC_EV_PART, s, text, len);
  uvc_event_set_room(&ev, room);
  fanout_presence(core, room, &ev, s, NULL);
  room_remove_at(core, s, (unsigned)r);
  publish(core, s, &ev, NULL);
  return 0;
}

int uvc_core_set_topic(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                       size_t len) {
  const uvc_membership_t* m = uvc_session_in(s, room);
  uvc_event_t ev;
  char* topic = NULL;
  if (m == NULL) return UVC_ENOT_IN_ROOM;
  if ((room->modes & UVC_ROOM_TOPIC_LOCKED) && !(m->flags & UVC_MEMBER_OP) && !s->adapter->remote)
    return UVC_ENOT_OPERATOR;
  if (len > 0 && (topic = dup_cut(text, len, UVC_TOPIC_MAX)) == NULL) return UVC_ENOMEM;
  free(room->topic);
  room->topic = topic;
  memcpy(room->topic_by, s->nick, (size_t)s->nick_len + 1);
  room->topic_at = uvc_core_now(core);
  event_init(core, &ev, UVC_EV_TOPIC, s, topic, topic ? strlen(topic) : 0);
  uvc_event_set_room(&ev, room);
  fanout_room(core, room, &ev, NULL);
  if (keeps(core, s) && !(room->modes & UVC_ROOM_NO_HISTORY))
    core->history->record(core->history_ud, &ev);
  publish(core, s, &ev, NULL);
  return 0;
}

void uvc_core_room_learn(uvc_core_t* core, uvc_room_t* room, const char* text, size_t len,
                         const char* by, int64_t at, unsigned modes, int modes_too) {
  (void)core;
  if (modes_too)
    room->modes = (uint8_t)((room->modes & ~UVC_ROOM_FLAG_MODES) | (modes & UVC_ROOM_FLAG_MODES));
  if (room->topic != NULL || len == 0 || (room->topic = dup_cut(text, len, UVC_TOPIC_MAX)) == NULL)
    return;
  copy_str(room->topic_by, sizeof(room->topic_by), by);
  room->topic_at = at;
}

/* Whether key[0..len) may be a room key: 1 to UVC_KEY_MAX printable ASCII bytes, no space
 * or comma, not starting with ':'. */
static int key_valid(const char* key, size_t len) {
  size_t i;
  if (len == 0 || len > UVC_KEY_MAX) return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)key[i] <= ' ' || (unsigned char)key[i] >= 0x7f || key[i] == ',' ||
        (i == 0 && key[i] == ':'))
      return 0;
  return 1;
}

/* Appends mask[0..n) (normalised, not on l yet), set by `by` at `at`, to l. Returns 0,
 * UVC_ELIST_FULL or UVC_ENOMEM. */
static int list_add(uvc_mask_list_t* l, const char* mask, size_t n, const char* by, int64_t at) {
  uvc_mask_t* e;
  if (l->n >= UVC_LIST_MAX) return UVC_ELIST_FULL;
  if (l->n == l->cap) {
    uint16_t cap = l->cap ? (uint16_t)(l->cap * 2) : 4;
    uvc_mask_t* v = realloc(l->v, cap * sizeof(*v));
    if (v == NULL) return UVC_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  e = &l->v[l->n];
  if ((e->mask = malloc(n + 1)) == NULL) return UVC_ENOMEM;
  memcpy(e->mask, mask, n);
  e->mask[n] = '\0';
  copy_str(e->by, sizeof(e->by), by);
  e->at = at;
  l->n++;
  return 0;
}

void uvc_core_room_learn_access(uvc_core_t* core, uvc_room_t* room, const char* key, size_t klen,
                                uint32_t limit) {
  char* k = NULL;
  (void)core;
  if (key_valid(key, klen) && (k = malloc(klen + 1)) != NULL) {
    memcpy(k, key, klen);
    k[klen] = '\0';
  }
  free(room->key);
  room->key = k;
  room->modes = (uint8_t)(k != NULL ? room->modes | UVC_ROOM_KEY : room->modes & ~UVC_ROOM_KEY);
  room->limit = limit;
  room->modes = (uint8_t)(limit > 0 ? room->modes | UVC_ROOM_LIMIT : room->modes & ~UVC_ROOM_LIMIT);
  list_free(&room->bans);
  list_free(&room->invex);
}

int uvc_core_room_learn_mask(uvc_core_t* core, uvc_room_t* room, uvc_room_list_kind_t list,
                             const char* mask, size_t len, const char* by, int64_t at) {
  uvc_mask_list_t* l = list == UVC_LIST_BAN ? &room->bans : &room->invex;
  char norm[UVC_MASK_MAX + 1];
  size_t n;
  uint16_t i;
  (void)core;
  if ((n = uvc_mask_normalize(mask, len, norm)) == 0) return 0;
  for (i = 0; i < l->n; i++)
    if (uvc_name_eq(l->v[i].mask, strlen(l->v[i].mask), norm, n)) return 0;
  return list_add(l, norm, n, by, at);
}

/* The operator check shared by kick and mode changes. */
static int check_op(const uvc_session_t* s, const uvc_room_t* room) {
  const uvc_membership_t* m = uvc_session_in(s, room);
  if (m == NULL) return UVC_ENOT_IN_ROOM;
  return (m->flags & UVC_MEMBER_OP) || s->adapter->remote ? 0 : UVC_ENOT_OPERATOR;
}

int uvc_core_kick(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                  const char* text, size_t len) {
  uvc_event_t ev;
  int err = check_op(s, room), r;
  if (err != 0) return err;
  if ((r = membership_index(target, room)) < 0) return UVC_ETARGET_NOT_IN_ROOM;
  event_init(core, &ev, UVC_EV_KICK, s, text, uvc_utf8_cut(text, len, UVC_REASON_MAX));
  uvc_event_set_room(&ev, room);
  uvc_event_who_of(core, target, &ev.to);
  fanout_room(core, room, &ev, NULL);
  room_remove_at(core, target, (unsigned)r);
  publish(core, s, &ev, target);
  if (target->adapter->single_room && target->n_rooms == 0 && room != core->lobby)
    (void)uvc_core_join(core, target, core->lobby->name, core->lobby->name_len, 1, NULL);
  return 0;
}

int uvc_core_set_modes(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, unsigned on,
                       unsigned off) {
  uvc_event_t ev;
  int err = check_op(s, room);
  unsigned set, clear;
  if (err != 0) return err;
  set = on & ~(unsigned)room->modes;
  clear = off & room->modes & ~set;
  if (set == 0 && clear == 0) return 0;
  room->modes = (uint8_t)((room->modes | set) & ~clear);
  event_init(core, &ev, UVC_EV_MODE, s, NULL, 0);
  uvc_event_set_room(&ev, room);
  ev.mode_on = (uint8_t)set;
  ev.mode_off = (uint8_t)clear;
  fanout_room(core, room, &ev, NULL);
  publish(core, s, &ev, NULL);
  return 0;
}

int uvc_core_set_member(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                        unsigned flag, int on) {
  uvc_event_t ev;
  uvc_membership_t* m;
  int err = check_op(s, room), r;
  if (err != 0) return err;
  if ((r = membership_index(target, room)) < 0) return UVC_ETARGET_NOT_IN_ROOM;
  m = uvc_session_membership(target, (unsigned)r);
  if (((m->flags & flag) != 0) == (on != 0)) return 0;
  m->flags = on ? (m->flags | flag) : (m->flags & ~(uint32_t)flag);
  event_init(core, &ev, UVC_EV_MODE, s, NULL, 0);
  uvc_event_set_room(&ev, room);
  uvc_event_who_of(core, target, &ev.to);
  if (on)
    ev.mode_on = (uint8_t)flag;
  else
    ev.mode_off = (uint8_t)flag;
  fanout_room(core, room, &ev, NULL);
  publish(core, s, &ev, target);
  return 0;
}

int uvc_core_set_op(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                    int on) {
  return uvc_core_set_member(core, s, room, target, UVC_MEMBER_OP, on);
}

/* Tells the members of a change of the key or the limit. */
static void tell_value_mode(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, unsigned mode,
                            int on) {
  uvc_event_t ev;
  event_init(core, &ev, UVC_EV_MODE, s, NULL, 0);
  uvc_event_set_room(&ev, room);
  if (on) {
    ev.mode_on = (uint8_t)mode;
    if (mode == UVC_ROOM_KEY) {
      ev.text = room->key;
      ev.len = strlen(room->key);
    }
    ev.limit = room->limit;
  } else {
    ev.mode_off = (uint8_t)mode;
  }
  fanout_room(core, room, &ev, NULL);
  publish(core, s, &ev, NULL);
}

int uvc_core_set_key(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* key,
                     size_t len) {
  int err = check_op(s, room);
  char* k;
  if (err != 0) return err;
  if (len == 0) {
    if (!(room->modes & UVC_ROOM_KEY)) return 0;
    free(room->key);
    room->key = NULL;
    room->modes &= (uint8_t)~UVC_ROOM_KEY;
    tell_value_mode(core, s, room, UVC_ROOM_KEY, 0);
    return 0;
  }
  if (!key_valid(key, len)) return UVC_EKEY_INVALID;
  if (room->key != NULL && strlen(room->key) == len && memcmp(room->key, key, len) == 0) return 0;
  if ((k = malloc(len + 1)) == NULL) return UVC_ENOMEM;
  memcpy(k, key, len);
  k[len] = '\0';
  free(room->key);
  room->key = k;
  room->modes |= UVC_ROOM_KEY;
  tell_value_mode(core, s, room, UVC_ROOM_KEY, 1);
  return 0;
}

int uvc_core_set_limit(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uint32_t limit) {
  int err = check_op(s, room);
  if (err != 0) return err;
  if (limit == 0) {
    if (!(room->modes & UVC_ROOM_LIMIT)) return 0;
    room->modes &= (uint8_t)~UVC_ROOM_LIMIT;
    room->limit = 0;
    tell_value_mode(core, s, room, UVC_ROOM_LIMIT, 0);
    return 0;
  }
  if ((room->modes & UVC_ROOM_LIMIT) && room->limit == limit) return 0;
  room->limit = limit;
  room->modes |= UVC_ROOM_LIMIT;
  tell_value_mode(core, s, room, UVC_ROOM_LIMIT, 1);
  return 0;
}

int uvc_core_list_change(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room,
                         uvc_room_list_kind_t list, const char* mask, size_t len, int on) {
  uvc_mask_list_t* l = list == UVC_LIST_BAN ? &room->bans : &room->invex;
  char norm[UVC_MASK_MAX + 1];
  uvc_event_t ev;
  size_t n;
  uint16_t i;
  int err = check_op(s, room);
  if (err != 0) return err;
  if ((n = uvc_mask_normalize(mask, len, norm)) == 0) return 0; /* nothing anyone could match */
  for (i = 0; i < l->n; i++)
    if (uvc_name_eq(l->v[i].mask, strlen(l->v[i].mask), norm, n)) break;
  event_init(core, &ev, UVC_EV_MODE, s, norm, n);
  uvc_event_set_room(&ev, room);
  ev.list = (uint8_t)list;
  if (on) {
    if (i < l->n) return 0;
    if ((err = list_add(l, norm, n, s->nick, uvc_core_now(core))) != 0) return err;
    ev.mode_on = 1;
  } else {
    if (i == l->n) return 0;
    memcpy(norm, l->v[i].mask, n + 1); /* as it was set */
    free(l->v[i].mask);
    memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(l->v[0]));
    l->n--;
    ev.mode_off = 1;
  }
  fanout_room(core, room, &ev, NULL);
  publish(core, s, &ev, NULL);
  return 0;
}

int uvc_core_invite(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target) {
  const uvc_membership_t* m = uvc_session_in(s, room);
  uvc_event_t ev;
  int err;
  if (m == NULL) return UVC_ENOT_IN_ROOM;
  if ((room->modes & UVC_ROOM_INVITE_ONLY) && !(m->flags & UVC_MEMBER_OP) && !s->adapter->remote)
    return UVC_ENOT_OPERATOR;
  if (membership_index(target, room) >= 0) return UVC_ETARGET_IN_ROOM;
  if ((err = invite_add(target, room)) != 0) return err;
  event_init(core, &ev, UVC_EV_INVITE, s, NULL, 0);
  uvc_event_set_room(&ev, room);
  uvc_event_who_of(core, target, &ev.to);
  deliver_one(core, &ev, target);
  /* The same event (its id and time) as a notice to the members who may invite too. */
  {
    render_cache_t rc;
    uint32_t i;
    int ops_only = (room->modes & UVC_ROOM_INVITE_ONLY) != 0;
    ev.type = UVC_EV_INVITED;
    rc.done = 0;
    for (i = 0; i < room->n_members; i++) {
      uvc_session_t* u = room->members[i];
      if (u == s || (ops_only && !uvc_session_is_op(u, room))) continue;
      deliver(core, &rc, &ev, u);
    }
    render_cache_free(&rc);
  }
  ev.type = UVC_EV_INVITE;
  publish(core, s, &ev, target); /* every server keeps the invitation, and tells its members */
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

void uvc_core_set_tags(uvc_core_t* core, const char* tags, size_t len) {
  core->tags = len > 0 ? tags : NULL;
  core->tags_len = len > 0 ? len : 0;
}

/* Moves the client tags set for the next message into ev. */
static void take_tags(uvc_core_t* core, uvc_event_t* ev) {
  ev->tags = core->tags;
  ev->tags_len = core->tags_len;
  core->tags = NULL;
  core->tags_len = 0;
}

/* A message or action to a room, from a member (or anyone, where the room allows it). */
static int room_event(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_event_type_t type,
                      const char* text, size_t len, int notice) {
  uvc_event_t ev;
  if (room == NULL) {
    if ((room = uvc_session_room(s)) == NULL) return UVC_ENO_ROOM;
  } else if ((room->modes & UVC_ROOM_MEMBERS_ONLY) && membership_index(s, room) < 0 &&
             !s->adapter->remote) {
    return UVC_ECANNOT_SEND;
  }
  /* Once per message, on the sender's side: moderation and bans (a ghost's server did). */
  if (((room->modes & UVC_ROOM_MODERATED) || room->bans.n > 0) && !s->adapter->remote) {
    const uvc_membership_t* m = uvc_session_in(s, room);
    if (m == NULL || !(m->flags & (UVC_MEMBER_OP | UVC_MEMBER_VOICE))) {
      if (room->modes & UVC_ROOM_MODERATED) return UVC_EMODERATED;
      if (uvc_room_matches(core, room, UVC_LIST_BAN, s)) return UVC_EBANNED;
    }
  }
  event_init(core, &ev, type, s, text, len);
  uvc_event_set_room(&ev, room);
  ev.notice = (uint8_t)(notice != 0);
  take_tags(core, &ev);
  fanout_room(core, room, &ev, s);
  if (keeps(core, s) && !(room->modes & UVC_ROOM_NO_HISTORY))
    core->history->record(core->history_ud, &ev); /* once per message, after the fan-out */
  publish(core, s, &ev, NULL);
  return 0;
}

int uvc_core_say(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text, size_t len,
                 int notice) {
  return room_event(core, s, room, UVC_EV_SAY, text, len, notice);
}

int uvc_core_act(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                 size_t len) {
  return room_event(core, s, room, UVC_EV_ACTION, text, len, 0);
}

int uvc_core_whisper(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                     const char* text, size_t len, int notice, uvc_session_t** to) {
  uvc_event_t ev;
  uvc_session_t* t = uvc_core_find(core, target, tlen);
  if (to != NULL) *to = t;
  if (t == NULL) return UVC_ENO_SUCH_NICK;
  event_init(core, &ev, UVC_EV_PRIVATE, s, text, len);
  uvc_event_who_of(core, t, &ev.to);
  ev.notice = (uint8_t)(notice != 0);
  take_tags(core, &ev);
  deliver_one(core, &ev, t);
  if (keeps(core, s) && (ev.from.account[0] != '\0' || ev.to.account[0] != '\0'))
    core->history->record(core->history_ud, &ev);
  if (t->adapter->remote) publish(core, s, &ev, t); /* to the server that holds t */
  return 0;
}

int uvc_core_keep_private(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                          const char* text, size_t len, int notice) {
  const char* name = uvc_core_registered(core, target, tlen);
  uvc_event_t ev;
  size_t n;
  if (core->history == NULL || core->history->keep == NULL) return UVC_EHISTORY_UNAVAILABLE;
  if (name == NULL || uvc_core_find(core, target, tlen) != NULL) return UVC_ENO_SUCH_NICK;
  n = strlen(name);
  event_init(core, &ev, UVC_EV_PRIVATE, s, text, len);
  ev.notice = (uint8_t)(notice != 0);
  memcpy(ev.to.nick, name, n + 1);
  ev.to.nick_len = (uint8_t)n;
  memcpy(ev.to.account, name, n + 1);
  core->history->keep(core->history_ud, &ev);
  return 0;
}

void uvc_event_msgid(const uvc_event_t* ev, char* out) {
  snprintf(out, UVC_MSGID_MAX + 1, "%llx", (unsigned long long)ev->id);
}

int uvc_core_history(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q) {
  const char* account = uvc_session_account(s);
  if (core->history == NULL) return UVC_EHISTORY_UNAVAILABLE;
  if (q->how == UVC_HQ_TARGETS || q->how == UVC_HQ_AWAY) {
    if (q->how == UVC_HQ_AWAY && account == NULL) return UVC_EAUTH_NOT_LOGGED_IN;
  } else if (uvc_room_problem(q->target, strlen(q->target)) == NULL) {
    /* a room: its members only (every room made by a join is members-only; a room nobody
     * is in has no members), and a ban covers its history too */
    uvc_room_t* room = uvc_core_room(core, q->target, strlen(q->target));
    if (room == NULL || membership_index(s, room) < 0) return UVC_ENOT_IN_ROOM;
    if (room->modes & UVC_ROOM_NO_HISTORY) return UVC_EHISTORY_OFF;
    if (uvc_room_matches(core, room, UVC_LIST_BAN, s)) return UVC_EBANNED;
  } else if (account == NULL) {
    return UVC_EAUTH_NOT_LOGGED_IN; /* private histories are kept for accounts */
  }
  return core->history->start(core->history_ud, s, q, account);
}

int uvc_core_tagmsg(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* target,
                    size_t tlen, const char* tags, size_t tags_len, uvc_session_t** to) {
  uvc_event_t ev;
  uvc_session_t* t = NULL;
  if (room != NULL && (room->modes & UVC_ROOM_MEMBERS_ONLY) && membership_index(s, room) < 0 &&
      !s->adapter->remote)
    return UVC_ECANNOT_SEND;
  if (room == NULL && (t = uvc_core_find(core, target, tlen)) == NULL) return UVC_ENO_SUCH_NICK;
  if (to != NULL) *to = t;
  event_init(core, &ev, UVC_EV_TAGMSG, s, NULL, 0);
  if (room != NULL) uvc_event_set_room(&ev, room);
  if (t != NULL) uvc_event_who_of(core, t, &ev.to);
  ev.tags = tags;
  ev.tags_len = tags_len;
  if (room != NULL)
    fanout_room(core, room, &ev, s);
  else
    deliver_one(core, &ev, t);
  if (room != NULL || t->adapter->remote) publish(core, s, &ev, t);
  return 0;
}

void uvc_core_backlog(uvc_core_t* core, int full) {
  if (core->hooks.backlog != NULL) core->hooks.backlog(core->ud, full);
}

void uvc_core_announce(uvc_core_t* core, const char* text, size_t len) {
  render_cache_t rc;
  uvc_event_t ev;
  uint32_t i;
  event_init(core, &ev, UVC_EV_ANNOUNCE, NULL, text, len);
  rc.done = 0;
  for (i = 0; i < core->nick_cap; i++)
    if (core->nicks[i] != NULL) deliver(core, &rc, &ev, core->nicks[i]);
  render_cache_free(&rc);
}

void uvc_core_notify(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  uvc_event_t ev;
  event_init(core, &ev, UVC_EV_ANNOUNCE, NULL, text, len);
  deliver_one(core, &ev, s);
}

void uvc_core_set_invisible(uvc_core_t* core, uvc_session_t* s, int on) {
  if (on && !(s->umodes & UVC_USER_INVISIBLE)) {
    s->umodes |= UVC_USER_INVISIBLE;
    core->n_invisible++;
  } else if (!on && (s->umodes & UVC_USER_INVISIBLE)) {
    s->umodes &= (uint8_t)~UVC_USER_INVISIBLE;
    core->n_invisible--;
  }
}

uint32_t uvc_core_invisible(const uvc_core_t* core) {
  return core->n_invisible;
}

void uvc_core_forget(uvc_core_t* core, uvc_session_t* s) {
  uvc_core_set_invisible(core, s, 0);
  if (core->auth != NULL && core->auth->forget != NULL) core->auth->forget(core->auth_ud, s);
  if (core->opers != NULL && core->opers->forget != NULL) core->opers->forget(core->opers_ud, s);
  if (core->history != NULL) core->history->forget(core->history_ud, s);
  free_extra(s);
}

/* ------------------------------------------------------------------------------------------
 * Server operators
 * ---------------------------------------------------------------------------------------- */

void uvc_core_set_oper(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len) {
  (void)core;
  if (name == NULL) {
    s->umodes &= (uint8_t) ~(UVC_USER_OPER | UVC_USER_WALLOPS);
    if (s->x != NULL) s->x->oper[0] = '\0';
    return;
  }
  if (extra(s) == NULL) return;
  if (len > UVC_NICK_MAX) len = UVC_NICK_MAX;
  memcpy(s->x->oper, name, len);
  s->x->oper[len] = '\0';
  s->umodes |= UVC_USER_OPER | UVC_USER_WALLOPS;
}

int uvc_core_kill(uvc_core_t* core, uvc_session_t* s, uvc_session_t* target, const char* text,
                  size_t len) {
  char why[UVC_NICK_MAX + UVC_REASON_MAX + 32];
  int n;
  if (!(s->umodes & UVC_USER_OPER)) return UVC_ENOT_SERVER_OPER;
  if (target == NULL || !target->present) return UVC_ENO_SUCH_NICK;
  len = uvc_utf8_cut(text, len, UVC_REASON_MAX);
  n = snprintf(why, sizeof(why), "Killed (%s (%.*s))", s->nick, (int)len, len ? text : "");
  if (n < 0) return UVC_ENOMEM;
  if (target->adapter->remote) /* its own server closes it, and everyone sees it leave */
    return core->cluster != NULL
               ? core->cluster->kill(core->cluster_ud, target, why,
                                     (size_t)n < sizeof(why) ? (size_t)n : sizeof(why) - 1)
               : UVC_ENO_SUCH_NICK;
  uvc_core_request_close(core, target, UVC_LEAVE_KILLED, why,
                         (size_t)n < sizeof(why) ? (size_t)n : sizeof(why) - 1);
  return 0;
}

int uvc_core_wallops(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  render_cache_t rc;
  uvc_event_t ev;
  uint32_t i;
  if (!(s->umodes & UVC_USER_OPER)) return UVC_ENOT_SERVER_OPER;
  event_init(core, &ev, UVC_EV_WALLOPS, s, text, len);
  memset(&rc, 0, sizeof(rc));
  for (i = 0; i < core->nick_cap; i++) {
    uvc_session_t* m = core->nicks[i];
    if (m != NULL && (m->umodes & (UVC_USER_OPER | UVC_USER_WALLOPS))) deliver(core, &rc, &ev, m);
  }
  render_cache_free(&rc);
  return 0;
}

int uvc_core_rehash(uvc_core_t* core, uvc_session_t* s) {
  if (!(s->umodes & UVC_USER_OPER)) return UVC_ENOT_SERVER_OPER;
  if (core->on_rehash != NULL) core->on_rehash(core->admin_ud, s);
  return 0;
}

int uvc_core_die(uvc_core_t* core, uvc_session_t* s) {
  if (!(s->umodes & UVC_USER_OPER)) return UVC_ENOT_SERVER_OPER;
  if (core->on_die != NULL) core->on_die(core->admin_ud, s);
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Accounts and passwords
 * ---------------------------------------------------------------------------------------- */

void uvc_core_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, const char* name,
                   size_t nlen, const char* a, size_t alen, const char* b, size_t blen) {
  if (op == UVC_AUTH_OPER) {
    if (core->opers != NULL)
      core->opers->start(core->opers_ud, s, op, name, nlen, a, alen, b, blen);
    else if (s->adapter->on_auth != NULL)
      s->adapter->on_auth(core, s, op, UVC_EOPERS_UNAVAILABLE, NULL, NULL);
    return;
  }
  if (core->auth != NULL) {
    core->auth->start(core->auth_ud, s, op, name, nlen, a, alen, b, blen);
    return;
  }
  if (s->adapter->on_auth != NULL)
    s->adapter->on_auth(core, s, op, UVC_EAUTH_UNAVAILABLE, NULL,
                        uvc_strerror(UVC_EAUTH_UNAVAILABLE));
}

int uvc_core_rename_guest(uvc_core_t* core, uvc_session_t* s) {
  char guest[UVC_NICK_MAX + 1];
  size_t len = guest_nick(core, guest);
  return uvc_core_rename(core, s, guest, len);
}

int uvc_core_reclaim(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  uvc_session_t* holder = uvc_core_find(core, nick, len);
  const char* account = uvc_session_account(s);
  uvc_event_t ev;
  int err;
  if (!uvc_session_logged_in_as(s, nick, len)) return UVC_ENICK_REGISTERED;
  if (holder == NULL || holder == s) return 0;
  if ((err = uvc_core_rename_guest(core, holder)) != 0) return err;
  event_init(core, &ev, UVC_EV_RECLAIM, s, account, account != NULL ? strlen(account) : 0);
  uvc_event_who_of(core, holder, &ev.to);
  ev.same_account = (uint8_t)(uvc_session_logged_in_as(holder, nick, len) != 0);
  deliver_one(core, &ev, holder);
  return 0;
}

/* Tells the peers of a present s which account it is logged in to now (none: len 0). */
static void tell_account(uvc_core_t* core, uvc_session_t* s) {
  const char* account = uvc_session_account(s);
  uvc_event_t ev;
  if (!s->present) return;
  event_init(core, &ev, UVC_EV_ACCOUNT, s, account, account != NULL ? strlen(account) : 0);
  fanout_peers(core, s, &ev, 0);
  publish(core, s, &ev, NULL);
}

int uvc_core_set_account(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len) {
  const char* canon = uvc_core_registered(core, name, len);
  int err;
  if (canon != NULL) name = canon; /* the spelling it was registered with */
  if (len == 0 || len > UVC_NICK_MAX) return UVC_ENOMEM;
  if ((err = set_account(s, name, len)) != 0) return err;
  tell_account(core, s);
  if (keeps(core, s)) core->history->login(core->history_ud, s); /* answers later */
  return 0;
}

int uvc_core_take_account_nick(uvc_core_t* core, uvc_session_t* s) {
  const char* name = uvc_session_account(s);
  size_t len;
  int err;
  if (name == NULL || !s->present) return 0;
  len = strlen(name);
  if (uvc_name_eq(s->nick, s->nick_len, name, len)) return 0;
  if ((err = uvc_core_reclaim(core, s, name, len)) != 0) return err;
  return uvc_core_rename(core, s, name, len);
}

int uvc_core_login(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len) {
  int err = uvc_core_set_account(core, s, name, len);
  return err != 0 ? err : uvc_core_take_account_nick(core, s);
}

void uvc_core_forget_account(uvc_core_t* core, uvc_session_t* s) {
  set_account(s, NULL, 0);
  tell_account(core, s);
}

void uvc_core_logout(uvc_core_t* core, uvc_session_t* s) {
  set_account(s, NULL, 0);
  tell_account(core, s);
  if (s->present && registered_find(core, s->nick, s->nick_len) != NULL)
    (void)uvc_core_rename_guest(core, s);
}

int uvc_core_check_password(const uvc_core_t* core, const char* pw, size_t len) {
  const char* want = core->password;
  size_t n;
  unsigned diff;
  size_t i;
  if (want == NULL || pw == NULL) return 0;
  n = strlen(want);
  if (core->auth != NULL && core->auth->same_password != NULL)
    return core->auth->same_password(core->auth_ud, want, n, pw, len);
  /* every byte of what was given is compared, with no early exit */
  diff = (unsigned)(n ^ len);
  for (i = 0; i < len; i++)
    diff |= (unsigned char)pw[i] ^ (unsigned char)want[n > 0 ? i % n : 0];
  return n > 0 && diff == 0;
}

uint64_t uvc_core_address_wait(uvc_core_t* core, const uvc_session_t* s, int failed) {
  if (core->auth == NULL || core->auth->address_wait == NULL) return 0;
  return core->auth->address_wait(core->auth_ud, s, failed);
}

void uvc_core_send(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m) {
  uvc_msg_t* w;
  if (m == NULL) return;
  if (s->adapter->wrap == NULL) {
    core->hooks.deliver(core->ud, s, m);
    return;
  }
  if ((w = s->adapter->wrap(m)) == NULL) return;
  core->hooks.deliver(core->ud, s, w);
  uvc_msg_release(w);
}

void uvc_core_request_close(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                            size_t len) {
  core->hooks.request_close(core->ud, s, why, text, len);
}
