/* store.h: the one store of uvchat's lasting data: registered accounts, room history and
 * private messages kept for accounts, reached without blocking the loop.
 *
 * This interface is what a backend implements; it names no SQLite type, so that a second
 * backend (Redis, for a cluster: store_redis.h) can stand behind the same functions. Each
 * backend has its own open function; every other function calls the operation of the
 * store's own backend (src/accounts/store_impl.h, store_api.c). The embedded default is
 * SQLite (store.c), its schema in one file (schema.c); what follows describes it.
 *
 * The SQLite database is dir/uvchat.db in WAL mode with synchronous=FULL: once a create, set_hash
 * or delete has called back with 0, the change has been committed and synced, and survives
 * a crash of the process or of the machine. The schema is upgraded by ordered migrations
 * when the store is opened; a database written by a newer uvchat is refused. A batch of
 * history is committed without a sync of its own (synchronous=NORMAL): it survives a crash of
 * the process, and a crash of the machine can lose the batches since the last checkpoint.
 *
 * Every operation but open and close runs on libuv's thread pool (uv_queue_work) and calls
 * back on the loop thread, exactly once, from the after-work callback. A request copies its
 * arguments, so the caller's strings need not outlive the call. Account names compare
 * ignoring ASCII case, as nicks do.
 *
 * Threads: open, close, the operations and the callbacks belong to the loop thread. On the
 * thread pool a request borrows one SQLite connection of the store's own (a small pool
 * guarded by a mutex, a new connection when none is free): reads run side by side with a
 * write, and writes take turns on a second mutex so they never wait in SQLite's busy loop.
 */
#ifndef UVCHAT_STORE_H
#define UVCHAT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define UVC_STORE_FILE     "uvchat.db"
#define UVC_STORE_NAME_MAX 255   /* bytes of an account name */
#define UVC_STORE_HASH_MAX 255   /* bytes of a password hash string */
#define UVC_STORE_SCHEMA   3     /* the schema version this code writes */
#define UVC_STORE_POOL     4     /* idle connections kept at most */
#define UVC_STORE_BUSY_MS  10000 /* how long to wait for another process holding the lock */
#define UVC_STORE_CACHE_KB 512   /* SQLite page cache per connection */

/* Store status codes: 0 is success, every error is negative. */
#define UVC_STORE_ERRNO_MAP(X)                                         \
  X(EXISTS, -101, "an account with that name already exists")          \
  X(NOT_FOUND, -102, "there is no account with that name")             \
  X(DB, -103, "the account database failed")                           \
  X(NOMEM, -104, "out of memory")                                      \
  X(INVALID, -105, "invalid account name or password hash")            \
  X(NEWER, -106, "the account database was written by a newer uvchat") \
  X(CANCELED, -107, "the request was cancelled")                       \
  X(CLOSING, -108, "the account database is closing")                  \
  X(BUSY, -109, "a request of that kind is already under way")

typedef enum {
#define X(name, code, text) UVC_STORE_##name = code,
  UVC_STORE_ERRNO_MAP(X)
#undef X
} uvc_store_err_t;

/* A short description of a store status code (or of a libuv error code). */
const char* uvc_store_strerror(int status);

typedef struct uvc_store uvc_store_t;

/* Called on the loop thread when a create, set_hash or delete is done: status is 0,
 * UVC_STORE_EXISTS, UVC_STORE_NOT_FOUND or another negative code. */
typedef void (*uvc_store_cb)(void* data, int status);
/* Called on the loop thread when a get is done: status 0 and the account's hash (valid only
 * during the call), or a negative code and NULL. */
typedef void (*uvc_store_get_cb)(void* data, int status, const char* hash);
/* Called on the loop thread when a watch is done: status 0 and changed 0 when nobody has
 * committed anything since the last watch; status 0, changed 1 and every account name
 * (names[0..n), valid only during the call) when someone has (the first watch always
 * reports); or a negative code. */
