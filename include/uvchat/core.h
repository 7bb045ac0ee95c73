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

#include "uvchat/msg.h"
#include "uvchat/names.h"

#define UVC_ROOM_MAX       UVC_ROOM_NAME_MAX
#define UVC_USER_MAX       10  /* the user part of nick!user@host */
#define UVC_TOPIC_MAX      390 /* bytes of a room topic */
#define UVC_AWAY_MAX       200 /* bytes of an away message */
#define UVC_REASON_MAX     300 /* bytes of a quit, part or kick reason */
#define UVC_ROOMS_PER_USER 20
#define UVC_REALNAME_MAX   64   /* bytes of a real name (IRC's USER and SETNAME) */
#define UVC_WHOWAS_MAX     1000 /* departed nicks the core remembers (WHOWAS) */
#define UVC_WATCH_MAX      100  /* nicks one session may watch (IRC MONITOR) */
#define UVC_FORMATS        4    /* wire formats a broadcast may be rendered in */
/* Each format may render an event in up to UVC_VARIANTS ways (IRC: one per combination of
 * capabilities in use, such as server-time or message tags); a session's render slot is
 * format + UVC_FORMATS * variant. Variant 0 is the format's plain rendering (adapter.render);
 * the last variant, UVC_VARIANT_OWN, is rendered for its recipient alone and never shared. */
#define UVC_VARIANTS    16
#define UVC_VARIANT_OWN (UVC_VARIANTS - 1)
/* The scratch buffer holds a cleaned line of at least this many bytes, whatever the text
 * line limit: an IRC line may carry 8191 bytes of tags before its 512 bytes. */
#define UVC_LINE_FLOOR 8704

/* Core error codes: 0 is success, every error is negative. */
#define UVC_ERRNO_MAP(X)                                                                 \
  X(NOMEM, -1, "out of memory")                                                          \
  X(NICK_INVALID, -2, "that is not a valid nick")                                        \
  X(NICK_TAKEN, -3, "that nick is already taken")                                        \
  X(NICK_SAME, -4, "that is already your nick")                                          \
  X(NO_SUCH_NICK, -5, "there is nobody by that name")                                    \
  X(NO_ROOM, -6, "you are not in a room")                                                \
  X(ROOM_INVALID, -7, "that is not a valid room name")                                   \
  X(NO_SUCH_ROOM, -8, "there is no such room")                                           \
  X(NOT_IN_ROOM, -9, "you are not in that room")                                         \
  X(ALREADY_IN_ROOM, -10, "you are already in that room")                                \
  X(TOO_MANY_ROOMS, -11, "you are in too many rooms")                                    \
  X(NOT_OPERATOR, -12, "you are not an operator of that room")                           \
  X(CANNOT_SEND, -13, "that room only takes messages from members")                      \
  X(TARGET_NOT_IN_ROOM, -14, "they are not in that room")                                \
  X(NOT_PRESENT, -15, "you have not registered yet")                                     \
  X(NICK_REGISTERED, -16, "that nick belongs to a registered account")                   \
  X(NICK_RESERVED, -17, "that nick is reserved for the server's services")               \
  X(AUTH_UNAVAILABLE, -18, "accounts are not available on this server")                  \
  X(AUTH_BUSY, -19, "an account operation is already under way")                         \
  X(AUTH_FAILED, -20, "wrong password, or no such account")                              \
  X(AUTH_THROTTLED, -21, "too many failed attempts; try again later")                    \
  X(AUTH_BAD_PASSWORD, -22, "that password is not acceptable")                           \
  X(AUTH_EXISTS, -23, "that name is already registered")                                 \
  X(AUTH_NOT_LOGGED_IN, -24, "you are not logged in")                                    \
  X(AUTH_LOGGED_IN, -25, "you are already logged in")                                    \
  X(AUTH_INVALID, -26, "that is not a valid account name")                               \
  X(AUTH_OVERLOADED, -27, "the server is too busy; try again in a moment")               \
  X(AUTH_ERROR, -28, "the account database failed; try again later")                     \
  X(WATCH_FULL, -29, "you are watching too many nicks")                                  \
  X(BANNED, -30, "you are banned from that room")                                        \
  X(INVITE_ONLY, -31, "that room is invite-only: an operator must invite you")           \
  X(BAD_KEY, -32, "that room needs the right key")                                       \
  X(ROOM_FULL, -33, "that room is full")                                                 \
  X(MODERATED, -34, "that room is moderated: only voiced people and operators may talk") \
  X(LIST_FULL, -35, "that list is full")                                                 \
  X(TARGET_IN_ROOM, -36, "they are already in that room")                                \
  X(KEY_INVALID, -37, "that is not a valid key")                                         \
  X(NOT_SERVER_OPER, -38, "you are not a server operator")                               \
  X(OPER_UNAVAILABLE, -39, "no server operator by that name")                            \
  X(OPER_FAILED, -40, "wrong operator password")                                         \
  X(OPERS_UNAVAILABLE, -41, "server operators are not available on this server")         \
  X(HISTORY_UNAVAILABLE, -42, "history is not kept on this server")                      \
  X(HISTORY_OFF, -43, "that room keeps no history")                                      \
  X(CLUSTER_DOWN, -44, "the cluster is unreachable: that needs it; try again when it is back")

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
  UVC_LEAVE_SHUTDOWN, /* the server is stopping */
  UVC_LEAVE_REFUSED,  /* turned away at the door (limits); never present */
  UVC_LEAVE_KILLED,   /* removed by a server operator (text: "Killed (oper (reason))") */
  UVC_LEAVE_SERVER    /* their server left the cluster or could not be reached (text: which
                         and why, "server two went away"); a ghost's leaving only */
} uvc_leave_t;

/* Room modes (a concept, not IRC letters: the IRC adapter maps them to letters). */
enum {
  UVC_ROOM_MEMBERS_ONLY = 1, /* only members may talk to the room (IRC +n) */
  UVC_ROOM_TOPIC_LOCKED = 2, /* only operators may set the topic (IRC +t) */
  UVC_ROOM_INVITE_ONLY = 4,  /* only the invited (or on the invite list) may join (IRC +i) */
  UVC_ROOM_MODERATED = 8,    /* only voiced members and operators may talk (IRC +m) */
  UVC_ROOM_SECRET = 16,      /* hidden from room lists and WHOIS of non-members (IRC +s) */
  UVC_ROOM_KEY = 32,         /* joining needs room->key (IRC +k); set with uvc_core_set_key */
  UVC_ROOM_LIMIT = 64,       /* at most room->limit members (IRC +l); uvc_core_set_limit */
  UVC_ROOM_NO_HISTORY = 128  /* its events are not kept, its history is not read (IRC +H) */
};
/* The modes uvc_core_set_modes changes (the key and the limit carry a value). */
#define UVC_ROOM_FLAG_MODES                                                                    \
  (UVC_ROOM_MEMBERS_ONLY | UVC_ROOM_TOPIC_LOCKED | UVC_ROOM_INVITE_ONLY | UVC_ROOM_MODERATED | \
   UVC_ROOM_SECRET | UVC_ROOM_NO_HISTORY)

/* Membership flags. */
enum {
  UVC_MEMBER_OP = 1,   /* a room operator: changes modes, kicks, bans, invites (IRC @) */
  UVC_MEMBER_VOICE = 2 /* may talk in a moderated room, and despite a ban (IRC +) */
};

