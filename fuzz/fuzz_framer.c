/* fuzz_framer.c: the line framer fed arbitrary bytes in arbitrary pieces, with pauses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "uvchat/framer.h"

/* Input: byte 0 picks the maximum line length, then each chunk is a length byte followed by
 * that many bytes; a length byte of 0xFF means "pause": stash what is left of the chunk. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uvc_framer_t f;
  uint32_t max;
  size_t i = 1, lines = 0;
  if (size < 1) return 0;
  max = 1u + data[0] * 4u;
  uvc_framer_init(&f);
  while (i < size) {
    size_t n = data[i++];
    int pause = n == 0xFF;
    uvc_framer_src_t src;
    const char* line;
    size_t len;
    uvc_frame_t r;
    if (pause) n = 7;
    if (n > size - i) n = size - i;
    src.p = (const char*)data + i;
    src.len = n;
    i += n;
    while ((r = uvc_framer_next(&f, &src, max, &line, &len)) != UVC_FRAME_NONE) {
      if (r == UVC_FRAME_LINE) {
        if (len > max || memchr(line, '\n', len) != NULL) abort();
        lines++;
      }
      if (pause) {
        if (uvc_framer_stash(&f, &src) != 0) abort();
        break;
      }
    }
    if (src.len != 0) abort(); /* every borrowed byte was consumed or stashed */
    /* held bytes: a partial line (at most max + 1) or stashed input (bounded by the input) */
    if (uvc_framer_pending(&f) > size) abort();
  }
  {
    const char* line;
    size_t len;
    uvc_framer_src_t none = {NULL, 0};
    while (uvc_framer_next(&f, &none, max, &line, &len) != UVC_FRAME_NONE)
      lines++;
    if (uvc_framer_finish(&f, max, &line, &len) == UVC_FRAME_LINE &&
        (len > max || memchr(line, '\n', len) != NULL))
      abort();
  }
  uvc_framer_free(&f);
  (void)lines;
  return 0;
}
