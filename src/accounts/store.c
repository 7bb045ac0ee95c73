/* store.c: the SQLite store: accounts and history in one database in WAL mode, the schema's
 * migrations (from schema.c) applied at open, and requests that run on libuv's thread pool
 * and call back on the loop thread.
 *
 * Connections: a request borrows a connection from the store's idle list (opening a new
 * one when the list is empty) and gives it back when done, so every worker thread uses a
 * connection of its own at any moment (SQLite's multi-thread mode, SQLITE_OPEN_NOMUTEX).
 * In WAL mode readers do not wait for a writer, so a login's lookup is not held up behind
 * another account's synced commit. Writers take turns on write_lock, so two of our own
 * never meet SQLite's busy handler; busy_timeout only covers another process.
 *
 * Durability: every account write is a single statement in autocommit mode, and with
 * synchronous=FULL sqlite3_step() returns SQLITE_DONE only once the implicit COMMIT has been
 * written and synced. The callback runs after that. A batch of history is one transaction,
 * committed with synchronous=NORMAL (run_append): in WAL mode it survives a crash of the
 * process; the WAL is synced at checkpoints, so a crash of the machine can lose the batches
 * since the last one (docs/HISTORY.md).
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

#include "hchunk.h"
#include "schema.h"
#include "store_impl.h"

#define UVC_STR_(x) #x
#define UVC_STR(x)  UVC_STR_(x)
#include "uvchat/log.h"

static void close_db(sqlite3* db);
static int move_room_rows(sqlite3* db);
static int exec_sql(sqlite3* db, const char* sql);

struct uvc_store {
  uvc_store_head_t head; /* the backend's operations (sqlite_ops) */
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

typedef enum {
  OP_CREATE,
  OP_GET,
  OP_SET_HASH,
  OP_DELETE,
  OP_WATCH,
  OP_HIST_APPEND,
  OP_HIST_FETCH,
  OP_HIST_TARGETS,
  OP_HIST_DELETE_OWNER,
  OP_HIST_DELETE_ROOM,
  OP_HIST_PRUNE
} op_t;

/* A room's kept events: see "Rooms in chunks" below. */
typedef struct room_state {
  int64_t first, skip, count, last_seq;
} room_state_t;

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
  /* history: the records to append (one block with their strings), or those found (each
   * row in a block of its own, rows[i]); the query; the targets found */
  uvc_hist_batch_t* batch; /* append: the records to write */
  uvc_hist_rec_t* recs;    /* append: views of them, made on the thread pool */
  size_t n_recs;
  uvc_hist_rec_t** rows;
  size_t n_rows, cap_rows;
  uvc_hist_bounds_t bounds;
  uvc_hist_query_t q;
  char* qbuf; /* the query's strings, or the targets' room names */
  uvc_hist_target_t* targets;
  size_t n_targets;
  char** target_names;
  const char** rooms;
  size_t n_rooms;
  int64_t now_ms;
  room_state_t room; /* fetch of a room: what it keeps */
  uvc_store_hist_cb hist_cb;
  uvc_store_targets_cb targets_cb;
  char error[160]; /* SQLite's message when status is UVC_STORE_DB, for the log */
  char name[UVC_STORE_NAME_MAX + 1];
  char hash[UVC_STORE_HASH_MAX + 1]; /* in for create and set_hash, out for get */
} store_req_t;

