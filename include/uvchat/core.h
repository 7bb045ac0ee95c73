/* core.h: the chat itself: sessions, nicks, rooms and who receives what.
 *
 * The core knows nothing of sockets or wire formats. A session is one person, embedded in
 * whatever object carries their connection; its adapter renders events in that person's
 * wire format. The core decides who receives an event, has each recipient's adapter render
 * it (once per wire format per event) and hands the shared message to hooks.deliver.
 *
 * Every function runs on the loop thread. Nothing here frees a session: the owner of the
 * connection does that after uvc_core_leave().
 */
#ifndef UVCHAT_CORE_H
#define UVCHAT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "uvchat/msg.h"
#include "uvchat/names.h"

#define UVC_ROOM_MAX UVC_ROOM_NAME_MAX
#define UVC_FORMATS  4 /* wire formats a broadcast may be rendered in */

/* Core error codes: 0 is success, every error is negative. */
#define UVC_ERRNO_MAP(X)                              \
  X(NOMEM, -1, "out of memory")                       \
  X(NICK_INVALID, -2, "that is not a valid nick")     \
  X(NICK_TAKEN, -3, "that nick is already taken")     \
  X(NICK_SAME, -4, "that is already your nick")       \
  X(NO_SUCH_NICK, -5, "there is nobody by that name") \
  X(NO_ROOM, -6, "you are not in a room")

typedef enum {
#define X(name, code, text) UVC_E##name = code,
  UVC_ERRNO_MAP(X)
#undef X
} uvc_err_t;

/* A short description of a core error code. */
const char* uvc_strerror(int err);

/* Why someone left. The adapters say it in their own words. */
typedef enum {
  UVC_LEAVE_QUIT = 0, /* they asked to, maybe with a reason */
  UVC_LEAVE_CLOSED,   /* their connection ended (EOF) */
  UVC_LEAVE_LOST,     /* a network error (reset, timeout) */
  UVC_LEAVE_SENDQ,    /* dropped: they did not read what was sent to them */
  UVC_LEAVE_INPUT,    /* dropped: too much unprocessed input */
  UVC_LEAVE_IDLE,     /* dropped: idle or registration timeout */
  UVC_LEAVE_SHUTDOWN  /* the server is stopping */
} uvc_leave_t;

typedef enum {
  UVC_EV_SAY,     /* from says text to room */
  UVC_EV_ACTION,  /* from acts (/me) in room */
  UVC_EV_PRIVATE, /* from says text to `to` alone */
  UVC_EV_ARRIVE,  /* from joined room */
  UVC_EV_LEAVE,   /* from left the chat (reason, text) */
  UVC_EV_NICK,    /* from, formerly old_nick, changed name */
  UVC_EV_ANNOUNCE /* the server says text to everyone */
} uvc_event_type_t;

typedef struct uvc_session uvc_session_t;
typedef struct uvc_room uvc_room_t;

typedef struct uvc_event {
  uvc_event_type_t type;
  const uvc_session_t* from;
  const uvc_session_t* to;
  const uvc_room_t* room;
  const char* text; /* cleaned UTF-8, not NUL-terminated */
  size_t len;
  const char* old_nick;
  size_t old_len;
  uvc_leave_t reason;
} uvc_event_t;

/* What the core needs from a wire format. The same struct carries the adapter's entry
 * points for its connection layer, which the core never calls. */
typedef struct uvc_core uvc_core_t;
typedef struct uvc_adapter {
  const char* name;
  unsigned format; /* slot for the once-per-format render cache, < UVC_FORMATS */
  unsigned telnet; /* strip telnet negotiation from this format's input */
  /* Renders an event for one of this adapter's sessions: a new message with one
   * reference, or NULL when this format shows nothing for the event. The result must not
   * depend on the recipient: it is shared by every recipient with this adapter. */
  uvc_msg_t* (*render)(const uvc_event_t* ev);
  /* Connection entry points. */
  void (*on_open)(uvc_core_t* core, uvc_session_t* s);
  void (*on_line)(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len);
  void (*on_toolong)(uvc_core_t* core, uvc_session_t* s);
} uvc_adapter_t;

