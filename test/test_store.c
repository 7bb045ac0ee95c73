/* test_store.c: the store against SQLite: migrations (from schema 1 too), the account
 * operations, history (reads, bounds, retention, pending, deletion), names in any case,
 * durability across a reopen and across kill -9, callbacks on the loop thread, shutdown.
 * The cases every backend shares are in store_cases.h; these are SQLite's own. */
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

#include "../src/accounts/hchunk.h"
#include "../src/accounts/store_impl.h"
#include "store_cases.h"

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

/* The hooks of store_cases.h, through a connection of our own. */
static long long count_accounts(const char* hash) {
  char sql[512];
  if (hash == NULL) return peek(g_tmp, "SELECT count(*) FROM accounts");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM accounts WHERE hash = '%s'", hash);
  return peek(g_tmp, sql);
}

/* Events kept, rooms and private ones: history rows, and room events in chunks but those
 * the count bound hides in each room's oldest chunk (room_state.skip). */
#define KEPT_EVENTS                                                                         \
  "SELECT (SELECT count(*) FROM history) + (SELECT coalesce(sum(n), 0) FROM room_chunks) -" \
  " (SELECT coalesce(sum(skip), 0) FROM room_state)"

static long long count_events(void) {
  return peek(g_tmp, KEPT_EVENTS);
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

/* Whether a and b are equal ignoring ASCII case. */
static int same_ascii(const char* a, const char* b) {
  for (; *a != '\0' && *b != '\0'; a++, b++)
    if ((*a | 32) != (*b | 32)) return 0;
  return *a == *b;
}

/* A batch keeps each room's events as chunks as they come (a room in any case is one room,
 * a full chunk starts the next), private messages apart, and gives every record back in the
 * order it was added. */
static void batch_groups_rooms_and_keeps_the_order(void** state) {
  uvc_hist_batch_t* b = uvc_hist_batch_new();
  uvc_hist_rec_t e, got;
  const uvc_hchunk_t* ch;
  char room[16], text[32];
  size_t g, nc, n500 = 0;
  int i, ordered;
  (void)state;
  assert_non_null(b);
  for (i = 0; i < 1300; i++) {
    memset(&e, 0, sizeof e);
    snprintf(room, sizeof room, i % 2 ? "#R%d" : "#r%d", i % 30 == 0 ? 0 : i % 30);
    snprintf(text, sizeof text, "m%d", i);
    e.seq = i + 1;
    e.time_ms = T0 + i;
    e.kind = UVC_HIST_SAY;
    e.owner = i % 100 == 7 ? "bob" : "";
    e.target = i % 100 == 7 ? "alice" : (i < 700 ? "#big" : room);
    e.nick = "alice";
    e.text = text;
    assert_int_equal(uvc_hist_batch_add(b, &e), 0);
  }
  e.seq = 0; /* a bad record is refused and not counted */
  assert_int_equal(uvc_hist_batch_add(b, &e), UVC_STORE_INVALID);
  assert_int_equal(uvc_hist_batch_count(b), 1300);
  assert_int_equal(uvc_hist_batch_privates(b), 13);
  assert_int_equal(uvc_hist_batch_rooms(b), 31); /* #big and #r0..#r29, whatever the case */
  for (g = 0; g < uvc_hist_batch_rooms(b); g++) {
    const char* name = uvc_hist_batch_room(b, g, &ch, &nc, &ordered);
    assert_true(ordered);
    if (strcmp(name, "#big") == 0) {
      assert_int_equal(nc, 2); /* 693 events: a chunk of 500, then the rest */
      assert_int_equal(ch[0].n, UVC_HCHUNK_MAX_EVENTS);
      n500 = ch[0].n + ch[1].n;
    }
  }
  assert_int_equal(n500, 693);
  for (i = 0; i < 1300; i++) {
    uvc_hist_batch_get(b, (size_t)i, &got);
    snprintf(text, sizeof text, "m%d", i);
    assert_true(got.seq == i + 1);
    assert_string_equal(got.text, text);
    assert_string_equal(got.owner, i % 100 == 7 ? "bob" : "");
    if (i % 100 != 7 && i >= 700) {
      snprintf(room, sizeof room, "#r%d", i % 30 == 0 ? 0 : i % 30);
      assert_true(same_ascii(got.target, room));
    }
  }
  uvc_hist_batch_free(b);
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
      cmocka_unit_test_setup_teardown(migration_from_schema1_keeps_the_accounts, setup, teardown),
      cmocka_unit_test_setup_teardown(migration_from_schema2_moves_room_history, setup, teardown),
      STORE_CASES(setup, teardown),
      cmocka_unit_test(batch_groups_rooms_and_keeps_the_order),
      cmocka_unit_test(default_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