static const uvc_store_ops_t sqlite_ops; /* at the end of the file */

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
  /* 512 KiB of page cache per connection, not SQLite's 2 MB: history churns through pages
   * (each event in, the oldest out) that would otherwise fill every connection's cache for
   * nothing; the kernel keeps the file's pages anyway. */
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "PRAGMA cache_size=-" UVC_STR(UVC_STORE_CACHE_KB), NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    uvc_errf(err, errlen, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Runs one SQL statement (?1 the text a, when a is not NULL) that returns at most one integer;
 * *out gets it (0 when no row).
 * Returns an SQLite result code. */
static int query_text_int(sqlite3* db, const char* sql, const char* a, int64_t* out) {
  sqlite3_stmt* st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  *out = 0;
  if (rc == SQLITE_OK && a != NULL) rc = sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int query_int(sqlite3* db, const char* sql, int64_t* out) {
  return query_text_int(db, sql, NULL, out);
}

/* Turns on WAL mode and applies the migrations the database lacks, all in one transaction.
 * Returns 0 or a negative code with the reason in err. */
static int migrate(uvc_store_t* s, sqlite3* db, char* err, size_t errlen) {
  sqlite3_stmt* st = NULL;
  int64_t version = 0, rows = 0;
  int rc, v;
  char* msg = NULL;
  /* 4 KiB pages for a new database (SQLite's default, said here on purpose): 16 KiB pages
   * write a batch of history in a quarter of the WAL frames, but the page caches grew the
   * server by megabytes under a stuck reader's flood (test_attack's memory bound). */
  rc = sqlite3_exec(db, "PRAGMA page_size=4096", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
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
    rc = sqlite3_exec(db, uvc_schema_migrations[v - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK && v == 3) rc = move_room_rows(db); /* its data, in C */
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
    close_db(store->idle[i]); /* the last one checkpoints and removes the WAL */
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
    close_db(db);
    destroy(s);
    return r;
  }
  s->idle[s->n_idle++] = db;
  s->head.ops = &sqlite_ops;
  s->watch_version = -1; /* the first watch reports every name */
  sync_dir(dir);         /* the new database and WAL files' directory entries */
  *out = s;
  return 0;
}

static void sqlite_close(uvc_store_t* store) {
  if (store == NULL) return;
  store->closing = 1;
  if (store->pending == 0 && !store->dispatching) destroy(store);
}

static unsigned sqlite_pending(const uvc_store_t* store) {
  return store->pending;
}

static int sqlite_schema_version(const uvc_store_t* store) {
  return store->schema;
}

static const char* sqlite_path(const uvc_store_t* store) {
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
  if (db != NULL) close_db(db);
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

/* ---- History, on the thread pool ------------------------------------------------------ */

uvc_hist_rec_t* uvc_hist_rec_dup(const uvc_hist_rec_t* rec) {
  const char* in[7];
  size_t len[7], total = sizeof(uvc_hist_rec_t), i;
  uvc_hist_rec_t* out;
  char* p;
  const char** field[7];
  in[0] = rec->owner;
  in[1] = rec->target;
  in[2] = rec->nick;
  in[3] = rec->user;
  in[4] = rec->host;
  in[5] = rec->account;
  in[6] = rec->text;
  for (i = 0; i < 7; i++) {
    size_t cap = i == 6 ? UVC_HIST_TEXT_MAX : UVC_HIST_FIELD_MAX;
    len[i] = in[i] == NULL ? 0 : (i == 6 && rec->text_len > 0) ? rec->text_len : strlen(in[i]);
    if (len[i] > cap) len[i] = cap;
    total += len[i] + 1;
  }
  if ((out = malloc(total)) == NULL) return NULL;
  *out = *rec;
  field[0] = &out->owner;
  field[1] = &out->target;
  field[2] = &out->nick;
  field[3] = &out->user;
  field[4] = &out->host;
  field[5] = &out->account;
  field[6] = &out->text;
  p = (char*)(out + 1);
  for (i = 0; i < 7; i++) {
    if (len[i] > 0) memcpy(p, in[i], len[i]);
    p[len[i]] = '\0';
    *field[i] = p;
    p += len[i] + 1;
  }
  out->text_len = len[6];
  return out;
}

/* r->recs: a view of each private record of r->batch (on the thread pool; the rooms' are in
 * chunks already). Returns 0 or -1. */
static int batch_views(store_req_t* r) {
  const uvc_hist_batch_t* b = r->batch;
  size_t i, n = uvc_hist_batch_privates(b);
  if ((r->recs = malloc((n > 0 ? n : 1) * sizeof(*r->recs))) == NULL) return -1;
  for (i = 0; i < n; i++)
    uvc_hist_batch_private(b, i, &r->recs[i]);
  r->n_recs = n;
  return 0;
}

/* Runs sql with no result on db. Returns an SQLite result code. */
static int exec_sql(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* ---- Statements kept per connection --------------------------------------------------- */

/* A prepared statement for sql on db: one this connection prepared before and is not using
 * (reset, its bindings cleared), or a new one kept for next time. Preparing costs more than
 * running a small statement, and a batch of history runs a handful: without this the
 * preparing alone would cost a few hundred instructions per event. NULL on error (rc). */
static sqlite3_stmt* cached(sqlite3* db, const char* sql, int* rc) {
  sqlite3_stmt* st = NULL;
  while ((st = sqlite3_next_stmt(db, st)) != NULL) {
    const char* text = sqlite3_sql(st);
    if (!sqlite3_stmt_busy(st) && text != NULL && strcmp(text, sql) == 0) {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      *rc = SQLITE_OK;
      return st;
    }
  }
  *rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  return *rc == SQLITE_OK ? st : NULL;
}

/* Done with a cached statement: reset (its read or write ends here), kept for next time. */
static void put_back(sqlite3_stmt* st) {
  if (st != NULL) sqlite3_reset(st);
}

/* Finalizes the statements db kept, then closes it. */
static void close_db(sqlite3* db) {
  sqlite3_stmt* st;
  if (db == NULL) return;
  while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
    sqlite3_finalize(st);
  sqlite3_close(db);
}

/* Deletes the oldest private messages of owner (over all its conversations, by seq) beyond
 * keep. Returns an SQLite result code. */
static int trim(sqlite3* db, const char* owner, unsigned keep) {
  static const char kAll[] =
      "DELETE FROM history WHERE owner = ?1 AND seq <= (SELECT seq FROM history"
      " WHERE owner = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?3)";
  int rc;
  sqlite3_stmt* st = cached(db, kAll, &rc);
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)keep);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  put_back(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Deletes every event older than the age bound (a scan of the whole table: run it now and
 * then, not per batch). */
static int prune_age(sqlite3* db, const uvc_hist_bounds_t* b, int64_t now_ms) {
  sqlite3_stmt* st = NULL;
  int rc;
  if (b->max_age_ms <= 0) return SQLITE_OK;
  rc = sqlite3_prepare_v2(db, "DELETE FROM history WHERE time_ms < ?1", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, now_ms - b->max_age_ms);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The history rec belongs to for its count bound: (owner, target) for a room, the owner
 * alone for private messages (the bound is per account). Hashed ignoring ASCII case. */
static uint32_t history_hash(const uvc_hist_rec_t* rec) {
  uint32_t h = 2166136261u;
  const char* p;
  for (p = rec->owner; *p != '\0'; p++)
    h = (h ^ (uint8_t)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
  if (rec->owner[0] == '\0')
    for (p = rec->target; *p != '\0'; p++)
      h = (h ^ (uint8_t)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
  return h;
}

static int same_history(const uvc_hist_rec_t* a, const uvc_hist_rec_t* b) {
  if (sqlite3_stricmp(a->owner, b->owner) != 0) return 0;
  return a->owner[0] != '\0' || sqlite3_stricmp(a->target, b->target) == 0;
}

/* Applies the count bounds to each history the batch touched, once each (a hash set of the
 * first record of each). Returns an SQLite result code. */
static int trim_touched(store_req_t* r, sqlite3* db) {
  size_t cap = 16, i, *slot;
  int rc = SQLITE_OK;
  if (r->bounds.count_private == 0) return SQLITE_OK;
  while (cap < 2 * r->n_recs)
    cap *= 2;
  if ((slot = malloc(cap * sizeof(*slot))) == NULL) return SQLITE_NOMEM;
  for (i = 0; i < cap; i++)
    slot[i] = (size_t)-1;
  for (i = 0; rc == SQLITE_OK && i < r->n_recs; i++) {
    const uvc_hist_rec_t* e = &r->recs[i];
    size_t k;
    if (e->owner[0] == '\0') continue; /* a room's bound: append_room */
    k = history_hash(e) & (cap - 1);
    while (slot[k] != (size_t)-1 && !same_history(&r->recs[slot[k]], e))
      k = (k + 1) & (cap - 1);
    if (slot[k] != (size_t)-1) continue; /* trimmed already */
    slot[k] = i;
    rc = trim(db, e->owner, r->bounds.count_private);
  }
  free(slot);
  return rc;
}

/* ---- Rooms in chunks -------------------------------------------------------------------
 *
 * A room's events are kept in room_chunks, one row per batch (hchunk.h), with disjoint
 * ranges of seq in order, each chunk's events in order. room_state says which chunk is the
 * oldest (first: its first_seq) and how many of its first events the count bound has
 * already taken (skip: they are no longer shown), how many events are kept (count) and the
 * last seq. The count bound deletes whole chunks and moves skip, by arithmetic on the
 * chunks' counts: it never reads a chunk's bytes. A read sees exactly the events kept. */

static int room_state_get(sqlite3* db, const char* room, room_state_t* rs) {
  int rc;
  sqlite3_stmt* st =
      cached(db, "SELECT first, skip, count, last_seq FROM room_state WHERE room = ?1", &rc);
  memset(rs, 0, sizeof(*rs));
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    rs->first = sqlite3_column_int64(st, 0);
    rs->skip = sqlite3_column_int64(st, 1);
    rs->count = sqlite3_column_int64(st, 2);
    rs->last_seq = sqlite3_column_int64(st, 3);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  put_back(st);
  return rc;
}

static int room_state_put(sqlite3* db, const char* room, const room_state_t* rs) {
  int rc;
  sqlite3_stmt* st = cached(db,
                            "INSERT OR REPLACE INTO room_state(room, first, skip, count, last_seq)"
                            " VALUES(?1, ?2, ?3, ?4, ?5)",
                            &rc);
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, rs->first);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, rs->skip);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, rs->count);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, rs->last_seq);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  put_back(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Whether event i of the chunk that starts at first_seq is still shown. */
static inline int kept(const room_state_t* rs, int64_t first_seq, size_t i) {
  return first_seq != rs->first || (int64_t)i >= rs->skip;
}

static int chunk_insert(sqlite3* db, const char* room, const uvc_hchunk_t* c) {
  int rc;
  sqlite3_stmt* st;
  if (c->n == 0) return SQLITE_OK;
  st = cached(db,
              "INSERT INTO room_chunks(room, first_seq, last_seq, min_ms, max_ms, n, data)"
              " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
              &rc);
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, c->first_seq);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, c->last_seq);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, c->min_ms);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, c->max_ms);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, c->n);
  if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 7, c->p, (int)c->len, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  put_back(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Calls fn for each record of the chunk data[0..len) in order until it returns non-zero
 * (returned). SQLITE_CORRUPT when the bytes are not a chunk. */
typedef int (*rec_fn)(void* arg, const uvc_hist_rec_t* e);
static int each_rec(const void* data, int len, rec_fn fn, void* arg) {
  uvc_hchunk_iter_t it;
  uvc_hist_rec_t e;
  int got, stop;
  memset(&e, 0, sizeof e);
  uvc_hchunk_iter(&it, data, len > 0 ? (size_t)len : 0);
  while ((got = uvc_hchunk_next(&it, &e)) == 1)
    if ((stop = fn(arg, &e)) != 0) return stop;
  return got < 0 ? SQLITE_CORRUPT : 0;
}

/* The events of a chunk row (column col of st) as views, in order: into *v (grown). */
typedef struct views {
  uvc_hist_rec_t* v;
  size_t n, cap;
} views_t;
static int add_view(void* arg, const uvc_hist_rec_t* e) {
  views_t* w = arg;
  if (w->n == w->cap) {
    size_t cap = w->cap == 0 ? 64 : w->cap * 2;
    uvc_hist_rec_t* v = realloc(w->v, cap * sizeof(*v));
    if (v == NULL) return SQLITE_NOMEM;
    w->v = v;
    w->cap = cap;
  }
  w->v[w->n++] = *e;
  return 0;
}
static int row_views(sqlite3_stmt* st, int col, views_t* w) {
  w->n = 0;
  return each_rec(sqlite3_column_blob(st, col), sqlite3_column_bytes(st, col), add_view, w);
}

/* Takes the oldest events of room until rs->count is keep: whole chunks deleted, and skip
 * moved in the one the bound falls in. */
static int apply_count_bound(sqlite3* db, const char* room, room_state_t* rs, unsigned keep) {
  int64_t drop = rs->count - (int64_t)keep, first, skip;
  sqlite3_stmt* st;
  int rc;
  if (keep == 0 || drop <= 0) return SQLITE_OK;
  st = cached(db, "SELECT first_seq, n FROM room_chunks WHERE room = ?1 ORDER BY first_seq", &rc);
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  first = INT64_MAX; /* when every chunk goes */
  skip = 0;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t f = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
    int64_t gone = f == rs->first ? rs->skip : 0;
    rc = SQLITE_OK;
    if (drop > 0 && n - gone <= drop) { /* all of it goes */
      drop -= n - gone;
      continue;
    }
    first = f; /* the oldest chunk left: the bound falls in it, or just before it */
    skip = gone + drop;
    break;
  }
  put_back(st);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
  if (rc != SQLITE_OK) return rc;
  st = cached(db, "DELETE FROM room_chunks WHERE room = ?1 AND first_seq < ?2", &rc);
  if (st == NULL) return rc;
  rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, first);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  put_back(st);
  if (rc != SQLITE_DONE) return rc;
  rs->first = first == INT64_MAX ? 0 : first;
  rs->skip = skip;
  rs->count = keep;
  return SQLITE_OK;
}

static int cmp_seq(const void* a, const void* b) {
  const uvc_hist_rec_t* x = a;
  const uvc_hist_rec_t* y = b;
  if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
  return x->pending - y->pending; /* pending marks the newcomer: the one kept comes first */
}

/* The slow way in: events that are not all after the room's last seq (an event written
 * twice, or out of order). The chunks from the oldest newcomer on are read, merged with the
 * newcomers (an event already kept is kept once), and written again. Rare: the writer adds
 * each room's events in order. */
static int merge_room(sqlite3* db, const char* room, room_state_t* rs, const uvc_hist_rec_t** v,
                      size_t n, uvc_hchunk_t* c) {
  views_t w = {0};
  uvc_hist_rec_t* all;
  size_t n_all, i;
  int64_t lo = INT64_MAX, old_kept = 0, below = INT64_MIN;
  sqlite3_stmt* st = NULL;
  int rc, oldest = 0;
  /* every block of chunk bytes read, kept until the merged chunks are written */
  void** blobs = NULL;
  size_t n_blobs = 0;
  for (i = 0; i < n; i++)
    if (v[i]->seq < lo) lo = v[i]->seq;
  rc = sqlite3_prepare_v2(db,
                          "SELECT first_seq, data FROM room_chunks WHERE room = ?1"
                          " AND last_seq >= ?2 ORDER BY first_seq",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, lo);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t first = sqlite3_column_int64(st, 0);
    int len = sqlite3_column_bytes(st, 1);
    void* copy = malloc(len > 0 ? (size_t)len : 1);
    void** grown = realloc(blobs, (n_blobs + 1) * sizeof(*blobs));
    size_t from = w.n, k;
    rc = SQLITE_OK;
    if (grown != NULL) blobs = grown;
    if (copy == NULL || grown == NULL) {
      free(copy);
      rc = SQLITE_NOMEM;
      break;
    }
    if (len > 0) memcpy(copy, sqlite3_column_blob(st, 1), (size_t)len);
    blobs[n_blobs++] = copy;
    if ((rc = each_rec(copy, len, add_view, &w)) != SQLITE_OK) break;
    if (first == rs->first) { /* the oldest: what the bound took is not merged back */
      oldest = 1;
      for (k = from; k < w.n && (int64_t)(k - from) < rs->skip; k++)
        below = w.v[k].seq;
      memmove(w.v + from, w.v + k, (w.n - k) * sizeof(*w.v));
      w.n -= k - from;
    }
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  old_kept = (int64_t)w.n;
  for (i = 0; i < w.n; i++)
    w.v[i].pending = 0;
  for (i = 0; rc == SQLITE_OK && i < n; i++) { /* the newcomers, marked */
    uvc_hist_rec_t e = *v[i];
    if (e.seq <= below) continue; /* no newer than what the bound took */
    e.pending = 1;
    rc = add_view(&w, &e);
  }
  all = w.v;
  n_all = w.n;
  if (rc == SQLITE_OK) qsort(all, n_all, sizeof(*all), cmp_seq);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db, "DELETE FROM room_chunks WHERE room = ?1 AND last_seq >= ?2", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, lo);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  uvc_hchunk_clear(c);
  rs->count -= old_kept;
  for (i = 0; rc == SQLITE_OK && i < n_all; i++) {
    if (i > 0 && all[i].seq == all[i - 1].seq) continue; /* kept once */
    if (uvc_hchunk_add(c, &all[i]) != 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    rs->count++;
    if (all[i].seq > rs->last_seq) rs->last_seq = all[i].seq;
    if (c->n == UVC_HCHUNK_MAX_EVENTS || c->len >= UVC_HCHUNK_MAX_BYTES) {
      rc = chunk_insert(db, room, c);
      uvc_hchunk_clear(c);
    }
  }
  if (rc == SQLITE_OK) rc = chunk_insert(db, room, c);
  if (rc == SQLITE_OK) { /* the oldest chunk now, and nothing of it hidden if it is new */
    int64_t first = 0;
    rc = query_text_int(db, "SELECT min(first_seq) FROM room_chunks WHERE room = ?1", room, &first);
    if (oldest || first != rs->first) rs->skip = 0;
    rs->first = first;
  }
  for (i = 0; i < n_blobs; i++)
    free(blobs[i]);
  free(blobs);
  free(w.v);
  return rc;
}

/* Runs sql (one statement: ?1 the text a when a is not NULL, then the number b when the
 * statement has a parameter for it) to its end. */
static int exec_ab(sqlite3* db, const char* sql, const char* a, int64_t b) {
  sqlite3_stmt* st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL), nb = a != NULL ? 2 : 1;
  if (rc == SQLITE_OK && a != NULL) rc = sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= nb) rc = sqlite3_bind_int64(st, nb, b);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* How many of a chunk's first events are older than cutoff (its events are in order). */
