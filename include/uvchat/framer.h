/* framer.h: turns a TCP byte stream into lines.
 *
 * Lines end with LF; a CR before the LF is dropped. The framer borrows the bytes given to
 * uvc_framer_feed() (normally the loop's single read buffer) and hands out lines that point
 * into them where it can; only a partial line, or input set aside with uvc_framer_stash(),
 * is copied into the framer's own small buffer. An idle framer owns no memory.
 *
 * A line longer than the maximum is reported once as UVC_FRAME_TOOLONG, and the rest of it
 * is skipped up to its newline; the lines after it come through as usual.
 */
#ifndef UVCHAT_FRAMER_H
#define UVCHAT_FRAMER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  UVC_FRAME_NONE = 0,   /* no complete line: feed more bytes */
  UVC_FRAME_LINE = 1,   /* *line / *len hold a line, valid until the next framer call */
  UVC_FRAME_TOOLONG = 2 /* a line passed the maximum; it is being discarded */
} uvc_frame_t;

typedef struct uvc_framer {
  char* buf;        /* owned: partial line or stashed input */
  uint32_t len;     /* bytes in buf */
  uint32_t pos;     /* bytes of buf already handed out */
  uint32_t cap;     /* allocated size of buf */
  uint32_t max;     /* maximum line length, terminator excluded */
  const char* ext;  /* borrowed bytes from the last feed */
  size_t ext_len;   /* bytes left in ext */
  uint8_t skipping; /* discarding the rest of an overlong line */
} uvc_framer_t;

void uvc_framer_init(uvc_framer_t* f, uint32_t max_line);
void uvc_framer_free(uvc_framer_t* f);

/* Gives the framer bytes to cut. They are borrowed: the caller must call uvc_framer_next()
 * until it returns UVC_FRAME_NONE (or call uvc_framer_stash()) before the bytes go away. */
void uvc_framer_feed(uvc_framer_t* f, const char* data, size_t len);

/* The next line, the news that a line was too long, or UVC_FRAME_NONE when no complete line
 * is left; on UVC_FRAME_NONE a trailing partial line has been copied into the framer. */
uvc_frame_t uvc_framer_next(uvc_framer_t* f, const char** line, size_t* len);

/* At end of stream: the final line that had no newline, if any (UVC_FRAME_LINE). */
uvc_frame_t uvc_framer_finish(uvc_framer_t* f, const char** line, size_t* len);

/* Copies the borrowed bytes not yet cut into the framer's own buffer, so that cutting can
 * resume later without the caller's buffer (used when input is paused). Returns 0, or -1
 * when out of memory. */
int uvc_framer_stash(uvc_framer_t* f);

/* Bytes held by the framer (partial line and stashed input). */
static inline size_t uvc_framer_pending(const uvc_framer_t* f) {
  return f->len - f->pos;
}

#endif
