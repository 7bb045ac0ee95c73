/* store.c: the account database: SQLite in WAL mode, schema migrations, and requests that
 * run on libuv's thread pool and call back on the loop thread.
 *
 * Connections: a request borrows a connection from the store's idle list (opening a new
 * one when the list is empty) and gives it back when done, so every worker thread uses a
 * connection of its own at any moment (SQLite's multi-thread mode, SQLITE_OPEN_NOMUTEX).
 * In WAL mode readers do not wait for a writer, so a login's lookup is not held up behind
 * another account's synced commit. Writers take turns on write_lock, so two of our own
 * never meet SQLite's busy handler; busy_timeout only covers another process.
 *
 * Durability: every write is a single statement in autocommit mode, and with
 * synchronous=FULL sqlite3_step() returns SQLITE_DONE only once the implicit COMMIT has been
 * written and synced. The callback runs after that.
 */
#include "uvchat/store.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "uvchat/log.h"

/* Migration n (1-based) takes the schema from version n - 1 to n. Never edit one that has
 * shipped: add the next. */
static const char* const kMigrations[] = {
    /* 1: accounts by name, ignoring ASCII case as nicks do */
    "CREATE TABLE accounts(name TEXT PRIMARY KEY COLLATE NOCASE, hash TEXT NOT NULL,"
    " created INTEGER NOT NULL)",
};
_Static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == UVC_STORE_SCHEMA,
               "one migration per schema version");

struct uvc_store {
  uv_mutex_t pool_lock;  /* guards idle and n_idle */
  uv_mutex_t write_lock; /* one writer at a time */
  sqlite3* idle[UVC_STORE_POOL];
  unsigned n_idle;
  unsigned pending;    /* loop thread only, like the two below */
  uint8_t closing;     /* uvc_store_close() was called */
  uint8_t dispatching; /* inside a request's callback */
  uint8_t watching;    /* a watch is in flight */
  int schema;
  char* path;
  /* The watch's own connection and the data_version it saw last: used by one watch at a
   * time, on the thread pool, and by destroy once nothing is in flight. */
  sqlite3* watch_db;
  int64_t watch_version;
};

typedef enum { OP_CREATE, OP_GET, OP_SET_HASH, OP_DELETE, OP_WATCH } op_t;

typedef struct store_req {
  uv_work_t work;
  uvc_store_t* store;
  op_t op;
  int status;
  uvc_store_cb cb;
  uvc_store_get_cb get_cb;
  uvc_store_watch_cb watch_cb;
  void* data;
  int64_t created;
  int changed;        /* watch: the database changed since the last watch */
  char* names;        /* watch: every name, NUL-terminated one after another */
  const char** index; /* watch: pointers into names */
  size_t n_names;
  char error[160]; /* SQLite's message when status is UVC_STORE_DB, for the log */
  char name[UVC_STORE_NAME_MAX + 1];
  char hash[UVC_STORE_HASH_MAX + 1]; /* in for create and set_hash, out for get */
} store_req_t;

const char* uvc_store_strerror(int status) {
  switch (status) {
#define X(name, code, text) \
  case code:                \
    return text;
    UVC_STORE_ERRNO_MAP(X)
#undef X
    case 0:
      return "success";
    default:
      return status < 0 ? uv_strerror(status) : "unknown status";
  }
}

/* Creates dir and any missing parents with mode 0700. Returns 0 or a libuv error. */
static int make_dirs(const char* dir) {
  size_t n = strlen(dir), i;
  char* p;
  uv_fs_t req;
  int r;
  if (n == 0) return UV_EINVAL;
  p = malloc(n + 1);
  if (p == NULL) return UV_ENOMEM;
  memcpy(p, dir, n + 1);
  for (i = 1; i < n; i++) { /* the parents; a failure shows up at the last component */
    if (p[i] != '/' && p[i] != '\\') continue;
    if (p[i - 1] == '/' || p[i - 1] == '\\' || p[i - 1] == ':') continue;
    p[i] = '\0';
    uv_fs_mkdir(NULL, &req, p, 0700, NULL);
    uv_fs_req_cleanup(&req);
    p[i] = dir[i];
  }
  r = uv_fs_mkdir(NULL, &req, p, 0700, NULL);
  uv_fs_req_cleanup(&req);
  free(p);
  if (r == UV_EEXIST) {
    r = uv_fs_stat(NULL, &req, dir, NULL);
    if (r == 0 && (req.statbuf.st_mode & S_IFMT) != S_IFDIR) r = UV_ENOTDIR;
    uv_fs_req_cleanup(&req);
  }
  return r;
}