typedef struct older {
  int64_t cutoff, n;
} older_t;
static int count_older(void* arg, const uvc_hist_rec_t* e) {
  older_t* o = arg;
  if (e->time_ms >= o->cutoff) return 1;
  o->n++;
  return 0;
}

/* The age bound for rooms: the chunks wholly older than cutoff go, and in each room's oldest
 * chunk left the events older than cutoff are hidden (skip); its count is counted again. */
static int prune_rooms(sqlite3* db, int64_t cutoff) {
  sqlite3_stmt* st = NULL;
  char** rooms = NULL;
  size_t n = 0, i;
  int rc = exec_ab(db, "DELETE FROM room_chunks WHERE max_ms < ?1", NULL, cutoff);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "SELECT room FROM room_state", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* room = (const char*)sqlite3_column_text(st, 0);
    char** grown = realloc(rooms, (n + 1) * sizeof(*rooms));
    size_t len = room != NULL ? strlen(room) : 0;
    rc = SQLITE_OK;
    if (grown == NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    rooms = grown;
    if ((rooms[n] = malloc(len + 1)) == NULL) {
      rc = SQLITE_NOMEM;
      break;
    }
    memcpy(rooms[n++], room != NULL ? room : "", len + 1);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && i < n; i++) {
    room_state_t rs;
    int64_t total = 0;
    older_t o = {cutoff, 0};
    if ((rc = room_state_get(db, rooms[i], &rs)) != SQLITE_OK) break;
    rc = query_text_int(db, "SELECT coalesce(sum(n), 0) FROM room_chunks WHERE room = ?1", rooms[i],
                        &total);
    if (rc != SQLITE_OK) break;
    if (total == 0) { /* nothing kept */
      rc = exec_ab(db, "DELETE FROM room_state WHERE room = ?1", rooms[i], 0);
      continue;
    }
    rc = sqlite3_prepare_v2(db,
                            "SELECT first_seq, data FROM room_chunks WHERE room = ?1"
                            " ORDER BY first_seq LIMIT 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, rooms[i], -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      int64_t first = sqlite3_column_int64(st, 0);
      rc = each_rec(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), count_older, &o);
      if (rc == 1) rc = SQLITE_OK;
      if (first != rs.first) rs.skip = 0; /* the chunk that was oldest is gone */
      rs.first = first;
      if (o.n > rs.skip) rs.skip = o.n;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
    if (rc != SQLITE_OK) break;
    rs.count = total - rs.skip;
    rc = room_state_put(db, rooms[i], &rs);
  }
  for (i = 0; i < n; i++)
    free(rooms[i]);
  free(rooms);
  return rc;
}