/* A room's mask lists. */
typedef enum {
  UVC_LIST_BAN = 1,   /* who may neither join nor talk (IRC +b) */
  UVC_LIST_INVITE = 2 /* who may join an invite-only room without an invitation (IRC +I) */
} uvc_room_list_kind_t;
#define UVC_LIST_MAX 50  /* masks per list */
#define UVC_MASK_MAX 100 /* bytes of a mask nick!user@host */
#define UVC_KEY_MAX  23  /* bytes of a room key */
#define UVC_INVITES  8   /* pending invitations a session keeps (the oldest goes first) */

/* One entry of a mask list: the mask, who set it and when. */
typedef struct uvc_mask {
  char* mask; /* NUL-terminated, normalised nick!user@host */
  int64_t at; /* wall-clock seconds */
  char by[UVC_NICK_MAX + 1];
} uvc_mask_t;

typedef struct uvc_mask_list {
  uvc_mask_t* v;
  uint16_t n;
  uint16_t cap;
} uvc_mask_list_t;

/* User modes (a byte of the session). */
enum {
  UVC_USER_OPER = 1,     /* a server operator: KILL, WALLOPS, REHASH, DIE (IRC +o) */
  UVC_USER_WALLOPS = 2,  /* hears operators' wallops (IRC +w; operators always do) */
  UVC_USER_INVISIBLE = 4 /* left out of lists of people who share no room with the viewer
                            (IRC +i); set with uvc_core_set_invisible, which counts them */
};

typedef enum {
  UVC_EV_SAY,      /* from says text to room (notice: as a notice) */
  UVC_EV_ACTION,   /* from acts (/me) in room */
  UVC_EV_PRIVATE,  /* from says text to `to` alone (notice: as a notice) */
  UVC_EV_ARRIVE,   /* from joined room */
  UVC_EV_PART,     /* from left room (text: the reason) */
  UVC_EV_LEAVE,    /* from left the chat (reason, text) */
  UVC_EV_NICK,     /* from, formerly old_nick, changed name */
  UVC_EV_TOPIC,    /* from set the topic of room to text (empty: cleared) */
  UVC_EV_KICK,     /* from removed `to` from room (text: the reason) */
  UVC_EV_MODE,     /* from changed room's modes (mode_on, mode_off; the key in text, the limit
                      in limit), `to`'s membership flags (UVC_MEMBER_* in mode_on/mode_off), or
                      a mask list (list: which; text: the mask; mode_on 1 added, mode_off 1 removed) */
  UVC_EV_ANNOUNCE, /* the server says text to everyone */
  UVC_EV_INVITE,   /* from invites `to` (the recipient) to room */
  UVC_EV_WALLOPS,  /* server operator from says text to operators and wallops listeners */
  UVC_EV_AWAY,     /* from went away (text: the message) or came back (len 0); to its peers */
  UVC_EV_ACCOUNT,  /* from logged in to account text, or out (len 0); to its peers */
  UVC_EV_TAGMSG,   /* from sent only tags (tags) to room, or to `to` alone */
  UVC_EV_RECLAIM,  /* to (the recipient alone) held the nick of account text, whose owner
                      from logged in: to was renamed to to.nick (same_account: to was logged
                      in to that account too, from another connection) */
  UVC_EV_INVITED,  /* from invited `to` to room: to the members who may invite themselves
                      (IRC invite-notify; formats without such a notice show nothing) */
  UVC_EV_REALNAME  /* from's real name is now text; to from and its peers (IRC setname;
                      formats without real names show nothing) */
} uvc_event_type_t;

typedef struct uvc_session uvc_session_t;
typedef struct uvc_room uvc_room_t;

/* Account operations an adapter can ask for. The slow parts (Argon2id, SQLite) run off the
 * loop; the answer comes back later through the adapter's on_auth entry point. */
typedef enum {
  UVC_AUTH_REGISTER,   /* register the session's nick with password a */
  UVC_AUTH_LOGIN,      /* log in as account `name` with password a */
  UVC_AUTH_LOGOUT,     /* log out */
  UVC_AUTH_PASSWD,     /* change the password from a to b */
  UVC_AUTH_UNREGISTER, /* delete the account the session is logged in to (password a) */
  UVC_AUTH_OPER        /* become server operator `name` with password a (core->opers) */
} uvc_auth_op_t;

typedef struct uvc_auth_ops {
  /* Starts op for s (see uvc_core_auth). The answer always comes through
   * s->adapter->on_auth, exactly once: from inside this call when the operation is refused
   * at once or needs no waiting (a logout), else later from the loop. */
  void (*start)(void* ud, uvc_session_t* s, uvc_auth_op_t op, const char* name, size_t nlen,
                const char* a, size_t alen, const char* b, size_t blen);
  /* s is about to be freed: forget every request it has in flight. */
  void (*forget)(void* ud, uvc_session_t* s);
  /* The login throttle of s's address, for checks made on the loop (the server password):
   * with failed set, records a failed attempt first. Returns 0 when the address may try
   * now, else the milliseconds until it may. */
  uint64_t (*address_wait)(void* ud, const uvc_session_t* s, int failed);
  /* Optional: 1 when pw[0..len) is the secret want[0..wlen) (the server password), compared
   * in constant time; the core compares byte by byte without it. */
  int (*same_password)(void* ud, const char* want, size_t wlen, const char* pw, size_t len);
} uvc_auth_ops_t;

#define UVC_HOST_MAX 63 /* bytes of the host of nick!user@host (a server name) */

/* Someone as an event shows them: copied from their session when the event is made, so that
 * the event renders the same after they left (from history) or where they never were (from
 * another server). */
typedef struct uvc_event_who {
  const struct uvc_adapter* adapter; /* the wire format they used (a static table), or NULL */
  uint8_t nick_len;                  /* 0: nobody (an announcement has no sender) */
  uint8_t user_len;
  uint8_t host_len;
  char nick[UVC_NICK_MAX + 1];
  char user[UVC_USER_MAX + 1];
  char host[UVC_HOST_MAX + 1];    /* the host shown (hosts are never shown: a server name) */
  char account[UVC_NICK_MAX + 1]; /* the account they were logged in to, or "" */
} uvc_event_who_t;

/* An event is a value: everything a rendering needs is in it (or, for the text and the tags,
 * in bytes its maker keeps for as long as the event is used), never a pointer to a live
 * session or room. The core makes one on its stack for each fan-out; a history can copy it
 * and render it again later. */
