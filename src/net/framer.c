/* framer.c: cuts a byte stream into lines without copying complete lines.
 *
 * Where a line lies entirely inside the bytes of one read it is handed out in place; only a
 * line that straddles reads is assembled in the framer's buffer, and that buffer is freed as
 * soon as it holds nothing, so a connection that is between lines owns no memory here.
 */
#include "uvchat/framer.h"

#include "uvchat/clean.h"

#include <stdlib.h>
#include <string.h>

void uvc_framer_init(uvc_framer_t* f) {
  memset(f, 0, sizeof(*f));
}

void uvc_framer_free(uvc_framer_t* f) {
  uvc_wipe(f->buf, f->len);
  free(f->buf);
  memset(f, 0, sizeof(*f));
}

/* Moves the unconsumed bytes of buf to its start. */
static void compact(uvc_framer_t* f) {
  if (f->pos == 0) return;
  if (f->len > f->pos) memmove(f->buf, f->buf + f->pos, f->len - f->pos);
  f->len -= f->pos;
  f->pos = 0;
}

/* Appends n bytes to buf, growing it; returns -1 when out of memory. */
static int append(uvc_framer_t* f, const char* p, size_t n) {
  size_t need;
  compact(f);
  need = (size_t)f->len + n;
  if (need > 0x7FFFFFFF) return -1;
  if (need > f->cap) {
    size_t cap = f->cap ? f->cap : 64;
    char* nb;
    while (cap < need)
      cap *= 2;
    nb = realloc(f->buf, cap);
    if (nb == NULL) return -1;
    f->buf = nb;
    f->cap = (uint32_t)cap & 0x7FFFFFFF;
  }
  memcpy(f->buf + f->len, p, n);
  f->len += (uint32_t)n;
  return 0;
}

/* Releases buf once everything in it has been handed out. */
static void drop_if_empty(uvc_framer_t* f) {
  if (f->pos < f->len) return;
  uvc_wipe(f->buf, f->len); /* a line handed out may have held a password */
  free(f->buf);
  f->buf = NULL;
  f->len = f->pos = f->cap = 0;
}

/* Counts n more bytes of an overlong line thrown away (saturating). */
static void skip(uvc_framer_t* f, size_t n) {
  f->skipped = (n >= UINT32_MAX - f->skipped) ? UINT32_MAX : f->skipped + (uint32_t)n;
}

/* Length of a line's content: without its LF and one CR before it. */
static size_t content_len(const char* line, size_t n_before_lf) {
  return (n_before_lf > 0 && line[n_before_lf - 1] == '\r') ? n_before_lf - 1 : n_before_lf;
}

uvc_frame_t uvc_framer_next(uvc_framer_t* f, uvc_framer_src_t* src, uint32_t max, const char** line,
                            size_t* len) {
  for (;;) {
    /* 1. Bytes held in the framer's own buffer come first. */
    if (f->pos < f->len) {
      char* start = f->buf + f->pos;
      size_t have = f->len - f->pos;
      char* lf = memchr(start, '\n', have);
      if (lf != NULL) {
        size_t n = content_len(start, (size_t)(lf - start));
        f->pos += (uint32_t)(lf - start) + 1;
        if (f->skipping) {
          f->skipping = 0;
          f->skipped = 0;
          continue;
        }
        if (n > max) return UVC_FRAME_TOOLONG;
        *line = start;
        *len = n;
        return UVC_FRAME_LINE;
      }
      /* A partial line: complete it from the borrowed bytes. */
      if (src->len == 0) return UVC_FRAME_NONE;
      if (f->skipping) {
        skip(f, have);
        f->pos = f->len;
        drop_if_empty(f);
        continue;
      }
      lf = memchr(src->p, '\n', src->len);
      if (lf != NULL) {
        size_t k = (size_t)(lf - src->p);
        size_t n;
        if (have + k > (size_t)max + 1) {
          f->pos = f->len;
          src->p += k + 1;
          src->len -= k + 1;
          drop_if_empty(f);
          return UVC_FRAME_TOOLONG;
        }
        if (append(f, src->p, k) != 0) return UVC_FRAME_TOOLONG;
        src->p += k + 1;
        src->len -= k + 1;
        n = content_len(f->buf + f->pos, f->len - f->pos);
        if (n > max) {
          f->pos = f->len;
          return UVC_FRAME_TOOLONG;
        }
        *line = f->buf + f->pos;
        *len = n;
        f->pos = f->len; /* handed out; buf is reused or freed on the next call */
        return UVC_FRAME_LINE;
      }
      if (have + src->len > (size_t)max + 1) {
        f->pos = f->len;
        f->skipping = 1;
        skip(f, have + src->len);
        src->len = 0;
        drop_if_empty(f);
        return UVC_FRAME_TOOLONG;
      }
      if (append(f, src->p, src->len) != 0) {
        f->pos = f->len;
        f->skipping = 1;
        skip(f, have + src->len);
        src->len = 0;
        drop_if_empty(f);
        return UVC_FRAME_TOOLONG;
      }
      src->len = 0;
      return UVC_FRAME_NONE;
    }

    /* 2. Nothing held: cut straight from the borrowed bytes. */
    drop_if_empty(f);
    if (src->len == 0) return UVC_FRAME_NONE;
    {
      const char* start = src->p;
      const char* lf = memchr(start, '\n', src->len);
      if (f->skipping) {
        if (lf == NULL) {
          skip(f, src->len);
          src->len = 0;
          return UVC_FRAME_NONE;
        }
        src->len -= (size_t)(lf - start) + 1;
        src->p = lf + 1;
        f->skipping = 0;
        f->skipped = 0;
        continue;
      }
      if (lf != NULL) {
        size_t n = content_len(start, (size_t)(lf - start));
        src->len -= (size_t)(lf - start) + 1;
        src->p = lf + 1;
        if (n > max) return UVC_FRAME_TOOLONG;
        *line = start;
        *len = n;
        return UVC_FRAME_LINE;
      }
      if (src->len > (size_t)max + 1 || append(f, start, src->len) != 0) {
        f->skipping = 1;
        skip(f, src->len);
        src->len = 0;
        return UVC_FRAME_TOOLONG;
      }
      src->len = 0;
      return UVC_FRAME_NONE;
    }
  }
}

uvc_frame_t uvc_framer_finish(uvc_framer_t* f, uint32_t max, const char** line, size_t* len) {
  size_t n;
  if (f->skipping || f->pos >= f->len) return UVC_FRAME_NONE;
  n = content_len(f->buf + f->pos, f->len - f->pos);
  if (n > max) { /* input stashed while paused is not held to the limit until it is cut */
    f->pos = f->len;
    return UVC_FRAME_TOOLONG;
  }
  *line = f->buf + f->pos;
  *len = n;
  f->pos = f->len;
  return n > 0 ? UVC_FRAME_LINE : UVC_FRAME_NONE;
}

int uvc_framer_stash(uvc_framer_t* f, uvc_framer_src_t* src) {
  if (src->len == 0) return 0;
  if (append(f, src->p, src->len) != 0) return -1;
  src->len = 0;
  return 0;
}
