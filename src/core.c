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

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * Rendering once per wire format
 * ---------------------------------------------------------------------------------------- */

typedef struct {
  uvc_msg_t* m[UVC_FORMATS];
  uint8_t done[UVC_FORMATS];
} render_cache_t;

/* Hands ev, rendered in s's format (rendering it on first use), to s. */
static void deliver(uvc_core_t* core, render_cache_t* rc, const uvc_event_t* ev, uvc_session_t* s) {
  const uvc_adapter_t* a = s->adapter;
  unsigned f = a->format;
  if (!rc->done[f]) {
    rc->m[f] = a->render(ev);
    rc->done[f] = 1;
  }
  if (rc->m[f] != NULL) core->hooks.deliver(core->ud, s, rc->m[f]);
}

static void render_cache_free(render_cache_t* rc) {
  unsigned f;
  for (f = 0; f < UVC_FORMATS; f++)
    if (rc->m[f] != NULL) uvc_msg_release(rc->m[f]);
}

/* An event of type from `from`, with optional text; every other field empty. */
static void event_init(uvc_event_t* ev, uvc_event_type_t type, const uvc_session_t* from,
                       const char* text, size_t len) {
  memset(ev, 0, sizeof(*ev));
  ev->type = type;
  ev->from = from;
  ev->text = text;
  ev->len = len;
}

/* One event to one recipient. */
static void deliver_one(uvc_core_t* core, const uvc_event_t* ev, uvc_session_t* s) {
  render_cache_t rc;
  memset(&rc, 0, sizeof(rc));
  deliver(core, &rc, ev, s);
  render_cache_free(&rc);
}

/* Everyone in room but skip. */
static void fanout_room(uvc_core_t* core, uvc_room_t* room, const uvc_event_t* ev,
                        const uvc_session_t* skip) {
  render_cache_t rc;
  uvc_session_t** v = room->members;
  uint32_t i, n = room->n_members;
  memset(&rc, 0, sizeof(rc));
  for (i = 0; i < n; i++)
    if (v[i] != skip) deliver(core, &rc, ev, v[i]);
  render_cache_free(&rc);
}

/* A fresh epoch for marking recipients; on wrap-around every mark is cleared first. */
static uint32_t next_epoch(uvc_core_t* core) {
  if (++core->epoch == 0) {
    uvc_session_t *s, *tmp;
    HASH_ITER(hh, core->nicks, s, tmp) {
      s->mark = 0;
    }
    core->epoch = 1;
  }
  return core->epoch;
}