/* Syncs a directory so that entries just created in it survive a power loss (POSIX; a
 * no-op elsewhere). Failures are ignored: some file systems refuse to sync directories. */
static void sync_dir(const char* dir) {
#ifndef _WIN32
  uv_fs_t req;
  int fd = uv_fs_open(NULL, &req, dir, UV_FS_O_RDONLY, 0, NULL);
  uv_fs_req_cleanup(&req);
  if (fd < 0) return;
  uv_fs_fsync(NULL, &req, fd, NULL);
  uv_fs_req_cleanup(&req);
  uv_fs_close(NULL, &req, fd, NULL);
  uv_fs_req_cleanup(&req);
#else
  (void)dir;
#endif
}

/* Opens one connection to path with the settings every connection needs. Returns it, or
 * NULL with SQLite's reason in err. Runs on any thread. */
static sqlite3* connect_db(const char* path, char* err, size_t errlen) {
  sqlite3* db = NULL;
  int rc = sqlite3_open_v2(
      path, &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
      NULL);
  if (rc == SQLITE_OK) rc = sqlite3_extended_result_codes(db, 1);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, UVC_STORE_BUSY_MS);
  if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int*)NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    uvc_errf(err, errlen, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Runs one SQL statement that returns at most one integer; *out gets it (0 when no row).
 * Returns an SQLite result code. */
static int query_int(sqlite3* db, const char* sql, int64_t* out) {
  sqlite3_stmt* st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  *out = 0;
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Turns on WAL mode and applies the migrations the database lacks, all in one transaction.
 * Returns 0 or a negative code with the reason in err. */
static int migrate(uvc_store_t* s, sqlite3* db, char* err, size_t errlen) {
  sqlite3_stmt* st = NULL;
  int64_t version = 0, rows = 0;
  int rc, v;
  char* msg = NULL;
  rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* mode = sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp((const char*)mode, "wal") != 0) rc = SQLITE_CANTOPEN;
  } else if (rc == SQLITE_OK) {
    rc = sqlite3_errcode(db);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    uvc_errf(err, errlen, "%s: cannot use WAL mode (%s)", s->path, sqlite3_errstr(rc));
    return UVC_STORE_DB;
  }
  rc = sqlite3_exec(db,
                    "BEGIN IMMEDIATE;"
                    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
                    NULL, NULL, &msg);
  if (rc == SQLITE_OK) rc = query_int(db, "SELECT count(*) FROM schema_version", &rows);
  if (rc == SQLITE_OK && rows == 0)
    rc = sqlite3_exec(db, "INSERT INTO schema_version(version) VALUES(0)", NULL, NULL, &msg);
  if (rc == SQLITE_OK) rc = query_int(db, "SELECT max(version) FROM schema_version", &version);
  if (rc == SQLITE_OK && version > UVC_STORE_SCHEMA) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    uvc_errf(err, errlen,
             "%s: schema version %lld is newer than this uvchat knows (%d): use a newer uvchat",
             s->path, (long long)version, UVC_STORE_SCHEMA);
    return UVC_STORE_NEWER;
  }
  for (v = (int)version + 1; rc == SQLITE_OK && v <= UVC_STORE_SCHEMA; v++) {
    char sql[64];
    rc = sqlite3_exec(db, kMigrations[v - 1], NULL, NULL, &msg);
    snprintf(sql, sizeof(sql), "UPDATE schema_version SET version=%d", v);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) version = v; /* for the message */
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    uvc_errf(err, errlen, "%s: schema migration %lld failed: %s", s->path, (long long)version,
             msg != NULL ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return UVC_STORE_DB;
  }
  s->schema = UVC_STORE_SCHEMA;
  return 0;
}

/* Closes the connections and frees the store. Nothing may be in flight. */
static void destroy(uvc_store_t* store) {
  unsigned i;
  assert(store->pending == 0);
  if (store->watch_db != NULL) sqlite3_close(store->watch_db);
  for (i = 0; i < store->n_idle; i++)
    sqlite3_close(store->idle[i]); /* the last one checkpoints and removes the WAL */
  uv_mutex_destroy(&store->write_lock);
  uv_mutex_destroy(&store->pool_lock);
  free(store->path);
  free(store);
}

