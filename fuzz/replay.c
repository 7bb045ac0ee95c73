/* replay.c: runs a fuzz target over every file of its corpus directories, without libFuzzer,
 * so that what the fuzzers once found stays fixed in every build (gcc, MSVC) of the tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz_check.h"

/* Feeds one file to the target; returns 0, or -1 when it cannot be read. */
static int replay_file(const char* path) {
  FILE* f = fopen(path, "rb");
  uint8_t* data;
  long size;
  if (f == NULL) return -1;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = malloc(size > 0 ? (size_t)size : 1);
  if (data == NULL || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
    fclose(f);
    free(data);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(data, (size_t)size);
  free(data);
  return 0;
}

int main(int argc, char** argv) {
  int i, files = 0;
  for (i = 1; i < argc; i++) {
    uv_fs_t req;
    uv_dirent_t ent;
    int r = uv_fs_scandir(NULL, &req, argv[i], 0, NULL);
    if (r < 0) {
      fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], uv_strerror(r));
      return 1;
    }
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
      char path[4096];
      if (ent.type == UV_DIRENT_DIR) continue;
      snprintf(path, sizeof(path), "%s/%s", argv[i], ent.name);
      if (replay_file(path) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        uv_fs_req_cleanup(&req);
        return 1;
      }
      files++;
    }
    uv_fs_req_cleanup(&req);
  }
  printf("replayed %d input%s without a fault\n", files, files == 1 ? "" : "s");
  return files > 0 ? 0 : 1;
}
