/* test_store.c: the store against SQLite: migrations (from schema 1 too), the account
 * operations, history (reads, bounds, retention, pending, deletion), names in any case,
 * durability across a reopen and across kill -9, callbacks on the loop thread, shutdown. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "tmpdir.h"
#include "unit.h"

#ifndef _WIN32
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "uvchat/store.h"

static uv_loop_t g_loop;
static uv_thread_t g_loop_thread;
static char g_tmp[1024]; /* a fresh temporary directory per test */

typedef struct result {
  int calls;
  int status;
  int off_thread; /* a callback ran on another thread than the loop's */
  char hash[UVC_STORE_HASH_MAX + 1];
} result_t;

static void note_thread(result_t* r) {
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &g_loop_thread)) r->off_thread++;
}

static void on_done(void* data, int status) {
  result_t* r = data;
  note_thread(r);
  r->calls++;
  r->status = status;
}

static void on_get(void* data, int status, const char* hash) {
  result_t* r = data;
  note_thread(r);
  r->calls++;
  r->status = status;
  r->hash[0] = '\0';
  if (status == 0) {
    assert_non_null(hash);
    snprintf(r->hash, sizeof r->hash, "%s", hash);
  } else {
    assert_null(hash);
  }
}

/* Runs the loop until every request has called back; checks that each called back once,
 * on the loop thread, and returns the status. */
static int finish(uvc_store_t* s, result_t* r) {
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvc_store_pending(s), 0);
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->off_thread, 0);
  return r->status;
}

static int do_create(uvc_store_t* s, const char* name, const char* hash) {
  result_t r = {0};
  assert_int_equal(uvc_store_create(s, &g_loop, name, hash, on_done, &r), 0);
  assert_int_equal(uvc_store_pending(s), 1);
  return finish(s, &r);
}
static int do_set(uvc_store_t* s, const char* name, const char* hash) {
  result_t r = {0};
  assert_int_equal(uvc_store_set_hash(s, &g_loop, name, hash, on_done, &r), 0);
  return finish(s, &r);
}
static int do_delete(uvc_store_t* s, const char* name) {
  result_t r = {0};
  assert_int_equal(uvc_store_delete(s, &g_loop, name, on_done, &r), 0);
  return finish(s, &r);
}
/* The account's hash into out (or "" when there is none); returns the status. */
static int do_get(uvc_store_t* s, const char* name, char* out, size_t cap) {
  result_t r = {0};
  int st;
  assert_int_equal(uvc_store_get(s, &g_loop, name, on_get, &r), 0);
  st = finish(s, &r);
  snprintf(out, cap, "%s", r.hash);
  return st;
}

static uvc_store_t* open_store(const char* dir) {
  uvc_store_t* s = NULL;
  char err[512];
  int r = uvc_store_open(&s, dir, err, sizeof err);
  if (r != 0) fail_msg("uvc_store_open(%s): %d %s", dir, r, err);
  return s;
}

/* Removes a directory tree (the test's own temporary files). */
static void rm_rf(const char* path) {
  uv_fs_t req;
  uv_dirent_t ent;
  char child[2048];
  if (uv_fs_scandir(NULL, &req, path, 0, NULL) >= 0) {
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
      snprintf(child, sizeof child, "%s/%s", path, ent.name);
      if (ent.type == UV_DIRENT_DIR) {
        rm_rf(child);
      } else {
        uv_fs_t u;
        uv_fs_unlink(NULL, &u, child, NULL);
        uv_fs_req_cleanup(&u);
      }
    }
  }
  uv_fs_req_cleanup(&req);
  uv_fs_rmdir(NULL, &req, path, NULL);
  uv_fs_req_cleanup(&req);
}

static int setup(void** state) {
  (void)state;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  g_loop_thread = uv_thread_self();
  tt_mkdtemp("uvchat-store", g_tmp, sizeof g_tmp);
  return 0;
}

static int teardown(void** state) {
  (void)state;
  rm_rf(g_tmp);
  assert_int_equal(uv_loop_close(&g_loop), 0);
  return 0;
}

/* g_tmp/sub */
static const char* sub(const char* name) {
  static char path[2048];
  snprintf(path, sizeof path, "%s/%s", g_tmp, name);
  return path;
}