typedef struct uvc_event {
  uvc_event_type_t type;
  uvc_leave_t reason;
  const char* text; /* cleaned UTF-8, not NUL-terminated; may hold IRC formatting codes */
  size_t len;
  /* Tags a client attached for the others (IRCv3 client-only tags, "+key=value;..." as on
   * the wire, without '@'), or NULL. Only formats that carry tags show them. */
  const char* tags;
  size_t tags_len;
  /* Set once by the core when the event is made, so that every recipient, every format and
   * the history see the same: a message id unique to this server, also across restarts,
   * and the wall-clock time in milliseconds. */
  uint64_t id;
  int64_t time_ms;
  uint32_t limit;       /* MODE: the new limit, with UVC_ROOM_LIMIT in mode_on */
  uint8_t notice;       /* SAY/PRIVATE: a notice, which nobody answers automatically */
  uint8_t mode_on;      /* MODE: room modes set (UVC_ROOM_*), or UVC_MEMBER_OP given to `to` */
  uint8_t mode_off;     /* MODE: room modes cleared, or UVC_MEMBER_OP taken from `to` */
  uint8_t list;         /* MODE: the mask list changed (uvc_room_list_kind_t), or 0 */
  uint8_t room_len;     /* 0: no room */
  uint8_t old_len;      /* NICK: the length of old_nick */
  uint8_t has_realname; /* ARRIVE: realname is the sender's (else their format has none) */
  uint8_t same_account; /* RECLAIM: see UVC_EV_RECLAIM */
  uint8_t room_modes;   /* the room's modes (UVC_ROOM_*) when the event was made */
  uvc_event_who_t from; /* who did it (nick_len 0 for the server) */
  uvc_event_who_t to;   /* PRIVATE, KICK, MODE of a member, INVITE, TAGMSG to one: whom */
  char room[UVC_ROOM_MAX + 1];
  char old_nick[UVC_NICK_MAX + 1];     /* NICK: the name before */
  char realname[UVC_REALNAME_MAX + 1]; /* ARRIVE: the sender's real name (see has_realname) */
} uvc_event_t;

/* Whether ev has a sender (every event but an announcement). */
static inline int uvc_event_has_from(const uvc_event_t* ev) {
  return ev->from.nick_len > 0;
}

/* What a rendering may depend on besides the event: the rendering server and, for a render
 * variant, what the variant means. The core makes one per rendering; a history or a test
 * makes its own. */
typedef struct uvc_render_ctx {
  const char* server_name; /* how the rendering server calls itself (NUL-terminated) */
  size_t server_len;
  unsigned flags; /* the variant's flags (uvc_core_variant); 0 for variant 0 */
} uvc_render_ctx_t;

/* What the core needs from a wire format. The same struct carries the adapter's entry
 * points for its connection layer, which the core never calls. */
typedef struct uvc_core uvc_core_t;
typedef struct uvc_history_query uvc_history_query_t; /* see below */
typedef struct uvc_adapter {
  const char* name;
  unsigned format;      /* slot for the once-per-format render cache, < UVC_FORMATS */
  unsigned telnet;      /* strip telnet negotiation from this format's input */
  unsigned single_room; /* its users are in exactly one room: a kick returns them to the
                           default room */
  uint32_t max_line;    /* the longest line its clients may send (0: the server setting) */
  /* Renders an event for one of this adapter's sessions: a new message with one
   * reference, or NULL when this format shows nothing for the event. The result must not
   * depend on the recipient: it is shared by every recipient with this adapter. */
  uvc_msg_t* (*render)(const uvc_event_t* ev, const uvc_render_ctx_t* ctx);
  /* Connection entry points. */
  void (*on_open)(uvc_core_t* core, uvc_session_t* s);
  void (*on_line)(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len);
  void (*on_toolong)(uvc_core_t* core, uvc_session_t* s);
  /* The connection has been quiet for a while (optional; IRC sends a PING). */
  void (*on_idle)(uvc_core_t* core, uvc_session_t* s);
  /* The server is about to close the connection for why (a timeout, too much input):
   * tell the client (optional). text is a short explanation. */
  void (*on_farewell)(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text);
  /* Frees the adapter's per-session state (optional), after the session left. */
  void (*on_free)(uvc_core_t* core, uvc_session_t* s);
  /* The answer to an account operation it started, or the news that s was logged out
   * (op UVC_AUTH_LOGOUT with status 0 when someone deleted the account). status is 0 or a
   * negative code; account is the account concerned (NULL when there is none); detail is a
   * short human explanation of a failure (one line, no final period), or an optional note
   * on a success, or NULL. Optional where no operation is ever started. */
  void (*on_auth)(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, int status,
                  const char* account, const char* detail);
  /* Flood control is holding back the client's lines: they go out at per_second lines a
   * second from now on, none is lost. Tell the client (optional). Called once per episode:
   * again only after the client kept under the rate long enough to earn its whole burst. */
  void (*on_slowed)(uvc_core_t* core, uvc_session_t* s, unsigned per_second);
  /* A nick s watches (uvc_core_watch) came online (who is the session now using it) or went
   * offline (who NULL): nick[0..len) is the nick as it was or is now spelt. Optional. */
  void (*on_watch)(uvc_core_t* core, uvc_session_t* s, const uvc_session_t* who, const char* nick,
                   size_t len);
  /* The real name of one of its sessions (for the nick history), or NULL. Optional. */
  const char* (*realname)(const uvc_session_t* s);
  /* Renders an event in variant v (1 .. UVC_VARIANT_OWN) for sessions whose render slot
   * says so (optional: formats without variants leave it NULL and keep every slot at
   * variant 0). ctx->flags are the variant's flags (uvc_core_variant), 0 for
   * UVC_VARIANT_OWN. The result may depend on the recipient s only for UVC_VARIANT_OWN. */
  uvc_msg_t* (*render_variant)(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                               const uvc_session_t* s, unsigned v);
  /* Optional: turns a message sent to one session alone (uvc_core_send) into what goes on its
   * wire, a new message with one reference (IRC over WebSocket: one frame per line). The
   * adapter's render already returns wire-ready messages. */
  uvc_msg_t* (*wrap)(const uvc_msg_t* m);
  /* The answer to a history read it started (uvc_core_history): status 0 and the events
   * ev[0..n), oldest first, valid only during the call, or a negative code and none. For
   * UVC_HQ_TARGETS each event names a conversation in ev.room (a room, or a nick) with the
   * time of its latest event. Optional where no read is ever started. */
  void (*on_history)(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q, int status,
                     const uvc_event_t* ev, size_t n);
  /* Its sessions are ghosts of another server's users (a cluster, include/uvchat/cluster.h):
   * the core checks no permission of theirs (their server did), records none of their events
   * in the history and asks the cluster to publish none. Last, so that the positional
   * tables of the other adapters leave it 0. */
  unsigned remote;
} uvc_adapter_t;

typedef struct uvc_membership {
  uvc_room_t* room;
  uint32_t idx;   /* position in room->members */
  uint32_t flags; /* UVC_MEMBER_* */
} uvc_membership_t;

/* The parts of a session that most people never use, allocated on first need: memberships
 * past the first room, an away message, a logged-in account. */
typedef struct uvc_session_extra {
  uvc_membership_t* more; /* rooms after the first */
  uint16_t cap_more;
  char* away;                  /* the away message (NUL-terminated), or NULL */
  char* account;               /* the account it is logged in to (NUL-terminated), or NULL */
  struct uvc_watch** watching; /* the nicks it watches (uvc_core_watch) */
  uint16_t n_watching, cap_watching;
  char (*invites)[UVC_ROOM_MAX + 1]; /* rooms it was invited to (UVC_INVITES), or NULL */
  uint8_t n_invites;
  uint8_t next_invite;         /* the slot the next invitation takes once all are used */
  char oper[UVC_NICK_MAX + 1]; /* the operator name it opered up as, or "" */
} uvc_session_extra_t;