int uvc_store_open(uvc_store_t** out, const char* dir, char* err, size_t errlen) {
  uvc_store_t* s;
  sqlite3* db;
  size_t n;
  int r;
  *out = NULL;
  uvc_errf(err, errlen, "%s", "");
  if (!sqlite3_threadsafe()) {
    uvc_errf(err, errlen, "this SQLite library was built without thread support");
    return UVC_STORE_DB;
  }
  r = make_dirs(dir);
  if (r != 0 && r != UV_EEXIST) {
    uvc_errf(err, errlen, "cannot create the data directory %s: %s", dir, uv_strerror(r));
    return r;
  }
  s = calloc(1, sizeof(*s));
  n = strlen(dir);
  if (s == NULL || (s->path = malloc(n + sizeof("/" UVC_STORE_FILE))) == NULL) {
    free(s);
    uvc_errf(err, errlen, "out of memory");
    return UVC_STORE_NOMEM;
  }
  memcpy(s->path, dir, n);
  if (n > 0 && (dir[n - 1] == '/' || dir[n - 1] == '\\')) n--;
  memcpy(s->path + n, "/" UVC_STORE_FILE, sizeof("/" UVC_STORE_FILE));
  if (uv_mutex_init(&s->pool_lock) != 0) {
    free(s->path);
    free(s);
    uvc_errf(err, errlen, "cannot create a mutex");
    return UVC_STORE_NOMEM;
  }
  if (uv_mutex_init(&s->write_lock) != 0) {
    uv_mutex_destroy(&s->pool_lock);
    free(s->path);
    free(s);
    uvc_errf(err, errlen, "cannot create a mutex");
    return UVC_STORE_NOMEM;
  }
  db = connect_db(s->path, err, errlen);
  if (db == NULL) {
    destroy(s);
    return UVC_STORE_DB;
  }
#ifndef _WIN32
  { /* password hashes: readable by the owner alone (the WAL file copies this mode) */
    uv_fs_t req;
    uv_fs_chmod(NULL, &req, s->path, 0600, NULL);
    uv_fs_req_cleanup(&req);
  }
#endif
  r = migrate(s, db, err, errlen);
  if (r != 0) {
    sqlite3_close(db);
    destroy(s);
    return r;
  }
  s->idle[s->n_idle++] = db;
  s->watch_version = -1; /* the first watch reports every name */
  sync_dir(dir);         /* the new database and WAL files' directory entries */
  *out = s;
  return 0;
}

void uvc_store_close(uvc_store_t* store) {
  if (store == NULL) return;
  store->closing = 1;
  if (store->pending == 0 && !store->dispatching) destroy(store);
}

unsigned uvc_store_pending(const uvc_store_t* store) {
  return store->pending;
}

int uvc_store_schema_version(const uvc_store_t* store) {
  return store->schema;
}

const char* uvc_store_path(const uvc_store_t* store) {
  return store->path;
}

/* ---- On the thread pool ------------------------------------------------------------- */

/* A connection for this request: an idle one, or a new one (NULL with r->error set). */
static sqlite3* acquire(store_req_t* r) {
  uvc_store_t* s = r->store;
  sqlite3* db = NULL;
  uv_mutex_lock(&s->pool_lock);
  if (s->n_idle > 0) db = s->idle[--s->n_idle];
  uv_mutex_unlock(&s->pool_lock);
  if (db == NULL) db = connect_db(s->path, r->error, sizeof(r->error));
  return db;
}

/* Gives a connection back to the idle list, or closes it when the list is full. */
static void release(uvc_store_t* s, sqlite3* db) {
  uv_mutex_lock(&s->pool_lock);
  if (s->n_idle < UVC_STORE_POOL) {
    s->idle[s->n_idle++] = db;
    db = NULL;
  }
  uv_mutex_unlock(&s->pool_lock);
  if (db != NULL) sqlite3_close(db);
}

/* Records an SQLite failure in the request. */
static void db_failed(store_req_t* r, sqlite3* db, int rc) {
  r->status = UVC_STORE_DB;
  snprintf(r->error, sizeof(r->error), "%s (%s)", sqlite3_errmsg(db), sqlite3_errstr(rc));
}