/* One integer from an SQL query on the database in dir, through a connection of our own. */
static long long peek(const char* dir, const char* sql) {
  char path[2048];
  sqlite3* db;
  sqlite3_stmt* st;
  long long v = -1;
  snprintf(path, sizeof path, "%s/%s", dir, UVC_STORE_FILE);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static void migrations_from_an_empty_dir(void** state) {
  const char* dir;
  uvc_store_t* s;
  (void)state;
  dir = sub("state/uvchat"); /* neither exists yet */
  s = open_store(dir);
  assert_int_equal(uvc_store_schema_version(s), UVC_STORE_SCHEMA);
  assert_non_null(strstr(uvc_store_path(s), "uvchat.db"));
  uvc_store_close(s);
  assert_int_equal(peek(dir, "SELECT version FROM schema_version"), UVC_STORE_SCHEMA);
  assert_int_equal(peek(dir, "SELECT count(*) FROM schema_version"), 1);
  assert_int_equal(peek(dir, "SELECT count(*) FROM accounts"), 0);
#ifndef _WIN32
  {
    struct stat st;
    char path[2100];
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, UVC_STORE_FILE);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0); /* hashes: the owner's alone */
  }
#endif
  /* reopening an up-to-date database changes nothing */
  s = open_store(dir);
  assert_int_equal(uvc_store_schema_version(s), UVC_STORE_SCHEMA);
  uvc_store_close(s);
  assert_int_equal(peek(dir, "SELECT count(*) FROM schema_version"), 1);
}

static void wal_mode_persists(void** state) {
  uvc_store_t* s;
  char path[2048];
  sqlite3* db;
  sqlite3_stmt* st;
  (void)state;
  s = open_store(g_tmp);
  uvc_store_close(s);
  snprintf(path, sizeof path, "%s/%s", g_tmp, UVC_STORE_FILE);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char*)sqlite3_column_text(st, 0), "wal"); /* persistent */
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void newer_schema_is_refused(void** state) {
  uvc_store_t* s;
  char err[512];
  (void)state;
  s = open_store(g_tmp);
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "UPDATE schema_version SET version = 99"), -1);
  s = (uvc_store_t*)1;
  assert_int_equal(uvc_store_open(&s, g_tmp, err, sizeof err), UVC_STORE_NEWER);
  assert_null(s);
  assert_non_null(strstr(err, "schema version 99 is newer"));
  assert_string_equal(uvc_store_strerror(UVC_STORE_NEWER),
                      "the account database was written by a newer uvchat");
}

static void unusable_dir_is_a_clear_error(void** state) {
  uvc_store_t* s = NULL;
  char err[512];
  FILE* f;
  (void)state;
  f = fopen(sub("plainfile"), "w");
  assert_non_null(f);
  fclose(f);
  assert_true(uvc_store_open(&s, sub("plainfile"), err, sizeof err) < 0);
  assert_null(s);
  assert_non_null(strstr(err, "plainfile"));
}