struct uvc_session {
  /* Ordered by size, no holes: 10,000 idle people are mostly their sessions. */
  const uvc_adapter_t* adapter;
  void* proto;            /* the adapter's own state for this session, or NULL */
  uvc_membership_t room0; /* the first room, inline: a text user is in one room */
  uvc_session_extra_t* x; /* see uvc_session_extra_t; NULL until needed */
  const char* user;       /* shown as nick!user@host; the adapter's string ("text") */
  uint32_t nick_hash;     /* uvc_name_hash of the nick, while present (the nick table) */
  uint32_t mark;          /* de-duplicates recipients of a multi-room event */
  uint8_t n_rooms;        /* at most UVC_ROOMS_PER_USER */
  uint8_t present;        /* has a nick and is visible to others */
  uint8_t bad_passwords;  /* wrong server passwords given so far (text users) */
  uint8_t unseen;         /* not announced yet: has not shown it is a person (uvc_core_reveal) */
  uint8_t nick_len;
  uint8_t umodes; /* UVC_USER_* */
  uint8_t slot;   /* render slot: adapter->format + UVC_FORMATS * variant (see UVC_VARIANTS) */
  char nick[UVC_NICK_MAX + 1];
};

/* The away message of s, or NULL. */
static inline const char* uvc_session_away(const uvc_session_t* s) {
  return s->x != NULL ? s->x->away : NULL;
}
/* The account s is logged in to, or NULL. */
static inline const char* uvc_session_account(const uvc_session_t* s) {
  return s->x != NULL ? s->x->account : NULL;
}

typedef struct uvc_registered uvc_registered_t;

struct uvc_room {
  uvc_session_t** members;
  uint32_t n_members;
  uint32_t cap_members;
  int64_t created;   /* wall-clock seconds */
  uint64_t since_id; /* the id of the first event made after it was created: earlier events
                        were another room of the same name (history keeps them apart) */
  int64_t topic_at;  /* when the topic was set */
  char* topic;       /* NUL-terminated, or NULL */
  uint8_t name_len;
  uint8_t permanent; /* the default room stays when empty */
  uint8_t modes;     /* UVC_ROOM_* */
  uint32_t limit;    /* with UVC_ROOM_LIMIT: members at most */
  char* key;         /* with UVC_ROOM_KEY: the key (NUL-terminated), else NULL */
  uvc_mask_list_t bans;
  uvc_mask_list_t invex;
  char name[UVC_ROOM_MAX + 1];
  char topic_by[UVC_NICK_MAX + 1];
};

/* Whether viewer may know that room exists (room lists, WHOIS): a secret room only to its
 * members. */
int uvc_room_visible(const uvc_room_t* room, const uvc_session_t* viewer);

typedef struct uvc_core_hooks {
  /* Optional: an account operation took `seconds` from its start to its answer (metrics). */
  void (*auth_done)(void* ud, double seconds);
  /* Queue m for s. The callee takes its own reference if it keeps m. */
  void (*deliver)(void* ud, uvc_session_t* s, uvc_msg_t* m);
  /* The session's adapter asks to end the session (for example /quit): the owner of the
   * connection should call uvc_core_leave() soon (not from inside this call) and close. */
  void (*request_close)(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text, size_t len);
  /* Optional: told of every name change after it happened (for the log). */
  void (*observe)(void* ud, const uvc_event_t* ev);
  /* Optional: the wall clock in seconds since 1970 (0 when missing). */
  int64_t (*wallclock)(void* ud);
  /* Optional: the wall clock in milliseconds, for the time of each event (cheap: it is
   * asked once per event; without it, wallclock * 1000). */
  int64_t (*wallclock_ms)(void* ud);
  /* Optional: a key for the address s connects from (IPv4 address, IPv6 /64), for
   * per-address limits such as login throttling. Writes a NUL-terminated string. */
  void (*peer_key)(void* ud, const uvc_session_t* s, char* out, size_t outlen);
  /* Optional: whether s's connection is encrypted (TLS). Without it, none is. */
  int (*secure)(void* ud, const uvc_session_t* s);
  /* Optional: what lies past the local fan-out (the cluster's Redis, or a server of the
   * cluster that is behind) cannot take more (full = 1): the session whose input is being
   * handled now waits, like a sender to a congested reader, and the senders held back stay
   * held until it is called with full = 0. Called with 1 again for each event made while
   * full. */
  void (*backlog)(void* ud, int full);
} uvc_core_hooks_t;

typedef struct uvc_core_config {
  const char* default_room; /* "#lobby" */
  uint32_t max_line;        /* the longest line an adapter hands to the core */
  const char* server_name;  /* how the server calls itself ("uvchat") */
  const char* motd;         /* message of the day (NUL-terminated, lines split on LF), or NULL */
  const char* password;     /* the server password clients must give, or NULL */
  uint32_t announce_limit;  /* rooms with more members than this do not announce arrivals,
                               departures and name changes (0: always announce) */
  const char* autojoin;     /* the room IRC users are joined to when they register, or NULL
                               (text users always start in default_room) */
} uvc_core_config_t;

/* One departed nick (a leave or a rename), for WHOWAS. */
typedef struct uvc_whowas {
  int64_t when;                 /* wall-clock seconds */
  const uvc_adapter_t* adapter; /* whose session it was */
  char nick[UVC_NICK_MAX + 1];
  char user[UVC_USER_MAX + 1];
  char realname[UVC_REALNAME_MAX + 1]; /* empty when the adapter has none */
  char account[UVC_NICK_MAX + 1];      /* the account it was logged in to, or empty */
} uvc_whowas_t;

/* ---- History: a concept of the core; the store behind it is another module's ------------ */

typedef enum {
  UVC_HQ_LATEST,  /* the last limit events (after a, when a is set) */
  UVC_HQ_BEFORE,  /* the limit events before a */
  UVC_HQ_AFTER,   /* the limit events after a */
  UVC_HQ_AROUND,  /* limit events around a */
  UVC_HQ_BETWEEN, /* events between a and b */
  UVC_HQ_TARGETS, /* the conversations with events between a and b, latest first */
  UVC_HQ_AWAY     /* the private messages kept for s's account while it was offline */
} uvc_history_how_t;

#define UVC_MSGID_MAX    24 /* bytes of a message id (the hex of uvc_event_t.id) */
#define UVC_HQ_LABEL_MAX 64 /* bytes of uvc_history_query_t.label */

struct uvc_history_query {
  uint8_t how;     /* uvc_history_how_t */
  uint8_t purpose; /* the adapter's own: what the answer is for */
  uint32_t limit;
  uint32_t cookie; /* the adapter's own (for example a batch number) */
  int64_t a_ms;    /* a point by time (ms since 1970), when a_msgid is empty */
  int64_t b_ms;
  char a_msgid[UVC_MSGID_MAX + 1];
  char b_msgid[UVC_MSGID_MAX + 1];
  char target[UVC_ROOM_MAX + 1];    /* a room or a nick; unused for TARGETS and AWAY */
  char label[UVC_HQ_LABEL_MAX + 1]; /* the adapter's own: a word it wants back with the
                                       answer (IRC: the labeled-response label), or "" */
};

