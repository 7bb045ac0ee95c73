/* wsframe.c: unmasked server-to-client WebSocket frames, one per IRC line. */
#include "uvchat/wsframe.h"

#include <string.h>

size_t uvc_ws_frame_header(unsigned opcode, uint64_t len, unsigned char* out) {
  out[0] = (unsigned char)(0x80 | (opcode & 0x0F)); /* FIN */
  if (len < 126) {
    out[1] = (unsigned char)len;
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
  return 10;
}

/* Calls fn for each non-empty line of p[0..n) without its CR LF. */
#define EACH_LINE(p, n, body)                                  \
  do {                                                         \
    size_t at_ = 0;                                            \
    while (at_ < (n)) {                                        \
      const char* eol_ = memchr((p) + at_, '\n', (n)-at_);     \
      size_t end_ = eol_ != NULL ? (size_t)(eol_ - (p)) : (n); \
      size_t next_ = eol_ != NULL ? end_ + 1 : (n);            \
      if (end_ > at_ && (p)[end_ - 1] == '\r') end_--;         \
      if (end_ > at_) {                                        \
        const char* line = (p) + at_;                          \
        size_t len = end_ - at_;                               \
        body;                                                  \
      }                                                        \
      at_ = next_;                                             \
    }                                                          \
  } while (0)

uvc_msg_t* uvc_ws_frame_lines(unsigned opcode, const uvc_msg_t* m) {
  unsigned char head[10];
  size_t total = 0;
  uvc_msg_t* out;
  char* w;
  if (m == NULL) return NULL;
  EACH_LINE(m->data, (size_t)m->len, {
    (void)line;
    total += uvc_ws_frame_header(opcode, len, head) + len;
  });
  out = uvc_msg_new(total);
  if (out == NULL) return NULL;
  w = out->data;
  EACH_LINE(m->data, (size_t)m->len, {
    size_t h = uvc_ws_frame_header(opcode, len, head);
    memcpy(w, head, h);
    memcpy(w + h, line, len);
    w += h + len;
  });
  return out;
}