static void create_get_set_delete(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_create(s, "alice", "$argon2id$one"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$one");
  assert_int_equal(do_get(s, "ALICE", hash, sizeof hash), 0); /* any case */
  assert_string_equal(hash, "$argon2id$one");
  assert_int_equal(do_set(s, "Alice", "$argon2id$two"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$two");
  assert_int_equal(do_set(s, "bob", "$argon2id$x"), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "bob"), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "aLiCe"), 0);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  assert_int_equal(do_delete(s, "alice"), UVC_STORE_NOT_FOUND);
  uvc_store_close(s);
}

static void duplicate_name_in_another_case_is_refused(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_create(s, "Carol", "$argon2id$first"), 0);
  assert_int_equal(do_create(s, "carol", "$argon2id$second"), UVC_STORE_EXISTS);
  assert_int_equal(do_create(s, "CAROL", "$argon2id$third"), UVC_STORE_EXISTS);
  assert_int_equal(do_get(s, "carol", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$first");
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM accounts"), 1);
}

static void bad_arguments_fail_at_once(void** state) {
  uvc_store_t* s;
  result_t r = {0};
  char big[UVC_STORE_NAME_MAX + 2];
  (void)state;
  memset(big, 'n', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_create(s, &g_loop, "", "h", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, "x", "", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, "x", NULL, on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_create(s, &g_loop, big, "h", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_get(s, &g_loop, NULL, on_get, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_delete(s, NULL, "x", on_done, &r), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_pending(s), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 0);
  uvc_store_close(s);
}

static void durable_across_close_and_reopen(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  s = open_store(g_tmp);
  assert_int_equal(do_create(s, "dave", "$argon2id$dave"), 0);
  assert_int_equal(do_create(s, "erin", "$argon2id$erin"), 0);
  assert_int_equal(do_delete(s, "erin"), 0);
  uvc_store_close(s);
  s = open_store(g_tmp);
  assert_int_equal(do_get(s, "DAVE", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$dave");
  assert_int_equal(do_get(s, "erin", hash, sizeof hash), UVC_STORE_NOT_FOUND);
  uvc_store_close(s);
}

/* Many requests in flight at once, on several pool threads and connections. */
#define MANY 64
static result_t g_many[MANY];
static void many_requests_in_flight(void** state) {
  uvc_store_t* s;
  char name[32], hash[64];
  int i;
  (void)state;
  memset(g_many, 0, sizeof g_many);
  s = open_store(g_tmp);
  for (i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "user%d", i);
    snprintf(hash, sizeof hash, "$argon2id$%d", i);
    assert_int_equal(uvc_store_create(s, &g_loop, name, hash, on_done, &g_many[i]), 0);
  }
  assert_int_equal(uvc_store_pending(s), MANY);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvc_store_pending(s), 0);
  for (i = 0; i < MANY; i++) {
    assert_int_equal(g_many[i].calls, 1);
    assert_int_equal(g_many[i].status, 0);
    assert_int_equal(g_many[i].off_thread, 0);
  }
  memset(g_many, 0, sizeof g_many);
  for (i = 0; i < MANY; i++) { /* reads and writes mixed */
    snprintf(name, sizeof name, "USER%d", i);
    if (i % 2 == 0)
      assert_int_equal(uvc_store_get(s, &g_loop, name, on_get, &g_many[i]), 0);
    else
      assert_int_equal(uvc_store_set_hash(s, &g_loop, name, "$argon2id$new", on_done, &g_many[i]),
                       0);
  }
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < MANY; i++) {
    assert_int_equal(g_many[i].calls, 1);
    assert_int_equal(g_many[i].status, 0);
    assert_int_equal(g_many[i].off_thread, 0);
    if (i % 2 == 0) {
      snprintf(hash, sizeof hash, "$argon2id$%d", i);
      assert_string_equal(g_many[i].hash, hash);
    }
  }
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM accounts WHERE hash = '$argon2id$new'"),
                   MANY / 2);
}

/* Closing with requests in flight: they complete, new ones are refused, then it closes. */
static void close_while_requests_are_in_flight(void** state) {
  uvc_store_t* s;
  result_t r[4];
  int i;
  (void)state;
  memset(r, 0, sizeof r);
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_create(s, &g_loop, "g1", "$h1", on_done, &r[0]), 0);
  assert_int_equal(uvc_store_create(s, &g_loop, "g2", "$h2", on_done, &r[1]), 0);
  assert_int_equal(uvc_store_get(s, &g_loop, "nobody", on_get, &r[2]), 0);
  uvc_store_close(s); /* deferred: three requests are in flight */
  assert_int_equal(uvc_store_pending(s), 3);
  assert_int_equal(uvc_store_create(s, &g_loop, "g3", "$h3", on_done, &r[3]), UVC_STORE_CLOSING);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].off_thread, 0);
  }
  assert_int_equal(r[0].status, 0);
  assert_int_equal(r[1].status, 0);
  assert_int_equal(r[2].status, UVC_STORE_NOT_FOUND);
  assert_int_equal(r[3].calls, 0);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM accounts"), 2);
}

/* A callback may close the store, even with another request still pending. */
static uvc_store_t* g_closing;
static int g_callbacks;
static void close_from_inside(void* data, int status) {
  (void)data;
  assert_int_equal(status, 0);
  if (g_callbacks++ == 0) uvc_store_close(g_closing);
}
static void close_from_a_callback(void** state) {
  (void)state;
  g_callbacks = 0;
  g_closing = open_store(g_tmp);
  assert_int_equal(uvc_store_create(g_closing, &g_loop, "f1", "$h", close_from_inside, NULL), 0);
  assert_int_equal(uvc_store_create(g_closing, &g_loop, "f2", "$h", close_from_inside, NULL), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_callbacks, 2);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM accounts"), 2);
}

#ifndef _WIN32
/* In the child: confirms a create to the parent through the pipe, then waits to die. */
static int g_pipe_w = -1;
static void child_created(void* data, int status) {
  char c = status == 0 ? 'Y' : 'N';
  (void)data;
  if (write(g_pipe_w, &c, 1) != 1) _exit(2);
  for (;;)
    pause(); /* SIGKILL comes now: no close, no checkpoint, no atexit */
}