/* Runs the request's statement on db and sets r->status. */
static void run(store_req_t* r, sqlite3* db) {
  static const char* const kSql[] = {
      "INSERT INTO accounts(name, hash, created) VALUES(?1, ?2, ?3)",
      "SELECT hash FROM accounts WHERE name = ?1",
      "UPDATE accounts SET hash = ?2 WHERE name = ?1",
      "DELETE FROM accounts WHERE name = ?1",
  };
  sqlite3_stmt* st = NULL;
  int write = r->op != OP_GET;
  int rc;
  if (write) uv_mutex_lock(&r->store->write_lock);
  rc = sqlite3_prepare_v2(db, kSql[r->op], -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && (r->op == OP_CREATE || r->op == OP_SET_HASH))
    rc = sqlite3_bind_text(st, 2, r->hash, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && r->op == OP_CREATE) rc = sqlite3_bind_int64(st, 3, r->created);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  switch (rc) {
    case SQLITE_ROW: { /* get */
      const unsigned char* h = sqlite3_column_text(st, 0);
      size_t n = h != NULL ? (size_t)sqlite3_column_bytes(st, 0) : 0;
      if (n > UVC_STORE_HASH_MAX) n = UVC_STORE_HASH_MAX;
      if (n > 0) memcpy(r->hash, h, n);
      r->hash[n] = '\0';
      r->status = 0;
      break;
    }
    case SQLITE_DONE: /* committed and synced, or no row for a get */
      if (r->op == OP_GET || (r->op != OP_CREATE && sqlite3_changes(db) == 0))
        r->status = UVC_STORE_NOT_FOUND;
      else
        r->status = 0;
      break;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      r->status = UVC_STORE_EXISTS;
      break;
    default:
      db_failed(r, db, rc);
      break;
  }
  sqlite3_finalize(st);
  if (write) uv_mutex_unlock(&r->store->write_lock);
}

/* The watch: PRAGMA data_version changes when another connection (another process, or
 * another connection of ours) has committed; then every name is read. The version is read
 * before the names, so a commit in between is seen by the next watch. */
static void run_watch(store_req_t* r) {
  uvc_store_t* s = r->store;
  sqlite3_stmt* st = NULL;
  int64_t version = 0;
  size_t used = 0, cap = 0, i, off;
  int rc;
  if (s->watch_db == NULL &&
      (s->watch_db = connect_db(s->path, r->error, sizeof(r->error))) == NULL) {
    r->status = UVC_STORE_DB;
    return;
  }
  rc = query_int(s->watch_db, "PRAGMA data_version", &version);
  if (rc != SQLITE_OK) {
    db_failed(r, s->watch_db, rc);
    return;
  }
  r->status = 0;
  if (version == s->watch_version) return;
  rc = sqlite3_prepare_v2(s->watch_db, "SELECT name FROM accounts", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* name = (const char*)sqlite3_column_text(st, 0);
    size_t n = name != NULL ? (size_t)sqlite3_column_bytes(st, 0) : 0;
    rc = SQLITE_OK;
    if (n == 0 || n > UVC_STORE_NAME_MAX) continue;
    if (used + n + 1 > cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      char* p;
      while (ncap < used + n + 1)
        ncap *= 2;
      if ((p = realloc(r->names, ncap)) == NULL) {
        rc = SQLITE_NOMEM;
        break;
      }
      r->names = p;
      cap = ncap;
    }
    memcpy(r->names + used, name, n);
    r->names[used + n] = '\0';
    used += n + 1;
    r->n_names++;
  }
  if (rc == SQLITE_DONE && r->n_names > 0 &&
      (r->index = malloc(r->n_names * sizeof(*r->index))) == NULL)
    rc = SQLITE_NOMEM;
  if (rc != SQLITE_DONE) {
    db_failed(r, s->watch_db, rc);
    sqlite3_finalize(st);
    return;
  }
  sqlite3_finalize(st);
  for (i = 0, off = 0; i < r->n_names; i++) {
    r->index[i] = r->names + off;
    off += strlen(r->names + off) + 1;
  }
  s->watch_version = version;
  r->changed = 1;
}

static void work_cb(uv_work_t* w) {
  store_req_t* r = (store_req_t*)w->data;
  sqlite3* db;
  if (r->op == OP_WATCH) {
    run_watch(r);
    return;
  }
  db = acquire(r);
  if (db == NULL) {
    r->status = UVC_STORE_DB;
    return;
  }
  run(r, db);
  release(r->store, db);
}

/* ---- Back on the loop thread -------------------------------------------------------- */

static void after_cb(uv_work_t* w, int status) {
  store_req_t* r = (store_req_t*)w->data;
  uvc_store_t* s = r->store;
  s->pending--;
  if (status == UV_ECANCELED) r->status = UVC_STORE_CANCELED;
  if (r->status == UVC_STORE_DB) UVC_WARN("account database: %s", r->error);
  s->dispatching = 1; /* a close from inside the callback waits until it returns */
  if (r->op == OP_WATCH) {
    s->watching = 0;
    r->watch_cb(r->data, r->status, r->status == 0 && r->changed, r->index,
                r->status == 0 ? r->n_names : 0);
  } else if (r->op == OP_GET) {
    r->get_cb(r->data, r->status, r->status == 0 ? r->hash : NULL);
  } else {
    r->cb(r->data, r->status);
  }
  s->dispatching = 0;
  free(r->names);
  free(r->index);
  free(r);
  if (s->closing && s->pending == 0) destroy(s);
}