/* Everyone who shares a room with s, each once; s itself too when with_self. */
static void fanout_peers(uvc_core_t* core, uvc_session_t* s, const uvc_event_t* ev, int with_self) {
  render_cache_t rc;
  uint32_t epoch = next_epoch(core);
  uint16_t r;
  memset(&rc, 0, sizeof(rc));
  s->mark = epoch;
  if (with_self) deliver(core, &rc, ev, s);
  for (r = 0; r < s->n_rooms; r++) {
    uvc_room_t* room = s->rooms[r].room;
    uint32_t i;
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

static uvc_room_t* room_create(uvc_core_t* core, const char* name, size_t len) {
  uvc_room_t* room;
  if (len == 0 || len > UVC_ROOM_MAX) return NULL;
  room = calloc(1, sizeof(*room));
  if (room == NULL) return NULL;
  memcpy(room->name, name, len);
  room->name_len = (uint8_t)len;
  g_hash_oom = 0;
  HASH_ADD_KEYPTR(hh, core->rooms, room->name, room->name_len, room);
  if (g_hash_oom) {
    free(room);
    return NULL;
  }
  return room;
}

static void room_destroy(uvc_core_t* core, uvc_room_t* room) {
  HASH_DEL(core->rooms, room);
  free(room->members);
  free(room);
}

static int room_add(uvc_room_t* room, uvc_session_t* s) {
  if (room->n_members == room->cap_members) {
    uint32_t cap = room->cap_members ? room->cap_members * 2 : 8;
    uvc_session_t** v = realloc(room->members, cap * sizeof(*v));
    if (v == NULL) return UVC_ENOMEM;
    room->members = v;
    room->cap_members = cap;
  }
  if (s->n_rooms == s->cap_rooms) {
    uint16_t cap = s->cap_rooms ? (uint16_t)(s->cap_rooms * 2) : 1;
    uvc_membership_t* v = realloc(s->rooms, cap * sizeof(*v));
    if (v == NULL) return UVC_ENOMEM;
    s->rooms = v;
    s->cap_rooms = cap;
  }
  s->rooms[s->n_rooms].room = room;
  s->rooms[s->n_rooms].idx = room->n_members;
  s->n_rooms++;
  room->members[room->n_members++] = s;
  return 0;
}

/* The index in s->rooms of its membership of room, or -1. */
static int membership_of(const uvc_session_t* s, const uvc_room_t* room) {
  int r;
  for (r = 0; r < s->n_rooms; r++)
    if (s->rooms[r].room == room) return r;
  return -1;
}

/* Removes s's r-th membership; destroys the room when it empties (unless permanent). */
static void room_remove_at(uvc_core_t* core, uvc_session_t* s, int r) {
  uvc_room_t* room = s->rooms[r].room;
  uint32_t idx = s->rooms[r].idx;
  uvc_session_t* last = room->members[room->n_members - 1];
  room->members[idx] = last;
  if (last != s) last->rooms[membership_of(last, room)].idx = idx;
  room->n_members--;
  s->rooms[r] = s->rooms[s->n_rooms - 1];
  s->n_rooms--;
  if (room->n_members == 0 && !room->permanent) room_destroy(core, room);
}

/* ------------------------------------------------------------------------------------------
 * Sessions
 * ---------------------------------------------------------------------------------------- */

int uvc_core_init(uvc_core_t* core, const uvc_core_config_t* cfg, const uvc_core_hooks_t* hooks,
                  void* ud) {
  const char* room = cfg->default_room ? cfg->default_room : "#lobby";
  memset(core, 0, sizeof(*core));
  core->hooks = *hooks;
  core->ud = ud;
  core->max_line = cfg->max_line;
  core->scratch_cap = (size_t)cfg->max_line * 3 + 1024; /* a cleaned line and its prefix */
  core->scratch = malloc(core->scratch_cap);
  if (core->scratch == NULL) return UVC_ENOMEM;
  core->lobby = room_create(core, room, strlen(room));
  if (core->lobby == NULL) {
    free(core->scratch);
    return UVC_ENOMEM;
  }
  core->lobby->permanent = 1;
  return 0;
}

void uvc_core_free(uvc_core_t* core) {
  uvc_room_t *room, *tmp;
  assert(core->nicks == NULL);
  HASH_ITER(hh, core->rooms, room, tmp) {
    room_destroy(core, room);
  }
  free(core->scratch);
  core->scratch = NULL;
}

void uvc_session_init(uvc_session_t* s, const uvc_adapter_t* adapter) {
  memset(s, 0, sizeof(*s));
  s->adapter = adapter;
}

uvc_session_t* uvc_core_find(uvc_core_t* core, const char* nick, size_t len) {
  uvc_session_t* s = NULL;
  if (len == 0 || len > UVC_NICK_MAX) return NULL;
  HASH_FIND(hh, core->nicks, nick, len, s);
  return s;
}

/* Enters s into the nick table under nick[0..len). */
static int nick_add(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  memcpy(s->nick, nick, len);
  s->nick[len] = '\0';
  s->nick_len = (uint8_t)len;
  g_hash_oom = 0;
  HASH_ADD_KEYPTR(hh, core->nicks, s->nick, s->nick_len, s);
  return g_hash_oom ? UVC_ENOMEM : 0;
}

int uvc_core_arrive(uvc_core_t* core, uvc_session_t* s) {
  char nick[UVC_NICK_MAX + 1];
  int n, err;
  uvc_event_t ev;
  assert(!s->present);
  do {
    n = snprintf(nick, sizeof(nick), "guest%u", (unsigned)++core->guest_seq);
  } while (uvc_core_find(core, nick, (size_t)n) != NULL);
  if ((err = nick_add(core, s, nick, (size_t)n)) != 0) return err;
  if ((err = room_add(core->lobby, s)) != 0) {
    HASH_DEL(core->nicks, s);
    return err;
  }
  s->present = 1;
  core->n_present++;
  event_init(&ev, UVC_EV_ARRIVE, s, NULL, 0);
  ev.room = core->lobby;
  fanout_room(core, core->lobby, &ev, s);
  return 0;
}

void uvc_core_leave(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                    size_t len) {
  if (!s->present) return;
  if (!core->stopping) {
    uvc_event_t ev;
    event_init(&ev, UVC_EV_LEAVE, s, text, len);
    ev.reason = why;
    fanout_peers(core, s, &ev, 0);
  }
  while (s->n_rooms > 0)
    room_remove_at(core, s, s->n_rooms - 1);
  free(s->rooms);
  s->rooms = NULL;
  s->cap_rooms = 0;
  HASH_DEL(core->nicks, s);
  s->present = 0;
  core->n_present--;
}

static int room_event(uvc_core_t* core, uvc_session_t* s, uvc_event_type_t type, const char* text,
                      size_t len) {
  uvc_event_t ev;
  uvc_room_t* room = uvc_session_room(s);
  if (room == NULL) return UVC_ENO_ROOM;
  event_init(&ev, type, s, text, len);
  ev.room = room;
  fanout_room(core, room, &ev, s);
  return 0;
}

int uvc_core_say(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  return room_event(core, s, UVC_EV_SAY, text, len);
}

int uvc_core_act(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len) {
  return room_event(core, s, UVC_EV_ACTION, text, len);
}

int uvc_core_whisper(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                     const char* text, size_t len, uvc_session_t** to) {
  uvc_event_t ev;
  uvc_session_t* t = uvc_core_find(core, target, tlen);
  if (to != NULL) *to = t;
  if (t == NULL) return UVC_ENO_SUCH_NICK;
  event_init(&ev, UVC_EV_PRIVATE, s, text, len);
  ev.to = t;
  deliver_one(core, &ev, t);
  return 0;
}

int uvc_core_rename(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len) {
  char old[UVC_NICK_MAX + 1];
  size_t old_len = s->nick_len;
  uvc_session_t* other;
  uvc_event_t ev;
  int err;
  if (!uvc_nick_valid(nick, len)) return UVC_ENICK_INVALID;
  if (len == s->nick_len && memcmp(nick, s->nick, len) == 0) return UVC_ENICK_SAME;
  other = uvc_core_find(core, nick, len);
  if (other != NULL && other != s) return UVC_ENICK_TAKEN;
  memcpy(old, s->nick, old_len + 1);
  HASH_DEL(core->nicks, s);
  if ((err = nick_add(core, s, nick, len)) != 0) {
    (void)nick_add(core, s, old, old_len); /* the old key fits: its bucket slot was freed */
    return err;
  }
  event_init(&ev, UVC_EV_NICK, s, NULL, 0);
  ev.old_nick = old;
  ev.old_len = old_len;
  fanout_peers(core, s, &ev, 1);
  if (core->hooks.observe != NULL) core->hooks.observe(core->ud, &ev);
  return 0;
}

void uvc_core_announce(uvc_core_t* core, const char* text, size_t len) {
  render_cache_t rc;
  uvc_event_t ev;
  uvc_session_t *s, *tmp;
  event_init(&ev, UVC_EV_ANNOUNCE, NULL, text, len);
  memset(&rc, 0, sizeof(rc));
  HASH_ITER(hh, core->nicks, s, tmp) {
    deliver(core, &rc, &ev, s);
  }
  render_cache_free(&rc);
}

void uvc_core_send(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m) {
  if (m != NULL) core->hooks.deliver(core->ud, s, m);
}

void uvc_core_request_close(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                            size_t len) {
  core->hooks.request_close(core->ud, s, why, text, len);
}