/* Migration 3's data: the room rows of history move into chunks, each room's in order. */
static int move_room_rows(sqlite3* db) {
  sqlite3_stmt* st = NULL;
  uvc_hchunk_t c = {0};
  char room[UVC_HIST_FIELD_MAX + 1] = "";
  room_state_t rs = {0, 0, 0, 0};
  int rc = sqlite3_prepare_v2(db,
                              "SELECT target, seq, time_ms, kind, flags, nick, user, host,"
                              " account, text FROM history WHERE owner = '' ORDER BY target, seq",
                              -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* target = (const char*)sqlite3_column_text(st, 0);
    uvc_hist_rec_t e;
    memset(&e, 0, sizeof e);
    rc = SQLITE_OK;
    if (target == NULL) continue;
    if (room[0] != '\0' && (sqlite3_stricmp(room, target) != 0 || c.n == UVC_HCHUNK_MAX_EVENTS)) {
      if (rs.first == 0) rs.first = c.first_seq;
      rc = chunk_insert(db, room, &c);
      uvc_hchunk_clear(&c);
      if (rc == SQLITE_OK && sqlite3_stricmp(room, target) != 0) {
        rc = room_state_put(db, room, &rs);
        memset(&rs, 0, sizeof rs);
      }
    }
    snprintf(room, sizeof room, "%s", target);
    e.seq = sqlite3_column_int64(st, 1);
    e.time_ms = sqlite3_column_int64(st, 2);
    e.kind = sqlite3_column_int(st, 3);
    e.flags = sqlite3_column_int(st, 4);
    e.nick = (const char*)sqlite3_column_text(st, 5);
    e.user = (const char*)sqlite3_column_text(st, 6);
    e.host = (const char*)sqlite3_column_text(st, 7);
    e.account = (const char*)sqlite3_column_text(st, 8);
    e.text = (const char*)sqlite3_column_text(st, 9);
    if (rc == SQLITE_OK && uvc_hchunk_add(&c, &e) != 0) rc = SQLITE_NOMEM;
    rs.count++;
    rs.last_seq = e.seq;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rs.first == 0) rs.first = c.first_seq;
  if (rc == SQLITE_OK && room[0] != '\0') rc = chunk_insert(db, room, &c);
  if (rc == SQLITE_OK && room[0] != '\0') rc = room_state_put(db, room, &rs);
  if (rc == SQLITE_OK) rc = exec_sql(db, "DELETE FROM history WHERE owner = ''");
  uvc_hchunk_free(&c);
  return rc;
}

/* Keeps the room events of r's batch, room by room: the chunks the batch made as they are,
 * or (events out of order, or not after the room's last) merged. */
static int append_rooms(store_req_t* r, sqlite3* db) {
  const uvc_hist_batch_t* b = r->batch;
  const uvc_hist_rec_t** v = NULL;
  uvc_hist_rec_t* views = NULL;
  uvc_hchunk_t c = {0};
  size_t g, cap = 0;
  int rc = SQLITE_OK;
  for (g = 0; rc == SQLITE_OK && g < uvc_hist_batch_rooms(b); g++) {
    const uvc_hchunk_t* ch;
    size_t nc, k, n = 0;
    int ordered;
    const char* room = uvc_hist_batch_room(b, g, &ch, &nc, &ordered);
    room_state_t rs;
    if (nc == 0) continue;
    if ((rc = room_state_get(db, room, &rs)) != SQLITE_OK) break;
    if (ordered && ch[0].first_seq > rs.last_seq) { /* the usual way: as they are */
      if (rs.count == 0) {
        rs.first = ch[0].first_seq;
        rs.skip = 0;
      }
      for (k = 0; rc == SQLITE_OK && k < nc; k++) {
        rc = chunk_insert(db, room, &ch[k]);
        rs.count += ch[k].n;
      }
      rs.last_seq = ch[nc - 1].last_seq;
    } else { /* merged: as records */
      for (k = 0; k < nc; k++)
        n += ch[k].n;
      if (n > cap) {
        free(v);
        free(views);
        v = malloc(n * sizeof(*v));
        views = malloc(n * sizeof(*views));
        cap = v != NULL && views != NULL ? n : 0;
        if (cap == 0) {
          rc = SQLITE_NOMEM;
          break;
        }
      }
      for (k = 0, n = 0; rc == SQLITE_OK && k < nc; k++) {
        uvc_hchunk_iter_t it;
        int got;
        uvc_hchunk_iter(&it, ch[k].p, ch[k].len);
        memset(&views[n], 0, sizeof(views[n]));
        while ((got = uvc_hchunk_next(&it, &views[n])) == 1) {
          views[n].owner = "";
          views[n].target = room;
          v[n] = &views[n];
          n++;
          if (n < cap) memset(&views[n], 0, sizeof(views[n]));
        }
        if (got < 0) rc = SQLITE_CORRUPT;
      }
      if (rc == SQLITE_OK) rc = merge_room(db, room, &rs, v, n, &c);
    }
    if (rc == SQLITE_OK) rc = apply_count_bound(db, room, &rs, r->bounds.count_room);
    if (rc == SQLITE_OK) rc = room_state_put(db, room, &rs);
  }
  uvc_hchunk_free(&c);
  free(v);
  free(views);
  return rc;
}

/* The batch in one transaction: the rows, then the count bounds of the histories it
 * touched. An event already there (the same owner, target and seq) is kept once. */
static void run_append(store_req_t* r, sqlite3* db) {
  static const char kInsert[] =
      "INSERT OR IGNORE INTO history(owner, target, seq, time_ms, kind, flags, pending, nick,"
      " user, host, account, text) VALUES(?1, ?2, ?3, ?4, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  sqlite3_stmt* st = NULL;
  size_t i;
  int rc;
  if (batch_views(r) != 0) {
    r->status = UVC_STORE_NOMEM;
    return;
  }
  uv_mutex_lock(&r->store->write_lock);
  /* Without a sync of its own: in WAL mode a committed batch survives a crash of the process
   * (kill -9) all the same, and the machine's crash costs at most the batches since the last
   * checkpoint, never the database's consistency. The accounts' writes stay synced (FULL). */
  rc = exec_sql(db, "PRAGMA synchronous=NORMAL");
  if (rc == SQLITE_OK) rc = exec_sql(db, "BEGIN IMMEDIATE");
  for (i = 0; rc == SQLITE_OK && i < r->n_recs; i++) {
    const uvc_hist_rec_t* e = &r->recs[i];
    if (e->owner[0] == '\0') continue; /* a room's: in chunks, below */
    if (st == NULL && (st = cached(db, kInsert, &rc)) == NULL) break;
    sqlite3_reset(st);
    rc = sqlite3_bind_text(st, 1, e->owner, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, e->target, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, e->seq);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, e->time_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 6, e->kind);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 7, e->flags);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 8, e->pending ? 1 : 0);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 9, e->nick, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 10, e->user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 11, e->host, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 12, e->account, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 13, e->text, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  put_back(st);
  if (rc == SQLITE_OK) rc = trim_touched(r, db);
  if (rc == SQLITE_OK) rc = append_rooms(r, db);
  if (rc == SQLITE_OK) rc = exec_sql(db, "COMMIT");
  if (rc != SQLITE_OK) {
    db_failed(r, db, rc);
    exec_sql(db, "ROLLBACK");
  } else {
    r->status = 0;
  }
  exec_sql(db, "PRAGMA synchronous=FULL"); /* the connection goes back to the pool */
  uv_mutex_unlock(&r->store->write_lock);
}

/* A point resolved: an event (by its seq, and its time) or a time. */
typedef struct point {
  int event; /* 1: seq is an event's; 0: a time alone */
  int64_t seq, t;
} point_t;

/* ---- Reading a room's chunks -------------------------------------------------------- */