/* Copies s into dst (cap bytes with the NUL); 0, or -1 when s is NULL, empty or too long. */
static int copy_arg(char* dst, size_t cap, const char* s) {
  size_t n;
  if (s == NULL) return -1;
  n = strlen(s);
  if (n == 0 || n >= cap) return -1;
  memcpy(dst, s, n + 1);
  return 0;
}

/* Builds and queues one request. */
static int submit(uvc_store_t* s, uv_loop_t* loop, op_t op, const char* name, const char* hash,
                  uvc_store_cb cb, uvc_store_get_cb get_cb, uvc_store_watch_cb watch_cb,
                  void* data) {
  store_req_t* r;
  int rc;
  if (s == NULL || loop == NULL || (cb == NULL && get_cb == NULL && watch_cb == NULL))
    return UVC_STORE_INVALID;
  if (s->closing) return UVC_STORE_CLOSING;
  r = calloc(1, sizeof(*r));
  if (r == NULL) return UVC_STORE_NOMEM;
  if (op == OP_WATCH) name = "-"; /* no name */
  r->watch_cb = watch_cb;
  if (copy_arg(r->name, sizeof(r->name), name) != 0 ||
      ((op == OP_CREATE || op == OP_SET_HASH) && copy_arg(r->hash, sizeof(r->hash), hash) != 0)) {
    free(r);
    return UVC_STORE_INVALID;
  }
  r->store = s;
  r->op = op;
  r->cb = cb;
  r->get_cb = get_cb;
  r->data = data;
  r->created = (int64_t)time(NULL);
  r->work.data = r;
  rc = uv_queue_work(loop, &r->work, work_cb, after_cb);
  if (rc != 0) {
    free(r);
    return rc;
  }
  s->pending++;
  if (op == OP_WATCH) s->watching = 1;
  return 0;
}

int uvc_store_create(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                     uvc_store_cb cb, void* data) {
  return submit(store, loop, OP_CREATE, name, hash, cb, NULL, NULL, data);
}

int uvc_store_get(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_get_cb cb,
                  void* data) {
  return submit(store, loop, OP_GET, name, NULL, NULL, cb, NULL, data);
}

int uvc_store_set_hash(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                       uvc_store_cb cb, void* data) {
  return submit(store, loop, OP_SET_HASH, name, hash, cb, NULL, NULL, data);
}

int uvc_store_delete(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_cb cb,
                     void* data) {
  return submit(store, loop, OP_DELETE, name, NULL, cb, NULL, NULL, data);
}

int uvc_store_watch(uvc_store_t* store, uv_loop_t* loop, uvc_store_watch_cb cb, void* data) {
  if (store == NULL || cb == NULL) return UVC_STORE_INVALID;
  if (store->watching) return UVC_STORE_BUSY;
  return submit(store, loop, OP_WATCH, NULL, NULL, NULL, NULL, cb, data);
}

void uvc_store_watch_again(uvc_store_t* store) {
  assert(!store->watching);
  store->watch_version = -1;
}

/* ---- The default place -------------------------------------------------------------- */

/* Writes base (without trailing separators) + tail into out. Returns 0 or UV_ENOBUFS. */
static int join(char* out, size_t len, const char* base, const char* tail) {
  size_t n = strlen(base), t = strlen(tail);
  while (n > 1 && (base[n - 1] == '/' || base[n - 1] == '\\'))
    n--;
  if (n + t + 1 > len) return UV_ENOBUFS;
  memmove(out, base, n);
  memcpy(out + n, tail, t + 1);
  return 0;
}

int uvc_store_default_dir(char* out, size_t len) {
  char buf[4096];
  size_t n = sizeof(buf);
  int r;
#ifdef _WIN32
  r = uv_os_getenv("LOCALAPPDATA", buf, &n);
  if (r != 0) return r;
  return join(out, len, buf, "\\uvchat");
#else
  r = uv_os_getenv("XDG_STATE_HOME", buf, &n);
  if (r == 0 && buf[0] == '/') return join(out, len, buf, "/uvchat");
  n = sizeof(buf);
  r = uv_os_homedir(buf, &n);
  if (r != 0) return r;
  return join(out, len, buf, "/.local/state/uvchat");
#endif
}