typedef void (*uvc_store_watch_cb)(void* data, int status, int changed, const char* const* names,
                                   size_t n);

/* Opens (creating dir with mode 0700 and its parents, and the database, if missing) the
 * account database in dir and brings its schema up to date. Blocks: call it at startup,
 * before the loop runs. Returns 0 and *out, or a negative code with a one-line reason in err
 * (when errlen > 0). */
int uvc_store_open(uvc_store_t** out, const char* dir, char* err, size_t errlen);

/* Closes the database and frees the store: at once when no request is in flight, else
 * right after the last callback (run the loop until uvc_store_pending() is 0). New requests
 * are refused with UVC_STORE_CLOSING from now on. Safe from inside a callback. NULL is
 * ignored. */
void uvc_store_close(uvc_store_t* store);

/* Requests queued whose callback has not run yet. */
unsigned uvc_store_pending(const uvc_store_t* store);

/* The schema version of the open database. */
int uvc_store_schema_version(const uvc_store_t* store);

/* The path of the database file (for the log). */
const char* uvc_store_path(const uvc_store_t* store);

/* Each of these queues a request and returns 0 (cb will run once, later, on the loop
 * thread), or returns a negative code at once (UVC_STORE_INVALID for an empty or overlong
 * name or hash, UVC_STORE_CLOSING, UVC_STORE_NOMEM, or a libuv error) and cb is never
 * called. */

/* Adds an account; UVC_STORE_EXISTS when the name (in any case) is taken. */
int uvc_store_create(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                     uvc_store_cb cb, void* data);
/* Looks an account up: its hash, or UVC_STORE_NOT_FOUND. */
int uvc_store_get(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_get_cb cb,
                  void* data);
/* Replaces an account's hash (a new password); UVC_STORE_NOT_FOUND when there is none. */
int uvc_store_set_hash(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                       uvc_store_cb cb, void* data);
/* Removes an account; UVC_STORE_NOT_FOUND when there is none. */
int uvc_store_delete(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_cb cb,
                     void* data);

/* Looks for changes to the database by anyone (another process such as uvchat-account, or
 * this store's own writes) since the last watch, with a connection of its own (SQLite's
 * PRAGMA data_version). One watch at a time: UVC_STORE_BUSY while one is in flight. */
int uvc_store_watch(uvc_store_t* store, uv_loop_t* loop, uvc_store_watch_cb cb, void* data);
/* Makes the next watch report every name even if nothing changed (a caller that could not
 * use a report). Not while a watch is in flight. */
void uvc_store_watch_again(uvc_store_t* store);

/* Calls fn(ud, name, len) for every account name, in no particular order, on the calling
 * thread; stops at the first non-zero return of fn and returns it. Blocks: call it at
 * startup, before the loop runs (the server learns the registered names this way). Returns
 * 0, fn's non-zero value, or UVC_STORE_DB with the reason in err. */
typedef int (*uvc_store_name_fn)(void* ud, const char* name, size_t len);
int uvc_store_each_name(uvc_store_t* store, uvc_store_name_fn fn, void* ud, char* err,
                        size_t errlen);

/* ---- History ---------------------------------------------------------------------------
 *
 * An event is kept as a row of strings and numbers: everything a renderer needs, copied, so
 * that it renders the same long after its sender has gone. A room's events have owner ""
 * and the room as target. A private message between registered accounts is kept once for
 * each of them: owner is the account whose copy it is, target the other party's nick.
 *
 * Every event has a seq: a number that grows with each event (uvchat uses the event id,
 * which grows with time), unique within a history. Reading returns events in seq order,
 * oldest first. A point in a history is an event (its seq) or a time (milliseconds since
 * the epoch); "before" and "after" a point never include it. */

#define UVC_HIST_TEXT_MAX  8192 /* bytes of an event's text (longer is cut) */
#define UVC_HIST_FIELD_MAX 255  /* bytes of every other string */
#define UVC_HIST_FETCH_MAX 1000 /* events one fetch returns at most */