/* Keeps a copy of e (a room event: owner "", target room) in r->rows. */
static int keep_row(store_req_t* r, const uvc_hist_rec_t* e, const char* room) {
  uvc_hist_rec_t rec = *e, *copy;
  if (r->n_rows == r->cap_rows) {
    size_t cap = r->cap_rows == 0 ? 32 : r->cap_rows * 2;
    uvc_hist_rec_t** v = realloc(r->rows, cap * sizeof(*v));
    if (v == NULL) return SQLITE_NOMEM;
    r->rows = v;
    r->cap_rows = cap;
  }
  rec.owner = "";
  rec.target = room;
  rec.target_len = 0;
  if ((copy = uvc_hist_rec_dup(&rec)) == NULL) return SQLITE_NOMEM;
  r->rows[r->n_rows++] = copy;
  return SQLITE_OK;
}

/* Whether e is op p ("<", ">" or ">="; NULL p: yes), as read_side's SQL says it. */
static int passes(const uvc_hist_rec_t* e, const char* op, const point_t* p) {
  int64_t v, x;
  if (p == NULL) return 1;
  v = p->event ? e->seq : e->time_ms;
  x = p->event ? p->seq : p->t;
  if (op[0] == '<') return v < x;
  return op[1] == '=' ? v >= x : v > x;
}

/* The chunk-level condition that lets through every chunk which may hold an event op p. */
static void chunk_cond(char* out, size_t cap, const point_t* p, const char* op, int n) {
  const char* col =
      op[0] == '<' ? (p->event ? "first_seq" : "min_ms") : (p->event ? "last_seq" : "max_ms");
  snprintf(out, cap, " AND %s %s ?%d", col, op, n);
}

/* read_side for a room: up to limit of its kept events that are op1 p (and op2 q), by seq
 * ascending or descending, walking its chunks in that order. */
static int room_side(store_req_t* r, sqlite3* db, const room_state_t* rs, const char* op1,
                     const point_t* p, const char* op2, const point_t* q, int asc, unsigned limit) {
  char sql[320], c1[48] = "", c2[48] = "";
  sqlite3_stmt* st = NULL;
  views_t w = {0};
  unsigned got = 0;
  int rc;
  if (limit == 0) return SQLITE_OK;
  if (p != NULL) chunk_cond(c1, sizeof c1, p, op1, 3);
  if (q != NULL) chunk_cond(c2, sizeof c2, q, op2, 4);
  snprintf(sql, sizeof sql,
           "SELECT room, first_seq, data FROM room_chunks WHERE room = ?1%s%s"
           " ORDER BY first_seq %s",
           c1, c2, asc ? "ASC" : "DESC");
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->q.target, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && p != NULL) rc = sqlite3_bind_int64(st, 3, p->event ? p->seq : p->t);
  if (rc == SQLITE_OK && q != NULL) rc = sqlite3_bind_int64(st, 4, q->event ? q->seq : q->t);
  while (rc == SQLITE_OK && got < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* room = (const char*)sqlite3_column_text(st, 0);
    int64_t first = sqlite3_column_int64(st, 1);
    size_t i;
    if ((rc = row_views(st, 2, &w)) != SQLITE_OK) break;
    for (i = 0; rc == SQLITE_OK && got < limit && i < w.n; i++) {
      size_t k = asc ? i : w.n - 1 - i;
      const uvc_hist_rec_t* e = &w.v[k];
      if (!kept(rs, first, k) || !passes(e, op1, p) || !passes(e, op2, q)) continue;
      if ((e->flags & UVC_HIST_CLOSED) && e->seq < r->q.closed_before) continue; /* not theirs */
      rc = keep_row(r, e, room != NULL ? room : r->q.target);
      got++;
    }
  }
  sqlite3_finalize(st);
  free(w.v);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

typedef struct find_seq {
  int64_t seq, t, index, i;
  int flags;
} find_seq_t;
static int find_one(void* arg, const uvc_hist_rec_t* e) {
  find_seq_t* f = arg;
  if (e->seq != f->seq) {
    f->i++;
    return 0;
  }
  f->t = e->time_ms;
  f->flags = e->flags;
  f->index = f->i;
  return 1;
}

/* resolve for a room: the time of its kept event seq. SQLITE_NOTFOUND when not kept. */
static int room_resolve(sqlite3* db, const char* room, const room_state_t* rs, int64_t seq,
                        int64_t* t, int* flags) {
  sqlite3_stmt* st = NULL;
  find_seq_t f = {seq, 0, -1, 0, 0};
  int64_t first = 0;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT first_seq, data FROM room_chunks WHERE room = ?1"
                              " AND first_seq <= ?2 AND last_seq >= ?2"
                              " ORDER BY first_seq DESC LIMIT 1",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, seq);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    first = sqlite3_column_int64(st, 0);
    rc = each_rec(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), find_one, &f);
    if (rc == 1) rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return rc;
  if (f.index < 0 || !kept(rs, first, (size_t)f.index)) return SQLITE_NOTFOUND;
  *t = f.t;
  *flags = f.flags;
  return SQLITE_OK;
}

typedef struct latest_in {
  int64_t lo, hi, best;
  size_t skip, i; /* the first skip events of this chunk are not kept */
} latest_in_t;
static int latest_one(void* arg, const uvc_hist_rec_t* e) {
  latest_in_t* l = arg;
  if (l->i++ >= l->skip && e->time_ms >= l->lo && e->time_ms <= l->hi && e->time_ms > l->best)
    l->best = e->time_ms;
  return 0;
}

/* The time of room's latest kept event between lo and hi, in *last (INT64_MIN: none), and
 * the room's name as stored in *name (copied; NULL when none). */
static int room_latest(sqlite3* db, const char* room, int64_t lo, int64_t hi, int64_t* last,
                       char** name) {
  room_state_t rs;
  latest_in_t l;
  sqlite3_stmt* st = NULL;
  int rc = room_state_get(db, room, &rs);
  *last = INT64_MIN;
  *name = NULL;
  if (rc != SQLITE_OK) return rc;
  l.lo = lo;
  l.hi = hi;
  l.best = INT64_MIN;
  rc = sqlite3_prepare_v2(db,
                          "SELECT room, data, first_seq FROM room_chunks WHERE room = ?1"
                          " AND min_ms <= ?4 AND max_ms >= ?3 ORDER BY first_seq DESC",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, lo);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, hi);
  while (rc == SQLITE_OK && l.best == INT64_MIN && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    l.i = 0;
    l.skip = sqlite3_column_int64(st, 2) == rs.first ? (size_t)rs.skip : 0;
    rc = each_rec(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), latest_one, &l);
    if (rc == SQLITE_OK && l.best != INT64_MIN) {
      const char* stored = (const char*)sqlite3_column_text(st, 0);
      size_t n = stored != NULL ? strlen(stored) : strlen(room);
      if ((*name = malloc(n + 1)) == NULL)
        rc = SQLITE_NOMEM;
      else
        memcpy(*name, stored != NULL ? stored : room, n + 1);
    }
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
  if (rc == SQLITE_OK) *last = l.best;
  return rc;
}