static void confirmed_create_survives_kill_9(void** state) {
  int fds[2];
  pid_t pid;
  char c = 0;
  int wstatus = 0;
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1];
  (void)state;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uv_loop_t loop;
    uvc_store_t* cs = NULL;
    char err[256];
    close(fds[0]);
    g_pipe_w = fds[1];
    if (uv_loop_init(&loop) != 0 || uvc_store_open(&cs, g_tmp, err, sizeof err) != 0) _exit(3);
    if (uvc_store_create(cs, &loop, "survivor", "$argon2id$kept", child_created, NULL) != 0)
      _exit(4);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(5);
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], &c, 1), 1);
  assert_int_equal(kill(pid, SIGKILL), 0); /* right after the confirmation */
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  close(fds[0]);
  assert_int_equal(c, 'Y');
  assert_true(WIFSIGNALED(wstatus));
  assert_int_equal(WTERMSIG(wstatus), SIGKILL);
  s = open_store(g_tmp); /* recovers from the WAL the child left behind */
  assert_int_equal(do_get(s, "Survivor", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$kept");
  uvc_store_close(s);
}
#endif

/* A database as uvchat wrote it before history (schema 1), made with that version's DDL. */
static void make_schema1_db(const char* dir) {
  char path[2048];
  sqlite3* db;
  uv_fs_t req;
  uv_fs_mkdir(NULL, &req, dir, 0700, NULL);
  uv_fs_req_cleanup(&req);
  snprintf(path, sizeof path, "%s/%s", dir, UVC_STORE_FILE);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                   "INSERT INTO schema_version(version) VALUES(1);"
                   "CREATE TABLE accounts(name TEXT PRIMARY KEY COLLATE NOCASE,"
                   " hash TEXT NOT NULL, created INTEGER NOT NULL);"
                   "INSERT INTO accounts VALUES('Alice', '$argon2id$alice', 1700000000);"
                   "INSERT INTO accounts VALUES('bob', '$argon2id$bob', 1700000001);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
}

static int count_name(void* ud, const char* name, size_t len) {
  int* n = ud;
  assert_int_equal(strlen(name), len);
  (*n)++;
  return 0;
}

static void migration_from_schema1_keeps_the_accounts(void** state) {
  uvc_store_t* s;
  char hash[UVC_STORE_HASH_MAX + 1], err[256];
  int names = 0;
  (void)state;
  make_schema1_db(g_tmp);
  s = open_store(g_tmp);
  assert_int_equal(uvc_store_schema_version(s), UVC_STORE_SCHEMA);
  assert_int_equal(do_get(s, "alice", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$alice");
  assert_int_equal(do_get(s, "BOB", hash, sizeof hash), 0);
  assert_string_equal(hash, "$argon2id$bob");
  assert_int_equal(uvc_store_each_name(s, count_name, &names, err, sizeof err), 0);
  assert_int_equal(names, 2);
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "SELECT version FROM schema_version"), UVC_STORE_SCHEMA);
  assert_int_equal(peek(g_tmp, "SELECT created FROM accounts WHERE name = 'alice'"), 1700000000);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM history"), 0);
}

/* Events kept, rooms and private ones: history rows, and room events in chunks. */
#define KEPT_EVENTS \
  "SELECT (SELECT count(*) FROM history) + (SELECT coalesce(sum(n), 0) FROM room_chunks)"

/* ---- History ---- */

typedef struct hres {
  int calls, status, off_thread;
  size_t n;
  char lines[64][160]; /* "nick:text" of each event, oldest first */
  int64_t seq[64];
  int64_t time_ms[64];
  int pending[64];
} hres_t;

static hres_t g_h;

static void on_hist(void* data, int status, const uvc_hist_rec_t* recs, size_t n) {
  hres_t* h = data;
  size_t i;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &g_loop_thread)) h->off_thread++;
  h->calls++;
  h->status = status;
  h->n = n;
  for (i = 0; i < n && i < 64; i++) {
    snprintf(h->lines[i], sizeof h->lines[i], "%s:%s", recs[i].nick, recs[i].text);
    h->seq[i] = recs[i].seq;
    h->time_ms[i] = recs[i].time_ms;
    h->pending[i] = recs[i].pending;
  }
}

/* Appends one event to (owner, target) said by nick at t (its seq too). */
static void put(uvc_store_t* s, const char* owner, const char* target, const char* nick, int64_t t,
                const char* text, const uvc_hist_bounds_t* b) {
  uvc_hist_rec_t e = {0};
  result_t r = {0};
  e.seq = t;
  e.time_ms = t;
  e.kind = UVC_HIST_SAY;
  e.owner = owner;
  e.target = target;
  e.nick = nick;
  e.user = "~u";
  e.host = "h";
  e.account = "";
  e.text = text;
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, b, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
}