typedef struct uvc_history_ops {
  /* Remembers ev: a room's message, action, notice or topic, or a private message (kept for
   * whichever of its parties is logged in). Copies what it keeps; must not block. */
  void (*record)(void* ud, const uvc_event_t* ev);
  /* Keeps ev, a private message to the registered account ev->to.account, who is offline,
   * for its next login. */
  void (*keep)(void* ud, const uvc_event_t* ev);
  /* Starts q for s (already allowed by uvc_core_history); owner is s's account or NULL.
   * Returns 0 (the answer comes later through s->adapter->on_history, exactly once, unless s
   * is forgotten first) or a negative code (no answer). */
  int (*start)(void* ud, uvc_session_t* s, const uvc_history_query_t* q, const char* owner);
  /* s is about to be freed: its reads in flight are answered to nobody. */
  void (*forget)(void* ud, uvc_session_t* s);
  /* s just logged in to its account: hand it what was kept (an UVC_HQ_AWAY answer), if
   * anything was. */
  void (*login)(void* ud, uvc_session_t* s);
  /* The account was deleted: forget the private messages kept for it. */
  void (*unregistered)(void* ud, const char* account);
} uvc_history_ops_t;

/* ---- A cluster: the core's slot for it (include/uvchat/cluster.h) ------------------ */

/* What the core tells a cluster of its local sessions (a session whose adapter is not
 * remote). Called on the loop, after the local fan-out; the callee copies what it keeps. */
typedef struct uvc_cluster_ops {
  /* Local session s made ev (target: the session it concerns, a private message's
   * recipient or a kicked member, or NULL). */
  void (*event)(void* ud, uvc_session_t* s, const uvc_event_t* ev, const uvc_session_t* target);
  /* Local session s became present (uvc_core_enter), or was revealed (uvc_core_reveal). */
  void (*present)(void* ud, uvc_session_t* s);
  void (*revealed)(void* ud, uvc_session_t* s);
  /* Local session s asks to be renamed to nick: 0, or why not (UVC_ECLUSTER_DOWN). */
  int (*may_rename)(void* ud, const uvc_session_t* s, const char* nick, size_t len);
  /* A server operator here killed target, a ghost, with why (text[0..len), "Killed (oper
   * (reason))"): its own server should close it. 0, or why not (UVC_ECLUSTER_DOWN). */
  int (*kill)(void* ud, const uvc_session_t* target, const char* why, size_t len);
} uvc_cluster_ops_t;

/* The core's state. Its fields are the core's own: other modules use the functions below
 * (core.c and the server that embeds it, which sets the operator and admin slots). */
struct uvc_core {
  uvc_core_hooks_t hooks;
  void* ud;
  uvc_session_t** nicks;        /* present sessions by nick, case-insensitive: open addressing */
  uint32_t nick_cap;            /* slots in nicks: a power of two, or 0 */
  struct uvc_room_entry* rooms; /* rooms by name, case-insensitive (core.c's table) */
  uvc_room_t* lobby;
  uint32_t epoch;
  uint32_t guest_seq;
  uint32_t n_present;
  uint8_t stopping; /* shutting down: nobody announces leaving */
  char* scratch;    /* adapters clean and format lines here */
  size_t scratch_cap;
  uint32_t max_line;
  int64_t started; /* wall-clock seconds at init */
  const char* server_name;
  const char* motd;
  const char* password;
  uint32_t announce_limit;
  const uvc_auth_ops_t* auth; /* accounts, when compiled in and open; else NULL */
  void* auth_ud;
  const uvc_auth_ops_t* opers; /* server operators (UVC_AUTH_OPER), when available; else NULL */
  const char* oper_lines;      /* the configured operators: "NAME HASH" lines, or NULL */
  void* opers_ud;
  /* Optional: a server operator asked to reload the settings (REHASH) or to stop the
   * server (DIE). */
  void (*on_rehash)(void* ud, const uvc_session_t* by);
  void (*on_die)(void* ud, const uvc_session_t* by);
  void* admin_ud;
  uvc_registered_t* registered; /* the registered account names (uthash head) */
  uint32_t n_registered;
  uint64_t delivered;        /* messages handed to recipients (counted per fan-out, not per send) */
  const char* autojoin;      /* see uvc_core_config_t */
  uint32_t max_present;      /* the most sessions present at once since start */
  uvc_whowas_t* whowas;      /* a ring of departed nicks, oldest overwritten first */
  uint32_t whowas_cap;       /* entries allocated (grows to UVC_WHOWAS_MAX) */
  uint32_t whowas_n;         /* entries in use */
  uint32_t whowas_next;      /* where the next one goes */
  struct uvc_watch* watches; /* watched nicks (uthash head): who watches each */
  const char* tags;          /* see uvc_core_set_tags */
  size_t tags_len;
  size_t server_len;           /* strlen(server_name) */
  char host[UVC_HOST_MAX + 1]; /* the host events show (the server name, cut to fit) */
  uint8_t host_len;
  /* Render variants by render slot (format + UVC_FORMATS * variant): each one's flags, and
   * how many sessions use it (see uvc_core_variant). */
  uint32_t variant_flags[UVC_FORMATS * UVC_VARIANTS];
  uint32_t variant_users[UVC_FORMATS * UVC_VARIANTS];
  uint32_t n_invisible; /* sessions with UVC_USER_INVISIBLE */
  uint64_t next_id;     /* the id of the next event (see uvc_event_t.id) */
  uint64_t last_id;     /* the id and time of the last event made, for an adapter that */
  int64_t last_time_ms; /* echoes a message to its sender in its own way */
  /* The encrypted IRC port clients may be sent to, and for how long (seconds) they should
   * keep using it (IRC's sts policy); irc_tls_port 0: there is no IRC TLS listener. */
  uint16_t irc_tls_port;
  uint32_t sts_duration;
  const uvc_history_ops_t* history; /* the history, when kept; else NULL */
  void* history_ud;
  uint32_t history_join; /* lines a text user is shown on joining a room (0: none) */
  uint32_t history_irc;  /* lines shown as notices to IRC clients without draft/chathistory */
  const uvc_cluster_ops_t* cluster; /* the cluster, when this server is in one; else NULL */
  void* cluster_ud;
  uint64_t origin_id; /* see uvc_core_set_origin; 0: none */
  int64_t origin_ms;
  uint32_t id_step; /* next_id grows by this (256 in a cluster: the low byte is the server's) */
};

int uvc_core_init(uvc_core_t* core, const uvc_core_config_t* cfg, const uvc_core_hooks_t* hooks,
                  void* ud);
/* Frees the core's rooms and tables. Every session must have left. */
void uvc_core_free(uvc_core_t* core);
/* The wall clock through the hook. */
int64_t uvc_core_now(uvc_core_t* core);

/* ---- What the core was configured with, and counts ------------------------------- */

/* The adapters and the accounts module use these, never the struct's fields. */
const char* uvc_core_server_name(const uvc_core_t* core);
uvc_room_t* uvc_core_lobby(const uvc_core_t* core); /* the default room */
const char* uvc_core_autojoin(const uvc_core_t* core);
const char* uvc_core_motd(const uvc_core_t* core);
int64_t uvc_core_started(const uvc_core_t* core); /* wall-clock seconds at init */
uint32_t uvc_core_present_count(const uvc_core_t* core);
uint32_t uvc_core_max_present(const uvc_core_t* core);
uint32_t uvc_core_announce_limit(const uvc_core_t* core);
uint32_t uvc_core_max_line(const uvc_core_t* core);
/* The IRC TLS port (0: none) and the sts policy's duration in seconds (IRC's sts). */
uint16_t uvc_core_irc_tls_port(const uvc_core_t* core);
uint32_t uvc_core_sts_duration(const uvc_core_t* core);
/* Whether clients must give a server password (checked with uvc_core_check_password). */
int uvc_core_has_password(const uvc_core_t* core);
/* Whether accounts are available (the accounts module is open). */
int uvc_core_has_accounts(const uvc_core_t* core);
/* Whether history is kept (a history module is plugged in). */
int uvc_core_has_history(const uvc_core_t* core);
/* Lines of history a text user is shown on joining a room, and an IRC client without
 * draft/chathistory as notices (0: none). */