/* Resolves p in r's history. Returns an SQLite code; SQLITE_NOTFOUND for a seq not there. */
static int resolve(store_req_t* r, sqlite3* db, const uvc_hist_point_t* p, point_t* out) {
  sqlite3_stmt* st = NULL;
  int rc;
  out->event = p->seq != 0;
  out->seq = p->seq;
  out->t = p->time_ms;
  if (!out->event) return SQLITE_OK;
  if (r->q.owner[0] == '\0') {
    int flags = 0;
    rc = room_resolve(db, r->q.target, &r->room, p->seq, &out->t, &flags);
    if (rc == SQLITE_OK && (flags & UVC_HIST_CLOSED) && p->seq < r->q.closed_before)
      rc = SQLITE_NOTFOUND; /* another room's, of the same name */
    return rc;
  }
  rc = sqlite3_prepare_v2(db,
                          "SELECT time_ms FROM history WHERE owner = ?1 AND target = ?2"
                          " AND seq = ?3",
                          -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->q.owner, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, r->q.target, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, p->seq);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->t = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_NOTFOUND;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Appends one row of st (the columns of HIST_COLS) to r->rows. */
static int take_row(store_req_t* r, sqlite3_stmt* st) {
  uvc_hist_rec_t rec, *copy;
  if (r->n_rows == r->cap_rows) {
    size_t cap = r->cap_rows == 0 ? 32 : r->cap_rows * 2;
    uvc_hist_rec_t** v = realloc(r->rows, cap * sizeof(*v));
    if (v == NULL) return SQLITE_NOMEM;
    r->rows = v;
    r->cap_rows = cap;
  }
  rec.owner = (const char*)sqlite3_column_text(st, 0);
  rec.target = (const char*)sqlite3_column_text(st, 1);
  rec.seq = sqlite3_column_int64(st, 2);
  rec.time_ms = sqlite3_column_int64(st, 3);
  rec.kind = sqlite3_column_int(st, 4);
  rec.flags = sqlite3_column_int(st, 5);
  rec.pending = sqlite3_column_int(st, 6);
  rec.nick = (const char*)sqlite3_column_text(st, 7);
  rec.user = (const char*)sqlite3_column_text(st, 8);
  rec.host = (const char*)sqlite3_column_text(st, 9);
  rec.account = (const char*)sqlite3_column_text(st, 10);
  rec.text = (const char*)sqlite3_column_text(st, 11);
  rec.text_len = 0;
  if ((copy = uvc_hist_rec_dup(&rec)) == NULL) return SQLITE_NOMEM;
  r->rows[r->n_rows++] = copy;
  return SQLITE_OK;
}

#define HIST_COLS \
  "SELECT owner, target, seq, time_ms, kind, flags, pending, nick, user, host, account, text"

/* The condition "an event is op point p" for SQL, with its value as parameter n. */
static void cond(char* out, size_t cap, const point_t* p, const char* op, int n) {
  snprintf(out, cap, " AND %s %s ?%d", p->event ? "seq" : "time_ms", op, n);
}

/* Reads up to limit rows of r's history that are op1 p (and op2 q, when q is set), by seq
 * ascending (asc) or descending. */
static int read_side(store_req_t* r, sqlite3* db, const char* op1, const point_t* p,
                     const char* op2, const point_t* q, int asc, unsigned limit) {
  char sql[512], c1[48] = "", c2[48] = "";
  sqlite3_stmt* st = NULL;
  int rc;
  if (limit == 0) return SQLITE_OK;
  if (r->q.owner[0] == '\0') {
    return room_side(r, db, &r->room, op1, p, op2, q, asc, limit);
  }
  if (p != NULL) cond(c1, sizeof c1, p, op1, 3);
  if (q != NULL) cond(c2, sizeof c2, q, op2, 4);
  snprintf(sql, sizeof sql,
           HIST_COLS " FROM history WHERE owner = ?1 AND target = ?2%s%s ORDER BY seq %s LIMIT ?5",
           c1, c2, asc ? "ASC" : "DESC");
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->q.owner, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, r->q.target, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && p != NULL) rc = sqlite3_bind_int64(st, 3, p->event ? p->seq : p->t);
  if (rc == SQLITE_OK && q != NULL) rc = sqlite3_bind_int64(st, 4, q->event ? q->seq : q->t);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    rc = take_row(r, st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reverses rows[from..n_rows): a descending read made ascending. */
static void reverse_rows(store_req_t* r, size_t from) {
  size_t i = from, j = r->n_rows;
  while (j > i + 1) {
    uvc_hist_rec_t* t = r->rows[i];
    r->rows[i++] = r->rows[--j];
    r->rows[j] = t;
  }
}

/* Takes the owner's undelivered private messages and marks them delivered. */
static int run_pending(store_req_t* r, sqlite3* db) {
  sqlite3_stmt* st = NULL;
  int rc;
  uv_mutex_lock(&r->store->write_lock);
  rc = exec_sql(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db,
                            HIST_COLS
                            " FROM history WHERE owner = ?1 AND pending = 1"
                            " ORDER BY seq LIMIT ?2",
                            -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->q.owner, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)r->q.limit);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    rc = take_row(r, st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc == SQLITE_DONE)
    rc = sqlite3_prepare_v2(db,
                            "UPDATE history SET pending = 0 WHERE owner = ?1 AND pending = 1 AND"
                            " seq IN (SELECT seq FROM history WHERE owner = ?1 AND pending = 1"
                            " ORDER BY seq LIMIT ?2)",
                            -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->q.owner, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)r->q.limit);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) rc = exec_sql(db, "COMMIT");
  if (rc != SQLITE_OK) exec_sql(db, "ROLLBACK");
  uv_mutex_unlock(&r->store->write_lock);
  return rc;
}

static void run_fetch(store_req_t* r, sqlite3* db) {
  point_t a, b;
  unsigned limit = r->q.limit;
  int rc = SQLITE_OK;
  size_t mark;
  if (r->q.how != UVC_HIST_PENDING && r->q.owner[0] == '\0') /* a room: what it keeps */
    rc = room_state_get(db, r->q.target, &r->room);
  if (rc != SQLITE_OK) {
  } else if (r->q.how == UVC_HIST_PENDING) {
    rc = run_pending(r, db);
  } else if (r->q.how == UVC_HIST_LATEST) {
    int bounded = r->q.a.time_ms != 0 || r->q.a.seq != 0;
    if (bounded) rc = resolve(r, db, &r->q.a, &a);
    if (rc == SQLITE_OK) rc = read_side(r, db, ">", bounded ? &a : NULL, NULL, NULL, 0, limit);
    reverse_rows(r, 0);
  } else if (r->q.how == UVC_HIST_BEFORE) {
    rc = resolve(r, db, &r->q.a, &a);
    if (rc == SQLITE_OK) rc = read_side(r, db, "<", &a, NULL, NULL, 0, limit);
    reverse_rows(r, 0);
  } else if (r->q.how == UVC_HIST_AFTER) {
    rc = resolve(r, db, &r->q.a, &a);
    if (rc == SQLITE_OK) rc = read_side(r, db, ">", &a, NULL, NULL, 1, limit);
  } else if (r->q.how == UVC_HIST_AROUND) {
    rc = resolve(r, db, &r->q.a, &a);
    if (rc == SQLITE_OK) rc = read_side(r, db, "<", &a, NULL, NULL, 0, limit / 2);
    reverse_rows(r, 0);
    if (rc == SQLITE_OK) /* from the event (or the time) itself on */
      rc = read_side(r, db, ">=", &a, NULL, NULL, 1, limit - (unsigned)r->n_rows);
  } else { /* BETWEEN: ascending when a is before b, else descending from a */
    rc = resolve(r, db, &r->q.a, &a);
    if (rc == SQLITE_OK) rc = resolve(r, db, &r->q.b, &b);
    if (rc == SQLITE_OK && (a.t > b.t || (a.t == b.t && a.event && b.event && a.seq > b.seq))) {
      mark = r->n_rows;
      rc = read_side(r, db, "<", &a, ">", &b, 0, limit);
      reverse_rows(r, mark);
    } else if (rc == SQLITE_OK) {
      rc = read_side(r, db, ">", &a, "<", &b, 1, limit);
    }
  }
  if (rc == SQLITE_NOTFOUND) {
    r->status = UVC_STORE_NOT_FOUND;
  } else if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    db_failed(r, db, rc);
  } else {
    r->status = 0;
  }
}

