/* cluster.h: several uvchat servers that are one chat, through Redis (--cluster).
 *
 * The URL parser and the event wire format are plain C, always built and unit-tested; the
 * cluster itself (hiredis on the server's loop) is built in with UVCHAT_WITH_CLUSTER.
 *
 * How it works, in short: every present session of another server is a "ghost" here: a
 * session of the remote adapter (uvc_remote_adapter), which renders nothing, in the local
 * core's nick table and rooms, so NAMES, WHO, WHOIS, LIST, LUSERS and nick uniqueness see it
 * unchanged. Every event a local session makes is published once to Redis; another server
 * applies it to its core on behalf of the ghost, keeping the event's id and time, and the
 * core fans it out to its local members through the ordinary path. Nothing received is
 * published again.
 */
#ifndef UVCHAT_CLUSTER_H
#define UVCHAT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "uvchat/core.h"

/* ---- The --cluster URL -------------------------------------------------------------- */

#define UVC_CLUSTER_HOST_MAX 63
#define UVC_CLUSTER_PASS_MAX 255

typedef struct uvc_cluster_url {
  char host[UVC_CLUSTER_HOST_MAX + 1];     /* an IP address literal (IPv6 without brackets) */
  char password[UVC_CLUSTER_PASS_MAX + 1]; /* "" for none */
  int port;                                /* 6379 when not given */
  int db;                                  /* 0 when not given */
  int ipv6;
} uvc_cluster_url_t;

/* Parses redis://[PASSWORD@]HOST[:PORT][/DB] (HOST: an IPv4 address, an IPv6 address in
 * brackets, or localhost, which is 127.0.0.1: names are not resolved, so that connecting
 * never blocks the loop on DNS). A password may be written ":PASSWORD@" too; %XX escapes are
 * decoded in it. Returns 0, or -1 with the reason in err. rediss:// (TLS) is refused: the
 * hiredis this builds with has no TLS. */
int uvc_cluster_parse_url(const char* s, uvc_cluster_url_t* out, char* err, size_t errlen);

/* ---- Events on the wire ------------------------------------------------------------- */

/* A message between servers: an event and who made it (the session's cluster-wide id: its
 * server's id and a number that server gives it), or a presence record. The text and the
 * tags point into the buffer decoded. */
typedef enum {
  UVC_WIRE_EVENT = 'E', /* ev: a session's event */
  UVC_WIRE_USER = 'U',  /* a session is present (nick, user, account, rooms...): a snapshot */
  UVC_WIRE_HELLO = 'H', /* a server started or came back: others send it their users */
  UVC_WIRE_GONE = 'G',  /* a server went away (or stopped): its ghosts leave */
  UVC_WIRE_BEGIN = 'B', /* a server's snapshot of its users starts (an answer to HELLO) */
  UVC_WIRE_ROOM = 'R',  /* in a snapshot: a room with local members there (ev.room; topic in
                           ev.text, set by ev.from.nick at ev.time_ms seconds; modes in
                           ev.mode_on) */
  UVC_WIRE_ENTRY = 'J', /* in a snapshot, after its ROOM: who may join the room (ev.room): its
                           key in ev.text (none: empty), its member limit in ev.limit (none:
                           0), its ban and invite-exception lists in lists (writing) or masks
                           (read with uvc_wire_mask_next). A server that does not know this
                           kind drops it alone: it still reads the ROOM. */
  UVC_WIRE_SYNC = 'S',  /* ... and ends: its ghosts the snapshot did not name leave */
  UVC_WIRE_BEAT = 'P',  /* a server to itself, on its own channel: its subscriber still hears */
  UVC_WIRE_KILL = 'K'   /* to a server: close its session uid (ev.text: why, "Killed (...)") */
} uvc_wire_kind_t;

#define UVC_WIRE_SERVER_MAX 80 /* bytes of a server id */

typedef struct uvc_wire_room {
  char name[UVC_ROOM_MAX + 1];
  uint32_t flags; /* UVC_MEMBER_* */
} uvc_wire_room_t;

/* A mask list as it came over the wire (UVC_WIRE_ENTRY): n entries, checked when decoded,
 * in the bytes [p, end) of the buffer decoded. */
typedef struct uvc_wire_masks {
  const char* p;
  const char* end;
  uint16_t n;
} uvc_wire_masks_t;