/* What happened (a store concept: the core's event types map onto it). */
typedef enum {
  UVC_HIST_SAY = 1, /* text to a room or a person */
  UVC_HIST_ACTION,  /* an action (/me) */
  UVC_HIST_NOTICE,  /* a notice */
  UVC_HIST_TOPIC,   /* a topic change (text: the topic; empty: cleared) */
  UVC_HIST_JOIN,    /* someone joined the room */
  UVC_HIST_PART,    /* someone left the room (text: the reason) */
  UVC_HIST_QUIT,    /* someone left the chat (text: the reason) */
  UVC_HIST_KICK     /* someone was kicked (text: "nick reason") */
} uvc_hist_kind_t;

typedef struct uvc_hist_rec {
  int64_t seq; /* > 0 */
  int64_t time_ms;
  int kind;           /* uvc_hist_kind_t */
  int flags;          /* the caller's bits, kept as they are */
  int pending;        /* a private message for an account that was offline, not yet delivered */
  const char* owner;  /* "" for a room */
  const char* target; /* the room, or the other party of a private message */
  const char* msgid;  /* as clients saw it */
  const char* nick;   /* the sender as the event was made */
  const char* user;
  const char* host;
  const char* account; /* "" when the sender was not logged in */
  const char* text;
  size_t text_len; /* bytes of text (then it need not be NUL-terminated); 0: up to its NUL */
  /* The lengths of target, nick, user and host, where the caller knows them (they are still
   * NUL-terminated); 0: measured. A writer that knows them spares a strlen each. */
  uint16_t target_len, nick_len, user_len, host_len;
} uvc_hist_rec_t;

/* A copy of rec with its strings in one block (NULL strings become "", the strings are cut
 * at their bounds, the text NUL-terminated), to release with free(); NULL when out of
 * memory. */
uvc_hist_rec_t* uvc_hist_rec_dup(const uvc_hist_rec_t* rec);

/* How much history is kept: count_room events per room, count_private per account (over
 * all its conversations), nothing older than max_age_ms. 0: no bound of that kind. */
typedef struct uvc_hist_bounds {
  unsigned count_room;
  unsigned count_private;
  int64_t max_age_ms;
} uvc_hist_bounds_t;

typedef enum {
  UVC_HIST_LATEST,  /* the last limit events (after point a, when a is set) */
  UVC_HIST_BEFORE,  /* the limit events right before a */
  UVC_HIST_AFTER,   /* the limit events right after a */
  UVC_HIST_AROUND,  /* limit events centred on a (a itself included when it is an event) */
  UVC_HIST_BETWEEN, /* events between a and b (either order), the limit nearest a */
  UVC_HIST_PENDING  /* owner's undelivered private messages (target unused); marks them
                       delivered */
} uvc_hist_how_t;

typedef struct uvc_hist_point {
  int64_t time_ms; /* by time, when seq is 0; both 0: unset (LATEST: no lower bound) */
  int64_t seq;     /* an event; one that is not in the history is UVC_STORE_NOT_FOUND */
} uvc_hist_point_t;

typedef struct uvc_hist_query {
  uvc_hist_how_t how;
  const char* owner; /* "" for a room */
  const char* target;
  uvc_hist_point_t a, b;
  unsigned limit; /* at most UVC_HIST_FETCH_MAX */
  /* A room: its events flagged UVC_HIST_CLOSED whose seq is below this are left out, as if
   * they were not kept (0: none is). A room that was invite-only, secret or keyed keeps its
   * history from a later room of the same name this way. */
  int64_t closed_before;
} uvc_hist_query_t;

/* A flag of uvc_hist_rec_t.flags: the event was made in a room that was invite-only, secret
 * or keyed at the time (see uvc_hist_query_t.closed_before). */
#define UVC_HIST_CLOSED 1

/* A conversation with recent activity (CHATHISTORY TARGETS). */
typedef struct uvc_hist_target {
  const char* name;
  int64_t last_ms;
} uvc_hist_target_t;