/* Targets: owner's private conversations and the given rooms, by their latest event. */
typedef struct cand {
  char* name;
  int64_t last;
} cand_t;
static int cand_later(const void* a, const void* b) {
  const cand_t* x = a;
  const cand_t* y = b;
  return x->last != y->last ? (x->last > y->last ? -1 : 1) : 0;
}
static void run_targets(store_req_t* r, sqlite3* db) {
  sqlite3_stmt* st = NULL;
  cand_t* c;
  size_t i, n = 0, cap = r->q.limit + r->n_rooms;
  int64_t lo = r->q.a.time_ms, hi = r->q.b.time_ms;
  int rc = SQLITE_OK;
  if (lo > hi) {
    int64_t t = lo;
    lo = hi;
    hi = t;
  }
  if ((c = calloc(cap + 1, sizeof(*c))) == NULL) {
    r->status = UVC_STORE_NOMEM;
    return;
  }
  if (r->q.owner[0] != '\0' && r->q.limit > 0) { /* its private conversations */
    rc = sqlite3_prepare_v2(db,
                            "SELECT target, max(time_ms) AS last FROM history WHERE owner = ?3"
                            " AND time_ms BETWEEN ?1 AND ?2 GROUP BY target"
                            " ORDER BY last DESC LIMIT ?4",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, lo);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, hi);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, r->q.owner, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)r->q.limit);
    while (rc == SQLITE_OK && n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char* name = (const char*)sqlite3_column_text(st, 0);
      size_t len = name != NULL ? strlen(name) : 0;
      rc = SQLITE_OK;
      if ((c[n].name = malloc(len + 1)) == NULL) {
        rc = SQLITE_NOMEM;
        break;
      }
      memcpy(c[n].name, name != NULL ? name : "", len + 1);
      c[n++].last = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  for (i = 0; rc == SQLITE_OK && i < r->n_rooms && n < cap; i++) { /* the rooms */
    int64_t last;
    char* name;
    rc = room_latest(db, r->rooms[i], lo, hi, &last, &name);
    if (rc == SQLITE_OK && name != NULL) {
      c[n].name = name;
      c[n++].last = last;
    }
  }
  qsort(c, n, sizeof(*c), cand_later);
  if (rc == SQLITE_OK && r->q.limit > 0) {
    r->targets = calloc(r->q.limit, sizeof(*r->targets));
    r->target_names = calloc(r->q.limit, sizeof(*r->target_names));
    if (r->targets == NULL || r->target_names == NULL) rc = SQLITE_NOMEM;
  }
  for (i = 0; i < n; i++) {
    if (rc == SQLITE_OK && r->n_targets < r->q.limit) { /* taken */
      r->target_names[r->n_targets] = c[i].name;
      r->targets[r->n_targets].name = c[i].name;
      r->targets[r->n_targets].last_ms = c[i].last;
      r->n_targets++;
    } else {
      free(c[i].name);
    }
  }
  free(c);
  if (rc != SQLITE_OK)
    db_failed(r, db, rc);
  else
    r->status = 0;
}

