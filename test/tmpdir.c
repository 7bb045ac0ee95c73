/* tmpdir.c: temporary directories for the tests that need files (store, TLS, accounts). */
#include "tmpdir.h"

#include <stdio.h>
#include <uv.h>
#include "unit.h"

void tt_mkdtemp(const char* name, char* out, size_t outlen) {
  char base[900], tmpl[1024];
  size_t n = sizeof(base);
  uv_fs_t req;
  if (uv_os_tmpdir(base, &n) != 0) snprintf(base, sizeof(base), ".");
  snprintf(tmpl, sizeof(tmpl), "%s/%s-XXXXXX", base, name);
  if (uv_fs_mkdtemp(NULL, &req, tmpl, NULL) < 0) fail_msg("cannot make a directory like %s", tmpl);
  snprintf(out, outlen, "%s", req.path);
  uv_fs_req_cleanup(&req);
}

void tt_rmdir(const char* dir) {
  uv_fs_t req;
  uv_dirent_t ent;
  char path[2048];
  if (uv_fs_scandir(NULL, &req, dir, 0, NULL) >= 0) {
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
      uv_fs_t u;
      snprintf(path, sizeof(path), "%s/%s", dir, ent.name);
      uv_fs_unlink(NULL, &u, path, NULL);
      uv_fs_req_cleanup(&u);
    }
  }
  uv_fs_req_cleanup(&req);
  uv_fs_rmdir(NULL, &req, dir, NULL);
  uv_fs_req_cleanup(&req);
}
