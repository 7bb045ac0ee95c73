/* webfiles.c: finding one of the web client's embedded files by its URL path. The table
 * itself is generated at build time (cmake/EmbedFiles.cmake, gen/webfiles_data.c). */
#include "uvchat/webfiles.h"

#include <string.h>

const uvc_webfile_t* uvc_webfile_find(const char* path, size_t len) {
  static const char index[] = "/index.html";
  const char* end;
  size_t i;

  if (path == NULL) return NULL;
  /* A query string or a fragment names the same file. */
  end = memchr(path, '?', len);
  if (end != NULL) len = (size_t)(end - path);
  end = memchr(path, '#', len);
  if (end != NULL) len = (size_t)(end - path);
  if (len == 0 || path[0] != '/') return NULL;
  if (len == 1) {
    path = index;
    len = sizeof index - 1;
  }
  for (i = 0; i < uvc_webfiles_count; i++) {
    const uvc_webfile_t* f = &uvc_webfiles[i];
    if (strlen(f->path) == len && memcmp(f->path, path, len) == 0) return f;
  }
  return NULL;
}