/* Deletes by owner, by room, or by age. */
static void run_hist_delete(store_req_t* r, sqlite3* db) {
  sqlite3_stmt* st = NULL;
  int rc = SQLITE_OK;
  uv_mutex_lock(&r->store->write_lock);
  if (r->op == OP_HIST_PRUNE) {
    rc = exec_sql(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) rc = prune_age(db, &r->bounds, r->now_ms);
    if (rc == SQLITE_OK && r->bounds.max_age_ms > 0)
      rc = prune_rooms(db, r->now_ms - r->bounds.max_age_ms);
    if (rc == SQLITE_OK) rc = exec_sql(db, "COMMIT");
    if (rc != SQLITE_OK) exec_sql(db, "ROLLBACK");
  } else if (r->op == OP_HIST_DELETE_ROOM) {
    rc = exec_sql(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) rc = exec_ab(db, "DELETE FROM room_chunks WHERE room = ?1", r->name, 0);
    if (rc == SQLITE_OK) rc = exec_ab(db, "DELETE FROM room_state WHERE room = ?1", r->name, 0);
    if (rc == SQLITE_OK) rc = exec_sql(db, "COMMIT");
    if (rc != SQLITE_OK) exec_sql(db, "ROLLBACK");
  } else {
    rc = sqlite3_prepare_v2(db, "DELETE FROM history WHERE owner = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    db_failed(r, db, rc);
  else
    r->status = 0;
  uv_mutex_unlock(&r->store->write_lock);
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
  switch (r->op) {
    case OP_HIST_APPEND:
      run_append(r, db);
      break;
    case OP_HIST_FETCH:
      run_fetch(r, db);
      break;
    case OP_HIST_TARGETS:
      run_targets(r, db);
      break;
    case OP_HIST_DELETE_OWNER:
    case OP_HIST_DELETE_ROOM:
    case OP_HIST_PRUNE:
      run_hist_delete(r, db);
      break;
    default:
      run(r, db);
      break;
  }
  release(r->store, db);
}

/* ---- Back on the loop thread -------------------------------------------------------- */

/* Frees a request and everything it holds. */
static void req_free(store_req_t* r) {
  size_t i;
  for (i = 0; i < r->n_rows; i++)
    free(r->rows[i]);
  for (i = 0; i < r->n_targets; i++)
    free(r->target_names[i]);
  free(r->rows);
  free(r->targets);
  free(r->target_names);
  free(r->recs);
  uvc_hist_batch_free(r->batch);
  free(r->qbuf);
  free(r->rooms);
  free(r->names);
  free(r->index);
  free(r);
}

static void after_cb(uv_work_t* w, int status) {
  store_req_t* r = (store_req_t*)w->data;
  uvc_store_t* s = r->store;
  s->pending--;
  if (status == UV_ECANCELED) r->status = UVC_STORE_CANCELED;
  if (r->status == UVC_STORE_DB) UVC_WARN("store: %s", r->error);
  s->dispatching = 1; /* a close from inside the callback waits until it returns */
  if (r->op == OP_WATCH) {
    s->watching = 0;
    r->watch_cb(r->data, r->status, r->status == 0 && r->changed, r->index,
                r->status == 0 ? r->n_names : 0);
  } else if (r->op == OP_HIST_FETCH) {
    uvc_hist_rec_t* flat = NULL;
    size_t i;
    if (r->status == 0 && r->n_rows > 0 && (flat = malloc(r->n_rows * sizeof(*flat))) == NULL)
      r->status = UVC_STORE_NOMEM;
    for (i = 0; flat != NULL && i < r->n_rows; i++)
      flat[i] = *r->rows[i];
    r->hist_cb(r->data, r->status, flat, r->status == 0 ? r->n_rows : 0);
    free(flat);
  } else if (r->op == OP_HIST_TARGETS) {
    r->targets_cb(r->data, r->status, r->targets, r->status == 0 ? r->n_targets : 0);
  } else if (r->op == OP_GET) {
    r->get_cb(r->data, r->status, r->status == 0 ? r->hash : NULL);
  } else if (r->cb != NULL) { /* NULL: a history write nobody waits for */
    r->cb(r->data, r->status);
  }
  s->dispatching = 0;
  req_free(r);
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

static int sqlite_create(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                         uvc_store_cb cb, void* data) {
  return submit(store, loop, OP_CREATE, name, hash, cb, NULL, NULL, data);
}

static int sqlite_get(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_get_cb cb,
                      void* data) {
  return submit(store, loop, OP_GET, name, NULL, NULL, cb, NULL, data);
}

static int sqlite_set_hash(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                           uvc_store_cb cb, void* data) {
  return submit(store, loop, OP_SET_HASH, name, hash, cb, NULL, NULL, data);
}

static int sqlite_delete(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_cb cb,
                         void* data) {
  return submit(store, loop, OP_DELETE, name, NULL, cb, NULL, NULL, data);
}

static int sqlite_watch(uvc_store_t* store, uv_loop_t* loop, uvc_store_watch_cb cb, void* data) {
  if (store == NULL || cb == NULL) return UVC_STORE_INVALID;
  if (store->watching) return UVC_STORE_BUSY;
  return submit(store, loop, OP_WATCH, NULL, NULL, NULL, NULL, cb, data);
}

static void sqlite_watch_again(uvc_store_t* store) {
  assert(!store->watching);
  store->watch_version = -1;
}

/* ---- History requests ------------------------------------------------------------------ */

/* A new request of op for store, or NULL (with *rc set) when it cannot be made. */
static store_req_t* hist_req(uvc_store_t* s, uv_loop_t* loop, op_t op, int* rc) {
  store_req_t* r;
  *rc = 0;
  if (s == NULL || loop == NULL) {
    *rc = UVC_STORE_INVALID;
    return NULL;
  }
  if (s->closing) {
    *rc = UVC_STORE_CLOSING;
    return NULL;
  }
  if ((r = calloc(1, sizeof(*r))) == NULL) {
    *rc = UVC_STORE_NOMEM;
    return NULL;
  }
  r->store = s;
  r->op = op;
  r->work.data = r;
  {
    uv_timeval64_t now;
    r->now_ms = uv_gettimeofday(&now) == 0 ? now.tv_sec * 1000 + now.tv_usec / 1000
                                           : (int64_t)time(NULL) * 1000;
  }
  return r;
}

/* Queues r; on failure frees it. */
static int hist_queue(store_req_t* r, uv_loop_t* loop) {
  int rc = uv_queue_work(loop, &r->work, work_cb, after_cb);
  if (rc != 0) {
    req_free(r);
    return rc;
  }
  r->store->pending++;
  return 0;
}

static int sqlite_hist_write(uvc_store_t* store, uv_loop_t* loop, uvc_hist_batch_t* b,
                             const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data) {
  store_req_t* r;
  int rc;
  if (b == NULL) return UVC_STORE_INVALID;
  if (uvc_hist_batch_count(b) == 0) {
    uvc_hist_batch_free(b);
    return UVC_STORE_INVALID;
  }
  if ((r = hist_req(store, loop, OP_HIST_APPEND, &rc)) == NULL) {
    uvc_hist_batch_free(b);
    return rc;
  }
  r->batch = b;
  if (bounds != NULL) r->bounds = *bounds;
  r->cb = cb;
  r->data = data;
  return hist_queue(r, loop);
}

int uvc_store_hist_append(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_rec_t* recs, size_t n,
                          const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data) {
  uvc_hist_batch_t* b;
  size_t i;
  int rc;
  if (recs == NULL || n == 0) return UVC_STORE_INVALID;
  if ((b = uvc_hist_batch_new()) == NULL) return UVC_STORE_NOMEM;
  for (i = 0; i < n; i++) {
    if ((rc = uvc_hist_batch_add(b, &recs[i])) != 0) {
      uvc_hist_batch_free(b);
      return rc;
    }
  }
  return uvc_store_hist_write(store, loop, b, bounds, cb, data);
}

static int sqlite_hist_fetch(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_query_t* q,
                             uvc_store_hist_cb cb, void* data) {
  store_req_t* r;
  const char* in[2];
  size_t len[2], total = 0, k;
  char* p;
  int rc;
  if (q == NULL || cb == NULL || q->owner == NULL) return UVC_STORE_INVALID;
  if (q->how != UVC_HIST_PENDING && (q->target == NULL || q->target[0] == '\0'))
    return UVC_STORE_INVALID;
  if (q->how == UVC_HIST_PENDING && q->owner[0] == '\0') return UVC_STORE_INVALID;
  in[0] = q->owner;
  in[1] = q->how == UVC_HIST_PENDING ? "" : q->target;
  for (k = 0; k < 2; k++) {
    len[k] = strlen(in[k]);
    if (len[k] > UVC_HIST_FIELD_MAX) return UVC_STORE_INVALID;
    total += len[k] + 1;
  }
  if ((r = hist_req(store, loop, OP_HIST_FETCH, &rc)) == NULL) return rc;
  if ((r->qbuf = malloc(total)) == NULL) {
    req_free(r);
    return UVC_STORE_NOMEM;
  }
  r->q = *q;
  if (r->q.limit == 0 || r->q.limit > UVC_HIST_FETCH_MAX) r->q.limit = UVC_HIST_FETCH_MAX;
  p = r->qbuf;
  memcpy(p, in[0], len[0] + 1);
  r->q.owner = p;
  memcpy(p + len[0] + 1, in[1], len[1] + 1);
  r->q.target = p + len[0] + 1;
  r->hist_cb = cb;
  r->data = data;
  return hist_queue(r, loop);
}

static int sqlite_hist_targets(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                               const char* const* rooms, size_t n_rooms, int64_t from_ms,
                               int64_t to_ms, unsigned limit, uvc_store_targets_cb cb, void* data) {
  store_req_t* r;
  size_t i, total, olen;
  char* p;
  int rc;
  if (owner == NULL || cb == NULL || (n_rooms > 0 && rooms == NULL)) return UVC_STORE_INVALID;
  if (n_rooms > 900) return UVC_STORE_INVALID; /* SQLite's bound parameters */
  olen = strlen(owner);
  if (olen > UVC_HIST_FIELD_MAX) return UVC_STORE_INVALID;
  total = olen + 1;
  for (i = 0; i < n_rooms; i++)
    total += strlen(rooms[i]) + 1;
  if ((r = hist_req(store, loop, OP_HIST_TARGETS, &rc)) == NULL) return rc;
  r->qbuf = malloc(total);
  r->rooms = n_rooms > 0 ? malloc(n_rooms * sizeof(*r->rooms)) : NULL;
  if (r->qbuf == NULL || (n_rooms > 0 && r->rooms == NULL)) {
    req_free(r);
    return UVC_STORE_NOMEM;
  }
  p = r->qbuf;
  memcpy(p, owner, olen + 1);
  r->q.owner = p;
  p += olen + 1;
  for (i = 0; i < n_rooms; i++) {
    size_t n = strlen(rooms[i]);
    memcpy(p, rooms[i], n + 1);
    r->rooms[i] = p;
    p += n + 1;
  }
  r->n_rooms = n_rooms;
  r->q.a.time_ms = from_ms;
  r->q.b.time_ms = to_ms;
  r->q.limit = limit == 0 || limit > UVC_HIST_FETCH_MAX ? UVC_HIST_FETCH_MAX : limit;
  r->targets_cb = cb;
  r->data = data;
  return hist_queue(r, loop);
}

/* A delete of op keyed by name. */
static int hist_delete(uvc_store_t* store, uv_loop_t* loop, op_t op, const char* name,
                       uvc_store_cb cb, void* data) {
  store_req_t* r;
  int rc;
  if (name == NULL || name[0] == '\0' || strlen(name) > UVC_STORE_NAME_MAX)
    return UVC_STORE_INVALID;
  if ((r = hist_req(store, loop, op, &rc)) == NULL) return rc;
  memcpy(r->name, name, strlen(name) + 1);
  r->cb = cb;
  r->data = data;
  return hist_queue(r, loop);
}

static int sqlite_hist_delete_owner(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                                    uvc_store_cb cb, void* data) {
  return hist_delete(store, loop, OP_HIST_DELETE_OWNER, owner, cb, data);
}

static int sqlite_hist_delete_room(uvc_store_t* store, uv_loop_t* loop, const char* room,
                                   uvc_store_cb cb, void* data) {
  return hist_delete(store, loop, OP_HIST_DELETE_ROOM, room, cb, data);
}

static int sqlite_hist_prune(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_bounds_t* bounds,
                             uvc_store_cb cb, void* data) {
  store_req_t* r;
  int rc;
  if (bounds == NULL) return UVC_STORE_INVALID;
  if ((r = hist_req(store, loop, OP_HIST_PRUNE, &rc)) == NULL) return rc;
  r->bounds = *bounds;
  r->cb = cb;
  r->data = data;
  return hist_queue(r, loop);
}

/* ---- Startup ----------------------------------------------------------------------------- */

static int sqlite_each_name(uvc_store_t* store, uvc_store_name_fn fn, void* ud, char* err,
                            size_t errlen) {
  sqlite3* db;
  sqlite3_stmt* st = NULL;
  int rc, stop = 0;
  uv_mutex_lock(&store->pool_lock);
  db = store->n_idle > 0 ? store->idle[--store->n_idle] : NULL;
  uv_mutex_unlock(&store->pool_lock);
  if (db == NULL && (db = connect_db(store->path, err, errlen)) == NULL) return UVC_STORE_DB;
  rc = sqlite3_prepare_v2(db, "SELECT name FROM accounts", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* name = (const char*)sqlite3_column_text(st, 0);
    size_t len = name != NULL ? (size_t)sqlite3_column_bytes(st, 0) : 0;
    rc = SQLITE_OK;
    if ((stop = fn(ud, name != NULL ? name : "", len)) != 0) break;
  }
  if (stop == 0 && rc != SQLITE_DONE)
    uvc_errf(err, errlen, "%s: cannot read the account names: %s", store->path, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  uv_mutex_lock(&store->pool_lock);
  if (store->n_idle < UVC_STORE_POOL) {
    store->idle[store->n_idle++] = db;
    db = NULL;
  }
  uv_mutex_unlock(&store->pool_lock);
  if (db != NULL) close_db(db);
  if (stop != 0) return stop;
  return rc == SQLITE_DONE ? 0 : UVC_STORE_DB;
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

/* ---- The backend's table ------------------------------------------------------------ */

static const uvc_store_ops_t sqlite_ops = {
    "sqlite",
    sqlite_close,
    sqlite_pending,
    sqlite_schema_version,
    sqlite_path,
    sqlite_create,
    sqlite_get,
    sqlite_set_hash,
    sqlite_delete,
    sqlite_watch,
    sqlite_watch_again,
    sqlite_each_name,
    sqlite_hist_write,
    sqlite_hist_fetch,
    sqlite_hist_targets,
    sqlite_hist_delete_owner,
    sqlite_hist_delete_room,
    sqlite_hist_prune,
};