static int fetch(uvc_store_t* s, uvc_hist_how_t how, const char* owner, const char* target,
                 int64_t at, int64_t seq, int64_t at2, unsigned limit) {
  uvc_hist_query_t q = {0};
  memset(&g_h, 0, sizeof g_h);
  q.how = how;
  q.owner = owner;
  q.target = target;
  q.a.time_ms = at;
  q.a.seq = seq;
  q.b.time_ms = at2;
  q.limit = limit;
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.calls, 1);
  assert_int_equal(g_h.off_thread, 0);
  return g_h.status;
}

static const int64_t T0 = 1700000000000; /* a time well inside any age bound below */

/* Ten events in #dev at T0+1000..T0+10000, each "n<i>". */
static void ten_events(uvc_store_t* s) {
  uvc_hist_rec_t e[10];
  char text[10][8];
  result_t r = {0};
  int i;
  memset(e, 0, sizeof e);
  for (i = 0; i < 10; i++) {
    snprintf(text[i], sizeof text[i], "n%d", i + 1);
    e[i].seq = i + 1;
    e[i].time_ms = T0 + 1000 * (i + 1);
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "";
    e[i].target = "#dev";
    e[i].nick = i % 2 ? "bob" : "alice";
    e[i].text = text[i];
  }
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 10, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
}

static void history_latest_before_after_around_between(void** state) {
  uvc_store_t* s;
  (void)state;
  s = open_store(g_tmp);
  ten_events(s);
  put(s, "", "#other", "carol", T0 + 5500, "elsewhere", NULL);

  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#DEV", 0, 0, 0, 3), 0); /* any case */
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "bob:n8"); /* oldest first */
  assert_string_equal(g_h.lines[1], "alice:n9");
  assert_string_equal(g_h.lines[2], "bob:n10");
  assert_true(g_h.seq[2] == 10);
  assert_true(g_h.time_ms[2] == T0 + 10000);

  /* LATEST after a point: only what is newer */
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 7, 0, 10), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "bob:n8");

  /* BEFORE and AFTER an event exclude it; by time, the time itself is excluded too */
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 5, 0, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[1], "bob:n4");
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", T0 + 2000, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:n1");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#dev", 0, 8, 0, 5), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n9");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#dev", T0 + 8500, 0, 0, 1), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:n9");

  /* AROUND: half before, the event itself and after */
  assert_int_equal(fetch(s, UVC_HIST_AROUND, "", "#dev", 0, 5, 0, 4), 0);
  assert_int_equal(g_h.n, 4);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[2], "alice:n5");
  assert_string_equal(g_h.lines[3], "bob:n6");

  /* BETWEEN, either order: always oldest first; the limit nearest the first point */
  assert_int_equal(fetch(s, UVC_HIST_BETWEEN, "", "#dev", T0 + 2000, 0, T0 + 6000, 10), 0);
  assert_int_equal(g_h.n, 3);
  assert_string_equal(g_h.lines[0], "alice:n3");
  assert_string_equal(g_h.lines[2], "alice:n5");
  assert_int_equal(fetch(s, UVC_HIST_BETWEEN, "", "#dev", T0 + 9000, 0, T0 + 1000, 2), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:n7");
  assert_string_equal(g_h.lines[1], "bob:n8");

  /* an unknown event, a room with nothing, a private history that is not the room's */
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 77, 0, 5), UVC_STORE_NOT_FOUND);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#empty", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "alice", "#dev", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 0);
  uvc_store_close(s);

  /* it all survives a reopen */
  s = open_store(g_tmp);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#other", 0, 0, 0, 5), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "carol:elsewhere");
  uvc_store_close(s);
}

static void history_bounds_by_count_and_age(void** state) {
  uvc_store_t* s;
  uvc_hist_bounds_t b = {3, 2, 0};
  uvc_hist_bounds_t age;
  result_t r = {0};
  int64_t now;
  uv_timeval64_t tv;
  int i;
  (void)state;
  s = open_store(g_tmp);
  for (i = 1; i <= 5; i++) {
    char text[8];
    snprintf(text, sizeof text, "r%d", i);
    put(s, "", "#dev", "alice", T0 + i, text, &b);
    put(s, "", "#ops", "alice", T0 + 100 + i, text, &b);
  }
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 3); /* per room */
  assert_string_equal(g_h.lines[0], "alice:r3");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#ops", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 3);

  /* private: per account over all its conversations */
  put(s, "bob", "alice", "alice", T0 + 201, "p1", &b);
  put(s, "bob", "carol", "carol", T0 + 202, "p2", &b);
  put(s, "bob", "alice", "alice", T0 + 203, "p3", &b);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "alice:p3");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "carol", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);

  /* age: the old events go, a fresh one stays */
  assert_int_equal(uv_gettimeofday(&tv), 0);
  now = tv.tv_sec * 1000 + tv.tv_usec / 1000;
  put(s, "", "#dev", "dave", now, "fresh", NULL);
  age.count_room = 0;
  age.count_private = 0;
  age.max_age_ms = 60000;
  assert_int_equal(uvc_store_hist_prune(s, &g_loop, &age, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "dave:fresh");
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, KEPT_EVENTS), 1);
}

