/* framer.h: turns a TCP byte stream into lines.
 *
 * Lines end with LF; a CR before the LF is dropped. The bytes of one read (normally the
 * loop's single read buffer) are described by a uvc_framer_src_t that lives only as long as
 * that read: lines that lie entirely inside it are handed out in place. Only a partial
 * line, or input set aside with uvc_framer_stash(), is copied into the framer's own buffer,
 * and that buffer is freed as soon as it is empty: an idle framer owns no memory.
 *
 * A line longer than the maximum is reported once as UVC_FRAME_TOOLONG, and the rest of it
 * is skipped up to its newline; the lines after it come through as usual.
 */
#ifndef UVCHAT_FRAMER_H
#define UVCHAT_FRAMER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  UVC_FRAME_NONE = 0,   /* no complete line: wait for more bytes */
  UVC_FRAME_LINE = 1,   /* *line / *len hold a line, valid until the next framer call */
  UVC_FRAME_TOOLONG = 2 /* a line passed the maximum; it is being discarded */
} uvc_frame_t;

typedef struct uvc_framer {
  char* buf;             /* owned: partial line or stashed input */
  uint32_t len;          /* bytes in buf */
  uint32_t pos;          /* bytes of buf already handed out */
  uint32_t cap : 31;     /* allocated size of buf */
  uint32_t skipping : 1; /* discarding the rest of an overlong line */
  uint32_t skipped;      /* bytes of the overlong line thrown away so far */
} uvc_framer_t;

/* Bytes of one read, not yet cut. */
typedef struct uvc_framer_src {
  const char* p;
  size_t len;
} uvc_framer_src_t;

void uvc_framer_init(uvc_framer_t* f);
void uvc_framer_free(uvc_framer_t* f);

/* The next line (from held bytes first, then from src, consuming it), the news that a line
 * was longer than max, or UVC_FRAME_NONE when no complete line is left; on UVC_FRAME_NONE a
 * trailing partial line of src has been copied into the framer and src is empty. */
uvc_frame_t uvc_framer_next(uvc_framer_t* f, uvc_framer_src_t* src, uint32_t max, const char** line,
                            size_t* len);

/* At end of stream: the final line that had no newline, if any (UVC_FRAME_LINE), or
 * UVC_FRAME_TOOLONG when it is longer than max. */
uvc_frame_t uvc_framer_finish(uvc_framer_t* f, uint32_t max, const char** line, size_t* len);

/* Copies what is left of src into the framer's own buffer, so that cutting can resume later
 * without it (used when input is paused). Returns 0, or -1 when out of memory. */
int uvc_framer_stash(uvc_framer_t* f, uvc_framer_src_t* src);

/* Bytes held by the framer (partial line and stashed input). */
static inline size_t uvc_framer_pending(const uvc_framer_t* f) {
  return f->len - f->pos;
}

#endif
