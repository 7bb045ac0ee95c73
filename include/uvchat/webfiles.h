/* webfiles.h: the built-in web client's files (web/ in the source tree), embedded into the
 * binary at build time by cmake/EmbedFiles.cmake.
 *
 * Every file under web/ becomes one entry: its URL path ("/" and the path under web/, with
 * forward slashes), its Content-Type (from the extension), its bytes, and an ETag computed
 * from its content at build time. The table is read-only and lives for the whole program;
 * nothing here allocates, and it is safe to read from any thread.
 */
#ifndef UVCHAT_WEBFILES_H
#define UVCHAT_WEBFILES_H

#include <stddef.h>

typedef struct uvc_webfile {
  const char* path;          /* "/index.html", "/app.js": NUL-terminated, starts with '/' */
  const char* type;          /* Content-Type value: "text/html; charset=utf-8" */
  const unsigned char* data; /* the file's bytes (not NUL-terminated) */
  size_t len;                /* their number */
  const char* etag;          /* a strong ETag with its quotes, ready for the header:
                                "\"3f2a9c...\"" (the first 16 hex digits of the SHA-256) */
} uvc_webfile_t;

/* The file at URL path[0..len) (not NUL-terminated), or NULL when there is none. "/" is
 * "/index.html". The path is compared byte for byte (case-sensitive, no percent-decoding);
 * a query string or fragment ('?' or '#' and what follows) is ignored. A path that does not
 * start with '/', or that names a directory, finds nothing. */
const uvc_webfile_t* uvc_webfile_find(const char* path, size_t len);

/* Every embedded file, sorted by path, and their number. */
extern const uvc_webfile_t uvc_webfiles[];
extern const size_t uvc_webfiles_count;

#endif
