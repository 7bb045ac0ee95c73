/* fuzz_telnet.c: the telnet filter on arbitrary bytes, cut into reads where the input says.
 *
 * The first byte chooses the read sizes. Checked: the filter only ever shrinks a read, its
 * answers fit their buffer and are whole telnet commands or text lines, no option is
 * refused twice on one connection, and the negotiation count never passes the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "uvchat/telnet.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uvc_telnet_t* t = NULL;
  uvc_telnet_out_t out;
  unsigned char refused[2][256];
  size_t step, i = 1;
  char* buf;
  if (size == 0) return 0;
  step = (size_t)data[0] % 17 + 1;
  memset(refused, 0, sizeof(refused));
  if ((buf = malloc(size)) == NULL) abort();
  while (i < size) {
    size_t n = size - i < step ? size - i : step, k, j = 0;
    memcpy(buf, data + i, n);
    k = uvc_telnet_filter(&t, buf, n, &out);
    if (k > n || out.len > sizeof(out.reply) || (out.events & UVC_TELNET_NOMEM)) abort();
    if (t != NULL && t->held > size) abort();
    while (j < out.len) {
      unsigned char c = (unsigned char)out.reply[j];
      if (c == 0xFF) { /* IAC verb option */
        unsigned char verb, opt;
        if (j + 3 > out.len) abort();
        verb = (unsigned char)out.reply[j + 1];
        opt = (unsigned char)out.reply[j + 2];
        if (verb < 251) abort();
        if (verb == 252 || (verb == 254 && opt != 0)) { /* WONT, DONT: refusals */
          if (refused[verb == 254][opt]++) abort();
        }
        j += 3;
      } else { /* a text line: AYT's answer or the Ctrl-C hint */
        const char* lf = memchr(out.reply + j, '\n', out.len - j);
        if (lf == NULL || (c != '[' && c != '*')) abort();
        j = (size_t)(lf - out.reply) + 1;
      }
    }
    i += n;
    step = step * 7 % 23 + 1;
  }
  uvc_telnet_free(t);
  free(buf);
  return 0;
}