static void history_pending_and_delete_by_account(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e[3];
  result_t r = {0};
  uvc_hist_query_t q = {0};
  (void)state;
  memset(e, 0, sizeof e);
  s = open_store(g_tmp);
  /* alice writes to bob, who is offline: bob's copy is pending; alice keeps hers */
  e[0].seq = 1;
  e[0].time_ms = T0 + 1;
  e[0].kind = UVC_HIST_SAY;
  e[0].owner = "bob";
  e[0].target = "alice";
  e[0].nick = "alice";
  e[0].account = "alice";
  e[0].text = "are you there?";
  e[0].pending = 1;
  e[1] = e[0];
  e[1].owner = "alice";
  e[1].target = "bob";
  e[1].pending = 0;
  e[2] = e[0];
  e[2].seq = 2;
  e[2].time_ms = T0 + 2;
  e[2].text = "call me";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 3, NULL, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);

  q.how = UVC_HIST_PENDING;
  q.owner = "BOB";
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.status, 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:are you there?");
  assert_string_equal(g_h.lines[1], "alice:call me");
  assert_int_equal(g_h.pending[0], 1);
  /* delivered once: the next login finds nothing pending, the history still has them */
  memset(&g_h, 0, sizeof g_h);
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_int_equal(g_h.pending[0], 0);

  /* bob unregisters: his copies go, alice's stay */
  memset(&r, 0, sizeof r);
  assert_int_equal(uvc_store_hist_delete_owner(s, &g_loop, "Bob", on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "alice", "bob", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  uvc_store_close(s);
}

static uvc_hist_target_t g_t[8];
static char g_tnames[8][32];
static size_t g_nt;
static void on_targets(void* data, int status, const uvc_hist_target_t* t, size_t n) {
  size_t i;
  (void)data;
  assert_int_equal(status, 0);
  g_nt = n;
  for (i = 0; i < n && i < 8; i++) {
    snprintf(g_tnames[i], sizeof g_tnames[i], "%s", t[i].name);
    g_t[i].last_ms = t[i].last_ms;
  }
}

static void history_targets_and_room_delete(void** state) {
  uvc_store_t* s;
  const char* rooms[] = {"#dev", "#secret"};
  result_t r = {0};
  (void)state;
  s = open_store(g_tmp);
  put(s, "", "#dev", "alice", T0 + 10, "a", NULL);
  put(s, "", "#secret", "alice", T0 + 30, "b", NULL);
  put(s, "", "#elsewhere", "alice", T0 + 40, "c", NULL); /* not one of the caller's rooms */
  put(s, "bob", "carol", "carol", T0 + 20, "d", NULL);
  put(s, "dave", "carol", "carol", T0 + 50, "e", NULL); /* someone else's */
  assert_int_equal(
      uvc_store_hist_targets(s, &g_loop, "bob", rooms, 2, T0, T0 + 100, 10, on_targets, NULL), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_nt, 3);
  assert_string_equal(g_tnames[0], "#secret"); /* latest first */
  assert_string_equal(g_tnames[1], "carol");
  assert_string_equal(g_tnames[2], "#dev");
  assert_true(g_t[1].last_ms == T0 + 20);
  assert_int_equal(
      uvc_store_hist_targets(s, &g_loop, "bob", rooms, 2, T0 + 25, T0 + 15, 10, on_targets, NULL),
      0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_nt, 1);
  assert_string_equal(g_tnames[0], "carol");

  assert_int_equal(uvc_store_hist_delete_room(s, &g_loop, "#DEV", on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 0);
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, KEPT_EVENTS), 4);
}

/* A database as the first version with history wrote it (schema 2: room events as rows of
 * history), made with the DDL that version shipped (migration 2, never edited since). */
