/* account_tool.c: uvchat-account, the operator's command-line tool for the account database,
 * safe on the database of a running server.
 *
 *   uvchat-account [--data-dir DIR] list
 *   uvchat-account [--data-dir DIR] delete NAME
 *
 * It goes through the same store as the server (WAL mode, busy timeout, one synced
 * transaction per change), so it may run while the server runs: SQLite serialises the two
 * processes' writes. A running server notices the change within a few seconds (its watch on
 * PRAGMA data_version): the name is free again and whoever is logged in to it is logged out.
 * Exit status: 0 done, 1 no such account or a database error, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uvchat/store.h"

typedef struct result {
  int done;
  int status;
} result_t;

static void on_deleted(void* data, int status) {
  result_t* r = data;
  r->done = 1;
  r->status = status;
}

static void on_listed(void* data, int status, int changed, const char* const* names, size_t n) {
  result_t* r = data;
  size_t i;
  (void)changed; /* the first watch always lists */
  r->done = 1;
  r->status = status;
  for (i = 0; status == 0 && i < n; i++)
    printf("%s\n", names[i]);
}

static int usage(FILE* out) {
  fprintf(out,
          "usage: uvchat-account [--data-dir DIR] list\n"
          "       uvchat-account [--data-dir DIR] delete NAME\n"
          "Lists or deletes registered uvchat accounts; safe while the server runs (it notices\n"
          "a deletion within seconds: the name is free again, its logins are logged out).\n"
          "--data-dir DIR   the server's --data-dir (default: $XDG_STATE_HOME/uvchat or\n"
          "                 ~/.local/state/uvchat)\n");
  return out == stdout ? 0 : 2;
}

int main(int argc, char** argv) {
  const char* dir = NULL;
  const char* cmd = NULL;
  const char* name = NULL;
  char defdir[4096], err[512];
  uvc_store_t* store = NULL;
  uv_loop_t loop;
  result_t res = {0, 0};
  int i, rc;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return usage(stdout);
    if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
      dir = argv[i] + 11;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "uvchat-account: unknown option '%s'\n", argv[i]);
      return usage(stderr);
    } else if (cmd == NULL) {
      cmd = argv[i];
    } else if (name == NULL) {
      name = argv[i];
    } else {
      return usage(stderr);
    }
  }
  if (cmd == NULL || (strcmp(cmd, "list") == 0 && name != NULL) ||
      (strcmp(cmd, "delete") == 0 && name == NULL) ||
      (strcmp(cmd, "list") != 0 && strcmp(cmd, "delete") != 0))
    return usage(stderr);
  if (dir == NULL) {
    if ((rc = uvc_store_default_dir(defdir, sizeof(defdir))) != 0) {
      fprintf(stderr, "uvchat-account: cannot find the data directory (%s): use --data-dir\n",
              uv_strerror(rc));
      return 1;
    }
    dir = defdir;
  }
  { /* an operator's typo in --data-dir must not leave an empty database behind */
    char db[4200];
    uv_fs_t req;
    snprintf(db, sizeof(db), "%s/" UVC_STORE_FILE, dir);
    rc = uv_fs_stat(NULL, &req, db, NULL);
    uv_fs_req_cleanup(&req);
    if (rc != 0) {
      fprintf(stderr,
              "uvchat-account: there is no account database at %s (%s); is --data-dir right?\n", db,
              uv_strerror(rc));
      return 1;
    }
  }
  if (uv_loop_init(&loop) != 0) return 1;
  if ((rc = uvc_store_open(&store, dir, err, sizeof(err))) != 0) {
    fprintf(stderr, "uvchat-account: %s\n", err);
    uv_loop_close(&loop);
    return 1;
  }
  if (strcmp(cmd, "delete") == 0)
    rc = uvc_store_delete(store, &loop, name, on_deleted, &res);
  else
    rc = uvc_store_watch(store, &loop, on_listed, &res);
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  uvc_store_close(store);
  uv_loop_close(&loop);
  if (rc == 0) rc = res.status;
  if (rc == UVC_STORE_NOT_FOUND) {
    fprintf(stderr, "uvchat-account: there is no account %s\n", name);
    return 1;
  }
  if (rc != 0) {
    fprintf(stderr, "uvchat-account: %s\n", uvc_store_strerror(rc));
    return 1;
  }
  if (strcmp(cmd, "delete") == 0)
    printf("deleted the account %s; a running server frees the name within seconds\n", name);
  return 0;
}