typedef struct uvc_membership {
  uvc_room_t* room;
  uint32_t idx; /* position in room->members */
} uvc_membership_t;

struct uvc_session {
  const uvc_adapter_t* adapter;
  UT_hash_handle hh;       /* in core->nicks while present */
  uvc_membership_t* rooms; /* the rooms this session is in */
  uint16_t n_rooms;
  uint16_t cap_rooms;
  uint32_t mark;   /* de-duplicates recipients of a multi-room event */
  uint8_t present; /* has a nick and is visible to others */
  uint8_t nick_len;
  char nick[UVC_NICK_MAX + 1];
};

struct uvc_room {
  UT_hash_handle hh;
  uvc_session_t** members;
  uint32_t n_members;
  uint32_t cap_members;
  uint8_t name_len;
  uint8_t permanent; /* the default room stays when empty */
  char name[UVC_ROOM_MAX + 1];
};

typedef struct uvc_core_hooks {
  /* Queue m for s. The callee takes its own reference if it keeps m. */
  void (*deliver)(void* ud, uvc_session_t* s, uvc_msg_t* m);
  /* The session's adapter asks to end the session (for example /quit): the owner of the
   * connection should call uvc_core_leave() soon (not from inside this call) and close. */
  void (*request_close)(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text, size_t len);
  /* Optional: told of every name change after it happened (for the log). */
  void (*observe)(void* ud, const uvc_event_t* ev);
} uvc_core_hooks_t;

typedef struct uvc_core_config {
  const char* default_room; /* "#lobby" */
  uint32_t max_line;        /* the longest line an adapter hands to the core */
} uvc_core_config_t;

struct uvc_core {
  uvc_core_hooks_t hooks;
  void* ud;
  uvc_session_t* nicks; /* uthash head: present sessions by nick, case-insensitive */
  uvc_room_t* rooms;    /* uthash head: rooms by name, case-insensitive */
  uvc_room_t* lobby;
  uint32_t epoch;
  uint32_t guest_seq;
  uint32_t n_present;
  uint8_t stopping; /* shutting down: nobody announces leaving */
  char* scratch;    /* adapters clean and format lines here */
  size_t scratch_cap;
  uint32_t max_line;
};

int uvc_core_init(uvc_core_t* core, const uvc_core_config_t* cfg, const uvc_core_hooks_t* hooks,
                  void* ud);
/* Frees the core's rooms and tables. Every session must have left. */
void uvc_core_free(uvc_core_t* core);

/* Prepares a session (not yet present) for an adapter. */
void uvc_session_init(uvc_session_t* s, const uvc_adapter_t* adapter);

/* Makes a session present under a fresh guest nick (guest1, guest2 ...) in the default
 * room, announcing the arrival to the room. */
int uvc_core_arrive(uvc_core_t* core, uvc_session_t* s);

/* Ends a session's presence: tells everyone who shares a room with it why it left (unless
 * the server is stopping), and removes it from rooms and the nick table. Safe to call on a
 * session that is not present. */
void uvc_core_leave(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                    size_t len);

/* Says text (clean UTF-8) to everyone else in the session's room. */
int uvc_core_say(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);
/* An action (/me) to everyone else in the session's room. */
int uvc_core_act(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);
/* A private message to the session whose nick is target. Sets *to to the recipient. */
int uvc_core_whisper(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                     const char* text, size_t len, uvc_session_t** to);
/* Renames a session; tells it and everyone who shares a room with it. */
int uvc_core_rename(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* The present session with that nick (any case), or NULL. */
uvc_session_t* uvc_core_find(uvc_core_t* core, const char* nick, size_t len);
/* Sends text as a server announcement to every present session. */
void uvc_core_announce(uvc_core_t* core, const char* text, size_t len);

/* Hands m to hooks.deliver for s (a reply from an adapter). Does not consume m. */
void uvc_core_send(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m);
/* Asks the owner to end the session (see hooks.request_close). */
void uvc_core_request_close(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                            size_t len);

/* The room a text session talks in: its first room, or NULL. */
static inline uvc_room_t* uvc_session_room(const uvc_session_t* s) {
  return s->n_rooms > 0 ? s->rooms[0].room : NULL;
}

#endif