typedef struct uvc_wire {
  uint8_t kind;                         /* uvc_wire_kind_t */
  char server[UVC_WIRE_SERVER_MAX + 1]; /* the server it comes from */
  uint64_t uid;                         /* the session concerned, per server; 0: none */
  uvc_event_t ev;                       /* UVC_WIRE_EVENT: the event (from.adapter NULL) */
  char from_format[8];                  /* the sender's wire format ("text", "irc") */
  /* UVC_WIRE_USER: the session. */
  char nick[UVC_NICK_MAX + 1];
  char user[UVC_USER_MAX + 1];
  char account[UVC_NICK_MAX + 1];
  char realname[UVC_REALNAME_MAX + 1];
  const char* away; /* NULL: not away */
  size_t away_len;
  uint8_t umodes;
  uint8_t n_rooms;
  uvc_wire_room_t rooms[UVC_ROOMS_PER_USER];
  /* UVC_WIRE_ENTRY: the ban list ([0]) and the invite exceptions ([1]); lists to write
   * (NULL: empty), masks as read. */
  const uvc_mask_list_t* lists[2];
  uvc_wire_masks_t masks[2];
} uvc_wire_t;

/* Appends w as bytes to *buf (grown with realloc; *len bytes used, *cap allocated). Returns
 * 0 or -1 (out of memory). */
int uvc_wire_encode(const uvc_wire_t* w, char** buf, size_t* len, size_t* cap);
/* Decodes data[0..len) into w (text, tags and away point into data). Returns 0, or -1 when
 * it is not a well-formed message (anything past a field's limit too). */
int uvc_wire_decode(const char* data, size_t len, uvc_wire_t* w);
/* The next entry of a decoded mask list: its mask (NUL-terminated, at most UVC_MASK_MAX
 * bytes), who set it and when (wall-clock seconds). Returns 1, or 0 past the last one. */
int uvc_wire_mask_next(uvc_wire_masks_t* it, char mask[UVC_MASK_MAX + 1], char by[UVC_NICK_MAX + 1],
                       int64_t* at);

/* A batch: several messages published as one (a server's consecutive messages to one
 * channel within a loop iteration): "1:*," then each message as a netstring. */
#define UVC_WIRE_BATCH_HEAD     "1:*,"
#define UVC_WIRE_BATCH_HEAD_LEN 4
/* Whether data[0..len) is a batch. */
int uvc_wire_is_batch(const char* data, size_t len);
/* Appends msg[0..n) to the batch in *buf (started with UVC_WIRE_BATCH_HEAD when *len is 0;
 * grown like uvc_wire_encode's). Returns 0 or -1 (out of memory). */
int uvc_wire_batch_add(const char* msg, size_t n, char** buf, size_t* len, size_t* cap);
/* The next message of a batch: *p starts after the head and moves on. Returns 1 with
 * msg and n set, 0 at the end, or -1 when malformed (the rest is to be dropped). */
int uvc_wire_batch_next(const char** p, const char* end, const char** msg, size_t* n);

/* ---- The cluster (UVCHAT_WITH_CLUSTER) ---------------------------------------------- */

/* The adapter of ghosts: sessions of other servers. It renders nothing. */
extern const uvc_adapter_t uvc_remote_adapter;
static inline int uvc_session_remote(const uvc_session_t* s) {
  return s->adapter == &uvc_remote_adapter;
}

struct uv_loop_s;
struct uvc_metrics_buf;
typedef struct uvc_cluster uvc_cluster_t;

typedef struct uvc_cluster_options {
  const char* url;         /* --cluster */
  uint64_t lease_ms;       /* --cluster-lease */
  const char* name;        /* --cluster-name, or NULL */
  const char* server_name; /* --server-name, for the default name */
} uvc_cluster_options_t;

/* Joins the cluster: plugs into core's cluster slot and starts connecting to Redis (never
 * waiting: the answer comes on the loop). Returns 0, or -1 with the reason in err (a bad
 * URL, out of memory). Until Redis answers, the server works alone. */
int uvc_cluster_open(uvc_cluster_t** out, struct uv_loop_s* loop, uvc_core_t* core,
                     const uvc_cluster_options_t* o, char* err, size_t errlen);
/* The server is stopping (after core->stopping is set): the ghosts leave the core silently,
 * the other servers are told this one goes, its nicks are released, and the connections and
 * timers close (within a second even if Redis does not answer). */
void uvc_cluster_stop(uvc_cluster_t* c);
/* Frees c, once the loop has run out after uvc_cluster_stop. */
void uvc_cluster_free(uvc_cluster_t* c);
/* The cluster's Prometheus metrics. */
void uvc_cluster_metrics(uvc_cluster_t* c, struct uvc_metrics_buf* b);

#endif
