/* store.h: registered accounts in an SQLite database, reached without blocking the loop.
 *
 * The database is dir/uvchat.db in WAL mode with synchronous=FULL: once a create, set_hash
 * or delete has called back with 0, the change has been committed and synced, and survives
 * a crash of the process or of the machine. The schema is upgraded by ordered migrations
 * when the store is opened; a database written by a newer uvchat is refused.
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
#include <uv.h>

#define UVC_STORE_FILE     "uvchat.db"
#define UVC_STORE_NAME_MAX 255   /* bytes of an account name */
#define UVC_STORE_HASH_MAX 255   /* bytes of a password hash string */
#define UVC_STORE_SCHEMA   1     /* the schema version this code writes */
#define UVC_STORE_POOL     4     /* idle connections kept at most */
#define UVC_STORE_BUSY_MS  10000 /* how long to wait for another process holding the lock */

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

/* The default data directory: $XDG_STATE_HOME/uvchat (when set and absolute), else
 * ~/.local/state/uvchat on POSIX; %LOCALAPPDATA%\uvchat on Windows. Returns 0, or a
 * negative libuv code (UV_ENOBUFS when it does not fit in len bytes with its NUL). */
int uvc_store_default_dir(char* out, size_t len);

#endif