extern const char* const uvc_schema_migrations[];
static void migration_from_schema2_moves_room_history(void** state) {
  char path[2048];
  sqlite3* db;
  uv_fs_t req;
  uvc_store_t* s;
  (void)state;
  make_schema1_db(g_tmp);
  snprintf(path, sizeof path, "%s/%s", g_tmp, UVC_STORE_FILE);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, uvc_schema_migrations[1], NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "UPDATE schema_version SET version = 2;"
                   "INSERT INTO history VALUES('', '#dev', 1, 1700000000001, 1, 0, 0, 'alice',"
                   " '~a', 'h', '', 'one');"
                   "INSERT INTO history VALUES('', '#DEV', 2, 1700000000002, 1, 0, 0, 'bob',"
                   " '~b', 'h', '', 'two');"
                   "INSERT INTO history VALUES('', '#ops', 3, 1700000000003, 2, 0, 0, 'carol',"
                   " '~c', 'h', '', 'waves');"
                   "INSERT INTO history VALUES('bob', 'alice', 4, 1700000000004, 1, 0, 1,"
                   " 'alice', '~a', 'h', 'alice', 'psst');",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  (void)req;

  s = open_store(g_tmp);
  assert_int_equal(uvc_store_schema_version(s), UVC_STORE_SCHEMA);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:one");
  assert_string_equal(g_h.lines[1], "bob:two");
  assert_int_equal(fetch(s, UVC_HIST_AFTER, "", "#dev", 0, 1, 0, 10), 0); /* by its seq */
  assert_int_equal(g_h.n, 1);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#ops", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_string_equal(g_h.lines[0], "carol:waves");
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "bob", "alice", 0, 0, 0, 10), 0);
  assert_int_equal(g_h.n, 1);
  assert_int_equal(g_h.pending[0], 1); /* still waiting for bob */
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM history"), 1); /* the private one */
  assert_int_equal(peek(g_tmp, "SELECT count(*) FROM room_chunks"), 2);
  assert_int_equal(peek(g_tmp, KEPT_EVENTS), 4);
}

/* A room's events written twice and out of order are kept once each, in order, and the
 * count bound still holds exactly across chunks. */
static void history_rooms_out_of_order_and_bounds_across_batches(void** state) {
  uvc_store_t* s;
  uvc_hist_bounds_t b = {5, 0, 0};
  uvc_hist_rec_t e[4];
  char text[4][8];
  result_t r = {0};
  int i, batch;
  (void)state;
  s = open_store(g_tmp);
  for (batch = 0; batch < 3; batch++) { /* three batches of four: 1-4, 5-8, 9-12 */
    memset(e, 0, sizeof e);
    for (i = 0; i < 4; i++) {
      int n = batch * 4 + i + 1;
      snprintf(text[i], sizeof text[i], "m%d", n);
      e[i].seq = n;
      e[i].time_ms = T0 + n;
      e[i].kind = UVC_HIST_SAY;
      e[i].owner = "";
      e[i].target = "#dev";
      e[i].nick = "alice";
      e[i].text = text[i];
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 4, &b, on_done, &r), 0);
    assert_int_equal(finish(s, &r), 0);
  }
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 100), 0);
  assert_int_equal(g_h.n, 5); /* exactly the bound: 8..12, the floor inside a chunk */
  assert_string_equal(g_h.lines[0], "alice:m8");
  assert_string_equal(g_h.lines[4], "alice:m12");
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 7, 0, 10), UVC_STORE_NOT_FOUND);
  assert_int_equal(fetch(s, UVC_HIST_BEFORE, "", "#dev", 0, 10, 0, 10), 0);
  assert_int_equal(g_h.n, 2);
  assert_string_equal(g_h.lines[0], "alice:m8");

  /* m11 and m12 again (kept once) around a new m13, out of order: merged in order */
  memset(e, 0, sizeof e);
  for (i = 0; i < 3; i++) {
    e[i].kind = UVC_HIST_SAY;
    e[i].owner = "";
    e[i].target = "#DEV";
    e[i].nick = "bob";
  }
  e[0].seq = 11, e[0].time_ms = T0 + 11, e[0].text = "again";
  e[1].seq = 13, e[1].time_ms = T0 + 13, e[1].text = "m13";
  e[2].seq = 12, e[2].time_ms = T0 + 12, e[2].text = "again";
  memset(&r, 0, sizeof r);
  assert_int_equal(uvc_store_hist_append(s, &g_loop, e, 3, &b, on_done, &r), 0);
  assert_int_equal(finish(s, &r), 0);
  assert_int_equal(fetch(s, UVC_HIST_LATEST, "", "#dev", 0, 0, 0, 100), 0);
  assert_int_equal(g_h.n, 5);
  assert_string_equal(g_h.lines[0], "alice:m9");
  assert_string_equal(g_h.lines[2], "alice:m11"); /* the first copy stays */
  assert_string_equal(g_h.lines[3], "alice:m12");
  assert_string_equal(g_h.lines[4], "bob:m13");
  uvc_store_close(s);
  assert_int_equal(peek(g_tmp, "SELECT count FROM room_state"), 5);
}