uint32_t uvc_core_history_join(const uvc_core_t* core);
uint32_t uvc_core_history_irc(const uvc_core_t* core);
/* The wall clock in milliseconds, as events get it. */
int64_t uvc_core_now_ms(uvc_core_t* core);
/* The buffer adapters clean and format lines in (at least max_line + 1 bytes, and at least
 * UVC_LINE_FLOOR): one per core, overwritten by the next use. */
char* uvc_core_scratch(uvc_core_t* core);
/* The id and time of the last event the core made (for an adapter that echoes a message to
 * its sender in its own way). */
void uvc_core_last_event(const uvc_core_t* core, uint64_t* id, int64_t* time_ms);

/* ---- Events and rendering --------------------------------------------------------- */

/* The next event the core makes takes this id and time instead of its own: for a cluster,
 * which applies another server's event on behalf of its ghost, so that the msgid and the time
 * are the same everywhere. Used up by that event. */
void uvc_core_set_origin(uvc_core_t* core, uint64_t id, int64_t time_ms);
/* From now on the ids of this core's events end in the byte node (a cluster gives each of its
 * servers a node number, so that ids are unique across the cluster); they keep growing. */
void uvc_core_set_id_node(uvc_core_t* core, unsigned node);

/* Gives room the topic (text[0..len), set by `by` at `at` wall-clock seconds) and, when
 * modes_too, the modes (UVC_ROOM_FLAG_MODES) another server of a cluster has for it, telling
 * nobody: what a server that just joined the cluster learns of rooms already there. A room
 * that has a topic keeps it. */
void uvc_core_room_learn(uvc_core_t* core, uvc_room_t* room, const char* text, size_t len,
                         const char* by, int64_t at, unsigned modes, int modes_too);
/* Gives room the key (key[0..klen), none when klen is 0 or it is not a valid key) and the
 * member limit (0: none) another server of a cluster has for it, and empties its ban and
 * invite-exception lists for uvc_core_room_learn_mask to fill, telling nobody: what a
 * server that just joined the cluster learns of who may join rooms already there. */
void uvc_core_room_learn_access(uvc_core_t* core, uvc_room_t* room, const char* key, size_t klen,
                                uint32_t limit);
/* Adds mask[0..len) (normalised; set by `by` at `at` wall-clock seconds) to one of room's
 * lists, telling nobody; a mask already there is left as it is. Returns 0, UVC_ELIST_FULL or
 * UVC_ENOMEM. */
int uvc_core_room_learn_mask(uvc_core_t* core, uvc_room_t* room, uvc_room_list_kind_t list,
                             const char* mask, size_t len, const char* by, int64_t at);

/* Copies what an event shows of s (nick, user, host, account, format) into who. */
void uvc_event_who_of(const uvc_core_t* core, const uvc_session_t* s, uvc_event_who_t* who);
/* Copies room's name into ev. */
void uvc_event_set_room(uvc_event_t* ev, const uvc_room_t* room);
/* The context this server renders in (its name; no variant flags). */
void uvc_core_render_ctx(const uvc_core_t* core, uvc_render_ctx_t* ctx);
/* Renders ev for s as the fan-out would (in s's render slot, with the core's context): a new
 * message with one reference, or NULL when s's format shows nothing for it. For events made
 * outside a fan-out, such as one from history. */
uvc_msg_t* uvc_core_render(uvc_core_t* core, const uvc_event_t* ev, const uvc_session_t* s);
/* A format whose rendering depends on a few flags of the recipient (IRC: the capabilities
 * that change its lines) gives each combination in use a render variant, so that an event is
 * rendered once per combination, not once per recipient. Returns the variant of format for
 * flags (0 for none; a free one for a combination nobody uses yet; UVC_VARIANT_OWN when every
 * variant is taken), counting the caller as its user, and gives up old (the variant this
 * caller had, or 0). The caller puts it in the session's slot; uvc_core_variant(core, f, 0,
 * v) gives v up. */
unsigned uvc_core_variant(uvc_core_t* core, unsigned format, unsigned flags, unsigned old);

/* Prepares a session (not yet present) for an adapter. */
void uvc_session_init(uvc_session_t* s, const uvc_adapter_t* adapter);

/* ---- Presence ---------------------------------------------------------------------- */

/* Makes a session present under nick (NULL: a fresh guest nick, guest1, guest2 ...),
 * in no room yet. */