/* Called on the loop thread with the events found (recs[0..n), oldest first, valid only
 * during the call), or a negative status and none. */
typedef void (*uvc_store_hist_cb)(void* data, int status, const uvc_hist_rec_t* recs, size_t n);
/* Called on the loop thread with the targets found (latest activity first). */
typedef void (*uvc_store_targets_cb)(void* data, int status, const uvc_hist_target_t* t, size_t n);

/* A batch of records on its way to the store: the records and their strings in two
 * growing blocks, so that adding one costs no allocation most of the time. Built on one
 * thread (the loop), then handed to uvc_store_hist_write, which owns it from then on. */
typedef struct uvc_hist_batch uvc_hist_batch_t;
/* A new empty batch, or NULL when out of memory. */
uvc_hist_batch_t* uvc_hist_batch_new(void);
/* Copies rec into b. Returns 0, UVC_STORE_INVALID (a record without seq, owner, target
 * or nick) or UVC_STORE_NOMEM (b is unchanged). */
int uvc_hist_batch_add(uvc_hist_batch_t* b, const uvc_hist_rec_t* rec);
size_t uvc_hist_batch_count(const uvc_hist_batch_t* b);
/* Bytes of strings b holds, and room for recs records and bytes of strings made at once
 * (a writer that knows how big its last batch was spares the copies of growing). */
size_t uvc_hist_batch_bytes(const uvc_hist_batch_t* b);
int uvc_hist_batch_reserve(uvc_hist_batch_t* b, size_t recs, size_t bytes);
void uvc_hist_batch_free(uvc_hist_batch_t* b);
/* Freed batches are kept (a few, emptied, their buffers kept) for the next uvc_hist_batch_new:
 * this frees them, at exit, once no store has a batch. */
void uvc_hist_batch_release(void);
/* Writes b (taken: freed by the store, also when this fails) like uvc_store_hist_append. */
int uvc_store_hist_write(uvc_store_t* store, uv_loop_t* loop, uvc_hist_batch_t* b,
                         const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data);

/* Appends recs[0..n) (copied; n at least 1) in one transaction, then applies the count
 * bounds to the histories it touched (the age bound is uvc_store_hist_prune's). cb may be NULL.
 * Returns at once like the account operations; UVC_STORE_INVALID for a record without seq, owner,
 * target, msgid or nick. An event already in its history (the same seq) is kept once. */
int uvc_store_hist_append(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_rec_t* recs, size_t n,
                          const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data);
/* Reads one history (the query is copied). */
int uvc_store_hist_fetch(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_query_t* q,
                         uvc_store_hist_cb cb, void* data);
/* The conversations of owner (its private ones) and of the rooms rooms[0..n_rooms) with
 * activity between from_ms and to_ms (either order), latest first, at most limit. */
int uvc_store_hist_targets(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                           const char* const* rooms, size_t n_rooms, int64_t from_ms, int64_t to_ms,
                           unsigned limit, uvc_store_targets_cb cb, void* data);
/* Deletes every private message kept for the account owner (its copies; the other party
 * keeps its own). */
int uvc_store_hist_delete_owner(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                                uvc_store_cb cb, void* data);
/* Deletes a room's whole history. */
int uvc_store_hist_delete_room(uvc_store_t* store, uv_loop_t* loop, const char* room,
                               uvc_store_cb cb, void* data);
/* Applies the age bound to every history (the count bounds are applied as events arrive). */
int uvc_store_hist_prune(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_bounds_t* bounds,
                         uvc_store_cb cb, void* data);

/* The default data directory: $XDG_STATE_HOME/uvchat (when set and absolute), else
 * ~/.local/state/uvchat on POSIX; %LOCALAPPDATA%\uvchat on Windows. Returns 0, or a
 * negative libuv code (UV_ENOBUFS when it does not fit in len bytes with its NUL). */
int uvc_store_default_dir(char* out, size_t len);

#endif