static void history_bad_records_fail_at_once(void** state) {
  uvc_store_t* s;
  uvc_hist_rec_t e = {0};
  uvc_hist_query_t q = {0};
  result_t r = {0};
  (void)state;
  s = open_store(g_tmp);
  e.owner = "";
  e.target = "#dev";
  e.nick = "alice";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.seq = 1;
  e.nick = "";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.nick = "alice";
  e.target = NULL;
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 1, NULL, on_done, &r), UVC_STORE_INVALID);
  e.target = "#dev";
  assert_int_equal(uvc_store_hist_append(s, &g_loop, &e, 0, NULL, on_done, &r), UVC_STORE_INVALID);
  q.how = UVC_HIST_LATEST;
  q.owner = "";
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), UVC_STORE_INVALID);
  q.how = UVC_HIST_PENDING;
  assert_int_equal(uvc_store_hist_fetch(s, &g_loop, &q, on_hist, &g_h), UVC_STORE_INVALID);
  assert_int_equal(uvc_store_pending(s), 0);
  uvc_store_close(s);
  assert_int_equal(r.calls, 0);
}

static void default_dir(void** state) {
  char out[1024], saved_xdg[1024], saved_home[1024];
  size_t n;
  int had_xdg, had_home;
  (void)state;
#ifdef _WIN32
  {
    char lad[1024];
    n = sizeof lad;
    if (uv_os_getenv("LOCALAPPDATA", lad, &n) != 0) skip();
    assert_int_equal(uvc_store_default_dir(out, sizeof out), 0);
    assert_non_null(strstr(out, "\\uvchat"));
  }
  (void)saved_xdg;
  (void)saved_home;
  (void)had_xdg;
  (void)had_home;
#else
  n = sizeof saved_xdg;
  had_xdg = uv_os_getenv("XDG_STATE_HOME", saved_xdg, &n) == 0;
  n = sizeof saved_home;
  had_home = uv_os_getenv("HOME", saved_home, &n) == 0;

  assert_int_equal(uv_os_setenv("XDG_STATE_HOME", "/var/tmp/xdg/"), 0);
  assert_int_equal(uvc_store_default_dir(out, sizeof out), 0);
  assert_string_equal(out, "/var/tmp/xdg/uvchat");
  assert_int_equal(uvc_store_default_dir(out, 10), UV_ENOBUFS);

  assert_int_equal(uv_os_setenv("XDG_STATE_HOME", "relative/ignored"), 0);
  assert_int_equal(uv_os_setenv("HOME", "/home/tester"), 0);
  assert_int_equal(uvc_store_default_dir(out, sizeof out), 0);
  assert_string_equal(out, "/home/tester/.local/state/uvchat");

  assert_int_equal(uv_os_unsetenv("XDG_STATE_HOME"), 0);
  assert_int_equal(uvc_store_default_dir(out, sizeof out), 0);
  assert_string_equal(out, "/home/tester/.local/state/uvchat");

  if (had_xdg)
    uv_os_setenv("XDG_STATE_HOME", saved_xdg);
  else
    uv_os_unsetenv("XDG_STATE_HOME");
  if (had_home)
    uv_os_setenv("HOME", saved_home);
  else
    uv_os_unsetenv("HOME");
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
#ifndef _WIN32
      /* first, while this process has no SQLite connection and no pool threads busy */
      cmocka_unit_test_setup_teardown(confirmed_create_survives_kill_9, setup, teardown),
#endif
      cmocka_unit_test_setup_teardown(migrations_from_an_empty_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(wal_mode_persists, setup, teardown),
      cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(unusable_dir_is_a_clear_error, setup, teardown),
      cmocka_unit_test_setup_teardown(create_get_set_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(duplicate_name_in_another_case_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_arguments_fail_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(durable_across_close_and_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(many_requests_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(close_while_requests_are_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(close_from_a_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(migration_from_schema1_keeps_the_accounts, setup, teardown),
      cmocka_unit_test_setup_teardown(migration_from_schema2_moves_room_history, setup, teardown),
      cmocka_unit_test_setup_teardown(history_latest_before_after_around_between, setup, teardown),
      cmocka_unit_test_setup_teardown(history_rooms_out_of_order_and_bounds_across_batches, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(history_bounds_by_count_and_age, setup, teardown),
      cmocka_unit_test_setup_teardown(history_pending_and_delete_by_account, setup, teardown),
      cmocka_unit_test_setup_teardown(history_targets_and_room_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(history_bad_records_fail_at_once, setup, teardown),
      cmocka_unit_test(default_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