int uvc_core_enter(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* Makes a session present under a fresh guest nick in the default room, announcing the
 * arrival to the room (but not to s). */
int uvc_core_arrive(uvc_core_t* core, uvc_session_t* s);
/* An unseen session (s->unseen, set by its connection until it sends its first line or has
 * stayed a moment) is in its rooms and hears them, but nobody is told it arrived, it is left
 * out of member lists and its leaving is not announced: a port probe or a health check
 * never shows. This announces its arrival in each of its rooms and makes it an ordinary
 * session. Nothing happens for a session that is not unseen. */
void uvc_core_reveal(uvc_core_t* core, uvc_session_t* s);
/* Whether viewer may see s in a member list (NAMES, WHO, /who): everyone but the unseen. */
static inline int uvc_session_listed(const uvc_session_t* s, const uvc_session_t* viewer) {
  return !s->unseen || s == viewer;
}
/* Ends a session's presence: tells everyone who shares a room with it why it left (unless
 * the server is stopping), and removes it from rooms and the nick table. Safe to call on a
 * session that is not present. */
void uvc_core_leave(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                    size_t len);
/* Renames a session; tells it and everyone who shares a room with it. */
int uvc_core_rename(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* The present session with that nick (any case), or NULL. */
uvc_session_t* uvc_core_find(uvc_core_t* core, const char* nick, size_t len);
/* Calls fn for every present session (fn must not make anyone enter or leave). */
void uvc_core_each(uvc_core_t* core, void (*fn)(uvc_session_t* s, void* arg), void* arg);
/* The i-th most recent departed nick equal to nick (any case) (i = 0: the latest), or NULL.
 * A session that left or was renamed leaves its old nick here (at most UVC_WHOWAS_MAX). */
const uvc_whowas_t* uvc_core_whowas(const uvc_core_t* core, const char* nick, size_t len,
                                    unsigned i);
/* The k-th most recent departed nick (k = 0: the latest), or NULL past the oldest kept. */
const uvc_whowas_t* uvc_core_whowas_at(const uvc_core_t* core, unsigned k);

/* Watching nicks (IRC MONITOR): s is told through its adapter's on_watch when a nick it
 * watches comes online (enters, is revealed or is taken by a rename) or goes offline (leaves
 * or is renamed away). Returns 0 (also when already watched), UVC_ENICK_INVALID,
 * UVC_EWATCH_FULL past UVC_WATCH_MAX nicks, or UVC_ENOMEM. */
int uvc_core_watch(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* Stops watching nick (no-op when not watched). */
void uvc_core_unwatch(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* Stops watching every nick (also done when s leaves). */
void uvc_core_unwatch_all(uvc_core_t* core, uvc_session_t* s);
/* How many nicks s watches, and the i-th of them (as it was given). */
unsigned uvc_session_watch_count(const uvc_session_t* s);
const char* uvc_session_watched(const uvc_session_t* s, unsigned i);

/* Whether s's connection is encrypted (hooks.secure). */
int uvc_core_secure(const uvc_core_t* core, const uvc_session_t* s);

/* s's real name (kept by its adapter) changed to text[0..len): tells s and everyone who
 * shares a room with it (UVC_EV_REALNAME). */
void uvc_core_realname_changed(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);

/* Sets (text) or clears (len 0) the session's away message. */
int uvc_core_set_away(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);

/* ---- Rooms ------------------------------------------------------------------------- */

/* How many rooms there are. */
unsigned uvc_core_room_count(const uvc_core_t* core);
/* The room after prev (NULL: the first), or NULL after the last, in no particular order.
 * Rooms must not be created or destroyed during the walk. */
uvc_room_t* uvc_core_room_next(const uvc_core_t* core, const uvc_room_t* prev);
/* The room with that name (any case), or NULL. */
uvc_room_t* uvc_core_room(uvc_core_t* core, const char* name, size_t len);
/* Joins (creating it, with s as its operator, when new) the room named name; tells the
 * members, s included when tell_self. *out gets the room. */
int uvc_core_join(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len, int tell_self,
                  uvc_room_t** out);
/* Leaves room with an optional reason; tells the members and s. */
int uvc_core_part(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                  size_t len);
/* Sets (or, with len 0, clears) the topic of room; tells the members. */
int uvc_core_set_topic(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                       size_t len);
/* Removes target from room (s must be an operator); tells the members, target included. */
int uvc_core_kick(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                  const char* text, size_t len);
/* Changes room modes (s must be an operator); tells the members. */
int uvc_core_set_modes(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, unsigned on,
                       unsigned off);
/* Gives (on) or takes operator status of room to/from target; tells the members. */
int uvc_core_set_op(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                    int on);
/* Gives or takes a membership flag (UVC_MEMBER_OP, UVC_MEMBER_VOICE) of room to/from target
 * (s must be an operator); tells the members. Nothing happens when nothing changes. */
int uvc_core_set_member(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target,
                        unsigned flag, int on);
/* Sets (len > 0) or clears (len 0) room's key (s must be an operator): 1 to UVC_KEY_MAX
 * printable ASCII bytes, no space or comma (UVC_EKEY_INVALID). Tells the members. */
int uvc_core_set_key(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* key,
                     size_t len);
/* Sets (limit > 0) or clears (0) room's member limit; tells the members. */
int uvc_core_set_limit(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uint32_t limit);
/* Adds (on) or removes a mask on one of room's lists (s must be an operator). The mask is
 * normalised first (uvc_mask_normalize). Adding a mask already there or removing one that is
 * not does nothing and returns 0; UVC_ELIST_FULL past UVC_LIST_MAX. Tells the members. */
int uvc_core_list_change(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room,
                         uvc_room_list_kind_t list, const char* mask, size_t len, int on);
/* The list of room. */
const uvc_mask_list_t* uvc_room_list(const uvc_room_t* room, uvc_room_list_kind_t list);
/* Invites target to room (s must be in it; an operator where the room is invite-only): the
 * invitation lets target join once past invite-only. Tells target, and (UVC_EV_INVITED)
 * the other members who could have invited target themselves: everyone but s in a room
 * that is not invite-only, its operators in one that is. */
int uvc_core_invite(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, uvc_session_t* target);
/* Why s may not join room (UVC_EBANNED, UVC_EINVITE_ONLY, UVC_EBAD_KEY, UVC_EROOM_FULL), or
 * 0. key may be NULL. Does not use up an invitation. */
int uvc_core_may_join(uvc_core_t* core, const uvc_session_t* s, const uvc_room_t* room,
                      const char* key, size_t klen);
/* Joins like uvc_core_join, but an existing room's bans, invite-only, key (key, klen) and
 * limit apply; an invitation is used up. */
int uvc_core_join_key(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len,
                      const char* key, size_t klen, int tell_self, uvc_room_t** out);
/* Whether s matches a mask on room's list. */
int uvc_room_matches(const uvc_core_t* core, const uvc_room_t* room, uvc_room_list_kind_t list,
                     const uvc_session_t* s);

/* ---- Masks ------------------------------------------------------------------------- */

/* Writes mask[0..len) in full form nick!user@host to out (NUL-terminated, at most
 * UVC_MASK_MAX bytes): "bob" is bob!*@*, "bob!x" bob!x@*, "*@h" *!*@h, "x@h" *!x@h.
 * Returns its length, or 0 when it cannot be a mask (empty, too long, spaces, non-ASCII: no
 * nick, user or host has any). */
size_t uvc_mask_normalize(const char* mask, size_t len, char* out);
/* Matching a mask: uvc_mask_match() in names.h. */
/* Writes s's nick!user@host (the host is the server's name: hosts are never shown). */
size_t uvc_session_mask(const uvc_core_t* core, const uvc_session_t* s, char* out, size_t cap);

/* ---- Server operators -------------------------------------------------------------- */

/* Makes s a server operator named name (UVC_USER_OPER and UVC_USER_WALLOPS), or (name
 * NULL) takes it away. Called by the operators module once a password was checked. */
void uvc_core_set_oper(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len);
/* The operator name s opered up as, or NULL. */
static inline const char* uvc_session_oper(const uvc_session_t* s) {
  return (s->umodes & UVC_USER_OPER) && s->x != NULL ? s->x->oper : NULL;
}
/* Sets (on) or clears user mode UVC_USER_INVISIBLE of s. */
void uvc_core_set_invisible(uvc_core_t* core, uvc_session_t* s, int on);
/* How many sessions have UVC_USER_INVISIBLE (until they are forgotten: uvc_core_forget). */
uint32_t uvc_core_invisible(const uvc_core_t* core);
/* Server operator s disconnects target with reason: target is told and closed, everyone
 * who shares a room with it sees it leave "Killed (s (reason))". UVC_ENOT_SERVER_OPER. */
int uvc_core_kill(uvc_core_t* core, uvc_session_t* s, uvc_session_t* target, const char* text,
                  size_t len);
/* Server operator s says text to every operator and wallops listener. */
int uvc_core_wallops(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);
/* Server operator s asks to reload the settings (core->on_rehash). */
int uvc_core_rehash(uvc_core_t* core, uvc_session_t* s);
/* Server operator s asks the server to stop (core->on_die). */
int uvc_core_die(uvc_core_t* core, uvc_session_t* s);

/* ---- Messages ---------------------------------------------------------------------- */

/* Says text (clean UTF-8) to everyone else in room (NULL: the session's first room). */
int uvc_core_say(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text, size_t len,
                 int notice);
/* An action (/me) to everyone else in room (NULL: the session's first room). */
int uvc_core_act(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* text,
                 size_t len);
/* A private message to the session whose nick is target. Sets *to to the recipient. */
/* A private message to target, a registered account nobody is logged in to, kept for its
 * next login. Returns 0 (kept), UVC_ENO_SUCH_NICK (no such account) or
 * UVC_EHISTORY_UNAVAILABLE. */
int uvc_core_keep_private(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                          const char* text, size_t len, int notice);
/* Starts the history read q for s. A room's history is read only by its members, and not by
 * one the room bans; a private history, TARGETS and AWAY need s logged in. Returns 0 (the
 * answer comes through s->adapter->on_history) or a negative code at once: UVC_ENOT_IN_ROOM,
 * UVC_EBANNED, UVC_EHISTORY_OFF, UVC_EAUTH_NOT_LOGGED_IN, UVC_EHISTORY_UNAVAILABLE. */
int uvc_core_history(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q);
/* Writes the message id of ev (the hex of ev->id) into out
 * (UVC_MSGID_MAX + 1 bytes). */
void uvc_event_msgid(const uvc_event_t* ev, char* out);

int uvc_core_whisper(uvc_core_t* core, uvc_session_t* s, const char* target, size_t tlen,
                     const char* text, size_t len, int notice, uvc_session_t** to);
/* The client-only tags (as on the wire, without '@') of the next message event made
 * (uvc_core_say, _act, _whisper), which carries them to the formats that show tags; cleared
 * once used. The bytes must stay valid until that call returns. */
void uvc_core_set_tags(uvc_core_t* core, const char* tags, size_t len);
/* Sends only tags (IRCv3 TAGMSG; client-only tags as on the wire, without '@') to
 * everyone else in room, or, with room NULL, to the session whose nick is target (*to gets
 * it). Formats without tags show nothing. */
int uvc_core_tagmsg(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const char* target,
                    size_t tlen, const char* tags, size_t tags_len, uvc_session_t** to);
/* What lies past the local fan-out cannot take more (full), or can again: see
 * uvc_core_hooks_t.backlog (for the cluster). */
void uvc_core_backlog(uvc_core_t* core, int full);
/* Sends text as a server announcement to every present session. */
void uvc_core_announce(uvc_core_t* core, const char* text, size_t len);

/* Sends text as a server notice to s alone (rendered like an announcement). */
void uvc_core_notify(uvc_core_t* core, uvc_session_t* s, const char* text, size_t len);

/* s's memory is about to be freed (after uvc_core_leave): drops every reference to it
 * that outlives a loop turn (account requests in flight) and its account name. */
void uvc_core_forget(uvc_core_t* core, uvc_session_t* s);

/* ---- Accounts and passwords -------------------------------------------------------- */

/* The core keeps the names of the registered accounts (loaded at startup by the accounts
 * module, which keeps them in step with the store), so that taking a nick is checked at
 * once: a registered nick may only be used by a session logged in to its account, and a
 * reserved nick (the services', "NickServ") by nobody. */

/* Starts an account operation for s (or, when accounts are not available, answers
 * UVC_EAUTH_UNAVAILABLE at once). The answer comes through s->adapter->on_auth. */
void uvc_core_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, const char* name,
                   size_t nlen, const char* a, size_t alen, const char* b, size_t blen);
/* Adds a registered name (no-op when present). Returns 0 or UVC_ENOMEM. */
int uvc_core_add_registered(uvc_core_t* core, const char* name, size_t len);
/* Removes a registered name (no-op when absent). Sessions logged in to it stay so until the
 * accounts module logs them out. */
void uvc_core_remove_registered(uvc_core_t* core, const char* name, size_t len);
/* The registered name (in the spelling it was registered with) equal to name in any case,
 * or NULL. */
const char* uvc_core_registered(const uvc_core_t* core, const char* name, size_t len);
/* Calls fn with every registered name; fn must not add or remove names. */
void uvc_core_each_registered(const uvc_core_t* core,
                              void (*fn)(const char* name, size_t len, void* arg), void* arg);
/* 1 when nick is reserved for the server's services. */
int uvc_core_reserved(const char* nick, size_t len);
/* Why s may not use nick (UVC_ENICK_RESERVED, UVC_ENICK_REGISTERED), or 0. */
int uvc_core_may_use(const uvc_core_t* core, const uvc_session_t* s, const char* nick, size_t len);
/* s is now logged in to the account name. When s is present it takes the account's nick
 * (uvc_core_reclaim, then a rename). Returns 0, or UVC_ENOMEM (s is logged in all the same
 * but keeps its nick). */
int uvc_core_login(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len);
/* The two halves of uvc_core_login, for who must say "logged in" between them: s is logged
 * in to name (0 or UVC_ENOMEM); then s takes its account's nick when present (0, or an
 * error of uvc_core_reclaim or uvc_core_rename: it keeps its nick). */
int uvc_core_set_account(uvc_core_t* core, uvc_session_t* s, const char* name, size_t len);
int uvc_core_take_account_nick(uvc_core_t* core, uvc_session_t* s);
/* Frees nick for s, which is logged in to that account: whoever else holds it (a stranger,
 * or another connection logged in to the same account, such as a dead one not yet timed
 * out) is renamed to a fresh guest nick, with a notice. Returns 0, UVC_ENICK_REGISTERED when
 * s is not logged in to nick, or UVC_ENOMEM. */
int uvc_core_reclaim(uvc_core_t* core, uvc_session_t* s, const char* nick, size_t len);
/* s is logged out; a registered nick it holds is given up (it becomes a fresh guest). */
void uvc_core_logout(uvc_core_t* core, uvc_session_t* s);
/* Renames s to a fresh guest nick (guestN, skipping taken and registered names). */
int uvc_core_rename_guest(uvc_core_t* core, uvc_session_t* s);
/* 1 when the session's account is name (any case). */
int uvc_session_logged_in_as(const uvc_session_t* s, const char* name, size_t len);

/* Forgets the account s is logged in to, without renaming it (its account is gone). */
void uvc_core_forget_account(uvc_core_t* core, uvc_session_t* s);
/* 1 when pw[0..len) is the server password (core->password), compared in constant time. */
int uvc_core_check_password(const uvc_core_t* core, const char* pw, size_t len);
/* The login throttle of s's address (see uvc_auth_ops_t.address_wait); 0 without accounts. */
uint64_t uvc_core_address_wait(uvc_core_t* core, const uvc_session_t* s, int failed);
/* (uvc_wipe, for passwords once handled, is in clean.h.) */

/* Hands m to hooks.deliver for s (a reply from an adapter). Does not consume m. */
void uvc_core_send(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m);
/* Asks the owner to end the session (see hooks.request_close). */
void uvc_core_request_close(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text,
                            size_t len);

/* ---- Queries ----------------------------------------------------------------------- */

/* The i-th membership of s (0 <= i < s->n_rooms). */
static inline uvc_membership_t* uvc_session_membership(uvc_session_t* s, unsigned i) {
  return i == 0 ? &s->room0 : &s->x->more[i - 1];
}
static inline const uvc_membership_t* uvc_session_membership_c(const uvc_session_t* s, unsigned i) {
  return i == 0 ? &s->room0 : &s->x->more[i - 1];
}
/* The room a text session talks in: its first room, or NULL. */
static inline uvc_room_t* uvc_session_room(const uvc_session_t* s) {
  return s->n_rooms > 0 ? s->room0.room : NULL;
}
/* s's membership of room, or NULL when s is not in it. */
const uvc_membership_t* uvc_session_in(const uvc_session_t* s, const uvc_room_t* room);
/* Whether s is an operator of room. */
int uvc_session_is_op(const uvc_session_t* s, const uvc_room_t* room);

#endif
